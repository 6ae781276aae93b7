//! The options every Datadog check accepts, whatever the check (the
//! integrations' spec templates `instances/default` and
//! `init_config/default`): read here, once, for every check, and applied by
//! the runner itself (interval, tags, hostname, metric filters), so no
//! plugin has to implement them.
//!
//! Each is a serde field; its JSON Schema (derived with `schemars`) is
//! checked by the same validator as a check's own schema, so mistakes are
//! worded the same way. Where the Agent is lenient, so are we, with a
//! warning: `min_collection_interval: 0` means the default, booleans may
//! be written `"yes"` or `"false"`.

use std::sync::LazyLock;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ConfigError;
use super::limits::LimitsOverride;
use super::schema::Schema;
use super::validate::validate_options;
use crate::pyregex::PyRegex;

/// Interval used when neither the instance nor `init_config` sets
/// `min_collection_interval` (the Agent's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// Instance keys the runner reads itself, for every check, on top of
/// whatever the check reads (the Agent's `instances/default` template).
pub const RESERVED_INSTANCE_KEYS: &[&str] = &[
    "min_collection_interval",
    "tags",
    "service",
    "name",
    "namespace",
    "empty_default_hostname",
    "disable_generic_tags",
    "metric_patterns",
    "limits",
    "raw_command_lines",
    "network",
    "loader",
    "max_returned_metrics",
    "enable_legacy_tags_normalization",
];

/// `init_config` keys the runner reads itself.
pub const RESERVED_INIT_CONFIG_KEYS: &[&str] = &[
    "service",
    "min_collection_interval",
    "procfs_path",
    "loader",
];

/// The shortest interval the runner schedules, as the Agent's scheduler.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Instance options every check accepts. A check's schema may declare any
/// of them too (then its own rules apply as well).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub(crate) struct InstanceOptions {
    /// Seconds between runs of this instance. Default: init_config's, else
    /// 15. 0 or less means the default (as in the Agent).
    #[schemars(extend("examples" = [30]))]
    pub min_collection_interval: Option<f64>,
    /// Tags (`key:value` or bare) added to everything the instance sends.
    #[schemars(extend("examples" = [["env:prod", "team:db"]]))]
    pub tags: Option<Vec<String>>,
    /// Adds `service:<value>` to everything the instance sends.
    pub service: Option<String>,
    /// Names the instance; part of its ID.
    pub name: Option<String>,
    /// Names the instance when `name` is not set (as in the Agent).
    pub namespace: Option<String>,
    /// Send without a host name.
    pub empty_default_hostname: Option<bool>,
    /// Rename the generic tags the check sends (`host`, `env`, `service`,
    /// ...) to `<check>_<tag>`, so they do not mix with other checks' tags.
    pub disable_generic_tags: Option<bool>,
    /// Regular expressions (Python syntax) on metric names: only metrics
    /// matching an `include` entry are kept (when there is one), and
    /// metrics matching an `exclude` entry are dropped.
    pub metric_patterns: Option<MetricPatternsConfig>,
    /// The instance's sandbox budget, over runner.yaml's `limits`.
    pub limits: Option<LimitsOverride>,
    /// Grant the check the processes' command lines as they are. By
    /// default they are scrubbed with the Datadog Agent's sensitive words
    /// (`--password=********`) before the check sees or matches them.
    pub raw_command_lines: Option<bool>,
    /// Narrow or widen the network the check is granted. By default an
    /// instance may reach exactly the endpoints its configuration names
    /// (e.g. `nginx_status_url`, or `host` and `port`) and nothing else.
    pub network: Option<super::network::NetworkOverride>,
    /// Datadog: which loader runs the check (`core`, `python`, ...). No
    /// effect: the runner has one loader.
    pub loader: Option<String>,
    /// Datadog: the most metric contexts a Python check may submit per
    /// run. No effect: the runner's `limits.max_metrics` bounds what an
    /// instance submits per run.
    pub max_returned_metrics: Option<Value>,
    /// Datadog: the older tag normalisation of Python checks. No effect:
    /// the runner passes tags as the check writes them.
    pub enable_legacy_tags_normalization: Option<bool>,
}

/// `metric_patterns` as written.
// Unknown keys are the schema's business (a warning), not serde's.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub(crate) struct MetricPatternsConfig {
    #[schemars(extend("examples" = [["^system\\.processes\\.mem\\."]]))]
    pub include: Option<Vec<String>>,
    #[schemars(extend("examples" = [["\\.io(read|write)_"]]))]
    pub exclude: Option<Vec<String>>,
}

/// `init_config` options every check accepts.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub(crate) struct InitOptions {
    /// Default interval for the file's instances.
    #[schemars(extend("examples" = [30]))]
    pub min_collection_interval: Option<f64>,
    /// Default `service` for the file's instances.
    pub service: Option<String>,
    /// Where the host's /proc is mounted. Deprecated in the Agent's
    /// init_config (it moved to datadog.yaml); the runner reads processes
    /// from there for the file's instances.
    pub procfs_path: Option<String>,
    /// Datadog: which loader runs the file's instances. No effect: the
    /// runner has one loader.
    pub loader: Option<String>,
}

/// Compiled metric filters: Datadog's `metric_patterns`, applied by the
/// runner to every metric of the instance before aggregation.
#[derive(Debug, Clone, Default)]
pub struct MetricPatterns {
    include: Vec<PyRegex>,
    exclude: Vec<PyRegex>,
}

impl MetricPatterns {
    /// Whether a metric of this name is sent: not excluded, and included
    /// when there are include patterns (the Agent's `search` semantics).
    pub fn allows(&self, metric: &str) -> bool {
        if self.exclude.iter().any(|p| p.is_match(metric)) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|p| p.is_match(metric))
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

impl PartialEq for MetricPatterns {
    fn eq(&self, other: &Self) -> bool {
        let text = |list: &[PyRegex]| {
            list.iter()
                .map(|p| p.as_str().to_string())
                .collect::<Vec<_>>()
        };
        text(&self.include) == text(&other.include) && text(&self.exclude) == text(&other.exclude)
    }
}

/// The generic settings of one instance, resolved (init_config defaults
/// applied, rules checked).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generic {
    pub interval: Duration,
    pub tags: Vec<String>,
    pub service: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub empty_default_hostname: bool,
    pub disable_generic_tags: bool,
    pub metric_patterns: MetricPatterns,
    pub limits: LimitsOverride,
    pub raw_command_lines: bool,
    pub network: super::network::NetworkOverride,
}

/// The resolved init_config options.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct InitSettings {
    pub interval: Option<Duration>,
    pub service: Option<String>,
    pub procfs_path: Option<String>,
}

static INSTANCE_SCHEMA: LazyLock<Schema> = LazyLock::new(option_schema::<InstanceOptions>);
static INIT_SCHEMA: LazyLock<Schema> = LazyLock::new(option_schema::<InitOptions>);

fn option_schema<T: JsonSchema>() -> Schema {
    let schema = schemars::schema_for!(T).to_value();
    Schema::compile(schema, &[], true).expect("the runner's own option schema compiles")
}

/// Problems found while reading options: errors drop the instance,
/// warnings do not.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

/// Reads the generic options of `init_config` (a mapping). Booleans written
/// the Datadog way are rewritten in place.
pub(crate) fn read_init(
    init: &mut Map<String, Value>,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    out: &mut Findings,
) -> InitSettings {
    let Some(options) = read::<InitOptions>(init, &INIT_SCHEMA, "init_config", locate, out) else {
        return InitSettings::default();
    };
    let place = |e: ConfigError| locate(e.with_key("init_config.min_collection_interval"));
    let interval = options
        .min_collection_interval
        .and_then(|secs| interval(secs, &place, out));
    let procfs_path = options.procfs_path.filter(|p| !p.is_empty());
    if procfs_path.is_some() {
        out.warnings.push(locate(
            ConfigError::new(
                "deprecated in the Datadog Agent's init_config (it moved to datadog.yaml); \
                 honoured for this file's instances",
            )
            .with_key("init_config.procfs_path"),
        ));
    }
    InitSettings {
        interval,
        service: options.service,
        procfs_path,
    }
}

/// Reads the generic options of one instance (a mapping), with the file's
/// `init` defaults. Booleans written the Datadog way are rewritten in
/// place. `None` when an error makes the instance unusable.
pub(crate) fn read_instance(
    instance: &mut Map<String, Value>,
    init: &InitSettings,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    out: &mut Findings,
) -> Option<Generic> {
    let errors_before = out.errors.len();
    let options = read::<InstanceOptions>(instance, &INSTANCE_SCHEMA, "", locate, out)?;
    let place = |e: ConfigError| locate(e.with_key("min_collection_interval"));
    let interval = options
        .min_collection_interval
        .and_then(|secs| interval(secs, &place, out))
        .or(init.interval)
        .unwrap_or(DEFAULT_INTERVAL);
    let metric_patterns = options
        .metric_patterns
        .map(|p| compile_patterns(p, locate, out))
        .unwrap_or_default();
    if out.errors.len() > errors_before {
        return None;
    }
    Some(Generic {
        interval,
        tags: options.tags.unwrap_or_default(),
        service: options.service.or_else(|| init.service.clone()),
        name: options.name.filter(|n| !n.is_empty()),
        namespace: options.namespace.filter(|n| !n.is_empty()),
        empty_default_hostname: options.empty_default_hostname.unwrap_or(false),
        disable_generic_tags: options.disable_generic_tags.unwrap_or(false),
        metric_patterns,
        limits: options.limits.unwrap_or_default(),
        raw_command_lines: options.raw_command_lines.unwrap_or(false),
        network: options.network.unwrap_or_default(),
    })
}

/// Validates the option keys of `map` against `schema`, then reads them.
fn read<T: for<'de> Deserialize<'de>>(
    map: &mut Map<String, Value>,
    schema: &Schema,
    prefix: &str,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    out: &mut Findings,
) -> Option<T> {
    let mut value = Value::Object(std::mem::take(map));
    let report = validate_options(&mut value, schema, prefix, locate);
    // Types are right when there are no errors; what is left are the
    // value rules of the fields (limits), whose messages are our own.
    let read = report
        .errors
        .is_empty()
        .then(|| serde_path_to_error::deserialize::<_, T>(&value));
    if let Value::Object(validated) = value {
        *map = validated;
    }
    out.warnings.extend(report.warnings);
    out.errors.extend(report.errors);
    match read? {
        Ok(options) => Some(options),
        Err(e) => {
            let path = e.path().to_string();
            let key = if prefix.is_empty() {
                path
            } else {
                format!("{prefix}.{path}")
            };
            out.errors.push(locate(
                ConfigError::new(e.into_inner().to_string())
                    .with_key(key.clone())
                    .with_hint_opt(key.strip_prefix("limits.").map(super::limits::example)),
            ));
            None
        }
    }
}

/// `min_collection_interval` in seconds. As the Agent does for Python
/// checks, 0 or less means the default (`None`, with a warning); under a
/// second means one second.
fn interval(
    seconds: f64,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    out: &mut Findings,
) -> Option<Duration> {
    if seconds <= 0.0 {
        out.warnings.push(locate(
            ConfigError::new(format!(
                "{seconds} is not a usable interval; the default ({} s) is used, as in the Datadog Agent",
                DEFAULT_INTERVAL.as_secs()
            ))
            .with_hint("remove `min_collection_interval` or set e.g. `min_collection_interval: 30`"),
        ));
        return None;
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if d >= MIN_INTERVAL => Some(d),
        Ok(_) => {
            out.warnings.push(locate(
                ConfigError::new(format!(
                    "{seconds} s is shorter than the shortest interval; runs every {} s",
                    MIN_INTERVAL.as_secs()
                ))
                .with_hint("set `min_collection_interval: 1` or more"),
            ));
            Some(MIN_INTERVAL)
        }
        Err(_) => Some(Duration::MAX),
    }
}

/// Compiles `metric_patterns`. Empty entries are skipped, as the Agent does;
/// an invalid pattern is an error naming it.
fn compile_patterns(
    config: MetricPatternsConfig,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    out: &mut Findings,
) -> MetricPatterns {
    let mut compile = |list: Option<Vec<String>>, which: &str| -> Vec<PyRegex> {
        let mut compiled = Vec::new();
        for (i, pattern) in list.unwrap_or_default().into_iter().enumerate() {
            if pattern.is_empty() {
                continue;
            }
            match PyRegex::new(&pattern) {
                Ok(regex) => compiled.push(regex),
                Err(e) => out.errors.push(locate(
                    ConfigError::new(format!(
                        "`{}` is not a valid regular expression: {e}",
                        crate::escape::for_terminal(&pattern)
                    ))
                    .with_key(format!("metric_patterns.{which}[{i}]")),
                )),
            }
        }
        compiled
    };
    let include = compile(config.include, "include");
    let exclude = compile(config.exclude, "exclude");
    MetricPatterns { include, exclude }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_one(instance: Value, init: Value) -> (Option<Generic>, Findings, Value) {
        let mut out = Findings::default();
        let mut init = init.as_object().unwrap().clone();
        let init = read_init(&mut init, &|e| e, &mut out);
        let mut map = instance.as_object().unwrap().clone();
        let generic = read_instance(&mut map, &init, &|e| e, &mut out);
        (generic, out, Value::Object(map))
    }

    #[test]
    fn every_option_is_read() {
        let (g, out, _) = read_one(
            json!({"name": "web", "namespace": "ns", "tags": ["a:b"], "service": "svc",
                   "min_collection_interval": 30, "empty_default_hostname": true,
                   "disable_generic_tags": "yes",
                   "metric_patterns": {"include": ["^x\\."], "exclude": ["", "(?<=x)\\.y"]},
                   "limits": {"timeout": 2}, "check_key": 1}),
            json!({}),
        );
        assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
        let g = g.unwrap();
        assert_eq!(g.interval, Duration::from_secs(30));
        assert_eq!(g.tags, ["a:b"]);
        assert_eq!(g.service.as_deref(), Some("svc"));
        assert_eq!(g.name.as_deref(), Some("web"));
        assert_eq!(g.namespace.as_deref(), Some("ns"));
        assert!(g.empty_default_hostname);
        assert!(g.disable_generic_tags);
        assert_eq!(g.limits.timeout, Some(2.0));
        assert!(g.metric_patterns.allows("x.a"));
        assert!(!g.metric_patterns.allows("x.y"));
        assert!(!g.metric_patterns.allows("z.a"));
    }

    #[test]
    fn init_config_defaults_and_precedence() {
        let (g, _, _) = read_one(
            json!({}),
            json!({"min_collection_interval": 60, "service": "i"}),
        );
        let g = g.unwrap();
        assert_eq!(g.interval, Duration::from_secs(60));
        assert_eq!(g.service.as_deref(), Some("i"));
        let (g, _, _) = read_one(
            json!({"min_collection_interval": 5.5, "service": "x"}),
            json!({"min_collection_interval": 60, "service": "i"}),
        );
        let g = g.unwrap();
        assert_eq!(g.interval, Duration::from_millis(5500));
        assert_eq!(g.service.as_deref(), Some("x"));
        let (g, _, _) = read_one(json!({}), json!({}));
        assert_eq!(g.unwrap().interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn zero_negative_and_short_intervals_warn() {
        for (seconds, expected) in [
            (0.0, DEFAULT_INTERVAL),
            (-5.0, DEFAULT_INTERVAL),
            (0.5, MIN_INTERVAL),
        ] {
            let (g, out, _) = read_one(json!({"min_collection_interval": seconds}), json!({}));
            assert_eq!(g.unwrap().interval, expected, "{seconds}");
            assert!(out.errors.is_empty());
            assert_eq!(out.warnings.len(), 1, "{seconds}: {out:?}");
            assert_eq!(
                out.warnings[0].key.as_deref(),
                Some("min_collection_interval")
            );
        }
        // A zero instance interval falls back on init_config's, like unset.
        let (g, _, _) = read_one(
            json!({"min_collection_interval": 0}),
            json!({"min_collection_interval": 40}),
        );
        assert_eq!(g.unwrap().interval, Duration::from_secs(40));
    }

    #[test]
    fn string_booleans_read_like_is_affirmative() {
        let (g, out, rewritten) = read_one(
            json!({"empty_default_hostname": "false", "disable_generic_tags": "1"}),
            json!({}),
        );
        assert!(out.warnings.is_empty(), "{out:?}");
        let g = g.unwrap();
        assert!(!g.empty_default_hostname);
        assert!(g.disable_generic_tags);
        // What the check receives is a real boolean.
        assert_eq!(rewritten["empty_default_hostname"], json!(false));
    }

    #[test]
    fn wrong_types_are_errors_naming_the_key() {
        let (g, out, _) = read_one(json!({"tags": "env:prod", "service": 3}), json!({}));
        assert!(g.is_none());
        let keys: Vec<_> = out.errors.iter().map(|e| e.key.clone().unwrap()).collect();
        assert_eq!(keys, ["service", "tags"]);
        let (g, out, _) = read_one(
            json!({"limits": {"timeout": -1, "memry_mib": 2}}),
            json!({}),
        );
        assert!(g.is_none());
        assert_eq!(out.errors.len(), 1, "{out:?}");
        assert_eq!(out.errors[0].key.as_deref(), Some("limits.timeout"));
        assert_eq!(
            out.errors[0].message,
            "expected a number of seconds > 0, got -1"
        );
        assert_eq!(out.warnings[0].key.as_deref(), Some("limits.memry_mib"));
        assert_eq!(
            out.warnings[0].hint.as_deref(),
            Some("did you mean `memory_mib`?")
        );
    }

    #[test]
    fn bad_metric_pattern_is_an_error() {
        let (g, out, _) = read_one(
            json!({"metric_patterns": {"exclude": ["ok", "(bad"]}}),
            json!({}),
        );
        assert!(g.is_none());
        assert_eq!(
            out.errors[0].key.as_deref(),
            Some("metric_patterns.exclude[1]")
        );
    }

    #[test]
    fn procfs_path_is_honoured_with_a_note() {
        let mut out = Findings::default();
        let mut init = json!({"procfs_path": "/host/proc"})
            .as_object()
            .unwrap()
            .clone();
        let init = read_init(&mut init, &|e| e, &mut out);
        assert_eq!(init.procfs_path.as_deref(), Some("/host/proc"));
        assert_eq!(out.warnings.len(), 1);
    }
}
