//! What the host provides to a check (the WIT `host` interface), and the
//! per-store state behind it. The guest/host boundary lives in this file.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::runner::check::{host, types};
use super::limits::{LimitHit, MemoryLimiter};
use super::output::CapturedOutput;
use crate::snapshot::{self, SnapshotService};

pub use types::{
    AlertType, CheckInfo, Event, EventPriority, LogLevel, Metric, MetricType, ServiceCheck, Status,
};

/// Everything one run submitted, in submission order.
#[derive(Debug, Default, Clone)]
pub struct Submissions {
    pub metrics: Vec<Metric>,
    pub service_checks: Vec<ServiceCheck>,
    pub events: Vec<Event>,
    pub metadata: Vec<(String, String)>,
}

/// What a store needs to serve one check instance.
#[derive(Clone)]
pub struct HostContext {
    /// Instance ID, attached to the check's log lines.
    pub instance_id: Arc<str>,
    /// The hostname checks are told about.
    pub hostname: Arc<str>,
    /// The process snapshot shared by every instance.
    pub snapshots: Arc<SnapshotService>,
}

/// The data of one instance's store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    context: HostContext,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) submissions: Submissions,
    /// A limit enforced on the host side (time, samples) that stopped the run.
    pub(crate) limit_hit: Option<LimitHit>,
    pub(crate) max_metrics: usize,
    /// When the current run must end.
    pub(crate) deadline: Instant,
    /// The guest's stdout and stderr, capped.
    pub(crate) output: CapturedOutput,
    /// While `configure` runs: the warn- and error-level lines it logs,
    /// escaped, instead of logging them (the caller reports them as
    /// configuration warnings). `None` otherwise.
    pub(crate) configure_warnings: Option<Vec<String>>,
}

/// Most configure-time warnings kept, and most characters of each: what a
/// guest logs must not grow the host without bound.
const MAX_CONFIGURE_WARNINGS: usize = 32;
const MAX_WARNING_CHARS: usize = 2000;

impl HostState {
    /// A store's data with WASI reduced to nothing but clocks, random and
    /// capped stdout/stderr: no files, no environment, no arguments, no
    /// network, stdin closed.
    pub fn new(
        context: HostContext,
        memory_bytes: u64,
        max_metrics: usize,
        max_output: usize,
    ) -> Self {
        let output = CapturedOutput::new(max_output);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            context,
            limiter: MemoryLimiter::new(memory_bytes),
            submissions: Submissions::default(),
            limit_hit: None,
            max_metrics,
            deadline: Instant::now(),
            output,
            configure_warnings: None,
        }
    }

    /// Which limit, if any, stopped the run: host-side ones first, then
    /// the memory limiter.
    pub(crate) fn limit_hit(&self) -> Option<LimitHit> {
        self.limit_hit.or(self.limiter.hit)
    }

    pub(crate) fn instance_id(&self) -> &str {
        &self.context.instance_id
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

impl types::Host for HostState {}

impl host::Host for HostState {
    fn submit_metrics(&mut self, metrics: Vec<Metric>) -> wasmtime::Result<()> {
        let room = self.max_metrics - self.submissions.metrics.len();
        if metrics.len() > room {
            // Keep what fits: it was submitted before the limit was crossed.
            self.submissions
                .metrics
                .extend(metrics.into_iter().take(room));
            let hit = LimitHit::Metrics(self.max_metrics);
            self.limit_hit = Some(hit);
            wasmtime::bail!("{hit}");
        }
        self.submissions.metrics.extend(metrics);
        Ok(())
    }

    fn submit_service_checks(&mut self, checks: Vec<ServiceCheck>) -> wasmtime::Result<()> {
        self.submissions.service_checks.extend(checks);
        Ok(())
    }

    fn submit_events(&mut self, events: Vec<Event>) -> wasmtime::Result<()> {
        self.submissions.events.extend(events);
        Ok(())
    }

    fn set_metadata(&mut self, entries: Vec<(String, String)>) -> wasmtime::Result<()> {
        for (key, value) in entries {
            self.submissions.metadata.retain(|(k, _)| *k != key);
            self.submissions.metadata.push((key, value));
        }
        Ok(())
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        if let Some(warnings) = &mut self.configure_warnings
            && matches!(level, LogLevel::Warn | LogLevel::Error)
        {
            if warnings.len() < MAX_CONFIGURE_WARNINGS {
                let kept: String = message.chars().take(MAX_WARNING_CHARS).collect();
                warnings.push(escape_controls(&kept));
            }
            return Ok(());
        }
        let instance = self.instance_id();
        match level {
            LogLevel::Trace => tracing::trace!(target: "check", instance, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "check", instance, "{message}"),
            LogLevel::Info => tracing::info!(target: "check", instance, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "check", instance, "{message}"),
            LogLevel::Error => tracing::error!(target: "check", instance, "{message}"),
        }
        Ok(())
    }

    fn hostname(&mut self) -> wasmtime::Result<String> {
        Ok(self.context.hostname.to_string())
    }

    async fn query_processes(
        &mut self,
        query: types::ProcessQuery,
    ) -> wasmtime::Result<Result<types::ProcessSnapshot, String>> {
        let snapshot = match self.context.snapshots.get().await {
            Ok(snapshot) => snapshot,
            Err(e) => return Ok(Err(format!("reading the process list failed: {e:#}"))),
        };
        let query = snapshot::ProcessQuery {
            all: query.all,
            names: query.names,
            cmdline_patterns: query.cmdline_patterns,
            pids: query.pids,
            pid_file: query.pid_file.map(Into::into),
            include_children: query.include_children,
            user: query.user,
        };
        let rows = match snapshot.query(&query) {
            Ok(rows) => rows,
            Err(e) => return Ok(Err(e.to_string())),
        };
        Ok(Ok(types::ProcessSnapshot {
            taken_at: snapshot.taken_at,
            host_cpu_time: snapshot.host_cpu_time,
            num_cpus: snapshot.num_cpus,
            total_memory: snapshot.total_memory,
            processes: rows.into_iter().map(to_wit_process).collect(),
        }))
    }
}

/// `text` with control characters (newlines, escape sequences, ...)
/// written as Rust escapes, so a check cannot drive the terminal.
pub(crate) fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn to_wit_process(row: &snapshot::ProcessRow) -> types::Process {
    types::Process {
        pid: row.pid,
        ppid: row.ppid,
        name: row.name.clone(),
        cmdline: row.cmdline.clone(),
        uid: row.uid,
        user: row.user.clone(),
        state: row.state.to_string(),
        start_time: row.start_time,
        cpu_user: row.cpu_user,
        cpu_system: row.cpu_system,
        rss: row.rss,
        vms: row.vms,
        shared: row.shared,
        threads: row.threads,
        open_fds: row.open_fds,
        io: row.io.as_ref().map(|io| types::IoCounters {
            read_count: io.read_count,
            write_count: io.write_count,
            read_bytes: io.read_bytes,
            write_bytes: io.write_bytes,
        }),
        voluntary_ctx_switches: row.voluntary_ctx_switches,
        involuntary_ctx_switches: row.involuntary_ctx_switches,
        minor_faults: row.minor_faults,
        major_faults: row.major_faults,
        children_minor_faults: row.children_minor_faults,
        children_major_faults: row.children_major_faults,
        denied: row.denied.iter().map(|d| d.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\u{1b}[31mred\r\nb\tc \u{9b}é\"\\"),
            "a\\u{1b}[31mred\\r\\nb\\tc \\u{9b}é\"\\"
        );
    }
}
