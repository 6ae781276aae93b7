//! Configuration: runner.yaml (the runner's own settings) and conf.d (check
//! instances, laid out exactly like the Datadog Agent's so existing files
//! work unchanged).
//!
//! Loading never panics and never stops at the first problem: it returns
//! what loaded plus every error and warning as a [`ConfigError`], which
//! names the file, line, instance and key, and says how to fix it.
//!
//! Modules, one job each:
//! - `runner_file`: runner.yaml and `RUNNER_*` overrides ([`RunnerConfig`]);
//! - `limits`: the per-instance sandbox budget ([`Limits`]);
//! - `confd`: finding and parsing conf.d files ([`load_conf_d`]);
//! - `builtin`: the default run when conf.d has no configuration;
//! - `generic`: the options every check accepts (interval, tags,
//!   `metric_patterns`, ...), applied by the runner;
//! - `instance`: building an instance, its ID, identical instances;
//! - `env_vars`: `%%env_NAME%%` placeholders;
//! - `yaml`: YAML → JSON with located errors;
//! - `positions`: the line of every key, for messages;
//! - `schema`: a JSON Schema compiled once ([`Schema`]);
//! - `validate`: what a schema validator found, in plain words;
//! - `check_schemas`: a check's schemas, compiled once, and instances checked against them;
//! - `secrets`: masking secrets for display;
//! - `error`: [`ConfigError`].

// `ConfigError` is deliberately a flat, public struct (callers print and
// filter it); errors are rare, so its size on the error path costs nothing.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::time::Duration;

pub mod agent_id;
pub mod builtin;
mod check_schemas;
mod confd;
pub mod daemon;
mod env_vars;
mod error;
mod generic;
mod instance;
mod limits;
pub mod network;
mod positions;
mod process_config;
mod runner_file;
mod schema;
mod secrets;
pub(crate) mod suggest;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use agent_id::instance_id;
pub use check_schemas::{CheckSchemas, validate_instance};
pub use confd::{NO_INSTANCES, load_conf_d};
pub use error::ConfigError;
pub use generic::MetricPatterns;
pub use instance::{DEFAULT_INTERVAL, RESERVED_INIT_CONFIG_KEYS, RESERVED_INSTANCE_KEYS};
pub use limits::{LIMIT_KEYS, Limits, LimitsOverride};
pub use positions::Positions;
pub use process_config::ProcessConfig;
pub use runner_file::RunnerConfig;
pub use schema::{Schema, affirmative};
pub use secrets::{MASK, is_secret_key, mask_secrets};
pub use validate::SchemaReport;

/// Everything found in a conf.d directory.
///
/// Errors and warnings sit next to the files that did load, so one broken
/// file never hides the others (and `configcheck` can list them all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedConfigs {
    /// Files that yielded at least one instance, sorted by path.
    pub files: Vec<ConfigFile>,
    /// Problems that dropped a file or an instance.
    pub errors: Vec<ConfigError>,
    /// Problems that did not (ignored keys, unsupported features, duplicates).
    pub warnings: Vec<ConfigError>,
    /// Set when these are the built-in default's files, not conf.d's: why
    /// conf.d was not used (see [`builtin`]).
    pub builtin_default: Option<String>,
}

impl LoadedConfigs {
    /// All instances of all files, in path order then file order.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceConfig> {
        self.files.iter().flat_map(|f| f.instances.iter())
    }
}

/// One conf.d file: a check's `init_config` and its instances.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    /// Check name: the `<check>.d` folder name, or the flat file's stem.
    pub check: String,
    /// The file, as found under the conf.d path given to the loader.
    pub path: PathBuf,
    /// The file's `init_config`, always a JSON object (null/missing → `{}`).
    pub init_config: serde_json::Value,
    /// Instances that loaded, in file order (see [`InstanceConfig::index`]).
    pub instances: Vec<InstanceConfig>,
    /// Where each key is written, to place problems found later.
    pub positions: Positions,
}

/// One scheduled check instance: what the check reads, plus the settings
/// the runner reads itself (interval, tags, limits, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    /// Datadog-style ID, `<check>:<16 hex>` or `<check>:<name>:<16 hex>`;
    /// stable across restarts and key order (see [`instance_id`]).
    pub id: String,
    /// Check name.
    pub check: String,
    /// File the instance came from.
    pub source: PathBuf,
    /// 0-based position in the file's `instances` list.
    pub index: usize,
    /// Copy of the file's `init_config` (a JSON object).
    pub init_config: serde_json::Value,
    /// The instance as a JSON object with all keys, reserved ones included
    /// (checks read `name`, `tags`).
    pub instance: serde_json::Value,
    /// How often to run: `min_collection_interval` of the instance, else of
    /// `init_config`, else 15 s.
    pub interval: Duration,
    /// The instance's `tags`.
    pub tags: Vec<String>,
    /// `service` of the instance, else of `init_config`.
    pub service: Option<String>,
    /// The instance's `name` (empty counts as unset).
    pub name: Option<String>,
    /// Submit without a host name (the Agent's `empty_default_hostname`).
    pub empty_default_hostname: bool,
    /// Rename generic tags (`host`, `env`, ...) the check sends to
    /// `<check>_<tag>` (the Agent's `disable_generic_tags`).
    pub disable_generic_tags: bool,
    /// Which metrics are sent (the Agent's `metric_patterns`).
    pub metric_patterns: MetricPatterns,
    /// init_config's `procfs_path`: where the host's /proc is, for this
    /// instance's process queries.
    pub procfs_path: Option<PathBuf>,
    /// `raw_command_lines`: the check sees command lines unscrubbed.
    pub raw_command_lines: bool,
    /// `network`: endpoints added to or taken from the check's grant.
    pub network: network::NetworkOverride,
    /// The instance's own `limits:` map.
    pub limits_override: LimitsOverride,
    /// Sandbox limits: defaults overridden by the instance's `limits:` map.
    pub limits: Limits,
}

/// Loads conf.d as runner.yaml says: `runner.conf_d`, with `runner.limits`
/// as every instance's default limits; the built-in default instead when
/// conf.d holds no configuration file. This is what the CLI verbs call.
pub fn load(runner: &RunnerConfig, env: &dyn Fn(&str) -> Option<String>) -> LoadedConfigs {
    let mut loaded = match builtin::reason(&runner.conf_d) {
        Some(why) => LoadedConfigs {
            builtin_default: Some(why),
            ..builtin::load(&|_| None)
        },
        None => load_conf_d(&runner.conf_d, env),
    };
    for file in &mut loaded.files {
        for inst in &mut file.instances {
            inst.apply_limits(runner.limits);
        }
    }
    loaded
}

/// Building blocks for other modules' unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::PathBuf;
    use std::time::Duration;

    use serde_json::Value;

    use super::{InstanceConfig, Limits};

    /// A `process` instance with these settings and every option at its
    /// default.
    pub fn instance_config(instance: Value) -> InstanceConfig {
        InstanceConfig {
            id: "process:0000000000000000".to_string(),
            check: "process".to_string(),
            source: PathBuf::from("conf.d/process.d/conf.yaml"),
            index: 0,
            init_config: Value::Null,
            instance,
            interval: Duration::from_secs(15),
            tags: Vec::new(),
            service: None,
            name: None,
            empty_default_hostname: false,
            disable_generic_tags: false,
            raw_command_lines: false,
            network: Default::default(),
            metric_patterns: Default::default(),
            procfs_path: None,
            limits_override: Default::default(),
            limits: Limits::default(),
        }
    }
}
