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
//!
//! An instance is configured by its first run, in its own task, so a slow
//! `configure` delays nobody else. One that fails to instantiate or
//! configure is reported on every attempt and retried with back-off (one
//! interval, then two, four, … up to [`MAX_BACKOFF`]), never dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::collector::{Collected, Collector};
use crate::config::InstanceConfig;
use crate::sandbox::{CheckInstance, RunOutcome};

/// The longest wait between attempts to configure a failing instance
/// (unless its own interval is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

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
    let interval = scheduled.config.interval;
    let mut ticks = tokio::time::interval_at(start, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut backoff = Backoff::new(interval);
    loop {
        ticks.tick().await;
        if !backoff.due() {
            continue;
        }
        let outcome = scheduled.instance.run().await;
        let collected = scheduled.collector.collect(&outcome);
        match &outcome.result {
            Err(error) if error.before_configured() => {
                let wait = backoff.failed();
                let error = crate::escape::for_terminal(&error.to_string()).into_owned();
                tracing::warn!(
                    instance = scheduled.config.id,
                    "{error}; retrying in {}s",
                    wait.as_secs()
                );
            }
            _ => {
                backoff.succeeded();
                if let Some(error) = &collected.error {
                    tracing::warn!(instance = scheduled.config.id, "run failed: {error}");
                }
            }
        }
        sink.emit(&scheduled.config, &outcome, &collected);
    }
}

/// Which ticks a failing instance skips: after `n` failures in a row to
/// configure, it is tried again after 2^(n-1) intervals, at most
/// [`MAX_BACKOFF`] (or one interval, when that is longer).
struct Backoff {
    interval: Duration,
    failures: u32,
    skip: u32,
}

impl Backoff {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            failures: 0,
            skip: 0,
        }
    }

    /// Whether this tick runs; counts down skipped ticks.
    fn due(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// Record a failure; returns how long until the next attempt.
    fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let cap = (MAX_BACKOFF.as_secs_f64() / self.interval.as_secs_f64()).max(1.0) as u32;
        let intervals = 2u32.saturating_pow(self.failures - 1).min(cap);
        self.skip = intervals - 1;
        self.interval * intervals
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.skip = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::{Backoff, offsets};
    use std::time::Duration;

    #[test]
    fn failing_configure_backs_off_then_resumes() {
        let mut b = Backoff::new(Duration::from_secs(60));
        let mut pattern = String::new();
        for _ in 0..12 {
            if b.due() {
                pattern.push('R');
                b.failed();
            } else {
                pattern.push('.');
            }
        }
        // Tried after 1, 2, 4, then every 5 intervals (300 s / 60 s).
        assert_eq!(pattern, "RR.R...R....");
        b.succeeded();
        assert!(b.due());
        let mut slow = Backoff::new(Duration::from_secs(600));
        assert_eq!(slow.failed(), Duration::from_secs(600));
        assert_eq!(
            slow.failed(),
            Duration::from_secs(600),
            "never less than one interval"
        );
    }

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
