//! The bundled `process` check against Datadog's `process` integration:
//! every option of its conf.yaml.example filled in (with `.inf`, string
//! booleans and `metric_patterns` as Datadog users write them), run on
//! real processes,
//! with the numbers, tags, statuses and messages Datadog's process.py
//! sends. Memory is compared with what this test reads from
//! `/proc/<pid>/statm` itself, as psutil does.
//!
//! Runs as root: one process is started as the `nobody` user.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Processes, Workspace, series, service_checks, stderr, stdout, tags};
use serde_json::Value;

/// A `sleep 600` running as nobody (uid/gid 65534) under a unique name,
/// killed on drop.
struct NobodySleeper {
    name: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl NobodySleeper {
    fn spawn() -> Self {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "these tests start a process as nobody: run them as root"
        );
        let name = format!("rtn{}", std::process::id() % 100_000);
        let dir = tempfile::tempdir().unwrap();
        // nobody must be able to reach and run the copy.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.path().join(&name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        let mut command = Command::new(&exe);
        command
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawning a process as nobody");
        Self {
            name,
            child,
            _dir: dir,
        }
    }
}

impl Drop for NobodySleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/proc/<pid>/statm` in bytes: size, resident, shared.
fn statm(pid: u32) -> [f64; 3] {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    let pages: Vec<f64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    [pages[0] * page, pages[1] * page, pages[2] * page]
}

fn mem_total() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024.0
}

/// The last value of `metric` for the instance named `name`, if sent.
fn metric(report: &Value, metric: &str, name: &str) -> Option<f64> {
    let tag = format!("process_name:{name}");
    let found: Vec<&Value> = series(report, metric)
        .into_iter()
        .filter(|s| tags(s).contains(&tag))
        .collect();
    assert!(found.len() <= 1, "{metric} of {name}: {found:#?}");
    found.first().map(|s| {
        s["points"].as_array().unwrap().last().unwrap()[1]
            .as_f64()
            .unwrap()
    })
}

/// Tags, status and message of the `process.up` of instance `name`.
fn up(report: &Value, name: &str) -> (Vec<String>, u64, String) {
    let tag = format!("process:{name}");
    let found: Vec<&Value> = service_checks(report, "process.up")
        .into_iter()
        .filter(|sc| tags(sc).contains(&tag))
        .collect();
    assert_eq!(found.len(), 1, "process.up of {name}: {found:#?}");
    (
        tags(found[0]),
        found[0]["status"].as_u64().unwrap(),
        found[0]["message"].as_str().unwrap().to_string(),
    )
}

/// Within `pages` pages per process of `expected` (a sleeping process
/// may still touch a page).
fn assert_close(what: &str, got: f64, expected: f64, processes: f64) {
    let slack = 2.0 * 4096.0 * processes;
    assert!(
        (got - expected).abs() <= slack,
        "{what}: got {got}, /proc says {expected}"
    );
}

#[test]
fn every_datadog_option_gives_datadogs_numbers_tags_and_messages() {
    let sleepers = Processes::sleepers(2);
    let tree = Processes::tree(2);
    let nobody = NobodySleeper::spawn();
    let ws = Workspace::new();
    let pid_file = ws.write("tree.pid", format!("{}\n", tree.pids()[0]));
    let s = &sleepers.name;
    let yaml = format!(
        "init_config:
  pid_cache_duration: 120
  access_denied_cache_duration: 120
  shared_process_list_cache_duration: 120
  reset_cache_on_process_changes: true
  service: billing
instances:
  - name: sleepers
    search_string: [{s}]
    exact_match: \"yes\"
    ignore_denied_access: \"true\"
    thresholds:
      warning: [1, 3]
      critical: [1, .inf]
    collect_children: false
    user: root
    try_sudo: false
    pid_cache_duration: 120
    use_oneshot: true
    tags: [env:test]
    service: payments
    min_collection_interval: 15
    empty_default_hostname: false
    disable_generic_tags: false
  - name: tree
    pid_file: {pid_file}
    collect_children: true
    metric_patterns:
      exclude: ['mem\\.(?!rss$)']
  - name: nobody-only
    search_string: [{n}, {s}]
    user: nobody
  - name: lookaround
    search_string: ['{s} (?=600$)', '(?<=/){n} ']
    exact_match: false
    ignore_denied_access: false
  - name: init-strict
    pid: 1
    ignore_denied_access: false
  - name: every
    search_string: [All]
  - name: search-and-pid
    search_string: [{s}]
    pid: 1
  - name: inverted
    search_string: [{s}]
    thresholds:
      critical: [5, 2]
  - name: missing-pid-file
    pid_file: /nonexistent/app.pid
",
        pid_file = pid_file.display(),
        n = nobody.name,
    );
    ws.write("conf.d/process.d/conf.yaml", &yaml);

    // The shell of the tree starts its children right after it starts.
    let mut report = Value::Null;
    for _ in 0..50 {
        let (r, output) = ws.check_json("process", &[]);
        assert!(output.status.success(), "stderr: {}", stderr(&output));
        report = r;
        if metric(&report, "system.processes.number", "tree") == Some(3.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Counts, statuses and Datadog's messages (none when OK).
    let number = |name: &str| metric(&report, "system.processes.number", name);
    assert_eq!(number("sleepers"), Some(2.0));
    assert_eq!(number("tree"), Some(3.0));
    assert_eq!(number("nobody-only"), Some(1.0));
    assert_eq!(number("lookaround"), Some(3.0));
    assert_eq!(number("init-strict"), Some(1.0));
    assert!(number("every").unwrap() >= 6.0);
    assert_eq!(number("search-and-pid"), Some(2.0));
    assert_eq!(number("missing-pid-file"), Some(0.0));
    let status = |name: &str| {
        let (_, status, message) = up(&report, name);
        (status, message)
    };
    for name in [
        "sleepers",
        "tree",
        "nobody-only",
        "lookaround",
        "init-strict",
        "every",
        "search-and-pid",
    ] {
        assert_eq!(status(name), (0, String::new()), "{name}");
    }
    assert_eq!(
        status("inverted"),
        (2, "PROCS CRITICAL: 2 processes found for inverted".into())
    );
    assert_eq!(
        status("missing-pid-file"),
        (
            2,
            "PROCS CRITICAL: 0 processes found for missing-pid-file".into()
        )
    );
    // `metric_patterns` (Python syntax, look-ahead) dropped the tree's
    // memory metrics but rss.
    assert!(metric(&report, "system.processes.mem.rss", "tree").is_some());
    assert_eq!(metric(&report, "system.processes.mem.real", "tree"), None);
    assert_eq!(metric(&report, "system.processes.mem.vms", "tree"), None);
    assert!(metric(&report, "system.processes.mem.real", "sleepers").is_some());
    // Nothing but the count for no process.
    assert_eq!(
        metric(&report, "system.processes.mem.rss", "missing-pid-file"),
        None
    );

    // Tags: process.py's `process_name:<name>` and bare `<name>`, the
    // instance's tags and service once each; `process:<name>` on process.up.
    let number_series: Vec<&Value> = series(&report, "system.processes.number")
        .into_iter()
        .filter(|s| tags(s).contains(&"process_name:sleepers".to_string()))
        .collect();
    assert_eq!(
        tags(number_series[0]),
        [
            "env:test",
            "process_name:sleepers",
            "service:payments",
            "sleepers"
        ]
    );
    assert_eq!(
        up(&report, "sleepers").0,
        [
            "env:test",
            "process:sleepers",
            "process_name:sleepers",
            "service:payments",
            "sleepers"
        ]
    );
    assert_eq!(
        up(&report, "tree").0,
        [
            "process:tree",
            "process_name:tree",
            "service:billing",
            "tree"
        ]
    );

    // Memory as psutil reads it, from statm.
    let total = mem_total();
    let (mut vms, mut rss, mut real, mut pct) = (0.0, 0.0, 0.0, 0.0);
    for pid in sleepers.pids() {
        let [size, resident, shared] = statm(pid);
        vms += size;
        rss += resident;
        real += resident - shared;
        pct += resident / total * 100.0;
    }
    let mem = |name: &str| metric(&report, name, "sleepers").unwrap();
    assert_eq!(mem("system.processes.mem.vms"), vms);
    assert_close("mem.rss", mem("system.processes.mem.rss"), rss, 2.0);
    assert_close("mem.real", mem("system.processes.mem.real"), real, 2.0);
    assert!(mem("system.processes.mem.real") > 0.0);
    let got_pct = mem("system.processes.mem.pct");
    assert!(
        (got_pct - pct).abs() <= 2.0 * 2.0 * 4096.0 / total * 100.0,
        "mem.pct {got_pct} vs {pct}"
    );
    // The nobody process, read by root: its fields are all there.
    let [_, resident, _] = statm(nobody.child.id());
    assert_close(
        "nobody mem.rss",
        metric(&report, "system.processes.mem.rss", "nobody-only").unwrap(),
        resident,
        1.0,
    );
    assert!(
        metric(
            &report,
            "system.processes.open_file_descriptors",
            "nobody-only"
        )
        .is_some()
    );
    // pid 1's I/O counters are refused even to root: left out, no failure.
    assert!(metric(&report, "system.processes.threads", "init-strict").is_some());
}

#[test]
fn configure_warnings_reach_configcheck_and_check() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.d/conf.yaml",
        "instances:
  - name: every
    search_string: [All]
  - name: both
    search_string: [sshd]
    pid: 1
    pid_file: /run/x.pid
  - name: inverted
    pid: 1
    thresholds:
      warning: [4, 2]
",
    );
    let output = ws.runner(&["configcheck", "-v"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{}", stderr(&output));
    let warnings = out
        .split("=== Resolve warnings ===")
        .nth(1)
        .and_then(|rest| rest.split("\n=== ").next())
        .unwrap_or_else(|| panic!("no warnings section:\n{out}"));
    for expected in [
        "instance #0: the check warns: Deprecated: \
         Having \"All\" in your search_string will greatly reduce the performance of the \
         check and will be removed in a future version of the agent.",
        "instance #1: the check warns: `pid` and \
         `pid_file` set together with `search_string`: only `search_string` is used",
        "instance #2: the check warns: \
         `thresholds.warning` is [4, 2]: low > high, so every process count is outside it \
         and `process.up` is never better than WARNING",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected}\nnot in:\n{warnings}"
        );
    }

    // `runner check` shows them on stderr, and runs every instance.
    let (report, output) = ws.check_json("process", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("Deprecated: Having \"All\" in your search_string"),
        "{err}"
    );
    assert!(err.contains("`thresholds.warning` is [4, 2]"), "{err}");
    assert_eq!(
        up(&report, "inverted").1,
        1,
        "warning [4, 2] holds no count: WARNING"
    );
}

#[test]
fn an_invalid_python_regex_is_a_configuration_error() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/process.d/conf.yaml",
        "instances:\n  - {name: bad, search_string: ['(?<=x'], exact_match: false}\n",
    );
    let output = ws.runner(&["configcheck"]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(
        out.contains(
            "instance #0: configuration rejected by the check: `search_string` entry \
             `(?<=x` is not a valid regular expression (exact_match is false): "
        ),
        "{out}"
    );
}
