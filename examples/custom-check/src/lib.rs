//! An example check: how many processes are in each state.
//!
//! Submits `process_states.count` (a gauge per state, tagged `state:<name>`)
//! and `process_states.zombies` as a service check that turns WARNING when
//! there are more zombies than `max_zombies`. Copy this crate to start your
//! own check.

use runner_sdk::{Check, Context, Error, NoInitConfig, ProcessQuery, Status};
use schemars::JsonSchema;
use serde::Deserialize;

/// One instance, as written in `conf.d/process_states.d/conf.yaml`.
#[derive(Deserialize, JsonSchema)]
struct Config {
    /// Only count processes of this user (all users when unset).
    #[serde(default)]
    user: Option<String>,
    /// Zombies above this many make `process_states.zombies` WARNING.
    #[serde(default = "default_max_zombies")]
    max_zombies: u32,
    // No `tags` field: the runner adds the instance's `tags` (and
    // `service:` and host tags) to everything the check submits.
}

fn default_max_zombies() -> u32 {
    5
}

struct ProcessStates {
    config: Config,
}

/// `ps` state letters and the names used in the `state:` tag.
const STATES: &[(char, &str)] = &[
    ('R', "running"),
    ('S', "sleeping"),
    ('D', "disk_sleep"),
    ('Z', "zombie"),
    ('T', "stopped"),
    ('t', "tracing_stop"),
    ('I', "idle"),
];

impl Check for ProcessStates {
    type Config = Config;
    type InitConfig = NoInitConfig;
    const NAME: &'static str = "process_states";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn configure(_init: NoInitConfig, config: Config) -> Result<Self, Error> {
        Ok(ProcessStates { config })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        // Only numbers are needed (`state`): ask for no optional field, so
        // the runner copies no strings.
        let query = ProcessQuery {
            all: true,
            user: self.config.user.clone(),
            ..ProcessQuery::default()
        };
        let snapshot = ctx.processes(&query)?;
        for (letter, name) in STATES {
            let count = snapshot
                .processes
                .iter()
                .filter(|p| p.state == *letter)
                .count();
            ctx.gauge(
                "process_states.count",
                count as f64,
                &[format!("state:{name}")],
            );
        }
        let zombies = snapshot.processes.iter().filter(|p| p.state == 'Z').count() as u32;
        let (status, message) = if zombies > self.config.max_zombies {
            (
                Status::Warning,
                format!(
                    "{zombies} zombie processes (more than {})",
                    self.config.max_zombies
                ),
            )
        } else {
            (Status::Ok, String::new())
        };
        ctx.service_check("process_states.zombies", status, &[], &message);
        Ok(())
    }
}

runner_sdk::export_check!(ProcessStates);
