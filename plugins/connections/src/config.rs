//! One instance of the connections check, as written in
//! `conf.d/connections.d/conf.yaml`, and its validation into [`Settings`].

use process_selection::ProcessSelection;
use runner_sdk::{ProcessFields, ProcessQuery};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which processes to look at, and which ports they must listen on.
/// (`tags`, `service` and the other keys every check has are the
/// runner's.)
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
pub struct Config {
    /// Name of this group of processes: the `process_name:<name>` tag of
    /// every metric and of `connections.listening`, as the `process`
    /// check tags its metrics.
    pub name: String,
    /// Which processes: `search_string`, `exact_match`, `pid`,
    /// `pid_file`, `collect_children`, `user`, as in the `process` check.
    #[serde(flatten)]
    pub selection: ProcessSelection,
    /// Ports the selected processes must listen on (TCP LISTEN, or a bound
    /// UDP socket). When set, `connections.listening` is CRITICAL if one
    /// of them is not open by the selected processes (or none is
    /// selected) and OK otherwise; when empty, it is not sent.
    #[serde(default)]
    pub expected_listening_ports: Vec<u16>,
}

/// An instance after validation: what `run` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    /// The process query; its rows carry no optional field, only pids are
    /// used.
    pub query: ProcessQuery,
    /// The processes come from `pid_file`: an unreadable file means no
    /// process, not a failed run.
    pub from_pid_file: bool,
    /// Sorted, without duplicates.
    pub expected_listening_ports: Vec<u16>,
    /// The check's tags on everything it sends: `process_name:<name>`.
    pub tags: Vec<String>,
    /// What the configuration gets away with but the user should fix,
    /// logged as warnings at configure time.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Validates `config` (the checks a JSON Schema cannot express).
    pub fn new(config: Config) -> Result<Settings, String> {
        if config.name.trim().is_empty() {
            return Err("`name` must not be empty".to_string());
        }
        let mut warnings = Vec::new();
        let no_match = if config.expected_listening_ports.is_empty() {
            "so every count is 0"
        } else {
            "so `connections.listening` is CRITICAL"
        };
        let selected = config
            .selection
            .select(ProcessFields::empty(), no_match, &mut warnings)?;
        let mut ports = config.expected_listening_ports;
        if ports.contains(&0) {
            return Err(
                "`expected_listening_ports` contains 0, which no socket listens on; list \
                 port numbers from 1 to 65535"
                    .to_string(),
            );
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(Settings {
            tags: vec![format!("process_name:{}", config.name)],
            name: config.name,
            query: selected.query,
            from_pid_file: selected.from_pid_file,
            expected_listening_ports: ports,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_sdk::serde_json::{self, json};

    fn settings(instance: serde_json::Value) -> Result<Settings, String> {
        Settings::new(serde_json::from_value(instance).map_err(|e| e.to_string())?)
    }

    #[test]
    fn selects_like_the_process_check() {
        let s = settings(json!({
            "name": "web", "search_string": ["nginx"],
            "expected_listening_ports": [8080, 80, 8080],
        }))
        .unwrap();
        assert_eq!(s.query.names, ["nginx"]);
        assert_eq!(s.query.fields, ProcessFields::empty());
        assert_eq!(s.expected_listening_ports, [80, 8080]);
        assert_eq!(s.tags, ["process_name:web"]);
        assert!(s.warnings.is_empty());

        let s = settings(json!({
            "name": "db", "search_string": ["postgres -D"], "exact_match": false,
            "collect_children": true, "user": "postgres",
        }))
        .unwrap();
        assert_eq!(s.query.cmdline_patterns, ["postgres -D"]);
        assert!(s.query.include_children);
        assert_eq!(s.query.user.as_deref(), Some("postgres"));

        let s = settings(json!({"name": "x", "pid_file": "/run/x.pid"})).unwrap();
        assert!(s.from_pid_file);
        assert_eq!(s.query.pid_file.as_deref(), Some("/run/x.pid"));
    }

    #[test]
    fn bad_instances_say_what_to_fix() {
        assert_eq!(
            settings(json!({"name": "web"})),
            Err("one of `search_string`, `pid` or `pid_file` must be set; none is set".into())
        );
        assert_eq!(
            settings(json!({"name": " ", "pid": 1})),
            Err("`name` must not be empty".into())
        );
        assert!(
            settings(json!({"name": "w", "pid": 1, "expected_listening_ports": [0]}))
                .unwrap_err()
                .contains("contains 0")
        );
        // Out of range for a port: refused by the schema's type.
        assert!(
            settings(json!({"name": "w", "pid": 1, "expected_listening_ports": [70000]})).is_err()
        );
        let empty = settings(json!({
            "name": "w", "search_string": [], "expected_listening_ports": [80],
        }))
        .unwrap();
        assert_eq!(
            empty.warnings,
            [
                "`search_string` is empty: no process can match, so `connections.listening` \
              is CRITICAL; list the process names (or patterns) to watch"
            ]
        );
    }
}
