//! `runner run` as a daemon: a real Prometheus scrapes `/metrics`,
//! promtool accepts both exposition formats, `runner status` reads the
//! daemon, hot reload (files and SIGHUP) keeps the last good
//! configuration, and the scheduler's guarantees (spread, skip-when-
//! running, a stuck check holding up nobody, the shutdown bound) hold,
//! measured from the runs' own timestamps.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, get, request};
// A loopback port nothing listens on right now.
use common::postgres::free_port;
use common::{Workspace, runner_command};
use serde_json::Value;

fn promtool_accepts(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A Prometheus server scraping `target` every second, stopped on drop.
struct PrometheusServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrometheusServer {
    fn start(target: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
                 scrape_configs:\n  - job_name: runner\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package prometheus)");
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    /// The result vector of an instant query.
    fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            url_escape(promql)
        );
        get(&url, None)
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }

    fn query_until(&self, promql: &str, within: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let result = self.query(promql);
            if !result.is_empty() {
                return result;
            }
            assert!(
                start.elapsed() < within,
                "Prometheus has no {promql} after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const PROCESS_CONF: &str = "instances:\n  - {name: everything, search_string: [All], min_collection_interval: 1, tags: [\"team:core\", \"role:db\", \"role:web\"]}\n";

#[test]
fn prometheus_scrapes_the_checks_and_the_runner_and_promtool_accepts_both_formats() {
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    let daemon = Daemon::start(&ws, &[]);
    daemon.wait_for("a flushed process run", Duration::from_secs(20), |d| {
        d.get("/metrics")
            .is_some_and(|m| m.contains("system_processes_number{"))
    });

    let base = format!("http://127.0.0.1:{}/metrics", daemon.port);
    let text = get(&base, None).unwrap();
    let open = get(&base, Some("application/openmetrics-text; version=1.0.0")).unwrap();
    assert!(
        text.contains("# TYPE runner_check_runs_total counter\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "{text}");
    assert!(
        open.contains("# TYPE runner_check_runs counter\n"),
        "{open}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    let (ok, said) = promtool_accepts(&text);
    assert!(ok, "promtool rejects the text format: {said}\n{text}");
    // promtool 2.42 lints with the text-format parser, which does not know
    // that an OpenMetrics counter family `x` has its samples named
    // `x_total`: it finds no HELP for them. That is its only complaint
    // allowed; Prometheus itself, which scrapes OpenMetrics first, ingests
    // it (below).
    let (_, said) = promtool_accepts(&open);
    for complaint in said.lines().filter(|l| !l.trim().is_empty()) {
        let family = complaint
            .strip_suffix("_total no help text")
            .unwrap_or_else(|| panic!("promtool on OpenMetrics: {complaint}\n{open}"));
        assert!(
            open.contains(&format!("# TYPE {family} counter\n")),
            "promtool on OpenMetrics: {complaint}"
        );
    }
    // Tags are labels; two values of one key are joined.
    let number = text
        .lines()
        .find(|l| l.starts_with("system_processes_number{"))
        .unwrap();
    assert!(number.contains("team=\"core\""), "{number}");
    assert!(number.contains("role=\"db,web\""), "{number}");

    let prometheus = PrometheusServer::start(daemon.port);
    let within = Duration::from_secs(30);
    let up = prometheus.query_until("up{job=\"runner\"} == 1", within);
    assert_eq!(up.len(), 1, "{up:?}");
    let series = prometheus.query_until("system_processes_number{team=\"core\"}", within);
    let labels = &series[0]["metric"];
    assert_eq!(labels["role"], "db,web");
    assert_eq!(labels["job"], "runner");
    let processes: f64 = series[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(processes >= 2.0, "{series:?}");

    let status = prometheus.query_until("runner_check_status{check=\"process\"}", within);
    assert_eq!(status[0]["value"][1], "0", "OK: {status:?}");
    let runs = prometheus.query_until("runner_check_runs_total{check=\"process\"}", within);
    let id = runs[0]["metric"]["instance_id"].as_str().unwrap();
    assert!(id.starts_with("process:everything:"), "{runs:?}");
    let memory = prometheus.query_until("runner_check_sandbox_memory_bytes", within);
    let bytes: f64 = memory[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(bytes > 0.0, "{memory:?}");
}

#[test]
fn runner_status_reads_the_daemon_and_says_when_there_is_none() {
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - {name: failing, mode: error, min_collection_interval: 1}\n",
    );
    ws.write("conf.d/nope.yaml", "instances:\n  - {}\n");
    let daemon = Daemon::start(&ws, &[]);
    daemon.wait_for("two runs each", Duration::from_secs(20), |d| {
        d.runs_of("process:everything:") >= 2 && d.runs_of("misbehave:failing:") >= 2
    });
    let port = daemon.port.to_string();
    let output = runner_command(ws.path())
        .args(["status", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("Running Checks"), "{text}");
    let ok = text
        .lines()
        .find(|l| l.contains("Instance ID: process:everything:"))
        .unwrap();
    assert!(ok.ends_with("[OK]"), "{ok}");
    let failing = text
        .lines()
        .find(|l| l.contains("Instance ID: misbehave:failing:"))
        .unwrap();
    assert!(failing.ends_with("[ERROR]"), "{failing}");
    assert!(text.contains("Error: mode error fails run"), "{text}");
    assert!(
        text.contains(&format!(
            "Configuration Source: file:{}",
            ws.conf_d().join("process.yaml").display()
        )),
        "{text}"
    );
    assert!(text.contains("Metric Samples: Last Run: "), "{text}");
    assert!(text.contains("Average Execution Time : "), "{text}");
    assert!(
        text.contains("Last Successful Execution Date : 20"),
        "{text}"
    );
    assert!(text.contains("Loading Errors"), "{text}");
    assert!(text.contains("no check named `nope`"), "{text}");

    let json = runner_command(ws.path())
        .args(["status", "--json", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let failing = report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check"] == "misbehave")
        .unwrap();
    assert_eq!(failing["state"], "error");
    assert_eq!(failing["total_errors"], failing["total_runs"]);

    // And with nobody listening there.
    drop(daemon);
    let free = free_port();
    let none = runner_command(ws.path())
        .args(["status", "--listen", &format!("127.0.0.1:{free}")])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    let said = String::from_utf8_lossy(&none.stderr);
    assert!(
        said.contains(&format!("no runner daemon answers at 127.0.0.1:{free}")),
        "{said}"
    );
    assert!(said.contains("start it with `runner run`"), "{said}");
}

#[test]
fn hot_reload_adds_a_plugin_and_keeps_the_last_good_config_of_a_broken_file() {
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    std::fs::create_dir_all(ws.checks_d()).unwrap();
    let daemon = Daemon::start(&ws, &[]);
    daemon.wait_for("process runs", Duration::from_secs(20), |d| {
        d.runs_of("process:everything:") >= 1
    });

    // A new plugin and its configuration, while it runs.
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - {name: late, mode: ok, min_collection_interval: 1}\n",
    );
    daemon.wait_for("the new check running", Duration::from_secs(20), |d| {
        d.runs_of("misbehave:late:") >= 2
    });
    daemon.wait_for("its series on /metrics", Duration::from_secs(10), |d| {
        d.get("/metrics")
            .is_some_and(|m| m.contains("misbehave_runs "))
    });

    // A broken edit: the old instance keeps running, the error is shown.
    let before = daemon.runs_of("process:everything:");
    ws.write(
        "conf.d/process.yaml",
        "instances:\n  - {name: everything, search_string: [All]\n",
    );
    daemon.wait_for("the reload error", Duration::from_secs(20), |d| {
        d.status()["reload"]["last_ok"] == false
    });
    let status = daemon.status();
    let error = status["reload"]["last_error"].as_str().unwrap();
    assert!(error.contains("process.yaml"), "{error}");
    assert!(!status["config_errors"].as_array().unwrap().is_empty());
    daemon.wait_for(
        "the old process instance still running",
        Duration::from_secs(10),
        |d| d.runs_of("process:everything:") >= before + 2,
    );
    let metrics = daemon.get("/metrics").unwrap();
    assert!(
        metrics.contains("runner_config_last_reload_successful 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("runner_config_errors{check=\"process\"} 1"),
        "{metrics}"
    );

    // Removing a file stops its instances; their series go.
    std::fs::remove_file(ws.conf_d().join("misbehave.yaml")).unwrap();
    daemon.wait_for("the removed instance gone", Duration::from_secs(20), |d| {
        d.instance("misbehave:late:").is_none()
            && d.get("/metrics")
                .is_some_and(|m| !m.contains("misbehave_runs "))
    });
    let (status, _, stderr) = daemon.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("reloaded (files changed)"), "{stderr}");
}

#[test]
fn sighup_reloads_when_watching_is_off() {
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    let daemon = Daemon::start(&ws, &[("RUNNER_WATCH", "false")]);
    ws.write(
        "conf.d/process.d/conf.yaml",
        "instances:\n  - {name: second, search_string: [All], min_collection_interval: 1}\n",
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(daemon.instance("process:second:").is_none(), "not watching");
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("the reload on SIGHUP", Duration::from_secs(20), |d| {
        d.runs_of("process:second:") >= 1
    });
    assert_eq!(daemon.status()["reload"]["count"], 1);
}

/// `runner run` with JSON lines for `secs`; the lines of every run.
fn run_lines(ws: &Workspace, secs: &str, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let mut command = runner_command(ws.path());
    command
        .args(["run", "--json-lines", "-", "--exit-after", secs, "--conf-d"])
        .arg(ws.conf_d())
        .arg("--checks-d")
        .arg(ws.checks_d());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let lines = BufReader::new(&output.stdout[..])
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    (lines, stderr)
}

fn of<'a>(lines: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["instance"].as_str().unwrap().starts_with(prefix))
        .collect()
}

#[test]
fn a_stuck_check_holds_up_nobody_even_with_one_check_runner() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n\
         \x20 - {name: steady, mode: ok, min_collection_interval: 1}\n\
         \x20 - {name: stuck, mode: loop, min_collection_interval: 1, limits: {timeout: 2.5}}\n",
    );
    let (lines, _) = run_lines(&ws, "6.5", &[("RUNNER_CHECK_RUNNERS", "1")]);

    let steady = of(&lines, "misbehave:steady:");
    assert!(steady.len() >= 5, "steady ran {} times", steady.len());
    let starts: Vec<f64> = steady
        .iter()
        .map(|l| l["timestamp"].as_f64().unwrap())
        .collect();
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.6..=1.4).contains(&gap), "steady's runs {starts:?}");
    }
    for line in &steady {
        assert_eq!(line["status"], "ok");
        let lag = line["lag_ms"].as_f64().unwrap();
        assert!(lag < 400.0, "waited {lag} ms for the one runner: {line}");
    }

    // The stuck one: interrupted at its timeout, the runs due meanwhile
    // skipped and counted, not queued.
    let stuck = of(&lines, "misbehave:stuck:");
    assert!(!stuck.is_empty());
    for line in &stuck {
        assert!(
            line["error"].as_str().unwrap().contains("(limits.timeout)"),
            "{line}"
        );
        assert!(line["skipped"].as_u64().unwrap() >= 2, "{line}");
        let check_status = line["service_checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["check"] == "runner.check_status")
            .unwrap();
        assert_eq!(check_status["status"], 2);
        assert_eq!(check_status["tags"], serde_json::json!(["check:misbehave"]));
    }
    let ok_status = steady[0]["service_checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == "runner.check_status")
        .unwrap()
        .clone();
    assert_eq!(ok_status["status"], 0);
}

/// 40 instances at 2 s: two batches of 20 (by check then ID), starting 1 s
/// apart; the instances of a batch start together.
#[test]
fn instances_sharing_an_interval_are_spread_over_it_in_batches() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    let instances: String = (0..40)
        .map(|i| format!("  - {{name: i{i:02}, mode: ok, min_collection_interval: 2}}\n"))
        .collect();
    ws.write("conf.d/misbehave.yaml", format!("instances:\n{instances}"));
    let (lines, _) = run_lines(&ws, "2.8", &[]);
    let first = |i: usize| {
        of(&lines, &format!("misbehave:i{i:02}:"))[0]["timestamp"]
            .as_f64()
            .unwrap()
    };
    let start = first(0);
    for i in 0..40 {
        let expected = if i < 20 { start } else { start + 1.0 };
        let at = first(i);
        assert!(
            (at - expected).abs() <= 0.25,
            "i{i:02} first ran {:.3} s after i00",
            at - start
        );
    }
}

#[test]
fn shutdown_cancels_runs_still_going_at_the_bound() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - {name: stuck, mode: loop, min_collection_interval: 1, limits: {timeout: 60}}\n",
    );
    let daemon = Daemon::start(&ws, &[("RUNNER_SHUTDOWN_TIMEOUT", "1")]);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, took, stderr) = daemon.stop();
    assert!(status.success(), "{stderr}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "stopped after {took:?}: {stderr}"
    );
    assert!(
        stderr.contains(
            "cancelled 1 run(s) still going after 1s (shutdown_timeout): misbehave:stuck:"
        ),
        "{stderr}"
    );
}

#[test]
fn a_taken_port_is_an_error_naming_the_setting() {
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = runner_command(ws.path())
        .args(["run", "--exit-after", "1", "--conf-d"])
        .arg(ws.conf_d())
        .env("RUNNER_LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!(
            "cannot serve /metrics, /status and the page on 127.0.0.1:{port} (listen)"
        )),
        "{said}"
    );
}

/// Between runs the daemon sleeps: the thread that advances wasmtime's
/// epoch (so deadlines can interrupt a guest) only ticks during calls,
/// instead of waking 100 times a second for nothing.
#[test]
fn an_idle_daemon_does_not_tick() {
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - {name: rare, mode: ok, min_collection_interval: 600}\n",
    );
    let daemon = Daemon::start(&ws, &[]);
    daemon.wait_for("the first run", Duration::from_secs(20), |d| {
        d.runs_of("misbehave:rare:") >= 1
    });
    let ticker = std::fs::read_dir(format!("/proc/{}/task", daemon.child.id()))
        .unwrap()
        .map(|task| task.unwrap().path())
        .find(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|c| c.trim() == "runner-epoch")
        })
        .expect("the runner-epoch thread");
    let wakeups = || {
        let status = std::fs::read_to_string(ticker.join("status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = wakeups();
    std::thread::sleep(Duration::from_secs(2));
    let woke = wakeups() - before;
    // Ticking, it would wake about 200 times in 2 s.
    assert!(
        woke <= 5,
        "the epoch thread woke {woke} times in 2 s of idling"
    );
    daemon.stop();
}

/// Beyond loopback the endpoint shows host details to the network: the
/// daemon will not listen there without an access token, and with one,
/// every request must present it. `runner status` sends it.
#[test]
fn beyond_loopback_the_endpoint_needs_its_access_token() {
    const TOKEN: &str = "test-token-5f1c9a7e2b";
    let ws = Workspace::new();
    ws.write("conf.d/process.yaml", PROCESS_CONF);
    let refused = runner_command(ws.path())
        .args(["run", "--exit-after", "5", "--conf-d"])
        .arg(ws.conf_d())
        .env("RUNNER_LISTEN", "0.0.0.0:0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("on 0.0.0.0:0 (listen) without an access token"),
        "{err}"
    );
    assert!(
        err.contains("set `access_token` in runner.yaml (or RUNNER_ACCESS_TOKEN)"),
        "{err}"
    );

    let daemon = Daemon::start_on(&ws, "0.0.0.0", Some(TOKEN), &[]);
    daemon.wait_for("a run", Duration::from_secs(20), |d| {
        d.runs_of("process:everything:") >= 1
    });
    for path in ["/metrics", "/status", "/"] {
        let url = format!("http://127.0.0.1:{}{path}", daemon.port);
        let (code, body) = request(&url, None, None).unwrap();
        assert_eq!(code, 401, "{path} without the token: {body}");
        let (code, _) = request(&url, None, Some("wrong-token-0123456789")).unwrap();
        assert_eq!(code, 401, "{path} with another token");
        let (code, body) = request(&url, None, Some(TOKEN)).unwrap();
        assert_eq!(code, 200, "{path} with the token: {body}");
    }
    daemon.wait_for("a flushed process run", Duration::from_secs(20), |d| {
        d.get("/metrics")
            .is_some_and(|m| m.contains("system_processes_number{"))
    });

    let status = |token: Option<&str>| {
        let mut command = runner_command(ws.path());
        command.args(["status", "--listen", &format!("127.0.0.1:{}", daemon.port)]);
        if let Some(token) = token {
            command.env("RUNNER_ACCESS_TOKEN", token);
        }
        command.output().unwrap()
    };
    let with = status(Some(TOKEN));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(String::from_utf8_lossy(&with.stdout).contains("process"));
    let without = status(None);
    assert_eq!(without.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("wants an access token"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );

    let configcheck = runner_command(ws.path())
        .args(["configcheck", "-v", "--conf-d"])
        .arg(ws.conf_d())
        .env("RUNNER_ACCESS_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(configcheck.status.success());
    for out in [&configcheck.stdout, &configcheck.stderr] {
        let out = String::from_utf8_lossy(out);
        assert!(!out.contains(TOKEN), "configcheck shows the token: {out}");
    }

    let (_, _, stderr) = daemon.stop();
    assert!(!stderr.contains(TOKEN), "the token was logged: {stderr}");
}
