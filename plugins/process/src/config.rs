//! Configuration: `init_config` and one instance, as written in
//! `conf.d/process.d/conf.yaml`, and their validation into [`Settings`].

use runner_sdk::ProcessQuery;
use schemars::JsonSchema;
use serde::Deserialize;

/// The Datadog cache durations, in seconds.
const DEFAULT_CACHE_DURATION: f64 = 120.0;

fn default_cache_duration() -> f64 {
    DEFAULT_CACHE_DURATION
}

fn yes() -> bool {
    true
}

/// `init_config` of the process check. Accepted for compatibility with the
/// Datadog Agent's configuration; none of these keys has an effect.
/// (`procfs_path` and `service` are the runner's own keys.)
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct InitConfig {
    /// Datadog: seconds a search's pid list is reused before the processes
    /// are searched again. No effect here: every run queries a fresh
    /// process snapshot shared by all instances, so `process.up` reacts
    /// within one collection interval.
    #[serde(default = "default_cache_duration")]
    pub pid_cache_duration: f64,
    /// Datadog: seconds a pid whose details were refused (access denied)
    /// is skipped. No effect here: unreadable fields are reported by the
    /// fresh snapshot of every run.
    #[serde(default = "default_cache_duration")]
    pub access_denied_cache_duration: f64,
    /// Datadog: seconds the process list shared by all instances is
    /// reused. No effect here: all instances share one snapshot per tick,
    /// taken fresh for every tick.
    #[serde(default = "default_cache_duration")]
    pub shared_process_list_cache_duration: f64,
    /// Datadog: reset the shared process list cache when a process
    /// disappears or nothing matches. No effect here: there is no such
    /// cache to reset.
    #[serde(default = "yes")]
    pub reset_cache_on_process_changes: bool,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            pid_cache_duration: DEFAULT_CACHE_DURATION,
            access_denied_cache_duration: DEFAULT_CACHE_DURATION,
            shared_process_list_cache_duration: DEFAULT_CACHE_DURATION,
            reset_cache_on_process_changes: true,
        }
    }
}

/// One instance of the process check: which processes to watch and how.
/// One of `search_string`, `pid` and `pid_file` selects them. (`tags`,
/// `service` and the other keys every check has are the runner's.)
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Config {
    /// Name of this group of processes: the `process_name:<name>` and
    /// `<name>` tags of the metrics and `process.up`, and the
    /// `process:<name>` tag of `process.up`.
    pub name: String,
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
    /// Bounds on the number of matched processes for the `process.up`
    /// service check. Without it, `process.up` is CRITICAL when no process
    /// matches and OK otherwise.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// Also count every descendant of the selected processes.
    #[serde(default)]
    pub collect_children: bool,
    /// Keep only processes owned by this user name (real uid).
    #[serde(default)]
    pub user: Option<String>,
    /// Datadog: count open file descriptors through `sudo`. No effect
    /// here: the runner reads processes itself, and fields it may not read
    /// are left out of the sums.
    #[serde(default)]
    pub try_sudo: Option<bool>,
    /// Datadog: psutil's `oneshot` optimisation. No effect here: the
    /// runner always reads each process once per snapshot.
    #[serde(default)]
    pub use_oneshot: Option<bool>,
    /// Datadog: seconds this instance's pid list is reused. No effect
    /// here: every run uses a fresh process snapshot.
    #[serde(default)]
    pub pid_cache_duration: Option<f64>,
}

/// Bounds `[low, high]` (inclusive) on the number of matched processes.
/// Other keys are reported by `runner configcheck` as unknown.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Thresholds {
    /// `process.up` is WARNING when the count is outside `[low, high]`.
    /// Default `[1, infinity]`.
    #[serde(default)]
    pub warning: Option<[f64; 2]>,
    /// `process.up` is CRITICAL when the count is outside `[low, high]`;
    /// CRITICAL wins over WARNING. Default `[1, infinity]`.
    #[serde(default)]
    pub critical: Option<[f64; 2]>,
}

/// Inclusive bounds on a process count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub low: f64,
    pub high: f64,
}

impl Bounds {
    /// The Datadog default: at least one process.
    pub const AT_LEAST_ONE: Bounds = Bounds {
        low: 1.0,
        high: f64::INFINITY,
    };

    /// Datadog's test, `not (high < count or count < low)`: with
    /// low > high no count is inside.
    pub fn contains(&self, count: usize) -> bool {
        let count = count as f64;
        self.low <= count && count <= self.high
    }
}

/// Validated `thresholds`, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub warning: Bounds,
    pub critical: Bounds,
}

/// Datadog's deprecation warning for an `All` entry, word for word.
pub const ALL_DEPRECATED: &str = "Deprecated: Having \"All\" in your search_string will \
    greatly reduce the performance of the check and will be removed in a future version of \
    the agent.";

/// An instance after validation: what `run` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    /// What to ask the host for.
    pub query: ProcessQuery,
    /// The processes come from `pid_file`: an unreadable file means no
    /// process, not a failed run.
    pub from_pid_file: bool,
    /// `ignore_denied_access: false` on an `exact_match: false` search: a
    /// process whose command line is refused fails the run.
    pub strict_search: bool,
    /// `None`: no `thresholds` (CRITICAL only when nothing matches).
    pub limits: Option<Limits>,
    /// The check's own metric tags: `process_name:<name>` and `<name>`, as
    /// the Agent sends them (the runner adds the instance's `tags`).
    pub tags: Vec<String>,
    /// What the configuration gets away with but the user should fix,
    /// logged as warnings at configure time.
    pub warnings: Vec<String>,
}

/// `thresholds.<key>` as bounds; low > high is accepted as Datadog does
/// (every count is then outside), with a warning saying what it means.
fn bounds(key: &str, value: Option<[f64; 2]>, warnings: &mut Vec<String>) -> Bounds {
    let Some([low, high]) = value else {
        return Bounds::AT_LEAST_ONE;
    };
    if low > high {
        let status = if key == "critical" {
            "always CRITICAL"
        } else {
            "never better than WARNING"
        };
        warnings.push(format!(
            "`thresholds.{key}` is [{low}, {high}]: low > high, so every process count is \
             outside it and `process.up` is {status}"
        ));
    }
    Bounds { low, high }
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

impl Settings {
    /// Validates `config` (the checks a JSON Schema cannot express).
    pub fn new(config: Config) -> Result<Settings, String> {
        if config.name.trim().is_empty() {
            return Err("`name` must not be empty".to_string());
        }
        let name = config.name;
        let mut warnings = Vec::new();

        // Datadog takes the first selector set, in this order.
        let given: Vec<&str> = [
            ("search_string", config.search_string.is_some()),
            ("pid", config.pid.is_some()),
            ("pid_file", config.pid_file.is_some()),
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

        let mut query = ProcessQuery::default();
        let mut strict_search = false;
        if let Some(search) = config.search_string {
            if search.is_empty() {
                // Datadog searches for nothing and finds nothing.
                warnings.push(
                    "`search_string` is empty: no process can match, so `process.up` is \
                     CRITICAL; list the process names (or patterns) to watch"
                        .to_string(),
                );
            }
            strict_search = !config.ignore_denied_access && !config.exact_match;
            if search.iter().any(|s| s == "All") {
                warnings.push(ALL_DEPRECATED.to_string());
                query.all = true;
            } else if config.exact_match {
                query.names = search;
            } else {
                for pattern in &search {
                    validate_pattern(pattern)?;
                }
                query.cmdline_patterns = search;
            }
        } else if let Some(pid) = config.pid {
            query.pids = vec![pid];
        } else if let Some(pid_file) = &config.pid_file {
            if pid_file.is_empty() {
                // Datadog cannot open "" and counts no process.
                warnings.push(
                    "`pid_file` is empty: no process can match, so `process.up` is CRITICAL"
                        .to_string(),
                );
            } else {
                query.pid_file = Some(pid_file.clone());
            }
        }
        query.include_children = config.collect_children;
        query.user = config.user;

        let limits = config.thresholds.map(|t| Limits {
            warning: bounds("warning", t.warning, &mut warnings),
            critical: bounds("critical", t.critical, &mut warnings),
        });

        Ok(Settings {
            tags: vec![format!("process_name:{name}"), name.clone()],
            from_pid_file: query.pid_file.is_some(),
            name,
            query,
            strict_search,
            limits,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_sdk::serde_json::{self, json};

    fn config(value: serde_json::Value) -> Config {
        serde_json::from_value(value).expect("config deserialises")
    }

    fn settings(value: serde_json::Value) -> Result<Settings, String> {
        Settings::new(config(value))
    }

    #[test]
    fn defaults() {
        let c = config(json!({"name": "nginx", "search_string": ["nginx"]}));
        assert!(c.exact_match);
        assert!(c.ignore_denied_access);
        assert!(!c.collect_children);
        assert_eq!(c.thresholds, None);
        assert_eq!(c.user, None);

        let init: InitConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(init, InitConfig::default());
        assert_eq!(init.pid_cache_duration, 120.0);
        assert_eq!(init.access_denied_cache_duration, 120.0);
        assert_eq!(init.shared_process_list_cache_duration, 120.0);
        assert!(init.reset_cache_on_process_changes);
    }

    #[test]
    fn name_is_required() {
        let err = serde_json::from_value::<Config>(json!({"search_string": ["x"]})).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
        let err = settings(json!({"name": "  ", "search_string": ["x"]})).unwrap_err();
        assert!(err.contains("`name`"), "{err}");
    }

    #[test]
    fn exact_match_selects_names() {
        let s = settings(json!({"name": "web", "search_string": ["nginx", "httpd"]})).unwrap();
        assert_eq!(
            s.query,
            ProcessQuery {
                names: vec!["nginx".into(), "httpd".into()],
                ..ProcessQuery::default()
            }
        );
        assert!(!s.from_pid_file);
    }

    #[test]
    fn regex_match_selects_cmdline_patterns() {
        let s = settings(json!({
            "name": "java",
            "search_string": ["java .*kafka", "zookeeper"],
            "exact_match": false,
        }))
        .unwrap();
        assert_eq!(
            s.query,
            ProcessQuery {
                cmdline_patterns: vec!["java .*kafka".into(), "zookeeper".into()],
                ..ProcessQuery::default()
            }
        );
    }

    #[test]
    fn all_selects_everything() {
        for exact in [true, false] {
            let s = settings(json!({
                "name": "everything",
                "search_string": ["sshd", "All"],
                "exact_match": exact,
            }))
            .unwrap();
            assert_eq!(
                s.query,
                ProcessQuery {
                    all: true,
                    ..ProcessQuery::default()
                }
            );
        }
        // Only the exact entry `All` is special.
        let s = settings(json!({"name": "x", "search_string": ["all"]})).unwrap();
        assert!(!s.query.all);
        assert_eq!(s.query.names, vec!["all".to_string()]);
    }

    #[test]
    fn pid_pid_file_children_and_user() {
        let s = settings(json!({
            "name": "db",
            "pid": 42,
            "collect_children": true,
            "user": "postgres",
        }))
        .unwrap();
        assert_eq!(
            s.query,
            ProcessQuery {
                pids: vec![42],
                include_children: true,
                user: Some("postgres".into()),
                ..ProcessQuery::default()
            }
        );
        assert!(!s.from_pid_file);

        let s = settings(json!({"name": "db", "pid_file": "/run/db.pid"})).unwrap();
        assert_eq!(
            s.query,
            ProcessQuery {
                pid_file: Some("/run/db.pid".into()),
                ..ProcessQuery::default()
            }
        );
        assert!(s.from_pid_file);
    }

    #[test]
    fn first_selector_wins_with_a_warning() {
        let err = settings(json!({"name": "x"})).unwrap_err();
        assert_eq!(
            err,
            "one of `search_string`, `pid` or `pid_file` must be set; none is set"
        );
        let s = settings(json!({"name": "x", "search_string": ["a"], "pid": 1})).unwrap();
        assert_eq!(s.query.names, ["a"]);
        assert!(s.query.pids.is_empty());
        assert_eq!(
            s.warnings,
            [
                "`pid` set together with `search_string`: only `search_string` is used (as by \
              the Datadog Agent, which takes the first of `search_string`, `pid`, \
              `pid_file`); remove the others"
            ]
        );
        let s = settings(json!({"name": "x", "pid": 1, "pid_file": "/p"})).unwrap();
        assert_eq!(s.query.pids, [1]);
        assert_eq!(s.query.pid_file, None);
        assert!(!s.from_pid_file);
        assert!(s.warnings[0].starts_with("`pid_file` set together with `pid`: only `pid`"));
        let s = settings(json!({
            "name": "x", "search_string": ["a"], "pid": 1, "pid_file": "/p"
        }))
        .unwrap();
        assert_eq!(s.query.names, ["a"]);
        assert!(
            s.warnings[0].starts_with(
                "`pid` and `pid_file` set together with `search_string`: only `search_string`"
            ),
            "{:?}",
            s.warnings
        );
        let s = settings(json!({"name": "x", "pid": 1})).unwrap();
        assert!(s.warnings.is_empty());
        // Empty selectors select nothing, as in Datadog, with a warning.
        for empty in [json!({"search_string": []}), json!({"pid_file": ""})] {
            let mut instance = empty.clone();
            instance["name"] = json!("x");
            let s = settings(instance).unwrap();
            assert_eq!(s.query, ProcessQuery::default(), "{empty}");
            assert_eq!(s.warnings.len(), 1, "{empty}");
            assert!(s.warnings[0].contains("is empty"), "{empty}");
        }
    }

    #[test]
    fn all_is_deprecated_with_datadogs_words() {
        let s = settings(json!({"name": "x", "search_string": ["All"]})).unwrap();
        assert!(s.query.all);
        assert_eq!(
            s.warnings,
            [
                "Deprecated: Having \"All\" in your search_string will greatly reduce the \
              performance of the check and will be removed in a future version of the agent."
            ]
        );
    }

    #[test]
    fn regexes_are_python_syntax_and_invalid_ones_are_errors() {
        let regex = |pattern: &str| {
            settings(json!({
                "name": "x", "search_string": [pattern], "exact_match": false
            }))
        };
        let err = regex("nginx: (worker").unwrap_err();
        assert_eq!(
            err,
            "`search_string` entry `nginx: (worker` is not a valid regular expression \
             (exact_match is false): unclosed group"
        );
        for valid in [
            r"nginx: (worker|master)\s",
            r"java(?!.*zookeeper).*kafka\.Kafka",
            r"(?<=--name=)db\d",
            r"(\w+) \1",
            r"(?P<svc>api|web)-server",
        ] {
            let s = regex(valid).unwrap_or_else(|e| panic!("{valid}: {e}"));
            assert_eq!(s.query.cmdline_patterns, [valid]);
        }
        // Broken look-around: the backtracking engine's parser says why.
        let err = regex("(?<=x").unwrap_err();
        assert!(
            err.starts_with(
                "`search_string` entry `(?<=x` is not a valid regular expression \
                 (exact_match is false): "
            ) && !err.contains("look-around"),
            "{err}"
        );
    }

    #[test]
    fn thresholds() {
        let s = settings(json!({"name": "x", "pid": 1})).unwrap();
        assert_eq!(s.limits, None);

        let s = settings(json!({
            "name": "x", "pid": 1, "thresholds": {"warning": [2, 5]}
        }))
        .unwrap();
        assert_eq!(
            s.limits,
            Some(Limits {
                warning: Bounds {
                    low: 2.0,
                    high: 5.0
                },
                critical: Bounds::AT_LEAST_ONE,
            })
        );

        let s = settings(json!({
            "name": "x", "pid": 1, "thresholds": {"critical": [5, 2], "warning": [3, 1]}
        }))
        .unwrap();
        assert_eq!(
            s.limits.unwrap().critical,
            Bounds {
                low: 5.0,
                high: 2.0
            }
        );
        assert_eq!(
            s.warnings,
            [
                "`thresholds.warning` is [3, 1]: low > high, so every process count is \
                 outside it and `process.up` is never better than WARNING",
                "`thresholds.critical` is [5, 2]: low > high, so every process count is \
                 outside it and `process.up` is always CRITICAL",
            ]
        );

        // Not two numbers: refused by deserialisation (and the schema).
        for bad in [json!([1]), json!([1, 2, 3]), json!(["a", "b"])] {
            let r = serde_json::from_value::<Config>(json!({
                "name": "x", "pid": 1, "thresholds": {"warning": bad}
            }));
            assert!(r.is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tags_and_ignored_keys() {
        let s = settings(json!({
            "name": "nginx",
            "search_string": ["nginx"],
            "tags": ["env:prod", "team:web"],
            "try_sudo": true,
            "use_oneshot": false,
            "pid_cache_duration": 30,
            "min_collection_interval": 30,
        }))
        .unwrap();
        // The instance's `tags` are added by the runner, not here.
        assert_eq!(s.tags, ["process_name:nginx", "nginx"]);
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn denied_access_matters_only_for_a_command_line_search() {
        let strict = |extra: serde_json::Value| {
            let mut instance = json!({"name": "x", "ignore_denied_access": false});
            instance
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            settings(instance).unwrap().strict_search
        };
        assert!(strict(
            json!({"search_string": ["a"], "exact_match": false})
        ));
        assert!(strict(
            json!({"search_string": ["All"], "exact_match": false})
        ));
        assert!(!strict(json!({"search_string": ["a"]})));
        assert!(!strict(json!({"pid": 1})));
        assert!(!strict(json!({"pid_file": "/p"})));
        let s = settings(json!({
            "name": "x", "search_string": ["a"], "exact_match": false
        }))
        .unwrap();
        assert!(!s.strict_search);
    }

    #[test]
    fn schema_documents_every_field() {
        let schema = schemars::schema_for!(Config).to_value();
        let props = schema["properties"].as_object().unwrap();
        for (key, prop) in props {
            assert!(
                prop.get("description").is_some(),
                "instance key `{key}` has no description"
            );
        }
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(props["exact_match"]["default"], json!(true));

        // Datadog's inert options say so.
        for key in ["try_sudo", "use_oneshot", "pid_cache_duration"] {
            let text = props[key]["description"].as_str().unwrap();
            assert!(text.contains("No effect"), "`{key}`: {text}");
        }
        assert!(!props.contains_key("tags"), "`tags` is the runner's");

        let schema = schemars::schema_for!(InitConfig).to_value();
        let props = schema["properties"].as_object().unwrap();
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "access_denied_cache_duration",
                "pid_cache_duration",
                "reset_cache_on_process_changes",
                "shared_process_list_cache_duration"
            ]
        );
        for (key, prop) in props {
            let text = prop["description"].as_str().unwrap_or_default();
            assert!(text.contains("No effect"), "init_config `{key}`: {text}");
            let default = if key == "reset_cache_on_process_changes" {
                json!(true)
            } else {
                json!(120.0)
            };
            assert_eq!(prop["default"], default, "{key}");
        }
    }
}
