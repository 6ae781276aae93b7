//! Validation of an instance (and its `init_config`) against the JSON
//! Schemas a check plugin declares, with errors in plain words.
//!
//! The Datadog Agent lets bogus keys through silently (datadog-agent #3125);
//! here a key the check does not know is a warning with a did-you-mean, and
//! a wrong type or a missing key is an error naming the key path.

use std::collections::BTreeSet;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, ValidationError, Validator};
use regex::Regex;
use serde_json::Value;

use super::InstanceConfig;
use super::error::ConfigError;
use super::instance::{RESERVED_INIT_CONFIG_KEYS, RESERVED_INSTANCE_KEYS};
use super::secrets::{MASK, is_secret_key};
use super::suggest::{did_you_mean_hint, json_type, show_typed, show_value};

/// Outcome of validating one instance against a check's schemas.
///
/// Errors mean the check would misread its configuration and must not be
/// scheduled; warnings (unknown keys) are printed but do not block it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaReport {
    /// Problems that make the configuration unusable.
    pub errors: Vec<ConfigError>,
    /// Keys the check ignores (probably typos).
    pub warnings: Vec<ConfigError>,
}

/// Compile-checks a schema: plugins hand us schemas as JSON text, and a
/// broken schema is the plugin's bug, reported once at load rather than per
/// instance. References must be local (`#/$defs/...`); nothing is fetched.
pub fn parse_schema(text: &str) -> Result<Value, String> {
    let schema: Value =
        serde_json::from_str(text).map_err(|e| format!("schema is not valid JSON: {e}"))?;
    compile(&schema)?;
    Ok(schema)
}

fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(schema)
        .map_err(|e| format!("schema is not a valid JSON Schema: {e}"))
}

/// Validates one instance (and its `init_config`) against the schemas a
/// plugin declares.
///
/// Reserved keys (`tags`, `min_collection_interval`, ...) are the runner's:
/// they are removed before validation unless the schema declares them at
/// its top level, in which case the schema's rules apply too.
pub fn validate_instance(
    instance: &InstanceConfig,
    instance_schema: &Value,
    init_config_schema: Option<&Value>,
) -> SchemaReport {
    let mut report = SchemaReport::default();
    let at_instance = |e: ConfigError| {
        e.with_check(&instance.check)
            .with_file(&instance.source)
            .with_instance(instance.index)
    };
    validate_value(
        &instance.instance,
        instance_schema,
        RESERVED_INSTANCE_KEYS,
        "",
        &at_instance,
        &mut report,
    );
    if let Some(schema) = init_config_schema {
        let at_file = |e: ConfigError| e.with_check(&instance.check).with_file(&instance.source);
        validate_value(
            &instance.init_config,
            schema,
            RESERVED_INIT_CONFIG_KEYS,
            "init_config",
            &at_file,
            &mut report,
        );
    }
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
    value: &Value,
    schema: &Value,
    reserved: &[&str],
    prefix: &str,
    locate: &dyn Fn(ConfigError) -> ConfigError,
    report: &mut SchemaReport,
) {
    let validator = match compile(schema) {
        Ok(v) => v,
        Err(e) => {
            let what = if prefix.is_empty() {
                "instance"
            } else {
                prefix
            };
            report.errors.push(locate(
                ConfigError::new(format!("the check's {what} schema is unusable: {e}"))
                    .with_hint("this is a bug in the check plugin; report it to its author"),
            ));
            return;
        }
    };
    let shape = Shape::of(schema, schema, 0);
    let mut stripped = value.clone();
    if let Value::Object(map) = &mut stripped {
        map.retain(|k, _| !reserved.contains(&k.as_str()) || shape.props.contains(k));
    }

    let mut findings = Vec::new();
    // Unknown top-level keys: warnings, with suggestions from the schema
    // and the reserved keys.
    if let (Value::Object(map), true) = (&stripped, shape.known && !shape.open) {
        for key in map.keys() {
            if !shape.allows(key) {
                findings.push(unknown_key(
                    key.clone(),
                    key,
                    shape
                        .props
                        .iter()
                        .map(String::as_str)
                        .chain(reserved.iter().copied()),
                ));
            }
        }
    }
    for error in validator.iter_errors(&stripped) {
        describe(&error, schema, shape.known && !shape.open, &mut findings);
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

fn unknown_key<'a>(
    path: String,
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Finding {
    Finding {
        warning: true,
        key: Some(path),
        message: "unknown key; the check does not use it".to_string(),
        hint: Some(did_you_mean_hint(key, candidates).unwrap_or_else(|| "remove it".to_string())),
    }
}

/// Unknown-key warnings for `names` found in the object at `segments`
/// (`path` is its dotted key path), with suggestions from its schema.
fn unknown_keys<'a>(
    root: &Value,
    segments: &[LocationSegment<'_>],
    path: &str,
    names: impl Iterator<Item = &'a String>,
    out: &mut Vec<Finding>,
) {
    let shape = Shape::at(root, segments);
    for name in names {
        let full = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        out.push(unknown_key(
            full,
            name,
            shape.props.iter().map(String::as_str),
        ));
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
fn describe(
    error: &ValidationError<'_>,
    root: &Value,
    root_unknowns_reported: bool,
    out: &mut Vec<Finding>,
) {
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
            err(format!("expected {}, got {}", type_words(kind), got()))
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
            if !(path.is_empty() && root_unknowns_reported) {
                unknown_keys(root, &segments, &path, unexpected.iter(), out);
            }
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
        // object itself: its keys are unknown keys, not errors.
        ValidationErrorKind::FalseSchema
            if error
                .schema_path()
                .as_str()
                .ends_with("/additionalProperties") =>
        {
            if let (Value::Object(map), false) = (value, path.is_empty() && root_unknowns_reported)
            {
                let shape = Shape::at(root, &segments);
                let unexpected = map.keys().filter(|k| !shape.allows(k));
                unknown_keys(root, &segments, &path, unexpected, out);
            }
            return;
        }
        ValidationErrorKind::FalseSchema => err("this key is not allowed".to_string()),
        ValidationErrorKind::Not { .. } => err(format!("the value {} is not allowed", shown())),
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if describe_alternatives(context, &segments, root, out) {
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

/// `anyOf`/`oneOf` failures, explained by the branch the user most likely
/// meant. Returns false when no good explanation exists.
fn describe_alternatives(
    context: &[Vec<ValidationError<'static>>],
    segments: &[LocationSegment<'_>],
    root: &Value,
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
            describe(e, root, false, out);
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

/// What an object schema says about its keys.
#[derive(Debug, Default)]
struct Shape {
    /// Declared property names.
    props: BTreeSet<String>,
    /// `patternProperties` patterns.
    patterns: Vec<Regex>,
    /// Whether the schema describes its keys at all.
    known: bool,
    /// Extra keys are explicitly welcome (`additionalProperties: true` or a schema).
    open: bool,
}

impl Shape {
    /// The shape of `schema`, following local `$ref`s and merging
    /// `allOf`/`anyOf`/`oneOf` branches.
    fn of(root: &Value, schema: &Value, depth: usize) -> Shape {
        let mut shape = Shape::default();
        shape.merge(root, schema, depth);
        shape
    }

    fn merge(&mut self, root: &Value, schema: &Value, depth: usize) {
        if depth > 32 {
            return;
        }
        let Some(obj) = schema.as_object() else {
            return;
        };
        if let Some(target) = obj.get("$ref").and_then(|r| resolve_ref(root, r)) {
            self.merge(root, target, depth + 1);
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            self.known = true;
            self.props.extend(props.keys().cloned());
        }
        if let Some(patterns) = obj.get("patternProperties").and_then(Value::as_object) {
            self.known = true;
            self.patterns
                .extend(patterns.keys().filter_map(|p| Regex::new(p).ok()));
        }
        for keyword in ["additionalProperties", "unevaluatedProperties"] {
            match obj.get(keyword) {
                Some(Value::Bool(false)) => self.known = true,
                Some(Value::Bool(true) | Value::Object(_)) => self.open = true,
                _ => {}
            }
        }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if let Some(branches) = obj.get(keyword).and_then(Value::as_array) {
                for branch in branches {
                    self.merge(root, branch, depth + 1);
                }
            }
        }
    }

    /// The shape of the subschema at an instance location.
    fn at(root: &Value, segments: &[LocationSegment<'_>]) -> Shape {
        let mut schema = root;
        for seg in segments {
            match find_child(root, schema, seg, 0) {
                Some(child) => schema = child,
                None => return Shape::default(),
            }
        }
        Shape::of(root, schema, 0)
    }

    fn allows(&self, key: &str) -> bool {
        self.props.contains(key) || self.patterns.iter().any(|p| p.is_match(key))
    }
}

/// The subschema describing one child (property or list item) of `schema`.
fn find_child<'a>(
    root: &'a Value,
    schema: &'a Value,
    seg: &LocationSegment<'_>,
    depth: usize,
) -> Option<&'a Value> {
    if depth > 32 {
        return None;
    }
    let obj = schema.as_object()?;
    let direct = match seg {
        LocationSegment::Property(p) => obj
            .get("properties")
            .and_then(|props| props.get(p.as_ref()))
            .or_else(|| obj.get("additionalProperties").filter(|a| a.is_object())),
        LocationSegment::Index(_) => obj.get("items"),
    };
    if direct.is_some() {
        return direct;
    }
    if let Some(target) = obj.get("$ref").and_then(|r| resolve_ref(root, r))
        && let Some(found) = find_child(root, target, seg, depth + 1)
    {
        return Some(found);
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|k| obj.get(*k).and_then(Value::as_array))
        .flatten()
        .find_map(|branch| find_child(root, branch, seg, depth + 1))
}

/// Resolves a local reference (`#/$defs/Name`) against the root schema.
fn resolve_ref<'a>(root: &'a Value, reference: &Value) -> Option<&'a Value> {
    let pointer = reference.as_str()?.strip_prefix('#')?;
    root.pointer(pointer)
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
            limits: Limits::default(),
        }
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
        validate_instance(&instance(value, json!({})), &schema(), None)
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
        let report = validate_instance(
            &instance(
                json!({"pid": 1, "name": "a", "nmae": 1, "tags": []}),
                json!({}),
            ),
            &s,
            None,
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
        let report = validate_instance(
            &instance(
                json!({"pid": 1, "name": "a", "tags": ["a", "b"]}),
                json!({}),
            ),
            &s,
            None,
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
            "properties": {"procfs_path": {"type": "string"}}
        });
        let inst = instance(
            json!({"pid": 1, "name": "a"}),
            json!({"procfs_path": 3, "service": "s", "min_collection_interval": 20, "prcfs": 1}),
        );
        let report = validate_instance(&inst, &schema(), Some(&init_schema));
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert_eq!(
            report.errors[0].key.as_deref(),
            Some("init_config.procfs_path")
        );
        assert_eq!(report.errors[0].instance, None);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(report.warnings[0].key.as_deref(), Some("init_config.prcfs"));
    }

    #[test]
    fn schema_parsing() {
        assert!(parse_schema(&schema().to_string()).is_ok());
        assert!(
            parse_schema("{not json")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(parse_schema(r#"{"type": 12}"#).is_err());
        assert!(
            parse_schema(r#"{"$ref": "https://example.com/schema.json"}"#).is_err(),
            "remote references must not be fetched"
        );
    }

    #[test]
    fn broken_schema_is_an_error_not_a_panic() {
        let report = validate_instance(&instance(json!({}), json!({})), &json!({"type": 12}), None);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].message.contains("schema is unusable"));
    }
}
