//! From what a run submitted to what the runner reports: instance tags,
//! `service:` and host tags are attached, the hostname is filled in (unless
//! `empty_default_hostname`), metrics go through the [`Aggregator`], and
//! service checks and events get Datadog's shape and timestamps.

use serde::Serialize;

use crate::aggregator::{Aggregator, HistogramSpec, MetricType, Sample, Series};
use crate::config::daemon::HistogramAggregate;
use crate::config::{InstanceConfig, MetricPatterns, RunnerConfig};
use crate::sandbox::RunOutcome;
use crate::sandbox::submissions::MetricKind;

/// A service check as Datadog's `check` command prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceCheckOut {
    pub check: String,
    pub host_name: String,
    pub timestamp: i64,
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub status: u8,
    pub message: String,
    pub tags: Vec<String>,
}

impl ServiceCheckOut {
    /// `OK`, `WARNING`, `CRITICAL` or `UNKNOWN`.
    pub fn status_name(&self) -> &'static str {
        status_name(self.status)
    }
}

/// The name of a Datadog service check status code.
pub fn status_name(status: u8) -> &'static str {
    match status {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// An event as Datadog's `check` command prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventOut {
    pub title: String,
    pub text: String,
    pub timestamp: i64,
    pub priority: &'static str,
    pub host: String,
    pub alert_type: &'static str,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation_key: Option<String>,
}

/// What one run amounts to, ready to print or ship.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Collected {
    pub series: Vec<Series>,
    pub service_checks: Vec<ServiceCheckOut>,
    pub events: Vec<EventOut>,
    /// Metadata set during the run, e.g. `version.raw`.
    pub metadata: Vec<(String, String)>,
    /// Metric samples the check submitted (before aggregation).
    pub metric_samples: usize,
    /// Why the run failed: the sandbox's error, else the metric context
    /// cap (`limits.max_contexts`) when samples of new series were
    /// dropped. Escaped, ready to print.
    pub error: Option<String>,
}

/// Tag names Datadog calls generic: with `disable_generic_tags`, a check's
/// tags with these names become `<check>_<name>` (integrations-core's
/// `GENERIC_TAGS`).
const GENERIC_TAGS: &[&str] = &[
    "cluster_name",
    "clustername",
    "cluster",
    "clusterid",
    "cluster_id",
    "env",
    "host_name",
    "hostname",
    "host",
    "service",
    "version",
];

/// Per-instance state between runs: the aggregator, the tags to add and
/// the metric filters — the generic options every check gets, applied here
/// so no check has to implement them.
pub struct Collector {
    aggregator: Aggregator,
    /// `disable_generic_tags`: the check's name, for renaming generic tags.
    degeneralise_for: Option<String>,
    /// Instance tags (already renamed when `disable_generic_tags`).
    instance_tags: Vec<String>,
    /// `service:<service>` and host tags: added by the runner, as the
    /// Agent does, never renamed.
    runner_tags: Vec<String>,
    /// `metric_patterns`.
    patterns: MetricPatterns,
    /// None with `empty_default_hostname`.
    hostname: Option<String>,
    /// The runner's host name, for its own `runner.check_status`.
    runner_hostname: String,
    interval_secs: u64,
}

/// The service check the runner sends after every run, like the Agent's
/// `datadog.agent.check_status`.
pub const CHECK_STATUS: &str = "runner.check_status";

/// Most characters of a `runner.check_status` message.
const MAX_STATUS_MESSAGE: usize = 500;

/// Which series histograms send, from runner.yaml's
/// `histogram_aggregates` and `histogram_percentiles`.
pub fn histogram_spec(runner: &RunnerConfig) -> HistogramSpec {
    let has = |a: HistogramAggregate| runner.histogram_aggregates.contains(&a);
    HistogramSpec {
        max: has(HistogramAggregate::Max),
        min: has(HistogramAggregate::Min),
        median: has(HistogramAggregate::Median),
        avg: has(HistogramAggregate::Avg),
        sum: has(HistogramAggregate::Sum),
        count: has(HistogramAggregate::Count),
        percentiles: runner.histogram_percentiles.clone(),
    }
}

impl Collector {
    pub fn new(instance: &InstanceConfig, hostname: &str, host_tags: &[String]) -> Self {
        let degeneralise_for = instance
            .disable_generic_tags
            .then(|| instance.check.clone());
        let instance_tags = instance
            .tags
            .iter()
            .map(|t| degeneralise(degeneralise_for.as_deref(), t))
            .collect();
        let mut runner_tags = Vec::new();
        if let Some(service) = &instance.service {
            runner_tags.push(format!("service:{service}"));
        }
        runner_tags.extend(host_tags.iter().cloned());
        Self {
            aggregator: Aggregator::new().with_max_contexts(instance.limits.max_contexts),
            degeneralise_for,
            instance_tags,
            runner_tags,
            patterns: instance.metric_patterns.clone(),
            hostname: (!instance.empty_default_hostname).then(|| hostname.to_string()),
            runner_hostname: hostname.to_string(),
            interval_secs: instance.interval.as_secs().max(1),
        }
    }

    /// Aggregate one run's submissions (also those of a failed run: they
    /// were valid when submitted) and flush.
    pub fn collect(&mut self, outcome: &RunOutcome) -> Collected {
        let timestamp = unix_seconds(outcome.started_at);
        let submissions = &outcome.submissions;
        // As in the Agent, filtered metrics never reach the aggregator
        // and are not counted as samples.
        let mut metric_samples = 0;
        for metric in &submissions.metrics {
            if !self.patterns.allows(&metric.name) {
                continue;
            }
            metric_samples += 1;
            self.aggregator.add(Sample {
                name: metric.name.clone(),
                kind: metric_type(metric.kind),
                value: metric.value,
                tags: self.tags(&metric.tags),
                hostname: self.host(&metric.hostname),
                timestamp,
            });
        }
        let service_checks = submissions
            .service_checks
            .iter()
            .map(|sc| ServiceCheckOut {
                check: sc.name.clone(),
                host_name: self.host(&sc.hostname).unwrap_or_default(),
                timestamp: timestamp as i64,
                status: sc.status.code(),
                message: sc.message.clone(),
                tags: sorted(self.tags(&sc.tags)),
            })
            .collect();
        let events = submissions
            .events
            .iter()
            .map(|event| EventOut {
                title: event.title.clone(),
                text: event.text.clone(),
                timestamp: event.timestamp.unwrap_or(timestamp as i64),
                priority: event.priority.as_str(),
                host: self.host(&event.hostname).unwrap_or_default(),
                alert_type: event.alert_type.as_str(),
                tags: sorted(self.tags(&event.tags)),
                aggregation_key: event.aggregation_key.clone(),
            })
            .collect();
        let series = self.aggregator.flush(timestamp, self.interval_secs);
        let error = match &outcome.result {
            Err(error) => Some(error.to_string()),
            Ok(()) => self
                .aggregator
                .context_limit_hit()
                .map(|hit| hit.to_string()),
        };
        Collected {
            series,
            service_checks,
            events,
            metadata: submissions.metadata.clone(),
            metric_samples,
            error: error.map(|e| crate::escape::for_terminal(&e).into_owned()),
        }
    }

    /// Histograms send `spec`'s series instead of Datadog's defaults.
    pub fn with_histograms(mut self, spec: HistogramSpec) -> Self {
        self.aggregator = std::mem::take(&mut self.aggregator).with_histograms(spec);
        self
    }

    /// `runner.check_status` for a run: CRITICAL when it failed (the error
    /// as message), WARNING when the check logged warnings (the first as
    /// message), OK otherwise; tagged `check:<name>` and sent with the
    /// runner's host name, as the Agent sends `datadog.agent.check_status`
    /// (whose message is always empty).
    pub fn check_status(
        &self,
        check: &str,
        collected: &Collected,
        warnings: &[String],
        timestamp: f64,
    ) -> ServiceCheckOut {
        let (status, message) = match (&collected.error, warnings.first()) {
            (Some(error), _) => (2, error.as_str()),
            (None, Some(warning)) => (1, warning.as_str()),
            (None, None) => (0, ""),
        };
        ServiceCheckOut {
            check: CHECK_STATUS.to_string(),
            host_name: self.runner_hostname.clone(),
            timestamp: timestamp as i64,
            status,
            message: crate::escape::truncate_chars(message, MAX_STATUS_MESSAGE),
            tags: vec![format!("check:{check}")],
        }
    }

    /// True when a rate or monotonic_count still waits for its second
    /// sample: `runner check` then suggests `--check-rate`.
    pub fn awaiting_second_sample(&self) -> bool {
        self.aggregator.awaiting_second_sample()
    }

    fn tags(&self, own: &[String]) -> Vec<String> {
        own.iter()
            .map(|t| degeneralise(self.degeneralise_for.as_deref(), t))
            .chain(self.instance_tags.iter().cloned())
            .chain(self.runner_tags.iter().cloned())
            .collect()
    }

    /// A sample's own hostname wins (an empty one means none); otherwise
    /// the runner's, unless the instance asked for none.
    fn host(&self, own: &Option<String>) -> Option<String> {
        match own {
            Some(host) if host.is_empty() => None,
            Some(host) => Some(host.clone()),
            None => self.hostname.clone(),
        }
    }
}

/// `host:x` → `<check>_host:x` for a generic tag name, when renaming is on.
fn degeneralise(check: Option<&str>, tag: &str) -> String {
    let Some(check) = check else {
        return tag.to_string();
    };
    let (name, value) = match tag.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => (tag, None),
    };
    if !GENERIC_TAGS.contains(&name) {
        return tag.to_string();
    }
    match value {
        Some(value) => format!("{check}_{name}:{value}"),
        None => format!("{check}_{name}"),
    }
}

fn sorted(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags.dedup();
    tags
}

fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Gauge => MetricType::Gauge,
        MetricKind::Count => MetricType::Count,
        MetricKind::MonotonicCount => MetricType::MonotonicCount,
        MetricKind::Rate => MetricType::Rate,
        MetricKind::Histogram => MetricType::Histogram,
    }
}

pub(crate) fn unix_seconds(time: std::time::SystemTime) -> f64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
