//! `runner check --json` in the Datadog Agent's shape, so tools that parse
//! `agent check --json` read ours unchanged: a JSON array with one object
//! per instance,
//!
//! ```text
//! [{"aggregator": {"metrics": [...], "service_checks": [...], "events": [...]},
//!   "runner": {<the Agent's check stats: CheckID, TotalRuns, LastError, ...>},
//!   "inventories": {"<instance id>": {<check metadata>}},
//!   "sandbox": {"plugin": ..., "output": ..., "network_denied": {"count": ..., "targets": [...]}}}]
//! ```
//!
//! Field names and types follow the Agent's Go structs (metrics.Serie,
//! servicecheck.ServiceCheck, event.Event, stats.Stats). Empty aggregator
//! lists are left out, as the Agent leaves them out. `sandbox` is the
//! runner's own addition: a key the Agent's parsers ignore.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::aggregator::{Series, SeriesType};
use crate::collector::{EventOut, ServiceCheckOut};

/// The Agent's check sampler tags every check series with this source.
const CHECK_SOURCE_TYPE: &str = "System";

/// How many run durations the Agent keeps (its `ExecutionTimes` ring).
const EXECUTION_TIMES: usize = 32;

/// One element of the `--json` array.
#[derive(Debug, Serialize)]
pub struct InstanceJson {
    pub aggregator: AggregatorJson,
    pub runner: Stats,
    pub inventories: BTreeMap<String, BTreeMap<String, String>>,
    pub sandbox: SandboxJson,
}

/// What the instance submitted, as the Agent's aggregator prints it.
#[derive(Debug, Default, Serialize)]
pub struct AggregatorJson {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<SerieJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_checks: Vec<ServiceCheckOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventJson>,
}

/// The runner's own facts about the instance.
#[derive(Debug, Serialize)]
pub struct SandboxJson {
    /// Where the plugin came from: `bundled` or a file path.
    pub plugin: String,
    /// The guest's stdout/stderr of the last run (empty if none).
    pub output: String,
    /// Network access the runner denied, over all runs.
    pub network_denied: DenialsJson,
}

/// Denied network access: how many attempts, and the first targets.
#[derive(Debug, Default, Serialize)]
pub struct DenialsJson {
    pub count: u64,
    /// e.g. `TCP connect 127.0.0.1:9`, `HTTP http://example.com:80`.
    pub targets: Vec<String>,
}

/// `metrics.Serie`: integer timestamps in points, `interval` 0 and the
/// `System` source type, as check series come out of the Agent.
#[derive(Debug, Serialize)]
pub struct SerieJson {
    pub metric: String,
    pub points: Vec<(i64, f64)>,
    pub tags: Vec<String>,
    pub host: String,
    #[serde(rename = "type")]
    pub kind: SeriesType,
    pub interval: u64,
    pub source_type_name: &'static str,
}

impl From<&Series> for SerieJson {
    fn from(s: &Series) -> Self {
        Self {
            metric: s.metric.clone(),
            // Go's int64(p.Ts): truncation.
            points: s.points.iter().map(|(ts, v)| (*ts as i64, *v)).collect(),
            tags: s.tags.clone(),
            host: s.host.clone(),
            kind: s.kind,
            interval: 0,
            source_type_name: CHECK_SOURCE_TYPE,
        }
    }
}

/// `event.Event`, with its `msg_title` / `msg_text` names and omitempty
/// fields.
#[derive(Debug, Serialize)]
pub struct EventJson {
    pub msg_title: String,
    pub msg_text: String,
    pub timestamp: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub priority: &'static str,
    pub host: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub alert_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregation_key: Option<String>,
}

impl From<&EventOut> for EventJson {
    fn from(e: &EventOut) -> Self {
        Self {
            msg_title: e.title.clone(),
            msg_text: e.text.clone(),
            timestamp: e.timestamp,
            priority: e.priority,
            host: e.host.clone(),
            tags: e.tags.clone(),
            alert_type: e.alert_type,
            aggregation_key: e.aggregation_key.clone().filter(|k| !k.is_empty()),
        }
    }
}

/// The Agent's `stats.Stats` for one instance, field for field (Go names,
/// durations in the Agent's units: `Interval` in nanoseconds, execution
/// times in milliseconds, dates in Unix seconds).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stats {
    pub check_name: String,
    pub check_version: String,
    pub check_config_source: String,
    pub check_loader: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub interval: u128,
    pub long_running: bool,
    pub cancelling: bool,
    pub total_runs: u64,
    pub total_errors: u64,
    pub total_warnings: u64,
    pub metric_samples: i64,
    pub events: i64,
    pub service_checks: i64,
    pub histogram_buckets: i64,
    pub total_metric_samples: u64,
    pub total_events: u64,
    pub total_service_checks: u64,
    pub total_histogram_buckets: u64,
    pub event_platform_events: BTreeMap<String, i64>,
    pub total_event_platform_events: BTreeMap<String, i64>,
    pub execution_times: [i64; EXECUTION_TIMES],
    pub average_execution_time: i64,
    pub last_execution_time: i64,
    pub last_success_date: i64,
    pub last_error: String,
    pub last_delay: i64,
    pub last_warnings: Vec<String>,
    pub update_timestamp: i64,
    pub telemetry: bool,
}

/// What the stats need to know about a check instance.
pub struct StatsSource<'a> {
    pub check: &'a str,
    pub id: &'a str,
    pub version: &'a str,
    pub config_source: String,
    pub interval: Duration,
    /// `python` for a Python check (the Agent's loader name), else `wasm`.
    pub loader: &'static str,
}

/// One run's counts, as the Agent's sender reports them.
pub struct RunCounts {
    pub duration: Duration,
    pub error: Option<String>,
    pub metric_samples: usize,
    pub service_checks: usize,
    pub events: usize,
    /// What the check warned about during the run (its warn-level log
    /// lines, e.g. `AgentCheck.warning`).
    pub warnings: Vec<String>,
}

impl Stats {
    pub fn new(source: StatsSource<'_>) -> Self {
        Self {
            check_name: source.check.to_string(),
            check_version: source.version.to_string(),
            check_config_source: source.config_source,
            check_loader: source.loader.to_string(),
            check_id: source.id.to_string(),
            interval: source.interval.as_nanos(),
            long_running: false,
            cancelling: false,
            total_runs: 0,
            total_errors: 0,
            total_warnings: 0,
            metric_samples: 0,
            events: 0,
            service_checks: 0,
            histogram_buckets: 0,
            total_metric_samples: 0,
            total_events: 0,
            total_service_checks: 0,
            total_histogram_buckets: 0,
            event_platform_events: BTreeMap::new(),
            total_event_platform_events: BTreeMap::new(),
            execution_times: [0; EXECUTION_TIMES],
            average_execution_time: 0,
            last_execution_time: 0,
            last_success_date: 0,
            last_error: String::new(),
            last_delay: 0,
            last_warnings: Vec::new(),
            update_timestamp: 0,
            telemetry: false,
        }
    }

    /// Records a run the way the Agent's `Stats.Add` does: last-run counts
    /// only change when non-zero, the average covers the last 32 runs.
    pub fn add(&mut self, run: &RunCounts) {
        self.add_at(run, unix_now());
    }

    fn add_at(&mut self, run: &RunCounts, now: i64) {
        let ms = i64::try_from(run.duration.as_millis()).unwrap_or(i64::MAX);
        self.last_execution_time = ms;
        self.execution_times[(self.total_runs % EXECUTION_TIMES as u64) as usize] = ms;
        self.total_runs += 1;
        let ring = (self.total_runs as usize).min(EXECUTION_TIMES);
        self.average_execution_time =
            self.execution_times[..ring].iter().sum::<i64>() / ring as i64;
        match &run.error {
            Some(error) => {
                self.total_errors += 1;
                self.last_error = error.clone();
            }
            None => {
                self.last_error.clear();
                self.last_success_date = now;
            }
        }
        self.total_warnings += run.warnings.len() as u64;
        self.last_warnings = run.warnings.clone();
        self.update_timestamp = now;
        if run.metric_samples > 0 {
            self.metric_samples = run.metric_samples as i64;
            self.total_metric_samples += run.metric_samples as u64;
        }
        if run.events > 0 {
            self.events = run.events as i64;
            self.total_events += run.events as u64;
        }
        if run.service_checks > 0 {
            self.service_checks = run.service_checks as i64;
            self.total_service_checks += run.service_checks as u64;
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counts(ms: u64, error: Option<&str>, samples: usize) -> RunCounts {
        RunCounts {
            duration: Duration::from_millis(ms),
            error: error.map(str::to_string),
            metric_samples: samples,
            service_checks: 0,
            events: 0,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn stats_follow_the_agents_add() {
        let mut stats = Stats::new(StatsSource {
            check: "process",
            id: "process:abc",
            version: "0.1.0",
            config_source: "file:/etc/conf.d/process.yaml".to_string(),
            interval: Duration::from_secs(15),
            loader: "wasm",
        });
        stats.add_at(&counts(10, None, 5), 100);
        stats.add_at(&counts(20, Some("boom"), 0), 200);
        let v = serde_json::to_value(&stats).unwrap();
        assert_eq!(v["CheckID"], "process:abc");
        assert_eq!(v["CheckName"], "process");
        assert_eq!(v["CheckLoader"], "wasm");
        assert_eq!(v["Interval"], 15_000_000_000u64);
        assert_eq!(v["TotalRuns"], 2);
        assert_eq!(v["TotalErrors"], 1);
        assert_eq!(v["LastError"], "boom");
        assert_eq!(v["LastExecutionTime"], 20);
        assert_eq!(v["AverageExecutionTime"], 15);
        assert_eq!(v["ExecutionTimes"][0], 10);
        assert_eq!(v["ExecutionTimes"][1], 20);
        assert_eq!(v["ExecutionTimes"].as_array().unwrap().len(), 32);
        // A run without samples keeps the last non-zero count.
        assert_eq!(v["MetricSamples"], 5);
        assert_eq!(v["TotalMetricSamples"], 5);
        assert_eq!(v["LastSuccessDate"], 100);
        assert_eq!(v["UpdateTimestamp"], 200);
        assert_eq!(v["LastWarnings"], json!([]));
        assert_eq!(v["EventPlatformEvents"], json!({}));
    }

    #[test]
    fn series_and_events_use_the_agents_field_names() {
        let serie = SerieJson::from(&Series {
            metric: "m".into(),
            points: vec![(1700000000.9, 2.5)],
            tags: vec!["a:b".into()],
            host: "h".into(),
            kind: SeriesType::Gauge,
            interval: 15,
        });
        assert_eq!(
            serde_json::to_value(&serie).unwrap(),
            json!({"metric": "m", "points": [[1700000000, 2.5]], "tags": ["a:b"],
                   "host": "h", "type": "gauge", "interval": 0, "source_type_name": "System"})
        );
        let event = EventJson::from(&EventOut {
            title: "T".into(),
            text: "body".into(),
            timestamp: 5,
            priority: "normal",
            host: "h".into(),
            alert_type: "info",
            tags: vec![],
            aggregation_key: None,
        });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"msg_title": "T", "msg_text": "body", "timestamp": 5,
                   "priority": "normal", "host": "h", "alert_type": "info"})
        );
        // Empty aggregator lists are left out, as the Agent does.
        assert_eq!(
            serde_json::to_value(AggregatorJson::default()).unwrap(),
            json!({})
        );
    }
}
