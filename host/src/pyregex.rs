//! Regular expressions written for Python's `re`, as Datadog configuration
//! carries them (`search_string` with `exact_match: false`,
//! `metric_patterns`).
//!
//! Most patterns are also valid for the `regex` crate, which is fast and
//! runs in linear time; those compile with it. Patterns that need what only
//! a backtracking engine offers (look-ahead, look-behind, backreferences)
//! fall back to `fancy-regex`, whose syntax follows Python's for these
//! constructs.
//!
//! Patterns can come from a hostile check, so both engines are bounded:
//! - [`SIZE_LIMIT`]: the compiled program (Thompson NFA) of a pattern, or
//!   of each sub-pattern `fancy-regex` delegates to `regex`, may not exceed
//!   1 MiB; a pattern that would is refused ([`PatternErrorKind::TooBig`]);
//! - [`DFA_SIZE_LIMIT`]: the lazy DFA's cache, which grows while matching,
//!   is capped at 256 KiB (when full it is cleared and rebuilt, or the
//!   engine falls back to its PikeVM: slower, never wrong);
//! - [`BACKTRACK_LIMIT`]: one `fancy-regex` match may take at most a
//!   million backtracking steps; a match that exceeds it counts as no match;
//! - [`MAX_PROG_SIZE`]: a `fancy-regex` program may hold at most 10,000
//!   VM instructions (which also bounds how many sub-patterns it delegates).
//!
//! Why those numbers: with the 1 MiB program limit and the `regex` crate's
//! default 2 MiB lazy-DFA caches, a 4 KiB pattern could hold about 6 MiB,
//! and a query of 1,500 of them grew the process past 3.8 GB. Now a query
//! holds at most 64 patterns, the DFA caches are 256 KiB, and the shared
//! cache is bounded in bytes, so memory is bounded without refusing
//! patterns Datadog users write: the program limit stays at 1 MiB, where
//! Unicode `\w` (about 45 KiB compiled) fits about 22 times (`\w{20}`),
//! `\d` 200 times and `.` about 1,000 times; a 256 KiB limit would refuse
//! `\w{6}`, which Python's `re` accepts. The
//! backtracking limit is `fancy-regex`'s default: a pathological match
//! (`^(\w+\s?)+\1$` on 12 KB of text) gives up after about 50 ms, which the
//! caller's deadline, checked between matches, then bounds.
//!
//! The `regex` engine only ever answers "is there a match", so capturing
//! groups are compiled as non-capturing ones: the result is the same, and
//! the engine then keeps no capture slots (whose PikeVM table grows with
//! states × groups) and builds no one-pass DFA (up to 1 MiB, built only for
//! patterns with capturing groups or a Unicode `\b`).

use std::fmt;

/// Largest compiled program (Thompson NFA) either engine may build for one
/// pattern, or for each part of it that `fancy-regex` delegates, in bytes.
pub const SIZE_LIMIT: usize = 1 << 20;
/// Largest lazy-DFA cache of one compiled pattern (per search direction, per
/// thread matching it concurrently), in bytes.
pub const DFA_SIZE_LIMIT: usize = 256 << 10;
/// Most backtracking steps one `fancy-regex` match may take.
pub const BACKTRACK_LIMIT: usize = 1_000_000;
/// Most VM instructions of one `fancy-regex` program.
pub const MAX_PROG_SIZE: usize = 10_000;

/// The `regex` crate's defaults for what its builder does not let us set:
/// the one-pass DFA (1 MiB) and the bounded backtracker's visited set
/// (256 KiB).
const ONEPASS_LIMIT: usize = 1 << 20;
const BACKTRACKER_VISITED: usize = 256 << 10;

/// What a `regex`-compiled pattern can hold at most, by construction of the
/// limits above: neither `regex` nor `fancy-regex` reports its memory use
/// (`regex-automata`, which has `memory_usage`, is only an indirect
/// dependency, behind them). The sum of its forward and reverse NFAs, the
/// forward and reverse lazy-DFA caches, the PikeVM's cache (proportional to
/// the NFA's states, so within one more NFA's size) and the bounded
/// backtracker's visited set.
const LINEAR_BOUND: usize = 3 * SIZE_LIMIT + 2 * DFA_SIZE_LIMIT + BACKTRACKER_VISITED;

/// What a `fancy-regex` pattern is counted as holding. Not a bound by
/// construction: its delegated sub-patterns each get the limits above, and
/// their number is only bounded by [`MAX_PROG_SIZE`]. The most we measured:
/// 2.1 MiB, for 4 KiB patterns built to maximise it (400 capture groups of
/// `\w` with a backreference); counted as twice that.
const BACKTRACKING_ESTIMATE: usize = 4 << 20;

/// A compiled pattern with Python `re.search` semantics: [`is_match`]
/// looks for a match anywhere in the text.
///
/// [`is_match`]: PyRegex::is_match
#[derive(Clone, Debug)]
pub struct PyRegex {
    /// The pattern as given (the `regex` engine compiles a rewritten one).
    pattern: String,
    engine: Engine,
}

#[derive(Clone, Debug)]
enum Engine {
    /// Compiled by the `regex` crate (linear time).
    Linear(regex::Regex),
    /// Needed look-around or backreferences: compiled by `fancy-regex`.
    Backtracking(fancy_regex::Regex),
}

/// What kind of problem a [`PatternError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternErrorKind {
    /// Not a pattern either engine accepts.
    Syntax,
    /// A valid pattern that would compile past [`SIZE_LIMIT`] (or, for the
    /// backtracking engine, [`MAX_PROG_SIZE`] or [`DFA_SIZE_LIMIT`]).
    TooBig,
}

/// Why a pattern could not be compiled by either engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong, in one line.
    pub reason: String,
    /// Whether the pattern is invalid or too big.
    pub kind: PatternErrorKind,
}

impl PatternError {
    fn too_big() -> Self {
        PatternError {
            reason: format!(
                "pattern too complex: it compiles to more than the {} KiB allowed",
                SIZE_LIMIT >> 10
            ),
            kind: PatternErrorKind::TooBig,
        }
    }
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
        let first_error = match compile_linear(pattern) {
            Ok(regex) => {
                return Ok(PyRegex {
                    pattern: pattern.to_owned(),
                    engine: Engine::Linear(regex),
                });
            }
            // Valid `regex` syntax, so `fancy-regex` would hand all of it to
            // the same engine under the same limit.
            Err(regex::Error::CompiledTooBig(_)) => return Err(PatternError::too_big()),
            Err(e) => e,
        };
        match fancy_regex::RegexBuilder::new(pattern)
            .delegate_size_limit(SIZE_LIMIT)
            .delegate_dfa_size_limit(DFA_SIZE_LIMIT)
            // Variable-length look-behinds build their own lazy DFA, which
            // would otherwise round the cache limit up to what it needs.
            .delegate_dfa_skip_cache_capacity_check(false)
            .backtrack_limit(BACKTRACK_LIMIT)
            .max_prog_size(MAX_PROG_SIZE)
            .build()
        {
            Ok(regex) => Ok(PyRegex {
                pattern: pattern.to_owned(),
                engine: Engine::Backtracking(regex),
            }),
            Err(fancy) if fancy_too_big(&fancy) => Err(PatternError::too_big()),
            // The `regex` crate's message is the clearer one for plain
            // syntax errors; `fancy-regex` speaks for what only it parses.
            Err(fancy) => Err(PatternError {
                reason: last_line(&if needs_backtracking(pattern) {
                    fancy.to_string()
                } else {
                    first_error.to_string()
                }),
                kind: PatternErrorKind::Syntax,
            }),
        }
    }

    /// True when the pattern matches anywhere in `text` (Python's
    /// `re.search`). A backtracking match that runs out of its step budget
    /// counts as no match.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.engine {
            Engine::Linear(regex) => regex.is_match(text),
            Engine::Backtracking(regex) => regex.is_match(text).unwrap_or(false),
        }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern needed the backtracking engine (look-around,
    /// backreferences): its matches cost up to [`BACKTRACK_LIMIT`] steps
    /// each, so a caller with a deadline should look at the clock before
    /// every one.
    pub fn is_backtracking(&self) -> bool {
        matches!(self.engine, Engine::Backtracking(_))
    }

    /// An upper estimate of the memory this compiled pattern can hold, in
    /// bytes, for bounding caches of compiled patterns. Neither crate
    /// reports its actual memory use, so this is derived from the limits
    /// the pattern was compiled under (see the constants of this module),
    /// plus the pattern itself; it counts one thread's matching caches.
    pub fn memory_bound(&self) -> usize {
        let engine = match &self.engine {
            Engine::Linear(_) if may_build_onepass(&self.pattern) => LINEAR_BOUND + ONEPASS_LIMIT,
            Engine::Linear(_) => LINEAR_BOUND,
            Engine::Backtracking(_) => BACKTRACKING_ESTIMATE,
        };
        engine + 2 * self.pattern.len()
    }
}

/// Compiles `pattern` with the `regex` crate, its capturing groups made
/// non-capturing (see the module documentation).
fn compile_linear(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let stripped = without_captures(pattern);
    regex::RegexBuilder::new(stripped.as_deref().unwrap_or(pattern))
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

/// `pattern` with every capturing group `(`, `(?P<name>` or `(?<name>`
/// opened as `(?:` instead; `None` when it has none, or does not parse
/// (then the `regex` crate reports the error on the pattern as given).
fn without_captures(pattern: &str) -> Option<String> {
    use regex_syntax::ast::{self, Ast, GroupKind};

    /// Collects the byte ranges of capturing-group openers.
    struct Openers(Vec<std::ops::Range<usize>>);
    impl ast::Visitor for Openers {
        type Output = Vec<std::ops::Range<usize>>;
        type Err = std::convert::Infallible;
        fn finish(self) -> Result<Self::Output, Self::Err> {
            Ok(self.0)
        }
        fn visit_pre(&mut self, ast: &Ast) -> Result<(), Self::Err> {
            if let Ast::Group(group) = ast {
                let start = group.span.start.offset;
                match &group.kind {
                    GroupKind::CaptureIndex(_) => self.0.push(start..start + 1),
                    // The name's span ends before the closing `>`.
                    GroupKind::CaptureName { name, .. } => {
                        self.0.push(start..name.span.end.offset + 1)
                    }
                    GroupKind::NonCapturing(_) => {}
                }
            }
            Ok(())
        }
    }

    let ast = ast::parse::Parser::new().parse(pattern).ok()?;
    // The visitor walks the tree on the heap, so nesting cannot overflow
    // the stack.
    let Ok(openers) = ast::visit(&ast, Openers(Vec::new()));
    if openers.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(pattern.len() + 2 * openers.len());
    let mut copied = 0;
    // Pre-order visits openers left to right.
    for opener in openers {
        out.push_str(&pattern[copied..opener.start]);
        out.push_str("(?:");
        copied = opener.end;
    }
    out.push_str(&pattern[copied..]);
    Some(out)
}

/// Whether the `regex` crate may build a one-pass DFA for this pattern:
/// only with capturing groups (there are none left) or a Unicode word
/// boundary. Errs on the side of yes.
fn may_build_onepass(pattern: &str) -> bool {
    pattern.contains(r"\b") || pattern.contains(r"\B")
}

/// `fancy-regex` refused the pattern for one of the limits.
fn fancy_too_big(error: &fancy_regex::Error) -> bool {
    use fancy_regex::CompileError;
    match error {
        fancy_regex::Error::CompileError(e) => match e.as_ref() {
            CompileError::InnerError(e) => e.size_limit().is_some(),
            CompileError::PatternTooComplex | CompileError::DfaBuildError(..) => true,
            _ => false,
        },
        _ => false,
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
        assert!(!re.is_backtracking());
        assert!(re.is_match("nginx: worker process"));
        assert!(!re.is_match("nginx:worker"));
    }

    #[test]
    fn look_around_and_backreferences_fall_back() {
        let re = PyRegex::new(r"java(?!.*zookeeper).*kafka").unwrap();
        assert!(re.is_backtracking());
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
        assert_eq!(e.kind, PatternErrorKind::Syntax);
    }

    #[test]
    fn patterns_past_the_size_limit_are_refused_as_too_big() {
        // Unicode `\w` compiles to about 45 KiB: 20 of them fit.
        assert!(PyRegex::new(r"\w{0,20}x").is_ok());
        assert!(PyRegex::new(r"\w+-\w+-\w+-\w+-\w+-\w{6}").is_ok());
        for pattern in [r"\d{50}", ".{250}", r"[^/]{250}", "[a-z0-9]{1000}"] {
            assert!(PyRegex::new(pattern).is_ok(), "{pattern}");
        }
        for pattern in [r"\w{0,200}x", r"(?=x)\w{0,200}"] {
            let e = PyRegex::new(pattern).unwrap_err();
            assert_eq!(e.kind, PatternErrorKind::TooBig, "{pattern}: {e}");
            assert_eq!(
                e.reason,
                "pattern too complex: it compiles to more than the 1024 KiB allowed"
            );
        }
    }

    #[test]
    fn capturing_groups_compile_as_non_capturing_for_the_linear_engine() {
        assert_eq!(
            without_captures(r"(a)\((?P<n>b)[(](?<m>c)(?:d)(?i:(e))"),
            Some(r"(?:a)\((?:b)[(](?:c)(?:d)(?i:(?:e))".to_owned())
        );
        assert_eq!(without_captures(r"a\(b\)[()]"), None);
        assert_eq!(without_captures("(unclosed"), None);
        // What matches is unchanged; the pattern reads as given.
        let re = PyRegex::new(r"^(?P<bin>\S+/)?(java|python)( |$)").unwrap();
        assert!(!re.is_backtracking());
        assert!(re.is_match("/usr/bin/java -jar x"));
        assert!(re.is_match("python"));
        assert!(!re.is_match("javascript"));
        assert_eq!(re.as_str(), r"^(?P<bin>\S+/)?(java|python)( |$)");
    }

    #[test]
    fn memory_bound_counts_the_limits() {
        let linear = PyRegex::new("nginx").unwrap();
        assert_eq!(linear.memory_bound(), LINEAR_BOUND + 10);
        const { assert!(LINEAR_BOUND < 5 << 20) };
        let word_boundary = PyRegex::new(r"\bnginx").unwrap();
        assert_eq!(
            word_boundary.memory_bound(),
            LINEAR_BOUND + ONEPASS_LIMIT + 14
        );
        let backtracking = PyRegex::new(r"(\w)\1").unwrap();
        assert_eq!(backtracking.memory_bound(), BACKTRACKING_ESTIMATE + 12);
    }

    #[test]
    fn runaway_backtracking_is_no_match() {
        // Catastrophic on a backtracking engine; the backreference forces it.
        let re = PyRegex::new(r"^(a|a)+\1$").unwrap();
        assert!(re.is_backtracking());
        let text = format!("{}b", "a".repeat(64));
        assert!(!re.is_match(&text));
    }
}
