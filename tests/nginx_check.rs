//! `runner check nginx` against a real nginx (1.22 on Debian 12) started
//! by the test: the stub_status metrics with Datadog's names, types and
//! tags, rates that match the requests the test made between the two
//! runs, `nginx.can_connect`, the version metadata, basic auth, redirects,
//! and clear CRITICAL messages when nginx is down, the path is wrong or
//! nothing answers in time.
//!
//! nginx missing is a failure, not a skip: CI installs it.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::nginx::{self, NginxServer};
use common::{Workspace, all_series, error_of, instance, runner_command, stderr, tags};
use serde_json::Value;

/// The metrics Datadog's nginx check sends from stub_status, and whether
/// each is a rate (sent from the second run on).
const METRICS: &[(&str, bool)] = &[
    ("nginx.net.connections", false),
    ("nginx.net.conn_opened_per_s", true),
    ("nginx.net.conn_dropped_per_s", true),
    ("nginx.net.request_per_s", true),
    ("nginx.net.reading", false),
    ("nginx.net.writing", false),
    ("nginx.net.waiting", false),
];

fn sorted(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags
}

fn strings(items: &[&str]) -> Vec<String> {
    sorted(items.iter().map(|s| s.to_string()).collect())
}

/// The series of `metric` of the instance named `name`.
fn series_of<'a>(report: &'a Value, name: &str, metric: &str) -> Vec<&'a Value> {
    let index = instance_index(report, name);
    report[index]["aggregator"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["metric"] == metric)
        .collect()
}

/// The service checks `nginx.can_connect` of the instance named `name`.
fn can_connect<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    let index = instance_index(report, name);
    report[index]["aggregator"]["service_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["check"] == "nginx.can_connect")
        .collect()
}

fn instance_index(report: &Value, name: &str) -> usize {
    report
        .as_array()
        .unwrap()
        .iter()
        .position(|i| {
            i["runner"]["CheckID"]
                .as_str()
                .unwrap()
                .contains(&format!(":{name}:"))
        })
        .unwrap_or_else(|| panic!("no instance {name} in {report:#}"))
}

/// The one nginx.can_connect of instance `name`: (status, message, tags).
fn the_service_check(report: &Value, name: &str) -> (u64, String, Vec<String>) {
    let found = can_connect(report, name);
    assert_eq!(found.len(), 1, "instance {name}: {found:#?}");
    (
        found[0]["status"].as_u64().unwrap(),
        found[0]["message"].as_str().unwrap().to_string(),
        sorted(tags(found[0])),
    )
}

/// The nginx metrics instance `name` sent (any name starting `nginx.`).
fn nginx_metrics(report: &Value, name: &str) -> Vec<String> {
    let index = instance_index(report, name);
    report[index]["aggregator"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["metric"].as_str().unwrap().to_string())
        .filter(|m| m.starts_with("nginx."))
        .collect()
}

/// The last value of the one series `metric` of instance `name`.
fn value_of(report: &Value, name: &str, metric: &str) -> f64 {
    let found = series_of(report, name, metric);
    assert_eq!(found.len(), 1, "{metric} of {name}: {found:#?}");
    found[0]["points"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap()
}

/// What `nginx -v` says it is, e.g. `1.22.1`.
fn nginx_version() -> String {
    let output = Command::new(nginx::nginx_binary())
        .arg("-v")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.trim()
        .rsplit_once("nginx/")
        .map(|(_, v)| v.split_whitespace().next().unwrap().to_string())
        .unwrap_or_else(|| panic!("`nginx -v` printed {text:?}"))
}

fn write_conf(ws: &Workspace, instances: &str) {
    ws.write(
        "conf.d/nginx.d/conf.yaml",
        format!("init_config:\ninstances:\n{instances}"),
    );
}

fn check(ws: &Workspace, extra: &[&str]) -> (Value, Output) {
    ws.check_json("nginx", extra)
}

#[test]
fn metrics_rates_tags_service_check_and_version_match_datadog() {
    let server = NginxServer::start();
    let ws = Workspace::new();
    write_conf(
        &ws,
        &format!(
            "  - name: main\n    nginx_status_url: {}\n    tags: [\"env:test\", \"team:web\"]\n",
            server.status_url()
        ),
    );

    // Two runs 2.5 s apart; between them this test makes REQUESTS
    // requests, each on its own connection.
    const REQUESTS: usize = 40;
    let child = runner_command(ws.path())
        .args([
            "check",
            "nginx",
            "--check-rate",
            "--pause",
            "2500",
            "--json",
        ])
        .arg("--conf-d")
        .arg(ws.conf_d())
        .arg("--checks-d")
        .arg(ws.checks_d())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the runner binary");
    assert!(
        server.wait_for_request("/nginx_status", 1, Duration::from_secs(60)),
        "the first run did not read /nginx_status within 60 s; error.log:\n{}",
        server.error_log()
    );
    for _ in 0..REQUESTS {
        assert_eq!(server.get("/hello"), 200);
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(&output)
        )
    });

    // What nginx saw: the two status reads and the requests between them.
    // nginx logs a request after answering it: the runner may be done
    // before the second line is written.
    assert!(
        server.wait_for_request("/nginx_status", 2, Duration::from_secs(5)),
        "nginx did not log the second status read"
    );
    let log = server.access_log();
    let reads: Vec<usize> = (0..log.len())
        .filter(|&i| log[i].uri == "/nginx_status")
        .collect();
    assert_eq!(reads.len(), 2, "two runs, two reads: {log:#?}");
    let between = log[reads[0] + 1..reads[1]]
        .iter()
        .filter(|a| a.uri == "/hello")
        .count();
    assert_eq!(
        between, REQUESTS,
        "all of the test's requests must fall between the two runs (the machine was too slow?)"
    );
    let elapsed = log[reads[1]].at - log[reads[0]].at;
    assert!(elapsed >= 2.4, "runs {elapsed} s apart");

    // Exactly Datadog's seven metrics, no `_count` twins; all sent as
    // gauges (a rate's value is already per second), tagged as Datadog.
    let mut sent = nginx_metrics(&report, "main");
    sent.sort();
    let mut expected: Vec<String> = METRICS.iter().map(|(m, _)| m.to_string()).collect();
    expected.sort();
    assert_eq!(sent, expected);
    let port = format!("port:{}", server.port);
    let metric_tags = strings(&[
        "nginx_host:127.0.0.1",
        &port,
        "env:test",
        "nginx_env:test",
        "team:web",
    ]);
    for s in all_series(&report) {
        assert_eq!(s["type"], "gauge", "{s:#}");
        assert_eq!(sorted(tags(s)), metric_tags, "{s:#}");
    }

    // The rates reflect what happened between the runs: the test's
    // requests plus the second status read itself (nginx counts the
    // request it is answering), each on a new connection.
    let expected_rate = (REQUESTS + 1) as f64 / elapsed;
    for metric in ["nginx.net.request_per_s", "nginx.net.conn_opened_per_s"] {
        let rate = value_of(&report, "main", metric);
        assert!(
            (rate - expected_rate).abs() <= expected_rate * 0.1,
            "{metric} = {rate}, expected about {expected_rate} ({} requests in {elapsed} s)",
            REQUESTS + 1
        );
    }
    assert_eq!(
        value_of(&report, "main", "nginx.net.conn_dropped_per_s"),
        0.0
    );
    // The status read is the connection being written to.
    assert!(value_of(&report, "main", "nginx.net.connections") >= 1.0);
    assert!(value_of(&report, "main", "nginx.net.writing") >= 1.0);
    assert!(value_of(&report, "main", "nginx.net.reading") >= 0.0);
    assert!(value_of(&report, "main", "nginx.net.waiting") >= 0.0);

    // nginx.can_connect: OK, tagged `host:` and `port:` as Datadog, plus
    // the `nginx_host:` twin Datadog's nginx check adds.
    let checks = can_connect(&report, "main");
    assert!(!checks.is_empty());
    for sc in checks {
        assert_eq!(sc["status"], 0, "{sc:#}");
        assert_eq!(
            sorted(tags(sc)),
            strings(&[
                "host:127.0.0.1",
                "nginx_host:127.0.0.1",
                &port,
                "env:test",
                "nginx_env:test",
                "team:web",
            ])
        );
    }

    // The version, from `Server: nginx/1.22.1`.
    let version = nginx_version();
    let inventories = report[0]["inventories"].as_object().unwrap();
    let metadata: BTreeMap<String, String> = inventories
        .values()
        .next()
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no metadata: {report:#}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(metadata.get("version.raw"), Some(&version), "{metadata:?}");
    assert_eq!(
        metadata.get("version.scheme").map(String::as_str),
        Some("semver")
    );
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(
        metadata.get("version.major").map(String::as_str),
        Some(parts[0])
    );
    assert_eq!(
        metadata.get("version.minor").map(String::as_str),
        Some(parts[1])
    );
    assert_eq!(instance(&report, "main")["TotalErrors"], 0);
}

#[test]
fn critical_when_nginx_stops_and_when_the_path_is_wrong() {
    let mut server = NginxServer::start();
    let ws = Workspace::new();
    write_conf(
        &ws,
        &format!(
            "  - name: up\n    nginx_status_url: {}\n  - name: wrong_path\n    nginx_status_url: {}\n",
            server.status_url(),
            server.url("/nope")
        ),
    );
    let (report, output) = check(&ws, &[]);
    // The wrong path fails the run; the good one is fine.
    assert!(!output.status.success());
    let (status, message, _) = the_service_check(&report, "up");
    assert_eq!((status, message.as_str()), (0, ""));
    assert_eq!(instance(&report, "up")["TotalErrors"], 0);
    assert!(nginx_metrics(&report, "up").contains(&"nginx.net.connections".to_string()));

    let (status, message, sc_tags) = the_service_check(&report, "wrong_path");
    assert_eq!(status, 2, "CRITICAL");
    let nope = server.url("/nope");
    assert_eq!(
        message,
        format!(
            "{nope} answered HTTP 404 Not Found (is `nginx_status_url` the path of a \
             `stub_status` location?)"
        )
    );
    let port = format!("port:{}", server.port);
    assert_eq!(
        sc_tags,
        strings(&["host:127.0.0.1", "nginx_host:127.0.0.1", &port])
    );
    assert!(
        nginx_metrics(&report, "wrong_path").is_empty(),
        "no metrics when CRITICAL"
    );
    assert_eq!(error_of(&report, "wrong_path"), message);

    // nginx goes away.
    server.stop();
    let (report, output) = check(&ws, &[]);
    assert!(!output.status.success());
    let (status, message, sc_tags) = the_service_check(&report, "up");
    assert_eq!(status, 2, "CRITICAL");
    let url = server.status_url();
    assert!(
        message.starts_with(&format!("cannot connect to {url}: ")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert_eq!(
        sc_tags,
        strings(&["host:127.0.0.1", "nginx_host:127.0.0.1", &port])
    );
    assert!(
        nginx_metrics(&report, "up").is_empty(),
        "no metrics when CRITICAL"
    );
    assert_eq!(error_of(&report, "up"), message);
}

#[test]
fn basic_auth_works_with_the_right_password_and_is_critical_with_a_wrong_one() {
    let server = NginxServer::start();
    let ws = Workspace::new();
    let url = server.private_status_url();
    let (user, password) = (nginx::USER, nginx::PASSWORD);
    write_conf(
        &ws,
        &format!(
            "  - name: nginx_user_key\n    nginx_status_url: {url}\n    user: {user}\n    password: \"{password}\"\n\
             \x20 - name: username_key\n    nginx_status_url: {url}\n    username: {user}\n    password: \"{password}\"\n\
             \x20 - name: in_url\n    nginx_status_url: http://{user}:{password}@127.0.0.1:{port}/private_status\n\
             \x20 - name: wrong_password\n    nginx_status_url: {url}\n    username: {user}\n    password: wrong\n\
             \x20 - name: no_credentials\n    nginx_status_url: {url}\n",
            port = server.port
        ),
    );
    let (report, output) = check(&ws, &[]);
    assert!(!output.status.success(), "two instances fail");

    for name in ["nginx_user_key", "username_key", "in_url"] {
        let (status, message, _) = the_service_check(&report, name);
        assert_eq!((status, message.as_str()), (0, ""), "{name}");
        assert_eq!(
            nginx_metrics(&report, name).len(),
            4,
            "{name}: gauges only on one run"
        );
        assert_eq!(instance(&report, name)["TotalErrors"], 0, "{name}");
    }

    let (status, message, _) = the_service_check(&report, "wrong_password");
    assert_eq!(status, 2);
    assert_eq!(
        message,
        format!(
            "{url} answered HTTP 401 Unauthorized (the credentials were refused: check \
             `username` and `password`)"
        )
    );
    assert!(nginx_metrics(&report, "wrong_password").is_empty());
    let (status, message, _) = the_service_check(&report, "no_credentials");
    assert_eq!(status, 2);
    assert_eq!(
        message,
        format!(
            "{url} answered HTTP 401 Unauthorized (no credentials were sent: set `username` \
             and `password`)"
        )
    );
    // The password never shows in what the runner prints.
    assert!(!String::from_utf8_lossy(&output.stdout).contains(password));
    assert!(!stderr(&output).contains(password));
}

#[test]
fn redirects_are_followed_and_a_page_that_is_not_stub_status_is_an_error() {
    let server = NginxServer::start();
    let ws = Workspace::new();
    write_conf(
        &ws,
        &format!(
            "  - name: moved\n    nginx_status_url: {}\n\
             \x20 - name: not_followed\n    nginx_status_url: {}\n    allow_redirects: false\n\
             \x20 - name: html\n    nginx_status_url: {}\n",
            server.url("/moved_status"),
            server.url("/moved_status"),
            server.url("/page"),
        ),
    );
    let (report, output) = check(&ws, &[]);
    assert!(!output.status.success());

    let (status, _, _) = the_service_check(&report, "moved");
    assert_eq!(status, 0);
    assert_eq!(nginx_metrics(&report, "moved").len(), 4);

    let (status, message, _) = the_service_check(&report, "not_followed");
    assert_eq!(status, 2);
    assert!(
        message.starts_with(&format!(
            "{} answered HTTP 301 Moved Permanently (a redirect to ",
            server.url("/moved_status")
        )) && message.ends_with("not followed: `allow_redirects` is false)"),
        "{message}"
    );

    // nginx answered: OK; but the page is no stub_status, so the run
    // fails saying so, with no metrics.
    let (status, _, _) = the_service_check(&report, "html");
    assert_eq!(status, 0);
    assert!(nginx_metrics(&report, "html").is_empty());
    assert_eq!(
        error_of(&report, "html"),
        format!(
            "{} is not an nginx stub_status page (no `Active connections:` line); it starts \
             with: <html><body><h1>Welcome to nginx!</h1><p>1 2 3</p></body></html>",
            server.url("/page")
        )
    );
}

#[test]
fn critical_when_nothing_answers_in_time() {
    // Accepts connections (the kernel does) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{port}/nginx_status");
    write_conf(
        &ws,
        &format!("  - name: silent\n    nginx_status_url: {url}\n    timeout: 1\n"),
    );
    let started = std::time::Instant::now();
    let (report, output) = check(&ws, &[]);
    assert!(!output.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the timeout applies"
    );
    let (status, message, _) = the_service_check(&report, "silent");
    assert_eq!(status, 2);
    assert!(
        message.starts_with(&format!("no answer from {url} within 1 s (timeout)")),
        "{message}"
    );
    drop(listener);
}

#[test]
fn disable_generic_tags_leaves_only_the_nginx_prefixed_ones() {
    let server = NginxServer::start();
    let ws = Workspace::new();
    write_conf(
        &ws,
        &format!(
            "  - name: renamed\n    nginx_status_url: {}\n    tags: [\"env:test\"]\n    disable_generic_tags: true\n",
            server.status_url()
        ),
    );
    let (report, output) = check(&ws, &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let port = format!("port:{}", server.port);
    let expected = strings(&["nginx_host:127.0.0.1", &port, "nginx_env:test"]);
    let (status, _, sc_tags) = the_service_check(&report, "renamed");
    assert_eq!(status, 0);
    assert_eq!(sc_tags, expected);
    for s in all_series(&report) {
        assert_eq!(sorted(tags(s)), expected, "{s:#}");
    }
}

#[test]
fn the_plus_api_is_a_configuration_error() {
    let ws = Workspace::new();
    write_conf(
        &ws,
        "  - name: plus\n    nginx_status_url: http://127.0.0.1:9/api\n    use_plus_api: true\n",
    );
    let output = ws.runner(&["check", "nginx"]);
    assert!(!output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        all.contains("the NGINX Plus API is not supported yet"),
        "{all}"
    );
}

#[test]
fn https_verifies_certificates_and_says_tls_verify_false_did_not_apply() {
    let server = NginxServer::start_with_tls();
    let ws = Workspace::new();
    write_conf(
        &ws,
        &format!(
            "  - name: self_signed\n    nginx_status_url: {}\n    tls_verify: false\n\
             \x20 - name: plain_port\n    nginx_status_url: https://127.0.0.1:{}/nginx_status\n",
            server.tls_url("/nginx_status"),
            server.port,
        ),
    );
    let (report, output) = check(&ws, &[]);
    assert!(!output.status.success());
    // The self-signed certificate does not verify: tls_verify: false has
    // no effect yet, and the message says so.
    let (status, message, _) = the_service_check(&report, "self_signed");
    assert_eq!(status, 2);
    let url = server.tls_url("/nginx_status");
    assert!(
        message.starts_with(&format!("TLS handshake with {url} failed: ")),
        "{message}"
    );
    assert!(
        message.ends_with(
            "(`tls_verify: false` is not supported yet: certificates are always verified \
             against the Mozilla root store)"
        ),
        "{message}"
    );
    assert!(nginx_metrics(&report, "self_signed").is_empty());
    // The configuration warning said so up front.
    assert!(
        stderr(&output).contains("`tls_verify: false` is not supported yet and has no effect"),
        "{}",
        stderr(&output)
    );
    // https:// to a plain-HTTP port.
    let (status, message, _) = the_service_check(&report, "plain_port");
    assert_eq!(status, 2);
    assert!(
        message.contains("does the port serve plain HTTP?"),
        "{message}"
    );
}
