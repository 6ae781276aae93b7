//! The Prometheus sink: what the checks collected, as `/metrics` shows it
//! after each flush, plus the runner's own telemetry.
//!
//! Per instance it keeps the latest state: gauges (Datadog gauges, rates
//! and histogram aggregates) are the last run's; counters (Datadog `count`
//! and `monotonic_count`, whose series are per-run increases) are summed
//! since the instance was scheduled, as Prometheus counters must be
//! cumulative (negative counts are left out of the sum); service checks
//! are gauges of their status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
//! Events have no Prometheus form; `runner_check_events_total` counts
//! them. A removed instance's series go at the next flush. Names and
//! labels follow [`names`]; a series submitted by a host other than the
//! runner's gets a `host` label.
//!
//! Series with the same name and labels from two instances are one series
//! in Prometheus: gauges keep the value of the instance that comes last
//! by ID, counters are summed. A name used with two types keeps the first
//! type (by name order of the Datadog metrics); the other series are left
//! out and logged once.

mod encode;
pub mod names;
mod telemetry;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use encode::{Family, Kind};
pub use encode::{Format, negotiate};
use names::Labels;

use super::Sink;
use crate::aggregator::SeriesType;
use crate::collector::ServiceCheckOut;
use crate::scheduler::CompletedRun;
use crate::status::StatusReport;

/// Where a series of one instance comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// A Datadog gauge, rate or histogram aggregate.
    Gauge,
    /// A Datadog count or monotonic_count, summed.
    Counter,
    ServiceCheck,
}

/// The latest state of one instance.
#[derive(Debug, Clone, Default)]
struct InstanceSeries {
    /// (Datadog name, labels) → value.
    gauges: BTreeMap<(String, Labels), f64>,
    counters: BTreeMap<(String, Labels), f64>,
    service_checks: BTreeMap<(String, Labels), f64>,
}

#[derive(Default)]
struct Store {
    /// Updated by every run.
    staged: BTreeMap<String, InstanceSeries>,
    /// Instances staged since the last flush.
    dirty: BTreeSet<String>,
    removed: BTreeSet<String>,
    /// What `/metrics` shows: `staged` as of the last flush.
    visible: BTreeMap<String, InstanceSeries>,
    /// Name clashes already logged.
    clashes: BTreeSet<String>,
}

pub struct Prometheus {
    runner_hostname: String,
    store: Mutex<Store>,
}

impl Prometheus {
    pub fn new(runner_hostname: &str) -> Self {
        Self {
            runner_hostname: runner_hostname.to_string(),
            store: Mutex::new(Store::default()),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn labels(&self, tags: &[String], host: &str) -> Labels {
        let mut tags = tags.to_vec();
        if !host.is_empty() && host != self.runner_hostname {
            tags.push(format!("host:{host}"));
        }
        names::labels(&tags)
    }

    /// The exposition: the checks' series as of the last flush, then the
    /// runner's telemetry from `status`.
    pub fn render(&self, status: &StatusReport, format: Format) -> String {
        let mut families = self.check_families();
        families.extend(telemetry::families(status));
        encode::encode(families, format)
    }

    fn check_families(&self) -> Vec<Family> {
        let mut store = self.store();
        // Mapped family name → (origin, Datadog name, series).
        let mut by_name: BTreeMap<String, (Origin, String, BTreeMap<Labels, f64>)> =
            BTreeMap::new();
        let mut clashes = Vec::new();
        for series in store.visible.values() {
            let all = [
                (Origin::Gauge, &series.gauges),
                (Origin::Counter, &series.counters),
                (Origin::ServiceCheck, &series.service_checks),
            ];
            for (origin, map) in all {
                for ((name, labels), value) in map {
                    let family = match origin {
                        Origin::Counter => names::counter_base(name),
                        _ => names::gauge_name(name),
                    };
                    let entry = by_name
                        .entry(family.clone())
                        .or_insert_with(|| (origin, name.clone(), BTreeMap::new()));
                    if entry.0 != origin {
                        clashes.push(family);
                        continue;
                    }
                    let slot = entry.2.entry(labels.clone()).or_insert(0.0);
                    match origin {
                        Origin::Counter => *slot += value,
                        _ => *slot = *value,
                    }
                }
            }
        }
        for family in clashes {
            if store.clashes.insert(family.clone()) {
                tracing::warn!(
                    "/metrics: `{family}` is used by series of different types; only the first type is shown"
                );
            }
        }
        // Gauges never end in `_total` (see `names::gauge_name`), so a
        // counter's `<family>_total` clashes with no gauge.
        by_name
            .into_iter()
            .map(|(name, (origin, datadog, samples))| Family {
                help: match origin {
                    Origin::Gauge => format!("Datadog metric {}", plain(&datadog)),
                    Origin::Counter => {
                        format!("Datadog count {}, summed since start", plain(&datadog))
                    }
                    Origin::ServiceCheck => format!(
                        "Datadog service check {}: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
                        plain(&datadog)
                    ),
                },
                kind: match origin {
                    Origin::Counter => Kind::Counter,
                    _ => Kind::Gauge,
                },
                name,
                samples: samples.into_iter().collect(),
            })
            .collect()
    }
}

/// Text for a HELP line: control characters and backslashes replaced.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
        .collect()
}

impl Sink for Prometheus {
    fn stage(&self, run: &CompletedRun) {
        let mut next = InstanceSeries::default();
        let mut store = self.store();
        // Counters carry on from the instance's previous state.
        if let Some(previous) = store.staged.get(&run.config.id) {
            next.counters = previous.counters.clone();
        }
        for series in &run.collected.series {
            let Some(&(_, value)) = series.points.last() else {
                continue;
            };
            let key = (
                series.metric.clone(),
                self.labels(&series.tags, &series.host),
            );
            match series.kind {
                SeriesType::Count => {
                    *next.counters.entry(key).or_insert(0.0) += value.max(0.0);
                }
                SeriesType::Gauge | SeriesType::Rate => {
                    next.gauges.insert(key, value);
                }
            }
        }
        let service_checks: Vec<&ServiceCheckOut> = run
            .collected
            .service_checks
            .iter()
            .chain([&run.check_status])
            .collect();
        for check in service_checks {
            let key = (
                check.check.clone(),
                self.labels(&check.tags, &check.host_name),
            );
            next.service_checks.insert(key, f64::from(check.status));
        }
        store.staged.insert(run.config.id.clone(), next);
        store.dirty.insert(run.config.id.clone());
    }

    fn remove(&self, id: &str) {
        let mut store = self.store();
        store.staged.remove(id);
        store.dirty.remove(id);
        store.removed.insert(id.to_string());
    }

    fn flush(&self) {
        let mut store = self.store();
        for id in std::mem::take(&mut store.removed) {
            store.visible.remove(&id);
        }
        for id in std::mem::take(&mut store.dirty) {
            if let Some(series) = store.staged.get(&id).cloned() {
                store.visible.insert(id, series);
            }
        }
    }
}
