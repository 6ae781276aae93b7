//! How the Datadog process check chooses its processes, as instance keys
//! (`search_string`, `exact_match`, `pid`, `pid_file`, `collect_children`,
//! `user`, `ignore_denied_access`), turned into the runner's host-side
//! [`ProcessQuery`]. Shared by the bundled checks that watch processes
//! (`process`, `connections`) so both read these keys the same way: flatten
//! [`ProcessSelection`] into a check's `Config`.

use runner_sdk::{ProcessFields, ProcessQuery};
use schemars::JsonSchema;
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Which processes an instance watches. One of `search_string`, `pid` and
/// `pid_file` selects them.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct ProcessSelection {
    /// Select processes by name (`exact_match: true`) or by a regular
    /// expression searched in the command line (`exact_match: false`); a
    /// process matching any entry is selected. The entry `All` selects
    /// every process (deprecated by Datadog). When `pid` or `pid_file` is
    /// also set, `search_string` wins (with a warning).
    #[serde(default)]
    pub search_string: Option<Vec<String>>,
    /// Select the process with this pid. Ignored (with a warning) when
    /// `search_string` is set; wins over `pid_file`.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Select the process whose pid is the first integer in this file. A
    /// file that cannot be read counts as no process running. Ignored
    /// (with a warning) when `search_string` or `pid` is set.
    #[serde(default)]
    pub pid_file: Option<String>,
    /// `true`: a `search_string` entry must equal the process name.
    /// `false`: a `search_string` entry is a regular expression (Python
    /// `re` syntax, look-around included) searched in the command line,
    /// its arguments joined with single spaces.
    #[serde(default = "yes")]
    pub exact_match: bool,
    /// `false`: a process whose command line the runner may not read
    /// during an `exact_match: false` search fails the run. `true`: such
    /// a process is skipped. Unreadable per-process fields (I/O counters,
    /// file descriptors, ...) are always left out of the sums.
    #[serde(default = "yes")]
    pub ignore_denied_access: bool,
    /// Also select every descendant of the selected processes.
    #[serde(default)]
    pub collect_children: bool,
    /// Keep only processes owned by this user name (real uid).
    #[serde(default)]
    pub user: Option<String>,
}

/// Datadog's deprecation warning for an `All` entry, word for word.
pub const ALL_DEPRECATED: &str = "Deprecated: Having \"All\" in your search_string will \
    greatly reduce the performance of the check and will be removed in a future version of \
    the agent.";

/// A [`ProcessSelection`] after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// What to ask the host for.
    pub query: ProcessQuery,
    /// The processes come from `pid_file`: an unreadable file means no
    /// process, not a failed run.
    pub from_pid_file: bool,
    /// `ignore_denied_access: false` on an `exact_match: false` search: a
    /// process whose command line is refused fails the run.
    pub strict_search: bool,
}

impl ProcessSelection {
    /// Validates the keys into a query whose rows carry `fields`.
    /// `no_match` says what selecting nothing means for the check (e.g.
    /// "so `process.up` is CRITICAL"); it ends the warnings about
    /// selections that cannot match, pushed to `warnings`.
    pub fn select(
        self,
        fields: ProcessFields,
        no_match: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Selected, String> {
        // Datadog takes the first selector set, in this order.
        let given: Vec<&str> = [
            ("search_string", self.search_string.is_some()),
            ("pid", self.pid.is_some()),
            ("pid_file", self.pid_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        match given.as_slice() {
            [] => {
                return Err(
                    "one of `search_string`, `pid` or `pid_file` must be set; none is set"
                        .to_string(),
                );
            }
            [_] => {}
            [used, ignored @ ..] => warnings.push(format!(
                "`{}` set together with `{used}`: only `{used}` is used (as by the Datadog \
                 Agent, which takes the first of `search_string`, `pid`, `pid_file`); \
                 remove the others",
                ignored.join("` and `")
            )),
        }

        let mut query = ProcessQuery {
            fields,
            ..ProcessQuery::default()
        };
        let mut strict_search = false;
        if let Some(search) = self.search_string {
            if search.is_empty() {
                // Datadog searches for nothing and finds nothing.
                warnings.push(format!(
                    "`search_string` is empty: no process can match, {no_match}; list the \
                     process names (or patterns) to watch"
                ));
            }
            strict_search = !self.ignore_denied_access && !self.exact_match;
            if search.iter().any(|s| s == "All") {
                warnings.push(ALL_DEPRECATED.to_string());
                query.all = true;
            } else if self.exact_match {
                query.names = search;
            } else {
                for pattern in &search {
                    validate_pattern(pattern)?;
                }
                query.cmdline_patterns = search;
            }
        } else if let Some(pid) = self.pid {
            query.pids = vec![pid];
        } else if let Some(pid_file) = &self.pid_file {
            if pid_file.is_empty() {
                // Datadog cannot open "" and counts no process.
                warnings.push(format!(
                    "`pid_file` is empty: no process can match, {no_match}"
                ));
            } else {
                query.pid_file = Some(pid_file.clone());
            }
        }
        query.include_children = self.collect_children;
        query.user = self.user;
        Ok(Selected {
            from_pid_file: query.pid_file.is_some(),
            query,
            strict_search,
        })
    }
}

/// Checks an `exact_match: false` entry as the runner will compile it:
/// with the `regex` crate's parser, or else (look-around,
/// backreferences) with `fancy-regex`'s.
fn validate_pattern(pattern: &str) -> Result<(), String> {
    let Err(linear) = regex_syntax::Parser::new().parse(pattern) else {
        return Ok(());
    };
    let fancy = match fancy_regex::Expr::parse_tree(pattern) {
        Ok(_) => return Ok(()),
        Err(fancy) => fancy,
    };
    // Name what is wrong in the terms of the engine that would run it.
    let needs_fancy = matches!(
        &linear,
        regex_syntax::Error::Parse(e) if matches!(
            e.kind(),
            regex_syntax::ast::ErrorKind::UnsupportedLookAround
                | regex_syntax::ast::ErrorKind::UnsupportedBackreference
        )
    );
    let reason = if needs_fancy {
        fancy.to_string()
    } else {
        // The parser draws the pattern over several lines; its last line
        // says what is wrong.
        let text = linear.to_string();
        let last = text.lines().last().unwrap_or_default().to_string();
        last.trim_start_matches("error: ").to_string()
    };
    Err(format!(
        "`search_string` entry `{pattern}` is not a valid regular expression \
         (exact_match is false): {reason}"
    ))
}
