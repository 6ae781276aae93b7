//! The `runner` binary: parse the command line, set up logging and the
//! async runtime, and hand over to the verb.

use std::io::IsTerminal;

use clap::Parser;
use runner::cli::{Cli, Command, check, configcheck, run};
use runner::resolve::Environment;
use tracing_subscriber::EnvFilter;

/// Log filter when neither --log-level nor RUST_LOG is given: the runner's
/// warnings, and what checks log at info and above.
const DEFAULT_LOG_FILTER: &str = "warn,check=info";

fn main() {
    let cli = Cli::parse();
    init_logging(cli.global.log_level.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    let code = runtime.block_on(dispatch(cli));
    std::process::exit(code);
}

async fn dispatch(cli: Cli) -> i32 {
    let env = match Environment::load(cli.global.config.as_deref(), &cli.global.overrides()) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("Error: {error}");
            return 2;
        }
    };
    match &cli.command {
        Command::Run(args) => run::execute(&env, args).await,
        Command::Check(args) => check::execute(&env, args).await,
        Command::Configcheck(args) => configcheck::execute(&env, args).await,
    }
}

fn init_logging(level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|e| {
            eprintln!("Error: invalid --log-level `{level}`: {e}");
            std::process::exit(2);
        }),
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER))
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
