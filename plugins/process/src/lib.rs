//! The process check: Datadog's `process` integration for the runner.
//!
//! Each instance selects processes (by name, command-line regex, pid or
//! pid file; optionally with their children and for one user), and sends
//! the `system.processes.*` metrics summed over them plus the `process.up`
//! service check. Processes come from the runner's shared snapshot
//! ([`Context::processes`]); matching happens on the host.
//!
//! Layout: [`config`] parses and validates the configuration, [`metrics`]
//! turns a snapshot into samples, [`service_check`] computes `process.up`.
//! [`ProcessCheck::evaluate`] ties them together over plain data, so
//! `run` is a thin shell around the host calls.

pub mod config;
pub mod metrics;
pub mod service_check;

use runner_sdk::{
    Check, Context, Error, Level, Metric, ProcessFields, ProcessQuery, ProcessSnapshot, QueryError,
    Status,
};

use config::{Config, InitConfig, Settings};
use metrics::{CpuHistory, Sample};

/// One configured instance, with the CPU samples of its previous run.
#[derive(Debug)]
pub struct ProcessCheck {
    settings: Settings,
    cpu: CpuHistory,
}

/// What one run submits (all with the same tags).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub metrics: Vec<Sample>,
    pub status: Status,
    pub message: String,
    /// A line for the debug log, e.g. why the pid file gave no process.
    pub debug: Option<String>,
}

impl ProcessCheck {
    /// Validates an instance.
    pub fn new(config: Config) -> Result<ProcessCheck, Error> {
        Ok(ProcessCheck {
            settings: Settings::new(config)?,
            cpu: CpuHistory::default(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Everything a run does after querying the host, given the query's
    /// result. As in Datadog, a pid file that cannot be read means no
    /// process (`process.up` then follows `thresholds` like any count of
    /// 0); any other query error fails the run.
    pub fn evaluate(
        &mut self,
        result: Result<ProcessSnapshot, QueryError>,
    ) -> Result<Report, Error> {
        let (snapshot, debug) = match result {
            Ok(snapshot) => (snapshot, None),
            Err(QueryError::PidFileUnreadable(message)) if self.settings.from_pid_file => {
                let note = format!("{message}; counting 0 processes");
                (empty_snapshot(), Some(note))
            }
            Err(error) => {
                return Err(format!("process query failed: {}", error.message()).into());
            }
        };
        let cpu_pct = self.cpu.update(&snapshot);
        let count = snapshot.processes.len();
        let status = service_check::status(count, self.settings.limits.as_ref());
        Ok(Report {
            metrics: metrics::samples(&snapshot, cpu_pct),
            status,
            message: service_check::message(status, count, &self.settings.name),
            debug,
        })
    }

    /// The tags of `process.up`: the metric tags plus `process:<name>`.
    pub fn service_check_tags(&self) -> Vec<String> {
        let mut tags = self.settings.tags.clone();
        tags.push(format!("process:{}", self.settings.name));
        tags
    }
}

/// A snapshot with no process, for a pid file that cannot be read.
fn empty_snapshot() -> ProcessSnapshot {
    ProcessSnapshot {
        taken_at: 0.0,
        host_cpu_time: 0.0,
        num_cpus: 0,
        total_memory: 0,
        processes: Vec::new(),
    }
}

impl Check for ProcessCheck {
    type Config = Config;
    type InitConfig = InitConfig;
    const NAME: &'static str = "process";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The host reads `pid_file` for the query, and only that path.
    const FILE_KEYS: &'static [&'static str] = &["pid_file"];

    fn configure(_init_config: InitConfig, config: Config) -> Result<Self, Error> {
        // The init_config cache durations have no effect: every run reads
        // the runner's fresh shared snapshot.
        let check = ProcessCheck::new(config)?;
        // Logged here, the runner reports them as configuration warnings.
        for warning in &check.settings.warnings {
            runner_sdk::log(Level::Warn, warning);
        }
        Ok(check)
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        if self.settings.strict_search {
            // Only the names, for the message naming a denied process.
            let all = ctx.processes(&ProcessQuery {
                all: true,
                fields: ProcessFields::NAME,
                ..ProcessQuery::default()
            });
            let all = all.map_err(|e| format!("process query failed: {}", e.message()))?;
            metrics::check_search_denied(&all)?;
        }
        let result = ctx.processes(&self.settings.query);
        let report = self.evaluate(result)?;
        if let Some(line) = &report.debug {
            ctx.debug(line);
        }
        let tags = &self.settings.tags;
        for sample in report.metrics {
            ctx.submit(Metric {
                name: sample.name.to_string(),
                kind: sample.kind,
                value: sample.value,
                tags: tags.clone(),
                hostname: None,
            });
        }
        let sc_tags = self.service_check_tags();
        ctx.service_check(
            service_check::NAME,
            report.status,
            &sc_tags,
            &report.message,
        );
        Ok(())
    }
}

runner_sdk::export_check!(ProcessCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::{process, snapshot};
    use runner_sdk::serde_json::{self, json};

    fn check(instance: serde_json::Value) -> ProcessCheck {
        ProcessCheck::new(serde_json::from_value(instance).unwrap()).unwrap()
    }

    fn metric(report: &Report, name: &str) -> Option<f64> {
        report
            .metrics
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    }

    #[test]
    fn check_info() {
        assert_eq!(ProcessCheck::NAME, "process");
        assert_eq!(ProcessCheck::VERSION, env!("CARGO_PKG_VERSION"));
        assert!(ProcessCheck::ENDPOINT_KEYS.is_empty());
    }

    #[test]
    fn tags() {
        // As the Agent's process.py: `process_name:<name>` and the bare
        // name; the runner adds the instance's `tags` (not repeated here).
        let c = check(json!({
            "name": "nginx", "search_string": ["nginx"], "tags": ["env:prod"]
        }));
        assert_eq!(c.settings().tags, ["process_name:nginx", "nginx"]);
        assert_eq!(
            c.service_check_tags(),
            ["process_name:nginx", "nginx", "process:nginx"]
        );
    }

    #[test]
    fn runs_end_to_end() {
        let mut c = check(json!({
            "name": "worker", "search_string": ["worker"],
            "thresholds": {"warning": [3, 5]},
        }));
        let mut first = snapshot(vec![process(1), process(2)]);
        first.host_cpu_time = 100.0;
        let report = c.evaluate(Ok(first)).unwrap();
        assert_eq!(metric(&report, "system.processes.number"), Some(2.0));
        assert_eq!(metric(&report, "system.processes.cpu.pct"), None);
        assert_eq!(report.status, Status::Warning);
        assert_eq!(
            report.message,
            "PROCS WARNING: 2 processes found for worker"
        );

        let mut busy = process(2);
        busy.cpu_system = 1.0;
        let mut second = snapshot(vec![process(1), busy, process(3)]);
        second.host_cpu_time = 104.0;
        let report = c.evaluate(Ok(second)).unwrap();
        assert_eq!(metric(&report, "system.processes.number"), Some(3.0));
        // 1 s of 4 on 2 CPUs.
        assert_eq!(metric(&report, "system.processes.cpu.pct"), Some(50.0));
        assert_eq!(
            metric(&report, "system.processes.cpu.normalized_pct"),
            Some(25.0)
        );
        assert_eq!(report.status, Status::Ok);
        assert_eq!(report.message, "");
    }

    #[test]
    fn zero_processes() {
        let mut c = check(json!({"name": "gone", "pid": 4242}));
        let report = c.evaluate(Ok(snapshot(Vec::new()))).unwrap();
        assert_eq!(
            report.metrics,
            [Sample {
                name: "system.processes.number",
                kind: runner_sdk::MetricType::Gauge,
                value: 0.0
            }]
        );
        assert_eq!(report.status, Status::Critical);
        assert_eq!(report.message, "PROCS CRITICAL: 0 processes found for gone");
    }

    #[test]
    fn unreadable_pid_file_is_zero_processes() {
        let err = "cannot read pid file /run/db.pid: No such file or directory (os error 2)";
        let mut c = check(json!({"name": "db", "pid_file": "/run/db.pid"}));
        let report = c
            .evaluate(Err(QueryError::PidFileUnreadable(err.into())))
            .unwrap();
        assert_eq!(report.metrics.len(), 1);
        assert_eq!(metric(&report, "system.processes.number"), Some(0.0));
        assert_eq!(report.status, Status::Critical);
        // Datadog's message, word for word; the reason goes to the log.
        assert_eq!(report.message, "PROCS CRITICAL: 0 processes found for db");
        assert_eq!(
            report.debug.as_deref(),
            Some(
                "cannot read pid file /run/db.pid: No such file or directory (os error 2); \
                 counting 0 processes"
            )
        );

        // 0 processes follow `thresholds` like any count.
        let mut c = check(json!({
            "name": "db", "pid_file": "/run/db.pid",
            "thresholds": {"critical": [0, 5], "warning": [1, 5]},
        }));
        let report = c
            .evaluate(Err(QueryError::PidFileUnreadable(err.into())))
            .unwrap();
        assert_eq!(report.status, Status::Warning);
        assert_eq!(report.message, "PROCS WARNING: 0 processes found for db");

        // A file without a pid fails the run, as Datadog's int() does.
        let mut c = check(json!({"name": "db", "pid_file": "/run/db.pid"}));
        let err = c
            .evaluate(Err(QueryError::PidFileWithoutPid(
                "pid file /run/db.pid does not hold a pid".into(),
            )))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "process query failed: pid file /run/db.pid does not hold a pid"
        );
    }

    #[test]
    fn other_query_errors_fail_the_run() {
        // E.g. the host could not read /proc.
        let mut c = check(json!({
            "name": "x", "search_string": ["x"], "exact_match": false
        }));
        let err = c
            .evaluate(Err(QueryError::SnapshotUnavailable(
                "reading the process list failed: EIO".into(),
            )))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "process query failed: reading the process list failed: EIO"
        );
    }

    #[test]
    fn unreadable_fields_never_fail_the_run() {
        // pid 1's io cannot be read even by root.
        let mut denied = process(1);
        denied.io = None;
        denied.open_fds = None;
        denied.denied = runner_sdk::DeniedFields::IO | runner_sdk::DeniedFields::OPEN_FDS;
        let snap = snapshot(vec![denied, process(4)]);
        for exact_match in [true, false] {
            let mut strict = check(json!({
                "name": "w", "search_string": ["worker"],
                "exact_match": exact_match, "ignore_denied_access": false
            }));
            let report = strict.evaluate(Ok(snap.clone())).unwrap();
            assert_eq!(metric(&report, "system.processes.number"), Some(2.0));
            assert_eq!(report.status, Status::Ok);
        }
    }
}
