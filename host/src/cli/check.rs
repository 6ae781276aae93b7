//! `runner check <name>`: run a check's instances now and print what they
//! submitted, like the Datadog Agent's `agent check`, but readable by
//! default (a table) and JSON with `--json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::table;
use crate::aggregator::Series;
use crate::collector::{Collected, Collector, EventOut, ServiceCheckOut};
use crate::resolve::Environment;
use crate::sandbox::CheckInstance;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The check to run: a bundled check (e.g. `process`) or the name of a
    /// `checks.d/<name>.wasm`.
    pub name: String,

    /// Run at least twice (or --times), one second apart (or --pause), so
    /// rate and monotonic_count metrics show: they need two samples.
    #[arg(short = 'r', long)]
    pub check_rate: bool,

    /// Run this many times.
    #[arg(short = 't', long = "times", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub times: u32,

    /// Milliseconds to wait between runs [default: 1000 with --check-rate, else 0].
    #[arg(long, value_name = "MS")]
    pub pause: Option<u64>,

    /// Print JSON (Datadog's series / service check / event shapes)
    /// instead of tables.
    #[arg(long)]
    pub json: bool,

    /// Only run the instance with this ID (as shown by `runner configcheck`).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
}

/// How one instance fared over all its runs.
#[derive(Debug, Serialize)]
struct InstanceStats {
    id: String,
    /// Where the plugin came from: `bundled` or a file path.
    plugin: String,
    total_runs: u32,
    failed_runs: u32,
    /// Mean run duration in milliseconds.
    average_execution_ms: f64,
    last_run_metric_samples: usize,
    total_metric_samples: usize,
    total_service_checks: usize,
    total_events: usize,
    last_error: Option<String>,
    /// The guest's stdout/stderr of the last run, if it wrote any.
    #[serde(skip_serializing_if = "String::is_empty")]
    output: String,
}

/// What the verb prints with `--json`.
#[derive(Debug, Default, Serialize)]
struct Report {
    series: Vec<Series>,
    service_checks: Vec<ServiceCheckOut>,
    events: Vec<EventOut>,
    metadata: BTreeMap<String, BTreeMap<String, String>>,
    instances: Vec<InstanceStats>,
}

/// Run the verb; returns the process exit code.
pub async fn execute(env: &Environment, args: &CheckArgs) -> i32 {
    let name = args.name.as_str();
    let resolution = env.resolve(Some(name)).await;
    if env.catalog.get(name).is_none() {
        eprintln!(
            "Error: {}",
            env.catalog.not_found(name, &env.runner.checks_d)
        );
        return 1;
    }
    let mut failed = false;
    for error in &resolution.errors {
        eprintln!("Error: {error}");
        failed = true;
    }
    for warning in &resolution.warnings {
        eprintln!("Warning: {warning}");
    }
    let selected: Vec<_> = resolution
        .instances
        .iter()
        .filter(|i| args.instance.as_deref().is_none_or(|id| id == i.config.id))
        .collect();
    if selected.is_empty() {
        match &args.instance {
            Some(id) => eprintln!(
                "Error: no instance `{id}` for check `{name}`; its instances: {}",
                list_or_none(resolution.instances.iter().map(|i| i.config.id.as_str()))
            ),
            None => eprintln!(
                "Error: check `{name}` has no configuration: add {} (or {}) with at least one instance",
                env.runner
                    .conf_d
                    .join(format!("{name}.d/conf.yaml"))
                    .display(),
                env.runner.conf_d.join(format!("{name}.yaml")).display(),
            ),
        }
        return 1;
    }

    let times = if args.check_rate {
        args.times.max(2)
    } else {
        args.times
    };
    let default_pause = if args.check_rate { 1000 } else { 0 };
    let pause = Duration::from_millis(args.pause.unwrap_or(default_pause));

    let mut report = Report::default();
    let mut last_run = Collected::default();
    let mut awaiting_rates = false;
    for resolved in selected {
        let Some(mut instance) = env.instantiate(resolved) else {
            continue; // its errors were printed above
        };
        let mut collector = Collector::new(&resolved.config, &env.hostname, &env.runner.tags);
        let stats = run_instance(
            &mut instance,
            &mut collector,
            times,
            pause,
            &mut report,
            &mut last_run,
        )
        .await;
        failed |= stats.failed_runs > 0;
        awaiting_rates |= collector.awaiting_second_sample();
        report.instances.push(stats);
    }
    report.series = merge_series(std::mem::take(&mut report.series));

    if report.instances.is_empty() {
        return 1; // nothing could run; the errors are above
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        print!("{}", render_tables(&last_run, &report, times));
    }
    if times == 1 && awaiting_rates {
        eprintln!(
            "Note: some rate or monotonic_count metrics need a second sample; \
             run with --check-rate to see them."
        );
    }
    i32::from(failed)
}

async fn run_instance(
    instance: &mut CheckInstance,
    collector: &mut Collector,
    times: u32,
    pause: Duration,
    report: &mut Report,
    last_run: &mut Collected,
) -> InstanceStats {
    let mut stats = InstanceStats {
        id: instance.id().to_string(),
        plugin: instance.plugin().source.to_string(),
        total_runs: 0,
        failed_runs: 0,
        average_execution_ms: 0.0,
        last_run_metric_samples: 0,
        total_metric_samples: 0,
        total_service_checks: 0,
        total_events: 0,
        last_error: None,
        output: String::new(),
    };
    let mut total_time = Duration::ZERO;
    for run in 0..times {
        if run > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let outcome = instance.run().await;
        let collected = collector.collect(&outcome);
        stats.total_runs += 1;
        total_time += outcome.duration;
        stats.last_run_metric_samples = collected.metric_samples;
        stats.total_metric_samples += collected.metric_samples;
        stats.total_service_checks += collected.service_checks.len();
        stats.total_events += collected.events.len();
        stats.output = outcome.output.clone();
        if let Err(error) = &outcome.result {
            stats.failed_runs += 1;
            stats.last_error = Some(error.to_string());
            tracing::error!(instance = instance.id(), "run failed: {error}");
        }
        report.series.extend(collected.series.iter().cloned());
        report
            .service_checks
            .extend(collected.service_checks.iter().cloned());
        report.events.extend(collected.events.iter().cloned());
        let metadata = report
            .metadata
            .entry(instance.id().to_string())
            .or_default();
        metadata.extend(collected.metadata.iter().cloned());
        if run + 1 == times {
            last_run.series.extend(collected.series);
            last_run.service_checks.extend(collected.service_checks);
            last_run.events.extend(collected.events);
        }
    }
    report.metadata.retain(|_, entries| !entries.is_empty());
    stats.average_execution_ms =
        total_time.as_secs_f64() * 1000.0 / f64::from(stats.total_runs.max(1));
    stats
}

/// Series of several runs with the same context become one series with
/// one point per run, as Datadog prints them.
fn merge_series(series: Vec<Series>) -> Vec<Series> {
    let mut merged: Vec<Series> = Vec::new();
    for s in series {
        match merged.iter_mut().find(|m| {
            m.metric == s.metric && m.tags == s.tags && m.host == s.host && m.kind == s.kind
        }) {
            Some(existing) => existing.points.extend(s.points),
            None => merged.push(s),
        }
    }
    merged.sort_by(|a, b| (&a.metric, &a.tags).cmp(&(&b.metric, &b.tags)));
    merged
}

fn render_tables(last_run: &Collected, report: &Report, times: u32) -> String {
    let mut out = String::new();
    let mut series = last_run.series.clone();
    series.sort_by(|a, b| (&a.metric, &a.tags).cmp(&(&b.metric, &b.tags)));
    let last_note = if times > 1 {
        format!(" (last of {times} runs; --json has every point)")
    } else {
        String::new()
    };

    writeln!(out, "=== Series{last_note} ===").unwrap();
    let rows: Vec<Vec<String>> = series
        .iter()
        .map(|s| {
            let value = s
                .points
                .last()
                .map(|p| table::value(p.1))
                .unwrap_or_default();
            vec![s.metric.clone(), kind_name(s), value, s.tags.join(", ")]
        })
        .collect();
    out.push_str(&table_or_none(&["METRIC", "TYPE", "VALUE", "TAGS"], &rows));

    writeln!(out, "\n=== Service Checks{last_note} ===").unwrap();
    let rows: Vec<Vec<String>> = last_run
        .service_checks
        .iter()
        .map(|sc| {
            vec![
                sc.check.clone(),
                sc.status_name().to_string(),
                sc.tags.join(", "),
                sc.message.clone(),
            ]
        })
        .collect();
    out.push_str(&table_or_none(
        &["CHECK", "STATUS", "TAGS", "MESSAGE"],
        &rows,
    ));

    writeln!(out, "\n=== Events{last_note} ===").unwrap();
    let rows: Vec<Vec<String>> = last_run
        .events
        .iter()
        .map(|e| {
            vec![
                e.title.clone(),
                e.alert_type.to_string(),
                e.tags.join(", "),
                e.text.clone(),
            ]
        })
        .collect();
    out.push_str(&table_or_none(&["TITLE", "ALERT", "TAGS", "TEXT"], &rows));

    writeln!(out, "\n=== Metadata ===").unwrap();
    let rows: Vec<Vec<String>> = report
        .metadata
        .iter()
        .flat_map(|(id, entries)| {
            entries
                .iter()
                .map(move |(k, v)| vec![id.clone(), k.clone(), v.clone()])
        })
        .collect();
    out.push_str(&table_or_none(&["INSTANCE", "KEY", "VALUE"], &rows));

    for stats in &report.instances {
        let state = if stats.last_error.is_some() {
            "ERROR"
        } else {
            "OK"
        };
        writeln!(out, "\n=== Instance {} [{state}] ===", stats.id).unwrap();
        writeln!(out, "  Plugin: {}", stats.plugin).unwrap();
        writeln!(
            out,
            "  Total runs: {} ({} failed)",
            stats.total_runs, stats.failed_runs
        )
        .unwrap();
        writeln!(
            out,
            "  Metric samples: last run {}, total {}",
            stats.last_run_metric_samples, stats.total_metric_samples
        )
        .unwrap();
        writeln!(
            out,
            "  Service checks: {}, events: {}",
            stats.total_service_checks, stats.total_events
        )
        .unwrap();
        writeln!(
            out,
            "  Average execution time: {:.2} ms",
            stats.average_execution_ms
        )
        .unwrap();
        if let Some(error) = &stats.last_error {
            writeln!(out, "  Error: {error}").unwrap();
        }
        if !stats.output.is_empty() {
            writeln!(out, "  Output (stdout/stderr of the last run):").unwrap();
            let lines: Vec<&str> = stats.output.lines().collect();
            for line in lines.iter().take(OUTPUT_LINES) {
                writeln!(out, "    {}", clip(line, OUTPUT_LINE_CHARS)).unwrap();
            }
            if lines.len() > OUTPUT_LINES {
                writeln!(
                    out,
                    "    … {} more lines (--json has all)",
                    lines.len() - OUTPUT_LINES
                )
                .unwrap();
            }
        }
    }
    out
}

/// How much of a check's captured output the table shows.
const OUTPUT_LINES: usize = 20;
const OUTPUT_LINE_CHARS: usize = 160;

fn clip(line: &str, max_chars: usize) -> String {
    match line.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

fn kind_name(series: &Series) -> String {
    serde_json::to_value(series.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn table_or_none(header: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        "(none)\n".to_string()
    } else {
        table::render(header, rows)
    }
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}
