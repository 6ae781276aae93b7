//! `runner run`: the daemon. Schedules every valid instance, stages each
//! run in the sinks and flushes them every `flush_interval`, serves
//! `/metrics` and `/status`, reloads conf.d and checks.d when they change
//! (or on SIGHUP), and on SIGINT/SIGTERM stops within `shutdown_timeout`.
//!
//! Reload rule: a configuration file that had instances running and now
//! fails (a YAML error, an invalid instance, a plugin of its check that no
//! longer loads) is not applied: its instances keep running as they were,
//! and the error is shown in the logs, `runner status` and `/metrics`
//! (`runner_config_last_reload_successful 0`). Other files apply: new
//! instances start, instances whose file or entry is gone stop (their
//! series leave `/metrics` at the next flush), and instances whose
//! check's plugin changed are swapped between two runs.

mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, ApiState};
use crate::collector::{Collector, histogram_spec};
use crate::config::builtin;
use crate::resolve::Environment;
use crate::scheduler::{CompletedRun, RunReport, Scheduled, Scheduler};
use crate::sinks::Sink;
use crate::sinks::json_lines::{self, JsonLines};
use crate::sinks::prometheus::Prometheus;
use crate::status::{DaemonInfo, Problem, StatusRegistry};

/// How long a burst of file events is waited out before reloading.
const SETTLE: Duration = Duration::from_millis(300);

/// What the command line adds to runner.yaml.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stop after this long (demos, smoke tests).
    pub exit_after: Option<Duration>,
}

/// Hands each finished run to the status registry, then to the sinks.
struct Pipeline {
    status: Arc<StatusRegistry>,
    sinks: Vec<Arc<dyn Sink>>,
}

impl RunReport for Pipeline {
    fn completed(&self, run: CompletedRun) {
        // The last run of an instance a reload removed is dropped.
        if !self.status.record(&run) {
            return;
        }
        for sink in &self.sinks {
            sink.stage(&run);
        }
    }
}

impl Pipeline {
    fn removed(&self, id: &str) {
        self.status.removed(id);
        for sink in &self.sinks {
            sink.remove(id);
        }
    }

    /// Flush every sink, off the runtime's threads (a sink may write to a
    /// slow pipe or disk).
    async fn flush(self: &Arc<Self>) {
        let pipeline = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for sink in &pipeline.sinks {
                sink.flush();
            }
            pipeline.status.flushed();
        })
        .await;
    }
}

/// A scheduled instance, as the daemon remembers it between reloads.
struct Applied {
    check: String,
    source: PathBuf,
    plugin_sha256: String,
}

/// Run the daemon until a signal (or `exit_after`); returns the exit code.
pub async fn run(mut env: Environment, options: Options) -> i32 {
    let runner = env.runner.clone();
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    let prometheus = Arc::new(Prometheus::new(&env.hostname));
    sinks.push(prometheus.clone());
    if let Some(path) = &runner.json_lines {
        match json_lines::Output::open(path) {
            Ok(out) => sinks.push(Arc::new(JsonLines::new(out))),
            Err(e) => {
                eprintln!(
                    "Error: cannot open {} for the JSON lines (json_lines): {e}",
                    path.display()
                );
                return 2;
            }
        }
    }
    if let Some(address) = runner.listen
        && let Err(why) = api::auth::check_exposure(address, runner.access_token.as_ref())
    {
        eprintln!("Error: {why}");
        return 2;
    }
    let listener = match runner.listen {
        None => None,
        Some(address) => match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                eprintln!(
                    "Error: cannot serve /metrics, /status and the page on {address} (listen): {e}\n  \
                     hint: set `listen` in runner.yaml or RUNNER_LISTEN to a free address \
                     (port 0 picks one), or `listen: \"\"` for no endpoint"
                );
                return 2;
            }
        },
    };
    let bound: Option<SocketAddr> = listener.as_ref().and_then(|l| l.local_addr().ok());
    let status = Arc::new(StatusRegistry::new(DaemonInfo {
        hostname: env.hostname.clone(),
        conf_d: runner.conf_d.display().to_string(),
        checks_d: runner.checks_d.display().to_string(),
        listen: bound.map(|a| a.to_string()),
        check_runners: runner.check_runners,
        flush_interval_secs: runner.flush_interval,
    }));
    let pipeline = Arc::new(Pipeline {
        status: status.clone(),
        sinks,
    });
    let mut scheduler = Scheduler::new(runner.check_runners, pipeline.clone());
    let mut applied = BTreeMap::new();
    let outcome = apply(&env, &mut scheduler, &mut applied, &pipeline).await;
    if scheduler.is_empty() {
        eprintln!(
            "Error: no valid check instance to run in {} (see `runner configcheck -v`)",
            runner.conf_d.display()
        );
        return 1;
    }
    if let Some(listener) = listener {
        let state = Arc::new(ApiState {
            status: status.clone(),
            prometheus,
            snapshots: env.snapshots.clone(),
            access_token: runner.access_token.clone(),
            hostname: env.hostname.clone(),
            host_tags: env.runner.tags.clone(),
        });
        tokio::spawn(api::serve(listener, state));
    }
    tracing::info!(
        "runner {} started: {}",
        env!("CARGO_PKG_VERSION"),
        outcome.summary
    );
    log_builtin_default(&env);
    match bound {
        Some(address) => tracing::info!(
            "Live Processes at http://{address}/, metrics at http://{address}/metrics, status \
             with `runner status` (or http://{address}/status)"
        ),
        None => tracing::info!("no HTTP endpoint (listen is empty); results only go to json_lines"),
    }

    let flush_every = Duration::from_secs_f64(runner.flush_interval);
    let flusher = pipeline.clone();
    let flushing = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(flush_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            flusher.flush().await;
        }
    });

    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let _watcher = runner
        .watch
        .then(|| watch::watch(&[&runner.conf_d, &runner.checks_d], changed))
        .flatten();
    let mut hangup = signal(tokio::signal::unix::SignalKind::hangup());
    let stop = shutdown(options.exit_after);
    tokio::pin!(stop);
    loop {
        let why = tokio::select! {
            () = &mut stop => break,
            Some(()) = changes.recv() => "files changed",
            Some(()) = hangup.recv() => "SIGHUP",
        };
        // Let a burst of events settle, then reload once.
        tokio::time::sleep(SETTLE).await;
        while changes.try_recv().is_ok() {}
        env.reread();
        let outcome = apply(&env, &mut scheduler, &mut applied, &pipeline).await;
        tracing::info!("reloaded ({why}): {}", outcome.summary);
        log_builtin_default(&env);
        status.reloaded(outcome.kept_back);
    }

    let bound_time = Duration::from_secs_f64(runner.shutdown_timeout);
    tracing::info!(
        "stopping: waiting up to {}s for runs in progress",
        runner.shutdown_timeout
    );
    flushing.abort();
    let report = scheduler.shutdown(bound_time).await;
    if !report.cancelled.is_empty() {
        tracing::warn!(
            "cancelled {} run(s) still going after {}s (shutdown_timeout): {}",
            report.cancelled.len(),
            runner.shutdown_timeout,
            report.cancelled.join(", ")
        );
    }
    pipeline.flush().await;
    tracing::info!("stopped");
    0
}

/// Say so when the built-in default runs, and how to replace it.
fn log_builtin_default(env: &Environment) {
    if let Some(why) = &env.configs.builtin_default {
        tracing::info!(
            "{}: running the built-in default, {}; put configuration files in conf.d to run your own",
            crate::escape::for_terminal(why),
            builtin::describe(&env.configs)
        );
    }
}

/// What one (re)load did.
struct ApplyOutcome {
    /// One line: what runs now, what changed.
    summary: String,
    /// The errors that kept files back, if any.
    kept_back: Option<String>,
}

/// Resolve conf.d against the plugins and make the schedule match it,
/// following the reload rule in the module doc.
async fn apply(
    env: &Environment,
    scheduler: &mut Scheduler,
    applied: &mut BTreeMap<String, Applied>,
    pipeline: &Arc<Pipeline>,
) -> ApplyOutcome {
    let resolution = env.resolve(None).await;
    let running_files: BTreeSet<&PathBuf> = applied.values().map(|a| &a.source).collect();
    let failing_files: BTreeSet<PathBuf> = resolution
        .errors
        .iter()
        .filter_map(|e| e.file.clone())
        .filter(|file| running_files.contains(file))
        .collect();
    for error in &resolution.errors {
        let kept = error
            .file
            .as_ref()
            .is_some_and(|f| failing_files.contains(f));
        let error = crate::escape::for_terminal(&error.to_string()).into_owned();
        if kept {
            tracing::error!(
                "configuration error, the file's last good instances keep running: {error}"
            );
        } else {
            tracing::error!("configuration error, instance skipped: {error}");
        }
    }
    for warning in &resolution.warnings {
        tracing::warn!("{}", crate::escape::for_terminal(&warning.to_string()));
    }

    let mut wanted = BTreeMap::new();
    for resolved in &resolution.instances {
        let config = &resolved.config;
        if failing_files.contains(&config.source) {
            continue;
        }
        let Some(plugin) = resolved
            .plugin
            .as_ref()
            .filter(|_| resolved.errors.is_empty())
        else {
            continue;
        };
        wanted.insert(config.id.clone(), (resolved, plugin.sha256.clone()));
    }

    let gone: Vec<String> = applied
        .iter()
        .filter(|(id, a)| !wanted.contains_key(*id) && !failing_files.contains(&a.source))
        .map(|(id, _)| id.clone())
        .collect();
    for id in &gone {
        scheduler.stop(id);
        applied.remove(id);
        pipeline.removed(id);
    }
    let mut start = Vec::new();
    let (mut added, mut swapped) = (0, 0);
    for (id, (resolved, sha)) in wanted {
        match applied.get(&id) {
            Some(a) if a.plugin_sha256 == sha => continue,
            Some(_) => swapped += 1,
            None => added += 1,
        }
        let Some(instance) = env.instantiate(resolved) else {
            continue;
        };
        let config = Arc::new(resolved.config.clone());
        let collector = Collector::new(&config, &env.hostname, &env.runner.tags)
            .with_histograms(histogram_spec(&env.runner));
        pipeline.status.scheduled(&config);
        applied.insert(
            id,
            Applied {
                check: config.check.clone(),
                source: config.source.clone(),
                plugin_sha256: sha,
            },
        );
        start.push(Scheduled {
            config,
            instance,
            collector,
        });
    }
    scheduler.start(start);

    let problem = |e: &crate::config::ConfigError| Problem {
        check: e.check.clone(),
        message: crate::escape::for_terminal(&e.to_string()).into_owned(),
    };
    pipeline.status.set_problems(
        resolution.errors.iter().map(problem).collect(),
        resolution.warnings.iter().map(problem).collect(),
        resolution
            .plugin_errors
            .iter()
            .map(|(check, message)| Problem {
                check: Some(check.clone()),
                message: crate::escape::for_terminal(message).into_owned(),
            })
            .collect(),
    );

    let kept_back = (!failing_files.is_empty()).then(|| {
        let files: Vec<String> = failing_files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        format!(
            "{} kept at their last good configuration: {}",
            files.join(", "),
            resolution
                .errors
                .iter()
                .find(|e| e.file.as_ref().is_some_and(|f| failing_files.contains(f)))
                .map(|e| crate::escape::for_terminal(&e.to_string()).into_owned())
                .unwrap_or_default()
        )
    });
    ApplyOutcome {
        summary: format!(
            "{} check instance(s) running ({}); {added} added, {} removed, {swapped} swapped to a new plugin, {} configuration error(s)",
            scheduler.len(),
            by_check(applied),
            gone.len(),
            resolution.errors.len()
        ),
        kept_back,
    }
}

/// `process ×3, nginx ×1`.
fn by_check(applied: &BTreeMap<String, Applied>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for applied in applied.values() {
        *counts.entry(&applied.check).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(check, n)| format!("{check} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn signal(kind: tokio::signal::unix::SignalKind) -> tokio::signal::unix::Signal {
    tokio::signal::unix::signal(kind).expect("installing a signal handler")
}

/// Resolves on Ctrl-C, SIGTERM, or after `exit_after`.
async fn shutdown(exit_after: Option<Duration>) {
    let timer = async {
        match exit_after {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    let mut term = signal(tokio::signal::unix::SignalKind::terminate());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted (SIGINT)"),
        _ = term.recv() => tracing::info!("terminated (SIGTERM)"),
        () = timer => {}
    }
}
