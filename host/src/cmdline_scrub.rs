//! Command-line scrubbing as the Datadog process-agent does it (its
//! `DataScrubber`, pkg/process/procutil/data_scrubber.go, with the Linux
//! defaults of data_scrubber_fallback.go): the value given to an argument
//! named after a sensitive word becomes `********`, so what a check is
//! shown of other processes' command lines, and what its `cmdline`
//! patterns can match, holds no passwords.
//!
//! Followed exactly:
//! - the default words ([`DEFAULT_SENSITIVE_WORDS`]) and what a custom word
//!   may hold: letters, digits, `_`, and `*` wildcards (a trailing `*`
//!   stands for `[^ =:]*`, any other for `[^\s=:$/]*`), but not only `*`
//!   nor two `*` in a row;
//! - each word's regex: the word (case-insensitive, after one or more
//!   spaces or a space and one or two `-`), a delimiter (spaces, `=` or
//!   `:`, which here takes the spaces after it: see below), and the value: a `"..."` or `'...'` string, else everything up
//!   to the next whitespace;
//! - how it is applied: the arguments are joined with single spaces and
//!   each word's regex masks every match in turn;
//! - a command line that is one argument (a process that wrote its whole
//!   command line into its first argument) comes back split on single
//!   spaces when anything was masked, runs of spaces as empty arguments,
//!   exactly as Datadog reports it;
//! - `strip_proc_arguments` ([`Scrubber::with_strip_arguments`]): only the
//!   first space-separated token of the first argument is kept.
//!
//! What that means (see the tests):
//! - `--password=x`, `-password x`, `--password x`, `password x`,
//!   `--password:x` and `--db-password=x` are masked;
//! - a word inside a longer flag is still the flag's name:
//!   `--no-password-prompt -h db` masks `-h`; a word not at the start of an
//!   argument is not (`/opt/passwordless/bin`, `-Dkey=password`,
//!   `--file=/etc/secrets/app.conf`).
//!
//! Where this differs from Datadog, and why:
//! - `password: x` masks `x`: the delimiter `:` takes the spaces after it.
//!   Datadog masks the nothing between `:` and the space and leaves `x`, a
//!   leak for process titles and YAML-like arguments. `["agent",
//!   "password: 1234"]` gives `["agent", "password: ********"]`, and the
//!   title `"agent password: 1234"` gives `["agent", "password:",
//!   "********"]`;
//! - with several arguments, a value is a whole argument: after a bare key
//!   (`--password`, `-password`, `password`, `password:`) the next argument,
//!   spaces and all, and after a delimiter inside the key's argument
//!   (`--password=my secret`, `password: my secret`) the rest of that
//!   argument. Datadog sees only the joined line, so for the shell's
//!   `--password "my secret"` (argv `["mysql", "--password", "my
//!   secret"]`) it masks `my` and leaves `secret`. Where the boundaries
//!   are not known, Datadog's value is kept: in a command line that is one
//!   argument, and for a key after a space inside an argument (`sh -c
//!   "mysql --password x -h db"`), unless the key ends its argument, when
//!   the next argument is the value again;
//! - with several arguments the result keeps the arguments as they were
//!   (an argument holding spaces stays one, and a value masked across
//!   arguments, a quoted one after a key inside an argument, joins them),
//!   where Datadog splits the whole line on spaces: the arguments a check
//!   sees are the process's. Joined with single spaces, the result is
//!   still the scrubbed line cmdline patterns are matched against
//!   ([`Scrubber::scrub_joined_into`]);
//! - Go's `\s` is ASCII (`[\t\n\f\r ]`) where the `regex` crate's is
//!   Unicode, so the patterns spell Go's out;
//! - before running a word's regex Datadog checks that the lower-cased
//!   command line contains the word's longest literal part; here one
//!   case-insensitive regex of all those parts does that check for all
//!   words at once. It uses Unicode case folding, so it lets through a few
//!   more command lines than Go's lower-casing would (`paſſword`, with a
//!   long s, which the word regexes of both then match): Datadog leaves
//!   those unscrubbed, we scrub them;
//! - an empty custom word is refused: Datadog compiles it into a pattern
//!   that masks whatever follows two spaces;
//! - invalid words are returned to the caller ([`InvalidWord`]) rather than
//!   logged;
//! - no cache of scrubbed command lines per process: the process-agent
//!   keeps one across its runs; the runner scrubs per query, and a command
//!   line without any sensitive word costs one regex search (and no
//!   allocation per argument).

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use regex::Regex;

/// Datadog's default sensitive words (Linux and macOS).
pub const DEFAULT_SENSITIVE_WORDS: [&str; 10] = [
    "*password*",
    "*passwd*",
    "*mysql_pwd*",
    "*access_token*",
    "*auth_token*",
    "*api_key*",
    "*apikey*",
    "*secret*",
    "*credentials*",
    "stripetoken",
];

/// A regex match's capture groups (see [`word_regex`]).
const KEY: usize = 1;
const DELIMITER: usize = 2;
const VALUE: usize = 3;

/// Go's `\s`, which Datadog's patterns use, inside a character class.
const GO_SPACE: &str = r"\t\n\f\r ";

/// Scrubs command lines; cheap to share ([`Scrubber::shared_default`]).
#[derive(Clone, Debug)]
pub struct Scrubber {
    words: Vec<SensitiveWord>,
    /// Any word's longest literal part, case-insensitive: a command line
    /// without one needs no word's regex.
    any_word: Option<Regex>,
    strip_arguments: bool,
}

#[derive(Clone, Debug)]
struct SensitiveWord {
    word: String,
    /// The longest run of the word without `*`, lower-cased.
    literal: String,
    regex: Regex,
}

/// A custom sensitive word that was ignored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidWord {
    /// The word as given.
    pub word: String,
    /// Why it was ignored.
    pub reason: &'static str,
}

impl fmt::Display for InvalidWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sensitive word {:?} ignored: {}", self.word, self.reason)
    }
}

impl std::error::Error for InvalidWord {}

impl Default for Scrubber {
    /// Datadog's default: [`DEFAULT_SENSITIVE_WORDS`], arguments kept.
    fn default() -> Self {
        let mut scrubber = Self::disabled();
        let invalid = scrubber.add_words(DEFAULT_SENSITIVE_WORDS);
        debug_assert!(invalid.is_empty(), "{invalid:?}");
        scrubber
    }
}

impl Scrubber {
    /// A scrubber with no sensitive word, leaving command lines as they are
    /// (Datadog's `scrub_args: false`); add words or stripping to it.
    pub fn disabled() -> Self {
        Self {
            words: Vec::new(),
            any_word: None,
            strip_arguments: false,
        }
    }

    /// The [`Default`] scrubber, built once and shared.
    pub fn shared_default() -> Arc<Scrubber> {
        static DEFAULT: LazyLock<Arc<Scrubber>> = LazyLock::new(|| Arc::new(Scrubber::default()));
        Arc::clone(&DEFAULT)
    }

    /// Adds sensitive words (Datadog's `custom_sensitive_words`), after
    /// those already there. Words Datadog would skip are skipped and
    /// returned, each with the reason.
    pub fn add_words<I, S>(&mut self, words: I) -> Vec<InvalidWord>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut invalid = Vec::new();
        for word in words {
            let word = word.as_ref();
            match word_regex(word) {
                Ok(regex) => self.words.push(SensitiveWord {
                    word: word.to_owned(),
                    literal: longest_literal(word),
                    regex,
                }),
                Err(reason) => invalid.push(InvalidWord {
                    word: word.to_owned(),
                    reason,
                }),
            }
        }
        let literals: Vec<String> = self
            .words
            .iter()
            .map(|w| regex::escape(&w.literal))
            .collect();
        self.any_word = (!literals.is_empty()).then(|| {
            regex::RegexBuilder::new(&literals.join("|"))
                .case_insensitive(true)
                .build()
                .expect("escaped literals form a valid regex")
        });
        invalid
    }

    /// With `yes`, keeps only the executable (Datadog's
    /// `strip_proc_arguments`), whatever the words.
    pub fn with_strip_arguments(mut self, yes: bool) -> Self {
        self.strip_arguments = yes;
        self
    }

    /// Whether only the executable is kept.
    pub fn strips_arguments(&self) -> bool {
        self.strip_arguments
    }

    /// The sensitive words, in the order they are applied.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|w| w.word.as_str())
    }

    /// `args` (a command line, one argument per element) scrubbed.
    pub fn scrub(&self, args: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        self.scrub_into(args, &mut out);
        out
    }

    /// As [`scrub`](Self::scrub), into `out`, reusing its allocations.
    /// Returns whether anything was masked or stripped.
    pub fn scrub_into(&self, args: &[String], out: &mut Vec<String>) -> bool {
        if self.strip_arguments {
            let kept = args.first().map(|first| executable(first));
            fill(out, kept.into_iter());
            return args.len() > 1 || kept.is_some_and(|kept| kept.len() < args[0].len());
        }
        let mut line = String::new();
        let mut ends = Vec::new();
        if !self.scrub_line(args, &mut line, &mut ends) {
            fill(out, args.iter().map(String::as_str));
            return false;
        }
        if ends.is_empty() {
            // Boundaries unknown: split on spaces, as Datadog does.
            fill(out, line.split(' '));
        } else {
            fill(out, arguments(&line, &ends));
        }
        true
    }

    /// `args` scrubbed and joined with single spaces, into `out` (cleared
    /// first): the command line as [`scrub`](Self::scrub) returns it,
    /// joined, which is what cmdline patterns are matched against. Returns
    /// whether anything was masked or stripped.
    pub fn scrub_joined_into(&self, args: &[String], out: &mut String) -> bool {
        if self.strip_arguments {
            out.clear();
            if let Some(first) = args.first() {
                out.push_str(executable(first));
            }
            return args.len() > 1 || args.first().is_some_and(|first| out.len() < first.len());
        }
        // An empty Vec does not allocate: the common path stays free.
        self.scrub_line(args, out, &mut Vec::new())
    }

    /// Joins `args` into `line` and masks sensitive values there; true
    /// when a word's regex matched. With several arguments, `ends` is left
    /// holding where each argument of the result ends in `line`; with one,
    /// it is left empty (boundaries unknown, as in Datadog's line).
    fn scrub_line(&self, args: &[String], line: &mut String, ends: &mut Vec<usize>) -> bool {
        join_into(line, args);
        if !self.any_word.as_ref().is_some_and(|any| any.is_match(line)) {
            return false;
        }
        ends.clear();
        if args.len() > 1 {
            let mut end = 0;
            for arg in args {
                end += arg.len();
                ends.push(end);
                end += 1;
            }
        }
        let mut changed = false;
        for word in &self.words {
            let mut groups = word.regex.capture_locations();
            let mut at = 0;
            while word.regex.captures_read_at(&mut groups, line, at).is_some() {
                let group = |i| groups.get(i).expect("every group takes part in a match");
                let (key_start, key_end) = group(KEY);
                let (_, delimiter_end) = group(DELIMITER);
                let (value_start, value_end) = group(VALUE);
                let masked = value_range(
                    key_start..key_end,
                    delimiter_end,
                    value_start..value_end,
                    ends,
                );
                line.replace_range(masked.clone(), crate::scrub::REPLACEMENT);
                shift_ends(ends, &masked);
                // Go on after the mask, as a replace-all would.
                at = masked.start + crate::scrub::REPLACEMENT.len();
                changed = true;
            }
        }
        changed
    }
}

/// What to mask for a match of a word's regex: its `key` (with the spaces
/// or dashes before it), where its delimiter ends, and its `value` as
/// Datadog takes it, given where each argument ends (`ends`, empty when
/// boundaries are unknown).
fn value_range(
    key: Range<usize>,
    delimiter_end: usize,
    value: Range<usize>,
    ends: &[usize],
) -> Range<usize> {
    // The argument holding the key's last byte (a key holds no space).
    let arg = ends.partition_point(|&end| end < key.end);
    let Some(&arg_end) = ends.get(arg) else {
        return value;
    };
    if delimiter_end > arg_end {
        // A bare key (`--password`, `password:`): the delimiter ran into
        // the next argument, which is the value, spaces and all.
        let next_start = arg_end + 1;
        return next_start..ends[arg + 1];
    }
    let arg_start = if arg == 0 { 0 } else { ends[arg - 1] + 1 };
    if key.start >= arg_start {
        // After a space inside an argument (`sh -c "mysql --password x"`):
        // a command line of its own, with boundaries unknown.
        return value;
    }
    // `--password=my secret`, `password: my secret`: the rest of the key's
    // argument.
    delimiter_end..arg_end
}

/// Moves the argument ends in `ends` to where they are once `masked` is
/// replaced by the mask; arguments the mask joins become one.
fn shift_ends(ends: &mut Vec<usize>, masked: &Range<usize>) {
    let mask_len = crate::scrub::REPLACEMENT.len();
    ends.retain_mut(|end| {
        if *end >= masked.end {
            *end = *end - masked.len() + mask_len;
            true
        } else {
            // A joining space inside the mask is gone.
            *end < masked.start
        }
    });
}

/// The arguments of `line`, given where each ends.
fn arguments<'a>(line: &'a str, ends: &'a [usize]) -> impl Iterator<Item = &'a str> {
    let mut start = 0;
    ends.iter().map(move |&end| {
        let arg = &line[start..end];
        start = end + 1;
        arg
    })
}

/// `args` joined with single spaces, into a reused buffer.
pub(crate) fn join_into(buf: &mut String, args: &[String]) {
    buf.clear();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        buf.push_str(arg);
    }
}

/// What `strip_proc_arguments` keeps of the first argument: up to its first
/// space (for processes that wrote their whole command line there).
fn executable(first: &str) -> &str {
    first.split(' ').next().unwrap_or_default()
}

/// Replaces the content of `out` with `parts`, reusing its strings.
fn fill<'a>(out: &mut Vec<String>, parts: impl Iterator<Item = &'a str>) {
    let mut len = 0;
    for part in parts {
        match out.get_mut(len) {
            Some(slot) => {
                slot.clear();
                slot.push_str(part);
            }
            None => out.push(part.to_owned()),
        }
        len += 1;
    }
    out.truncate(len);
}

/// The regex masking the value of arguments named after `word`, or why
/// `word` is not accepted (Datadog's checks, in its order, plus emptiness).
fn word_regex(word: &str) -> Result<Regex, &'static str> {
    if word.is_empty() {
        return Err("it is empty");
    }
    if !word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*')
    {
        return Err("it may only hold letters, digits, underscores and '*' wildcards");
    }
    if word == "*" {
        return Err("a word of only '*' is not supported");
    }
    if word.contains("**") {
        return Err("it may not hold two '*' in a row");
    }
    let mut body = String::new();
    for (i, c) in word.char_indices() {
        match c {
            '*' if i == word.len() - 1 => body.push_str("[^ =:]*"),
            '*' => body.push_str(&format!("[^{GO_SPACE}=:$/]*")),
            _ => body.push(c),
        }
    }
    let pattern = format!(
        "(?P<key>(?: +| -{{1,2}})(?i){body})(?P<delimiter> +|=|: *)\
         (?P<value>\"[^\"]*\"|'[^']*'|[^{GO_SPACE}]*)"
    );
    Ok(Regex::new(&pattern).expect("a checked word forms a valid regex"))
}

/// The longest run of `word` without `*` (the first of equal ones),
/// lower-cased: Datadog's fast check.
fn longest_literal(word: &str) -> String {
    word.split('*')
        .fold(
            "",
            |best, part| if part.len() > best.len() { part } else { best },
        )
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    /// Asserts that `scrubber` turns each command line into the expected one.
    fn assert_scrubs(scrubber: &Scrubber, cases: &[(&[&str], &[&str])]) {
        for (args, expected) in cases {
            let args = strings(args);
            let mut out = Vec::new();
            let masked = scrubber.scrub_into(&args, &mut out);
            assert_eq!(out, strings(expected), "{args:?}");
            // The joined form is the same command line, and says the same.
            let mut joined = String::new();
            assert_eq!(
                scrubber.scrub_joined_into(&args, &mut joined),
                masked,
                "{args:?}"
            );
            assert_eq!(joined, out.join(" "), "{args:?}");
        }
    }

    /// Datadog's test scrubber: the defaults plus these words.
    fn with_custom_words() -> Scrubber {
        let mut scrubber = Scrubber::default();
        let words = [
            "consul_token",
            "dd_password",
            "blocked_from_yaml",
            "config",
            "pid",
        ];
        assert!(scrubber.add_words(words).is_empty());
        scrubber
    }

    #[test]
    fn the_default_words_are_datadogs() {
        let scrubber = Scrubber::default();
        assert_eq!(
            scrubber.words().collect::<Vec<_>>(),
            DEFAULT_SENSITIVE_WORDS
        );
        assert!(!scrubber.strips_arguments());
    }

    #[test]
    fn values_of_sensitive_arguments_are_masked() {
        assert_scrubs(
            &with_custom_words(),
            &[
                (
                    &["agent", "--password=1234"],
                    &["agent", "--password=********"],
                ),
                (
                    &["agent", "-password=1234"],
                    &["agent", "-password=********"],
                ),
                (
                    &["agent", "--password", "1234"],
                    &["agent", "--password", "********"],
                ),
                (
                    &["agent", "-password", "1234"],
                    &["agent", "-password", "********"],
                ),
                (
                    &["agent", "password", "-token", "1234"],
                    &["agent", "password", "********", "1234"],
                ),
                (
                    &["agent", "-password:123"],
                    &["agent", "-password:********"],
                ),
                (&["agent", "password:1234"], &["agent", "password:********"]),
                (
                    &["agent", "-password=========123"],
                    &["agent", "-password=********"],
                ),
                (
                    &["agent", "password/test:123"],
                    &["agent", "password/test:********"],
                ),
                (
                    &["agent", "-password////:123"],
                    &["agent", "-password////:********"],
                ),
                (
                    &["agent", "-password", "-password"],
                    &["agent", "-password", "********"],
                ),
                (
                    &["agent", "--PaSsWoRd=1234"],
                    &["agent", "--PaSsWoRd=********"],
                ),
                (
                    &["agent", "-PASSWORD", "1234"],
                    &["agent", "-PASSWORD", "********"],
                ),
                (
                    &["p1", "--openpassword=admin"],
                    &["p1", "--openpassword=********"],
                ),
                (
                    &["p1", "--db-password=admin"],
                    &["p1", "--db-password=********"],
                ),
                (
                    &["fitz", "-consul_token", "1234567890"],
                    &["fitz", "-consul_token", "********"],
                ),
                (
                    &["fitz", "dd_password", "1234567890"],
                    &["fitz", "dd_password", "********"],
                ),
                (
                    &["mysqld", "--mysql_pwd=x", "--api_key", "y"],
                    &["mysqld", "--mysql_pwd=********", "--api_key", "********"],
                ),
                (
                    &["app", "--stripetoken=x", "--stripetokens=y"],
                    &["app", "--stripetoken=********", "--stripetokens=y"],
                ),
            ],
        );
    }

    #[test]
    fn command_lines_in_one_argument_come_back_split() {
        assert_scrubs(
            &with_custom_words(),
            &[
                (
                    &[
                        "python ~/test/run.py --password=1234 -password 1234 -open_pword=admin -consul_token 2345 -blocked_from_yaml=1234 &",
                    ],
                    &[
                        "python",
                        "~/test/run.py",
                        "--password=********",
                        "-password",
                        "********",
                        "-open_pword=admin",
                        "-consul_token",
                        "********",
                        "-blocked_from_yaml=********",
                        "&",
                    ],
                ),
                (
                    &["agent --password > /password/secret; ls"],
                    &["agent", "--password", "********", "/password/secret;", "ls"],
                ),
                // Runs of spaces give empty arguments.
                (
                    &["java -password      1234"],
                    &["java", "-password", "", "", "", "", "", "********"],
                ),
                (
                    &["process-agent --config=datadog.yaml --pid=process-agent.pid"],
                    &["process-agent", "--config=********", "--pid=********"],
                ),
                (
                    &["1-password --config=12345"],
                    &["1-password", "--config=********"],
                ),
                (&["agent password:1234"], &["agent", "password:********"]),
                // `key: value` masks the value (Datadog masks the nothing
                // between `:` and the space).
                (
                    &["agent password: 1234 -v"],
                    &["agent", "password:", "********", "-v"],
                ),
                // Quoted values, spaces and all, when the quotes are there.
                (
                    &["process --password=\"Data Source another_password=12345\""],
                    &["process", "--password=********"],
                ),
                (
                    &["process --password:'Data Source another_pass=12345'"],
                    &["process", "--password:********"],
                ),
                (
                    &["mysql --password 'my secret' -h db"],
                    &["mysql", "--password", "********", "-h", "db"],
                ),
                (
                    &["postgres: --password 'my secret' --port 5"],
                    &["postgres:", "--password", "********", "--port", "5"],
                ),
                // Unquoted, a value is one token: the boundaries are unknown.
                (
                    &["mysql --password my secret"],
                    &["mysql", "--password", "********", "secret"],
                ),
            ],
        );
    }

    #[test]
    fn values_are_whole_arguments() {
        assert_scrubs(
            &Scrubber::default(),
            &[
                // The value after a bare key is the next argument, spaces
                // and all (the shell's `--password "my secret"`).
                (
                    &["mysql", "--password", "my secret", "-h", "db"],
                    &["mysql", "--password", "********", "-h", "db"],
                ),
                (
                    &["app", "--api_key", "two words here", "--port", "80"],
                    &["app", "--api_key", "********", "--port", "80"],
                ),
                // After a delimiter, the rest of the key's argument.
                (
                    &["app", "--password=my secret", "-v"],
                    &["app", "--password=********", "-v"],
                ),
                (
                    &["app", "--password my secret", "-v"],
                    &["app", "--password ********", "-v"],
                ),
                (
                    &["java", "-password      1234"],
                    &["java", "-password      ********"],
                ),
                // `key: value` masks the value, in the key's argument or
                // in the next one.
                (
                    &["agent", "password: 1234"],
                    &["agent", "password: ********"],
                ),
                (
                    &["agent", "password:", "1234", "-v"],
                    &["agent", "password:", "********", "-v"],
                ),
                (
                    &["agent", "password:   my secret"],
                    &["agent", "password:   ********"],
                ),
                // An empty argument after a bare key is its value.
                (
                    &["app", "--password", "", "x"],
                    &["app", "--password", "********", "x"],
                ),
                (&["app", "--password="], &["app", "--password=********"]),
                // Other arguments keep their spaces, once something was
                // masked too (Datadog splits them).
                (
                    &["sh", "-c", "echo hi", "--password=x"],
                    &["sh", "-c", "echo hi", "--password=********"],
                ),
            ],
        );
    }

    #[test]
    fn command_lines_inside_an_argument_are_lines() {
        assert_scrubs(
            &Scrubber::default(),
            &[
                // A key after a space inside an argument: its value is a
                // token, or a quoted string, or the next argument.
                (
                    &["sh", "-c", "mysql --password x -h db"],
                    &["sh", "-c", "mysql --password ******** -h db"],
                ),
                (
                    &["sh", "-c", "mysql --password", "x y"],
                    &["sh", "-c", "mysql --password", "********"],
                ),
                (
                    &["sh", "-c", "mysql --password 'a b' -h db"],
                    &["sh", "-c", "mysql --password ******** -h db"],
                ),
                // A quoted value across arguments joins them.
                (
                    &["sh", "-c", "a --password=\"p", "q\"", "-v"],
                    &["sh", "-c", "a --password=********", "-v"],
                ),
            ],
        );
    }

    #[test]
    fn a_word_inside_a_longer_flag_names_it() {
        assert_scrubs(
            &Scrubber::default(),
            &[
                // As Datadog: the next argument goes.
                (
                    &["mysql", "--no-password-prompt", "-h", "db"],
                    &["mysql", "--no-password-prompt", "********", "db"],
                ),
                (
                    &["mysql", "--no-password-prompt"],
                    &["mysql", "--no-password-prompt"],
                ),
                (
                    &["mysql --no-password-prompt -h db"],
                    &["mysql", "--no-password-prompt", "********", "db"],
                ),
            ],
        );
    }

    #[test]
    fn words_elsewhere_in_an_argument_are_not_masked() {
        assert_scrubs(
            &with_custom_words(),
            &[
                (
                    &["/opt/passwordless/bin/server", "--port", "80"],
                    &["/opt/passwordless/bin/server", "--port", "80"],
                ),
                (
                    &["run", "/opt/passwordless/bin", "x"],
                    &["run", "/opt/passwordless/bin", "x"],
                ),
                (
                    &["java", "-Dkey=password", "x"],
                    &["java", "-Dkey=password", "x"],
                ),
                (&["agent", "-password/123"], &["agent", "-password/123"]),
                (
                    &["app", "--file=/etc/secrets/app.conf", "x"],
                    &["app", "--file=/etc/secrets/app.conf", "x"],
                ),
                (
                    &["spidly", "--debug_port=2043"],
                    &["spidly", "--debug_port=2043"],
                ),
                (
                    &["agent", "start", "-p", "config.cfg"],
                    &["agent", "start", "-p", "config.cfg"],
                ),
                (&["p1", "-user", "admin"], &["p1", "-user", "admin"]),
                (&["java -open_pword 1234"], &["java -open_pword 1234"]),
                (&["agent 1_pword:1234"], &["agent 1_pword:1234"]),
                (
                    &[
                        "/usr/local/bin/bash -c cat /etc/vaultd/secrets/haproxy-crt.pem > /etc/vaultd/secrets/haproxy.pem",
                    ],
                    &[
                        "/usr/local/bin/bash -c cat /etc/vaultd/secrets/haproxy-crt.pem > /etc/vaultd/secrets/haproxy.pem",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn wildcards_in_custom_words() {
        let mut scrubber = Scrubber::default();
        let words = [
            "*befpass",
            "afterpass*",
            "*both*",
            "mi*le",
            "*pass*d*",
            "*path*",
        ];
        assert!(scrubber.add_words(words).is_empty());
        assert_scrubs(
            &scrubber,
            &[
                (
                    &[
                        "spidly",
                        "--befpass=2043",
                        "onebefpass",
                        "1234",
                        "--befpassCustom=1234",
                    ],
                    &[
                        "spidly",
                        "--befpass=********",
                        "onebefpass",
                        "********",
                        "--befpassCustom=1234",
                    ],
                ),
                (
                    &[
                        "spidly",
                        "--afterpass=2043",
                        "afterpass_1",
                        "1234",
                        "--befafterpass_1=1234",
                    ],
                    &[
                        "spidly",
                        "--afterpass=********",
                        "afterpass_1",
                        "********",
                        "--befafterpass_1=1234",
                    ],
                ),
                (
                    &["spidly", "middle", "1234", "-mile", "1234", "--mill=1234"],
                    &[
                        "spidly",
                        "middle",
                        "********",
                        "-mile",
                        "********",
                        "--mill=1234",
                    ],
                ),
                (
                    &["spidly   middle   1234"],
                    &["spidly", "", "", "middle", "", "", "********"],
                ),
                (
                    &["spidly", "--passwords=12345,123456", "-mypassword", "1234"],
                    &["spidly", "--passwords=********", "-mypassword", "********"],
                ),
                (
                    &[
                        "java /var/lib/conf/address.yaml -Dopscenter.ssl.keyStorePassword=opscenter -Dagent-pidfile=/var/run/agent.pid",
                    ],
                    &[
                        "java",
                        "/var/lib/conf/address.yaml",
                        "-Dopscenter.ssl.keyStorePassword=********",
                        "-Dagent-pidfile=/var/run/agent.pid",
                    ],
                ),
                (
                    &[
                        "/usr/bin/java -Des.path.home=/usr/local/es -cp $ES_HOME/lib/*:/usr/local/es/lib/* org.elasticsearch.bootstrap.Elasticsearch",
                    ],
                    &[
                        "/usr/bin/java",
                        "-Des.path.home=********",
                        "-cp",
                        "$ES_HOME/lib/*:/usr/local/es/lib/*",
                        "org.elasticsearch.bootstrap.Elasticsearch",
                    ],
                ),
                // U+2011, a non-breaking hyphen, is part of the word.
                (
                    &["process", "\u{2011}XXpath:/secret/"],
                    &["process", "\u{2011}XXpath:********"],
                ),
            ],
        );
    }

    #[test]
    fn invalid_words_are_skipped_and_reported() {
        let mut scrubber = Scrubber::disabled();
        let words = [
            "consul_token",
            "(an_error",
            ")a*",
            "[forbidden]",
            "*bef",
            "**bef",
            "after**",
            "mi**le",
            "*",
            "**",
            "",
            "pass-word",
            "*pass*d*",
        ];
        let invalid = scrubber.add_words(words);
        assert_eq!(
            scrubber.words().collect::<Vec<_>>(),
            ["consul_token", "*bef", "*pass*d*"]
        );
        let reasons: Vec<(&str, &str)> = invalid
            .iter()
            .map(|i| (i.word.as_str(), i.reason))
            .collect();
        let chars = "it may only hold letters, digits, underscores and '*' wildcards";
        let double = "it may not hold two '*' in a row";
        assert_eq!(
            reasons,
            [
                ("(an_error", chars),
                (")a*", chars),
                ("[forbidden]", chars),
                ("**bef", double),
                ("after**", double),
                ("mi**le", double),
                ("*", "a word of only '*' is not supported"),
                ("**", double),
                ("", "it is empty"),
                ("pass-word", chars),
            ]
        );
        assert_eq!(
            invalid[0].to_string(),
            "sensitive word \"(an_error\" ignored: it may only hold letters, digits, \
             underscores and '*' wildcards"
        );
        assert_scrubs(
            &scrubber,
            &[(
                &["p --onebef=1 --twopasswords=1,2"],
                &["p", "--onebef=********", "--twopasswords=********"],
            )],
        );
    }

    #[test]
    fn the_fast_check_is_the_longest_literal() {
        assert_eq!(longest_literal("*aa*bbbb*cc"), "bbbb");
        assert_eq!(longest_literal("*Aa*Bb*"), "aa");
        assert_eq!(longest_literal("StripeToken"), "stripetoken");
        // Case folding lets `ſ` (long s) through where Go's lower-casing
        // would not; the word's regex matches it either way.
        assert_scrubs(
            &Scrubber::default(),
            &[(&["x", "--paſſword=1"], &["x", "--paſſword=********"])],
        );
    }

    #[test]
    fn stripping_keeps_the_executable() {
        let scrubber = with_custom_words().with_strip_arguments(true);
        assert!(scrubber.strips_arguments());
        assert_scrubs(
            &scrubber,
            &[
                (&["agent", "-password", "1234"], &["agent"]),
                (&["python ~/test/run.py --password=1234 &"], &["python"]),
                (&["nginx"], &["nginx"]),
                (&[], &[]),
            ],
        );
        let disabled = Scrubber::disabled().with_strip_arguments(true);
        assert_eq!(disabled.scrub(&strings(&["agent", "x"])), ["agent"]);
        let mut out = Vec::new();
        assert!(!disabled.scrub_into(&strings(&["nginx"]), &mut out));
        assert!(disabled.scrub_into(&strings(&["nginx -g x"]), &mut out));
        assert_eq!(out, ["nginx"]);
    }

    #[test]
    fn a_disabled_scrubber_changes_nothing() {
        let args = strings(&["agent", "--password=1234"]);
        assert_eq!(Scrubber::disabled().scrub(&args), args);
        let mut joined = String::from("old");
        assert!(!Scrubber::disabled().scrub_joined_into(&args, &mut joined));
        assert_eq!(joined, "agent --password=1234");
    }

    #[test]
    fn scrub_into_reuses_the_buffer() {
        let scrubber = Scrubber::shared_default();
        let mut out = strings(&["a", "b", "c", "d", "e"]);
        assert!(scrubber.scrub_into(&strings(&["db", "--secret", "x"]), &mut out));
        assert_eq!(out, ["db", "--secret", "********"]);
        assert!(!scrubber.scrub_into(&strings(&["sleep", "10"]), &mut out));
        assert_eq!(out, ["sleep", "10"]);
        assert!(Arc::ptr_eq(&scrubber, &Scrubber::shared_default()));
    }
}
