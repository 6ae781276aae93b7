//! The status registry: what the daemon knows about itself and each
//! scheduled instance (runs, errors, what they submitted, how long they
//! took), and the problems of the last configuration load. The HTTP API
//! serves it as JSON ([`StatusReport`]); `runner status` reads that back
//! and prints it the way `agent status` does; `/metrics` turns it into the
//! runner's own telemetry.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::collector::unix_seconds;
use crate::config::InstanceConfig;
use crate::scheduler::CompletedRun;

/// Runs the average execution time is taken over (the Agent's 32).
pub const EXECUTION_TIMES_KEPT: usize = 32;

/// The whole report, as `/status` serves it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusReport {
    pub version: String,
    pub pid: u32,
    pub hostname: String,
    /// Unix seconds.
    pub started_at: f64,
    /// Unix seconds when the report was made.
    pub now: f64,
    pub conf_d: String,
    pub checks_d: String,
    /// The `/metrics` and `/status` address, if any.
    pub listen: Option<String>,
    pub check_runners: usize,
    pub flush_interval_secs: f64,
    /// Scheduled instances, by check then ID.
    pub instances: Vec<InstanceStatus>,
    /// Configuration errors of the last load: instances left out.
    pub config_errors: Vec<Problem>,
    /// Configuration warnings of the last load.
    pub config_warnings: Vec<Problem>,
    /// Checks that could not be loaded (not found, not a valid plugin).
    pub loading_errors: Vec<Problem>,
    pub reload: ReloadStatus,
    pub flushes: u64,
    pub last_flush: Option<f64>,
    pub snapshots: SnapshotStats,
}

/// One configuration or loading problem, ready to print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub check: Option<String>,
    pub message: String,
}

/// Reloads of conf.d and checks.d since start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReloadStatus {
    pub count: u64,
    pub last_at: Option<f64>,
    /// Whether the last reload applied (true before any).
    pub last_ok: bool,
    /// What kept the last reload's new files out, if anything.
    pub last_error: Option<String>,
}

/// The process snapshot service's work.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SnapshotStats {
    pub refreshes: u64,
    pub refresh_seconds: f64,
}

/// How an instance is doing, as `agent status` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Scheduled, not run yet.
    Pending,
    Ok,
    Warning,
    Error,
}

/// Last run and total since the instance was scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub last: u64,
    pub total: u64,
}

impl Tally {
    fn add(&mut self, n: usize) {
        self.last = n as u64;
        self.total += n as u64;
    }
}

/// One scheduled instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub id: String,
    pub check: String,
    /// The configuration file.
    pub source: String,
    pub interval_secs: f64,
    pub state: InstanceState,
    pub total_runs: u64,
    pub total_errors: u64,
    pub total_warnings: u64,
    /// Runs skipped because the previous one was still going.
    pub skipped_runs: u64,
    pub metric_samples: Tally,
    pub events: Tally,
    pub service_checks: Tally,
    /// Mean of the last [`EXECUTION_TIMES_KEPT`] runs.
    pub average_execution_ms: f64,
    pub last_execution_ms: f64,
    /// Sum of all run durations, seconds.
    pub total_execution_seconds: f64,
    /// From due to started, last run.
    pub last_lag_ms: f64,
    /// Sum of the lags of all runs, seconds.
    pub total_lag_seconds: f64,
    /// Unix seconds.
    pub last_run: Option<f64>,
    pub last_success: Option<f64>,
    pub last_error: Option<String>,
    pub last_warnings: Vec<String>,
    /// Bytes the sandbox held after the last run.
    pub memory_bytes: u64,
    /// Metadata the check set, e.g. `version.raw`.
    pub metadata: BTreeMap<String, String>,
    #[serde(skip)]
    recent: VecDeque<f64>,
}

impl InstanceStatus {
    fn new(config: &InstanceConfig) -> Self {
        Self {
            id: config.id.clone(),
            check: config.check.clone(),
            source: config.source.display().to_string(),
            interval_secs: config.interval.as_secs_f64(),
            state: InstanceState::Pending,
            total_runs: 0,
            total_errors: 0,
            total_warnings: 0,
            skipped_runs: 0,
            metric_samples: Tally::default(),
            events: Tally::default(),
            service_checks: Tally::default(),
            average_execution_ms: 0.0,
            last_execution_ms: 0.0,
            total_execution_seconds: 0.0,
            last_lag_ms: 0.0,
            total_lag_seconds: 0.0,
            last_run: None,
            last_success: None,
            last_error: None,
            last_warnings: Vec::new(),
            memory_bytes: 0,
            metadata: BTreeMap::new(),
            recent: VecDeque::with_capacity(EXECUTION_TIMES_KEPT),
        }
    }

    fn record(&mut self, run: &CompletedRun) {
        let ms = run.outcome.duration.as_secs_f64() * 1000.0;
        let started = unix_seconds(run.outcome.started_at);
        self.total_runs += 1;
        self.skipped_runs += run.skipped;
        self.metric_samples.add(run.collected.metric_samples);
        self.events.add(run.collected.events.len());
        self.service_checks.add(run.collected.service_checks.len());
        if self.recent.len() == EXECUTION_TIMES_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
        self.average_execution_ms = self.recent.iter().sum::<f64>() / self.recent.len() as f64;
        self.last_execution_ms = ms;
        self.total_execution_seconds += ms / 1000.0;
        self.last_lag_ms = run.lag.as_secs_f64() * 1000.0;
        self.total_lag_seconds += run.lag.as_secs_f64();
        self.last_run = Some(started);
        self.memory_bytes = run.outcome.memory_bytes;
        self.last_warnings = run.outcome.warnings.clone();
        if !run.outcome.warnings.is_empty() {
            self.total_warnings += 1;
        }
        for (key, value) in &run.collected.metadata {
            self.metadata.insert(key.clone(), value.clone());
        }
        match &run.collected.error {
            Some(error) => {
                self.total_errors += 1;
                self.last_error = Some(error.clone());
                self.state = InstanceState::Error;
            }
            None => {
                self.last_success = Some(started);
                self.state = if run.outcome.warnings.is_empty() {
                    InstanceState::Ok
                } else {
                    InstanceState::Warning
                };
            }
        }
    }
}

/// Daemon facts that do not change while it runs.
#[derive(Debug, Clone, Default)]
pub struct DaemonInfo {
    pub hostname: String,
    pub conf_d: String,
    pub checks_d: String,
    pub listen: Option<String>,
    pub check_runners: usize,
    pub flush_interval_secs: f64,
}

/// Shared by the scheduler's runs (writers) and the HTTP API (readers).
pub struct StatusRegistry {
    info: DaemonInfo,
    started_at: SystemTime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    instances: BTreeMap<String, InstanceStatus>,
    config_errors: Vec<Problem>,
    config_warnings: Vec<Problem>,
    loading_errors: Vec<Problem>,
    reload: ReloadStatus,
    flushes: u64,
    last_flush: Option<f64>,
}

impl StatusRegistry {
    pub fn new(info: DaemonInfo) -> Self {
        Self {
            info,
            started_at: SystemTime::now(),
            state: Mutex::new(State {
                reload: ReloadStatus {
                    last_ok: true,
                    ..ReloadStatus::default()
                },
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An instance was scheduled: listed as pending until its first run.
    /// A replaced instance (same ID) keeps its history.
    pub fn scheduled(&self, config: &InstanceConfig) {
        self.state()
            .instances
            .entry(config.id.clone())
            .or_insert_with(|| InstanceStatus::new(config));
    }

    /// An instance was unscheduled: forgotten.
    pub fn removed(&self, id: &str) {
        self.state().instances.remove(id);
    }

    /// Record a finished run. False when its instance is no longer
    /// scheduled (its last run ended after a reload removed it): the run
    /// is then ignored.
    pub fn record(&self, run: &CompletedRun) -> bool {
        match self.state().instances.get_mut(&run.config.id) {
            Some(status) => {
                status.record(run);
                true
            }
            None => false,
        }
    }

    /// The problems of the configuration load now in effect.
    pub fn set_problems(
        &self,
        errors: Vec<Problem>,
        warnings: Vec<Problem>,
        loading: Vec<Problem>,
    ) {
        let mut state = self.state();
        state.config_errors = errors;
        state.config_warnings = warnings;
        state.loading_errors = loading;
    }

    /// A reload happened; `error` says what it kept out, if anything.
    pub fn reloaded(&self, error: Option<String>) {
        let mut state = self.state();
        state.reload.count += 1;
        state.reload.last_at = Some(unix_seconds(SystemTime::now()));
        state.reload.last_ok = error.is_none();
        state.reload.last_error = error;
    }

    pub fn flushed(&self) {
        let mut state = self.state();
        state.flushes += 1;
        state.last_flush = Some(unix_seconds(SystemTime::now()));
    }

    /// Everything, as of now.
    pub fn report(&self, snapshots: SnapshotStats) -> StatusReport {
        let state = self.state();
        let mut instances: Vec<InstanceStatus> = state.instances.values().cloned().collect();
        instances.sort_by(|a, b| (&a.check, &a.id).cmp(&(&b.check, &b.id)));
        StatusReport {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            hostname: self.info.hostname.clone(),
            started_at: unix_seconds(self.started_at),
            now: unix_seconds(SystemTime::now()),
            conf_d: self.info.conf_d.clone(),
            checks_d: self.info.checks_d.clone(),
            listen: self.info.listen.clone(),
            check_runners: self.info.check_runners,
            flush_interval_secs: self.info.flush_interval_secs,
            instances,
            config_errors: state.config_errors.clone(),
            config_warnings: state.config_warnings.clone(),
            loading_errors: state.loading_errors.clone(),
            reload: state.reload.clone(),
            flushes: state.flushes,
            last_flush: state.last_flush,
            snapshots,
        }
    }
}
