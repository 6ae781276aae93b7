//! Tooling written for the Datadog Agent's output keeps working: `runner
//! check --json` in the Agent's shape, the Agent's `check` flags, strict
//! `--log-level`, and a did-you-mean for a misspelt check name. Run
//! against real processes through the built binary.

mod common;

use std::time::Instant;

use common::{Processes, Workspace, instances, runner_stats, series, stderr, stdout, value};

fn conf(ws: &Workspace, name: &str, instances: &[&str]) {
    let list: String = instances
        .iter()
        .map(|i| format!("  - {{name: {i}, search_string: [{name}]}}\n"))
        .collect();
    ws.write("conf.d/process.d/conf.yaml", format!("instances:\n{list}"));
}

#[test]
fn json_is_the_agents_shape_one_object_per_instance() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    conf(&ws, &procs.name, &["first", "second"]);
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    let all = instances(&report);
    assert_eq!(all.len(), 2, "{report:#}");
    for instance in all {
        let keys: Vec<&String> = instance.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["aggregator", "inventories", "runner", "sandbox"]);
        let metrics = instance["aggregator"]["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty());
        for serie in metrics {
            assert_eq!(serie["source_type_name"], "System", "{serie}");
            assert_eq!(serie["interval"], 0, "{serie}");
            let ts = &serie["points"][0][0];
            assert!(
                ts.is_i64() && ts.as_i64().unwrap() > 1_600_000_000,
                "{serie}"
            );
            assert!(["gauge", "count", "rate"].contains(&serie["type"].as_str().unwrap()));
        }
        let sc = &instance["aggregator"]["service_checks"][0];
        assert_eq!(sc["check"], "process.up");
        assert_eq!(sc["status"], 0);
        assert!(sc["host_name"].is_string() && sc["timestamp"].is_i64());
        assert_eq!(instance["sandbox"]["plugin"], "bundled");
    }
    let stats = runner_stats(&report);
    assert!(
        stats[0]["CheckID"]
            .as_str()
            .unwrap()
            .starts_with("process:first:")
    );
    assert!(
        stats[1]["CheckID"]
            .as_str()
            .unwrap()
            .starts_with("process:second:")
    );
    for s in &stats {
        assert_eq!(s["CheckName"], "process");
        assert_eq!(s["CheckLoader"], "wasm");
        assert_eq!(s["TotalRuns"], 1);
        assert_eq!(s["TotalErrors"], 0);
        assert_eq!(s["LastError"], "");
        assert_eq!(s["Interval"], 15_000_000_000u64);
        assert!(s["MetricSamples"].as_i64().unwrap() > 0);
        let source = s["CheckConfigSource"].as_str().unwrap();
        assert!(
            source.starts_with("file:/") && source.ends_with("/conf.d/process.d/conf.yaml"),
            "{source}"
        );
    }
    // Both instances match the same two processes.
    let numbers = series(&report, "system.processes.number");
    assert_eq!(numbers.len(), 2);
    for n in numbers {
        assert_eq!(n["points"][0][1], 2.0);
    }
}

#[test]
fn check_rate_pauses_once_for_all_instances() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    conf(&ws, &procs.name, &["a", "b", "c"]);
    // A first run compiles the plugin into the shared cache, so the timed
    // run measures runs and pauses, not compilation.
    let (_, warm_up) = ws.check_json("process", &[]);
    assert!(warm_up.status.success(), "stderr: {}", stderr(&warm_up));
    let started = Instant::now();
    let (report, output) = ws.check_json("process", &["--check-rate"]);
    let elapsed = started.elapsed();
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let stats = runner_stats(&report);
    assert_eq!(stats.len(), 3);
    for s in stats {
        assert_eq!(s["TotalRuns"], 2, "{s}");
    }
    // One 1 s pause for the three instances, not three.
    assert!(elapsed.as_secs_f64() < 2.5, "took {elapsed:?}");
    assert!(elapsed.as_secs_f64() >= 1.0, "took {elapsed:?}");
}

#[test]
fn agent_flags_are_accepted() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    conf(&ws, &procs.name, &["first", "second"]);

    // -t/--check-times (and our --times), -d/--delay, --pause.
    let (report, output) = ws.check_json(
        "process",
        &["--check-times", "2", "--pause", "10", "-d", "5"],
    );
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(runner_stats(&report)[0]["TotalRuns"], 2);
    let (report, _) = ws.check_json("process", &["-t", "3"]);
    assert_eq!(runner_stats(&report)[1]["TotalRuns"], 3);

    // --instance-filter with the Agent's jq-style syntax.
    let (report, output) = ws.check_json("process", &["--instance-filter", r#".name == "second""#]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let stats = runner_stats(&report);
    assert_eq!(stats.len(), 1);
    assert!(
        stats[0]["CheckID"]
            .as_str()
            .unwrap()
            .starts_with("process:second:")
    );
    assert_eq!(value(&report, "system.processes.number"), 1.0);

    let output = ws.runner(&["check", "process", "--instance-filter", ".name == \"none\""]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no instance of check `process` matches --instance-filter"));
    let output = ws.runner(&["check", "process", "--instance-filter", ".name"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("filter query must return a boolean"),
        "{}",
        stderr(&output)
    );
    let output = ws.runner(&["check", "process", "--instance-filter", ".name = 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid --instance-filter"),
        "{}",
        stderr(&output)
    );

    // --table is the default format; -l is --log-level.
    let output = ws.runner(&["check", "process", "--table", "-l", "warning"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(
        stdout(&output).starts_with("=== Series ===\n"),
        "{}",
        stdout(&output)
    );
    let output = ws.runner(&["check", "process", "--table", "--json"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_bad_log_level_is_an_error_naming_the_flag_and_the_levels() {
    let ws = Workspace::new();
    let output = ws.runner(&["--log-level", "verbose", "configcheck"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("invalid --log-level `verbose`"), "{err}");
    for level in ["trace", "debug", "info", "warn", "error", "critical", "off"] {
        assert!(err.contains(level), "{err}");
    }
    let output = ws.runner(&["configcheck", "-l", "check=loud"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown level `loud`"),
        "{}",
        stderr(&output)
    );
    // The Agent's names work, `critical` included.
    let output = ws.runner(&["configcheck", "-l", "critical"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn a_misspelt_check_name_gets_a_did_you_mean() {
    let ws = Workspace::new();
    let output = ws.runner(&["check", "proces"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("no check named `proces`"), "{err}");
    assert!(err.ends_with("did you mean `process`?\n"), "{err}");
    // Nothing close: no suggestion.
    let err = stderr(&ws.runner(&["check", "zzzz"]));
    assert!(!err.contains("did you mean"), "{err}");
}
