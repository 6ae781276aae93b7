//! [`Schema`]: a JSON Schema compiled once, when a check is loaded, and
//! used for every instance of that check.
//!
//! Compiling prepares the schema so the validator itself reports what users
//! need to hear about:
//! - keys the runner reads for every check (`tags`, `min_collection_interval`,
//!   ...) are declared at the top level, so they are never "unknown";
//! - every object schema that lists its `properties` but says nothing about
//!   other keys gets `unevaluatedProperties: false`, so a key the check does
//!   not know comes back as a validation error (reported as a warning);
//! - a schema whose references can recurse without moving into a property or
//!   an item (`{"anyOf": [{"$ref": "#"}, ...]}`), or that fans out too much at
//!   one spot, is refused: validating with it could run for ever.
//!
//! Validation coerces Datadog-style booleans (`"yes"`, `"false"`, `1`) where
//! the schema wants a boolean, as the Agent's `is_affirmative` reads them.

use std::collections::{BTreeSet, HashMap};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

/// Largest schema text a check may declare.
const MAX_SCHEMA_BYTES: usize = 1 << 20;
/// Most subschemas the validator may apply at one spot of an instance.
/// Real schemas stay far below; the pathological ones are exponential.
const MAX_EVALUATIONS_PER_SPOT: u64 = 10_000;
/// How deep the schema itself may nest.
const MAX_SCHEMA_DEPTH: usize = 64;

/// Keywords whose subschemas apply to the same spot of the instance.
const SAME_SPOT_LISTS: &[&str] = &["allOf", "anyOf", "oneOf"];
const SAME_SPOT_SINGLE: &[&str] = &["not", "if", "then", "else"];

/// A compiled schema, ready to validate many instances.
pub struct Schema {
    validator: Validator,
    /// The prepared schema, for looking up `examples` of a failing key.
    root: Value,
    /// Every property name the schema declares anywhere (plus the runner's
    /// keys): candidates for did-you-mean suggestions.
    known_keys: BTreeSet<String>,
    /// Who reads the keys, for "unknown key; <owner> does not use it".
    owner: &'static str,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("known_keys", &self.known_keys)
            .finish_non_exhaustive()
    }
}

/// A boolean written the way Datadog's `is_affirmative` reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Coercion {
    /// Dotted key path of the value.
    pub key: String,
    /// The value as written.
    pub written: Value,
    /// What the check receives.
    pub read_as: bool,
    /// Whether the word is one Datadog documents (`yes`, `no`, `1`, ...):
    /// anything else reads as false, which deserves a warning.
    pub usual: bool,
}

impl Schema {
    /// Parses and compiles a schema declared by a check as JSON text.
    /// `runner_keys` are top-level keys the runner reads itself.
    pub fn parse(text: &str, runner_keys: &[&str]) -> Result<Schema, String> {
        if text.len() > MAX_SCHEMA_BYTES {
            return Err(format!(
                "schema is {} bytes; at most {MAX_SCHEMA_BYTES} are accepted",
                text.len()
            ));
        }
        let schema: Value =
            serde_json::from_str(text).map_err(|e| format!("schema is not valid JSON: {e}"))?;
        Schema::compile(schema, runner_keys, false)
    }

    /// Compiles `schema`. With `open`, keys the schema does not list at its
    /// top level are allowed (the runner's own option schema, whose
    /// instance also holds the check's keys).
    pub fn compile(mut schema: Value, runner_keys: &[&str], open: bool) -> Result<Schema, String> {
        check_termination(&schema)?;
        if let Value::Object(root) = &mut schema {
            let props = root
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(props) = props {
                for key in runner_keys {
                    props.entry(*key).or_insert(Value::Bool(true));
                }
            }
            if open {
                root.insert("additionalProperties".into(), Value::Bool(true));
            }
        }
        close_objects(&mut schema, 0);
        let mut known_keys = BTreeSet::new();
        collect_keys(&schema, &mut known_keys, 0);
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build(&schema)
            .map_err(|e| format!("schema is not a valid JSON Schema: {e}"))?;
        Ok(Schema {
            validator,
            root: schema,
            known_keys,
            owner: "the check",
        })
    }

    /// The first of the `examples` the schema gives for the subschema whose
    /// keyword failed at `schema_path` (e.g. `/properties/x/type`).
    pub fn example_at(&self, schema_path: &str) -> Option<&Value> {
        let parent = &schema_path[..schema_path.rfind('/')?];
        self.root.pointer(parent)?.get("examples")?.get(0)
    }

    /// The same schema, for a file the runner reads itself (runner.yaml):
    /// messages say "the runner" rather than "the check".
    pub fn for_runner(mut self) -> Schema {
        self.owner = "the runner";
        self
    }

    /// Who reads the keys this schema describes ("the check", "the runner").
    pub fn owner(&self) -> &'static str {
        self.owner
    }

    /// Property names the schema knows, for did-you-mean suggestions.
    pub fn known_keys(&self) -> impl Iterator<Item = &str> {
        self.known_keys.iter().map(String::as_str)
    }

    /// Validates `value`, first turning Datadog-style booleans into real
    /// ones where the schema asks for a boolean (so the check receives what
    /// it expects). Returns the coercions made and the remaining errors.
    pub(crate) fn validate<'a>(
        &'a self,
        value: &'a mut Value,
    ) -> (Vec<Coercion>, Vec<jsonschema::ValidationError<'a>>) {
        let mut coercions = Vec::new();
        // Each pass coerces every boolean the validator complained about;
        // a coercion can reveal errors beneath it, hence a few passes.
        for _ in 0..4 {
            let targets: Vec<(String, Value)> = self
                .validator
                .iter_errors(&*value)
                .filter(wants_boolean)
                .map(|e| {
                    (
                        e.instance_path().as_str().to_string(),
                        e.instance().to_value(),
                    )
                })
                .collect();
            let mut changed = false;
            for (pointer, written) in targets {
                let Some(read_as) = affirmative(&written) else {
                    continue;
                };
                if let Some(slot) = value.pointer_mut(&pointer) {
                    *slot = Value::Bool(read_as);
                    changed = true;
                    coercions.push(Coercion {
                        key: pointer_to_key(&pointer),
                        usual: is_usual_boolean(&written),
                        written,
                        read_as,
                    });
                }
            }
            if !changed {
                break;
            }
        }
        let value: &'a Value = value;
        (coercions, self.validator.iter_errors(value).collect())
    }
}

/// Value of a `Cow<Value>`-like instance, owned.
trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for std::borrow::Cow<'_, Value> {
    fn to_value(&self) -> Value {
        self.as_ref().clone()
    }
}

/// A type error where a boolean is one of the accepted types.
fn wants_boolean(error: &jsonschema::ValidationError<'_>) -> bool {
    let ValidationErrorKind::Type { kind } = error.kind() else {
        return false;
    };
    let boolean = jsonschema::types::JsonType::Boolean;
    match kind {
        TypeKind::Single(t) => *t == boolean,
        TypeKind::Multiple(set) => set.contains(boolean),
    }
}

/// Datadog's `is_affirmative`: strings `yes`, `true`, `1`, `y`, `on` (any
/// case) are true, every other string false; numbers are true unless 0.
/// `None` for values that are neither (lists, mappings, null).
pub fn affirmative(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "true" | "1" | "y" | "on"
        )),
        Value::Number(n) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
        _ => None,
    }
}

/// Words people use for booleans; anything else coerced is probably a typo.
fn is_usual_boolean(value: &Value) -> bool {
    match value {
        Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "yes" | "true" | "1" | "y" | "on" | "no" | "false" | "0" | "n" | "off"
        ),
        Value::Number(n) => matches!(n.as_f64(), Some(f) if f == 0.0 || f == 1.0),
        _ => true,
    }
}

/// `/a/0/b` → `a[0].b`.
pub(crate) fn pointer_to_key(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// Adds `unevaluatedProperties: false` to object schemas that list their
/// `properties` and say nothing about other keys. Only where the schema
/// stands for a whole object (the root, a property's or an item's schema,
/// a definition): a branch of `allOf` may legitimately see only part of
/// its object's keys.
fn close_objects(schema: &mut Value, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Value::Object(obj) = schema else {
        return;
    };
    let open_question =
        !obj.contains_key("additionalProperties") && !obj.contains_key("unevaluatedProperties");
    if obj.contains_key("properties") && open_question {
        obj.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    for keyword in ["properties", "$defs", "definitions", "patternProperties"] {
        if let Some(Value::Object(children)) = obj.get_mut(keyword) {
            for child in children.values_mut() {
                close_objects(child, depth + 1);
            }
        }
    }
    for keyword in ["items", "additionalProperties"] {
        if let Some(child) = obj.get_mut(keyword) {
            close_objects(child, depth + 1);
        }
    }
    if let Some(Value::Array(children)) = obj.get_mut("prefixItems") {
        for child in children {
            close_objects(child, depth + 1);
        }
    }
    // Through unions to the whole-object schemas inside them (`Option<T>`
    // is `anyOf: [T, null]`), but not through `allOf`, whose branches are
    // parts of one object.
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = obj.get_mut(keyword) {
            for child in children {
                close_objects(child, depth + 1);
            }
        }
    }
}

/// Every property name declared anywhere in the schema.
fn collect_keys(schema: &Value, out: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    match schema {
        Value::Object(obj) => {
            if let Some(Value::Object(props)) = obj.get("properties") {
                out.extend(props.keys().cloned());
            }
            for child in obj.values() {
                collect_keys(child, out, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_keys(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// Refuses schemas that could make validation run for ever (or for an
/// exponential time): a reference cycle that never moves into a property
/// or item, or too many subschemas applying to one spot of an instance.
///
/// Walks only the keywords that keep the validator at the same spot of the
/// instance (`$ref`, `allOf`/`anyOf`/`oneOf`, `not`, `if`/`then`/`else`),
/// counting how many subschemas one spot costs; every schema reached through
/// `properties`, `items` and the like starts a walk of its own.
fn check_termination(root: &Value) -> Result<(), String> {
    let mut memo: HashMap<String, u64> = HashMap::new();
    let mut starts: Vec<String> = vec![String::new()];
    let mut seen_starts: BTreeSet<String> = BTreeSet::new();
    while let Some(start) = starts.pop() {
        if !seen_starts.insert(start.clone()) {
            continue;
        }
        let mut stack = Vec::new();
        let cost = spot_cost(root, &start, &mut stack, &mut memo, &mut starts)?;
        if cost > MAX_EVALUATIONS_PER_SPOT {
            return Err(format!(
                "the schema at `#{start}` applies {cost} subschemas to one value \
                 (at most {MAX_EVALUATIONS_PER_SPOT}); validating with it would take too long"
            ));
        }
    }
    Ok(())
}

/// Subschemas applied at one spot when the validator enters the schema at
/// JSON pointer `at`. Pushes the schemas of child spots onto `starts`.
fn spot_cost(
    root: &Value,
    at: &str,
    stack: &mut Vec<String>,
    memo: &mut HashMap<String, u64>,
    starts: &mut Vec<String>,
) -> Result<u64, String> {
    if let Some(cost) = memo.get(at) {
        return Ok(*cost);
    }
    if stack.iter().any(|p| p == at) {
        return Err(format!(
            "the schema's reference at `#{at}` leads back to itself without moving into a \
             property or an item, so validating with it would never end"
        ));
    }
    if stack.len() > MAX_SCHEMA_DEPTH {
        return Err(format!(
            "the schema nests more than {MAX_SCHEMA_DEPTH} levels of references at `#{at}`"
        ));
    }
    let Some(Value::Object(obj)) = root.pointer(at) else {
        return Ok(1);
    };
    stack.push(at.to_string());
    let mut cost: u64 = 1;
    let mut same_spot: Vec<String> = Vec::new();
    if let Some(Value::String(reference)) = obj.get("$ref") {
        // Only local references resolve; anything else fails to compile.
        if let Some(pointer) = reference.strip_prefix('#') {
            same_spot.push(pointer.to_string());
        }
    }
    for keyword in SAME_SPOT_LISTS {
        if let Some(Value::Array(items)) = obj.get(*keyword) {
            same_spot.extend((0..items.len()).map(|i| format!("{at}/{keyword}/{i}")));
        }
    }
    for keyword in SAME_SPOT_SINGLE {
        if obj.contains_key(*keyword) {
            same_spot.push(format!("{at}/{keyword}"));
        }
    }
    for next in same_spot {
        let sub = spot_cost(root, &next, stack, memo, starts)?;
        cost = cost.saturating_add(sub);
    }
    for keyword in [
        "properties",
        "patternProperties",
        "$defs",
        "dependentSchemas",
    ] {
        if let Some(Value::Object(children)) = obj.get(keyword) {
            starts.extend(
                children
                    .keys()
                    .map(|k| format!("{at}/{keyword}/{}", escape(k))),
            );
        }
    }
    for keyword in [
        "items",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "propertyNames",
    ] {
        if obj.get(keyword).is_some_and(Value::is_object) {
            starts.push(format!("{at}/{keyword}"));
        }
    }
    if let Some(Value::Array(items)) = obj.get("prefixItems") {
        starts.extend((0..items.len()).map(|i| format!("{at}/prefixItems/{i}")));
    }
    stack.pop();
    memo.insert(at.to_string(), cost);
    Ok(cost)
}

/// Escapes a key for use in a JSON pointer.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn errors_of(schema: &Schema, mut value: Value) -> (Value, Vec<Coercion>, Vec<String>) {
        let (coercions, errors) = schema.validate(&mut value);
        let messages = errors
            .iter()
            .map(|e| format!("{}: {}", e.instance_path(), e))
            .collect();
        (value, coercions, messages)
    }

    #[test]
    fn unknown_keys_come_from_the_validator() {
        let schema = Schema::compile(
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "limits": {"anyOf": [{"$ref": "#/$defs/L"}, {"type": "null"}]}
                },
                "$defs": {"L": {"type": "object", "properties": {"low": {"type": "number"}}}}
            }),
            &["tags"],
            false,
        )
        .unwrap();
        let (_, _, errors) = errors_of(&schema, json!({"name": "a", "tags": [1], "nmae": 1}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("nmae"), "{errors:?}");
        let (_, _, errors) = errors_of(&schema, json!({"name": "a", "limits": {"lwo": 1}}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("lwo"), "{errors:?}");
        let known: Vec<&str> = schema.known_keys().collect();
        assert_eq!(known, ["limits", "low", "name", "tags"]);
    }

    #[test]
    fn open_schemas_allow_other_keys() {
        let schema = Schema::compile(
            json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            &[],
            true,
        )
        .unwrap();
        let (_, _, errors) = errors_of(&schema, json!({"a": 1, "b": 2}));
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn datadog_booleans_are_coerced() {
        let schema = Schema::compile(
            json!({"type": "object", "properties": {
                "a": {"type": "boolean"},
                "b": {"type": ["boolean", "null"]},
                "n": {"type": "object", "properties": {"c": {"type": "boolean"}}},
                "s": {"type": "string"}
            }}),
            &[],
            false,
        )
        .unwrap();
        let (value, coercions, errors) = errors_of(
            &schema,
            json!({"a": "false", "b": "Yes", "n": {"c": 1}, "s": "no"}),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            value,
            json!({"a": false, "b": true, "n": {"c": true}, "s": "no"})
        );
        let keys: BTreeSet<&str> = coercions.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, BTreeSet::from(["a", "b", "n.c"]));
        assert!(coercions.iter().all(|c| c.usual));

        let (value, coercions, _) = errors_of(&schema, json!({"a": "maybe"}));
        assert_eq!(value, json!({"a": false}));
        assert!(!coercions[0].usual);
        // Lists are not booleans in any reading.
        let (_, coercions, errors) = errors_of(&schema, json!({"a": [true]}));
        assert!(coercions.is_empty());
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn is_affirmative_matches_datadog() {
        for (value, expected) in [
            (json!("yes"), true),
            (json!("TRUE"), true),
            (json!("1"), true),
            (json!("y"), true),
            (json!("on"), true),
            (json!("false"), false),
            (json!("no"), false),
            (json!("0"), false),
            (json!("whatever"), false),
            (json!(2), true),
            (json!(0), false),
            (json!(0.0), false),
        ] {
            assert_eq!(affirmative(&value), Some(expected), "{value}");
        }
        assert_eq!(affirmative(&json!(null)), None);
    }

    #[test]
    fn self_recursion_without_progress_is_refused_quickly() {
        let refs: Vec<Value> = (0..8).map(|_| json!({"$ref": "#"})).collect();
        let start = Instant::now();
        let e = Schema::compile(json!({"anyOf": refs}), &[], false).unwrap_err();
        assert!(e.contains("leads back to itself"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(1));

        let e = Schema::compile(
            json!({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
                   "$ref": "#/$defs/a"}),
            &[],
            false,
        )
        .unwrap_err();
        assert!(e.contains("leads back to itself"), "{e}");
    }

    #[test]
    fn recursion_through_properties_is_fine() {
        // A tree: each level moves into `children`, so validation ends.
        let schema = Schema::compile(
            json!({"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#"}}
            }}),
            &[],
            false,
        )
        .unwrap();
        let (_, _, errors) = errors_of(
            &schema,
            json!({"name": "a", "children": [{"name": "b", "children": []}]}),
        );
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn exponential_fan_out_is_refused() {
        // Eight levels of eight-way unions: 8^8 subschemas at one spot.
        let mut defs = Map::new();
        for level in 0..8 {
            let next = if level == 7 {
                json!({"type": "string"})
            } else {
                json!({"$ref": format!("#/$defs/l{}", level + 1)})
            };
            let branches: Vec<Value> = (0..8).map(|_| next.clone()).collect();
            defs.insert(format!("l{level}"), json!({"anyOf": branches}));
        }
        let e =
            Schema::compile(json!({"$defs": defs, "$ref": "#/$defs/l0"}), &[], false).unwrap_err();
        assert!(e.contains("would take too long"), "{e}");
    }

    #[test]
    fn pointers_become_key_paths() {
        assert_eq!(pointer_to_key("/a/0/b~1c"), "a[0].b/c");
        assert_eq!(pointer_to_key(""), "");
    }
}
