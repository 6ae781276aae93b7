//! Datadog custom checks written in Python (`checks.d/<name>.py`), run by
//! the bundled Python runtime in the same sandbox as every other check.
//! The checks are in `tests/python/`.

mod common;

use common::nginx::{NginxServer, PASSWORD, USER};
use common::*;
use serde_json::Value;

/// Install `tests/python/<file>` as `checks.d/<check>.py`.
fn install(ws: &Workspace, check: &str, source: &str) {
    ws.write(&format!("checks.d/{check}.py"), source);
}

/// Datadog's hello world and its configuration, as `examples/python` has
/// them (copied verbatim from Datadog's docs).
fn install_hello(ws: &Workspace) {
    install(
        ws,
        "hello",
        include_str!("../examples/python/checks.d/hello.py"),
    );
    ws.write(
        "conf.d/hello.yaml",
        include_str!("../examples/python/conf.d/hello.yaml"),
    );
}

/// The only series named `metric` whose tags include `tag`.
fn series_tagged<'a>(report: &'a Value, metric: &str, tag: &str) -> &'a Value {
    let found: Vec<&Value> = series(report, metric)
        .into_iter()
        .filter(|s| tags(s).iter().any(|t| t == tag))
        .collect();
    assert_eq!(found.len(), 1, "{metric} tagged {tag}: {found:#?}");
    found[0]
}

fn last_point(series: &Value) -> f64 {
    series["points"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap()
}

#[test]
fn datadogs_hello_world_runs_verbatim() {
    let ws = Workspace::new();
    // Datadog's documented custom check and its configuration, as the
    // docs give them (checks.d/hello.py, conf.d/hello.yaml).
    install_hello(&ws);
    let (report, output) = ws.check_json("hello", &[]);
    assert!(output.status.success(), "{}", stderr(&output));

    let hello = series(&report, "hello.world");
    assert_eq!(hello.len(), 1, "{report:#}");
    assert_eq!(hello[0]["type"], "gauge");
    assert_eq!(hello[0]["points"][0][1], 1.0);
    assert_eq!(tags(hello[0]), ["TAG_KEY:TAG_VALUE"]);
    assert_eq!(hello[0]["source_type_name"], "System");
    assert_eq!(all_series(&report).len(), 1, "{report:#}");

    let stats = runner_stats(&report);
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["CheckName"], "hello");
    // `__version__` is the check's version, as in the Agent's status.
    assert_eq!(stats[0]["CheckVersion"], "1.0.0");
    assert_eq!(stats[0]["CheckLoader"], "python");
    assert_eq!(stats[0]["LastError"], "");
    assert!(
        stats[0]["CheckID"].as_str().unwrap().starts_with("hello:"),
        "{}",
        stats[0]["CheckID"]
    );
}

#[test]
fn instance_tags_are_not_doubled_and_the_legacy_import_path_works() {
    let ws = Workspace::new();
    install(
        &ws,
        "hello",
        include_str!("../examples/python/checks.d/hello.py"),
    );
    // The check adds the instance's tags itself, and so does the runner:
    // each tag is sent once.
    ws.write(
        "conf.d/hello.yaml",
        "instances:\n  - tags: [\"team:core\", \"env:test\"]\n",
    );
    // Agent 5's `from checks import AgentCheck`.
    install(&ws, "hello_agent5", include_str!("python/hello_agent5.py"));
    ws.write(
        "conf.d/hello_agent5.yaml",
        "init_config:\n\ninstances:\n    [{}]\n",
    );

    let (report, output) = ws.check_json("hello", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut got = tags(series(&report, "hello.world")[0]);
    got.sort();
    assert_eq!(got, ["TAG_KEY:TAG_VALUE", "env:test", "team:core"]);

    let (report, output) = ws.check_json("hello_agent5", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(value(&report, "hello.world"), 1.0);
    assert_eq!(runner_stats(&report)[0]["CheckVersion"], "");
}

#[test]
fn every_agent_check_method_submits_what_the_agent_would() {
    let ws = Workspace::new();
    install(&ws, "everything", include_str!("python/everything.py"));
    ws.write(
        "conf.d/everything.yaml",
        "init_config:\n  factor: 3\ninstances:\n  - name: main\n    tags: [\"team:core\"]\n",
    );
    // Two runs, 1 s apart: rates and monotonic counts come from the second.
    let (report, output) = ws.check_json("everything", &["--check-rate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("unknown key"),
        "a Python check's keys are its own business: {}",
        stderr(&output)
    );
    let stats = runner_stats(&report);
    assert_eq!(stats[0]["TotalRuns"], 2);
    assert_eq!(stats[0]["LastError"], "");
    let check_id = stats[0]["CheckID"].as_str().unwrap();

    // gauge: namespace, device_name, self.name, self.check_id, init_config.
    let gauge = series(&report, "everything.gauge");
    assert_eq!(gauge.len(), 1);
    assert_eq!(last_point(gauge[0]), 42.5);
    let mut got = tags(gauge[0]);
    got.sort();
    assert_eq!(
        got,
        [
            format!("check_id:{check_id}"),
            "check_name:everything".to_string(),
            "device:sda".to_string(),
            "factor:3".to_string(),
            "kind:gauge".to_string(),
            "team:core".to_string(),
        ]
    );
    assert_eq!(
        series(&report, "everything.other_host")[0]["host"],
        "db-1.example"
    );
    // raw=True: no namespace.
    assert_eq!(value(&report, "raw.gauge"), 7.0);
    assert!(series(&report, "everything.raw.gauge").is_empty());

    // count: 2 + 3 in each run.
    let count = series(&report, "everything.count")[0];
    assert_eq!(count["type"], "count");
    assert_eq!(last_point(count), 5.0);
    // monotonic_count: 10, then 25: the increase.
    let monotonic = series(&report, "everything.monotonic")[0];
    assert_eq!(monotonic["type"], "count");
    assert_eq!(monotonic["points"].as_array().unwrap().len(), 1);
    assert_eq!(last_point(monotonic), 15.0);
    // rate: 100, then 200, about a second apart.
    let rate = series(&report, "everything.rate")[0];
    assert_eq!(rate["type"], "gauge");
    assert_eq!(rate["points"].as_array().unwrap().len(), 1);
    let per_second = last_point(rate);
    assert!((50.0..=101.0).contains(&per_second), "{per_second}");
    // histogram: 1..=5 in each run.
    assert_eq!(value(&report, "everything.histogram.max"), 5.0);
    assert_eq!(value(&report, "everything.histogram.median"), 3.0);
    assert_eq!(value(&report, "everything.histogram.avg"), 3.0);
    assert_eq!(value(&report, "everything.histogram.95percentile"), 5.0);
    // historate: 1000, then 2000: one rate of about 1000/s.
    let historate = value(&report, "everything.historate.max");
    assert!((500.0..=1001.0).contains(&historate), "{historate}");
    assert_eq!(
        series(&report, "everything.historate.max")[0]["points"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(last_point(series(&report, "everything.increment")[0]), 1.0);
    // A value that is not a number is skipped with the Agent's warning.
    assert!(series(&report, "everything.not_a_number").is_empty());
    let warnings: Vec<&str> = stats[0]["LastWarnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        [
            "Metric: 'not_a_number' has non float value: 'abc'. Only float values can be submitted as metrics.",
            "run 2: careful"
        ]
    );

    // Service checks.
    let critical = service_checks(&report, "everything.can_connect");
    assert_eq!(critical.len(), 2);
    assert_eq!(critical[1]["status"], 2);
    assert_eq!(critical[1]["message"], "refused on port 1");
    assert_eq!(tags(critical[1]), ["port:1", "team:core"]);
    assert_eq!(service_checks(&report, "everything.ok")[1]["status"], 0);

    // Events, one per run.
    let events = instances(&report)[0]["aggregator"]["events"]
        .as_array()
        .unwrap();
    assert_eq!(events.len(), 2);
    let event = &events[1];
    assert_eq!(event["msg_title"], "Something happened");
    assert_eq!(event["msg_text"], "It happened on run 2");
    assert_eq!(event["timestamp"], 1_700_000_000);
    assert_eq!(event["alert_type"], "error");
    assert_eq!(event["priority"], "low");
    assert_eq!(event["aggregation_key"], "everything-1");
    assert_eq!(event["host"], "db-1.example");
    assert_eq!(tags(event), ["source:everything", "team:core"]);

    // Metadata: the version split as the Agent's semver transformer does.
    let metadata = &instances(&report)[0]["inventories"][check_id];
    for (key, expected) in [
        ("version.raw", "1.2.3-rc.1+build.5"),
        ("version.scheme", "semver"),
        ("version.major", "1"),
        ("version.minor", "2"),
        ("version.patch", "3"),
        ("version.release", "rc.1"),
        ("version.build", "build.5"),
        ("flavor", "42"),
    ] {
        assert_eq!(metadata[key], expected, "{key} in {metadata:#}");
    }
}

#[test]
fn self_http_reaches_the_granted_url_only() {
    let nginx = NginxServer::start();
    let ws = Workspace::new();
    install(&ws, "http_status", include_str!("python/http_status.py"));
    // A port nothing granted: the TLS-less port plus one.
    let other = format!("http://127.0.0.1:{}/nginx_status", nginx.port + 1);
    ws.write(
        "conf.d/http_status.yaml",
        format!(
            "instances:\n  - url: {url}\n    private_url: {private}\n    user: {USER}\n    \
             password: {PASSWORD}\n    other_url: {other}\n    \
             headers: {{Host: elsewhere.example, Connection: close, User-Agent: runner-test}}\n",
            url = nginx.status_url(),
            private = nginx.private_status_url(),
        ),
    );
    let (report, output) = ws.check_json("http_status", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(runner_stats(&report)[0]["LastError"], "", "{report:#}");

    // stub_status counts the check's own connection.
    let active = last_point(series_tagged(
        &report,
        "http_status.active",
        "via:self.http",
    ));
    assert!(active >= 1.0, "{active}");
    let code = |via: &str| last_point(series_tagged(&report, "http_status.code", via));
    assert_eq!(code("via:self.http"), 200.0);
    assert_eq!(code("via:requests"), 200.0);
    assert_eq!(code("via:requests-anonymous"), 401.0);

    // The other port is denied by the runner, before any connection.
    let other_check = service_checks(&report, "http_status.other");
    assert_eq!(other_check[0]["status"], 2, "{other_check:#?}");
    let message = other_check[0]["message"].as_str().unwrap();
    assert!(
        message.contains("denied") && message.contains(&other),
        "{message}"
    );
    let denied = &instances(&report)[0]["sandbox"]["network_denied"];
    assert_eq!(denied["count"], 1, "{denied:#}");

    let uris: Vec<String> = nginx.access_log().into_iter().map(|a| a.uri).collect();
    assert_eq!(
        uris,
        ["/nginx_status", "/private_status", "/private_status"],
        "what nginx served"
    );
}

#[test]
fn hostile_python_checks_fail_alone() {
    let ws = Workspace::new();
    install(&ws, "hostile", include_str!("python/hostile.py"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut conf = String::from("instances:\n");
    for mode in [
        "spin",
        "memory",
        "passwd",
        "subprocess",
        "socket",
        "recursion",
        "abort",
        "ok",
    ] {
        conf.push_str(&format!(
            "  - name: {mode}\n    mode: {mode}\n    port: {port}\n    limits: {{timeout: 3}}\n"
        ));
    }
    ws.write("conf.d/hostile.yaml", conf);
    let (report, _output) = ws.check_json("hostile", &[]);
    let file = ws.checks_d().join("hostile.py").display().to_string();

    assert_eq!(
        error_of(&report, "spin"),
        "run exceeded its time limit of 3s (limits.timeout) and was interrupted"
    );
    let memory = error_of(&report, "memory");
    assert!(
        memory.starts_with("run exceeded its memory limit of 64 MiB (limits.memory_mib)"),
        "{memory}"
    );
    assert_eq!(
        error_of(&report, "passwd"),
        format!(
            "FileNotFoundError: [Errno 44] No such file or directory: '/etc/passwd' \
             ({file}:18, in check)"
        )
    );
    assert_eq!(
        error_of(&report, "subprocess"),
        format!("OSError: [Errno 58] wasi does not support processes. ({file}:23, in check)")
    );
    assert_eq!(
        error_of(&report, "socket"),
        format!("PermissionError: [Errno 2] Permission denied ({file}:27, in check)")
    );
    let socket = report
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["runner"]["CheckID"]
                .as_str()
                .unwrap()
                .contains(":socket:")
        })
        .unwrap();
    assert_eq!(
        socket["sandbox"]["network_denied"]["targets"][0],
        format!("TCP connect 127.0.0.1:{port}")
    );
    assert_eq!(
        error_of(&report, "recursion"),
        format!("RecursionError: maximum recursion depth exceeded ({file}:30, in down)")
    );
    assert_eq!(
        error_of(&report, "abort"),
        "check crashed: wasm trap: wasm `unreachable` instruction executed; \
         it last wrote: giving up now"
    );

    // The healthy instance beside them ran.
    assert_eq!(instance(&report, "ok")["LastError"], "");
    assert_eq!(value(&report, "hostile.healthy"), 1.0);
    drop(listener);
}

#[test]
fn errors_name_the_file_the_line_and_the_cause() {
    let ws = Workspace::new();
    install(
        &ws,
        "broken_syntax",
        include_str!("python/broken_syntax.py"),
    );
    install(
        &ws,
        "missing_module",
        include_str!("python/missing_module.py"),
    );
    install(&ws, "failing", include_str!("python/failing.py"));
    ws.write("conf.d/broken_syntax.yaml", "instances: [{}]\n");
    ws.write("conf.d/missing_module.yaml", "instances: [{}]\n");
    ws.write(
        "conf.d/failing.yaml",
        "instances:\n  - name: no-divisor\n  - name: zero\n    divisor: 0\n",
    );

    let file = |name: &str| ws.checks_d().join(name).display().to_string();
    // configcheck loads every check: syntax errors and missing modules are
    // configuration errors naming the file and line.
    let output = ws.runner(&["configcheck"]);
    assert!(!output.status.success());
    let text = stdout(&output);
    let syntax = file("broken_syntax.py");
    assert!(
        text.contains(&format!(
            "broken_syntax: {}: {syntax}: \
             SyntaxError: expected ':' ({syntax}:5)",
            ws.conf_d().join("broken_syntax.yaml").display()
        )),
        "{text}"
    );
    let missing = file("missing_module.py");
    assert!(
        text.contains(&format!(
            "missing_module: {}: {missing}: \
             importing the check failed: ModuleNotFoundError: No module named 'yaml': \
             `yaml` is not in the runner's Python runtime (docs/python-checks.md lists \
             the modules it has) ({missing}:2, in <module>)",
            ws.conf_d().join("missing_module.yaml").display()
        )),
        "{text}"
    );
    // An exception in __init__ is the instance's configuration error.
    assert!(
        text.contains(&format!(
            "configuration rejected by the check: creating the check failed: \
             ConfigurationError: divisor is required ({}:8, in __init__)",
            file("failing.py")
        )),
        "{text}"
    );

    // An exception in check() fails the run, naming the check's own line;
    // what it submitted before is kept.
    let (report, _) = ws.check_json("failing", &[]);
    assert_eq!(
        error_of(&report, "zero"),
        format!(
            "ZeroDivisionError: division by zero ({}:16, in ratio)",
            file("failing.py")
        )
    );
    assert_eq!(value(&report, "failing.before_error"), 3.0);
}

#[test]
fn configcheck_shows_the_python_runtime() {
    let ws = Workspace::new();
    install_hello(&ws);
    let output = ws.runner(&["configcheck", "-v"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let plugin = format!(
        "Plugin: {} (hello 1.0.0, sha256:",
        ws.checks_d().join("hello.py").display()
    );
    assert!(text.contains(&plugin), "{text}");
    assert!(
        text.contains("Runtime: CPython 3.14.0 (componentize-py 0.25.1) (bundled)"),
        "{text}"
    );
}

#[test]
fn sockets_reach_the_granted_endpoint_by_name() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Answers one connection with "pong\n".
    let server = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let (mut stream, _) = listener.accept().unwrap();
        let mut line = [0u8; 5];
        stream.read_exact(&mut line).unwrap();
        stream.write_all(b"pong\n").unwrap();
        line
    });
    let ws = Workspace::new();
    install(&ws, "tcp_probe", include_str!("python/tcp_probe.py"));
    // `localhost` is resolved by the runner, which grants host + port.
    ws.write(
        "conf.d/tcp_probe.yaml",
        format!("instances:\n  - host: localhost\n    port: {port}\n"),
    );
    let (report, output) = ws.check_json("tcp_probe", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(runner_stats(&report)[0]["LastError"], "", "{report:#}");
    let reply = series(&report, "tcp_probe.reply_bytes");
    assert_eq!(last_point(reply[0]), 5.0);
    // The first address the runner resolved `localhost` to.
    let address = tags(reply[0]);
    assert!(
        address == ["address:127.0.0.1"] || address == ["address:::1"],
        "{address:?}"
    );
    assert_eq!(&server.join().unwrap(), b"ping\n");
}

/// A check whose gauge is `value`.
fn versioned_check(value: u32) -> String {
    format!(
        "from datadog_checks.base import AgentCheck\n\n\
         class DemoCheck(AgentCheck):\n    \
             def check(self, instance):\n        \
                 self.gauge('python_demo.value', {value}, tags=['source:file'])\n"
    )
}

#[test]
fn the_daemon_runs_python_checks_and_reloads_an_edited_file() {
    use common::daemon::Daemon;
    use std::time::Duration;

    let ws = Workspace::new();
    install(&ws, "python_demo", &versioned_check(1));
    ws.write(
        "conf.d/python_demo.yaml",
        "instances:\n  - min_collection_interval: 1\n",
    );
    let daemon = Daemon::start(&ws, &[]);
    let shows = |value: u32| {
        move |d: &Daemon| {
            d.get("/metrics").is_some_and(|m| {
                m.lines().any(|l| {
                    l.starts_with("python_demo_value{") && l.ends_with(&format!(" {value}"))
                })
            })
        }
    };
    daemon.wait_for(
        "the first version's gauge",
        Duration::from_secs(30),
        shows(1),
    );

    // An edited check is swapped between runs.
    install(&ws, "python_demo", &versioned_check(2));
    daemon.wait_for(
        "the edited version's gauge",
        Duration::from_secs(30),
        shows(2),
    );

    // A broken edit keeps the last good version running, and says why.
    install(&ws, "python_demo", "class Broken(:\n");
    daemon.wait_for("the reload error", Duration::from_secs(20), |d| {
        d.status()["reload"]["last_ok"] == false
    });
    let status = daemon.status();
    let error = status["reload"]["last_error"].as_str().unwrap();
    assert!(error.contains("python_demo.py"), "{error}");
    assert!(error.contains("SyntaxError"), "{error}");
    let runs = daemon.runs_of("python_demo:");
    daemon.wait_for(
        "the good version still running",
        Duration::from_secs(10),
        |d| d.runs_of("python_demo:") >= runs + 2,
    );
    assert!(shows(2)(&daemon));
    let (exit, _, stderr) = daemon.stop();
    assert!(exit.success(), "{stderr}");
}
