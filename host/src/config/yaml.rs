//! YAML text → JSON value, with errors that carry the file, line and column.
//!
//! Checks receive their configuration as JSON (it is what schemas describe
//! and what crosses into the sandbox), so conf.d YAML is converted once here.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

use super::error::ConfigError;

static POSITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r" at (line \d+ column \d+|position \d+)").expect("valid regex"));

/// Parses one YAML document, merge keys (`<<`) applied. `Ok(None)` means
/// the document is empty (nothing, whitespace, comments, or an explicit
/// null). Conversion to JSON is left to the caller, one part at a time, so
/// a value that cannot be converted spoils only the instance holding it.
pub(crate) fn parse_yaml(text: &str, file: &Path) -> Result<Option<Yaml>, ConfigError> {
    let mut doc: Yaml = serde_yaml::from_str(text).map_err(|e| syntax_error(&e, file))?;
    doc.apply_merge().map_err(|e| syntax_error(&e, file))?;
    Ok((!doc.is_null()).then_some(doc))
}

/// Turns a serde_yaml error into `file:line:col: invalid YAML: <problem>`.
pub(crate) fn syntax_error(err: &serde_yaml::Error, file: &Path) -> ConfigError {
    // serde_yaml quotes the file's keys: escaped like anything quoted.
    let mut e = ConfigError::new(format!(
        "invalid YAML: {}",
        crate::escape::for_terminal(&strip_position(&err.to_string()))
    ))
    .with_file(file);
    if let Some(loc) = err.location() {
        e = e.at(loc.line(), Some(loc.column()));
    }
    e
}

/// Removes " at line L column C" from a serde_yaml message: the location is
/// printed once, in front, by `ConfigError`.
pub(crate) fn strip_position(message: &str) -> String {
    POSITION.replace_all(message, "").into_owned()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What stands for YAML's `.inf` in JSON, which has no infinities: the
/// largest finite number, so comparisons a check makes (`count <= high`)
/// behave exactly as with infinity.
pub const INFINITY_AS_JSON: f64 = f64::MAX;

/// Converts a YAML value to JSON; `path` is the key path of `value` (for
/// messages). Errors are `(key path, message)`. `.inf`/`-.inf` become
/// ±[`INFINITY_AS_JSON`]; `.nan` becomes null, with a note in `notes`
/// saying so (JSON has no NaN and no check can use one).
pub(crate) fn to_json(
    value: &Yaml,
    path: &str,
    notes: &mut Vec<(String, String)>,
) -> Result<Value, (String, String)> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_nan() {
                    notes.push((
                        path.to_string(),
                        "`.nan` (not a number) is passed to the check as null".to_string(),
                    ));
                    Value::Null
                } else {
                    let finite = f.clamp(-INFINITY_AS_JSON, INFINITY_AS_JSON);
                    Number::from_f64(finite).map_or(Value::Null, Value::Number)
                }
            }
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]"), notes))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => "null".to_string(),
                    _ => {
                        return Err((
                            path.to_string(),
                            "mapping keys must be plain words or numbers".to_string(),
                        ));
                    }
                };
                let converted = to_json(v, &join(path, &key), notes)?;
                out.insert(key, converted);
            }
            Value::Object(out)
        }
        // `!tag value`: the Agent ignores local tags; so do we.
        Yaml::Tagged(tagged) => to_json(&tagged.value, path, notes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(text: &str) -> (Value, Vec<(String, String)>) {
        let doc = parse_yaml(text, Path::new("f.yaml")).unwrap().unwrap();
        let mut notes = Vec::new();
        (to_json(&doc, "", &mut notes).unwrap(), notes)
    }

    #[test]
    fn converts_documents() {
        let (v, notes) =
            convert("a: 1\nb: [x, 2.5, true, ~]\n1: one\nbase: &b {k: v}\nc:\n  <<: *b\n  j: 2\n");
        assert_eq!(
            v,
            json!({"a": 1, "b": ["x", 2.5, true, null], "1": "one",
                   "base": {"k": "v"}, "c": {"k": "v", "j": 2}})
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn empty_documents() {
        for text in ["", "   \n", "# just a comment\n\n# another\n", "---\n"] {
            assert_eq!(parse_yaml(text, Path::new("f")).unwrap(), None, "{text:?}");
        }
    }

    #[test]
    fn syntax_error_has_location() {
        let e = parse_yaml("a: 1\nb:\n  c: d: e\n", Path::new("conf.d/x.yaml")).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column, Some(7));
        assert_eq!(
            e.to_string(),
            "conf.d/x.yaml:3:7: invalid YAML: mapping values are not allowed in this context"
        );
    }

    #[test]
    fn infinities_become_the_largest_finite_numbers() {
        // Datadog's own example: `thresholds: {warning: [2, .inf]}`.
        let (v, notes) = convert("t:\n  warning: [2, .inf]\n  low: -.inf\n  up: .Inf\n");
        assert_eq!(
            v,
            json!({"t": {"warning": [2, f64::MAX], "low": -f64::MAX, "up": f64::MAX}})
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn nan_becomes_null_with_a_note() {
        let (v, notes) = convert("a:\n  b: .nan\n");
        assert_eq!(v, json!({"a": {"b": null}}));
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, "a.b");
        assert!(notes[0].1.contains("null"), "{notes:?}");
    }
}
