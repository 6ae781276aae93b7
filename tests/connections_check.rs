//! `runner check connections` against sockets this test opens on loopback:
//! a listener, clients connected to it, and the `connections.listening`
//! service check for a port that is open and one that is not.

mod common;

use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{Workspace, all_series, service_checks, stderr, tags};
use serde_json::Value;

/// The value of the series `metric` whose tags include all of `with`.
fn value_tagged(report: &Value, metric: &str, with: &[&str]) -> Option<f64> {
    let found: Vec<&Value> = all_series(report)
        .into_iter()
        .filter(|s| s["metric"] == metric)
        .filter(|s| with.iter().all(|t| tags(s).iter().any(|st| st == t)))
        .collect();
    assert!(found.len() <= 1, "{metric} {with:?}: {found:#?}");
    found.first().map(|s| {
        s["points"].as_array().unwrap().last().unwrap()[1]
            .as_f64()
            .unwrap()
    })
}

/// A port nothing listens on: bound and dropped (a race with another
/// process grabbing it is possible but harmless: that process is not ours).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sockets_of_the_selected_process_are_counted_and_listening_is_checked() {
    // This test process is the watched one: it listens, connects three
    // clients to itself (so it holds both ends of each connection) and
    // keeps a UDP socket bound.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let accepted: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
    // 5 bytes sent by each client and never read: the accepted ends' rx
    // queues hold 15 bytes.
    for client in &mut clients {
        client.write_all(b"hello").unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let missing = free_port();

    let ws = Workspace::new();
    let pid = std::process::id();
    ws.write(
        "conf.d/connections.d/conf.yaml",
        format!(
            "init_config:\ninstances:\n\
             \x20 - name: me\n    pid: {pid}\n    tags: [env:test]\n    expected_listening_ports: [{port}, {udp_port}]\n\
             \x20 - name: broken\n    pid: {pid}\n    expected_listening_ports: [{port}, {missing}]\n"
        ),
    );
    let (report, output) = ws.check_json("connections", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    let me = ["process_name:me", "env:test"];
    assert_eq!(
        value_tagged(&report, "connections.processes", &me),
        Some(1.0)
    );
    let listen = [
        &me[..],
        &["protocol:tcp", "state:listen", "direction:listening"],
    ]
    .concat();
    assert_eq!(
        value_tagged(&report, "connections.count", &listen),
        Some(1.0)
    );
    let incoming = [
        &me[..],
        &["protocol:tcp", "state:established", "direction:incoming"],
    ]
    .concat();
    assert_eq!(
        value_tagged(&report, "connections.count", &incoming),
        Some(3.0)
    );
    assert_eq!(
        value_tagged(&report, "connections.rx_queue", &incoming),
        Some(15.0)
    );
    let outgoing = [
        &me[..],
        &["protocol:tcp", "state:established", "direction:outgoing"],
    ]
    .concat();
    assert_eq!(
        value_tagged(&report, "connections.count", &outgoing),
        Some(3.0)
    );
    let udp_tags = [
        &me[..],
        &["protocol:udp", "state:close", "direction:listening"],
    ]
    .concat();
    assert_eq!(
        value_tagged(&report, "connections.count", &udp_tags),
        Some(1.0)
    );
    // Only the two ports: the test runner itself holds no other listener.
    assert_eq!(
        value_tagged(&report, "connections.listening_ports", &me),
        Some(2.0)
    );

    let checks = service_checks(&report, "connections.listening");
    assert_eq!(checks.len(), 2, "{checks:#?}");
    let ok = checks
        .iter()
        .find(|c| tags(c).contains(&"process_name:me".into()))
        .unwrap();
    assert_eq!(ok["status"], 0, "{ok:#?}");
    let (low, high) = (port.min(udp_port), port.max(udp_port));
    assert_eq!(ok["message"], format!("me listens on {low}, {high}"));
    let broken = checks
        .iter()
        .find(|c| tags(c).contains(&"process_name:broken".into()))
        .unwrap();
    assert_eq!(broken["status"], 2, "{broken:#?}");
    assert_eq!(
        broken["message"],
        format!("broken (1 processes) does not listen on {missing}; it listens on {low}, {high}")
    );
    drop((clients, accepted, udp));
}

#[test]
fn no_matching_process_is_critical() {
    let ws = Workspace::new();
    ws.write(
        "conf.d/connections.d/conf.yaml",
        "init_config:\ninstances:\n  - name: ghost\n    search_string: [no-such-process-name-xyz]\n    \
         expected_listening_ports: [8080]\n",
    );
    let (report, output) = ws.check_json("connections", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        value_tagged(&report, "connections.processes", &["process_name:ghost"]),
        Some(0.0)
    );
    assert_eq!(
        value_tagged(&report, "connections.count", &["process_name:ghost"]),
        None
    );
    let checks = service_checks(&report, "connections.listening");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["status"], 2);
    assert_eq!(
        checks[0]["message"],
        "no process matches ghost, so nothing listens on 8080"
    );
}
