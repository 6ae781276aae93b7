//! A Datadog user's conf.d works unchanged: what the Agent accepts, the
//! runner accepts (warning where it is odd), and the options every Datadog
//! check has (`metric_patterns`, `disable_generic_tags`, ...) work for any
//! check. Run against real processes through the built binary.

mod common;

use common::{Processes, Workspace, series, service_checks, stderr, tags, value};

fn conf(ws: &Workspace, yaml: &str) {
    ws.write("conf.d/process.d/conf.yaml", yaml);
}

/// Metric names of a `--json` report, sorted, without duplicates.
fn metric_names(report: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = common::all_series(report)
        .iter()
        .map(|s| s["metric"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn infinite_thresholds_from_datadogs_example_are_accepted() {
    let procs = Processes::sleepers(3);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "init_config:\ninstances:\n  - name: inf\n    search_string: [{n}]\n    \
             thresholds:\n      warning: [4, .inf]\n      critical: [1, .inf]\n  \
             - name: nan\n    search_string: [{n}]\n    tags: [weight:1]\n    extra: .nan\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let up = service_checks(&report, "process.up");
    assert_eq!(up.len(), 2, "{up:#?}");
    let inf = up
        .iter()
        .find(|sc| tags(sc).contains(&"process:inf".to_string()))
        .unwrap();
    // 3 processes: inside [1, inf] (not critical), below 4 (warning).
    assert_eq!(inf["status"], 1, "{inf}");
    assert!(
        stderr(&output).contains("`.nan`"),
        "a .nan is accepted with a note: {}",
        stderr(&output)
    );
}

#[test]
fn one_bad_instance_never_takes_its_siblings_down() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: broken\n    search_string: [{n}]\n    min_collection_interval: fast\n  \
             - name: good\n    search_string: [{n}]\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    // The broken instance is an error (exit status 1) that names itself...
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("instance #0") && err.contains("min_collection_interval"),
        "{err}"
    );
    assert!(!err.contains("has no configuration"), "{err}");
    // ...and its sibling ran.
    assert_eq!(value(&report, "system.processes.number"), 2.0);
    let up = service_checks(&report, "process.up");
    assert_eq!(up.len(), 1);
    assert!(tags(up[0]).contains(&"process:good".to_string()));
}

#[test]
fn a_file_whose_instances_are_all_invalid_says_so() {
    let ws = Workspace::new();
    conf(&ws, "instances:\n  - name: a\n    tags: env:prod\n");
    let output = ws.runner(&["check", "process"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("key `tags`"), "{err}");
    // Never "no configuration" when the file is there.
    assert!(!err.contains("has no configuration"), "{err}");
    assert!(err.contains("invalid"), "{err}");
}

#[test]
fn string_booleans_read_like_datadogs_is_affirmative() {
    let procs = Processes::tree(2);
    let ws = Workspace::new();
    // `exact_match: "false"` makes the entry a regex over the command line
    // (the shell's script mentions `sleep 600`); `collect_children: "yes"`
    // adds the two `sleep` children.
    conf(
        &ws,
        &format!(
            "instances:\n  - name: tree\n    search_string: ['{n} -c']\n    exact_match: \"false\"\n    \
             collect_children: \"yes\"\n    empty_default_hostname: \"no\"\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(value(&report, "system.processes.number"), 3.0);
    let number = &series(&report, "system.processes.number")[0];
    assert_ne!(
        number["host"], "",
        "empty_default_hostname: \"no\" keeps the host"
    );
    assert!(
        !stderr(&output).contains("Warning"),
        "usual yes/no words give no warning: {}",
        stderr(&output)
    );
}

#[test]
fn zero_or_negative_interval_means_the_default_with_a_warning() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: zero\n    search_string: [{n}]\n    min_collection_interval: 0\n  \
             - name: negative\n    search_string: [{n}]\n    min_collection_interval: -10\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(service_checks(&report, "process.up").len(), 2);
    let err = stderr(&output);
    assert_eq!(
        err.matches("the default (15 s) is used").count(),
        2,
        "{err}"
    );
}

#[test]
fn two_instances_may_share_a_name() {
    let a = Processes::sleepers(1);
    let b = Processes::sleepers(2);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: web\n    search_string: [{}]\n  - name: web\n    search_string: [{}]\n",
            a.name, b.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    // One point per instance (however the report groups them).
    let mut counts: Vec<f64> = series(&report, "system.processes.number")
        .iter()
        .flat_map(|s| s["points"].as_array().unwrap().iter())
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    counts.sort_by(f64::total_cmp);
    assert_eq!(counts, [1.0, 2.0]);
}

#[test]
fn metric_patterns_filter_any_checks_metrics_host_side() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: only-mem\n    search_string: [{n}]\n    metric_patterns:\n      \
             include: ['^system\\.processes\\.(number|mem\\.)']\n      \
             # Python syntax, with a look-ahead: drop mem.* except mem.rss\n      \
             exclude: ['mem\\.(?!rss$)']\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        metric_names(&report),
        ["system.processes.mem.rss", "system.processes.number"]
    );
    assert_eq!(value(&report, "system.processes.number"), 2.0);
    // Service checks are not metrics: untouched.
    assert_eq!(service_checks(&report, "process.up").len(), 1);
}

#[test]
fn disable_generic_tags_renames_them_for_the_check() {
    let procs = Processes::sleepers(1);
    let ws = Workspace::new();
    conf(
        &ws,
        &format!(
            "instances:\n  - name: g\n    search_string: [{n}]\n    disable_generic_tags: true\n    \
             service: billing\n    tags: ['env:prod', 'host:db1', 'team:core']\n",
            n = procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let number = &series(&report, "system.processes.number")[0];
    let t = tags(number);
    for expected in [
        "process_env:prod",
        "process_host:db1",
        "team:core",
        "service:billing",
    ] {
        assert!(t.contains(&expected.to_string()), "{expected} in {t:?}");
    }
    assert!(!t.contains(&"env:prod".to_string()), "{t:?}");
}

#[test]
fn configcheck_accepts_what_the_agent_accepts() {
    let ws = Workspace::new();
    conf(
        &ws,
        "init_config:\n  procfs_path: /proc\ninstances:\n  - name: x\n    search_string: [nothing-here]\n    \
         thresholds: {warning: [2, .inf]}\n    exact_match: \"yes\"\n    min_collection_interval: 0\n    \
         metric_patterns: {include: ['^system\\.']}\n    disable_generic_tags: \"true\"\n",
    );
    let output = ws.runner(&["configcheck", "-v"]);
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        common::stdout(&output),
        stderr(&output)
    );
    let out = common::stdout(&output);
    assert!(!out.contains("unknown key"), "{out}");
}

#[test]
fn init_config_procfs_path_is_honoured() {
    let procs = Processes::sleepers(2);
    let ws = Workspace::new();
    // The host's /proc seen under another path, as in a container.
    let host_proc = ws.path().join("host-proc");
    std::os::unix::fs::symlink("/proc", &host_proc).unwrap();
    conf(
        &ws,
        &format!(
            "init_config:\n  procfs_path: {}\ninstances:\n  - name: s\n    search_string: [{}]\n",
            host_proc.display(),
            procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(value(&report, "system.processes.number"), 2.0);
    assert!(
        stderr(&output).contains("procfs_path"),
        "{}",
        stderr(&output)
    );

    // A path without a proc file system: the run fails naming it.
    let empty = ws.path().join("no-proc");
    std::fs::create_dir(&empty).unwrap();
    conf(
        &ws,
        &format!(
            "init_config:\n  procfs_path: {}\ninstances:\n  - name: s\n    search_string: [{}]\n",
            empty.display(),
            procs.name
        ),
    );
    let (report, output) = ws.check_json("process", &[]);
    assert!(!output.status.success());
    let error = common::runner_stats(&report)[0]["LastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains(&empty.join("stat").display().to_string()),
        "{error}"
    );
}
