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
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            pid_cache_duration: DEFAULT_CACHE_DURATION,
            access_denied_cache_duration: DEFAULT_CACHE_DURATION,
            shared_process_list_cache_duration: DEFAULT_CACHE_DURATION,
        }
    }
}

/// One instance of the process check: which processes to watch and how.
/// Exactly one of `search_string`, `pid` and `pid_file` selects them.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Config {
    /// Name of this group of processes: the `process_name:<name>` tag of
    /// the metrics and the `process:<name>` tag of `process.up`.
    pub name: String,
    /// Select processes by name (`exact_match: true`) or by a regular
    /// expression searched in the command line (`exact_match: false`); a
    /// process matching any entry is selected. The entry `All` selects
    /// every process. Exclusive with `pid` and `pid_file`.
    #[serde(default)]
    pub search_string: Option<Vec<String>>,
    /// Select the process with this pid. Exclusive with `search_string`
    /// and `pid_file`.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Select the process whose pid is the first integer in this file. A
    /// file that cannot be read or holds no pid counts as no process
    /// running (`process.up` is CRITICAL, with the reason in its message).
    /// Exclusive with `search_string` and `pid`.
    #[serde(default)]
    pub pid_file: Option<String>,
    /// `true`: a `search_string` entry must equal the process name.
    /// `false`: a `search_string` entry is a regular expression (Rust
    /// `regex` syntax) searched in the command line, its arguments joined
    /// with single spaces.
    #[serde(default = "yes")]
    pub exact_match: bool,
    /// `true`: a field the runner is not allowed to read for a process
    /// (e.g. the I/O counters of another user's process) is left out of
    /// the sums. `false`: such a field fails the run.
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
    /// Tags added to every metric and service check of this instance.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Datadog: read other users' processes through `sudo`. Accepted for
    /// compatibility and ignored: the runner reads processes itself, and
    /// fields it may not read are handled by `ignore_denied_access`.
    #[serde(default)]
    pub try_sudo: Option<bool>,
    /// Datadog: psutil's `oneshot` optimisation. Accepted for
    /// compatibility and ignored: the runner always reads each process
    /// once per snapshot.
    #[serde(default)]
    pub use_oneshot: Option<bool>,
}

#[cfg(test)]
mod regex_tests {
    use super::*;

    fn config(search: &str) -> Config {
        runner_sdk::serde_json::from_value(runner_sdk::serde_json::json!({
            "name": "x", "search_string": [search], "exact_match": false
        }))
        .unwrap()
    }

    #[test]
    fn invalid_patterns_are_configuration_errors() {
        let error = Settings::new(config("nginx: (worker")).unwrap_err();
        assert_eq!(
            error,
            "`search_string` entry `nginx: (worker` is not a valid regular expression \
             (exact_match is false): unclosed group"
        );
        assert!(Settings::new(config(r"nginx: (worker|master)\s")).is_ok());
    }
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

/// An instance after validation: what `run` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    /// What to ask the host for.
    pub query: ProcessQuery,
    /// The processes come from `pid_file`: an unreadable file is a
    /// CRITICAL service check, not a failed run.
    pub from_pid_file: bool,
    pub ignore_denied_access: bool,
    /// `None`: no `thresholds` (CRITICAL only when nothing matches).
    pub limits: Option<Limits>,
    /// `process_name:<name>` followed by the instance tags.
    pub tags: Vec<String>,
}

/// Checks `[low, high]` of `thresholds.<key>`.
fn bounds(key: &str, value: Option<[f64; 2]>) -> Result<Bounds, String> {
    let Some([low, high]) = value else {
        return Ok(Bounds::AT_LEAST_ONE);
    };
    if low > high {
        return Err(format!(
            "`thresholds.{key}` must be [low, high] with low <= high, got [{low}, {high}]"
        ));
    }
    Ok(Bounds { low, high })
}

impl Settings {
    /// Validates `config` (the checks a JSON Schema cannot express).
    pub fn new(config: Config) -> Result<Settings, String> {
        if config.name.trim().is_empty() {
            return Err("`name` must not be empty".to_string());
        }
        let name = config.name;

        let given: Vec<&str> = [
            ("search_string", config.search_string.is_some()),
            ("pid", config.pid.is_some()),
            ("pid_file", config.pid_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if given.len() != 1 {
            let found = if given.is_empty() {
                "none is set".to_string()
            } else {
                format!("found {}", given.join(", "))
            };
            return Err(format!(
                "exactly one of `search_string`, `pid` or `pid_file` must be set; {found}"
            ));
        }

        let mut query = ProcessQuery::default();
        if let Some(search) = config.search_string {
            if search.is_empty() {
                return Err("`search_string` must list at least one entry".to_string());
            }
            if search.iter().any(|s| s == "All") {
                query.all = true;
            } else if config.exact_match {
                query.names = search;
            } else {
                for pattern in &search {
                    regex_syntax::Parser::new().parse(pattern).map_err(|e| {
                        // The parser's message draws the pattern over
                        // several lines; its last line says what is wrong.
                        let text = e.to_string();
                        let reason = text.lines().last().unwrap_or_default();
                        format!(
                            "`search_string` entry `{pattern}` is not a valid regular expression \
                             (exact_match is false): {}",
                            reason.trim_start_matches("error: ")
                        )
                    })?;
                }
                query.cmdline_patterns = search;
            }
        } else if let Some(pid) = config.pid {
            query.pids = vec![pid];
        } else if let Some(pid_file) = &config.pid_file {
            if pid_file.is_empty() {
                return Err("`pid_file` must not be empty".to_string());
            }
            query.pid_file = Some(pid_file.clone());
        }
        query.include_children = config.collect_children;
        query.user = config.user;

        let limits = match config.thresholds {
            None => None,
            Some(t) => Some(Limits {
                warning: bounds("warning", t.warning)?,
                critical: bounds("critical", t.critical)?,
            }),
        };

        let mut tags = Vec::with_capacity(config.tags.len() + 1);
        tags.push(format!("process_name:{name}"));
        tags.extend(config.tags);

        Ok(Settings {
            name,
            query,
            from_pid_file: config.pid_file.is_some(),
            ignore_denied_access: config.ignore_denied_access,
            limits,
            tags,
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
        assert!(c.tags.is_empty());
        assert_eq!(c.user, None);

        let init: InitConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(init, InitConfig::default());
        assert_eq!(init.pid_cache_duration, 120.0);
        assert_eq!(init.access_denied_cache_duration, 120.0);
        assert_eq!(init.shared_process_list_cache_duration, 120.0);
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
    fn exactly_one_selector() {
        let err = settings(json!({"name": "x"})).unwrap_err();
        assert_eq!(
            err,
            "exactly one of `search_string`, `pid` or `pid_file` must be set; none is set"
        );
        let err = settings(json!({"name": "x", "search_string": ["a"], "pid": 1})).unwrap_err();
        assert_eq!(
            err,
            "exactly one of `search_string`, `pid` or `pid_file` must be set; \
             found search_string, pid"
        );
        let err = settings(json!({"name": "x", "pid": 1, "pid_file": "/p"})).unwrap_err();
        assert!(err.ends_with("found pid, pid_file"), "{err}");
        let err = settings(json!({
            "name": "x", "search_string": ["a"], "pid": 1, "pid_file": "/p"
        }))
        .unwrap_err();
        assert!(err.ends_with("found search_string, pid, pid_file"), "{err}");
        let err = settings(json!({"name": "x", "search_string": []})).unwrap_err();
        assert!(err.contains("`search_string`"), "{err}");
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

        let err = settings(json!({
            "name": "x", "pid": 1, "thresholds": {"critical": [5, 2]}
        }))
        .unwrap_err();
        assert_eq!(
            err,
            "`thresholds.critical` must be [low, high] with low <= high, got [5, 2]"
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
            "min_collection_interval": 30,
        }))
        .unwrap();
        assert_eq!(s.tags, ["process_name:nginx", "env:prod", "team:web"]);
        assert!(s.ignore_denied_access);
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

        let schema = schemars::schema_for!(InitConfig).to_value();
        for (key, prop) in schema["properties"].as_object().unwrap() {
            let text = prop["description"].as_str().unwrap_or_default();
            assert!(text.contains("No effect"), "init_config `{key}`: {text}");
            assert_eq!(prop["default"], json!(120.0));
        }
    }
}
