//! `runner run`: run every configured instance on its interval and write
//! each run's results to stdout as one JSON line, until Ctrl-C / SIGTERM.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::aggregator::Series;
use crate::collector::{Collected, Collector, EventOut, ServiceCheckOut, unix_seconds};
use crate::config::InstanceConfig;
use crate::resolve::Environment;
use crate::sandbox::RunOutcome;
use crate::scheduler::{self, Scheduled, Sink};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop after this many seconds instead of running until interrupted
    /// (for demos and smoke tests).
    #[arg(long, value_name = "SECONDS")]
    pub exit_after: Option<f64>,
}

/// Run the verb; returns the process exit code.
pub async fn execute(env: &Environment, args: &RunArgs) -> i32 {
    let resolution = env.resolve(None).await;
    for error in &resolution.errors {
        tracing::error!("configuration error, instance skipped: {error}");
    }
    for warning in &resolution.warnings {
        tracing::warn!("{warning}");
    }
    // Each instance is configured by its own first run, concurrently; one
    // whose `configure` fails is retried with back-off by the scheduler.
    let instances: Vec<Scheduled> = resolution
        .instances
        .iter()
        .filter_map(|resolved| {
            let instance = env.instantiate(resolved)?;
            let config = &resolved.config;
            Some(Scheduled {
                instance,
                collector: Collector::new(config, &env.hostname, &env.runner.tags),
                config: config.clone(),
            })
        })
        .collect();
    if instances.is_empty() {
        eprintln!(
            "Error: no valid check instance to run in {} (see `runner configcheck -v`)",
            env.runner.conf_d.display()
        );
        return 1;
    }
    tracing::info!("running {} check instance(s)", instances.len());
    let sink = Arc::new(JsonLines {
        out: Mutex::new(std::io::stdout()),
    });
    let exit_after = args.exit_after.map(Duration::from_secs_f64);
    scheduler::run(instances, sink, shutdown(exit_after)).await;
    0
}

/// Resolves on Ctrl-C, SIGTERM, or after `exit_after`.
async fn shutdown(exit_after: Option<Duration>) {
    let timer = async {
        match exit_after {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, stopping"),
        _ = term.recv() => tracing::info!("terminated, stopping"),
        _ = timer => {}
    }
}

/// One JSON object per run on stdout.
struct JsonLines {
    out: Mutex<std::io::Stdout>,
}

#[derive(Serialize)]
struct RunLine<'a> {
    instance: &'a str,
    check: &'a str,
    timestamp: f64,
    duration_ms: f64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    series: &'a [Series],
    service_checks: &'a [ServiceCheckOut],
    events: &'a [EventOut],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    metadata: &'a [(String, String)],
}

impl Sink for JsonLines {
    fn emit(&self, instance: &InstanceConfig, outcome: &RunOutcome, collected: &Collected) {
        let line = RunLine {
            instance: &instance.id,
            check: &instance.check,
            timestamp: unix_seconds(outcome.started_at),
            duration_ms: outcome.duration.as_secs_f64() * 1000.0,
            status: if collected.error.is_none() {
                "ok"
            } else {
                "error"
            },
            error: collected.error.clone(),
            series: &collected.series,
            service_checks: &collected.service_checks,
            events: &collected.events,
            metadata: &collected.metadata,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A closed stdout (e.g. piped into `head`) must not stop the checks.
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }
}
