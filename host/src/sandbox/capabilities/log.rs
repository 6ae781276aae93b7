//! The `log` capability: a check's log lines, attributed to its instance,
//! escaped, and counted against the run's output cap
//! (`limits.max_output_kib`, shared with stdout and stderr).

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::output::CapturedOutput;
use crate::sandbox::bindings::log::{self as wit, Host, Level};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::LimitHit;
use crate::sandbox::store::HostState;

/// Most configure-time warnings kept, and most characters of each.
const MAX_CONFIGURE_WARNINGS: usize = 32;
const MAX_WARNING_CHARS: usize = 2000;

/// This capability's part of a store.
pub struct LogCtx {
    instance_id: Arc<str>,
    output: CapturedOutput,
    /// While `configure` runs: its warn- and error-level lines, escaped,
    /// instead of logging them (the caller reports them as configuration
    /// warnings). `None` otherwise.
    configure_warnings: Option<Vec<String>>,
    /// During a run: its warn- and error-level lines (logged as well),
    /// which make the run's `runner.check_status` WARNING.
    run_warnings: Vec<String>,
}

impl LogCtx {
    pub fn new(instance_id: Arc<str>, output: CapturedOutput) -> Self {
        Self {
            instance_id,
            output,
            configure_warnings: None,
            run_warnings: Vec::new(),
        }
    }

    /// Start keeping warnings instead of logging them.
    pub fn keep_warnings(&mut self) {
        self.configure_warnings = Some(Vec::new());
    }

    /// The warn- and error-level lines of the run so far (at most 32, each
    /// cut to 2000 characters), escaped.
    pub fn take_run_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.run_warnings)
    }

    /// The warnings kept since [`Self::keep_warnings`]; logging resumes.
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.configure_warnings.take().unwrap_or_default()
    }
}

struct View<'a> {
    ctx: &'a mut LogCtx,
    budget: &'a mut Budget,
}

/// A view on `ctx` and `budget`, for the property tests in `fuzz`.
#[cfg(test)]
pub(super) fn test_view<'a>(ctx: &'a mut LogCtx, budget: &'a mut Budget) -> impl Host + 'a {
    View { ctx, budget }
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &mut state.log,
        budget: &mut state.budget,
    })
}

impl Host for View<'_> {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.ctx.output.charge_log(message.len()) {
            let hit = LimitHit::Output(self.ctx.output.capacity());
            return Err(self.budget.fail(hit));
        }
        let message = crate::escape::for_terminal(&message);
        if let Some(warnings) = &mut self.ctx.configure_warnings
            && matches!(level, Level::Warn | Level::Error)
        {
            if warnings.len() < MAX_CONFIGURE_WARNINGS {
                warnings.push(message.chars().take(MAX_WARNING_CHARS).collect());
            }
            return Ok(());
        }
        if matches!(level, Level::Warn | Level::Error)
            && self.ctx.run_warnings.len() < MAX_CONFIGURE_WARNINGS
        {
            let kept = message.chars().take(MAX_WARNING_CHARS).collect();
            self.ctx.run_warnings.push(kept);
        }
        let instance = &*self.ctx.instance_id;
        match level {
            Level::Trace => tracing::trace!(target: "check", instance, "{message}"),
            Level::Debug => tracing::debug!(target: "check", instance, "{message}"),
            Level::Info => tracing::info!(target: "check", instance, "{message}"),
            Level::Warn => tracing::warn!(target: "check", instance, "{message}"),
            Level::Error => tracing::error!(target: "check", instance, "{message}"),
        }
        Ok(())
    }
}
