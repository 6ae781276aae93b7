//! `runner check tcp_check` against a loopback listener this test owns
//! and a port nothing listens on: the Datadog TCP check's metrics,
//! service check and tags, with the grant that only reaches `host:port`.

mod common;

use common::peers::{Behaviour, Peer, closed_port};
use common::{Workspace, error_of, series, service_checks, stderr, stdout, tags};

#[test]
fn tcp_check_reports_up_and_down_with_datadogs_tags() {
    let peer = Peer::start(Behaviour::Close);
    let closed = closed_port();
    let ws = Workspace::new();
    ws.write(
        "conf.d/tcp_check.d/conf.yaml",
        format!(
            "init_config:\ninstances:\n\
             \x20 - name: up\n    host: 127.0.0.1\n    port: {}\n    collect_response_time: true\n    tags: [env:test]\n\
             \x20 - name: down\n    host: 127.0.0.1\n    port: '{closed}'\n    timeout: 2\n",
            peer.port
        ),
    );
    let (report, output) = ws.check_json("tcp_check", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    let checks = service_checks(&report, "tcp.can_connect");
    assert_eq!(checks.len(), 2, "{report:#}");
    let up = checks
        .iter()
        .find(|c| tags(c).contains(&"instance:up".to_string()))
        .unwrap();
    assert_eq!(up["status"], 0);
    let mut up_tags = tags(up);
    up_tags.sort();
    assert_eq!(
        up_tags,
        [
            "address:127.0.0.1".to_string(),
            "env:test".to_string(),
            "instance:up".to_string(),
            format!("port:{}", peer.port),
            "target_host:127.0.0.1".to_string(),
        ]
    );
    let down = checks
        .iter()
        .find(|c| tags(c).contains(&"instance:down".to_string()))
        .unwrap();
    assert_eq!(down["status"], 2);
    let message = down["message"].as_str().unwrap();
    assert!(
        message.contains("onnection refused") && message.contains("Connection failed after"),
        "{message}"
    );

    let can_connect = series(&report, "network.tcp.can_connect");
    assert_eq!(can_connect.len(), 2);
    for serie in can_connect {
        let value = serie["points"][0][1].as_f64().unwrap();
        let is_up = tags(serie).contains(&"instance:up".to_string());
        assert_eq!(value, if is_up { 1.0 } else { 0.0 }, "{serie}");
        assert_eq!(serie["type"], "gauge");
    }
    let response = series(&report, "network.tcp.response_time");
    assert_eq!(response.len(), 1, "only `up` collects response time");
    let seconds = response[0]["points"][0][1].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds < 2.0, "{seconds}");
    let mut response_tags = tags(response[0]);
    response_tags.sort();
    assert_eq!(
        response_tags,
        [
            "address:127.0.0.1".to_string(),
            "env:test".to_string(),
            "instance:up".to_string(),
            format!("url:127.0.0.1:{}", peer.port),
        ]
    );
    assert!(peer.accepted() >= 1);
}

#[test]
fn tcp_check_without_name_or_port_is_a_configuration_error() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/tcp_check.yaml",
        "instances:\n  - name: nameless-port\n    host: 127.0.0.1\n  - host: 127.0.0.1\n    port: 80\n",
    );
    let output = ws.runner(&["configcheck"]);
    assert_eq!(output.status.code(), Some(1));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        text.contains("instance #0: missing required key `port`"),
        "{text}"
    );
    assert!(
        text.contains("instance #1: missing required key `name`"),
        "{text}"
    );
}

#[test]
fn an_unresolvable_host_fails_the_run_with_its_name() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/tcp_check.yaml",
        "instances:\n  - name: nowhere\n    host: no-such-host.invalid\n    port: 80\n",
    );
    let (report, _) = ws.check_json("tcp_check", &[]);
    let error = error_of(&report, "nowhere");
    assert!(
        error.contains("URL: no-such-host.invalid could not be resolved"),
        "{error}"
    );
}
