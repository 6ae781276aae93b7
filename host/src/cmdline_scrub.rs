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
//!   `:`), and the value: a `"..."` or `'...'` string, else everything up
//!   to the next whitespace;
//! - how it is applied: the arguments are joined with single spaces, each
//!   word's regex replaces every match in turn, and when anything changed
//!   the result is split on single spaces again. So arguments that held
//!   spaces come back split, and runs of spaces come back as empty
//!   arguments, exactly as Datadog reports them;
//! - `strip_proc_arguments` ([`Scrubber::with_strip_arguments`]): only the
//!   first space-separated token of the first argument is kept.
//!
//! What that means, kept as Datadog has it (see the tests):
//! - `--password=x`, `-password x`, `--password x`, `password x`,
//!   `--password:x` and `--db-password=x` are masked;
//! - `password: x` masks the empty value between `:` and the space, and
//!   leaves `x`;
//! - a value is one space-separated token: `--password "my secret"` as
//!   separate arguments masks `my` and leaves `secret` (quotes only help
//!   when they are in the command line itself, as for a process that wrote
//!   its whole command line into its first argument);
//! - a word inside a longer flag is still the flag's name:
//!   `--no-password-prompt -h db` masks `-h`; a word not at the start of an
//!   argument is not (`/opt/passwordless/bin`, `-Dkey=password`).
//!
//! Where this differs from Datadog, and why:
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
//!   line without any sensitive word costs one regex search.

use std::borrow::Cow;
use std::fmt;
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

/// What replaces a match: the key and delimiter kept, the value masked with
/// [`crate::scrub::REPLACEMENT`].
const REPLACEMENT_TEMPLATE: &str = "${key}${delimiter}********";

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
        if self.scrub_joined_into(args, &mut line) {
            fill(out, line.split(' '));
            true
        } else {
            fill(out, args.iter().map(String::as_str));
            false
        }
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
        join_into(out, args);
        self.scrub_line(out)
    }

    /// Masks sensitive values in `line` (a joined command line) in place;
    /// true when a word's regex matched.
    fn scrub_line(&self, line: &mut String) -> bool {
        if !self.any_word.as_ref().is_some_and(|any| any.is_match(line)) {
            return false;
        }
        let mut changed = false;
        for word in &self.words {
            let replaced = match word.regex.replace_all(line, REPLACEMENT_TEMPLATE) {
                Cow::Owned(replaced) => Some(replaced),
                Cow::Borrowed(_) => None,
            };
            if let Some(replaced) = replaced {
                *line = replaced;
                changed = true;
            }
        }
        changed
    }
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
        "(?P<key>(?: +| -{{1,2}})(?i){body})(?P<delimiter> +|=|:)\
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
            assert_eq!(scrubber.scrub(&args), strings(expected), "{args:?}");
            // The joined form is the same command line.
            let mut joined = String::new();
            scrubber.scrub_joined_into(&args, &mut joined);
            assert_eq!(joined, expected.join(" "), "{args:?}");
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
        assert!(REPLACEMENT_TEMPLATE.ends_with(crate::scrub::REPLACEMENT));
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
                // An argument holding spaces is split even where nothing
                // was masked, once something was.
                (
                    &["sh", "-c", "echo hi", "--password=x"],
                    &["sh", "-c", "echo", "hi", "--password=********"],
                ),
            ],
        );
    }

    #[test]
    fn datadogs_limits_are_kept() {
        assert_scrubs(
            &Scrubber::default(),
            &[
                // `password: x`: the empty value after `:` is masked.
                (
                    &["agent", "password: 1234"],
                    &["agent", "password:********", "1234"],
                ),
                // A value is one token: separate arguments carry no quotes.
                (
                    &["mysql", "--password", "my secret"],
                    &["mysql", "--password", "********", "secret"],
                ),
                // A word inside a longer flag names it: the next token goes.
                (
                    &["mysql", "--no-password-prompt", "-h", "db"],
                    &["mysql", "--no-password-prompt", "********", "db"],
                ),
                (
                    &["mysql", "--no-password-prompt"],
                    &["mysql", "--no-password-prompt"],
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
