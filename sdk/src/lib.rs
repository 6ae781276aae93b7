//! Write monitoring checks for the runner in a few lines of Rust.
//!
//! A check is a type implementing [`Check`]: it is configured once per
//! instance from the instance's YAML (deserialised into your `Config` type
//! with serde) and then `run` on every collection interval, submitting
//! metrics, service checks, events and metadata through the [`Context`].
//! [`export_check!`] turns it into a WebAssembly component the runner loads
//! from `checks.d/<name>.wasm`.
//!
//! ```no_run
//! use runner_sdk::{Check, Context, Error, NoInitConfig, Status};
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//!
//! /// One instance of the check, as written in conf.d/hello.d/conf.yaml.
//! #[derive(Deserialize, JsonSchema)]
//! struct Config {
//!     /// Who to greet; becomes the `who:` tag.
//!     who: String,
//! }
//!
//! struct Hello {
//!     config: Config,
//!     runs: u64,
//! }
//!
//! impl Check for Hello {
//!     type Config = Config;
//!     type InitConfig = NoInitConfig;
//!     const NAME: &'static str = "hello";
//!     const VERSION: &'static str = "0.1.0";
//!
//!     fn configure(_init: NoInitConfig, config: Config) -> Result<Self, Error> {
//!         if config.who.is_empty() {
//!             return Err("`who` must not be empty".into());
//!         }
//!         Ok(Hello { config, runs: 0 })
//!     }
//!
//!     fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
//!         self.runs += 1;
//!         // The runner adds the instance's `tags`, `service:` and host tags.
//!         let tags = vec![format!("who:{}", self.config.who)];
//!         ctx.gauge("hello.runs", self.runs as f64, &tags);
//!         ctx.monotonic_count("hello.greetings", self.runs as f64, &tags);
//!         ctx.service_check("hello.can_greet", Status::Ok, &tags, "");
//!         Ok(())
//!     }
//! }
//!
//! runner_sdk::export_check!(Hello);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (the crate
//! must have `crate-type = ["cdylib"]`) and copy
//! `target/wasm32-wasip2/release/<crate>.wasm` to `checks.d/hello.wasm`.
//!
//! Checks run in a sandbox: no filesystem, no environment, a wall-time
//! limit, a memory cap and caps on what one run may submit and write. What
//! a check needs from the machine (processes and their connections) it
//! asks the runner for with [`Context::processes`] and
//! [`Context::connections`]; command lines come scrubbed unless the
//! instance sets `raw_command_lines: true`. The network is limited to the
//! endpoints the instance's configuration names under
//! [`Check::ENDPOINT_KEYS`]: connect with [`net::connect`] (TCP) or
//! [`http::Request`] (HTTP and HTTPS).

pub mod bindings;
mod context;
mod endpoint;
mod export;
pub mod http;
pub mod net;
mod version;

pub use endpoint::EndpointKey;

pub use context::{ConnectionError, Context, Level, QueryError};
pub use schemars;
pub use serde_json;

use serde::de::DeserializeOwned;

pub use bindings::exports::runner::check::check::CheckInfo;
pub use bindings::runner::check::connections::{
    Connection, ConnectionQuery, Direction, Endpoint, Protocol, SocketState,
};
pub use bindings::runner::check::metrics::{Metric, MetricType};
pub use bindings::runner::check::processes::{
    CpuPercent, DeniedFields, IoCounters, Process, ProcessFields, ProcessQuery, ProcessSnapshot,
};
pub use bindings::runner::check::reporting::{AlertType, Event, EventPriority, Status};

/// A monitoring check. One value of the implementing type exists per
/// configured instance and lives as long as that instance: state kept in
/// it (previous samples, connections, caches) persists between runs.
pub trait Check: Sized + 'static {
    /// One instance's configuration. Its JSON Schema (derived with
    /// `schemars`) is what the runner validates conf.d against: wrong types
    /// and missing required keys are errors, unknown keys are warnings.
    /// The instance is passed whole, reserved keys included, so you may
    /// declare `name`, `tags` or `service` here to read them. Don't use
    /// `#[serde(deny_unknown_fields)]`: the runner owns reserved keys like
    /// `min_collection_interval` and `limits`.
    type Config: DeserializeOwned + schemars::JsonSchema;
    /// The file-level `init_config`, shared by all instances of a file. Use
    /// [`NoInitConfig`] when the check takes none.
    type InitConfig: DeserializeOwned + schemars::JsonSchema;
    /// The check's name, shown by `runner configcheck -v`.
    const NAME: &'static str;
    /// The check's version (semver).
    const VERSION: &'static str;
    /// Config keys whose values name the network endpoints the check
    /// connects to. The runner grants each instance exactly the endpoints
    /// its configuration names under these keys (TCP through [`net`], HTTP
    /// through [`http`]) and denies everything else. None: no network.
    const ENDPOINT_KEYS: &'static [EndpointKey] = &[];
    /// Config keys whose values name files the check asks the runner to
    /// read (e.g. `pid_file` for [`ProcessQuery::pid_file`]): an instance
    /// may have exactly the paths its configuration gives under these
    /// keys read, and no other.
    const FILE_KEYS: &'static [&'static str] = &[];

    /// Build an instance from its configuration. An error is shown to the
    /// user as a configuration error of this instance.
    fn configure(init_config: Self::InitConfig, config: Self::Config) -> Result<Self, Error>;

    /// Collect once. An error marks the run as failed; what was submitted
    /// before it is kept.
    fn run(&mut self, ctx: &mut Context) -> Result<(), Error>;
}

/// Write a log line attributed to this instance, also outside `run`.
/// Warnings (and errors) logged during [`Check::configure`] are reported
/// as configuration warnings of the instance by `runner configcheck`.
pub fn log(level: Level, message: &str) {
    bindings::runner::check::log::log(level, message);
}

/// `init_config` for checks that take none: an empty mapping. Keys in it
/// are reported by `runner configcheck` as unknown.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NoInitConfig {}

/// An error returned by a check: a message for the person reading
/// `runner check` or the logs of `runner run`.
///
/// Any `Display` error converts into it, so `?` works on I/O, parse and
/// serde errors alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(String);

impl Error {
    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl<E: std::fmt::Display> From<E> for Error {
    fn from(error: E) -> Self {
        Error(error.to_string())
    }
}

impl Default for ProcessQuery {
    /// Selects nothing, and rows with no optional field; set at least one
    /// of `all`, `names`, `cmdline_patterns`, `pids` or `pid_file`, and the
    /// `fields` the check reads.
    fn default() -> Self {
        ProcessQuery {
            fields: ProcessFields::empty(),
            all: false,
            names: Vec::new(),
            cmdline_patterns: Vec::new(),
            pids: Vec::new(),
            pid_file: None,
            include_children: false,
            user: None,
        }
    }
}

impl Default for ConnectionQuery {
    /// Every socket of the host; narrow it with `pids`, `port`, `states`,
    /// `listening_only`, `direction` or `protocol`.
    fn default() -> Self {
        ConnectionQuery {
            pids: None,
            port: None,
            states: Vec::new(),
            listening_only: false,
            direction: None,
            protocol: None,
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{configure, info, run};
}
