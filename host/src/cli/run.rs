//! `runner run`: the daemon (see [`crate::daemon`]), with the command
//! line's additions to runner.yaml.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::config::daemon::parse_listen;
use crate::daemon::{self, Options};
use crate::resolve::Environment;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Serve /metrics and /status on this address instead of runner.yaml's
    /// `listen` (default 127.0.0.1:5180); port 0 picks a free one, "" serves
    /// nothing.
    #[arg(long, value_name = "ADDRESS", value_parser = parse_listen_arg)]
    pub listen: Option<ListenArg>,

    /// Also write each run's results as one JSON object per line: `-` for
    /// stdout, or a file to append to (runner.yaml's `json_lines`).
    #[arg(long, value_name = "FILE")]
    pub json_lines: Option<PathBuf>,

    /// Stop after this many seconds instead of running until interrupted
    /// (for demos and smoke tests).
    #[arg(long, value_name = "SECONDS")]
    pub exit_after: Option<f64>,
}

/// `--listen`: an address, or none.
#[derive(Debug, Clone)]
pub struct ListenArg(Option<std::net::SocketAddr>);

fn parse_listen_arg(text: &str) -> Result<ListenArg, String> {
    parse_listen(text).map(ListenArg)
}

/// Run the verb; returns the process exit code.
pub async fn execute(mut env: Environment, args: &RunArgs) -> i32 {
    if let Some(ListenArg(listen)) = &args.listen {
        env.runner.listen = *listen;
    }
    if let Some(path) = &args.json_lines {
        env.runner.json_lines = Some(path.clone());
    }
    let options = Options {
        exit_after: args.exit_after.map(Duration::from_secs_f64),
    };
    daemon::run(env, options).await
}
