//! The `runner` binary: parse the command line, set up logging and the
//! async runtime, and hand over to the verb.

use std::io::IsTerminal;

use clap::Parser;
use runner::cli::{
    Cli, Command, check, configcheck, connections, log_level, processes, run, status,
};
use runner::config::RunnerConfig;
use runner::resolve::Environment;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Log filter when neither --log-level nor RUST_LOG is given: the runner's
/// warnings, and what checks log at info and above.
const DEFAULT_LOG_FILTER: &str = "warn,check=info";

/// The daemon's: also what it loads, schedules, reloads and skips.
const DAEMON_LOG_FILTER: &str = "warn,runner=info,check=info";

fn main() {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Run(_) => DAEMON_LOG_FILTER,
        _ => DEFAULT_LOG_FILTER,
    };
    init_logging(cli.global.log_level.as_deref(), default_filter);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let code = runtime.block_on(dispatch(cli));
    std::process::exit(code);
}

async fn dispatch(cli: Cli) -> i32 {
    // These only read /proc (as runner.yaml says): no conf.d to load, no
    // WebAssembly engine.
    if let Command::Processes(_) | Command::Connections(_) | Command::Status(_) = &cli.command {
        let env = |name: &str| std::env::var(name).ok();
        let runner = match RunnerConfig::load(cli.global.config.as_deref(), &env) {
            Ok(runner) => runner,
            Err(error) => {
                eprintln!("Error: {error}");
                return 2;
            }
        };
        return match &cli.command {
            Command::Processes(args) => processes::execute(&runner, args),
            Command::Connections(args) => connections::execute(&runner, args),
            Command::Status(args) => status::execute(&runner, args).await,
            _ => unreachable!("matched above"),
        };
    }
    let env = match Environment::load(cli.global.config.as_deref(), &cli.global.overrides()) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("Error: {error}");
            return 2;
        }
    };
    match &cli.command {
        Command::Run(args) => run::execute(env, args).await,
        Command::Check(args) => check::execute(&env, args).await,
        Command::Configcheck(args) => configcheck::execute(&env, args).await,
        Command::Processes(_) | Command::Connections(_) | Command::Status(_) => {
            unreachable!("handled above")
        }
    }
}

/// The Agent's level names or `target=level` directives, comma-separated,
/// as in RUST_LOG. A plain target filter: no regex engine on the logging
/// path. A bad value is an error (exit 2) naming where it came from.
fn init_logging(level: Option<&str>, default_filter: &str) {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let (directives, source) = match (level, &from_env) {
        (Some(level), _) => (level, "--log-level"),
        (None, Some(env)) => (env.as_str(), "RUST_LOG"),
        (None, None) => (default_filter, "the default log filter"),
    };
    let filter: Targets = log_level::parse(directives)
        .and_then(|d| d.parse().map_err(|e| format!("{e}")))
        .unwrap_or_else(|e| {
            eprintln!("Error: invalid {source} `{directives}`: {e}");
            std::process::exit(2);
        });
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .init();
}
