//! Validation of an instance (and its `init_config`) against the JSON
//! Schemas a check plugin declares, with errors in plain words.
//!
//! The Datadog Agent lets bogus keys through silently (datadog-agent #3125);
//! here a key the check does not know is a warning with a did-you-mean, and
//! a wrong type or a missing key is an error naming the key path. The
//! schemas are compiled once per check ([`CheckSchemas`]); unknown keys are
//! found by the validator itself (see [`Schema`]).

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::InstanceConfig;
use super::error::ConfigError;
use super::instance::{RESERVED_INIT_CONFIG_KEYS, RESERVED_INSTANCE_KEYS};
use super::schema::{Coercion, Schema};
use super::secrets::{MASK, is_secret_key};
use super::suggest::{did_you_mean_hint, json_type, show_typed, show_value};

/// Outcome of validating one instance against a check's schemas.
///
/// Errors mean the check would misread its configuration and must not be
/// scheduled; warnings (unknown keys, odd booleans) are printed but do not
/// block it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaReport {
    /// Problems that make the configuration unusable.
    pub errors: Vec<ConfigError>,
    /// Keys the check ignores (probably typos), values read leniently.
    pub warnings: Vec<ConfigError>,
}

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
    let mut report = SchemaReport::default();
    let check = instance.check.clone();
    let source = instance.source.clone();
    let index = instance.index;
    let at_instance = |e: ConfigError| e.with_check(&check).with_file(&source).with_instance(index);
    validate_value(
        &mut instance.instance,
        &schemas.instance,
        "",
        &at_instance,
        &mut report,
    );
    if let Some(schema) = &schemas.init_config {
        let at_file = |e: ConfigError| e.with_check(&check).with_file(&source);
        validate_value(
            &mut instance.init_config,
            schema,
            "init_config",
            &at_file,
            &mut report,
        );
    }
    report
}

/// Validates one value against an option schema of the runner's own (the
/// generic instance options), with the same wording as a check's schema.
/// Unknown keys are not looked for: the value also holds the check's keys.
pub(crate) fn validate_options(
    value: &mut Value,
    schema: &Schema,
    prefix: &str,
    locate: &dyn Fn(ConfigError) -> ConfigError,
) -> SchemaReport {
    let mut report = SchemaReport::default();
    validate_value(value, schema, prefix, locate, &mut report);
    report
}

/// A problem before it is located in a file.
struct Finding {
    warning: bool,
    key: Option<String>,
    message: String,
    hint: Option<String>,
}

fn validate_value(
    value: &mut Value,
    schema: &Schema,
    prefix: &str,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    report: &mut SchemaReport,
) {
    let (coercions, errors) = schema.validate(value);
    let mut findings: Vec<Finding> = coercions.iter().filter_map(odd_boolean).collect();
    for error in &errors {
        describe(error, schema, &mut findings);
    }
    for f in findings {
        let key = match (prefix.is_empty(), f.key) {
            (true, key) => key,
            (false, Some(k)) => Some(format!("{prefix}.{k}")),
            (false, None) => Some(prefix.to_string()),
        };
        let mut e = ConfigError::new(f.message).with_hint_opt(f.hint);
        e.key = key;
        let e = locate(e);
        let list = if f.warning {
            &mut report.warnings
        } else {
            &mut report.errors
        };
        if !list.contains(&e) {
            list.push(e);
        }
    }
}

/// A warning for a boolean written in a way that is probably a mistake
/// (`"maybe"` reads as false, as in the Agent). The usual words pass
/// silently: the Agent accepts them.
fn odd_boolean(c: &Coercion) -> Option<Finding> {
    (!c.usual).then(|| Finding {
        warning: true,
        key: (!c.key.is_empty()).then(|| c.key.clone()),
        message: format!(
            "{} is not a yes/no value; read as {}, as the Datadog Agent does",
            show_value(&c.written),
            c.read_as
        ),
        hint: Some(format!("write `{}`", c.read_as)),
    })
}

fn unknown_key(path: String, key: &str, schema: &Schema) -> Finding {
    Finding {
        warning: true,
        key: Some(path),
        message: format!("unknown key; {} does not use it", schema.owner()),
        hint: Some(
            did_you_mean_hint(key, schema.known_keys()).unwrap_or_else(|| "remove it".to_string()),
        ),
    }
}

/// Unknown-key warnings for `names` found in the object at `path`.
fn unknown_keys<'a>(
    path: &str,
    names: impl Iterator<Item = &'a String>,
    schema: &Schema,
    out: &mut Vec<Finding>,
) {
    for name in names {
        let full = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        out.push(unknown_key(full, name, schema));
    }
}

/// Dotted key path of an instance location (`servers[0].port`).
fn key_path<'a>(segments: impl IntoIterator<Item = LocationSegment<'a>>) -> String {
    let mut out = String::new();
    for seg in segments {
        match seg {
            LocationSegment::Property(p) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&p);
            }
            LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Turns one validator error into findings.
fn describe(error: &ValidationError<'_>, schema: &Schema, out: &mut Vec<Finding>) {
    let segments: Vec<LocationSegment<'_>> = error.instance_path().iter().collect();
    let path = key_path(segments.iter().cloned());
    let key = (!path.is_empty()).then(|| path.clone());
    let secret = segments
        .iter()
        .any(|s| matches!(s, LocationSegment::Property(p) if is_secret_key(p)));
    let value: &Value = error.instance();
    let got = || {
        if secret {
            format!("{} {MASK}", json_type(value))
        } else {
            show_typed(value)
        }
    };
    let shown = || {
        if secret {
            MASK.to_string()
        } else {
            show_value(value)
        }
    };
    let err = |message: String| Finding {
        warning: false,
        key: key.clone(),
        message,
        hint: None,
    };
    let finding = match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let mut f = err(format!("expected {}, got {}", type_words(kind), got()));
            f.hint = example_hint(error, &segments, schema);
            f
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), String::from);
            Finding {
                warning: false,
                key: key.clone(),
                message: format!("missing required key `{name}`"),
                hint: Some(format!("add `{name}: ...`")),
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            unknown_keys(&path, unexpected.iter(), schema, out);
            return;
        }
        ValidationErrorKind::Enum { options } => {
            let list = options.as_array().cloned().unwrap_or_default();
            let mut f = err(format!("expected {}, got {}", one_of(&list), shown()));
            if let Value::String(s) = value {
                f.hint = did_you_mean_hint(s, list.iter().filter_map(Value::as_str));
            }
            f
        }
        ValidationErrorKind::Constant { expected_value } => {
            err(format!("expected {expected_value}, got {}", shown()))
        }
        ValidationErrorKind::Minimum { limit } => {
            err(format!("expected a value >= {limit}, got {}", shown()))
        }
        ValidationErrorKind::Maximum { limit } => {
            err(format!("expected a value <= {limit}, got {}", shown()))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            err(format!("expected a value > {limit}, got {}", shown()))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            err(format!("expected a value < {limit}, got {}", shown()))
        }
        ValidationErrorKind::MultipleOf { multiple_of } => err(format!(
            "expected a multiple of {multiple_of}, got {}",
            shown()
        )),
        ValidationErrorKind::MinLength { limit } => {
            err(format!("expected at least {limit} characters"))
        }
        ValidationErrorKind::MaxLength { limit } => {
            err(format!("expected at most {limit} characters"))
        }
        ValidationErrorKind::MinItems { limit } => err(format!("expected at least {limit} items")),
        ValidationErrorKind::MaxItems { limit } => err(format!("expected at most {limit} items")),
        ValidationErrorKind::MinProperties { limit } => {
            err(format!("expected at least {limit} keys"))
        }
        ValidationErrorKind::MaxProperties { limit } => {
            err(format!("expected at most {limit} keys"))
        }
        ValidationErrorKind::UniqueItems => err("expected every item to be different".to_string()),
        ValidationErrorKind::Pattern { pattern } => err(format!(
            "expected a string matching `{pattern}`, got {}",
            shown()
        )),
        ValidationErrorKind::Format { format } => {
            err(format!("expected a valid {format}, got {}", shown()))
        }
        // `additionalProperties: false` on an object without `properties`
        // (e.g. the SDK's `NoInitConfig`) is reported this way, at the
        // unexpected key itself: an unknown key, not an error.
        ValidationErrorKind::FalseSchema
            if error
                .schema_path()
                .as_str()
                .ends_with("/additionalProperties") =>
        {
            if let Some(LocationSegment::Property(name)) = segments.last() {
                out.push(unknown_key(path.clone(), name, schema));
            }
            return;
        }
        ValidationErrorKind::FalseSchema => err("this key is not allowed".to_string()),
        ValidationErrorKind::Not { .. } => err(format!("the value {} is not allowed", shown())),
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if describe_alternatives(context, &segments, schema, out) {
                return;
            }
            err(format!(
                "{} does not match any of the forms the check accepts",
                shown()
            ))
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => err(format!(
            "{} matches more than one of the forms the check accepts",
            shown()
        )),
        ValidationErrorKind::Referencing(e) => err(format!(
            "the check's schema has an unresolvable reference: {e}"
        )),
        _ if secret => err(format!("invalid value ({} rule)", error.kind().keyword())),
        _ => err(error.to_string()),
    };
    out.push(finding);
}

/// "e.g. `key: <example>`" from the schema's `examples` for the failing key.
fn example_hint(
    error: &ValidationError<'_>,
    segments: &[LocationSegment<'_>],
    schema: &Schema,
) -> Option<String> {
    let example = schema.example_at(error.schema_path().as_str())?;
    let key = segments.iter().rev().find_map(|s| match s {
        LocationSegment::Property(p) => Some(p.to_string()),
        LocationSegment::Index(_) => None,
    })?;
    Some(format!("e.g. `{key}: {example}`"))
}

/// `anyOf`/`oneOf` failures, explained by the branch the user most likely
/// meant. Returns false when no good explanation exists.
fn describe_alternatives(
    context: &[Vec<ValidationError<'static>>],
    segments: &[LocationSegment<'_>],
    schema: &Schema,
    out: &mut Vec<Finding>,
) -> bool {
    let here = |e: &ValidationError<'_>| e.instance_path().iter().collect::<Vec<_>>() == segments;
    // Every branch failed right here on type/enum/const: merge what they allow.
    let shallow = |e: &ValidationError<'_>| {
        here(e)
            && matches!(
                e.kind(),
                ValidationErrorKind::Type { .. }
                    | ValidationErrorKind::Enum { .. }
                    | ValidationErrorKind::Constant { .. }
            )
    };
    if !context.is_empty()
        && context
            .iter()
            .all(|b| !b.is_empty() && b.iter().all(shallow))
    {
        let mut allowed: Vec<String> = Vec::new();
        let mut value = None;
        for branch in context {
            for e in branch {
                value = Some(e.instance().clone().into_owned());
                let words = match e.kind() {
                    ValidationErrorKind::Type { kind } => type_words(kind),
                    ValidationErrorKind::Enum { options } => options
                        .as_array()
                        .map(|o| {
                            o.iter()
                                .map(Value::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    ValidationErrorKind::Constant { expected_value } => expected_value.to_string(),
                    _ => continue,
                };
                if !allowed.contains(&words) {
                    allowed.push(words);
                }
            }
        }
        let secret = segments
            .iter()
            .any(|s| matches!(s, LocationSegment::Property(p) if is_secret_key(p)));
        let got = match (&value, secret) {
            (Some(v), false) => show_typed(v),
            (Some(v), true) => format!("{} {MASK}", json_type(v)),
            (None, _) => "something else".to_string(),
        };
        let path = key_path(segments.iter().cloned());
        out.push(Finding {
            warning: false,
            key: (!path.is_empty()).then_some(path),
            message: format!("expected {}, got {got}", join_or(&allowed)),
            hint: None,
        });
        return true;
    }
    // Otherwise: the branches whose type matched (no type error right here).
    let matching: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|b| {
            !b.iter()
                .any(|e| here(e) && matches!(e.kind(), ValidationErrorKind::Type { .. }))
        })
        .collect();
    if let [branch] = matching.as_slice() {
        for e in branch.iter() {
            describe(e, schema, out);
        }
        return true;
    }
    false
}

fn type_words(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => {
            // "string or null" reads better than "null or string".
            let (nulls, mut names): (Vec<String>, Vec<String>) =
                set.iter().map(|t| t.to_string()).partition(|t| t == "null");
            names.extend(nulls);
            join_or(&names)
        }
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn one_of(options: &[Value]) -> String {
    let shown: Vec<String> = options.iter().map(Value::to_string).collect();
    match shown.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use serde_json::json;
    use std::path::PathBuf;
    use std::time::Duration;

    fn instance(value: Value, init_config: Value) -> InstanceConfig {
        InstanceConfig {
            id: "process:0000000000000000".to_string(),
            check: "process".to_string(),
            source: PathBuf::from("conf.d/process.d/conf.yaml"),
            index: 0,
            init_config,
            instance: value,
            interval: Duration::from_secs(15),
            tags: Vec::new(),
            service: None,
            name: None,
            empty_default_hostname: false,
            disable_generic_tags: false,
            metric_patterns: Default::default(),
            procfs_path: None,
            limits_override: Default::default(),
            limits: Limits::default(),
        }
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
