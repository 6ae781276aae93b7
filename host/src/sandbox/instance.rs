//! One configured check instance: its store, the `configure` step, and
//! runs under limits. A run that traps or breaks a limit throws the store
//! away; the next run builds a fresh one (and configures it again), so a
//! bad run never leaves a half-broken instance behind.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmtime::Store;

use super::bindings::Plugin;
use super::capabilities::network::{Denials, NetworkGrants};
use super::capabilities::processes::ProcessGrants;
use super::errors::{RunError, check_message, classify_trap};
use super::limits::{LimitHit, Limits};
use super::plugin::LoadedPlugin;
use super::store::{HostState, StoreSetup, begin_call, new_store};
use super::submissions::Submissions;
use crate::snapshot::SnapshotService;

/// Extra time the outer timeout allows beyond the epoch deadline: epochs
/// interrupt guest code within a tick; the outer timeout only catches a
/// guest stuck inside a host call.
const OUTER_TIMEOUT_GRACE: Duration = Duration::from_millis(250);

/// What an instance needs to be built and run.
#[derive(Clone)]
pub struct InstanceSpec {
    pub id: String,
    /// `init_config` as a JSON object.
    pub init_config: serde_json::Value,
    /// The instance as a JSON object (reserved keys included).
    pub instance: serde_json::Value,
    pub limits: Limits,
    /// What its configuration lets it see of the host.
    pub grants: ProcessGrants,
    /// The endpoints it may reach.
    pub network: NetworkGrants,
    /// The hostname it is told about.
    pub hostname: Arc<str>,
    /// The process snapshot it queries.
    pub snapshots: Arc<SnapshotService>,
}

/// The result of one run.
#[derive(Debug)]
pub struct RunOutcome {
    pub started_at: SystemTime,
    pub duration: Duration,
    /// What the check submitted; kept even when the run failed.
    pub submissions: Submissions,
    /// What the guest wrote to stdout/stderr during the run.
    pub output: String,
    /// Network access the runner denied during the run.
    pub denials: Denials,
    /// What the check logged at warn level or above during the run,
    /// escaped (at most 32 lines).
    pub warnings: Vec<String>,
    /// Bytes the instance held when the run ended: its memories and
    /// tables, plus what the runner held for the run.
    pub memory_bytes: u64,
    pub result: Result<(), RunError>,
}

struct Live {
    store: Store<HostState>,
    plugin: Plugin,
    /// What the check logged at warn level or above during `configure`.
    warnings: Vec<String>,
}

/// A check instance: a plugin plus one conf.d instance.
pub struct CheckInstance {
    plugin: Arc<LoadedPlugin>,
    spec: InstanceSpec,
    live: Option<Live>,
    /// The warnings of the last `configure` done by [`Self::prepare`].
    configure_warnings: Vec<String>,
}

impl CheckInstance {
    pub fn new(plugin: Arc<LoadedPlugin>, spec: InstanceSpec) -> Self {
        Self {
            plugin,
            spec,
            live: None,
            configure_warnings: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// Whether the instance is built and configured.
    pub fn is_configured(&self) -> bool {
        self.live.is_some()
    }

    /// Build and configure the instance without running it, so
    /// `configcheck` can report errors only the check itself can see
    /// (e.g. mutually exclusive keys). The next `run` reuses the instance.
    /// What the check logged at warn level during `configure` is kept for
    /// [`Self::configure_warnings`] instead of being logged.
    pub async fn prepare(&mut self) -> Result<(), RunError> {
        if self.live.is_none() {
            let mut live = build(&self.plugin, &self.spec)
                .await
                .map_err(|(error, _output, _denials)| error)?;
            self.configure_warnings = std::mem::take(&mut live.warnings);
            self.live = Some(live);
        }
        Ok(())
    }

    /// The warnings the check logged during the `configure` of
    /// [`Self::prepare`] (e.g. a deprecated option), control characters
    /// escaped.
    pub fn configure_warnings(&self) -> &[String] {
        &self.configure_warnings
    }

    /// Run the check once, building and configuring the instance first if
    /// needed. Never panics and never returns early on a guest failure:
    /// every outcome is in the returned [`RunOutcome`].
    pub async fn run(&mut self) -> RunOutcome {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let timeout = self.spec.limits.timeout;

        let mut live = match self.live.take() {
            Some(live) => live,
            None => match build(&self.plugin, &self.spec).await {
                Ok(mut live) => {
                    // Nobody called `prepare` to report them: log them.
                    for warning in std::mem::take(&mut live.warnings) {
                        tracing::warn!(target: "check", instance = self.spec.id, "{warning}");
                    }
                    live
                }
                Err((error, output, denials)) => {
                    return RunOutcome {
                        started_at,
                        duration: start.elapsed(),
                        submissions: Submissions::default(),
                        output,
                        denials,
                        warnings: Vec::new(),
                        memory_bytes: 0,
                        result: Err(error),
                    };
                }
            },
        };

        let _ticking = begin_call(&mut live.store, timeout);
        let call = live.plugin.runner_check_check().call_run(&mut live.store);
        let called = tokio::time::timeout(timeout + OUTER_TIMEOUT_GRACE, call).await;
        let fuel = live.store.hostcall_fuel();
        let state = live.store.data_mut();
        let submissions = state.take_submissions();
        let (output, overflowed) = state.output.take();
        let denials = state.network.take_denials();
        let warnings = state.log.take_run_warnings();
        let memory_bytes = state.budget.held_bytes();
        let result = match called {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(RunError::Check(check_message(&message))),
            Ok(Err(trap)) => Err(with_endpoint(
                classify_trap(&trap, state.limit_hit(overflowed), &output, fuel),
                state.network.last_endpoint(),
            )),
            Err(_elapsed) => Err(timed_out(timeout, state.network.last_endpoint())),
        };
        let keep = result.as_ref().err().is_none_or(|e| !e.rebuilds_instance());
        if keep {
            self.live = Some(live);
        }
        RunOutcome {
            started_at,
            duration: start.elapsed(),
            submissions,
            output,
            denials,
            warnings,
            memory_bytes,
            result,
        }
    }
}

/// A call that did not return in time. Epochs stop a guest that computes;
/// only a guest waiting inside a host call gets here, usually on a peer
/// that does not answer: name it.
fn timed_out(timeout: Duration, endpoint: Option<String>) -> RunError {
    let hit = LimitHit::Timeout(timeout);
    match endpoint {
        Some(endpoint) => RunError::OnNetwork {
            hit,
            endpoint,
            waiting: true,
        },
        None => RunError::Limit(hit),
    }
}

/// A run the epoch deadline interrupted after it contacted an endpoint
/// (e.g. reading a peer that trickles bytes): name the endpoint too.
fn with_endpoint(error: RunError, endpoint: Option<String>) -> RunError {
    match (error, endpoint) {
        (RunError::Limit(hit @ LimitHit::Timeout(_)), Some(endpoint)) => RunError::OnNetwork {
            hit,
            endpoint,
            waiting: false,
        },
        (error, _) => error,
    }
}

/// Instantiate the component and configure it, within the time limit.
/// A free function over the instance's parts: `&CheckInstance` (which
/// holds a store) is not `Sync`, and the future must be `Send` to run on
/// the scheduler's tasks.
async fn build(
    plugin: &LoadedPlugin,
    spec: &InstanceSpec,
) -> Result<Live, (RunError, String, Denials)> {
    let timeout = spec.limits.timeout;
    let mut store = new_store(
        plugin.pre.engine(),
        StoreSetup {
            instance_id: spec.id.as_str().into(),
            hostname: spec.hostname.clone(),
            snapshots: Some(spec.snapshots.clone()),
            grants: spec.grants.clone(),
            network: Some(spec.network.clone()),
            limits: spec.limits,
            timeout: LimitHit::Timeout(timeout),
            script: plugin.script.clone(),
        },
    );
    let fuel = store.hostcall_fuel();
    let _ticking = begin_call(&mut store, timeout);
    let instantiated = tokio::time::timeout(
        timeout + OUTER_TIMEOUT_GRACE,
        plugin.pre.instantiate_async(&mut store),
    )
    .await;
    let instance = match instantiated {
        Ok(Ok(instance)) => instance,
        Ok(Err(e)) => {
            let (output, overflowed) = store.data().output.take();
            let error = match store.data().limit_hit(overflowed) {
                Some(hit) => RunError::Limit(hit),
                None => {
                    tracing::debug!(target: "check", instance = spec.id, "instantiation failed: {e:?}");
                    RunError::Instantiate(check_message(&format!("{:#}", e.root_cause())))
                }
            };
            return Err((error, output, store.data_mut().network.take_denials()));
        }
        Err(_elapsed) => {
            let state = store.data_mut();
            return Err((
                RunError::Limit(LimitHit::Timeout(timeout)),
                state.output.take().0,
                state.network.take_denials(),
            ));
        }
    };
    store.data_mut().log.keep_warnings();
    let init_config = spec.init_config.to_string();
    let instance_config = spec.instance.to_string();
    let call =
        instance
            .runner_check_check()
            .call_configure(&mut store, &init_config, &instance_config);
    let configured = tokio::time::timeout(timeout + OUTER_TIMEOUT_GRACE, call).await;
    let state = store.data_mut();
    let warnings = state.log.take_warnings();
    // What `configure` submitted is not a run's: dropped.
    state.take_submissions();
    let (output, overflowed) = state.output.take();
    let denials = state.network.take_denials();
    match configured {
        Ok(Ok(Ok(()))) => Ok(Live {
            store,
            plugin: instance,
            warnings,
        }),
        Ok(Ok(Err(message))) => Err((
            RunError::Configure(check_message(&message)),
            output,
            denials,
        )),
        Ok(Err(trap)) => {
            let error = classify_trap(&trap, state.limit_hit(overflowed), &output, fuel);
            Err((error, output, denials))
        }
        Err(_elapsed) => Err((
            timed_out(timeout, state.network.last_endpoint()),
            output,
            denials,
        )),
    }
}
