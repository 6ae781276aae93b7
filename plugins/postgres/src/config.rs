//! One instance of the postgres check, as written in
//! `conf.d/postgres.d/conf.yaml` (Datadog's keys and defaults), and its
//! validation into [`Settings`].

use std::time::Duration;

use runner_sdk::serde_json::Value;
use schemars::JsonSchema;
use serde::Deserialize;

/// The databases Datadog skips by default (`ignore_databases`).
pub const DEFAULT_IGNORE_DATABASES: &[&str] = &[
    "template0",
    "template1",
    "rdsadmin",
    "azure_maintenance",
    "cloudsqladmin",
    "alloydbadmin",
    "alloydbmetadata",
];

/// Column types of `custom_queries` that submit a metric.
const METRIC_TYPES: &[&str] = &[
    "gauge",
    "count",
    "monotonic_count",
    "rate",
    "histogram",
    "monotonic_gauge",
];
/// Column types that make tags, or are only read by other columns.
const TAG_TYPES: &[&str] = &["tag", "tag_list", "tag_not_null", "source"];
/// Datadog column types this check does not implement yet.
const UNSUPPORTED_TYPES: &[&str] = &[
    "historate",
    "temporal_percent",
    "time_elapsed",
    "match",
    "service_check",
];

fn default_query_timeout() -> u64 {
    5000
}
fn default_true() -> bool {
    true
}
fn default_ignore_databases() -> Vec<String> {
    DEFAULT_IGNORE_DATABASES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A port: a number, or a string holding one (as Datadog accepts).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Port {
    Number(u16),
    Text(String),
}

/// `ssl`: one of libpq's modes, or a YAML boolean (Datadog treats values
/// that are not a mode as `allow`, with a warning).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SslValue {
    Mode(String),
    Flag(bool),
}

/// `use_global_custom_queries`: `true`, `false` or `extend`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UseGlobal {
    Flag(bool),
    Text(String),
}

/// One of `custom_queries`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct CustomQuery {
    /// The SQL to run (the simple query protocol: several statements are
    /// allowed; the rows of the last one that returns rows are used).
    pub query: String,
    /// One entry per column the query returns, left to right: `name` and
    /// `type` (`gauge`, `rate`, `monotonic_count`, `count`, `histogram`,
    /// `monotonic_gauge`, or `tag`, `tag_list`, `tag_not_null`, `source`).
    /// `{}` skips a column.
    pub columns: Vec<Option<Column>>,
    /// Tags added to every metric of this query.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Metric names become `<metric_prefix>.<column name>` instead of
    /// `postgresql.<column name>`.
    #[serde(default)]
    pub metric_prefix: Option<String>,
    /// Run this query at most once per this many seconds (default: every
    /// run).
    #[serde(default)]
    pub collection_interval: Option<f64>,
    /// A name for this query in logs (default `custom query #<n>`).
    #[serde(default)]
    pub name: Option<String>,
}

/// One column of a custom query.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
pub struct Column {
    /// The metric name (after the prefix), or the tag name.
    #[serde(default)]
    pub name: Option<String>,
    /// How the column is submitted (see `columns`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// For `tag`: turn the value into `true` / `false`.
    #[serde(default)]
    pub boolean: Option<bool>,
}

/// `init_config` of `postgres.d/conf.yaml`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct InitConfig {
    /// Custom queries shared by the instances of the file; see
    /// `use_global_custom_queries`.
    #[serde(default)]
    pub global_custom_queries: Option<Vec<CustomQuery>>,
    /// Datadog: add the Agent's host tags to every metric. No effect here:
    /// the runner adds its own `tags` from runner.yaml.
    #[serde(default)]
    pub propagate_agent_tags: Option<bool>,
}

/// One PostgreSQL server (and database) to monitor. Keys and defaults
/// follow Datadog's postgres integration. (`tags`, `service`,
/// `min_collection_interval` and the other keys every check has are the
/// runner's.)
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Config {
    /// Host name or IP address of the server (TCP only: a Unix socket
    /// directory is not supported).
    #[serde(default)]
    pub host: Option<String>,
    /// TCP port of the server (default 5432); a number or a numeric string.
    #[serde(default)]
    pub port: Option<Port>,
    /// The user to connect as.
    pub username: String,
    /// The user's password (cleartext, md5 and SCRAM-SHA-256 are
    /// supported).
    #[serde(default)]
    pub password: Option<String>,
    /// The database to connect to; `table.count`, custom queries and the
    /// service check are about it, per-database metrics cover every
    /// database of the server.
    #[serde(default)]
    pub dbname: Option<String>,
    /// libpq's `sslmode`. `disable`, `allow` (the default) and `prefer`
    /// connect without TLS; `require`, `verify-ca` and `verify-full` are a
    /// configuration error: TLS to Postgres is not supported yet.
    #[serde(default)]
    pub ssl: Option<SslValue>,
    /// Milliseconds a query may run: sent as `statement_timeout` at
    /// connect; 0 turns it off. Waits for the server are bounded by this
    /// plus one second (30 s when 0).
    #[serde(default = "default_query_timeout")]
    pub query_timeout: u64,
    /// The `application_name` of the session (ASCII).
    #[serde(default)]
    pub application_name: Option<String>,
    /// Do not send the `server:<host>` tag (redundant with the host).
    #[serde(default)]
    pub disable_generic_tags: bool,
    /// Send `postgresql.database_size` per database.
    #[serde(default = "default_true")]
    pub collect_database_size_metrics: bool,
    /// Send `postgresql.table.count` per schema of `dbname`.
    #[serde(default = "default_true")]
    pub collect_count_metrics: bool,
    /// Send transaction and query counts from `pg_stat_activity` per
    /// database, user and application.
    #[serde(default)]
    pub collect_activity_metrics: bool,
    /// Send `postgresql.checksums.*` (PostgreSQL 12 and later).
    #[serde(default)]
    pub collect_checksum_metrics: bool,
    /// Include the `postgres` database even if `ignore_databases` lists it.
    #[serde(default = "default_true")]
    pub collect_default_database: bool,
    /// Databases left out of per-database metrics: names or SQL `ILIKE`
    /// patterns (`template%`).
    #[serde(default)]
    pub ignore_databases: Option<Vec<String>>,
    /// Only report per-database metrics for `dbname`.
    #[serde(default)]
    pub dbstrict: bool,
    /// Tag every metric with `replication_role:master` or `:standby`.
    #[serde(default)]
    pub tag_replication_role: bool,
    /// Columns left out of the `pg_stat_activity` grouping
    /// (`application_name`, `usename`; `datname` is always kept).
    #[serde(default)]
    pub activity_metrics_excluded_aggregations: Option<Vec<String>>,
    /// Queries whose columns become metrics and tags.
    #[serde(default)]
    pub custom_queries: Option<Vec<CustomQuery>>,
    /// Only run `custom_queries` (no built-in metrics).
    #[serde(default)]
    pub only_custom_queries: bool,
    /// How `init_config.global_custom_queries` apply: `true` (when the
    /// instance has no `custom_queries`), `false`, or `extend`.
    #[serde(default)]
    pub use_global_custom_queries: Option<UseGlobal>,
    /// Send the metrics under this host name instead.
    #[serde(default)]
    pub reported_hostname: Option<String>,
    /// Send the metrics under the runner's host name even for a remote
    /// `host`.
    #[serde(default)]
    pub exclude_hostname: bool,

    /// Per-relation metrics (tables, indexes, locks, bloat): accepted, not
    /// collected yet (a warning says so).
    #[serde(default)]
    pub relations: Option<Vec<Value>>,
    /// Datadog: the most relations to report. No effect yet.
    #[serde(default)]
    pub max_relations: Option<Value>,
    /// Datadog: bloat metrics of `relations`. Not collected yet.
    #[serde(default)]
    pub collect_bloat_metrics: Option<bool>,
    /// Datadog: metrics of `pg_stat_user_functions`. Not collected yet.
    #[serde(default)]
    pub collect_function_metrics: Option<bool>,
    /// Datadog: metrics of `pg_buffercache`. Not collected yet.
    #[serde(default)]
    pub collect_buffercache_metrics: Option<bool>,
    /// Datadog: WAL file metrics. Not collected yet.
    #[serde(default)]
    pub collect_wal_metrics: Option<bool>,
    /// Datadog: the deprecated form of `custom_queries`. Not supported.
    #[serde(default)]
    pub custom_metrics: Option<Vec<Value>>,
    /// Datadog Database Monitoring. Not supported.
    #[serde(default)]
    pub dbm: Option<bool>,
    /// Datadog: the old name of `dbm`. Not supported.
    #[serde(default)]
    pub deep_database_monitoring: Option<bool>,
    /// Datadog: monitor every database of the server. Not supported.
    #[serde(default)]
    pub database_autodiscovery: Option<Value>,
    /// Datadog: TLS client certificate files. No effect: no TLS.
    #[serde(default)]
    pub ssl_root_cert: Option<String>,
    /// Datadog: TLS client certificate. No effect: no TLS.
    #[serde(default)]
    pub ssl_cert: Option<String>,
    /// Datadog: TLS client key. No effect: no TLS.
    #[serde(default)]
    pub ssl_key: Option<String>,
    /// Datadog: password of `ssl_key`. No effect: no TLS.
    #[serde(default)]
    pub ssl_password: Option<String>,
    /// Datadog: AWS RDS settings (IAM authentication). No effect.
    #[serde(default)]
    pub aws: Option<Value>,
    /// Datadog: Google Cloud SQL settings. No effect.
    #[serde(default)]
    pub gcp: Option<Value>,
    /// Datadog: Azure settings (managed identity). No effect.
    #[serde(default)]
    pub azure: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub query_metrics: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub query_samples: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub query_activity: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub collect_settings: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub collect_schemas: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub collect_column_stats: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub obfuscator_options: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub collect_raw_query_statement: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub log_unobfuscated_queries: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub log_unobfuscated_plans: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub database_identifier: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub database_instance_collection_interval: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub pg_stat_statements_view: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub pg_stat_activity_view: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub query_encodings: Option<Value>,
    /// Datadog Database Monitoring settings. No effect.
    #[serde(default)]
    pub locks_idle_in_transaction: Option<Value>,
    /// Datadog Data Observability settings. No effect.
    #[serde(default)]
    pub data_observability: Option<Value>,
    /// Datadog: connection pool idle timeout. No effect (one connection).
    #[serde(default)]
    pub idle_connection_timeout: Option<Value>,
    /// Datadog: most connections of the pool. No effect (one connection).
    #[serde(default)]
    pub max_connections: Option<Value>,
    /// Datadog: the most tables of `table.count`. No effect.
    #[serde(default)]
    pub table_count_limit: Option<Value>,
    /// Datadog: schemas owned by these users are ignored. No effect.
    #[serde(default)]
    pub ignore_schemas_owned_by: Option<Value>,
    /// Datadog: the data directory for WAL metrics of 9.6. No effect.
    #[serde(default)]
    pub data_directory: Option<Value>,
    /// Datadog: add the Agent's host tags. No effect here.
    #[serde(default)]
    pub propagate_agent_tags: Option<Value>,
}

/// How to reach the server: what the check's `host`/`port` keys say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub dbname: String,
}

impl Target {
    /// `host:port/dbname`, as service check messages name the server.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}",
            runner_sdk::net::endpoint(&self.host, self.port),
            self.dbname
        )
    }
}

/// A custom query after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub name: String,
    pub sql: String,
    /// One per result column; None skips it.
    pub columns: Vec<Option<QueryColumn>>,
    pub tags: Vec<String>,
    /// None: every run.
    pub interval: Option<Duration>,
}

/// A validated custom query column: its full metric name (or tag name)
/// and type.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryColumn {
    pub name: String,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Gauge,
    Count,
    MonotonicCount,
    Rate,
    Histogram,
    /// `<name>.total` gauge and `<name>.count` monotonic count.
    MonotonicGauge,
    Tag {
        boolean: bool,
    },
    TagList,
    TagNotNull,
    Source,
}

/// An instance after validation: what `run` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub username: String,
    pub password: Option<String>,
    pub application_name: String,
    pub query_timeout: u64,
    /// Tags on everything but per-database rows: `server:`, `port:`.
    pub base_tags: Vec<String>,
    pub collect_database_size_metrics: bool,
    pub collect_count_metrics: bool,
    pub collect_activity_metrics: bool,
    pub collect_checksum_metrics: bool,
    /// `ignore_databases`, `postgres` removed when
    /// `collect_default_database` is on.
    pub ignore_databases: Vec<String>,
    pub dbstrict: bool,
    pub tag_replication_role: bool,
    pub activity_excluded: Vec<String>,
    pub only_custom_queries: bool,
    pub queries: Vec<Query>,
    /// The host name metrics are sent under (None: the runner's).
    pub hostname: Option<String>,
    /// Logged as warnings at configure time.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Validates an instance (the checks a JSON Schema cannot express) and
    /// applies Datadog's defaults.
    pub fn new(config: Config, init: &InitConfig) -> Result<Settings, String> {
        let mut warnings = Vec::new();
        let host = config
            .host
            .as_deref()
            .unwrap_or("localhost")
            .trim()
            .to_string();
        if host.is_empty() {
            return Err("`host` is empty: set the server's host name or address".to_string());
        }
        if host.starts_with('/') {
            return Err(format!(
                "`host` is a Unix socket directory ({host}): connecting through a Unix socket \
                 is not supported, use the server's TCP address (e.g. 127.0.0.1)"
            ));
        }
        let port = match &config.port {
            None => 5432,
            Some(Port::Number(0)) => return Err("`port` must be from 1 to 65535".to_string()),
            Some(Port::Number(port)) => *port,
            Some(Port::Text(text)) => match text.trim().parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(format!(
                        "`port` is `{text}`: it must be a port number from 1 to 65535"
                    ));
                }
            },
        };
        if config.username.is_empty() {
            return Err("`username` is empty: set the user to connect to Postgres as".to_string());
        }
        let dbname = config
            .dbname
            .clone()
            .unwrap_or_else(|| "postgres".to_string());
        if dbname.is_empty() {
            return Err("`dbname` is empty: set the database to connect to".to_string());
        }
        let application_name = config
            .application_name
            .clone()
            .unwrap_or_else(|| "datadog-agent".to_string());
        if !application_name.is_ascii() {
            return Err(format!(
                "Application name can include only ASCII characters: {application_name}"
            ));
        }
        ssl_mode(config.ssl.as_ref(), &mut warnings)?;
        unsupported_options(&config, init, &mut warnings);

        let mut base_tags = Vec::new();
        if !config.disable_generic_tags {
            base_tags.push(format!("server:{host}"));
        }
        base_tags.push(format!("port:{port}"));

        let mut ignore_databases = config
            .ignore_databases
            .clone()
            .unwrap_or_else(default_ignore_databases);
        if config.collect_default_database {
            ignore_databases.retain(|d| d != "postgres");
        }

        let queries = custom_queries(&config, init)?;

        let hostname = if let Some(reported) = config.reported_hostname.as_deref()
            && !reported.is_empty()
        {
            Some(reported.to_string())
        } else if config.exclude_hostname || is_local(&host) {
            None
        } else {
            Some(host.clone())
        };

        Ok(Settings {
            target: Target { host, port, dbname },
            username: config.username,
            password: config.password.filter(|p| !p.is_empty()),
            application_name,
            query_timeout: config.query_timeout,
            base_tags,
            collect_database_size_metrics: config.collect_database_size_metrics,
            collect_count_metrics: config.collect_count_metrics,
            collect_activity_metrics: config.collect_activity_metrics,
            collect_checksum_metrics: config.collect_checksum_metrics,
            ignore_databases,
            dbstrict: config.dbstrict,
            tag_replication_role: config.tag_replication_role,
            activity_excluded: config
                .activity_metrics_excluded_aggregations
                .unwrap_or_default(),
            only_custom_queries: config.only_custom_queries,
            queries,
            hostname,
            warnings,
        })
    }

    /// How long to wait for the server at any step: the statement timeout
    /// plus a second for its answer to arrive, or 30 s without one.
    pub fn io_timeout(&self) -> Duration {
        if self.query_timeout == 0 {
            Duration::from_secs(30)
        } else {
            Duration::from_millis(self.query_timeout.saturating_add(1000))
        }
    }
}

/// Hosts Datadog reports under the Agent's own host name.
fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

/// Datadog's six modes; `require` and stricter need TLS.
fn ssl_mode(ssl: Option<&SslValue>, warnings: &mut Vec<String>) -> Result<(), String> {
    let mode = match ssl {
        None => return Ok(()),
        Some(SslValue::Mode(mode)) => mode.as_str(),
        Some(SslValue::Flag(flag)) => {
            warnings.push(format!(
                "Invalid ssl option '{flag}', should be one of disable, allow, prefer, require, \
                 verify-ca, verify-full. Defaulting to 'allow' (no TLS)."
            ));
            return Ok(());
        }
    };
    match mode {
        "disable" | "allow" => Ok(()),
        "prefer" => {
            warnings.push(
                "`ssl: prefer`: TLS to Postgres is not supported yet, so the connection is not \
                 encrypted (as with `allow`)"
                    .to_string(),
            );
            Ok(())
        }
        "require" | "verify-ca" | "verify-full" => Err(format!(
            "`ssl: {mode}` needs TLS, and TLS to Postgres is not supported yet: use `disable` \
             or `allow` (unencrypted), on a trusted network or through an encrypted tunnel \
             (e.g. `ssh -L`)"
        )),
        other => {
            warnings.push(format!(
                "Invalid ssl option '{other}', should be one of disable, allow, prefer, require, \
                 verify-ca, verify-full. Defaulting to 'allow' (no TLS)."
            ));
            Ok(())
        }
    }
}

/// Warnings for Datadog options that change what Datadog would collect
/// but have no effect here.
fn unsupported_options(config: &Config, init: &InitConfig, warnings: &mut Vec<String>) {
    if config.relations.as_ref().is_some_and(|r| !r.is_empty()) {
        warnings.push(
            "`relations` is set, but relation metrics (per table and index: sizes, scans, \
             rows, locks, bloat) are not collected yet; the database-wide metrics are"
                .to_string(),
        );
    }
    let not_collected = [
        ("collect_bloat_metrics", config.collect_bloat_metrics),
        ("collect_function_metrics", config.collect_function_metrics),
        (
            "collect_buffercache_metrics",
            config.collect_buffercache_metrics,
        ),
        ("collect_wal_metrics", config.collect_wal_metrics),
    ];
    for (key, value) in not_collected {
        if value == Some(true) {
            warnings.push(format!(
                "`{key}` is not supported yet: these metrics are not sent"
            ));
        }
    }
    if config
        .custom_metrics
        .as_ref()
        .is_some_and(|m| !m.is_empty())
    {
        warnings.push(
            "`custom_metrics` (deprecated by Datadog) is not supported: rewrite them as \
             `custom_queries`"
                .to_string(),
        );
    }
    if config.dbm == Some(true) || config.deep_database_monitoring == Some(true) {
        warnings.push(
            "`dbm`: Database Monitoring (query samples, explain plans, query metrics) is not \
             supported; the integration's metrics are sent as without it"
                .to_string(),
        );
    }
    if config
        .database_autodiscovery
        .as_ref()
        .and_then(|d| d.get("enabled"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        warnings.push(
            "`database_autodiscovery` is not supported: per-database metrics cover every \
             database already; `table.count` and custom queries only `dbname`"
                .to_string(),
        );
    }
    let managed = |cloud: &Option<Value>| {
        cloud
            .as_ref()
            .and_then(|c| c.get("managed_authentication"))
            .and_then(|m| m.get("enabled"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    if managed(&config.aws) || managed(&config.azure) {
        warnings.push(
            "cloud managed authentication (IAM / managed identity) is not supported: set \
             `password`"
                .to_string(),
        );
    }
    let tls_files = [
        ("ssl_root_cert", &config.ssl_root_cert),
        ("ssl_cert", &config.ssl_cert),
        ("ssl_key", &config.ssl_key),
        ("ssl_password", &config.ssl_password),
    ];
    for (key, value) in tls_files {
        if value.is_some() {
            warnings.push(format!(
                "`{key}` has no effect: TLS to Postgres is not supported yet"
            ));
        }
    }
    if init.propagate_agent_tags == Some(true)
        || config
            .propagate_agent_tags
            .as_ref()
            .and_then(Value::as_bool)
            == Some(true)
    {
        warnings.push(
            "`propagate_agent_tags` has no effect: the runner adds runner.yaml's `tags` itself"
                .to_string(),
        );
    }
}

/// The instance's custom queries with `global_custom_queries` applied as
/// Datadog's QueryManager does, validated.
fn custom_queries(config: &Config, init: &InitConfig) -> Result<Vec<Query>, String> {
    let mut raw: Vec<CustomQuery> = config.custom_queries.clone().unwrap_or_default();
    let global = init.global_custom_queries.clone().unwrap_or_default();
    let use_global = match &config.use_global_custom_queries {
        None => "true".to_string(),
        Some(UseGlobal::Flag(flag)) => flag.to_string(),
        Some(UseGlobal::Text(text)) => text.trim().to_ascii_lowercase(),
    };
    match use_global.as_str() {
        "extend" => raw.extend(global),
        "true" | "yes" | "on" | "1" => {
            if raw.is_empty() {
                raw = global;
            }
        }
        "false" | "no" | "off" | "0" => {}
        other => {
            return Err(format!(
                "`use_global_custom_queries` is `{other}`: use true, false or extend"
            ));
        }
    }
    // Identical queries run once, as in Datadog.
    let mut unique: Vec<CustomQuery> = Vec::new();
    for query in raw {
        if !unique.contains(&query) {
            unique.push(query);
        }
    }
    unique
        .into_iter()
        .enumerate()
        .map(|(i, q)| validate_query(i + 1, q))
        .collect()
}

fn validate_query(number: usize, query: CustomQuery) -> Result<Query, String> {
    let name = query
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("custom query #{number}"));
    if query.query.trim().is_empty() {
        return Err(format!("field `query` for {name} is required"));
    }
    if query.columns.is_empty() {
        return Err(format!("field `columns` for {name} is required"));
    }
    let prefix = match query.metric_prefix.as_deref() {
        Some("") => {
            return Err(format!(
                "field `metric_prefix` for {name} must not be empty"
            ));
        }
        Some(prefix) => prefix.to_string(),
        None => "postgresql".to_string(),
    };
    let interval = match query.collection_interval {
        None => None,
        Some(seconds) if seconds.is_finite() && seconds.trunc() >= 1.0 => {
            Some(Duration::from_secs(seconds.trunc() as u64))
        }
        Some(_) => {
            return Err(format!(
                "field `collection_interval` for {name} must be a positive number after rounding"
            ));
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut columns = Vec::new();
    for (i, column) in query.columns.into_iter().enumerate() {
        let column = match column {
            None => {
                columns.push(None);
                continue;
            }
            Some(c) if c == Column::default() => {
                columns.push(None);
                continue;
            }
            Some(c) => c,
        };
        let Some(column_name) = column.name.filter(|n| !n.is_empty()) else {
            return Err(format!(
                "field `name` for column #{} of {name} is required",
                i + 1
            ));
        };
        if seen.contains(&column_name) {
            return Err(format!(
                "the name {column_name} of {name} was already defined in column #{}",
                seen.iter().position(|s| *s == column_name).unwrap() + 1
            ));
        }
        seen.push(column_name.clone());
        let Some(kind) = column.kind.filter(|k| !k.is_empty()) else {
            return Err(format!(
                "field `type` for column {column_name} of {name} is required"
            ));
        };
        let kind = match kind.as_str() {
            "gauge" => ColumnKind::Gauge,
            "count" => ColumnKind::Count,
            "monotonic_count" => ColumnKind::MonotonicCount,
            "rate" => ColumnKind::Rate,
            "histogram" => ColumnKind::Histogram,
            "monotonic_gauge" => ColumnKind::MonotonicGauge,
            "tag" => ColumnKind::Tag {
                boolean: column.boolean.unwrap_or(false),
            },
            "tag_list" => ColumnKind::TagList,
            "tag_not_null" => ColumnKind::TagNotNull,
            "source" => ColumnKind::Source,
            other if UNSUPPORTED_TYPES.contains(&other) => {
                return Err(format!(
                    "type `{other}` for column {column_name} of {name} is not supported yet \
                     (supported: {}, {})",
                    METRIC_TYPES.join(", "),
                    TAG_TYPES.join(", ")
                ));
            }
            other => {
                return Err(format!(
                    "unknown type `{other}` for column {column_name} of {name} (one of: {}, {})",
                    METRIC_TYPES.join(", "),
                    TAG_TYPES.join(", ")
                ));
            }
        };
        let is_metric = !matches!(
            kind,
            ColumnKind::Tag { .. }
                | ColumnKind::TagList
                | ColumnKind::TagNotNull
                | ColumnKind::Source
        );
        let full_name = if is_metric {
            format!("{prefix}.{column_name}")
        } else {
            column_name
        };
        columns.push(Some(QueryColumn {
            name: full_name,
            kind,
        }));
    }
    Ok(Query {
        name,
        sql: query.query,
        columns,
        tags: query.tags.unwrap_or_default(),
        interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_sdk::serde_json::{self, json};

    fn settings(instance: Value) -> Result<Settings, String> {
        settings_with(instance, json!({}))
    }

    fn settings_with(instance: Value, init: Value) -> Result<Settings, String> {
        let config: Config = serde_json::from_value(instance).map_err(|e| e.to_string())?;
        let init: InitConfig = serde_json::from_value(init).map_err(|e| e.to_string())?;
        Settings::new(config, &init)
    }

    #[test]
    fn datadog_defaults() {
        let s = settings(json!({"username": "datadog"})).unwrap();
        assert_eq!(
            s.target,
            Target {
                host: "localhost".into(),
                port: 5432,
                dbname: "postgres".into()
            }
        );
        assert_eq!(s.target.describe(), "localhost:5432/postgres");
        assert_eq!(s.query_timeout, 5000);
        assert_eq!(s.io_timeout(), Duration::from_millis(6000));
        assert_eq!(s.application_name, "datadog-agent");
        assert_eq!(s.base_tags, ["server:localhost", "port:5432"]);
        assert!(s.collect_database_size_metrics && s.collect_count_metrics);
        assert!(!s.collect_activity_metrics && !s.collect_checksum_metrics);
        assert_eq!(s.ignore_databases, DEFAULT_IGNORE_DATABASES);
        assert!(s.queries.is_empty() && s.warnings.is_empty());
        assert_eq!(s.password, None);
        assert_eq!(s.hostname, None);

        // Keys left empty in YAML (null) mean their defaults.
        let s = settings(json!({
            "username": "datadog", "host": null, "dbname": null, "password": null,
            "ignore_databases": null, "relations": null, "custom_queries": null,
            "application_name": null, "activity_metrics_excluded_aggregations": null,
        }))
        .unwrap();
        assert_eq!(s.target.describe(), "localhost:5432/postgres");
        assert_eq!(s.ignore_databases, DEFAULT_IGNORE_DATABASES);
        assert_eq!(s.application_name, "datadog-agent");
        assert!(s.warnings.is_empty() && s.queries.is_empty());
    }

    #[test]
    fn ports_tags_and_hostnames() {
        let s = settings(json!({
            "username": "u", "host": "db.example", "port": "6543",
            "disable_generic_tags": true, "password": "", "query_timeout": 0,
        }))
        .unwrap();
        assert_eq!(s.target.port, 6543);
        assert_eq!(s.base_tags, ["port:6543"]);
        assert_eq!(s.password, None);
        assert_eq!(s.io_timeout(), Duration::from_secs(30));
        // A remote server's metrics go under its name, as Datadog's
        // resolved hostname.
        assert_eq!(s.hostname.as_deref(), Some("db.example"));
        let s = settings(json!({"username": "u", "host": "db.example", "exclude_hostname": true}))
            .unwrap();
        assert_eq!(s.hostname, None);
        let s = settings(json!({"username": "u", "reported_hostname": "pg-main"})).unwrap();
        assert_eq!(s.hostname.as_deref(), Some("pg-main"));

        assert_eq!(
            settings(json!({"username": "u", "port": "fifty"})).unwrap_err(),
            "`port` is `fifty`: it must be a port number from 1 to 65535"
        );
        assert!(settings(json!({"username": "u", "port": 70000})).is_err());
        assert!(settings(json!({"username": "u", "port": 0})).is_err());
        assert!(
            settings(json!({"host": "x"}))
                .unwrap_err()
                .contains("username")
        );
        assert!(
            settings(json!({"username": "u", "host": "/var/run/postgresql"}))
                .unwrap_err()
                .contains("Unix socket")
        );
        assert!(
            settings(json!({"username": "u", "application_name": "dätadog"}))
                .unwrap_err()
                .contains("only ASCII")
        );
    }

    #[test]
    fn tls_modes() {
        for mode in ["disable", "allow"] {
            let s = settings(json!({"username": "u", "ssl": mode})).unwrap();
            assert!(s.warnings.is_empty(), "{mode}: {:?}", s.warnings);
        }
        let s = settings(json!({"username": "u", "ssl": "prefer"})).unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("not encrypted"));
        for mode in ["require", "verify-ca", "verify-full"] {
            let error = settings(json!({"username": "u", "ssl": mode})).unwrap_err();
            assert!(
                error.contains("TLS to Postgres is not supported yet"),
                "{error}"
            );
        }
        let s = settings(json!({"username": "u", "ssl": true})).unwrap();
        assert!(s.warnings[0].starts_with("Invalid ssl option 'true'"));
        let s = settings(json!({"username": "u", "ssl": "on"})).unwrap();
        assert!(s.warnings[0].contains("Defaulting to 'allow'"));
    }

    #[test]
    fn ignore_databases_and_default_database() {
        let s =
            settings(json!({"username": "u", "ignore_databases": ["postgres", "tmp%"]})).unwrap();
        assert_eq!(s.ignore_databases, ["tmp%"]);
        let s = settings(json!({
            "username": "u", "ignore_databases": ["postgres"], "collect_default_database": false,
        }))
        .unwrap();
        assert_eq!(s.ignore_databases, ["postgres"]);
    }

    #[test]
    fn unsupported_features_warn() {
        let s = settings(json!({
            "username": "u", "relations": ["orders", {"relation_regex": "x.*"}],
            "dbm": true, "collect_function_metrics": true, "ssl_cert": "/c.pem",
        }))
        .unwrap();
        let all = s.warnings.join("\n");
        assert!(
            all.contains("`relations` is set, but relation metrics"),
            "{all}"
        );
        assert!(all.contains("Database Monitoring"), "{all}");
        assert!(
            all.contains("`collect_function_metrics` is not supported yet"),
            "{all}"
        );
        assert!(all.contains("`ssl_cert` has no effect"), "{all}");
    }

    #[test]
    fn custom_queries_are_validated() {
        let s = settings(json!({
            "username": "u",
            "custom_queries": [{
                "query": "SELECT a, b, c, d FROM t",
                "metric_prefix": "app",
                "columns": [
                    {"name": "kind", "type": "tag"},
                    {},
                    {"name": "rows", "type": "gauge"},
                    {"name": "alive", "type": "tag", "boolean": true},
                ],
                "tags": ["team:db"],
                "collection_interval": 30.7,
            }, {
                "query": "SELECT 1",
                "columns": [{"name": "one", "type": "monotonic_count"}],
            }],
        }))
        .unwrap();
        let q = &s.queries[0];
        assert_eq!(q.name, "custom query #1");
        assert_eq!(q.interval, Some(Duration::from_secs(30)));
        assert_eq!(q.tags, ["team:db"]);
        assert_eq!(
            q.columns,
            [
                Some(QueryColumn {
                    name: "kind".into(),
                    kind: ColumnKind::Tag { boolean: false }
                }),
                None,
                Some(QueryColumn {
                    name: "app.rows".into(),
                    kind: ColumnKind::Gauge
                }),
                Some(QueryColumn {
                    name: "alive".into(),
                    kind: ColumnKind::Tag { boolean: true }
                }),
            ]
        );
        assert_eq!(
            s.queries[1].columns[0].as_ref().unwrap().name,
            "postgresql.one"
        );

        let bad = |columns: Value| {
            settings(json!({"username": "u", "custom_queries": [{"query": "SELECT 1", "columns": columns}]}))
                .unwrap_err()
        };
        assert_eq!(
            bad(json!([{"name": "x", "type": "gauge"}, {"name": "x", "type": "rate"}])),
            "the name x of custom query #1 was already defined in column #1"
        );
        assert_eq!(
            bad(json!([{"name": "x"}])),
            "field `type` for column x of custom query #1 is required"
        );
        assert_eq!(
            bad(json!([{"type": "gauge"}])),
            "field `name` for column #1 of custom query #1 is required"
        );
        assert!(bad(json!([{"name": "x", "type": "historate"}])).contains("not supported yet"));
        assert!(bad(json!([{"name": "x", "type": "gauges"}])).starts_with("unknown type `gauges`"));
        assert!(bad(json!([])).contains("field `columns`"));
    }

    #[test]
    fn global_custom_queries() {
        let init = json!({"global_custom_queries": [
            {"query": "SELECT 2", "columns": [{"name": "g", "type": "gauge"}]},
        ]});
        let own = json!([{"query": "SELECT 1", "columns": [{"name": "i", "type": "gauge"}]}]);
        let names = |instance: Value| -> Vec<String> {
            settings_with(instance, init.clone())
                .unwrap()
                .queries
                .iter()
                .map(|q| q.sql.clone())
                .collect()
        };
        assert_eq!(names(json!({"username": "u"})), ["SELECT 2"]);
        assert_eq!(
            names(json!({"username": "u", "custom_queries": own})),
            ["SELECT 1"]
        );
        assert_eq!(
            names(
                json!({"username": "u", "custom_queries": own, "use_global_custom_queries": "extend"})
            ),
            ["SELECT 1", "SELECT 2"]
        );
        assert!(names(json!({"username": "u", "use_global_custom_queries": false})).is_empty());
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// Every key the runner validates against has a description (what
    /// `runner configcheck` can show), nested ones included.
    #[test]
    fn every_key_is_documented() {
        fn check(schema: &Value, path: &str) {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (key, property) in properties {
                let described = property.get("description").is_some();
                assert!(described, "{path}{key} has no description");
            }
        }
        let config = schemars::schema_for!(Config).to_value();
        let defs = config.get("$defs").cloned().unwrap_or(Value::Null);
        check(&config, "");
        for (name, def) in defs.as_object().into_iter().flatten() {
            check(def, &format!("{name}."));
        }
        let init = schemars::schema_for!(InitConfig).to_value();
        check(&init, "init_config.");
        assert_eq!(
            config["required"],
            runner_sdk::serde_json::json!(["username"])
        );
    }
}
