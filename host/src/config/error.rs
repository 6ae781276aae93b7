//! [`ConfigError`]: one configuration problem, located precisely enough for
//! a person to fix it without reading our source.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found while loading or validating configuration.
///
/// Used for both errors and warnings (the list it sits in says which). Every
/// field but `message` is optional so the same type serves runner.yaml,
/// conf.d files, single instances and environment variables; `Display`
/// prints whatever is known as one line, e.g.
/// ``conf.d/process.d/conf.yaml: instance #0: key `pid`: expected integer or null, got string "abc"``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Check the problem belongs to, when known (conf.d files).
    pub check: Option<String>,
    /// File the problem is in, as found (relative paths stay relative).
    pub file: Option<PathBuf>,
    /// 0-based position of the instance in the file's `instances` list.
    pub instance: Option<usize>,
    /// Dotted path of the offending key, e.g. `limits.timeout` or `servers[0].port`.
    pub key: Option<String>,
    /// 1-based line in `file`, when the parser could tell.
    pub line: Option<usize>,
    /// 1-based column in `file`, when the parser could tell.
    pub column: Option<usize>,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it, when there is an obvious fix (a did-you-mean, an example).
    pub hint: Option<String>,
}

impl ConfigError {
    /// A problem with only a message; add location with the builder methods.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            check: None,
            file: None,
            instance: None,
            key: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the check name.
    #[must_use]
    pub fn with_check(mut self, check: impl Into<String>) -> Self {
        self.check = Some(check.into());
        self
    }

    /// Sets the file.
    #[must_use]
    pub fn with_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    /// Sets the instance index (0-based).
    #[must_use]
    pub fn with_instance(mut self, index: usize) -> Self {
        self.instance = Some(index);
        self
    }

    /// Sets the key path.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the 1-based line and optional column.
    #[must_use]
    pub fn at(mut self, line: usize, column: Option<usize>) -> Self {
        self.line = Some(line);
        self.column = column;
        self
    }

    /// Sets the fix suggestion.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the fix suggestion when there is one.
    #[must_use]
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefixed = false;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if prefixed {
                f.write_str(": ")?;
            }
            prefixed = true;
            Ok(())
        };
        if let Some(file) = &self.file {
            sep(f)?;
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
        } else if let Some(check) = &self.check {
            sep(f)?;
            f.write_str(check)?;
        }
        if let Some(index) = self.instance {
            sep(f)?;
            write!(f, "instance #{index}")?;
        }
        if let Some(key) = &self.key {
            sep(f)?;
            write!(f, "key `{key}`")?;
        }
        sep(f)?;
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (fix: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_full_location() {
        let e = ConfigError::new(r#"expected a number of seconds >= 1, got "fast""#)
            .with_check("process")
            .with_file("conf.d/process.d/conf.yaml")
            .with_instance(0)
            .with_key("min_collection_interval")
            .with_hint("e.g. `min_collection_interval: 30`");
        assert_eq!(
            e.to_string(),
            "conf.d/process.d/conf.yaml: instance #0: key `min_collection_interval`: \
             expected a number of seconds >= 1, got \"fast\" (fix: e.g. `min_collection_interval: 30`)"
        );
    }

    #[test]
    fn display_line_and_column() {
        let e = ConfigError::new("invalid YAML: mapping values are not allowed in this context")
            .with_file("conf.d/x.yaml")
            .at(3, Some(7));
        assert_eq!(
            e.to_string(),
            "conf.d/x.yaml:3:7: invalid YAML: mapping values are not allowed in this context"
        );
        let e = ConfigError::new("boom").with_file("a.yaml").at(4, None);
        assert_eq!(e.to_string(), "a.yaml:4: boom");
    }

    #[test]
    fn display_check_only_and_bare() {
        let e = ConfigError::new("Configuration file contains no valid instances").with_check("x");
        assert_eq!(
            e.to_string(),
            "x: Configuration file contains no valid instances"
        );
        assert_eq!(ConfigError::new("plain").to_string(), "plain");
    }
}
