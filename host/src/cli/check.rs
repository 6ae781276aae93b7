//! `runner check <name>`: run a check's instances now and print what they
//! submitted, like the Datadog Agent's `agent check`, but readable by
//! default (a table) and in the Agent's JSON shape with `--json` (see
//! `check_json`). Flags follow the Agent's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;

use super::check_json::{
    AggregatorJson, DenialsJson, EventJson, InstanceJson, RunCounts, SandboxJson, SerieJson, Stats,
    StatsSource,
};
use super::instance_filter::InstanceFilter;
use super::{report, table};
use crate::aggregator::Series;
use crate::collector::{Collected, Collector, EventOut, ServiceCheckOut};
use crate::config::ConfigError;
use crate::config::suggest::did_you_mean_hint;
use crate::escape;
use crate::resolve::{Environment, ResolvedInstance};
use crate::sandbox::CheckInstance;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The check to run: a bundled check (e.g. `process`) or the name of a
    /// `checks.d/<name>.wasm`.
    pub name: String,

    /// Run at least twice (or --check-times), one second apart (or
    /// --pause), so rate and monotonic_count metrics show: they need two
    /// samples. All instances run, then the pause, then all run again.
    #[arg(short = 'r', long)]
    pub check_rate: bool,

    /// Run every instance this many times.
    #[arg(short = 't', long = "check-times", visible_alias = "times", value_name = "N",
          default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub times: u32,

    /// Milliseconds to wait between runs (one wait per round, however many
    /// instances) [default: 1000 with --check-rate, else 0].
    #[arg(long, value_name = "MS")]
    pub pause: Option<u64>,

    /// Milliseconds to wait after the last run before reading what the
    /// check submitted (the Agent's wait for its aggregator; the runner
    /// collects synchronously, so 0 is enough).
    #[arg(short = 'd', long, value_name = "MS", default_value_t = 0)]
    pub delay: u64,

    /// Print the Datadog Agent's `check --json` shape: one object per
    /// instance with `aggregator`, `runner` (run statistics) and
    /// `inventories` (metadata).
    #[arg(long, conflicts_with = "table")]
    pub json: bool,

    /// Print tables (the default; accepted for the Agent's flag).
    #[arg(long)]
    pub table: bool,

    /// Only run the instance with this ID (as shown by `runner configcheck`).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,

    /// Only run instances for which this jq-style filter is true, as the
    /// Agent's flag: e.g. `.name == "web"`, `.port >= 80 and .tls == true`.
    #[arg(long, value_name = "FILTER")]
    pub instance_filter: Option<String>,
}

/// One instance being run, and what it has submitted so far.
struct InstanceRun {
    instance: CheckInstance,
    collector: Collector,
    stats: Stats,
    /// Every run's series, service checks and events, for `--json`.
    series: Vec<Series>,
    service_checks: Vec<ServiceCheckOut>,
    events: Vec<EventOut>,
    metadata: BTreeMap<String, String>,
    /// The last run's, for the tables.
    last_run: Collected,
    /// The guest's stdout/stderr of the last run.
    output: String,
    /// Network access denied over all runs.
    denied: DenialsJson,
    total_time: Duration,
}

/// Run the verb; returns the process exit code.
pub async fn execute(env: &Environment, args: &CheckArgs) -> i32 {
    let name = args.name.as_str();
    let filter = match args.instance_filter.as_deref().map(InstanceFilter::parse) {
        Some(Err(e)) => {
            report(
                "Error",
                format_args!(
                    "invalid --instance-filter `{}`: {e} (understood: paths like `.name` \
                     or `.tags[0]`, JSON literals, == != < <= > >=, and, or, `| not`, parentheses)",
                    args.instance_filter.as_deref().unwrap_or_default()
                ),
            );
            return 2;
        }
        Some(Ok(filter)) => Some(filter),
        None => None,
    };
    let resolution = env.resolve(Some(name)).await;
    if env.catalog.get(name).is_none() {
        let mut message = env.catalog.not_found(name, &env.runner.checks_d);
        if let Some(hint) = did_you_mean_hint(name, env.catalog.names()) {
            write!(message, "; {hint}").unwrap();
        }
        report("Error", message);
        return 1;
    }
    let mut failed = false;
    for error in &resolution.errors {
        report("Error", error);
        failed = true;
    }
    for warning in &resolution.warnings {
        report("Warning", warning);
    }
    let mut selected = Vec::new();
    for resolved in &resolution.instances {
        if args
            .instance
            .as_deref()
            .is_some_and(|id| id != resolved.config.id)
        {
            continue;
        }
        if let Some(filter) = &filter {
            match filter.matches(&resolved.config.instance) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    report(
                        "Error",
                        format_args!("--instance-filter on instance {}: {e}", resolved.config.id),
                    );
                    return 1;
                }
            }
        }
        selected.push(resolved);
    }
    if selected.is_empty() {
        report(
            "Error",
            nothing_selected(env, args, &resolution.instances, &resolution.errors),
        );
        return 1;
    }

    let times = if args.check_rate {
        args.times.max(2)
    } else {
        args.times
    };
    let default_pause = if args.check_rate { 1000 } else { 0 };
    let pause = Duration::from_millis(args.pause.unwrap_or(default_pause));

    let mut runs: Vec<InstanceRun> = selected
        .into_iter()
        .filter_map(|resolved| start(env, resolved))
        .collect();
    if runs.is_empty() {
        return 1; // nothing could run; the errors are above
    }
    // Rounds: every instance runs once per round, with one pause between
    // rounds, so N instances take one pause, not N.
    for round in 0..times {
        if round > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        for run in &mut runs {
            run_once(run, round + 1 == times).await;
        }
    }
    if args.delay > 0 {
        tokio::time::sleep(Duration::from_millis(args.delay)).await;
    }
    failed |= runs.iter().any(|r| r.stats.total_errors > 0);
    let awaiting_rates = runs.iter().any(|r| r.collector.awaiting_second_sample());

    if args.json {
        let report: Vec<InstanceJson> = runs.into_iter().map(to_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        print!("{}", render_tables(&runs, times));
    }
    if times == 1 && awaiting_rates {
        eprintln!(
            "Note: some rate or monotonic_count metrics need a second sample; \
             run with --check-rate to see them."
        );
    }
    i32::from(failed)
}

/// Why no instance was selected, and what there is (printed through
/// [`report`], which escapes it, instance IDs included).
fn nothing_selected(
    env: &Environment,
    args: &CheckArgs,
    all: &[ResolvedInstance],
    errors: &[ConfigError],
) -> String {
    let name = &args.name;
    // Files of this check that exist but yielded no valid instance: say
    // so, rather than claim there is no configuration.
    let broken: BTreeSet<String> = errors
        .iter()
        .filter(|e| e.check.as_deref() == Some(name.as_str()))
        .filter_map(|e| e.file.as_ref().map(|f| f.display().to_string()))
        .collect();
    let ids = list_or_none(all.iter().map(|i| i.config.id.as_str()));
    if let Some(id) = &args.instance {
        format!("no instance `{id}` for check `{name}`; its instances: {ids}")
    } else if let Some(filter) = &args.instance_filter {
        format!(
            "no instance of check `{name}` matches --instance-filter `{filter}`; its instances: {ids}"
        )
    } else if !broken.is_empty() {
        format!(
            "check `{name}` has no valid instance: its configuration ({}) is invalid, see the errors above",
            broken.into_iter().collect::<Vec<_>>().join(", ")
        )
    } else {
        format!(
            "check `{name}` has no configuration: add {} (or {}) with at least one instance",
            env.runner
                .conf_d
                .join(format!("{name}.d/conf.yaml"))
                .display(),
            env.runner.conf_d.join(format!("{name}.yaml")).display(),
        )
    }
}

/// Sets an instance up to run; None when it cannot (its errors were
/// printed with the resolution's).
fn start(env: &Environment, resolved: &ResolvedInstance) -> Option<InstanceRun> {
    let instance = env.instantiate(resolved)?;
    let config = &resolved.config;
    let source = crate::config::builtin::shown_source(&config.source);
    let stats = Stats::new(StatsSource {
        check: &config.check,
        id: &config.id,
        version: &instance.plugin().info.version,
        config_source: format!("file:{}", source.display()),
        interval: config.interval,
        loader: match instance.plugin().runtime {
            Some(_) => "python",
            None => "wasm",
        },
    });
    Some(InstanceRun {
        collector: Collector::new(config, &env.hostname, &env.runner.tags),
        instance,
        stats,
        series: Vec::new(),
        service_checks: Vec::new(),
        events: Vec::new(),
        metadata: BTreeMap::new(),
        last_run: Collected::default(),
        output: String::new(),
        denied: DenialsJson::default(),
        total_time: Duration::ZERO,
    })
}

async fn run_once(run: &mut InstanceRun, last: bool) {
    let outcome = run.instance.run().await;
    let collected = run.collector.collect(&outcome);
    let error = collected.error.clone();
    if let Some(error) = &error {
        tracing::error!(instance = run.instance.id(), "run failed: {error}");
    }
    run.stats.add(&RunCounts {
        duration: outcome.duration,
        error,
        metric_samples: collected.metric_samples,
        service_checks: collected.service_checks.len(),
        events: collected.events.len(),
        warnings: outcome.warnings.clone(),
    });
    run.total_time += outcome.duration;
    run.output = outcome.output.clone();
    run.denied.count += outcome.denials.count;
    for target in &outcome.denials.targets {
        if run.denied.targets.len() < MAX_DENIED_SHOWN && !run.denied.targets.contains(target) {
            run.denied.targets.push(target.clone());
        }
    }
    run.series.extend(collected.series.iter().cloned());
    run.service_checks
        .extend(collected.service_checks.iter().cloned());
    run.events.extend(collected.events.iter().cloned());
    run.metadata.extend(collected.metadata.iter().cloned());
    if last {
        run.last_run = collected;
    }
}

fn to_json(run: InstanceRun) -> InstanceJson {
    let series = merge_series(run.series);
    let mut inventories = BTreeMap::new();
    if !run.metadata.is_empty() {
        inventories.insert(run.stats.check_id.clone(), run.metadata);
    }
    InstanceJson {
        aggregator: AggregatorJson {
            metrics: series.iter().map(SerieJson::from).collect(),
            service_checks: run.service_checks,
            events: run.events.iter().map(EventJson::from).collect(),
        },
        sandbox: SandboxJson {
            plugin: run.instance.plugin().origin.to_string(),
            output: run.output,
            network_denied: run.denied,
        },
        runner: run.stats,
        inventories,
    }
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

/// The tables `runner check` prints. Everything a check submitted goes
/// through [`escape::for_terminal`] (cells in [`table::render`], the rest
/// here), so a check cannot fake rows or drive the terminal.
fn render_tables(runs: &[InstanceRun], times: u32) -> String {
    let last_note = if times > 1 {
        format!(" (last of {times} runs; --json has every point)")
    } else {
        String::new()
    };
    let mut out = String::new();
    writeln!(out, "=== Series{last_note} ===").unwrap();
    out.push_str(&series_table(
        runs.iter().flat_map(|r| &r.last_run.series).collect(),
    ));
    writeln!(out, "\n=== Service Checks{last_note} ===").unwrap();
    out.push_str(&service_checks_table(
        runs.iter().flat_map(|r| &r.last_run.service_checks),
    ));
    writeln!(out, "\n=== Events{last_note} ===").unwrap();
    out.push_str(&events_table(runs.iter().flat_map(|r| &r.last_run.events)));
    writeln!(out, "\n=== Metadata ===").unwrap();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|r| {
            r.metadata
                .iter()
                .map(move |(k, v)| vec![r.stats.check_id.clone(), k.clone(), v.clone()])
        })
        .collect();
    out.push_str(&table::render_or_none(
        &["INSTANCE", "KEY", "VALUE"],
        &rows,
        None,
    ));
    for run in runs {
        out.push_str(&instance_summary(run));
    }
    out
}

fn series_table(mut series: Vec<&Series>) -> String {
    series.sort_by(|a, b| (&a.metric, &a.tags).cmp(&(&b.metric, &b.tags)));
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
    table::render_or_none(&["METRIC", "TYPE", "VALUE", "TAGS"], &rows, None)
}

fn service_checks_table<'a>(service_checks: impl Iterator<Item = &'a ServiceCheckOut>) -> String {
    let rows: Vec<Vec<String>> = service_checks
        .map(|sc| {
            vec![
                sc.check.clone(),
                sc.status_name().to_string(),
                sc.tags.join(", "),
                sc.message.clone(),
            ]
        })
        .collect();
    table::render_or_none(&["CHECK", "STATUS", "TAGS", "MESSAGE"], &rows, None)
}

fn events_table<'a>(events: impl Iterator<Item = &'a EventOut>) -> String {
    let rows: Vec<Vec<String>> = events
        .map(|e| {
            vec![
                e.title.clone(),
                e.alert_type.to_string(),
                e.tags.join(", "),
                e.text.clone(),
            ]
        })
        .collect();
    table::render_or_none(&["TITLE", "ALERT", "TAGS", "TEXT"], &rows, None)
}

/// An instance's run statistics, last error and captured output.
fn instance_summary(run: &InstanceRun) -> String {
    let mut out = String::new();
    let stats = &run.stats;
    let state = if stats.last_error.is_empty() {
        "OK"
    } else {
        "ERROR"
    };
    let id = escape::for_terminal(&stats.check_id);
    writeln!(out, "\n=== Instance {id} [{state}] ===").unwrap();
    let plugin = run.instance.plugin().origin.to_string();
    writeln!(out, "  Plugin: {}", escape::for_terminal(&plugin)).unwrap();
    writeln!(
        out,
        "  Total runs: {} ({} failed)",
        stats.total_runs, stats.total_errors
    )
    .unwrap();
    writeln!(
        out,
        "  Metric samples: last run {}, total {}",
        run.last_run.metric_samples, stats.total_metric_samples
    )
    .unwrap();
    writeln!(
        out,
        "  Service checks: {}, events: {}",
        stats.total_service_checks, stats.total_events
    )
    .unwrap();
    let average_ms = run.total_time.as_secs_f64() * 1000.0 / stats.total_runs.max(1) as f64;
    writeln!(out, "  Average execution time: {average_ms:.2} ms").unwrap();
    if !stats.last_error.is_empty() {
        writeln!(out, "  Error: {}", escape::for_terminal(&stats.last_error)).unwrap();
    }
    if run.denied.count > 0 {
        // Targets are escaped by the sandbox.
        writeln!(
            out,
            "  Network denied: {} attempt(s): {}",
            run.denied.count,
            run.denied.targets.join(", ")
        )
        .unwrap();
    }
    if !run.output.is_empty() {
        writeln!(out, "  Output (stdout/stderr of the last run):").unwrap();
        let lines: Vec<&str> = run.output.lines().collect();
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
    out
}

/// Most distinct denied network targets `check` lists.
const MAX_DENIED_SHOWN: usize = 16;

/// How much of a check's captured output the table shows.
const OUTPUT_LINES: usize = 20;
const OUTPUT_LINE_CHARS: usize = 160;

/// The first `max_chars` characters of a line of a check's output (`…`
/// when there were more), escaped for the terminal.
fn clip(line: &str, max_chars: usize) -> String {
    match line.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", escape::for_terminal(&line[..end])),
        None => escape::for_terminal(line).into_owned(),
    }
}

fn kind_name(series: &Series) -> String {
    serde_json::to_value(series.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregator::SeriesType;

    /// Every way a check could try to break a row or drive the terminal.
    const HOSTILE: &str = "x\nfake 1 gauge\r\u{1b}[2J\u{9b}31m";
    const ESCAPED: &str = "x\\nfake 1 gauge\\r\\u{1b}[2J\\u{9b}31m";

    /// The table's rows below its header, asserting it has exactly one.
    fn single_row(table: &str) -> String {
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table:?}");
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        lines[1].to_owned()
    }

    #[test]
    fn what_checks_submit_prints_as_one_row_with_visible_escapes() {
        let series = Series {
            metric: format!("m.{HOSTILE}"),
            points: vec![(0.0, 1.0)],
            tags: vec![format!("t:{HOSTILE}")],
            host: HOSTILE.into(),
            kind: SeriesType::Gauge,
            interval: 15,
        };
        assert_eq!(
            single_row(&series_table(vec![&series])),
            format!("m.{ESCAPED}  gauge  1      t:{ESCAPED}")
        );

        let service_check = ServiceCheckOut {
            check: format!("sc.{HOSTILE}"),
            host_name: HOSTILE.into(),
            timestamp: 0,
            status: 2,
            message: format!("down\n{HOSTILE}"),
            tags: vec![format!("t:{HOSTILE}")],
        };
        let row = single_row(&service_checks_table([&service_check].into_iter()));
        assert!(row.starts_with(&format!("sc.{ESCAPED}  CRITICAL  t:{ESCAPED}")));
        assert!(row.ends_with(&format!("down\\n{ESCAPED}")), "{row}");

        let event = EventOut {
            title: HOSTILE.into(),
            text: HOSTILE.into(),
            timestamp: 0,
            priority: "normal",
            host: HOSTILE.into(),
            alert_type: "info",
            tags: vec![],
            aggregation_key: None,
        };
        let row = single_row(&events_table([&event].into_iter()));
        assert_eq!(row, format!("{ESCAPED}  info         {ESCAPED}"));
    }

    #[test]
    fn output_lines_are_clipped_then_escaped() {
        assert_eq!(clip("a\u{1b}[2Jb", 10), "a\\u{1b}[2Jb");
        assert_eq!(clip("ab\u{9b}cd", 3), "ab\\u{9b}…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
