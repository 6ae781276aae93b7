//! Runs every instance on its interval.
//!
//! Each instance gets its own task, so a slow or stuck check delays only
//! itself: the Datadog Agent's shared worker pool lets slow checks starve
//! the others, which users have long complained about. Within a task a
//! run still going when the next is due makes that tick skipped, not
//! queued (the Agent's rule). Instances sharing an interval are spread
//! evenly over it, without randomness, so their start times do not pile
//! up.

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

/// The start offset of each instance within its interval: instances with
/// the same interval are spaced `interval / n` apart, in ID order.
pub fn offsets(instances: &[(String, Duration)]) -> BTreeMap<String, Duration> {
    let mut by_interval: BTreeMap<Duration, Vec<&String>> = BTreeMap::new();
    for (id, interval) in instances {
        by_interval.entry(*interval).or_default().push(id);
    }
    let mut offsets = BTreeMap::new();
    for (interval, mut ids) in by_interval {
        ids.sort();
        let n = ids.len() as u32;
        for (i, id) in ids.into_iter().enumerate() {
            offsets.insert(id.clone(), interval * i as u32 / n);
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
            .map(|s| (s.config.id.clone(), s.config.interval))
            .collect::<Vec<_>>(),
    );
    let origin = Instant::now();
    let mut tasks = JoinSet::new();
    for scheduled in instances {
        let start = origin + starts[&scheduled.config.id];
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
    fn instances_sharing_an_interval_are_spread_evenly() {
        let s = Duration::from_secs;
        let got = offsets(&[
            ("c".into(), s(15)),
            ("a".into(), s(15)),
            ("b".into(), s(15)),
            ("x".into(), s(60)),
        ]);
        assert_eq!(got["a"], s(0));
        assert_eq!(got["b"], s(5));
        assert_eq!(got["c"], s(10));
        assert_eq!(got["x"], s(0));
    }
}
