//! A check that misbehaves on purpose, chosen by its `mode`, so the tests
//! can prove that the sandbox contains each failure.

use runner_sdk::{Check, Context, Error, NoInitConfig, Status};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// Behave: one gauge and an OK service check.
    Ok,
    /// Do nothing at all in `run` and submit nothing (measures the host's
    /// own per-run overhead).
    Idle,
    /// Spin forever (the time limit must stop it).
    Loop,
    /// Allocate without bound (the memory cap must stop it).
    Memory,
    /// Submit metrics without end (the per-run metric cap must stop it).
    Flood,
    /// Write to stdout without end (the output cap must stop it).
    Stdout,
    /// Panic in `run`.
    Panic,
    /// Recurse without bound (the stack limit must stop it).
    Recurse,
    /// Return an error from `run`.
    Error,
    /// Fail in `configure`.
    BadConfig,
}

#[derive(Deserialize, JsonSchema)]
struct Config {
    /// What to do on each run.
    mode: Mode,
}

struct Misbehave {
    mode: Mode,
    runs: u64,
}

impl Check for Misbehave {
    type Config = Config;
    type InitConfig = NoInitConfig;
    const NAME: &'static str = "misbehave";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn configure(_init: NoInitConfig, config: Config) -> Result<Self, Error> {
        if config.mode == Mode::BadConfig {
            return Err("mode bad_config always fails to configure".into());
        }
        Ok(Misbehave {
            mode: config.mode,
            runs: 0,
        })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        self.runs += 1;
        match self.mode {
            Mode::Ok => {
                ctx.gauge("misbehave.runs", self.runs as f64, &[]);
                ctx.service_check("misbehave.ok", Status::Ok, &[], "");
            }
            Mode::Idle => {}
            Mode::Loop => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            Mode::Memory => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            Mode::Flood => {
                // Before flooding, one sample that proves partial results survive.
                ctx.gauge("misbehave.before_flood", 1.0, &[]);
                for i in 0.. {
                    ctx.gauge("misbehave.flood", i as f64, &[format!("i:{i}")]);
                }
            }
            Mode::Stdout => loop {
                println!(
                    "{}",
                    "all work and no play makes jack a dull boy ".repeat(20)
                );
            },
            Mode::Panic => panic!("misbehave panicked on purpose (run {})", self.runs),
            Mode::Recurse => {
                ctx.gauge("misbehave.depth", recurse(0) as f64, &[]);
            }
            Mode::Error => return Err(format!("mode error fails run {}", self.runs).into()),
            Mode::BadConfig => unreachable!("configure refuses this mode"),
        }
        Ok(())
    }
}

#[allow(unconditional_recursion)] // the point: only the stack limit ends it
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + pad[(depth % 64) as usize]
}

runner_sdk::export_check!(Misbehave);
