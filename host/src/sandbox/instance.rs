//! One configured check instance: its store, the `configure` step, and
//! runs under limits. A run that traps or breaks a limit throws the store
//! away; the next run builds a fresh one (and configures it again), so a
//! bad run never leaves a half-broken instance behind.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmtime::{Store, UpdateDeadline};

use super::bindings::Plugin;
use super::host_api::{HostContext, HostState, Submissions};
use super::limits::LimitHit;
use super::plugin::LoadedPlugin;
use crate::config::Limits;

/// Most bytes one host call may lift out of guest memory (a batch of
/// metrics). Bounds what a hostile guest can make the host allocate.
const HOSTCALL_FUEL: usize = 16 << 20;

/// Extra time the outer timeout allows beyond the epoch deadline: epochs
/// interrupt guest code within a tick; the outer timeout only catches a
/// guest stuck inside a host call.
const OUTER_TIMEOUT_GRACE: Duration = Duration::from_millis(250);

/// What an instance needs to be built and run.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub id: String,
    /// `init_config` as a JSON object.
    pub init_config: serde_json::Value,
    /// The instance as a JSON object (reserved keys included).
    pub instance: serde_json::Value,
    pub limits: Limits,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// The component could not be instantiated.
    Instantiate(String),
    /// `configure` rejected the instance's configuration.
    Configure(String),
    /// The check's `run` returned an error.
    Check(String),
    /// A sandbox limit stopped the run.
    Limit(LimitHit),
    /// The guest trapped: a panic, a stack overflow, an invalid operation.
    Crashed(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Instantiate(e) => write!(f, "could not instantiate the check: {e}"),
            RunError::Configure(e) => write!(f, "configuration rejected by the check: {e}"),
            RunError::Check(e) => write!(f, "{e}"),
            RunError::Limit(hit) => write!(f, "{hit}"),
            RunError::Crashed(e) => write!(f, "check crashed: {e}"),
        }
    }
}

impl RunError {
    /// Whether the store was thrown away (the next run rebuilds it).
    pub fn rebuilds_instance(&self) -> bool {
        !matches!(self, RunError::Check(_))
    }
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
    context: HostContext,
    live: Option<Live>,
    /// The warnings of the last `configure` done by [`Self::prepare`].
    configure_warnings: Vec<String>,
}

impl CheckInstance {
    pub fn new(plugin: Arc<LoadedPlugin>, spec: InstanceSpec, context: HostContext) -> Self {
        Self {
            plugin,
            spec,
            context,
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

    /// Build and configure the instance without running it, so
    /// `configcheck` can report errors only the check itself can see
    /// (e.g. mutually exclusive keys). The next `run` reuses the instance.
    /// What the check logged at warn level during `configure` is kept for
    /// [`Self::configure_warnings`] instead of being logged.
    pub async fn prepare(&mut self) -> Result<(), RunError> {
        if self.live.is_none() {
            let timeout = self.spec.limits.timeout_duration();
            let mut live = build(&self.plugin, &self.spec, &self.context, timeout)
                .await
                .map_err(|(error, _output)| error)?;
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
        let timeout = self.spec.limits.timeout_duration();

        let mut live = match self.live.take() {
            Some(live) => live,
            None => match build(&self.plugin, &self.spec, &self.context, timeout).await {
                Ok(mut live) => {
                    // Nobody called `prepare` to report them: log them.
                    for warning in std::mem::take(&mut live.warnings) {
                        tracing::warn!(target: "check", instance = self.spec.id, "{warning}");
                    }
                    live
                }
                Err((error, output)) => {
                    return RunOutcome {
                        started_at,
                        duration: start.elapsed(),
                        submissions: Submissions::default(),
                        output,
                        result: Err(error),
                    };
                }
            },
        };

        begin_call(&mut live.store, timeout);
        let call = live.plugin.runner_check_check().call_run(&mut live.store);
        let called = tokio::time::timeout(timeout + OUTER_TIMEOUT_GRACE, call).await;
        let state = live.store.data_mut();
        let submissions = std::mem::take(&mut state.submissions);
        let (output, overflowed) = state.output.take();
        let result = match called {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(RunError::Check(message)),
            Ok(Err(trap)) => Err(classify_trap(&trap, state, overflowed, &output)),
            Err(_elapsed) => Err(RunError::Limit(LimitHit::Timeout(timeout))),
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
            result,
        }
    }
}

/// Instantiate the component and configure it, within the time limit.
/// A free function over the instance's parts: `&CheckInstance` (which
/// holds a store) is not `Sync`, and the future must be `Send` to run on
/// the scheduler's tasks.
async fn build(
    plugin: &LoadedPlugin,
    spec: &InstanceSpec,
    context: &HostContext,
    timeout: Duration,
) -> Result<Live, (RunError, String)> {
    {
        let limits = &spec.limits;
        let state = HostState::new(
            context.clone(),
            limits.memory_bytes(),
            limits.max_metrics,
            limits.max_output_bytes(),
        );
        let mut store = Store::new(plugin.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        install_deadline(&mut store, timeout);
        begin_call(&mut store, timeout);

        let instance = match plugin.pre.instantiate_async(&mut store).await {
            Ok(instance) => instance,
            Err(e) => {
                let (output, overflowed) = store.data().output.take();
                let error = match store.data().limit_hit() {
                    Some(hit) => RunError::Limit(hit),
                    None if overflowed => {
                        RunError::Limit(LimitHit::Output(store.data().output.capacity()))
                    }
                    None => RunError::Instantiate(format!("{e:#}")),
                };
                return Err((error, output));
            }
        };
        store.data_mut().configure_warnings = Some(Vec::new());
        let init_config = spec.init_config.to_string();
        let instance_config = spec.instance.to_string();
        let call = instance.runner_check_check().call_configure(
            &mut store,
            &init_config,
            &instance_config,
        );
        let configured = tokio::time::timeout(timeout + OUTER_TIMEOUT_GRACE, call).await;
        let state = store.data_mut();
        let warnings = state.configure_warnings.take().unwrap_or_default();
        match configured {
            Ok(Ok(Ok(()))) => Ok(Live {
                store,
                plugin: instance,
                warnings,
            }),
            Ok(Ok(Err(message))) => Err((RunError::Configure(message), state.output.take().0)),
            Ok(Err(trap)) => {
                let (output, overflowed) = state.output.take();
                let error = classify_trap(&trap, state, overflowed, &output);
                Err((error, output))
            }
            Err(_elapsed) => Err((
                RunError::Limit(LimitHit::Timeout(timeout)),
                state.output.take().0,
            )),
        }
    }
}

/// Reset per-call state and arm the deadline.
pub(crate) fn begin_call(store: &mut Store<HostState>, timeout: Duration) {
    let state = store.data_mut();
    state.submissions = Submissions::default();
    state.limit_hit = None;
    state.limiter.hit = None;
    state.deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
}

/// On every epoch tick: past the deadline, interrupt the guest; otherwise
/// yield to the async runtime so other instances and timers make progress.
pub(crate) fn install_deadline(store: &mut Store<HostState>, timeout: Duration) {
    store.epoch_deadline_callback(move |mut ctx| {
        if Instant::now() < ctx.data().deadline {
            return Ok(UpdateDeadline::Yield(1));
        }
        let hit = LimitHit::Timeout(timeout);
        ctx.data_mut().limit_hit = Some(hit);
        Err(wasmtime::format_err!("{hit}"))
    });
}

/// Name what stopped the guest: a limit we enforced, or the trap itself
/// with the panic message the guest printed, if any.
fn classify_trap(
    trap: &wasmtime::Error,
    state: &HostState,
    overflowed: bool,
    output: &str,
) -> RunError {
    if let Some(hit) = state.limit_hit() {
        return RunError::Limit(hit);
    }
    if overflowed {
        return RunError::Limit(LimitHit::Output(state.output.capacity()));
    }
    if let Some(panic) = panic_message(output) {
        return RunError::Crashed(format!("panicked: {panic}"));
    }
    match trap.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => RunError::Crashed(
            "stack overflow (unbounded recursion?): the guest stack limit was reached".into(),
        ),
        Some(trap) => RunError::Crashed(trap.to_string()),
        None => RunError::Crashed(first_line(&format!("{trap:#}")).to_string()),
    }
}

/// The panic message Rust's default hook printed to stderr:
/// `thread '<unnamed>' panicked at src/lib.rs:10:5:\n<message>`.
fn panic_message(output: &str) -> Option<String> {
    let at = output.rfind("panicked at ")?;
    let rest = &output[at + "panicked at ".len()..];
    let (location, message) = rest.split_once('\n').unwrap_or((rest, ""));
    let message = message
        .lines()
        .take_while(|l| !l.starts_with("note:"))
        .collect::<Vec<_>>()
        .join(" ");
    let location = location.trim_end_matches(':');
    Some(format!("{} (at {location})", message.trim()))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_message_is_extracted_from_stderr() {
        let stderr = "hello\nthread '<unnamed>' panicked at src/lib.rs:84:27:\n\
                      misbehave panicked on purpose (run 1)\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("misbehave panicked on purpose (run 1) (at src/lib.rs:84:27)")
        );
        assert_eq!(panic_message("no panic here"), None);
    }
}
