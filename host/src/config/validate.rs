//! Validation of an instance (and its `init_config`) against the JSON
//! Schemas a check plugin declares, with errors in plain words.
//!
//! The Datadog Agent lets bogus keys through silently (datadog-agent #3125);
//! here a key the check does not know is a warning with a did-you-mean, and
//! a wrong type or a missing key is an error naming the key path. Unknown
//! keys are found by the validator itself (see [`Schema`]); this module
//! words what it finds.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::error::ConfigError;
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

/// Validates one value (an instance, an `init_config`, runner.yaml)
/// against a schema, in plain words. Booleans written the Datadog way are
/// rewritten in place where the schema wants one. `prefix` is put in front
/// of key paths (`init_config`); `locate` places each problem.
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
