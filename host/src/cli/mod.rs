//! The command line: one file per verb. Verbs and flags follow the Datadog
//! Agent's (`check`, `configcheck`) so its users feel at home.

pub mod check;
mod check_json;
pub mod configcheck;
pub mod connections;
mod instance_filter;
pub mod log_level;
pub mod processes;
pub mod run;
mod snapshot_source;
pub mod status;
mod table;

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::resolve::Overrides;

/// Runs monitoring checks as sandboxed WebAssembly components.
///
/// Checks are configured like the Datadog Agent's: `conf.d/<check>.d/*.yaml`
/// (or `conf.d/<check>.yaml`), with `init_config` and a list of
/// `instances`. Bundled checks (process, …) are built in; drop a
/// `checks.d/<name>.wasm` to add or override one. While conf.d holds no
/// configuration file, a built-in default runs: process checks for this
/// host and the runner's own connections.
#[derive(Debug, Parser)]
#[command(name = "runner", version, propagate_version = true)]
#[command(after_help = "Examples:\n  \
    runner run --conf-d examples/conf.d   run the example checks on their intervals until Ctrl-C\n  \
    runner status                         ask the running daemon how every check is doing\n  \
    runner configcheck -v                 validate conf.d offline; show what each instance gets\n  \
    runner check process                  run the process check's instances once, print a table\n  \
    runner check process --check-rate     run twice, 1 s apart, so rates show too\n  \
    runner processes postgres             what runs here, by CPU use, like top\n  \
    runner connections --listening        the ports open on this host, and who holds them\n\n\
    Settings come from runner.yaml (see --config) and RUNNER_* environment variables.")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The runner's settings file [default: ./runner.yaml if present].
    #[arg(
        short = 'c',
        long,
        global = true,
        value_name = "FILE",
        env = "RUNNER_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// Directory of check configurations; overrides runner.yaml's `conf_d`
    /// and RUNNER_CONF_D.
    #[arg(long, global = true, value_name = "DIR")]
    pub conf_d: Option<PathBuf>,

    /// Directory of drop-in checks (`<name>.wasm`, `<name>.py`); overrides runner.yaml's
    /// `checks_d` and RUNNER_CHECKS_D.
    #[arg(long, global = true, value_name = "DIR")]
    pub checks_d: Option<PathBuf>,

    /// Log filter for the runner's own messages and the checks' log lines:
    /// a level (trace, debug, info, warn or warning, error, critical, off)
    /// or `target=level` directives, e.g. `warn,check=debug` [default:
    /// warn,check=info; or RUST_LOG].
    #[arg(short = 'l', long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            conf_d: self.conf_d.clone(),
            checks_d: self.checks_d.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every configured instance on its interval until stopped.
    ///
    /// Serves what the checks collect on /metrics (Prometheus and
    /// OpenMetrics) and the runner's health on /status (`runner status`),
    /// flushed every `flush_interval`; --json-lines also writes each run
    /// as a JSON line. Logs go to stderr. Instances with configuration
    /// errors (those `runner configcheck` reports) are skipped and logged;
    /// a stuck or crashing check never holds up the others. Changes to
    /// conf.d and checks.d are picked up without a restart (and on
    /// SIGHUP); SIGINT/SIGTERM stop it within `shutdown_timeout`.
    Run(run::RunArgs),
    /// Ask the running daemon how every check instance is doing.
    ///
    /// Prints, as `agent status` does, each instance with its state, runs,
    /// what it submitted, execution times and last error, then loading
    /// and configuration errors. Reads /status at runner.yaml's `listen`
    /// address; exits with status 1 when no daemon answers there.
    Status(status::StatusArgs),
    /// Run a check's instances now and print what they submit.
    ///
    /// Runs every configured instance of the check (or one, with
    /// --instance) once, or several times, and prints series, service
    /// checks, events, metadata and per-instance run statistics. Exits
    /// with status 1 when the check is unknown, has no valid
    /// configuration, or a run failed.
    Check(check::CheckArgs),
    /// Validate conf.d and print every resolved configuration, offline.
    ///
    /// No running daemon is needed: use it in CI or as a systemd
    /// ExecStartPre. Prints the Datadog Agent's format; exits with status 1
    /// on any configuration error.
    Configcheck(configcheck::ConfigcheckArgs),
    /// List the host's processes with their CPU, memory and command line.
    ///
    /// Like top or Datadog's Live Processes, once: every process (kernel
    /// threads with --all) with its CPU % measured over --interval, memory,
    /// threads, open files, state, age, container and scrubbed command
    /// line, busiest first. SEARCH, --user and --related pick processes;
    /// --json prints every field.
    #[command(after_help = processes::AFTER_HELP)]
    Processes(processes::ProcessesArgs),
    /// List the host's TCP and UDP sockets and the processes holding them.
    ///
    /// Like `ss -tuanp`: protocol, state, queues, local and peer address,
    /// and for each socket the processes that hold it (name, pid, user)
    /// and the command line of the first. Filters pick sockets by
    /// process, port, state, direction and protocol; --json prints every
    /// field.
    #[command(after_help = connections::AFTER_HELP)]
    Connections(connections::ConnectionsArgs),
}

/// `<label>: <message>` on stderr, escaped for the terminal: messages
/// quote what checks, their configurations and processes said.
pub(crate) fn report(label: &str, message: impl std::fmt::Display) {
    eprintln!(
        "{label}: {}",
        crate::escape::for_terminal(&message.to_string())
    );
}

/// Writes `text` to stdout. A reader that went away early (`| head`) is
/// not an error: it has what it wanted.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// What clap only checks in debug builds: no two flags of a verb
    /// (global ones included) share a name or a short.
    #[test]
    fn every_verb_is_well_formed() {
        Cli::command().debug_assert();
    }
}
