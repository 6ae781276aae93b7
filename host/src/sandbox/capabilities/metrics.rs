//! The `metrics` capability: metric samples, charged per sample and per
//! byte against the run's budget before the host keeps them.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::sandbox::bindings::metrics::{self as wit, Host};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::Counted;
use crate::sandbox::store::HostState;
use crate::sandbox::submissions::{ITEM_OVERHEAD, Metric, MetricKind, strings_bytes};

/// What the host keeps per metric sample beyond its strings.
const METRIC_OVERHEAD: usize = 64;

/// This capability's part of a store.
pub struct MetricsCtx {
    hostname: Arc<str>,
    submitted: Vec<Metric>,
}

impl MetricsCtx {
    pub fn new(hostname: Arc<str>) -> Self {
        Self {
            hostname,
            submitted: Vec::new(),
        }
    }

    /// The samples of the current run, leaving none behind.
    pub fn take(&mut self) -> Vec<Metric> {
        std::mem::take(&mut self.submitted)
    }
}

struct View<'a> {
    ctx: &'a mut MetricsCtx,
    budget: &'a mut Budget,
}

/// A view on `ctx` and `budget`, for the property tests in `fuzz`.
#[cfg(test)]
pub(super) fn test_view<'a>(ctx: &'a mut MetricsCtx, budget: &'a mut Budget) -> impl Host + 'a {
    View { ctx, budget }
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &mut state.metrics,
        budget: &mut state.budget,
    })
}

/// Bytes a sample costs the host.
fn cost(metric: &wit::Metric) -> usize {
    METRIC_OVERHEAD
        + metric.name.len()
        + strings_bytes(&metric.tags)
        + metric
            .hostname
            .as_ref()
            .map_or(0, |h| h.len() + ITEM_OVERHEAD)
}

impl Host for View<'_> {
    /// Samples are kept in order until one breaks a budget: those before
    /// it were valid when submitted; the run then stops.
    fn submit_metrics(&mut self, metrics: Vec<wit::Metric>) -> wasmtime::Result<()> {
        self.ctx
            .submitted
            .reserve(metrics.len().min(self.budget.room(Counted::Metrics)));
        for metric in metrics {
            if let Err(hit) = self
                .budget
                .charge_submission(Counted::Metrics, 1, cost(&metric))
            {
                return Err(self.budget.fail(hit));
            }
            self.ctx.submitted.push(metric.into());
        }
        Ok(())
    }

    fn hostname(&mut self) -> wasmtime::Result<String> {
        Ok(self.ctx.hostname.to_string())
    }
}

impl From<wit::Metric> for Metric {
    fn from(m: wit::Metric) -> Self {
        Metric {
            name: m.name,
            kind: match m.kind {
                wit::MetricType::Gauge => MetricKind::Gauge,
                wit::MetricType::Count => MetricKind::Count,
                wit::MetricType::MonotonicCount => MetricKind::MonotonicCount,
                wit::MetricType::Rate => MetricKind::Rate,
                wit::MetricType::Histogram => MetricKind::Histogram,
            },
            value: m.value,
            tags: m.tags,
            hostname: m.hostname,
        }
    }
}
