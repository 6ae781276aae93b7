//! Regular expressions written for Python's `re`, as Datadog configuration
//! carries them (`search_string` with `exact_match: false`,
//! `metric_patterns`).
//!
//! Most patterns are also valid for the `regex` crate, which is fast and
//! runs in linear time; those compile with it. Patterns that need what only
//! a backtracking engine offers (look-ahead, look-behind, backreferences)
//! fall back to `fancy-regex`, whose syntax follows Python's for these
//! constructs. Both engines are bounded: a compiled-size limit for `regex`,
//! a backtracking limit for `fancy-regex` (a match that exceeds it counts
//! as no match, so a pathological pattern cannot stall a run).

use std::fmt;

/// Largest compiled program either engine may build, in bytes.
const SIZE_LIMIT: usize = 1 << 20;
/// Most backtracking steps one `fancy-regex` match may take.
const BACKTRACK_LIMIT: usize = 1_000_000;

/// A compiled pattern with Python `re.search` semantics: [`is_match`]
/// looks for a match anywhere in the text.
///
/// [`is_match`]: PyRegex::is_match
#[derive(Clone, Debug)]
pub enum PyRegex {
    /// Compiled by the `regex` crate (linear time).
    Linear(regex::Regex),
    /// Needed look-around or backreferences: compiled by `fancy-regex`.
    Backtracking(fancy_regex::Regex),
}

/// Why a pattern could not be compiled by either engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong, in one line.
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PatternError {}

impl PyRegex {
    /// Compiles `pattern`, with `regex` when it can, else `fancy-regex`.
    pub fn new(pattern: &str) -> Result<PyRegex, PatternError> {
        let linear = regex::RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .build();
        let first_error = match linear {
            Ok(regex) => return Ok(PyRegex::Linear(regex)),
            Err(e) => e,
        };
        match fancy_regex::RegexBuilder::new(pattern)
            .delegate_size_limit(SIZE_LIMIT)
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
        {
            Ok(regex) => Ok(PyRegex::Backtracking(regex)),
            // The `regex` crate's message is the clearer one for plain
            // syntax errors; `fancy-regex` speaks for what only it parses.
            Err(fancy) => Err(PatternError {
                reason: last_line(&if needs_backtracking(pattern) {
                    fancy.to_string()
                } else {
                    first_error.to_string()
                }),
            }),
        }
    }

    /// True when the pattern matches anywhere in `text` (Python's
    /// `re.search`). A backtracking match that runs out of its step budget
    /// counts as no match.
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            PyRegex::Linear(regex) => regex.is_match(text),
            PyRegex::Backtracking(regex) => regex.is_match(text).unwrap_or(false),
        }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        match self {
            PyRegex::Linear(regex) => regex.as_str(),
            PyRegex::Backtracking(regex) => regex.as_str(),
        }
    }
}

/// The `regex` parser refuses `pattern` for look-around or
/// backreferences: what only the backtracking engine offers.
fn needs_backtracking(pattern: &str) -> bool {
    use regex_syntax::ast::ErrorKind;
    matches!(
        regex_syntax::ast::parse::Parser::new().parse(pattern),
        Err(e) if matches!(
            e.kind(),
            ErrorKind::UnsupportedLookAround | ErrorKind::UnsupportedBackreference
        )
    )
}

/// Compiler messages may draw the pattern over several lines; the last one
/// says what is wrong.
fn last_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_patterns_use_the_linear_engine() {
        let re = PyRegex::new(r"nginx: (worker|master)\s").unwrap();
        assert!(matches!(re, PyRegex::Linear(_)));
        assert!(re.is_match("nginx: worker process"));
        assert!(!re.is_match("nginx:worker"));
    }

    #[test]
    fn look_around_and_backreferences_fall_back() {
        let re = PyRegex::new(r"java(?!.*zookeeper).*kafka").unwrap();
        assert!(matches!(re, PyRegex::Backtracking(_)));
        assert!(re.is_match("java -cp x kafka.Kafka"));
        assert!(!re.is_match("java zookeeper kafka"));

        let re = PyRegex::new(r"(?<=--name=)db\d").unwrap();
        assert!(re.is_match("postgres --name=db1"));
        assert!(!re.is_match("postgres db1"));

        let re = PyRegex::new(r"(\w+) \1").unwrap();
        assert!(re.is_match("run run"));
        assert!(!re.is_match("run walk"));
    }

    #[test]
    fn python_named_groups_work() {
        let re = PyRegex::new(r"(?P<svc>api|web)-server").unwrap();
        assert!(re.is_match("/usr/bin/web-server --port 80"));
    }

    #[test]
    fn invalid_patterns_say_why_in_one_line() {
        let e = PyRegex::new("nginx: (worker").unwrap_err();
        assert!(!e.reason.contains('\n'), "{e}");
        assert!(e.reason.to_lowercase().contains("unclosed"), "{e}");
    }

    #[test]
    fn runaway_backtracking_is_no_match() {
        // Catastrophic on a backtracking engine; the backreference forces it.
        let re = PyRegex::new(r"^(a|a)+\1$").unwrap();
        assert!(matches!(re, PyRegex::Backtracking(_)));
        let text = format!("{}b", "a".repeat(64));
        assert!(!re.is_match(&text));
    }
}
