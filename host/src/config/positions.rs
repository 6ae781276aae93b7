//! Where each key of a YAML file is written, so a problem found later (by
//! the schema validator, on the JSON the file became) can be reported at
//! its line.
//!
//! serde_yaml parses the values but keeps no positions once parsing has
//! succeeded, so the same text is read a second time with `saphyr`'s
//! marked loader, which records a span for every node. The two parsers
//! agree on structure; where they might not (anchors merged with `<<`, a
//! construct one of them rejects), a key simply has no recorded line.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::error::ConfigError;

/// Line and column (1-based) of every key path in a document:
/// `instances[2].thresholds.warning` → where `warning:` is written.
/// Items of a list are located at their first character.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Positions {
    at: HashMap<String, (usize, usize)>,
}

impl Positions {
    /// Reads `text`; an empty index when it does not parse.
    pub fn of(text: &str) -> Positions {
        let mut positions = Positions::default();
        if let Ok(docs) = MarkedYaml::load_from_str(text)
            && let Some(doc) = docs.first()
        {
            let start = doc.span.start;
            positions
                .at
                .insert(String::new(), (start.line(), start.col() + 1));
            positions.walk(doc, "", 0);
        }
        positions
    }

    /// Where `key` (a dotted path as in error messages) is written; `""` is
    /// the document itself.
    pub fn line_of(&self, key: &str) -> Option<(usize, usize)> {
        self.at.get(key).copied()
    }

    /// The position of `key`, or of its nearest written ancestor
    /// (`limits.memry_mib` → `limits` if the former is not found).
    pub fn nearest(&self, key: &str) -> Option<(usize, usize)> {
        let mut key = key;
        loop {
            if let Some(found) = self.line_of(key) {
                return Some(found);
            }
            let cut = key.rfind(['.', '['])?;
            key = &key[..cut];
        }
    }

    /// Sets the line and column of a problem in this file from its
    /// instance and key, when they are known and not set yet.
    pub fn place(&self, e: &mut ConfigError) {
        if e.line.is_some() {
            return;
        }
        let path = match (e.instance, e.key.as_deref()) {
            (Some(i), Some(key)) => format!("instances[{i}].{key}"),
            (Some(i), None) => format!("instances[{i}]"),
            (None, Some(key)) => key.to_string(),
            // A problem of the whole file has no line of its own.
            (None, None) => return,
        };
        if let Some((line, column)) = self.nearest(&path) {
            e.line = Some(line);
            e.column = Some(column);
        }
    }

    fn walk(&mut self, node: &MarkedYaml<'_>, path: &str, depth: usize) {
        // Config files are shallow; a bound keeps hostile nesting cheap.
        if depth > 64 {
            return;
        }
        match &node.data {
            YamlData::Mapping(map) => {
                for (key, value) in map {
                    let Some(name) = scalar_text(key) else {
                        continue;
                    };
                    let child = if path.is_empty() {
                        name
                    } else {
                        format!("{path}.{name}")
                    };
                    let start = key.span.start;
                    self.at
                        .entry(child.clone())
                        .or_insert((start.line(), start.col() + 1));
                    self.walk(value, &child, depth + 1);
                }
            }
            YamlData::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    let start = item.span.start;
                    self.at
                        .entry(child.clone())
                        .or_insert((start.line(), start.col() + 1));
                    self.walk(item, &child, depth + 1);
                }
            }
            YamlData::Tagged(_, inner) => self.walk(inner, path, depth + 1),
            _ => {}
        }
    }
}

/// A mapping key as text, the way the JSON conversion names it.
fn scalar_text(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Null) => Some("null".to_string()),
        YamlData::Representation(s, _, _) => Some(s.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_are_located() {
        let text = "init_config:\n  service: s\ninstances:\n  - name: a\n    thresholds:\n      \
                    warning: [1, .inf]\n  - name: b\n    tags:\n      - env:prod\n";
        let p = Positions::of(text);
        assert_eq!(p.line_of("init_config.service"), Some((2, 3)));
        assert_eq!(p.line_of("instances[0]"), Some((4, 5)));
        assert_eq!(p.line_of("instances[0].name"), Some((4, 5)));
        assert_eq!(p.line_of("instances[0].thresholds.warning"), Some((6, 7)));
        assert_eq!(p.line_of("instances[1].tags[0]"), Some((9, 9)));
        assert_eq!(p.nearest("instances[1].tags[0].nope"), Some((9, 9)));
        assert_eq!(p.nearest("instances[1].limits.timeout"), Some((7, 5)));
        assert_eq!(p.line_of("nope"), None);
    }

    #[test]
    fn problems_are_placed_by_instance_and_key() {
        let p = Positions::of("init_config:\n  x: 1\ninstances:\n  - a: 1\n    b: 2\n");
        let mut e = ConfigError::new("m").with_instance(0).with_key("b");
        p.place(&mut e);
        assert_eq!((e.line, e.column), (Some(5), Some(5)));
        let mut e = ConfigError::new("m").with_key("init_config.x");
        p.place(&mut e);
        assert_eq!(e.line, Some(2));
        let mut e = ConfigError::new("m").with_instance(0);
        p.place(&mut e);
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn unparsable_text_has_no_positions() {
        assert_eq!(Positions::of("a: [1\n"), Positions::default());
    }
}
