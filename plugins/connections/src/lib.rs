//! The connections check: for the processes an instance selects (the same
//! keys as the `process` check), their TCP and UDP sockets counted by
//! protocol, state and direction, the bytes waiting in their queues, and
//! the `connections.listening` service check, CRITICAL when a port of
//! `expected_listening_ports` is not open by those processes: "is my web
//! server actually listening on 8080?".
//!
//! Layout: [`config`] parses the instance, [`report`] turns processes and
//! sockets into samples and the service check over plain data; `run` is a
//! thin shell around the two host queries.

pub mod config;
pub mod report;

use runner_sdk::{Check, ConnectionQuery, Context, Error, Level, NoInitConfig, QueryError};

use config::{Config, Settings};

/// One configured instance.
#[derive(Debug)]
pub struct ConnectionsCheck {
    settings: Settings,
}

impl Check for ConnectionsCheck {
    type Config = Config;
    type InitConfig = NoInitConfig;
    const NAME: &'static str = "connections";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The host reads `pid_file` for the process query, and only that path.
    const FILE_KEYS: &'static [&'static str] = &["pid_file"];

    fn configure(_init_config: NoInitConfig, config: Config) -> Result<Self, Error> {
        let settings = Settings::new(config)?;
        // Logged here, the runner reports them as configuration warnings.
        for warning in &settings.warnings {
            runner_sdk::log(Level::Warn, warning);
        }
        Ok(ConnectionsCheck { settings })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        let pids = match ctx.processes(&self.settings.query) {
            Ok(snapshot) => snapshot.processes.iter().map(|p| p.pid).collect(),
            // As in the process check: an unreadable pid file means no
            // process, not a failed run.
            Err(QueryError::PidFileUnreadable(message)) if self.settings.from_pid_file => {
                ctx.debug(&format!("{message}; counting 0 processes"));
                Vec::new()
            }
            Err(error) => return Err(format!("process query failed: {error}").into()),
        };
        let sockets = if pids.is_empty() {
            Vec::new()
        } else {
            let query = ConnectionQuery {
                pids: Some(pids.clone()),
                ..ConnectionQuery::default()
            };
            ctx.connections(&query)
                .map_err(|e| format!("connection query failed: {e}"))?
        };
        let report = report::Report::new(&self.settings, pids.len(), &sockets);
        for sample in &report.samples {
            ctx.gauge(sample.name, sample.value, &sample.tags);
        }
        if let Some(listening) = &report.listening {
            ctx.service_check(
                report::SERVICE_CHECK,
                listening.status,
                &self.settings.tags,
                &listening.message,
            );
        }
        Ok(())
    }
}

runner_sdk::export_check!(ConnectionsCheck);
