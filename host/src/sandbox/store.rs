//! Building a store for one instance: its data ([`HostState`]: WASI
//! reduced to nothing but the granted network, the capabilities'
//! contexts, the budget) and the per-call arming of the deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::budget::Budget;
use super::capabilities::connections::ConnectionsCtx;
use super::capabilities::log::LogCtx;
use super::capabilities::metrics::MetricsCtx;
use super::capabilities::network::{NetworkCtx, NetworkGrants};
use super::capabilities::output::CapturedOutput;
use super::capabilities::processes::{ProcessGrants, ProcessesCtx};
use super::capabilities::reporting::ReportingCtx;
use super::capabilities::script::{ScriptCtx, ScriptSource};
use super::epoch;
use super::limits::{LimitHit, Limits};
use super::submissions::Submissions;
use crate::snapshot::SnapshotService;

/// Slack on top of the submission budget for one host call's lifted bytes
/// (record headers, a log line): only a call that could never fit the
/// budget hits wasmtime's own per-call cap.
const HOSTCALL_SLACK: usize = 64 << 10;

/// The least one call may pass, so that an oversized submission or error
/// message is lifted and then refused or cut with a message naming the
/// budget it broke, rather than stopped at the boundary.
pub const MIN_HOSTCALL_BYTES: usize = 16 << 20;

/// Most WASI resources (sockets, streams, pollables, HTTP requests and
/// their fields) one instance may hold at once. Each socket is a file
/// descriptor of the runner: without a cap, a check that opens
/// connections in a loop would exhaust the runner's descriptors. A check
/// uses a handful.
pub const MAX_RESOURCES: usize = 1024;

/// What a store serves: one instance, or a plugin's `info` call.
pub struct StoreSetup {
    /// Attached to the check's log lines.
    pub instance_id: Arc<str>,
    /// The hostname checks are told about.
    pub hostname: Arc<str>,
    /// None for `info`: it may not query the host.
    pub snapshots: Option<Arc<SnapshotService>>,
    pub grants: ProcessGrants,
    /// None for `info`: no network at all, not even a denied attempt.
    pub network: Option<NetworkGrants>,
    pub limits: Limits,
    /// What running out of time is reported as.
    pub timeout: LimitHit,
    /// The check's source, when the plugin is a script runtime.
    pub script: Option<Arc<ScriptSource>>,
}

/// The data of one instance's store.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(super) budget: Budget,
    pub(super) output: CapturedOutput,
    pub(super) metrics: MetricsCtx,
    pub(super) reporting: ReportingCtx,
    pub(super) log: LogCtx,
    pub(super) processes: ProcessesCtx,
    pub(super) connections: ConnectionsCtx,
    pub(super) network: NetworkCtx,
    pub(super) script: ScriptCtx,
    /// When the current call must end.
    pub(super) deadline: Instant,
    /// What running out of time is reported as.
    pub(super) timeout: LimitHit,
}

impl HostState {
    /// Everything the current run submitted, handed over.
    pub(super) fn take_submissions(&mut self) -> Submissions {
        Submissions {
            metrics: self.metrics.take(),
            service_checks: std::mem::take(&mut self.reporting.service_checks),
            events: std::mem::take(&mut self.reporting.events),
            metadata: std::mem::take(&mut self.reporting.metadata),
        }
    }

    /// The limit that stopped the call: one a capability or the limiter
    /// recorded, else an output overflow.
    pub(super) fn limit_hit(&self, overflowed: bool) -> Option<LimitHit> {
        self.budget
            .hit()
            .or(overflowed.then(|| LimitHit::Output(self.output.capacity())))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.network.http,
        }
    }
}

/// A store whose WASI is reduced to clocks, random, capped stdout/stderr
/// and the granted network: no files, no environment, no arguments, no
/// name lookups, stdin closed. Every memory and table it creates is
/// charged to its budget; a guest that spins is interrupted at the
/// deadline.
pub(super) fn new_store(engine: &Engine, setup: StoreSetup) -> Store<HostState> {
    let output = CapturedOutput::new(setup.limits.max_output_bytes);
    // Sockets are on for instances so that every attempt reaches the
    // network capability's check, which allows only the grant and logs
    // and counts the rest. `info` gets none.
    let sockets = setup.network.is_some();
    let network = NetworkCtx::new(setup.instance_id.clone(), setup.network.unwrap_or_default());
    let script = ScriptCtx::new(setup.script, setup.instance_id.clone());
    let wasi = wasmtime_wasi::WasiCtxBuilder::new()
        .stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(sockets)
        .allow_udp(sockets)
        .allow_ip_name_lookup(false)
        .socket_addr_check(network.socket_check())
        .build();
    let fuel = setup
        .limits
        .max_submission_bytes
        .max(setup.limits.max_output_bytes)
        .saturating_add(HOSTCALL_SLACK)
        .max(MIN_HOSTCALL_BYTES);
    let state = HostState {
        wasi,
        http: WasiHttpCtx::new(),
        table: resource_table(),
        budget: Budget::new(setup.limits),
        log: LogCtx::new(setup.instance_id, output.clone()),
        output,
        metrics: MetricsCtx::new(setup.hostname),
        reporting: ReportingCtx::default(),
        connections: ConnectionsCtx::new(setup.snapshots.clone()),
        processes: ProcessesCtx::new(setup.snapshots, setup.grants),
        network,
        script,
        deadline: Instant::now(),
        timeout: setup.timeout,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.budget);
    store.set_hostcall_fuel(fuel);
    // On every epoch tick: past the deadline, interrupt the guest;
    // otherwise yield to the async runtime so other instances and timers
    // make progress.
    store.epoch_deadline_callback(|mut ctx| {
        if Instant::now() < ctx.data().deadline {
            return Ok(UpdateDeadline::Yield(1));
        }
        let timeout = ctx.data().timeout;
        Err(ctx.data_mut().budget.fail(timeout))
    });
    store
}

fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_RESOURCES);
    table
}

/// Start a call (`configure` or `run`): reset the per-run budget and what
/// was submitted, and arm the deadline. Hold the result until the call
/// ends: the deadline is only enforced while it is held.
pub(super) fn begin_call(store: &mut Store<HostState>, timeout: Duration) -> epoch::Ticking {
    let state = store.data_mut();
    state.take_submissions();
    state.budget.begin_call();
    state.deadline = Instant::now() + timeout;
    state.network.begin_call(state.deadline);
    store.set_epoch_deadline(1);
    epoch::ticking()
}
