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

/// Parses one YAML document. `Ok(None)` means the document is empty
/// (nothing, whitespace, comments, or an explicit null).
pub(crate) fn parse_yaml(text: &str, file: &Path) -> Result<Option<Value>, ConfigError> {
    let mut doc: Yaml = serde_yaml::from_str(text).map_err(|e| syntax_error(&e, file))?;
    doc.apply_merge().map_err(|e| syntax_error(&e, file))?;
    if doc.is_null() {
        return Ok(None);
    }
    to_json(&doc, "").map(Some).map_err(|(key, message)| {
        let e = ConfigError::new(message).with_file(file);
        if key.is_empty() { e } else { e.with_key(key) }
    })
}

/// Turns a serde_yaml error into `file:line:col: invalid YAML: <problem>`.
pub(crate) fn syntax_error(err: &serde_yaml::Error, file: &Path) -> ConfigError {
    let mut e = ConfigError::new(format!(
        "invalid YAML: {}",
        strip_position(&err.to_string())
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

/// Converts a YAML value to JSON. Errors are `(key path, message)`.
fn to_json(value: &Yaml, path: &str) -> Result<Value, (String, String)> {
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
                match Number::from_f64(f) {
                    Some(n) => Value::Number(n),
                    None => {
                        return Err((
                            path.to_string(),
                            format!("`{f}` is not supported: numbers must be finite"),
                        ));
                    }
                }
            }
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    _ => {
                        return Err((
                            path.to_string(),
                            "mapping keys must be plain words or numbers".to_string(),
                        ));
                    }
                };
                let converted = to_json(v, &join(path, &key))?;
                out.insert(key, converted);
            }
            Value::Object(out)
        }
        // `!tag value`: the Agent ignores local tags; so do we.
        Yaml::Tagged(tagged) => to_json(&tagged.value, path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_documents() {
        let v = parse_yaml(
            "a: 1\nb: [x, 2.5, true, ~]\n1: one\nbase: &b {k: v}\nc:\n  <<: *b\n  j: 2\n",
            Path::new("f.yaml"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            v,
            json!({"a": 1, "b": ["x", 2.5, true, null], "1": "one",
                   "base": {"k": "v"}, "c": {"k": "v", "j": 2}})
        );
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
    fn non_finite_numbers_are_errors() {
        let e = parse_yaml("a:\n  b: .nan\n", Path::new("f")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("a.b"));
    }
}
