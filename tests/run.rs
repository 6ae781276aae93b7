//! `runner run`: every instance on its interval, one JSON line per run; a
//! stuck check never holds up the others; SIGTERM stops it cleanly.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{Workspace, stderr};
use serde_json::Value;

fn lines_of(stdout: &[u8], instance_prefix: &str) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("each stdout line is JSON"))
        .filter(|v| v["instance"].as_str().unwrap().starts_with(instance_prefix))
        .collect()
}

#[test]
fn runs_every_instance_on_its_interval_and_a_stuck_one_holds_up_nobody() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n\
         \x20 - {name: steady, mode: ok, min_collection_interval: 1}\n\
         \x20 - {name: stuck, mode: loop, min_collection_interval: 1, limits: {timeout: 0.3}}\n",
    );
    ws.write(
        "conf.d/process.yaml",
        "instances:\n  - {name: everything, search_string: [All], min_collection_interval: 1}\n",
    );
    let output = ws.runner(&["run", "--json-lines", "-", "--exit-after", "2.5"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let steady = lines_of(&output.stdout, "misbehave:steady:");
    assert!(steady.len() >= 2, "steady ran {} times", steady.len());
    let runs: Vec<f64> = steady
        .iter()
        .map(|line| {
            assert_eq!(line["status"], "ok");
            assert_eq!(line["check"], "misbehave");
            line["series"][0]["points"][0][1].as_f64().unwrap()
        })
        .collect();
    // The instance keeps its state between scheduled runs.
    assert_eq!(runs, (1..=runs.len()).map(|r| r as f64).collect::<Vec<_>>());

    let stuck = lines_of(&output.stdout, "misbehave:stuck:");
    assert!(stuck.len() >= 2, "stuck ran {} times", stuck.len());
    for line in &stuck {
        assert_eq!(line["status"], "error");
        assert_eq!(
            line["error"],
            "run exceeded its time limit of 300ms (limits.timeout) and was interrupted"
        );
    }

    let process = lines_of(&output.stdout, "process:everything:");
    assert!(!process.is_empty());
    let number = process[0]["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "system.processes.number")
        .expect("system.processes.number");
    assert!(number["points"][0][1].as_f64().unwrap() >= 2.0);
}

#[test]
fn sigterm_stops_it_cleanly() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.yaml",
        "instances:\n  - {name: everything, search_string: [All], min_collection_interval: 1}\n",
    );
    let mut child = common::runner_command(ws.path())
        .args(["run", "--json-lines", "-", "--conf-d"])
        .arg(ws.conf_d())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first run's line, then ask it to stop.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.contains("\"instance\":\"process:everything:"),
        "{first}"
    );
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn nothing_valid_to_run_is_an_error() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.yaml",
        "instances:\n  - {name: x, pid: not-a-number}\n",
    );
    let output = ws.runner(&["run", "--json-lines", "-", "--exit-after", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no valid check instance to run"),
        "{}",
        stderr(&output)
    );
}

/// With nothing in conf.d the daemon runs the built-in default and says so.
#[test]
fn an_empty_conf_d_runs_the_built_in_default() {
    let ws = Workspace::new();
    let output = ws.runner(&["run", "--json-lines", "-", "--exit-after", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "has no check configuration: running the built-in default, \
             connections (runner), process (all, runner)"
        ),
        "{}",
        stderr(&output)
    );
    // Three instances spread over 15 s: the first starts at once.
    let lines = lines_of(&output.stdout, "connections:runner:");
    assert_eq!(
        lines.len(),
        1,
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(lines[0]["status"], "ok");
}
