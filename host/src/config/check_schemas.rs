//! [`CheckSchemas`]: the schemas a check declares, compiled once when it is
//! loaded, and [`validate_instance`], which checks an instance (and its
//! `init_config`) against them. The options every check accepts are
//! declared in both schemas, so they are never unknown keys.

use super::InstanceConfig;
use super::error::ConfigError;
use super::generic::{RESERVED_INIT_CONFIG_KEYS, RESERVED_INSTANCE_KEYS};
use super::schema::Schema;
use super::validate::{SchemaReport, validate_options};

/// A check's schemas, compiled once when the check is loaded.
#[derive(Debug)]
pub struct CheckSchemas {
    pub instance: Schema,
    /// None when the check declares no init_config schema.
    pub init_config: Option<Schema>,
}

impl CheckSchemas {
    /// Compiles the schemas a check declares in its `info` (JSON text; an
    /// empty init_config schema means none). A broken or pathological
    /// schema is the plugin's bug, reported once, at load.
    pub fn parse(instance: &str, init_config: &str) -> Result<CheckSchemas, String> {
        let instance = Schema::parse(instance, RESERVED_INSTANCE_KEYS)
            .map_err(|e| format!("its instance schema is unusable: {e}"))?;
        let init_config = if init_config.trim().is_empty() {
            None
        } else {
            Some(
                Schema::parse(init_config, RESERVED_INIT_CONFIG_KEYS)
                    .map_err(|e| format!("its init_config schema is unusable: {e}"))?,
            )
        };
        Ok(CheckSchemas {
            instance,
            init_config,
        })
    }
}

/// Validates one instance (and its `init_config`) against a check's
/// schemas. Booleans written the Datadog way (`"yes"`, `"false"`) are
/// turned into real booleans in `instance` where the schema wants one, so
/// the check receives what it expects.
pub fn validate_instance(instance: &mut InstanceConfig, schemas: &CheckSchemas) -> SchemaReport {
    let check = instance.check.clone();
    let source = instance.source.clone();
    let index = instance.index;
    let at_instance = |e: ConfigError| e.with_check(&check).with_file(&source).with_instance(index);
    let mut report = validate_options(&mut instance.instance, &schemas.instance, "", &at_instance);
    if let Some(schema) = &schemas.init_config {
        let at_file = |e: ConfigError| e.with_check(&check).with_file(&source);
        let init = validate_options(&mut instance.init_config, schema, "init_config", &at_file);
        report.errors.extend(init.errors);
        report.warnings.extend(init.warnings);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use serde_json::json;

    fn instance(value: Value, init_config: Value) -> InstanceConfig {
        let mut config = crate::config::tests_support::instance_config(value);
        config.init_config = init_config;
        config
    }

    fn schemas(instance: Value, init_config: Option<Value>) -> CheckSchemas {
        CheckSchemas::parse(
            &instance.to_string(),
            &init_config.map(|v| v.to_string()).unwrap_or_default(),
        )
        .expect("test schema compiles")
    }

    fn check(value: Value, init_config: Value, schemas: &CheckSchemas) -> SchemaReport {
        validate_instance(&mut instance(value, init_config), schemas)
    }

    /// Roughly what schemars 1.x emits for a check's config struct.
    fn schema() -> Value {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Config",
            "type": "object",
            "properties": {
                "pid": {"type": "integer", "format": "uint32", "minimum": 0},
                "name": {"type": "string"},
                "pattern": {"type": ["string", "null"]},
                "mode": {"type": "string", "enum": ["fast", "thorough"]},
                "password": {"type": ["string", "null"]},
                "thresholds": {"anyOf": [{"$ref": "#/$defs/Thresholds"}, {"type": "null"}]},
                "servers": {"type": "array", "items": {"$ref": "#/$defs/Server"}}
            },
            "required": ["pid", "name"],
            "$defs": {
                "Thresholds": {
                    "type": "object",
                    "properties": {
                        "warning": {"type": "number"},
                        "critical": {"type": "number"}
                    },
                    "required": ["warning"],
                    "additionalProperties": false
                },
                "Server": {
                    "type": "object",
                    "properties": {"host": {"type": "string"}, "port": {"type": "integer"}},
                    "required": ["host"]
                }
            }
        })
    }

    fn validate(value: Value) -> SchemaReport {
        check(value, json!({}), &schemas(schema(), None))
    }

    #[test]
    fn valid_instance_with_reserved_keys_passes() {
        let report = validate(json!({
            "pid": 1, "name": "web",
            "tags": ["env:prod"], "min_collection_interval": 30, "service": "s",
            "namespace": "n", "empty_default_hostname": true, "limits": {"timeout": 3}
        }));
        assert_eq!(report, SchemaReport::default());
    }

    #[test]
    fn wrong_type_names_key_and_types() {
        let report = validate(json!({"pid": "abc", "name": "web"}));
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        let e = &report.errors[0];
        assert_eq!(e.key.as_deref(), Some("pid"));
        assert_eq!(e.message, "expected integer, got string \"abc\"");
        assert_eq!(e.instance, Some(0));
        assert_eq!(e.check.as_deref(), Some("process"));
        assert_eq!(
            e.to_string(),
            "conf.d/process.d/conf.yaml: instance #0: key `pid`: expected integer, got string \"abc\""
        );

        let report = validate(json!({"pid": 1, "name": "web", "pattern": 5}));
        assert_eq!(
            report.errors[0].message,
            "expected string or null, got integer 5"
        );
    }

    #[test]
    fn missing_required_key() {
        let report = validate(json!({"pid": 1}));
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert_eq!(report.errors[0].message, "missing required key `name`");
        assert_eq!(report.errors[0].key, None);
    }

    #[test]
    fn nested_errors_through_refs_and_option() {
        let report = validate(json!({
            "pid": 1, "name": "web",
            "thresholds": {"warning": "high", "critcal": 3},
            "servers": [{"host": "a", "port": 1}, {"port": "x"}]
        }));
        let errors: Vec<(Option<&str>, &str)> = report
            .errors
            .iter()
            .map(|e| (e.key.as_deref(), e.message.as_str()))
            .collect();
        assert!(
            errors.contains(&(
                Some("thresholds.warning"),
                "expected number, got string \"high\""
            )),
            "{errors:?}"
        );
        assert!(
            errors.contains(&(
                Some("servers[1].port"),
                "expected integer, got string \"x\""
            )),
            "{errors:?}"
        );
        assert!(
            errors.contains(&(Some("servers[1]"), "missing required key `host`")),
            "{errors:?}"
        );
        // additionalProperties: false → a warning, with a suggestion.
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        let w = &report.warnings[0];
        assert_eq!(w.key.as_deref(), Some("thresholds.critcal"));
        assert_eq!(w.hint.as_deref(), Some("did you mean `critical`?"));
    }

    #[test]
    fn unknown_key_is_a_warning_with_did_you_mean() {
        let report = validate(json!({"pid": 1, "name": "web", "pdi": 2, "tag": ["a"], "zzzz": 1}));
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let warnings: Vec<(Option<&str>, Option<&str>)> = report
            .warnings
            .iter()
            .map(|w| (w.key.as_deref(), w.hint.as_deref()))
            .collect();
        assert_eq!(
            warnings,
            [
                (Some("pdi"), Some("did you mean `pid`?")),
                (Some("tag"), Some("did you mean `tags`?")),
                (Some("zzzz"), Some("remove it")),
            ]
        );
        assert_eq!(
            report.warnings[0].message,
            "unknown key; the check does not use it"
        );
    }

    #[test]
    fn additional_properties_false_at_top_is_a_warning_not_an_error() {
        let mut s = schema();
        s["additionalProperties"] = json!(false);
        let report = check(
            json!({"pid": 1, "name": "a", "nmae": 1, "tags": []}),
            json!({}),
            &schemas(s, None),
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(report.warnings[0].key.as_deref(), Some("nmae"));
        assert_eq!(
            report.warnings[0].hint.as_deref(),
            Some("did you mean `name`?")
        );
    }

    #[test]
    fn reserved_key_declared_by_schema_is_validated_by_it() {
        let mut s = schema();
        s["properties"]["tags"] =
            json!({"type": "array", "items": {"type": "string"}, "maxItems": 1});
        let report = check(
            json!({"pid": 1, "name": "a", "tags": ["a", "b"]}),
            json!({}),
            &schemas(s, None),
        );
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].key.as_deref(), Some("tags"));
        assert_eq!(report.errors[0].message, "expected at most 1 items");
    }

    #[test]
    fn enum_error_suggests() {
        let report = validate(json!({"pid": 1, "name": "a", "mode": "fats"}));
        let e = &report.errors[0];
        assert_eq!(
            e.message,
            "expected one of \"fast\", \"thorough\", got \"fats\""
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `fast`?"));
    }

    #[test]
    fn secrets_are_not_echoed() {
        let report = validate(json!({"pid": 1, "name": "a", "password": 12345}));
        assert_eq!(
            report.errors[0].message,
            "expected string or null, got integer ********"
        );
    }

    #[test]
    fn init_config_is_validated_when_schema_given() {
        let init_schema = json!({
            "type": "object",
            "properties": {"interval": {"type": "string"}}
        });
        let report = check(
            json!({"pid": 1, "name": "a"}),
            json!({"procfs_path": "/p", "service": "s", "min_collection_interval": 20,
                   "interval": 3, "prcfs": 1}),
            &schemas(schema(), Some(init_schema)),
        );
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert_eq!(
            report.errors[0].key.as_deref(),
            Some("init_config.interval")
        );
        assert_eq!(report.errors[0].instance, None);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(report.warnings[0].key.as_deref(), Some("init_config.prcfs"));
    }

    #[test]
    fn schema_parsing() {
        let parse = |text: &str| CheckSchemas::parse(text, "");
        assert!(parse(&schema().to_string()).is_ok());
        assert!(parse("{not json").unwrap_err().contains("not valid JSON"));
        let e = parse(r#"{"type": 12}"#).unwrap_err();
        assert!(e.starts_with("its instance schema is unusable"), "{e}");
        assert!(
            parse(r#"{"$ref": "https://example.com/schema.json"}"#).is_err(),
            "remote references must not be fetched"
        );
        let e = CheckSchemas::parse("{}", r#"{"type": 12}"#).unwrap_err();
        assert!(e.starts_with("its init_config schema is unusable"), "{e}");
    }

    #[test]
    fn booleans_are_read_like_is_affirmative_for_the_check() {
        let s = json!({"type": "object", "properties": {
            "exact_match": {"type": "boolean", "default": true}
        }});
        let mut inst = instance(json!({"exact_match": "false"}), json!({}));
        let report = validate_instance(&mut inst, &schemas(s.clone(), None));
        assert_eq!(report, SchemaReport::default());
        assert_eq!(inst.instance["exact_match"], json!(false));
        let report = check(
            json!({"exact_match": "perhaps"}),
            json!({}),
            &schemas(s, None),
        );
        assert!(report.errors.is_empty());
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        assert_eq!(report.warnings[0].key.as_deref(), Some("exact_match"));
    }
}
