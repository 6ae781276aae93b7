//! `runner check process` against real processes spawned by the tests.

mod common;

use common::{
    Processes, Workspace, instance, runner_stats, series, service_checks, stderr, tags, value,
};

fn conf(ws: &Workspace, yaml: &str) {
    ws.write("conf.d/process.d/conf.yaml", yaml);
}

#[test]
fn three_spawned_processes_are_counted_and_up() {
    let procs = Processes::sleepers(3);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "init_config:\ninstances:\n  - name: sleepers\n    search_string: [{}]\n    tags: [env:test]\n",
            procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    assert_eq!(value(&report, "system.processes.number"), 3.0);
    let number = &series(&report, "system.processes.number")[0];
    assert_eq!(number["type"], "gauge");
    assert_eq!(
        tags(number),
        vec!["env:test", "process_name:sleepers", "sleepers"]
    );
    // sleep is single-threaded: one thread per process.
    assert_eq!(value(&report, "system.processes.threads"), 3.0);
    // Each process has at least stdin, stdout, stderr open.
    assert!(value(&report, "system.processes.open_file_descriptors") >= 9.0);
    let rss = value(&report, "system.processes.mem.rss");
    assert!(rss > 3.0 * 4096.0, "rss {rss}");
    assert!(value(&report, "system.processes.mem.vms") > rss);
    let run_time_max = value(&report, "system.processes.run_time.max");
    assert!(
        (0.0..600.0).contains(&run_time_max),
        "run_time.max {run_time_max}"
    );
    // CPU % needs a previous sample: absent after a single run.
    assert!(series(&report, "system.processes.cpu.pct").is_empty());

    let up = service_checks(&report, "process.up");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["status"], 0);
    assert_eq!(up[0]["message"], "");
    assert_eq!(
        tags(up[0]),
        vec![
            "env:test",
            "process:sleepers",
            "process_name:sleepers",
            "sleepers"
        ]
    );
    assert!(
        stderr(&output).contains("--check-rate"),
        "a single run must point at --check-rate for the rate metrics"
    );
}

#[test]
fn thresholds_give_warning_and_critical() {
    let procs = Processes::sleepers(3);
    let ws = Workspace::new();
    let name = &procs.name;
    conf(
        &ws,
        &format!(
            "instances:\n\
             \x20 - {{name: in-bounds, search_string: [{name}], thresholds: {{warning: [1, 3], critical: [1, 5]}}}}\n\
             \x20 - {{name: too-few-warn, search_string: [{name}], thresholds: {{warning: [4, 10]}}}}\n\
             \x20 - {{name: too-few-crit, search_string: [{name}], thresholds: {{warning: [4, 10], critical: [5, 10]}}}}\n\
             \x20 - {{name: too-many-crit, search_string: [{name}], thresholds: {{critical: [1, 2]}}}}\n\
             \x20 - {{name: none-running, search_string: [{name}-absent]}}\n"
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let status = |instance: &str| {
        let found: Vec<_> = service_checks(&report, "process.up")
            .into_iter()
            .filter(|sc| tags(sc).contains(&format!("process:{instance}")))
            .collect();
        assert_eq!(found.len(), 1, "{instance}: {found:?}");
        (
            found[0]["status"].as_u64().unwrap(),
            found[0]["message"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(status("in-bounds"), (0, String::new()));
    assert_eq!(
        status("too-few-warn"),
        (
            1,
            "PROCS WARNING: 3 processes found for too-few-warn".into()
        )
    );
    assert_eq!(
        status("too-few-crit"),
        (
            2,
            "PROCS CRITICAL: 3 processes found for too-few-crit".into()
        )
    );
    assert_eq!(
        status("too-many-crit"),
        (
            2,
            "PROCS CRITICAL: 3 processes found for too-many-crit".into()
        )
    );
    assert_eq!(
        status("none-running"),
        (
            2,
            "PROCS CRITICAL: 0 processes found for none-running".into()
        )
    );
    let none: Vec<_> = series(&report, "system.processes.number")
        .into_iter()
        .filter(|s| tags(s).contains(&"process_name:none-running".to_string()))
        .collect();
    assert_eq!(none[0]["points"][0][1], 0.0);
}

#[test]
fn check_rate_yields_cpu_pct_of_a_busy_process() {
    let procs = Processes::spinners(1);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: spinner\n    search_string: [{}]\n",
            procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &["--check-rate"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(runner_stats(&report)[0]["TotalRuns"], 2);

    let pct = value(&report, "system.processes.cpu.pct");
    // A shell spinning in a loop uses about one full core (100 %); leave
    // room for a loaded CI machine.
    assert!((20.0..=105.0).contains(&pct), "cpu.pct {pct}");
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as f64;
    let normalized = value(&report, "system.processes.cpu.normalized_pct");
    assert!(
        (normalized * cpus - pct).abs() < 1e-6,
        "{normalized} × {cpus} ≠ {pct}"
    );
    // Rates appear from the second run on.
    assert_eq!(
        series(&report, "system.processes.mem.page_faults.minor_faults").len(),
        1
    );
    assert!(!stderr(&output).contains("--check-rate"));
}

#[test]
fn regex_over_the_command_line_with_exact_match_false() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: by-cmdline\n    exact_match: false\n    search_string: ['{}\\s+600$']\n",
            procs.name
        ),
    );
    let (report, _) = ws.check_json("process", &[]);
    assert_eq!(value(&report, "system.processes.number"), 2.0);
}

#[test]
fn pid_and_pid_file_select_one_process_and_a_missing_pid_file_is_critical() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    let pids = procs.pids();
    let pid_file = ws.write("app.pid", format!("{}\n", pids[1]));
    conf(
        &ws,
        &format!(
            "instances:\n\
             \x20 - {{name: by-pid, pid: {}}}\n\
             \x20 - {{name: by-pid-file, pid_file: {}}}\n\
             \x20 - {{name: missing-pid-file, pid_file: /nonexistent/app.pid}}\n",
            pids[0],
            pid_file.display()
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let number_for = |name: &str| {
        let found: Vec<_> = series(&report, "system.processes.number")
            .into_iter()
            .filter(|s| tags(s).contains(&format!("process_name:{name}")))
            .collect();
        found[0]["points"][0][1].as_f64().unwrap()
    };
    assert_eq!(number_for("by-pid"), 1.0);
    assert_eq!(number_for("by-pid-file"), 1.0);
    assert_eq!(number_for("missing-pid-file"), 0.0);
    let missing: Vec<_> = service_checks(&report, "process.up")
        .into_iter()
        .filter(|sc| tags(sc).contains(&"process:missing-pid-file".to_string()))
        .collect();
    assert_eq!(missing[0]["status"], 2);
    assert_eq!(
        missing[0]["message"],
        "PROCS CRITICAL: 0 processes found for missing-pid-file"
    );
}

#[test]
fn user_filter_keeps_only_that_users_processes() {
    let procs = Processes::sleepers(2);
    let me = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n\
             \x20 - {{name: mine, search_string: [{name}], user: {me}}}\n\
             \x20 - {{name: theirs, search_string: [{name}], user: nobody}}\n",
            name = procs.name
        ),
    );
    let (report, _) = ws.check_json("process", &[]);
    let numbers: Vec<(Vec<String>, f64)> = series(&report, "system.processes.number")
        .into_iter()
        .map(|s| (tags(s), s["points"][0][1].as_f64().unwrap()))
        .collect();
    assert!(
        numbers.contains(&(vec!["mine".into(), "process_name:mine".into()], 2.0)),
        "{numbers:?}"
    );
    assert!(
        numbers.contains(&(vec!["process_name:theirs".into(), "theirs".into()], 0.0)),
        "{numbers:?}"
    );
}

#[test]
fn collect_children_counts_the_whole_tree() {
    let procs = Processes::tree(2);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n\
             \x20 - {{name: parent-only, search_string: [{name}]}}\n\
             \x20 - {{name: with-children, search_string: [{name}], collect_children: true}}\n",
            name = procs.name
        ),
    );
    // The shell starts its children right after it starts: wait for them.
    let mut numbers = (0.0, 0.0);
    for _ in 0..50 {
        let (report, _) = ws.check_json("process", &[]);
        let get = |name: &str| {
            series(&report, "system.processes.number")
                .into_iter()
                .find(|s| tags(s).contains(&format!("process_name:{name}")))
                .map(|s| s["points"][0][1].as_f64().unwrap())
                .unwrap()
        };
        numbers = (get("parent-only"), get("with-children"));
        if numbers.1 == 3.0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(numbers, (1.0, 3.0));
}

#[test]
fn hostname_and_host_tags_come_from_runner_yaml() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    ws.write("runner.yaml", "hostname: test-host-1\ntags: [team:core]\n");
    conf(
        &ws,
        &format!(
            "init_config:\n  service: billing\ninstances:\n\
             \x20 - {{name: hosted, search_string: [{name}]}}\n\
             \x20 - {{name: hostless, search_string: [{name}], empty_default_hostname: true}}\n",
            name = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    for s in series(&report, "system.processes.number") {
        let t = tags(s);
        assert!(t.contains(&"team:core".to_string()), "{t:?}");
        assert!(t.contains(&"service:billing".to_string()), "{t:?}");
        let expected_host = if t.contains(&"process_name:hostless".to_string()) {
            ""
        } else {
            "test-host-1"
        };
        assert_eq!(s["host"], expected_host, "{t:?}");
    }
}

#[test]
fn times_and_instance_filter() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n\
             \x20 - {{name: first, search_string: [{name}]}}\n\
             \x20 - {{name: second, search_string: [{name}]}}\n",
            name = procs.name
        ),
    );
    let (all, _) = ws.check_json("process", &[]);
    let ids: Vec<String> = runner_stats(&all)
        .iter()
        .map(|i| i["CheckID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].starts_with("process:first:"), "{ids:?}");

    let (one, output) = ws.check_json("process", &["--instance", &ids[1], "--times", "3"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let instances = runner_stats(&one);
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["CheckID"], ids[1].as_str());
    assert_eq!(instances[0]["TotalRuns"], 3);
    // One point per run in the JSON series.
    let number = &series(&one, "system.processes.number")[0];
    assert_eq!(number["points"].as_array().unwrap().len(), 3);
}

#[test]
fn readable_table_by_default() {
    let procs = Processes::sleepers(3);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - {{name: table, search_string: [{}]}}\n",
            procs.name
        ),
    );
    let output = ws.runner(&["check", "process"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let text = common::stdout(&output);
    assert!(text.starts_with("=== Series ===\nMETRIC"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("system.processes.number "))
        .expect("a row for system.processes.number");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        vec![
            "system.processes.number",
            "gauge",
            "3",
            "process_name:table,",
            "table"
        ]
    );
    assert!(text.contains("=== Service Checks ===\nCHECK"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == vec![
                    "process.up",
                    "OK",
                    "process:table,",
                    "process_name:table,",
                    "table"
                ]),
        "{text}"
    );
    assert!(text.contains("\n=== Instance process:table:"), "{text}");
    assert!(text.contains("  Total runs: 1 (0 failed)\n"), "{text}");
}

#[test]
fn unknown_check_fails_and_lists_known_checks() {
    let ws = Workspace::new();
    let output = ws.runner(&["check", "no-such-check"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("no check named `no-such-check`"), "{err}");
    assert!(
        err.contains("known checks: connections, nginx, postgres, process, tcp_check"),
        "{err}"
    );
}

#[test]
fn check_without_configuration_fails_with_the_path_to_create() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/connections.yaml",
        "instances:\n  - {search_string: [runner]}\n",
    );
    let output = ws.runner(&["check", "process"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("check `process` has no configuration: add"),
        "{}",
        stderr(&output)
    );
}

/// With no configuration file in conf.d, the verbs use the built-in
/// default: every process on the host, and the runner itself.
#[test]
fn an_empty_conf_d_runs_the_built_in_default() {
    let ws = Workspace::new();
    ws.write("conf.d/nginx.d/conf.yaml.example", "instances: [{}]\n");
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    for (name, stats) in [
        ("all", instance(&report, "all")),
        ("runner", instance(&report, "runner")),
    ] {
        assert_eq!(stats["TotalErrors"], 0, "{name}: {stats:#}");
        assert_eq!(
            stats["CheckConfigSource"], "file:<built-in>/process.yaml",
            "{name}"
        );
    }
    let number = |name: &str| {
        series(&report, "system.processes.number")
            .into_iter()
            .find(|s| tags(s).contains(&format!("process_name:{name}")))
            .map(|s| s["points"][0][1].as_f64().unwrap())
            .unwrap_or_else(|| panic!("no system.processes.number for {name}"))
    };
    // This very `runner check` is a runner, and it is one of all.
    assert!(number("runner") >= 1.0);
    assert!(number("all") > number("runner"));
}

#[test]
fn invalid_process_options_fail_the_run_with_the_checks_message() {
    let ws = Workspace::new();
    conf(
        &ws,
        "instances:\n  - {name: both, search_string: [x], pid: 1}\n",
    );
    let (_report, output) = ws.check_json("process", &[]);
    // As in Datadog, `search_string` wins over `pid`: a warning, no error.
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output)
            .contains("`pid` set together with `search_string`: only `search_string` is used"),
        "{}",
        stderr(&output)
    );
}

/// runner.yaml's `procfs_path` (a container's `HOST_PROC`): the host's
/// processes are read from there. Here a symlink to `/proc` stands for the
/// host's proc mounted into a container; a path with no proc file system
/// fails the run with an error naming it.
#[test]
fn procfs_path_is_where_processes_are_read() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    std::os::unix::fs::symlink("/proc", ws.path().join("hostproc")).unwrap();
    ws.write("runner.yaml", "procfs_path: hostproc\n");
    conf(
        &ws,
        &format!(
            "init_config:\ninstances:\n  - name: sleepers\n    search_string: [{}]\n",
            procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(value(&report, "system.processes.number"), 2.0);

    // The same through the container variable, pointed at nothing.
    ws.write("runner.yaml", "");
    let mut command = common::runner_command(ws.path());
    let output = command
        .env("HOST_PROC", ws.path().join("no-proc-here"))
        .args(["check", "process", "--json", "--conf-d"])
        .arg(ws.conf_d())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = common::error_of(&report, "sleepers");
    assert!(
        error.contains("no-proc-here"),
        "the error names the proc path: {error}"
    );
}
