//! Configuration: `init_config` and one instance, as written in
//! `conf.d/process.d/conf.yaml`, and their validation into [`Settings`].

pub use process_selection::ALL_DEPRECATED;
use process_selection::ProcessSelection;
use runner_sdk::{ProcessFields, ProcessQuery};
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
    /// Which processes: `search_string`, `exact_match`, `pid`,
    /// `pid_file`, `collect_children`, `user`, `ignore_denied_access`.
    #[serde(flatten)]
    pub selection: ProcessSelection,
    /// Bounds on the number of matched processes for the `process.up`
    /// service check. Without it, `process.up` is CRITICAL when no process
    /// matches and OK otherwise.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
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

impl Settings {
    /// Validates `config` (the checks a JSON Schema cannot express).
    pub fn new(config: Config) -> Result<Settings, String> {
        if config.name.trim().is_empty() {
            return Err("`name` must not be empty".to_string());
        }
        let name = config.name;
        let mut warnings = Vec::new();

        // The sums need the fd counts and I/O counters, and no string: the
        // host copies none into the rows.
        let selected = config.selection.select(
            ProcessFields::OPEN_FDS | ProcessFields::IO,
            "so `process.up` is CRITICAL",
            &mut warnings,
        )?;
        let limits = config.thresholds.map(|t| Limits {
            warning: bounds("warning", t.warning, &mut warnings),
            critical: bounds("critical", t.critical, &mut warnings),
        });

        Ok(Settings {
            tags: vec![format!("process_name:{name}"), name.clone()],
            from_pid_file: selected.from_pid_file,
            name,
            query: selected.query,
            strict_search: selected.strict_search,
            limits,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every query asks for beyond its selection.
    fn base_query() -> ProcessQuery {
        ProcessQuery {
            fields: ProcessFields::OPEN_FDS | ProcessFields::IO,
            ..ProcessQuery::default()
        }
    }
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
        assert!(c.selection.exact_match);
        assert!(c.selection.ignore_denied_access);
        assert!(!c.selection.collect_children);
        assert_eq!(c.thresholds, None);
        assert_eq!(c.selection.user, None);

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
                ..base_query()
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
                ..base_query()
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
                    ..base_query()
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
                ..base_query()
            }
        );
        assert!(!s.from_pid_file);

        let s = settings(json!({"name": "db", "pid_file": "/run/db.pid"})).unwrap();
        assert_eq!(
            s.query,
            ProcessQuery {
                pid_file: Some("/run/db.pid".into()),
                ..base_query()
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
            assert_eq!(s.query, base_query(), "{empty}");
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
