//! One check instance: built from its mapping in a conf.d file (the
//! generic options read by [`super::generic`]), its Datadog-style ID, and
//! the collapsing of identical instances across conf.d.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::generic::{self, Findings, InitSettings};
use super::limits::Limits;
use super::suggest::show_value;
use super::{ConfigFile, InstanceConfig};

pub use super::generic::{DEFAULT_INTERVAL, RESERVED_INIT_CONFIG_KEYS, RESERVED_INSTANCE_KEYS};

/// Reads the generic options of `init_config` (already known to be a
/// mapping; Datadog-style booleans are rewritten in place).
pub(crate) fn parse_init_config(
    check: &str,
    file: &Path,
    init: &mut Map<String, Value>,
    out: &mut Findings,
) -> InitSettings {
    let locate = |e: ConfigError| e.with_check(check).with_file(file);
    generic::read_init(init, &locate, out)
}

/// Builds one instance from its JSON value. `id` is its ID, computed by
/// the caller from the instance as written (see [`super::agent_id`]).
/// `None` when it is unusable; the reasons are in `out.errors`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_instance(
    check: &str,
    file: &Path,
    index: usize,
    raw: Value,
    id: String,
    init_config: &Value,
    init: &InitSettings,
    out: &mut Findings,
) -> Option<InstanceConfig> {
    let locate = |e: ConfigError| e.with_check(check).with_file(file).with_instance(index);
    let Value::Object(mut map) = raw else {
        out.errors.push(locate(
            ConfigError::new(format!(
                "expected a mapping of settings, got {}",
                show_value(&raw)
            ))
            .with_hint(
                "write each instance as `- key: value`; use `- {}` for one without settings",
            ),
        ));
        return None;
    };
    let generic = generic::read_instance(&mut map, init, &locate, out)?;
    let instance = Value::Object(map);
    Some(InstanceConfig {
        id,
        check: check.to_string(),
        source: file.to_path_buf(),
        index,
        init_config: init_config.clone(),
        instance,
        interval: generic.interval,
        tags: generic.tags,
        service: generic.service,
        name: generic.name,
        empty_default_hostname: generic.empty_default_hostname,
        disable_generic_tags: generic.disable_generic_tags,
        raw_command_lines: generic.raw_command_lines,
        network: generic.network,
        metric_patterns: generic.metric_patterns,
        procfs_path: init.procfs_path.clone().map(PathBuf::from),
        limits_override: generic.limits,
        limits: Limits::default().with(&generic.limits),
    })
}

impl InstanceConfig {
    /// Sets `limits` to `defaults` (usually runner.yaml's) overridden by the
    /// instance's own `limits:` map. Loading uses the built-in defaults;
    /// [`super::load`] calls this with the runner's.
    pub fn apply_limits(&mut self, defaults: Limits) {
        self.limits = defaults.with(&self.limits_override);
    }
}

/// Collapses identical instances (same ID: a warning naming both places),
/// as the Agent does. The first one, in path order, is kept. Two instances
/// may share a `name`: their IDs differ by their settings, as in the Agent.
/// Files left without instances are dropped.
pub(crate) fn dedupe(files: &mut Vec<ConfigFile>, warnings: &mut Vec<ConfigError>) {
    let mut by_id: HashMap<String, (PathBuf, usize)> = HashMap::new();
    for file in files.iter_mut() {
        file.instances.retain(|inst| {
            if let Some((path, index)) = by_id.get(&inst.id) {
                warnings.push(
                    ConfigError::new(format!(
                        "identical to instance #{index} of {} (ID `{}`); it runs once",
                        crate::escape::for_terminal(&path.display().to_string()),
                        crate::escape::for_terminal(&inst.id)
                    ))
                    .with_check(&inst.check)
                    .with_file(&inst.source)
                    .with_instance(inst.index),
                );
                return false;
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
    use std::time::Duration;

    fn build(raw: Value, init_config: Value) -> (Option<InstanceConfig>, Findings) {
        let mut out = Findings::default();
        let mut init_map = init_config.as_object().unwrap().clone();
        let init = parse_init_config("c", Path::new("f.yaml"), &mut init_map, &mut out);
        let id = super::super::agent_id::instance_id(
            "c",
            &raw,
            &init_config,
            std::slice::from_ref(&raw),
        );
        let inst = build_instance(
            "c",
            Path::new("f.yaml"),
            2,
            raw,
            id,
            &Value::Object(init_map),
            &init,
            &mut out,
        );
        (inst, out)
    }

    #[test]
    fn generic_options_are_read() {
        let (inst, out) = build(
            json!({"name": "web", "tags": ["a:b"], "service": "svc", "min_collection_interval": 30,
                   "empty_default_hostname": "yes", "limits": {"timeout": 2}}),
            json!({"procfs_path": "/host/proc"}),
        );
        let inst = inst.unwrap();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(inst.name.as_deref(), Some("web"));
        assert!(inst.id.starts_with("c:web:"), "{}", inst.id);
        assert_eq!(inst.tags, ["a:b"]);
        assert_eq!(inst.service.as_deref(), Some("svc"));
        assert_eq!(inst.interval, Duration::from_secs(30));
        assert!(inst.empty_default_hostname);
        assert_eq!(inst.limits.timeout, 2.0);
        assert_eq!(inst.index, 2);
        assert_eq!(inst.procfs_path.as_deref(), Some(Path::new("/host/proc")));
        // Reserved keys stay visible to the check, booleans made real.
        assert_eq!(inst.instance["tags"], json!(["a:b"]));
        assert_eq!(inst.instance["empty_default_hostname"], json!(true));
    }

    #[test]
    fn namespace_names_the_id_when_name_is_absent() {
        let (inst, _) = build(json!({"namespace": "ns"}), json!({}));
        let inst = inst.unwrap();
        assert!(inst.id.starts_with("c:ns:"), "{}", inst.id);
        assert_eq!(inst.name, None);
    }

    #[test]
    fn non_mapping_instance_is_an_error() {
        let (inst, out) = build(json!("url: x"), json!({}));
        assert!(inst.is_none());
        let e = &out.errors[0];
        assert_eq!(e.instance, Some(2));
        assert!(
            e.message.starts_with("expected a mapping of settings"),
            "{e}"
        );
    }

    #[test]
    fn apply_limits_layers_instance_over_defaults() {
        let (inst, _) = build(json!({"limits": {"timeout": 2}}), json!({}));
        let mut inst = inst.unwrap();
        let defaults = Limits {
            timeout: 20.0,
            memory_mib: 8,
            max_metrics: 5,
            max_output_kib: 1,
            ..Limits::default()
        };
        inst.apply_limits(defaults);
        assert_eq!(
            inst.limits,
            Limits {
                timeout: 2.0,
                ..defaults
            }
        );
        let (plain, _) = build(json!({}), json!({}));
        let mut plain = plain.unwrap();
        plain.apply_limits(defaults);
        assert_eq!(plain.limits, defaults);
    }

    #[test]
    fn reserved_keys_match_the_option_schemas() {
        let keys_of = |schema: Value| {
            let mut keys: Vec<String> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let sorted = |list: &[&str]| {
            let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            keys_of(schemars::schema_for!(generic::InstanceOptions).to_value()),
            sorted(RESERVED_INSTANCE_KEYS)
        );
        assert_eq!(
            keys_of(schemars::schema_for!(generic::InitOptions).to_value()),
            sorted(RESERVED_INIT_CONFIG_KEYS)
        );
    }
}
