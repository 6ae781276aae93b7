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

use runner_sdk::{Check, Context, Error, Metric, ProcessSnapshot, Status};

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
    /// result. An unreadable pid file means no process (`process.up`
    /// CRITICAL with the error); any other query error fails the run, as
    /// does a denied field with `ignore_denied_access: false`.
    pub fn evaluate(&mut self, result: Result<ProcessSnapshot, Error>) -> Result<Report, Error> {
        let snapshot = match result {
            Ok(snapshot) => snapshot,
            Err(error) if self.settings.from_pid_file => {
                self.cpu.clear();
                return Ok(Report {
                    metrics: metrics::samples(&empty_snapshot(), None),
                    status: Status::Critical,
                    message: format!(
                        "{} ({})",
                        service_check::message(Status::Critical, 0, &self.settings.name),
                        error.message()
                    ),
                });
            }
            Err(error) => {
                return Err(format!("process query failed: {}", error.message()).into());
            }
        };
        if !self.settings.ignore_denied_access {
            metrics::check_denied(&snapshot)?;
        }
        let cpu_pct = self.cpu.update(&snapshot);
        let count = snapshot.processes.len();
        let status = service_check::status(count, self.settings.limits.as_ref());
        Ok(Report {
            metrics: metrics::samples(&snapshot, cpu_pct),
            status,
            message: service_check::message(status, count, &self.settings.name),
        })
    }

    /// The tags of `process.up`: the metric tags plus `process:<name>`.
    pub fn service_check_tags(&self) -> Vec<String> {
        let mut tags = self.settings.tags.clone();
        tags.push(format!("process:{}", self.settings.name));
        tags
    }
}

/// A snapshot with no process, for the metrics of an unreadable pid file.
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

    fn configure(_init_config: InitConfig, config: Config) -> Result<Self, Error> {
        // The init_config cache durations have no effect: every run reads
        // the runner's fresh shared snapshot.
        ProcessCheck::new(config)
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        let result = ctx.processes(&self.settings.query);
        let report = self.evaluate(result)?;
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
        let c = check(json!({
            "name": "nginx", "search_string": ["nginx"], "tags": ["env:prod"]
        }));
        assert_eq!(c.settings().tags, ["process_name:nginx", "env:prod"]);
        assert_eq!(
            c.service_check_tags(),
            ["process_name:nginx", "env:prod", "process:nginx"]
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
    fn unreadable_pid_file_is_critical_not_a_failure() {
        let mut c = check(json!({
            "name": "db", "pid_file": "/run/db.pid",
            // Even bounds that accept 0 do not make a missing file OK.
            "thresholds": {"critical": [0, 5], "warning": [0, 5]},
        }));
        let err = "cannot read pid file /run/db.pid: No such file or directory (os error 2)";
        let report = c.evaluate(Err(err.into())).unwrap();
        assert_eq!(metric(&report, "system.processes.number"), Some(0.0));
        assert_eq!(report.metrics.len(), 1);
        assert_eq!(report.status, Status::Critical);
        assert_eq!(
            report.message,
            "PROCS CRITICAL: 0 processes found for db (cannot read pid file \
             /run/db.pid: No such file or directory (os error 2))"
        );
    }

    #[test]
    fn other_query_errors_fail_the_run() {
        // E.g. the host could not read /proc.
        let mut c = check(json!({
            "name": "x", "search_string": ["x"], "exact_match": false
        }));
        let err = c
            .evaluate(Err("reading the process list failed: EIO".into()))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "process query failed: reading the process list failed: EIO"
        );
    }

    #[test]
    fn denied_access_fails_only_when_not_ignored() {
        let mut denied = process(5);
        denied.io = None;
        denied.denied = vec!["io".into()];
        let snap = snapshot(vec![process(4), denied]);

        let mut lenient = check(json!({"name": "w", "search_string": ["worker"]}));
        let report = lenient.evaluate(Ok(snap.clone())).unwrap();
        assert_eq!(metric(&report, "system.processes.number"), Some(2.0));

        let mut strict = check(json!({
            "name": "w", "search_string": ["worker"], "ignore_denied_access": false
        }));
        let err = strict.evaluate(Ok(snap)).unwrap_err();
        assert_eq!(
            err.message(),
            "access denied to `io` of pid 5 (worker); set \
             `ignore_denied_access: true` to leave unreadable fields out"
        );
    }
}
