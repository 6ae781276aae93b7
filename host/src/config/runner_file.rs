//! runner.yaml, the runner's own settings (the counterpart of the Agent's
//! datadog.yaml), and the `RUNNER_*` environment variables that override it.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use super::daemon::{self, AccessToken, HistogramAggregate, PercentileValue};
use super::error::ConfigError;
use super::limits::{self, Limits};
use super::positions::Positions;
use super::process_config::ProcessConfig;
use super::schema::Schema;
use super::validate::validate_options;
use super::yaml::{parse_yaml, to_json};

/// Settings of the runner process, read from runner.yaml.
///
/// Every key is optional. Relative paths are resolved against the directory
/// of the runner.yaml that sets them. Environment variables override the
/// file: `RUNNER_CONF_D`, `RUNNER_CHECKS_D`, `RUNNER_HOSTNAME`, `RUNNER_TAGS`
/// (comma-separated), `RUNNER_CACHE_DIR`, `RUNNER_INSTANCE_POOL`, the
/// daemon's `RUNNER_CHECK_RUNNERS`, `RUNNER_FLUSH_INTERVAL`,
/// `RUNNER_SHUTDOWN_TIMEOUT`, `RUNNER_LISTEN`, `RUNNER_ACCESS_TOKEN`,
/// `RUNNER_JSON_LINES` and
/// `RUNNER_WATCH`, and one per limit:
/// `RUNNER_TIMEOUT`, `RUNNER_MEMORY_MIB`, `RUNNER_MAX_METRICS`,
/// `RUNNER_MAX_SERVICE_CHECKS`, `RUNNER_MAX_EVENTS`, `RUNNER_MAX_METADATA`,
/// `RUNNER_MAX_SUBMISSION_KIB`, `RUNNER_MAX_OUTPUT_KIB`,
/// `RUNNER_MAX_CONTEXTS`; for reading processes `RUNNER_PROCFS_PATH` (or
/// `HOST_PROC`), `RUNNER_SYSFS_PATH` (or `HOST_SYS`), `RUNNER_PASSWD_FILE`
/// (or `HOST_ETC`) and the `process_config` ones; an empty variable counts
/// as unset. (`RUNNER_CONFIG`, the file's path, is
/// read by the command line as `--config`.)
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Directory of check configurations, laid out like the Datadog Agent's
    /// `conf.d` (`<check>.d/*.yaml` or `<check>.yaml`). Default: `conf.d`.
    pub conf_d: PathBuf,
    /// Directory of check plugins (`<check>.wasm`), the counterpart of the
    /// Agent's `checks.d`. Default: `checks.d`.
    pub checks_d: PathBuf,
    /// Host name attached to every sample (unless an instance sets
    /// `empty_default_hostname: true`). Default: the machine's host name.
    pub hostname: Option<String>,
    /// Host tags (`key:value`) added to every sample of every check.
    /// Default: none.
    pub tags: Vec<String>,
    /// Default resource limits for every instance; an instance's own
    /// `limits:` map overrides them key by key.
    pub limits: Limits,
    /// Where compiled plugins are cached so restarts skip compilation.
    /// Default: `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`.
    pub cache_dir: Option<PathBuf>,
    /// Reserve a pool of instance slots at start, sized from the configured
    /// instances, so a fresh instance costs microseconds. `false` allocates
    /// every instance on demand (for hosts with little address space, e.g.
    /// a low `ulimit -v`; the runner also falls back by itself when the
    /// pool cannot be reserved). Default: true.
    pub instance_pool: bool,
    /// Where the proc file system is read from: the host's `/proc`
    /// mounted into a container (e.g. `/host/proc`), as the Agent's
    /// `procfs_path`. Connections are then read from the host's network
    /// namespace (through pid 1). Default: `/proc`. (`RUNNER_PROCFS_PATH`,
    /// else `HOST_PROC`)
    pub procfs_path: PathBuf,
    /// Where sysfs is read from (the number of online CPUs), e.g.
    /// `/host/sys`. Default: `/sys`. (`RUNNER_SYSFS_PATH`, else `HOST_SYS`)
    pub sysfs_path: PathBuf,
    /// A passwd file to name users from (e.g. the host's `/etc/passwd`
    /// mounted at `/host/etc/passwd`). Default: none, users are named by
    /// the system's name service (`/etc/passwd`, systemd, LDAP, ... as
    /// `nsswitch.conf` says). (`RUNNER_PASSWD_FILE`, else
    /// `$HOST_ETC/passwd`)
    pub passwd_file: Option<PathBuf>,
    /// How command lines are scrubbed (Datadog's `process_config`).
    pub process_config: ProcessConfig,
    /// How many runs `runner run` lets work at once (the Agent's
    /// `check_runners`). A due run waits for a free runner; one still
    /// going after [`SLOT_HOLD`](crate::scheduler::SLOT_HOLD) gives its
    /// runner back, so stuck checks never hold up the others. Must be >= 1.
    /// Default: 4. (`RUNNER_CHECK_RUNNERS`)
    #[serde(deserialize_with = "limits::de_count_usize")]
    pub check_runners: usize,
    /// Seconds between two flushes of what the runs collected to the
    /// sinks (`/metrics`, the JSON lines). Must be > 0. Default: 15, the
    /// Agent's. (`RUNNER_FLUSH_INTERVAL`)
    #[serde(deserialize_with = "limits::de_timeout")]
    pub flush_interval: f64,
    /// Seconds runs still going on SIGINT/SIGTERM get to finish before
    /// they are cancelled; then the last flush happens. Must be > 0.
    /// Default: 10. (`RUNNER_SHUTDOWN_TIMEOUT`)
    #[serde(deserialize_with = "limits::de_timeout")]
    pub shutdown_timeout: f64,
    /// Where `runner run` serves `/metrics` (Prometheus and OpenMetrics)
    /// and `/status` (JSON, read by `runner status`): an IP address and
    /// port, or `""` for no endpoint. Port 0 picks a free one (logged at
    /// start). Default: `127.0.0.1:5180`. (`RUNNER_LISTEN`)
    #[serde(deserialize_with = "daemon::de_listen")]
    #[schemars(with = "Option<String>")]
    pub listen: Option<SocketAddr>,
    /// A secret that every request to the HTTP endpoint must present, as
    /// `Authorization: Bearer <token>` (Prometheus: `authorization:
    /// {credentials: <token>}`; `runner status` sends it). Required when
    /// `listen` is not a loopback address. At least 16 characters.
    /// Default: none. (`RUNNER_ACCESS_TOKEN`)
    #[serde(deserialize_with = "daemon::de_access_token")]
    #[schemars(with = "Option<String>")]
    pub access_token: Option<AccessToken>,
    /// Also write every run's results as one JSON object per line: `-`
    /// for stdout, or a file (appended to). Default: none.
    /// (`RUNNER_JSON_LINES`)
    pub json_lines: Option<PathBuf>,
    /// The series sent for each histogram (Datadog's
    /// `histogram_aggregates`): any of max, min, median, avg, sum, count.
    /// Default: [max, median, avg, count].
    pub histogram_aggregates: Vec<HistogramAggregate>,
    /// The percentiles sent for each histogram (Datadog's
    /// `histogram_percentiles`), as fractions: `["0.95"]` sends
    /// `.95percentile`. Each must be between 0 and 1 (rounded to two
    /// decimals). Default: ["0.95"].
    #[serde(deserialize_with = "daemon::de_percentiles")]
    #[schemars(with = "Vec<PercentileValue>")]
    pub histogram_percentiles: Vec<u32>,
    /// Pick up changes to conf.d and checks.d while `runner run` runs
    /// (SIGHUP reloads too, whatever this says). Default: true.
    /// (`RUNNER_WATCH`)
    pub watch: bool,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            conf_d: PathBuf::from("conf.d"),
            checks_d: PathBuf::from("checks.d"),
            hostname: None,
            tags: Vec::new(),
            limits: Limits::default(),
            cache_dir: None,
            instance_pool: true,
            procfs_path: PathBuf::from("/proc"),
            sysfs_path: PathBuf::from("/sys"),
            passwd_file: None,
            process_config: ProcessConfig::default(),
            check_runners: 4,
            flush_interval: 15.0,
            shutdown_timeout: 10.0,
            listen: daemon::parse_listen(daemon::DEFAULT_LISTEN).unwrap_or(None),
            access_token: None,
            json_lines: None,
            histogram_aggregates: daemon::DEFAULT_AGGREGATES.to_vec(),
            histogram_percentiles: vec![95],
            watch: true,
        }
    }
}

/// runner.yaml looked up in the current directory when no `--config` is given.
const DEFAULT_FILE: &str = "runner.yaml";

impl RunnerConfig {
    /// Loads the runner's settings.
    ///
    /// `path`: explicit `--config` file (must exist); `None` → `runner.yaml`
    /// in the current directory if it exists, else defaults.
    /// `env`: lookup function for environment variables (tests pass a
    /// closure over a map; main passes `std::env::var`), consulted for the
    /// `RUNNER_*` overrides and for `XDG_CACHE_HOME`/`HOME`.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::new("runner config file not found")
                        .with_file(path)
                        .with_hint("check the --config path"));
                }
                Self::from_file(path)?
            }
            None if Path::new(DEFAULT_FILE).exists() => Self::from_file(Path::new(DEFAULT_FILE))?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        if let Some(name) = &config.hostname {
            let trimmed = name.trim();
            if trimmed.is_empty() {
                return Err(ConfigError::new("expected a non-empty host name")
                    .with_key("hostname")
                    .with_hint("remove `hostname` to use the machine's host name"));
            }
            config.hostname = Some(trimmed.to_string());
        } else {
            config.hostname = machine_hostname();
        }
        if config.cache_dir.is_none() {
            config.cache_dir = default_cache_dir(env);
        }
        Ok(config)
    }

    /// Parses one runner.yaml and resolves its relative paths.
    ///
    /// The same path as a conf.d file: YAML to JSON, the JSON Schema of
    /// these settings (derived from this struct) for types and unknown keys,
    /// then serde for the value rules (limits); every problem is placed at
    /// its line. The first problem is returned: runner.yaml must be right.
    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = fs::read_to_string(path).map_err(|e| {
            ConfigError::new(format!("cannot read runner config: {e}")).with_file(path)
        })?;
        let Some(doc) = parse_yaml(&text, path)? else {
            // An empty file means the defaults.
            return Ok(Self::resolved(Self::default(), path));
        };
        let positions = Positions::of(&text);
        let problem = |mut e: ConfigError| {
            e = e.with_file(path);
            positions.place(&mut e);
            // A problem of the whole document (a list where the settings
            // mapping belongs) is where the document starts.
            if e.key.is_none()
                && let Some((line, column)) = positions.line_of("")
            {
                e = e.at(line, Some(column));
            }
            if e.hint.is_none()
                && let Some(key) = &e.key
            {
                e.hint = Some(example(key));
            }
            e
        };
        let mut notes = Vec::new();
        let mut value = to_json(&doc, "", &mut notes).map_err(|(key, message)| {
            let e = ConfigError::new(message);
            problem(if key.is_empty() { e } else { e.with_key(key) })
        })?;
        let report = validate_options(&mut value, &SCHEMA, "", &|e| e);
        // Unknown keys are errors here: a typo in the runner's own settings
        // would silently change what it does.
        if let Some(first) = report.errors.into_iter().chain(report.warnings).next() {
            return Err(problem(first));
        }
        let config = serde_path_to_error::deserialize::<_, Self>(&value).map_err(|e| {
            let key = e.path().to_string();
            let hint = example(&key);
            problem(
                ConfigError::new(e.into_inner().to_string())
                    .with_key(key)
                    .with_hint(hint),
            )
        })?;
        Ok(Self::resolved(config, path))
    }

    /// Relative paths of a runner.yaml are relative to its folder.
    fn resolved(mut config: Self, path: &Path) -> Self {
        let base = path.parent().unwrap_or(Path::new(""));
        config.conf_d = base.join(&config.conf_d);
        config.checks_d = base.join(&config.checks_d);
        config.cache_dir = config.cache_dir.map(|dir| base.join(dir));
        config.procfs_path = base.join(&config.procfs_path);
        config.sysfs_path = base.join(&config.sysfs_path);
        config.passwd_file = config.passwd_file.map(|file| base.join(file));
        config.json_lines = config.json_lines.map(|file| {
            if file.as_os_str() == "-" {
                file
            } else {
                base.join(file)
            }
        });
        config
    }

    /// Applies the `RUNNER_*` environment overrides.
    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("RUNNER_CONF_D") {
            self.conf_d = PathBuf::from(v);
        }
        if let Some(v) = get("RUNNER_CHECKS_D") {
            self.checks_d = PathBuf::from(v);
        }
        if let Some(v) = get("RUNNER_HOSTNAME") {
            self.hostname = Some(v.trim().to_string());
        }
        if let Some(v) = get("RUNNER_TAGS") {
            self.tags = v
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("RUNNER_CACHE_DIR") {
            self.cache_dir = Some(PathBuf::from(v));
        }
        // The Agent's (and gopsutil's) container variables, then ours.
        if let Some(v) = get("RUNNER_PROCFS_PATH").or_else(|| get("HOST_PROC")) {
            self.procfs_path = PathBuf::from(v);
        }
        if let Some(v) = get("RUNNER_SYSFS_PATH").or_else(|| get("HOST_SYS")) {
            self.sysfs_path = PathBuf::from(v);
        }
        if let Some(v) = get("RUNNER_PASSWD_FILE") {
            self.passwd_file = Some(PathBuf::from(v));
        } else if let Some(etc) = get("HOST_ETC") {
            self.passwd_file = Some(Path::new(&etc).join("passwd"));
        }
        self.process_config.apply_env(&get);
        if let Some(v) = get("RUNNER_INSTANCE_POOL") {
            self.instance_pool =
                super::schema::affirmative(&serde_json::Value::String(v)) == Some(true);
        }
        let env_error = |name: &str, message: String, example: &str| {
            ConfigError::new(format!("environment variable `{name}`: {message}"))
                .with_hint(format!("e.g. `{name}={example}`, or unset it"))
        };
        if let Some(v) = get("RUNNER_CHECK_RUNNERS") {
            let n =
                limits::parse_count(&v).map_err(|m| env_error("RUNNER_CHECK_RUNNERS", m, "4"))?;
            self.check_runners = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(v) = get("RUNNER_FLUSH_INTERVAL") {
            self.flush_interval = limits::parse_timeout(&v)
                .map_err(|m| env_error("RUNNER_FLUSH_INTERVAL", m, "15"))?;
        }
        if let Some(v) = get("RUNNER_SHUTDOWN_TIMEOUT") {
            self.shutdown_timeout = limits::parse_timeout(&v)
                .map_err(|m| env_error("RUNNER_SHUTDOWN_TIMEOUT", m, "10"))?;
        }
        if let Some(v) = get("RUNNER_LISTEN") {
            self.listen = daemon::parse_listen(&v)
                .map_err(|m| env_error("RUNNER_LISTEN", m, daemon::DEFAULT_LISTEN))?;
        }
        if let Some(v) = get("RUNNER_ACCESS_TOKEN") {
            self.access_token = daemon::parse_access_token(&v).map_err(|m| {
                ConfigError::new(format!("environment variable `RUNNER_ACCESS_TOKEN`: {m}"))
                    .with_hint("e.g. `RUNNER_ACCESS_TOKEN=$(openssl rand -hex 16)`, or unset it")
            })?;
        }
        if let Some(v) = get("RUNNER_JSON_LINES") {
            self.json_lines = Some(PathBuf::from(v));
        }
        if let Some(v) = get("RUNNER_WATCH") {
            self.watch = super::schema::affirmative(&serde_json::Value::String(v)) == Some(true);
        }
        if let Some(v) = get("RUNNER_TIMEOUT") {
            self.limits.timeout =
                limits::parse_timeout(&v).map_err(|m| env_error("RUNNER_TIMEOUT", m, "30"))?;
        }
        if let Some(v) = get("RUNNER_MEMORY_MIB") {
            self.limits.memory_mib =
                limits::parse_count(&v).map_err(|m| env_error("RUNNER_MEMORY_MIB", m, "128"))?;
        }
        // RUNNER_MAX_METRICS, RUNNER_MAX_OUTPUT_KIB, ...: one per limit.
        for key in &limits::LIMIT_KEYS[2..] {
            let name = format!("RUNNER_{}", key.to_uppercase());
            if let Some(v) = get(&name) {
                let n = limits::parse_count(&v).map_err(|m| env_error(&name, m, "1000"))?;
                if let Some(limit) = self.limits.count_mut(key) {
                    *limit = usize::try_from(n).unwrap_or(usize::MAX);
                }
            }
        }
        Ok(())
    }
}

/// The machine's host name, as the kernel reports it.
fn machine_hostname() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// `$XDG_CACHE_HOME/runner` (absolute values only, per the XDG spec), else
/// `$HOME/.cache/runner`.
fn default_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(xdg) = env("XDG_CACHE_HOME").filter(|v| Path::new(v).is_absolute()) {
        return Some(Path::new(&xdg).join("runner"));
    }
    env("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| Path::new(&home).join(".cache").join("runner"))
}

/// The schema runner.yaml is checked against, compiled once.
static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let schema = schemars::schema_for!(RunnerConfig).to_value();
    Schema::compile(schema, &[], false)
        .expect("the runner's own settings schema compiles")
        .for_runner()
});

/// A fix example for a runner.yaml key path.
fn example(path: &str) -> String {
    match path {
        "conf_d" => "e.g. `conf_d: /etc/runner/conf.d`".to_string(),
        "checks_d" => "e.g. `checks_d: /etc/runner/checks.d`".to_string(),
        "cache_dir" => "e.g. `cache_dir: /var/cache/runner`".to_string(),
        "hostname" => "e.g. `hostname: web-1`".to_string(),
        "limits" => "e.g. `limits: {timeout: 30}`".to_string(),
        "procfs_path" => "e.g. `procfs_path: /host/proc`".to_string(),
        "sysfs_path" => "e.g. `sysfs_path: /host/sys`".to_string(),
        "passwd_file" => "e.g. `passwd_file: /host/etc/passwd`".to_string(),
        "check_runners" => "e.g. `check_runners: 4`".to_string(),
        "flush_interval" => "e.g. `flush_interval: 15`".to_string(),
        "shutdown_timeout" => "e.g. `shutdown_timeout: 10`".to_string(),
        "listen" => format!(
            "e.g. `listen: \"{}\"`, or `listen: \"\"` for no endpoint",
            daemon::DEFAULT_LISTEN
        ),
        "access_token" => {
            "e.g. `access_token: <the output of openssl rand -hex 16>`, or remove it".to_string()
        }
        "json_lines" => {
            "e.g. `json_lines: -` (stdout) or `json_lines: /var/log/runner/runs.jsonl`".to_string()
        }
        "watch" => "e.g. `watch: false`".to_string(),
        p if p.starts_with("histogram_aggregates") => {
            "e.g. `histogram_aggregates: [max, median, avg, count]`".to_string()
        }
        p if p.starts_with("histogram_percentiles") => {
            "e.g. `histogram_percentiles: [\"0.95\", \"0.99\"]`".to_string()
        }
        p if p.starts_with("process_config") => {
            "e.g. `process_config: {custom_sensitive_words: [token], strip_proc_arguments: false}`"
                .to_string()
        }
        p if p == "tags" || p.starts_with("tags[") => {
            "e.g. `tags: [\"env:prod\", \"team:db\"]`".to_string()
        }
        p => match p.strip_prefix("limits.") {
            Some(key) => limits::example(key),
            None => format!("see the runner.yaml reference for `{p}`"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::env_of;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_without_file() {
        // `None` looks for ./runner.yaml; the test's working directory
        // (the crate) has none, so this is the pure defaults.
        assert!(!Path::new(DEFAULT_FILE).exists());
        let c = RunnerConfig::load(None, &env_of(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(c.conf_d, PathBuf::from("conf.d"));
        assert_eq!(c.checks_d, PathBuf::from("checks.d"));
        assert!(c.tags.is_empty());
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.cache_dir, Some(PathBuf::from("/home/u/.cache/runner")));
        let machine = fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        assert_eq!(c.hostname, machine);
    }

    #[test]
    fn xdg_cache_home_wins_over_home() {
        let c = RunnerConfig::load(
            None,
            &env_of(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]),
        )
        .unwrap();
        assert_eq!(c.cache_dir, Some(PathBuf::from("/xdg/runner")));
        let c = RunnerConfig::load(None, &env_of(&[])).unwrap();
        assert_eq!(c.cache_dir, None);
    }

    #[test]
    fn file_values_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "runner.yaml",
            "conf_d: my-conf\nchecks_d: /abs/checks\ncache_dir: cache\nhostname: web-1\n\
             tags: [\"env:prod\", team:db]\nlimits:\n  timeout: 2.5\n  memory_mib: 32\n",
        );
        let c = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap();
        assert_eq!(c.conf_d, dir.path().join("my-conf"));
        assert_eq!(c.checks_d, PathBuf::from("/abs/checks"));
        assert_eq!(c.cache_dir, Some(dir.path().join("cache")));
        assert_eq!(c.hostname.as_deref(), Some("web-1"));
        assert_eq!(c.tags, ["env:prod", "team:db"]);
        assert_eq!(
            c.limits,
            Limits {
                timeout: 2.5,
                memory_mib: 32,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn empty_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "runner.yaml", "# nothing yet\n");
        let c = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap();
        assert_eq!(c.conf_d, dir.path().join("conf.d"));
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn env_overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "runner.yaml",
            "conf_d: a\nhostname: from-file\ntags: [x:1]\nlimits: {timeout: 5, max_metrics: 3}\n",
        );
        let env = env_of(&[
            ("RUNNER_CONF_D", "/env/conf.d"),
            ("RUNNER_CHECKS_D", "rel/checks.d"),
            ("RUNNER_HOSTNAME", "from-env"),
            ("RUNNER_TAGS", "env:prod, team:db,,"),
            ("RUNNER_CACHE_DIR", "/env/cache"),
            ("RUNNER_TIMEOUT", "0.5"),
            ("RUNNER_MEMORY_MIB", "256"),
            ("RUNNER_MAX_METRICS", "99"),
            ("RUNNER_MAX_OUTPUT_KIB", "8"),
        ]);
        let c = RunnerConfig::load(Some(&path), &env).unwrap();
        assert_eq!(c.conf_d, PathBuf::from("/env/conf.d"));
        // Paths from the environment are relative to the working directory.
        assert_eq!(c.checks_d, PathBuf::from("rel/checks.d"));
        assert_eq!(c.hostname.as_deref(), Some("from-env"));
        assert_eq!(c.tags, ["env:prod", "team:db"]);
        assert_eq!(c.cache_dir, Some(PathBuf::from("/env/cache")));
        assert_eq!(
            c.limits,
            Limits {
                timeout: 0.5,
                memory_mib: 256,
                max_metrics: 99,
                max_output_kib: 8,
                ..Limits::default()
            }
        );
    }

    #[test]
    fn empty_env_var_counts_as_unset() {
        let c = RunnerConfig::load(
            None,
            &env_of(&[("RUNNER_TIMEOUT", ""), ("RUNNER_TAGS", "")]),
        )
        .unwrap();
        assert_eq!(c.limits.timeout, 10.0);
    }

    #[test]
    fn bad_env_value_names_variable_value_and_expectation() {
        for (name, value, expected) in [
            ("RUNNER_TIMEOUT", "fast", "a number of seconds > 0"),
            ("RUNNER_TIMEOUT", "-1", "a number of seconds > 0"),
            ("RUNNER_MEMORY_MIB", "0", "a whole number >= 1"),
            ("RUNNER_MAX_METRICS", "lots", "a whole number >= 1"),
            ("RUNNER_MAX_OUTPUT_KIB", "1.5", "a whole number >= 1"),
        ] {
            let err = RunnerConfig::load(None, &env_of(&[(name, value)])).unwrap_err();
            assert_eq!(
                err.message,
                format!("environment variable `{name}`: expected {expected}, got {value:?}")
            );
            assert!(err.hint.is_some());
        }
    }

    #[test]
    fn unknown_key_names_file_key_line_and_valid_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "runner.yaml", "conf_d: x\n\ncachedir: /tmp/c\n");
        let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(path.as_path()));
        assert_eq!(err.key.as_deref(), Some("cachedir"));
        assert_eq!(err.line, Some(3));
        assert_eq!(err.message, "unknown key; the runner does not use it");
        assert_eq!(err.hint.as_deref(), Some("did you mean `cache_dir`?"));
    }

    #[test]
    fn unknown_limit_key_in_runner_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "runner.yaml",
            "limits:\n  timeout: 3\n  memry_mib: 3\n",
        );
        let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("limits.memry_mib"));
        assert_eq!(err.line, Some(3));
        assert_eq!(err.message, "unknown key; the runner does not use it");
        assert_eq!(err.hint.as_deref(), Some("did you mean `memory_mib`?"));
    }

    #[test]
    fn wrong_types_and_values_name_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "limits:\n  timeout: fast\n",
                "limits.timeout",
                2,
                "expected number, got string \"fast\"",
            ),
            (
                "limits:\n  timeout: -3\n",
                "limits.timeout",
                2,
                "expected a number of seconds > 0, got -3",
            ),
            (
                "conf_d: c\nlimits:\n  memory_mib: 0\n",
                "limits.memory_mib",
                3,
                "expected a whole number >= 1, got 0",
            ),
            (
                "tags: env:prod\n",
                "tags",
                1,
                "expected array, got string \"env:prod\"",
            ),
            ("conf_d: [a]\n", "conf_d", 1, "expected string, got array"),
            ("limits: 3\n", "limits", 1, "expected object, got integer 3"),
        ];
        for (text, key, line, message) in cases {
            let path = write(dir.path(), "runner.yaml", text);
            let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{text:?}: {err}");
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            assert_eq!(err.message, message, "{text:?}: {err}");
            assert_eq!(err.file.as_deref(), Some(path.as_path()));
            assert!(err.hint.as_deref().unwrap().starts_with("e.g. `"), "{err}");
        }
    }

    #[test]
    fn syntax_error_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "runner.yaml", "conf_d: [a\n");
        let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
        assert!(err.message.starts_with("invalid YAML: "), "{err}");
        assert!(err.line.is_some());

        let path = write(dir.path(), "runner.yaml", "- conf_d: a\n");
        let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
        assert_eq!(err.message, "expected object, got array");
        assert_eq!(err.line, Some(1));

        let missing = dir.path().join("nope.yaml");
        let err = RunnerConfig::load(Some(&missing), &env_of(&[])).unwrap_err();
        assert_eq!(err.message, "runner config file not found");
        assert_eq!(err.file.as_deref(), Some(missing.as_path()));
    }

    #[test]
    fn blank_hostname_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "runner.yaml", "hostname: \" \"\n");
        let err = RunnerConfig::load(Some(&path), &env_of(&[])).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("hostname"));
    }
}
