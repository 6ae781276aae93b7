//! Runs every instance on its interval.
//!
//! Each instance gets its own task; runs take one of `check_runners`
//! slots (a semaphore) to start, so a burst of due instances is worked
//! through a few at a time, as by the Agent's worker pool. Unlike that
//! pool, a run still going after [`SLOT_HOLD`] gives its slot back and
//! carries on outside it (its own `limits.timeout` still ends it): slow or
//! stuck checks can hold up the others by that much at most, never by a
//! whole timeout. Within a task a run still going when the next is due
//! makes that tick skipped, not queued (the Agent's rule), and counted.
//! Instances sharing an interval are spread over it in batches
//! ([`spread::offsets`]).
//!
//! An instance is configured by its first run, in its own task, so a slow
//! `configure` delays nobody else. One that fails to instantiate or
//! configure is reported on every attempt and retried with back-off (one
//! interval, then two, four, … up to [`MAX_BACKOFF`]), never dropped.
//!
//! Instances can be added, stopped and replaced while others run (hot
//! reload); a stopped instance finishes its current run first. On
//! shutdown, runs still going get a bounded time to finish, then are
//! cancelled.

mod backoff;
pub mod spread;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::collector::{Collected, Collector, ServiceCheckOut, unix_seconds};
use crate::config::InstanceConfig;
use crate::sandbox::{CheckInstance, RunOutcome};
use backoff::Backoff;

/// The longest wait between attempts to configure a failing instance
/// (unless its own interval is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How long a run keeps its check-runner slot: past this it gives the slot
/// to the next due run and goes on outside the pool.
pub const SLOT_HOLD: Duration = Duration::from_millis(250);

/// One instance ready to schedule.
pub struct Scheduled {
    pub config: Arc<InstanceConfig>,
    pub instance: CheckInstance,
    pub collector: Collector,
}

/// What one run produced, for the status registry and the sinks.
pub struct CompletedRun {
    pub config: Arc<InstanceConfig>,
    pub outcome: RunOutcome,
    /// The check's own series, service checks, events and metadata.
    pub collected: Collected,
    /// The runner's `runner.check_status` for this run.
    pub check_status: ServiceCheckOut,
    /// From when the run was due to when it started (waiting for a slot).
    pub lag: Duration,
    /// Runs that came due while this one was still going, and were skipped.
    pub skipped: u64,
}

/// Receives every finished run.
pub trait RunReport: Send + Sync + 'static {
    fn completed(&self, run: CompletedRun);
}

/// What [`Scheduler::shutdown`] did.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// Instances whose task ended by itself within the bound.
    pub finished: usize,
    /// Instances whose run was still going at the bound and was cancelled.
    pub cancelled: Vec<String>,
}

struct Task {
    stop: CancellationToken,
    handle: JoinHandle<()>,
    /// A replaced task this one waits for before its first run.
    predecessor: Option<AbortHandle>,
}

/// The running schedule.
pub struct Scheduler {
    runners: Arc<Semaphore>,
    report: Arc<dyn RunReport>,
    tasks: BTreeMap<String, Task>,
    /// Stopped instances whose last run may still be going.
    stopping: Vec<(String, Task)>,
}

impl Scheduler {
    /// A schedule with `check_runners` slots (at least one).
    pub fn new(check_runners: usize, report: Arc<dyn RunReport>) -> Self {
        Self {
            runners: Arc::new(Semaphore::new(check_runners.max(1))),
            report,
            tasks: BTreeMap::new(),
            stopping: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Schedule `instances`, spread over their intervals from now on. An
    /// instance whose ID is already scheduled replaces it: the new one
    /// starts once the old one's current run is over.
    pub fn start(&mut self, instances: Vec<Scheduled>) {
        let keys: Vec<(String, String, Duration)> = instances
            .iter()
            .map(|s| {
                (
                    s.config.check.clone(),
                    s.config.id.clone(),
                    s.config.interval,
                )
            })
            .collect();
        let offsets = spread::offsets(&keys);
        let origin = Instant::now();
        for scheduled in instances {
            let id = scheduled.config.id.clone();
            let start = origin + offsets.get(&id).copied().unwrap_or_default();
            let previous = self.tasks.remove(&id);
            let stop = CancellationToken::new();
            let runners = self.runners.clone();
            let report = self.report.clone();
            let token = stop.clone();
            let (handle, predecessor) = match previous {
                None => (
                    tokio::spawn(run_instance(scheduled, start, runners, report, token)),
                    None,
                ),
                Some(old) => {
                    old.stop.cancel();
                    let abort = old.handle.abort_handle();
                    let handle = tokio::spawn(async move {
                        let _ = old.handle.await;
                        run_instance(scheduled, start, runners, report, token).await;
                    });
                    (handle, Some(abort))
                }
            };
            self.tasks.insert(
                id,
                Task {
                    stop,
                    handle,
                    predecessor,
                },
            );
        }
    }

    /// Stop scheduling instance `id`; its current run, if any, finishes.
    pub fn stop(&mut self, id: &str) {
        self.stopping.retain(|(_, task)| !task.handle.is_finished());
        if let Some(task) = self.tasks.remove(id) {
            task.stop.cancel();
            self.stopping.push((id.to_string(), task));
        }
    }

    /// Stop scheduling; give runs still going until `bound` to finish,
    /// then cancel them.
    pub async fn shutdown(mut self, bound: Duration) -> ShutdownReport {
        let deadline = Instant::now() + bound;
        let mut all: Vec<(String, Task)> = std::mem::take(&mut self.tasks).into_iter().collect();
        all.append(&mut self.stopping);
        for (_, task) in &all {
            task.stop.cancel();
        }
        let mut report = ShutdownReport::default();
        for (id, mut task) in all {
            match tokio::time::timeout_at(deadline, &mut task.handle).await {
                Ok(_) => report.finished += 1,
                Err(_) => {
                    task.handle.abort();
                    if let Some(predecessor) = &task.predecessor {
                        predecessor.abort();
                    }
                    let _ = task.handle.await;
                    report.cancelled.push(id);
                }
            }
        }
        report
    }
}

async fn run_instance(
    mut scheduled: Scheduled,
    start: Instant,
    runners: Arc<Semaphore>,
    report: Arc<dyn RunReport>,
    stop: CancellationToken,
) {
    let interval = scheduled.config.interval;
    let mut ticks = tokio::time::interval_at(start, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut backoff = Backoff::new(interval);
    let mut skipping = false;
    loop {
        let due = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            due = ticks.tick() => due,
        };
        if !backoff.due() {
            continue;
        }
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            permit = runners.clone().acquire_owned() => permit.ok(),
        };
        let lag = due.elapsed();
        let outcome = holding_at_most(permit, scheduled.instance.run()).await;
        // Ticks that passed while it ran (and waited for a slot) are skipped.
        let skipped = (due.elapsed().as_nanos() / interval.as_nanos().max(1)) as u64;
        let collected = scheduled.collector.collect(&outcome);
        let id = scheduled.config.id.as_str();
        match &outcome.result {
            Err(error) if error.before_configured() => {
                let wait = backoff.failed();
                let error = crate::escape::for_terminal(&error.to_string()).into_owned();
                tracing::warn!(instance = id, "{error}; retrying in {}s", wait.as_secs());
            }
            _ => {
                backoff.succeeded();
                if let Some(error) = &collected.error {
                    tracing::warn!(instance = id, "run failed: {error}");
                }
            }
        }
        if skipped > 0 {
            let took = outcome.duration.as_secs_f64();
            let message = format!(
                "the run took {took:.1}s, longer than the {}s interval: {skipped} run(s) skipped",
                interval.as_secs()
            );
            // Warn when an instance starts falling behind, not on every run.
            if skipping {
                tracing::debug!(instance = id, "{message}");
            } else {
                tracing::warn!(instance = id, "{message}");
            }
        }
        skipping = skipped > 0;
        let check_status = scheduled.collector.check_status(
            &scheduled.config.check,
            &collected,
            &outcome.warnings,
            unix_seconds(outcome.started_at),
        );
        report.completed(CompletedRun {
            config: scheduled.config.clone(),
            outcome,
            collected,
            check_status,
            lag,
            skipped,
        });
    }
}

/// Runs `run`, keeping the check-runner slot `permit` for [`SLOT_HOLD`] at
/// most.
async fn holding_at_most<T>(
    permit: Option<OwnedSemaphorePermit>,
    run: impl Future<Output = T>,
) -> T {
    tokio::pin!(run);
    tokio::select! {
        out = &mut run => out,
        () = tokio::time::sleep(SLOT_HOLD) => {
            drop(permit);
            run.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_long_run_gives_its_slot_back() {
        let slots = Arc::new(Semaphore::new(1));
        let permit = slots.clone().acquire_owned().await.ok();
        let long = tokio::spawn(holding_at_most(
            permit,
            tokio::time::sleep(Duration::from_secs(30)),
        ));
        let begun = Instant::now();
        let _next = slots.clone().acquire_owned().await.unwrap();
        let waited = begun.elapsed();
        assert!(
            waited >= SLOT_HOLD - Duration::from_millis(5) && waited < Duration::from_secs(5),
            "the next run waited about the hold only: {waited:?}"
        );
        assert!(!long.is_finished());
        long.abort();
    }
}
