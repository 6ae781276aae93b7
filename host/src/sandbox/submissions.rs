//! What a run hands over, in the runner's own types: the capabilities
//! convert the guest's generated types into these at the boundary, so
//! nothing generated from the WIT leaves the sandbox.

/// How the aggregator combines the samples of one metric context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    Count,
    MonotonicCount,
    Rate,
    Histogram,
}

/// One metric sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub value: f64,
    pub tags: Vec<String>,
    /// `None`: the runner's hostname.
    pub hostname: Option<String>,
}

/// Service check status (Datadog's 0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// Datadog's numeric code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCheck {
    pub name: String,
    pub status: Status,
    pub message: String,
    pub tags: Vec<String>,
    pub hostname: Option<String>,
}

/// Event priority, as Datadog spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPriority {
    Normal,
    Low,
}

impl EventPriority {
    pub fn as_str(self) -> &'static str {
        match self {
            EventPriority::Normal => "normal",
            EventPriority::Low => "low",
        }
    }
}

/// Event alert type, as Datadog spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertType {
    Info,
    Warning,
    Error,
    Success,
}

impl AlertType {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Info => "info",
            AlertType::Warning => "warning",
            AlertType::Error => "error",
            AlertType::Success => "success",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub title: String,
    pub text: String,
    /// Unix seconds; `None`: the start of the run.
    pub timestamp: Option<i64>,
    pub priority: EventPriority,
    pub alert_type: AlertType,
    pub tags: Vec<String>,
    pub aggregation_key: Option<String>,
    pub hostname: Option<String>,
}

/// Everything one run submitted, in submission order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Submissions {
    pub metrics: Vec<Metric>,
    pub service_checks: Vec<ServiceCheck>,
    pub events: Vec<Event>,
    /// Later values for a key replace earlier ones.
    pub metadata: Vec<(String, String)>,
}

/// What a check says about itself (its `info` export).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// JSON Schema of one instance.
    pub instance_schema: String,
    /// JSON Schema of `init_config`; empty when it takes none.
    pub init_config_schema: String,
    /// Where an instance's configuration names network endpoints.
    pub endpoint_keys: Vec<EndpointKey>,
    /// Instance keys naming files the check asks the host to read.
    pub file_keys: Vec<String>,
}

/// Where an instance's configuration names a network endpoint (the
/// WIT's `endpoint-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKey {
    /// A key whose value is an `http://` or `https://` URL.
    Url(String),
    /// A host key and a port key, with the check's defaults.
    HostPort {
        host: String,
        port: String,
        default_host: Option<String>,
        default_port: Option<u16>,
    },
}

/// Bytes a string list costs the host: its text plus a small per-item
/// overhead, so a million empty tags are not free.
pub(crate) fn strings_bytes<'a>(items: impl IntoIterator<Item = &'a String>) -> usize {
    items.into_iter().map(|s| s.len() + ITEM_OVERHEAD).sum()
}

/// What each string or list item costs beyond its bytes (a `String`'s
/// pointer, length and capacity).
pub(crate) const ITEM_OVERHEAD: usize = 24;
