//! Checks that misbehave (loop, allocate without bound, flood metrics,
//! flood stdout, panic, recurse) fail their own run with a clear message
//! within their limit, while a well-behaved instance in the same
//! `runner check` succeeds; and plugin files that are not usable checks
//! are refused with an error that names the file.

mod common;

use common::{Workspace, error_of, instance, series, stderr};

#[test]
fn every_misbehaviour_fails_its_own_run_and_the_good_instance_succeeds() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n\
         \x20 - {name: good, mode: ok}\n\
         \x20 - {name: looper, mode: loop, limits: {timeout: 1}}\n\
         \x20 - {name: hog, mode: memory, limits: {memory_mib: 16}}\n\
         \x20 - {name: flood, mode: flood, limits: {max_metrics: 500}}\n\
         \x20 - {name: chatty, mode: stdout, limits: {max_output_kib: 8}}\n\
         \x20 - {name: panicky, mode: panic}\n\
         \x20 - {name: deep, mode: recurse}\n\
         \x20 - {name: failing, mode: error}\n\
         \x20 - {name: rejecting, mode: bad_config}\n",
    );
    let (report, output) = ws.check_json("misbehave", &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed run makes the exit status 1"
    );

    // The good instance is unaffected by its neighbours.
    let good = instance(&report, "good");
    assert_eq!(good["LastError"], "");
    assert_eq!(good["TotalErrors"], 0);
    assert_eq!(series(&report, "misbehave.runs")[0]["points"][0][1], 1.0);

    let looper = error_of(&report, "looper");
    assert_eq!(
        looper,
        "run exceeded its time limit of 1s (limits.timeout) and was interrupted"
    );
    // Interrupted at its limit, not left running: generous bounds, this is
    // about the limit working, not about speed.
    let ms = instance(&report, "looper")["AverageExecutionTime"]
        .as_f64()
        .unwrap();
    assert!((1000.0..5000.0).contains(&ms), "looper ran {ms} ms");

    assert!(
        error_of(&report, "hog")
            .starts_with("run exceeded its memory limit of 16 MiB (limits.memory_mib)"),
        "{}",
        error_of(&report, "hog")
    );
    assert_eq!(
        error_of(&report, "flood"),
        "run submitted more than 500 metric samples (limits.max_metrics) and was stopped"
    );
    // What was submitted before the limit is kept: 1 + 499 samples.
    assert_eq!(series(&report, "misbehave.before_flood").len(), 1);
    assert_eq!(series(&report, "misbehave.flood").len(), 499);
    assert_eq!(
        error_of(&report, "chatty"),
        "run wrote more than 8 KiB to stdout, stderr and its log (limits.max_output_kib) and was stopped"
    );
    let panicky = error_of(&report, "panicky");
    assert!(
        panicky.starts_with("check crashed: panicked: misbehave panicked on purpose (run 1) (at "),
        "{panicky}"
    );
    let deep = error_of(&report, "deep");
    assert!(deep.starts_with("check crashed: "), "{deep}");
    assert_eq!(error_of(&report, "failing"), "mode error fails run 1");
    assert_eq!(
        error_of(&report, "rejecting"),
        "configuration rejected by the check: mode bad_config always fails to configure"
    );
}

#[test]
fn a_trapped_instance_is_rebuilt_while_a_failing_one_keeps_its_state() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n\
         \x20 - {name: panicky, mode: panic}\n\
         \x20 - {name: failing, mode: error}\n\
         \x20 - {name: good, mode: ok}\n",
    );
    let (report, _) = ws.check_json("misbehave", &["--times", "3"]);
    // A panic throws the instance away: every run is a fresh "run 1".
    assert!(error_of(&report, "panicky").contains("(run 1)"));
    assert_eq!(instance(&report, "panicky")["TotalErrors"], 3);
    // An error returned by the check keeps the instance: its third run.
    assert_eq!(error_of(&report, "failing"), "mode error fails run 3");
    // State persists between runs of a healthy instance.
    let points: Vec<f64> = series(&report, "misbehave.runs")[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(points, vec![1.0, 2.0, 3.0]);
}

#[test]
fn files_that_are_not_check_components_are_refused_with_the_reason() {
    let ws = Workspace::new();
    ws.write("checks.d/text.wasm", "this is not wasm\n");
    // A core module (layer 0), not a component.
    ws.write("checks.d/core.wasm", b"\0asm\x01\0\0\0");
    // A valid but empty component: it does not export the check interface.
    ws.write("checks.d/empty.wasm", b"\0asm\x0d\0\x01\0");
    for name in ["text", "core", "empty"] {
        ws.write(&format!("conf.d/{name}.yaml"), "instances:\n  - {}\n");
    }
    let cases = [
        ("text", "not a WebAssembly file (it starts with"),
        ("core", "is a core WebAssembly module, not a component"),
        (
            "empty",
            "does not export the check interface of runner:check/plugin@0.4.0",
        ),
    ];
    for (name, expected) in cases {
        let output = ws.runner(&["check", name]);
        assert_eq!(output.status.code(), Some(1), "{name}");
        let err = stderr(&output);
        let path = ws.checks_d().join(format!("{name}.wasm"));
        assert!(
            err.contains(&format!("{}: {expected}", path.display())),
            "{name}: {err}"
        );
    }
    // configcheck reports all three and fails.
    let output = ws.runner(&["configcheck"]);
    assert_eq!(output.status.code(), Some(1));
    let out = common::stdout(&output);
    for (name, expected) in cases {
        // configcheck output goes through the Agent's scrubber, whose URL
        // credentials rule also masks `runner:check/plugin@`.
        let expected = runner::scrub::scrub_line(expected);
        assert!(
            out.contains(&format!("\n{name}: ")) && out.contains(&expected),
            "{out}"
        );
    }
}

#[test]
fn a_drop_in_file_overrides_the_bundled_check_of_the_same_name() {
    let ws = Workspace::new();
    ws.install_misbehave("process");
    ws.write("conf.d/process.yaml", "instances:\n  - {mode: ok}\n");
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        report[0]["sandbox"]["plugin"],
        ws.checks_d().join("process.wasm").display().to_string()
    );
    assert_eq!(series(&report, "misbehave.runs").len(), 1);
}
