//! The README's custom-check walk-through, step by step: build
//! `examples/custom-check` with `cargo build --target wasm32-wasip2
//! --release`, drop the component into `checks.d/`, and run it with the
//! example's own conf.d sample.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Processes, Workspace, series, service_checks, stderr, tags};

#[test]
fn the_example_check_builds_drops_in_and_runs() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/custom-check");
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(&example)
        .args(["build", "--target", "wasm32-wasip2", "--release"]);
    // Flags meant for this test build must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        build.env_remove(var);
    }
    let built = build.output().expect("running cargo");
    assert!(
        built.status.success(),
        "cargo build failed:\n{}",
        stderr(&built)
    );
    let wasm = example.join("target/wasm32-wasip2/release/process_states.wasm");

    let ws = Workspace::new();
    std::fs::copy(&wasm, ws.checks_d().join("process_states.wasm")).unwrap();
    let _sleepers = Processes::sleepers(2);
    let output = common::runner_command(ws.path())
        .args(["check", "process_states", "--json", "--checks-d"])
        .arg(ws.checks_d())
        .arg("--conf-d")
        .arg(example.join("conf.d"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let counts = series(&report, "process_states.count");
    let states: Vec<String> = counts
        .iter()
        .map(|s| {
            let t = tags(s);
            assert!(t.contains(&"example:custom-check".to_string()), "{t:?}");
            t.into_iter().find(|t| t.starts_with("state:")).unwrap()
        })
        .collect();
    assert_eq!(
        states,
        [
            "state:disk_sleep",
            "state:idle",
            "state:running",
            "state:sleeping",
            "state:stopped",
            "state:tracing_stop",
            "state:zombie"
        ]
    );
    let sleeping = counts
        .iter()
        .find(|s| tags(s).contains(&"state:sleeping".to_string()))
        .unwrap()["points"][0][1]
        .as_f64()
        .unwrap();
    assert!(sleeping >= 2.0, "our two sleepers are sleeping: {sleeping}");
    let zombies = service_checks(&report, "process_states.zombies");
    assert_eq!(zombies.len(), 1);
    assert_eq!(tags(zombies[0]), vec!["example:custom-check"]);
}
