//! The `reporting` capability: service checks, events and metadata, each
//! counted against its own per-run allowance and, with metrics, against
//! the run's submitted bytes.

use wasmtime::component::{HasData, Linker};

use crate::sandbox::bindings::reporting::{self as wit, Host};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::Counted;
use crate::sandbox::store::HostState;
use crate::sandbox::submissions::{
    AlertType, Event, EventPriority, ITEM_OVERHEAD, ServiceCheck, Status, strings_bytes,
};

/// What the host keeps per item beyond its strings.
const RECORD_OVERHEAD: usize = 64;

/// This capability's part of a store: what the current run reported.
#[derive(Default)]
pub struct ReportingCtx {
    pub(crate) service_checks: Vec<ServiceCheck>,
    pub(crate) events: Vec<Event>,
    pub(crate) metadata: Vec<(String, String)>,
}

struct View<'a> {
    ctx: &'a mut ReportingCtx,
    budget: &'a mut Budget,
}

/// A view on `ctx` and `budget`, for the property tests in `fuzz`.
#[cfg(test)]
pub(super) fn test_view<'a>(ctx: &'a mut ReportingCtx, budget: &'a mut Budget) -> impl Host + 'a {
    View { ctx, budget }
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &mut state.reporting,
        budget: &mut state.budget,
    })
}

fn optional(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, |t| t.len() + ITEM_OVERHEAD)
}

impl View<'_> {
    /// Keep `items` in order until one breaks a budget, then stop the run.
    fn keep<W, T: From<W>>(
        &mut self,
        kind: Counted,
        items: Vec<W>,
        cost: impl Fn(&W) -> usize,
        into: impl Fn(&mut ReportingCtx, T),
    ) -> wasmtime::Result<()> {
        for item in items {
            if let Err(hit) = self.budget.charge_submission(kind, 1, cost(&item)) {
                return Err(self.budget.fail(hit));
            }
            into(self.ctx, T::from(item));
        }
        Ok(())
    }
}

impl Host for View<'_> {
    fn submit_service_checks(&mut self, checks: Vec<wit::ServiceCheck>) -> wasmtime::Result<()> {
        self.keep(
            Counted::ServiceChecks,
            checks,
            |sc| {
                RECORD_OVERHEAD
                    + sc.name.len()
                    + sc.message.len()
                    + strings_bytes(&sc.tags)
                    + optional(&sc.hostname)
            },
            |ctx, sc| ctx.service_checks.push(sc),
        )
    }

    fn submit_events(&mut self, events: Vec<wit::Event>) -> wasmtime::Result<()> {
        self.keep(
            Counted::Events,
            events,
            |e| {
                RECORD_OVERHEAD
                    + e.title.len()
                    + e.text.len()
                    + strings_bytes(&e.tags)
                    + optional(&e.aggregation_key)
                    + optional(&e.hostname)
            },
            |ctx, e| ctx.events.push(e),
        )
    }

    /// A key set again replaces its value; each call still counts.
    fn set_metadata(&mut self, entries: Vec<(String, String)>) -> wasmtime::Result<()> {
        self.keep(
            Counted::Metadata,
            entries,
            |(k, v)| RECORD_OVERHEAD + k.len() + v.len(),
            |ctx, (key, value): (String, String)| {
                ctx.metadata.retain(|(k, _)| *k != key);
                ctx.metadata.push((key, value));
            },
        )
    }
}

impl From<wit::ServiceCheck> for ServiceCheck {
    fn from(sc: wit::ServiceCheck) -> Self {
        ServiceCheck {
            name: sc.name,
            status: match sc.status {
                wit::Status::Ok => Status::Ok,
                wit::Status::Warning => Status::Warning,
                wit::Status::Critical => Status::Critical,
                wit::Status::Unknown => Status::Unknown,
            },
            message: sc.message,
            tags: sc.tags,
            hostname: sc.hostname,
        }
    }
}

impl From<wit::Event> for Event {
    fn from(e: wit::Event) -> Self {
        Event {
            title: e.title,
            text: e.text,
            timestamp: e.timestamp,
            priority: match e.priority {
                wit::EventPriority::Normal => EventPriority::Normal,
                wit::EventPriority::Low => EventPriority::Low,
            },
            alert_type: match e.alert_type {
                wit::AlertType::Info => AlertType::Info,
                wit::AlertType::Warning => AlertType::Warning,
                wit::AlertType::Error => AlertType::Error,
                wit::AlertType::Success => AlertType::Success,
            },
            tags: e.tags,
            aggregation_key: e.aggregation_key,
            hostname: e.hostname,
        }
    }
}
