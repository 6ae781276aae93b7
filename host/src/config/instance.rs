//! One check instance: the reserved keys the runner itself reads
//! (`min_collection_interval`, `tags`, `limits`, ...), its Datadog-style ID,
//! and the collapsing of duplicates across conf.d.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::limits::Limits;
use super::suggest::show_value;
use super::{ConfigFile, InstanceConfig};

/// Instance keys the runner reads itself, on top of whatever the check
/// reads. The schema validator skips them unless a check declares them.
pub const RESERVED_INSTANCE_KEYS: &[&str] = &[
    "min_collection_interval",
    "tags",
    "service",
    "name",
    "namespace",
    "empty_default_hostname",
    "limits",
];

/// `init_config` keys the runner reads itself.
pub const RESERVED_INIT_CONFIG_KEYS: &[&str] = &["service", "min_collection_interval"];

/// Interval used when neither the instance nor `init_config` sets
/// `min_collection_interval` (the Agent's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// The reserved settings of a file's `init_config` that instances inherit.
#[derive(Debug, Default)]
pub(crate) struct InitSettings {
    pub interval: Option<Duration>,
    pub service: Option<String>,
}

/// Where a problem is, for building errors.
struct Place<'a> {
    check: &'a str,
    file: &'a Path,
    index: Option<usize>,
    prefix: &'a str,
}

impl Place<'_> {
    fn error(&self, key: &str, message: String, hint: impl Into<String>) -> ConfigError {
        let key = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        };
        let e = ConfigError::new(message)
            .with_check(self.check)
            .with_file(self.file)
            .with_key(key)
            .with_hint(hint);
        match self.index {
            Some(i) => e.with_instance(i),
            None => e,
        }
    }
}

/// Reads the reserved keys of `init_config` (already known to be a mapping).
pub(crate) fn parse_init_config(
    check: &str,
    file: &Path,
    init: &Map<String, Value>,
) -> Result<InitSettings, Vec<ConfigError>> {
    let place = Place {
        check,
        file,
        index: None,
        prefix: "init_config",
    };
    let mut errors = Vec::new();
    let interval = interval(&place, init, &mut errors);
    let service = string(&place, init, "service", &mut errors);
    if errors.is_empty() {
        Ok(InitSettings { interval, service })
    } else {
        Err(errors)
    }
}

/// Builds one instance from its raw value, checking the reserved keys.
/// `init_config` must be a JSON object; `init` is what it sets.
pub(crate) fn build_instance(
    check: &str,
    file: &Path,
    index: usize,
    raw: &Value,
    init_config: &Value,
    init: &InitSettings,
) -> Result<InstanceConfig, Vec<ConfigError>> {
    let place = Place {
        check,
        file,
        index: Some(index),
        prefix: "",
    };
    let Value::Object(map) = raw else {
        return Err(vec![
            ConfigError::new(format!(
                "expected a mapping of settings, got {}",
                show_value(raw)
            ))
            .with_check(check)
            .with_file(file)
            .with_instance(index)
            .with_hint(
                "write each instance as `- key: value`; use `- {}` for one without settings",
            ),
        ]);
    };
    let mut errors = Vec::new();
    let interval = self::interval(&place, map, &mut errors);
    let tags = tags(&place, map, &mut errors);
    let service = string(&place, map, "service", &mut errors);
    let name = string(&place, map, "name", &mut errors).filter(|n| !n.is_empty());
    let namespace = string(&place, map, "namespace", &mut errors).filter(|n| !n.is_empty());
    let empty_default_hostname = match map.get("empty_default_hostname") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(place.error(
                "empty_default_hostname",
                format!("expected true or false, got {}", show_value(other)),
                "e.g. `empty_default_hostname: true`",
            ));
            false
        }
    };
    let limits = match map.get("limits") {
        None | Some(Value::Null) => Limits::default(),
        Some(Value::Object(limits)) => {
            let (limits, problems) = Limits::default().overlay(limits);
            for p in problems {
                let mut e = place.error(&format!("limits.{}", p.key), p.message, "");
                e.hint = p.hint;
                errors.push(e);
            }
            limits
        }
        Some(other) => {
            errors.push(place.error(
                "limits",
                format!("expected a mapping of limits, got {}", show_value(other)),
                "e.g. `limits: {timeout: 30, memory_mib: 128}`",
            ));
            Limits::default()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    // The Agent names an instance by `name`, falling back on `namespace`.
    let id_name = name.as_deref().or(namespace.as_deref());
    Ok(InstanceConfig {
        id: instance_id(check, id_name, raw, init_config),
        check: check.to_string(),
        source: file.to_path_buf(),
        index,
        init_config: init_config.clone(),
        instance: raw.clone(),
        interval: interval.or(init.interval).unwrap_or(DEFAULT_INTERVAL),
        tags,
        service: service.or_else(|| init.service.clone()),
        name,
        empty_default_hostname,
        limits,
    })
}

/// `min_collection_interval`: a number of seconds >= 1, or absent/null.
fn interval(
    place: &Place<'_>,
    map: &Map<String, Value>,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    const KEY: &str = "min_collection_interval";
    const EXAMPLE: &str = "e.g. `min_collection_interval: 30`";
    let value = map.get(KEY)?;
    let seconds = match value {
        Value::Null => return None,
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        other => {
            errors.push(place.error(
                KEY,
                format!(
                    "expected a number of seconds >= 1, got {}",
                    show_value(other)
                ),
                EXAMPLE,
            ));
            return None;
        }
    };
    if seconds == 0.0 {
        errors.push(place.error(
            KEY,
            "0 means \"run once\" in the Datadog Agent; the runner does not support one-shot instances"
                .to_string(),
            "remove `min_collection_interval` to use the default of 15 s, or set e.g. `min_collection_interval: 30`",
        ));
        return None;
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if seconds >= 1.0 => Some(d),
        _ => {
            errors.push(place.error(
                KEY,
                format!("expected a number of seconds >= 1, got {value}"),
                EXAMPLE,
            ));
            None
        }
    }
}

/// `tags`: a list of strings, or absent/null.
fn tags(place: &Place<'_>, map: &Map<String, Value>, errors: &mut Vec<ConfigError>) -> Vec<String> {
    const EXAMPLE: &str = "e.g. `tags: [\"env:prod\", \"team:db\"]`";
    match map.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut tags = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => tags.push(s.clone()),
                    other => errors.push(place.error(
                        &format!("tags[{i}]"),
                        format!("expected a string, got {}", show_value(other)),
                        format!("quote it: `- \"{}\"`", other.to_string().trim_matches('"')),
                    )),
                }
            }
            tags
        }
        Some(other) => {
            errors.push(place.error(
                "tags",
                format!("expected a list of strings, got {}", show_value(other)),
                EXAMPLE,
            ));
            Vec::new()
        }
    }
}

/// A string-valued reserved key, or absent/null.
fn string(
    place: &Place<'_>,
    map: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    match map.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => {
            errors.push(place.error(
                key,
                format!("expected a string, got {}", show_value(other)),
                format!(
                    "quote it: `{key}: \"{}\"`",
                    other.to_string().trim_matches('"')
                ),
            ));
            None
        }
    }
}

/// The Datadog-style instance ID: `<check>:<16 hex>` or
/// `<check>:<name>:<16 hex>`, the hash being FNV-1a 64 over the canonical
/// JSON (keys sorted) of the instance followed by that of `init_config`.
///
/// Stable across runs and key order, so the ID can name an instance in
/// `runner check --instance`, logs and stored state.
pub fn instance_id(
    check: &str,
    name: Option<&str>,
    instance: &Value,
    init_config: &Value,
) -> String {
    let mut text = String::new();
    canonical_json(instance, &mut text);
    canonical_json(init_config, &mut text);
    let hash = fnv1a64(text.as_bytes());
    match name {
        Some(name) => format!("{check}:{name}:{hash:016x}"),
        None => format!("{check}:{hash:016x}"),
    }
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Compact JSON with object keys sorted, whatever the map's own order.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}", Value::String(key.clone()));
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

impl InstanceConfig {
    /// Sets `limits` to `defaults` (usually runner.yaml's) overridden by the
    /// instance's own `limits:` map. Loading uses the built-in defaults;
    /// [`super::load`] calls this with the runner's.
    pub fn apply_limits(&mut self, defaults: Limits) {
        self.limits = match self.instance.get("limits") {
            Some(Value::Object(map)) => defaults.overlay(map).0,
            _ => defaults,
        };
    }
}

/// Collapses identical instances (same ID: a warning naming both places)
/// and rejects a second instance reusing a `name` with different settings
/// (an error: both would report the same metrics). The first one, in path
/// order, is kept. Files left without instances are dropped.
pub(crate) fn dedupe(
    files: &mut Vec<ConfigFile>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) {
    let mut by_id: HashMap<String, (PathBuf, usize)> = HashMap::new();
    let mut by_name: HashMap<(String, String), (PathBuf, usize)> = HashMap::new();
    for file in files.iter_mut() {
        file.instances.retain(|inst| {
            let here = |message: String| {
                ConfigError::new(message)
                    .with_check(&inst.check)
                    .with_file(&inst.source)
                    .with_instance(inst.index)
            };
            if let Some((path, index)) = by_id.get(&inst.id) {
                warnings.push(here(format!(
                    "identical to instance #{index} of {} (ID `{}`); it runs once",
                    path.display(),
                    inst.id
                )));
                return false;
            }
            if let Some(name) = &inst.name {
                let key = (inst.check.clone(), name.clone());
                if let Some((path, index)) = by_name.get(&key) {
                    errors.push(
                        here(format!(
                            "duplicate instance name `{name}`: instance #{index} of {} has the same \
                             name with different settings, so their metrics would collide",
                            path.display()
                        ))
                        .with_key("name")
                        .with_hint("give each instance of a check a unique `name`"),
                    );
                    return false;
                }
                by_name.insert(key, (inst.source.clone(), inst.index));
            }
            by_id.insert(inst.id.clone(), (inst.source.clone(), inst.index));
            true
        });
    }
    files.retain(|f| !f.instances.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(raw: Value, init_config: Value) -> Result<InstanceConfig, Vec<ConfigError>> {
        let init = parse_init_config("c", Path::new("f.yaml"), init_config.as_object().unwrap())
            .expect("valid init_config");
        build_instance("c", Path::new("f.yaml"), 2, &raw, &init_config, &init)
    }

    fn one_error(raw: Value) -> ConfigError {
        let errors = build(raw, json!({})).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn fnv1a_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn id_format_and_content() {
        let id = instance_id(
            "process",
            None,
            &json!({"b": 1, "a": [true, "x"]}),
            &json!({}),
        );
        let expected = fnv1a64(br#"{"a":[true,"x"],"b":1}{}"#);
        assert_eq!(id, format!("process:{expected:016x}"));
        let id = instance_id(
            "process",
            Some("web"),
            &json!({"name": "web"}),
            &json!({"k": null}),
        );
        let expected = fnv1a64(br#"{"name":"web"}{"k":null}"#);
        assert_eq!(id, format!("process:web:{expected:016x}"));
        let re = regex::Regex::new("^process:web:[0-9a-f]{16}$").unwrap();
        assert!(re.is_match(&id), "{id}");
    }

    #[test]
    fn reserved_keys_are_read() {
        let inst = build(
            json!({"name": "web", "tags": ["a:b"], "service": "svc", "min_collection_interval": 30,
                   "empty_default_hostname": true, "limits": {"timeout": 2}}),
            json!({}),
        )
        .unwrap();
        assert_eq!(inst.name.as_deref(), Some("web"));
        assert!(inst.id.starts_with("c:web:"), "{}", inst.id);
        assert_eq!(inst.tags, ["a:b"]);
        assert_eq!(inst.service.as_deref(), Some("svc"));
        assert_eq!(inst.interval, Duration::from_secs(30));
        assert!(inst.empty_default_hostname);
        assert_eq!(inst.limits.timeout, 2.0);
        assert_eq!(inst.index, 2);
        // Reserved keys stay visible to the check.
        assert_eq!(inst.instance["tags"], json!(["a:b"]));
    }

    #[test]
    fn namespace_names_the_id_when_name_is_absent() {
        let inst = build(json!({"namespace": "ns"}), json!({})).unwrap();
        assert!(inst.id.starts_with("c:ns:"), "{}", inst.id);
        assert_eq!(inst.name, None);
    }

    #[test]
    fn interval_and_service_precedence() {
        let inst = build(json!({}), json!({})).unwrap();
        assert_eq!(inst.interval, Duration::from_secs(15));
        assert_eq!(inst.service, None);
        let inst = build(
            json!({}),
            json!({"min_collection_interval": 60, "service": "i"}),
        )
        .unwrap();
        assert_eq!(inst.interval, Duration::from_secs(60));
        assert_eq!(inst.service.as_deref(), Some("i"));
        let inst = build(
            json!({"min_collection_interval": 5.5, "service": "x"}),
            json!({"min_collection_interval": 60, "service": "i"}),
        )
        .unwrap();
        assert_eq!(inst.interval, Duration::from_millis(5500));
        assert_eq!(inst.service.as_deref(), Some("x"));
    }

    #[test]
    fn interval_errors() {
        let e = one_error(json!({"min_collection_interval": "fast"}));
        assert_eq!(
            e.to_string(),
            "f.yaml: instance #2: key `min_collection_interval`: expected a number of seconds >= 1, \
             got \"fast\" (fix: e.g. `min_collection_interval: 30`)"
        );
        let e = one_error(json!({"min_collection_interval": 0}));
        assert!(e.message.contains("run once"), "{e}");
        assert!(
            e.hint
                .as_deref()
                .unwrap()
                .starts_with("remove `min_collection_interval`")
        );
        let e = one_error(json!({"min_collection_interval": 0.5}));
        assert_eq!(e.message, "expected a number of seconds >= 1, got 0.5");
        let e = one_error(json!({"min_collection_interval": -3}));
        assert_eq!(e.message, "expected a number of seconds >= 1, got -3");
        let errors = parse_init_config(
            "c",
            Path::new("f.yaml"),
            json!({"min_collection_interval": "x"}).as_object().unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            errors[0].key.as_deref(),
            Some("init_config.min_collection_interval")
        );
        assert_eq!(errors[0].instance, None);
    }

    #[test]
    fn reserved_key_type_errors() {
        let e = one_error(json!({"tags": "env:prod"}));
        assert_eq!(e.key.as_deref(), Some("tags"));
        assert_eq!(e.message, "expected a list of strings, got \"env:prod\"");
        let e = one_error(json!({"tags": ["a", 42]}));
        assert_eq!(e.key.as_deref(), Some("tags[1]"));
        assert_eq!(e.message, "expected a string, got 42");
        assert_eq!(e.hint.as_deref(), Some("quote it: `- \"42\"`"));
        for key in ["service", "name", "namespace"] {
            let e = one_error(json!({key: 12}));
            assert_eq!(e.key.as_deref(), Some(key));
            assert_eq!(e.message, "expected a string, got 12");
        }
        let e = one_error(json!({"empty_default_hostname": "yes"}));
        assert_eq!(e.message, "expected true or false, got \"yes\"");
        let e = one_error(json!({"limits": 5}));
        assert_eq!(e.key.as_deref(), Some("limits"));
        let e = one_error(json!({"limits": {"timeot": 5}}));
        assert_eq!(e.key.as_deref(), Some("limits.timeot"));
        assert_eq!(
            e.message,
            "unknown limit; valid limits are timeout, memory_mib, max_metrics, max_output_kib"
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `timeout`?"));
        let e = one_error(json!({"limits": {"memory_mib": 0}}));
        assert_eq!(e.key.as_deref(), Some("limits.memory_mib"));
        assert_eq!(e.message, "expected a whole number >= 1, got 0");
        let errors = build(json!({"tags": 1, "service": 2}), json!({})).unwrap_err();
        assert_eq!(errors.len(), 2, "all problems are reported at once");
    }

    #[test]
    fn null_reserved_keys_mean_unset() {
        let inst = build(
            json!({"tags": null, "min_collection_interval": null, "limits": null}),
            json!({}),
        )
        .unwrap();
        assert!(inst.tags.is_empty());
        assert_eq!(inst.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn non_mapping_instance_is_an_error() {
        let e = one_error(json!("url: x"));
        assert_eq!(e.instance, Some(2));
        assert!(
            e.message.starts_with("expected a mapping of settings"),
            "{e}"
        );
    }

    #[test]
    fn apply_limits_layers_instance_over_defaults() {
        let mut inst = build(json!({"limits": {"timeout": 2}}), json!({})).unwrap();
        let defaults = Limits {
            timeout: 20.0,
            memory_mib: 8,
            max_metrics: 5,
            max_output_kib: 1,
        };
        inst.apply_limits(defaults);
        assert_eq!(
            inst.limits,
            Limits {
                timeout: 2.0,
                ..defaults
            }
        );
        let mut plain = build(json!({}), json!({})).unwrap();
        plain.apply_limits(defaults);
        assert_eq!(plain.limits, defaults);
    }
}
