//! Shared harness for the end-to-end tests: run the built `runner` binary
//! in a temp directory, and spawn real processes that are killed when the
//! test ends, pass or fail.

#![allow(dead_code)] // each test binary uses a different part

pub mod daemon;
pub mod nginx;
pub mod postgres;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

pub mod peers;

/// A scratch directory with `conf.d/` and `checks.d/`, removed on drop.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        std::fs::create_dir_all(dir.path().join("checks.d")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn conf_d(&self) -> PathBuf {
        self.path().join("conf.d")
    }

    pub fn checks_d(&self) -> PathBuf {
        self.path().join("checks.d")
    }

    /// Write a file under the workspace, creating parent folders.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Install the misbehaving test guest as `checks.d/<as_check>.wasm`.
    pub fn install_misbehave(&self, as_check: &str) {
        let target = self.checks_d().join(format!("{as_check}.wasm"));
        std::fs::copy(test_guest("misbehave"), target).unwrap();
    }

    /// Run `runner <args>` with this workspace's conf.d and checks.d.
    pub fn runner(&self, args: &[&str]) -> Output {
        runner_command(self.path())
            .args(args)
            .arg("--conf-d")
            .arg(self.conf_d())
            .arg("--checks-d")
            .arg(self.checks_d())
            .output()
            .expect("running the runner binary")
    }

    /// `runner check <name> --json <extra>`, parsed.
    pub fn check_json(&self, name: &str, extra: &[&str]) -> (Value, Output) {
        let mut args = vec!["check", name, "--json"];
        args.extend_from_slice(extra);
        let output = self.runner(&args);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "runner check {name} did not print JSON ({e}).\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (report, output)
    }
}

/// A `runner` command in `dir`, with the test-wide plugin cache and quiet
/// logs. No runner.yaml is read unless the test writes one into `dir`.
pub fn runner_command(dir: &Path) -> Command {
    runner_command_via(&[], dir)
}

/// As [`runner_command`], run through `wrapper`, a program and its
/// arguments that end by running the runner: e.g. `setpriv` with the
/// options that make it another user (`dir` must be theirs to enter).
/// With a wrapper, the runner run is a copy in `dir`: the checkout may be
/// in a directory other users cannot enter.
pub fn runner_command_via(wrapper: &[&str], dir: &Path) -> Command {
    let built = env!("CARGO_BIN_EXE_runner");
    let copy = dir.join("runner");
    let runner = if wrapper.is_empty() {
        Path::new(built)
    } else {
        if !copy.exists() {
            // A hard link when the file system allows, else a copy; either
            // keeps the binary's 0755 mode.
            std::fs::hard_link(built, &copy)
                .or_else(|_| std::fs::copy(built, &copy).map(drop))
                .expect("placing the runner binary where other users can run it");
        }
        copy.as_path()
    };
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(runner);
            command
        }
        None => Command::new(runner),
    };
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("RUNNER_CACHE_DIR", plugin_cache())
        .stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        // Settings from the environment would change what is tested; the
        // container variables too.
        let container = matches!(name.as_str(), "HOST_PROC" | "HOST_SYS" | "HOST_ETC");
        if container || (name.starts_with("RUNNER_") && name != "RUNNER_CACHE_DIR") {
            command.env_remove(name);
        }
    }
    // Daemons started by tests in parallel must not share a port, and
    // their runs should reach the sinks promptly.
    command
        .env("RUNNER_LISTEN", "127.0.0.1:0")
        .env("RUNNER_FLUSH_INTERVAL", "0.2");
    command
}

/// Compiled plugins are cached here and shared by every test.
pub fn plugin_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

/// The test guests built by host/build.rs.
pub fn test_guest(name: &str) -> PathBuf {
    PathBuf::from(env!("RUNNER_TEST_GUEST_DIR")).join(format!("{name}.wasm"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The instances of a `--json` report: the Datadog Agent's shape, an
/// array with one object per instance (`aggregator`, `runner`,
/// `inventories`, and the runner's own `sandbox`).
pub fn instances(report: &Value) -> &Vec<Value> {
    report
        .as_array()
        .unwrap_or_else(|| panic!("a --json report is an array of instances: {report:#}"))
}

/// Each instance's run statistics (`runner`: the Agent's `CheckID`,
/// `TotalRuns`, `TotalErrors`, `LastError`, `AverageExecutionTime` in ms,
/// ...), in instance order.
pub fn runner_stats(report: &Value) -> Vec<&Value> {
    instances(report).iter().map(|i| &i["runner"]).collect()
}

/// One kind of aggregator output (`metrics`, `service_checks`, `events`)
/// of every instance, flattened.
fn aggregated<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    instances(report)
        .iter()
        .flat_map(|i| i["aggregator"][kind].as_array().into_iter().flatten())
        .collect()
}

/// Every series of a `--json` report, across instances.
pub fn all_series(report: &Value) -> Vec<&Value> {
    aggregated(report, "metrics")
}

/// Series of a `--json` report with this metric name, across instances.
pub fn series<'a>(report: &'a Value, metric: &str) -> Vec<&'a Value> {
    aggregated(report, "metrics")
        .into_iter()
        .filter(|s| s["metric"] == metric)
        .collect()
}

/// The last point's value of the only series with this name.
pub fn value(report: &Value, metric: &str) -> f64 {
    let found = series(report, metric);
    assert_eq!(
        found.len(),
        1,
        "expected one series {metric}, got {found:#?}"
    );
    let points = found[0]["points"].as_array().unwrap();
    points.last().unwrap()[1].as_f64().unwrap()
}

/// Service checks of a `--json` report with this name, across instances.
pub fn service_checks<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    aggregated(report, "service_checks")
        .into_iter()
        .filter(|s| s["check"] == name)
        .collect()
}

pub fn tags(value: &Value) -> Vec<String> {
    value["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// `setpriv` options that run what follows as user `nobody`.
pub const AS_NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// Real processes with a unique name, killed on drop.
pub struct Processes {
    /// What only these processes have: their name, or with
    /// [`Processes::marked_sleepers`] an argument.
    pub name: String,
    pub children: Vec<Child>,
    /// Holds the copy of the binary they run, if any.
    _dir: Option<tempfile::TempDir>,
}

impl Processes {
    /// `count` copies of `sleep 600` whose process name is unique to this
    /// call (a copy of the sleep binary under a fresh name), so checks can
    /// match exactly them.
    pub fn sleepers(count: usize) -> Self {
        Self::spawn("/bin/sleep", &["600"], count)
    }

    /// `count` shells spinning in a busy loop, for CPU metrics.
    pub fn spinners(count: usize) -> Self {
        Self::spawn("/bin/sh", &["-c", "while :; do :; done"], count)
    }

    /// One shell (uniquely named) with `children` `sleep` children, in its
    /// own process group so the whole tree is killed on drop.
    pub fn tree(children: usize) -> Self {
        let script = format!("{}wait", "sleep 600 & ".repeat(children));
        Self::spawn("/bin/sh", &["-c", &script], 1)
    }

    /// `count` plain `sleep`s (about ten minutes) run through `wrapper`
    /// (e.g. [`AS_NOBODY`]), whose one argument (`name`) is unique to this
    /// call: a search word for exactly them. For other users: a copied
    /// binary in a private temp dir is not theirs to run.
    pub fn marked_sleepers(wrapper: &[&str], count: usize) -> Self {
        // Fixed width, so that no marker holds another.
        let name = format!("600.{:07}{:04}", std::process::id(), next_number());
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg("sleep");
                command
            }
            None => Command::new("sleep"),
        };
        command.arg(&name).process_group(0);
        let children = (0..count).map(|_| spawn_retrying(&mut command)).collect();
        Self {
            name,
            children,
            _dir: None,
        }
    }

    /// `count` copies of `binary` (under a fresh unique name) run with
    /// `args`, e.g. a command line that carries a password.
    pub fn with_args(binary: &str, args: &[&str], count: usize) -> Self {
        Self::spawn(binary, args, count)
    }

    fn spawn(binary: &str, args: &[&str], count: usize) -> Self {
        // Process names are at most 15 characters (the kernel's comm).
        let name = format!("rt{}x{}", std::process::id() % 100_000, next_number());
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join(&name);
        std::fs::copy(binary, &exe).unwrap();
        let children = (0..count)
            .map(|_| spawn_retrying(Command::new(&exe).args(args).process_group(0)))
            .collect();
        Self {
            name,
            children,
            _dir: Some(dir),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

/// A number no other call in this test binary gets.
fn next_number() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Spawn, retrying on ETXTBSY: another test thread forking while our copy
/// of the binary was still open for writing makes exec fail briefly.
fn spawn_retrying(command: &mut Command) -> Child {
    command.stdin(Stdio::null()).stdout(Stdio::null());
    for _ in 0..50 {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("spawning a test process: {e}"),
        }
    }
    panic!("spawning a test process: text file busy for 1 s");
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Each child leads its own process group: kill the group, so
            // grandchildren (see `tree`) go too.
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `runner check --json` stats of the instance named `name` (its ID
/// is `<check>:<name>:<hash>`).
pub fn instance<'a>(report: &'a Value, name: &str) -> &'a Value {
    runner_stats(report)
        .into_iter()
        .find(|i| {
            i["CheckID"]
                .as_str()
                .unwrap()
                .contains(&format!(":{name}:"))
        })
        .unwrap_or_else(|| panic!("no instance {name} in {report:#}"))
}

/// The last error of the instance named `name`, which must have failed.
pub fn error_of(report: &Value, name: &str) -> String {
    let error = instance(report, name)["LastError"].as_str().unwrap();
    assert!(!error.is_empty(), "instance {name} did not fail");
    error.to_string()
}
