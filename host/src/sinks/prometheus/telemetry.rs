//! The runner's own metrics on `/metrics`, read from the status registry
//! at scrape time: per instance (labels `check` and `instance_id`) its
//! runs, failures, skipped runs, run and lag seconds, what it submitted
//! and its sandbox memory; for the process the snapshot refreshes, the
//! configuration and plugin problems of the last load, and reloads.

use super::encode::{Family, Kind};
use super::names::Labels;
use crate::status::{InstanceStatus, StatusReport};

pub(super) fn families(status: &StatusReport) -> Vec<Family> {
    let mut out = Vec::new();
    let per_instance =
        |name: &str, help: &str, kind: Kind, value: fn(&InstanceStatus) -> f64| Family {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            samples: status
                .instances
                .iter()
                .map(|i| (instance_labels(i), value(i)))
                .collect(),
        };
    out.push(per_instance(
        "runner_check_runs",
        "Runs of the check instance since it was scheduled",
        Kind::Counter,
        |i| i.total_runs as f64,
    ));
    out.push(per_instance(
        "runner_check_failures",
        "Runs of the check instance that failed",
        Kind::Counter,
        |i| i.total_errors as f64,
    ));
    out.push(per_instance(
        "runner_check_warnings",
        "Runs of the check instance that logged warnings",
        Kind::Counter,
        |i| i.total_warnings as f64,
    ));
    out.push(per_instance(
        "runner_check_skipped_runs",
        "Runs skipped because the previous run of the instance was still going",
        Kind::Counter,
        |i| i.skipped_runs as f64,
    ));
    out.push(per_instance(
        "runner_check_run_duration_seconds",
        "Time spent running the check instance (divide by runs for the mean)",
        Kind::Counter,
        |i| i.total_execution_seconds,
    ));
    out.push(per_instance(
        "runner_check_last_run_duration_seconds",
        "How long the last run of the check instance took",
        Kind::Gauge,
        |i| i.last_execution_ms / 1000.0,
    ));
    out.push(per_instance(
        "runner_check_scheduling_lag_seconds",
        "Time runs waited between being due and starting (divide by runs for the mean)",
        Kind::Counter,
        |i| i.total_lag_seconds,
    ));
    out.push(per_instance(
        "runner_check_metric_samples",
        "Metric samples the check instance submitted",
        Kind::Counter,
        |i| i.metric_samples.total as f64,
    ));
    out.push(per_instance(
        "runner_check_service_checks",
        "Service checks the check instance submitted",
        Kind::Counter,
        |i| i.service_checks.total as f64,
    ));
    out.push(per_instance(
        "runner_check_events",
        "Events the check instance submitted",
        Kind::Counter,
        |i| i.events.total as f64,
    ));
    out.push(per_instance(
        "runner_check_sandbox_memory_bytes",
        "Bytes the check instance's sandbox held after its last run",
        Kind::Gauge,
        |i| i.memory_bytes as f64,
    ));
    out.push(per_instance(
        "runner_check_last_run_timestamp_seconds",
        "When the last run of the check instance started (Unix seconds)",
        Kind::Gauge,
        |i| i.last_run.unwrap_or(0.0),
    ));
    let single = |name: &str, help: &str, kind: Kind, value: f64| Family {
        name: name.to_string(),
        help: help.to_string(),
        kind,
        samples: vec![(Vec::new(), value)],
    };
    out.push(single(
        "runner_check_instances",
        "Check instances scheduled",
        Kind::Gauge,
        status.instances.len() as f64,
    ));
    out.push(by_check(
        "runner_config_errors",
        "Configuration errors of the configuration in effect (instances left out)",
        status.config_errors.iter().map(|p| p.check.as_deref()),
    ));
    out.push(by_check(
        "runner_plugin_load_errors",
        "Checks that could not be loaded (not found, not a valid plugin)",
        status.loading_errors.iter().map(|p| p.check.as_deref()),
    ));
    out.push(single(
        "runner_config_reloads",
        "Reloads of conf.d and checks.d since start",
        Kind::Counter,
        status.reload.count as f64,
    ));
    out.push(single(
        "runner_config_last_reload_successful",
        "1 when the last reload applied every file, 0 when it kept the last good configuration",
        Kind::Gauge,
        if status.reload.last_ok { 1.0 } else { 0.0 },
    ));
    out.push(single(
        "runner_flushes",
        "Flushes to the sinks since start",
        Kind::Counter,
        status.flushes as f64,
    ));
    out.push(single(
        "runner_snapshot_refreshes",
        "Reads of /proc for the process snapshot",
        Kind::Counter,
        status.snapshots.refreshes as f64,
    ));
    out.push(single(
        "runner_snapshot_refresh_duration_seconds",
        "Time spent reading /proc for process snapshots (divide by refreshes for the mean)",
        Kind::Counter,
        status.snapshots.refresh_seconds,
    ));
    out.push(single(
        "runner_start_time_seconds",
        "When the runner started (Unix seconds)",
        Kind::Gauge,
        status.started_at,
    ));
    out
}

fn instance_labels(status: &InstanceStatus) -> Labels {
    vec![
        ("check".to_string(), status.check.clone()),
        ("instance_id".to_string(), status.id.clone()),
    ]
}

/// A gauge of how many problems each check has (label `check`, empty for
/// problems of no one check).
fn by_check<'a>(name: &str, help: &str, checks: impl Iterator<Item = Option<&'a str>>) -> Family {
    let mut counts: std::collections::BTreeMap<String, f64> = Default::default();
    for check in checks {
        *counts.entry(check.unwrap_or("").to_string()).or_default() += 1.0;
    }
    Family {
        name: name.to_string(),
        help: help.to_string(),
        kind: Kind::Gauge,
        samples: counts
            .into_iter()
            .map(|(check, n)| (vec![("check".to_string(), check)], n))
            .collect(),
    }
}
