//! Runs every instance on its interval.
//!
//! Each instance gets its own task, so a slow or stuck check delays only
//! itself: the Datadog Agent's shared worker pool lets slow checks starve
//! the others, which users have long complained about. Within a task a
//! run still going when the next is due makes that tick skipped, not
//! queued (the Agent's rule). Checks sharing an interval are spread evenly
//! over it, without randomness, so their start times do not pile up; the
//! instances of one check start together, so they share one /proc
//! snapshot refresh.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::collector::{Collected, Collector};
use crate::config::InstanceConfig;
use crate::sandbox::{CheckInstance, RunOutcome};

/// Where each run's results go.
pub trait Sink: Send + Sync + 'static {
    fn emit(&self, instance: &InstanceConfig, outcome: &RunOutcome, collected: &Collected);
}

/// One instance ready to schedule.
pub struct Scheduled {
    pub config: InstanceConfig,
    pub instance: CheckInstance,
    pub collector: Collector,
}

/// The start offset of each group (check name) within an interval: the
/// groups sharing an interval are spaced `interval / n` apart, in name
/// order. Returns offsets keyed by (group, interval).
pub fn offsets(groups: &[(String, Duration)]) -> BTreeMap<(String, Duration), Duration> {
    let mut by_interval: BTreeMap<Duration, Vec<&String>> = BTreeMap::new();
    for (group, interval) in groups {
        let members = by_interval.entry(*interval).or_default();
        if !members.contains(&group) {
            members.push(group);
        }
    }
    let mut offsets = BTreeMap::new();
    for (interval, mut members) in by_interval {
        members.sort();
        let n = members.len() as u32;
        for (i, group) in members.into_iter().enumerate() {
            offsets.insert((group.clone(), interval), interval * i as u32 / n);
        }
    }
    offsets
}

/// Run every instance until `shutdown` resolves.
pub async fn run(
    instances: Vec<Scheduled>,
    sink: Arc<dyn Sink>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let starts = offsets(
        &instances
            .iter()
            .map(|s| (s.config.check.clone(), s.config.interval))
            .collect::<Vec<_>>(),
    );
    let origin = Instant::now();
    let mut tasks = JoinSet::new();
    for scheduled in instances {
        let key = (scheduled.config.check.clone(), scheduled.config.interval);
        let start = origin + starts[&key];
        tasks.spawn(run_instance(scheduled, start, sink.clone()));
    }
    shutdown.await;
    tasks.shutdown().await;
}

async fn run_instance(mut scheduled: Scheduled, start: Instant, sink: Arc<dyn Sink>) {
    let mut ticks = tokio::time::interval_at(start, scheduled.config.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let outcome = scheduled.instance.run().await;
        let collected = scheduled.collector.collect(&outcome);
        if let Err(error) = &outcome.result {
            tracing::warn!(instance = scheduled.config.id, "run failed: {error}");
        }
        sink.emit(&scheduled.config, &outcome, &collected);
    }
}

#[cfg(test)]
mod tests {
    use super::offsets;
    use std::time::Duration;

    #[test]
    fn checks_sharing_an_interval_are_spread_evenly() {
        let s = Duration::from_secs;
        let got = offsets(&[
            ("nginx".into(), s(15)),
            ("disk".into(), s(15)),
            ("process".into(), s(15)),
            ("process".into(), s(15)),
            ("process".into(), s(60)),
        ]);
        assert_eq!(got.len(), 4, "two process instances at 15 s share one slot");
        assert_eq!(got[&("disk".into(), s(15))], s(0));
        assert_eq!(got[&("nginx".into(), s(15))], s(5));
        assert_eq!(got[&("process".into(), s(15))], s(10));
        assert_eq!(got[&("process".into(), s(60))], s(0));
    }
}
