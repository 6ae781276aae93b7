//! What a check uses during `run`: submission helpers that batch across
//! the sandbox boundary, logging, metadata and the process query.

use std::fmt;

use crate::bindings::runner::check::connections::{self, Connection, ConnectionQuery};
use crate::bindings::runner::check::log::Level as LogLevel;
use crate::bindings::runner::check::metrics::{self, Metric, MetricType};
use crate::bindings::runner::check::processes::{self, ProcessQuery, ProcessSnapshot};
use crate::bindings::runner::check::reporting::{
    self, AlertType, Event, EventPriority, ServiceCheck, Status,
};

/// Metrics are handed to the runner in batches of this size (and at the
/// end of the run): one boundary crossing per batch, and a check that
/// floods metrics hits the runner's per-run cap early instead of growing
/// its own memory first.
const METRIC_BATCH: usize = 1000;

/// Log levels for [`Context::log`].
pub use crate::bindings::runner::check::log::Level;

/// Why [`Context::processes`] returned no snapshot. Each case carries the
/// runner's message, which is also its `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// An invalid regular expression, or more or longer patterns than the
    /// runner accepts.
    InvalidQuery(String),
    /// The pid file is not among the paths the instance's configuration
    /// names under [`Check::FILE_KEYS`](crate::Check::FILE_KEYS).
    PidFileNotGranted(String),
    /// The granted pid file is missing, not a regular file, or unreadable.
    PidFileUnreadable(String),
    /// The granted pid file does not start with a pid.
    PidFileWithoutPid(String),
    /// The runner could not read its process list.
    SnapshotUnavailable(String),
}

impl QueryError {
    /// The runner's message.
    pub fn message(&self) -> &str {
        match self {
            QueryError::InvalidQuery(m)
            | QueryError::PidFileNotGranted(m)
            | QueryError::PidFileUnreadable(m)
            | QueryError::PidFileWithoutPid(m)
            | QueryError::SnapshotUnavailable(m) => m,
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl From<processes::QueryError> for QueryError {
    fn from(error: processes::QueryError) -> Self {
        use processes::QueryError as E;
        match error {
            E::InvalidQuery(m) => QueryError::InvalidQuery(m),
            E::PidFileNotGranted(m) => QueryError::PidFileNotGranted(m),
            E::PidFileUnreadable(m) => QueryError::PidFileUnreadable(m),
            E::PidFileWithoutPid(m) => QueryError::PidFileWithoutPid(m),
            E::SnapshotUnavailable(m) => QueryError::SnapshotUnavailable(m),
        }
    }
}

/// Why [`Context::connections`] returned no sockets. Each case carries
/// the runner's message, which is also its `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionError {
    /// More pids or states than the runner accepts.
    InvalidQuery(String),
    /// The runner could not read its sockets.
    Unavailable(String),
}

impl ConnectionError {
    /// The runner's message.
    pub fn message(&self) -> &str {
        match self {
            ConnectionError::InvalidQuery(m) | ConnectionError::Unavailable(m) => m,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl From<connections::ConnectionError> for ConnectionError {
    fn from(error: connections::ConnectionError) -> Self {
        use connections::ConnectionError as E;
        match error {
            E::InvalidQuery(m) => ConnectionError::InvalidQuery(m),
            E::Unavailable(m) => ConnectionError::Unavailable(m),
        }
    }
}

/// The handle a check submits through. Submissions are buffered and sent
/// in batches; the SDK flushes whatever is left when `run` returns, even
/// when it returns an error.
#[derive(Default)]
pub struct Context {
    metrics: Vec<Metric>,
    service_checks: Vec<ServiceCheck>,
    events: Vec<Event>,
    metadata: Vec<(String, String)>,
}

impl Context {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Submit a gauge: the last value of the run wins.
    pub fn gauge(&mut self, name: &str, value: f64, tags: &[String]) {
        self.metric(name, MetricType::Gauge, value, tags);
    }

    /// Submit a count: values are summed over the flush.
    pub fn count(&mut self, name: &str, value: f64, tags: &[String]) {
        self.metric(name, MetricType::Count, value, tags);
    }

    /// Submit the current value of an ever-increasing counter; the runner
    /// sends the increase since the previous sample (resets are ignored).
    pub fn monotonic_count(&mut self, name: &str, value: f64, tags: &[String]) {
        self.metric(name, MetricType::MonotonicCount, value, tags);
    }

    /// Submit the current value of a counter; the runner sends its
    /// per-second rate between two runs (nothing on the first run).
    pub fn rate(&mut self, name: &str, value: f64, tags: &[String]) {
        self.metric(name, MetricType::Rate, value, tags);
    }

    /// Submit one value of a distribution; the runner sends max, median,
    /// avg, count and 95th percentile of the values of a flush.
    pub fn histogram(&mut self, name: &str, value: f64, tags: &[String]) {
        self.metric(name, MetricType::Histogram, value, tags);
    }

    /// Submit a metric of any type, optionally for another hostname.
    pub fn submit(&mut self, metric: Metric) {
        self.metrics.push(metric);
        if self.metrics.len() >= METRIC_BATCH {
            metrics::submit_metrics(&std::mem::take(&mut self.metrics));
        }
    }

    fn metric(&mut self, name: &str, kind: MetricType, value: f64, tags: &[String]) {
        self.submit(Metric {
            name: name.to_string(),
            kind,
            value,
            tags: tags.to_vec(),
            hostname: None,
        });
    }

    /// Report the state of something the check watches.
    pub fn service_check(&mut self, name: &str, status: Status, tags: &[String], message: &str) {
        self.service_checks.push(ServiceCheck {
            name: name.to_string(),
            status,
            message: message.to_string(),
            tags: tags.to_vec(),
            hostname: None,
        });
    }

    /// Submit an event (a title and a text, e.g. "config reloaded").
    pub fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Shorthand for an info event with normal priority, timestamped now.
    pub fn info_event(&mut self, title: &str, text: &str, tags: &[String]) {
        self.event(Event {
            title: title.to_string(),
            text: text.to_string(),
            timestamp: None,
            priority: EventPriority::Normal,
            alert_type: AlertType::Info,
            tags: tags.to_vec(),
            aggregation_key: None,
            hostname: None,
        });
    }

    /// Set a metadata entry, e.g. `("config.mode", "standby")`.
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.push((key.to_string(), value.to_string()));
    }

    /// Set the monitored software's version the way Datadog does:
    /// `version.raw`, and when it parses as semver `version.scheme`,
    /// `version.major`, `version.minor`, `version.patch` (and
    /// `version.release` / `version.build` when present).
    pub fn set_version(&mut self, raw: &str) {
        for (key, value) in crate::version::metadata(raw) {
            self.set_metadata(&key, &value);
        }
    }

    /// Write a log line attributed to this instance.
    pub fn log(&self, level: Level, message: &str) {
        crate::log(level, message);
    }

    /// Log at debug level.
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message);
    }

    /// Log at info level.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Log at warn level.
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// The hostname the runner reports samples under.
    pub fn hostname(&self) -> String {
        metrics::hostname()
    }

    /// Ask the runner for the processes matching `query`. Filtering happens
    /// on the host, within the run's time limit; all instances of a tick
    /// share one /proc snapshot. Rows carry only the optional fields
    /// `query.fields` asks for.
    pub fn processes(&self, query: &ProcessQuery) -> Result<ProcessSnapshot, QueryError> {
        processes::query_processes(query).map_err(QueryError::from)
    }

    /// Ask the runner for the TCP and UDP sockets matching `query` (e.g.
    /// those of the pids a [`processes`](Self::processes) query found).
    /// Filtering happens on the host; all instances of a tick share one
    /// read of the host's sockets.
    pub fn connections(&self, query: &ConnectionQuery) -> Result<Vec<Connection>, ConnectionError> {
        connections::query_connections(query).map_err(ConnectionError::from)
    }

    /// Hand everything buffered to the runner: one call per kind.
    pub(crate) fn flush(&mut self) {
        if !self.metrics.is_empty() {
            metrics::submit_metrics(&std::mem::take(&mut self.metrics));
        }
        if !self.service_checks.is_empty() {
            reporting::submit_service_checks(&std::mem::take(&mut self.service_checks));
        }
        if !self.events.is_empty() {
            reporting::submit_events(&std::mem::take(&mut self.events));
        }
        if !self.metadata.is_empty() {
            reporting::set_metadata(&std::mem::take(&mut self.metadata));
        }
    }
}
