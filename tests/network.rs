//! Network grants: a check reaches exactly the endpoints its instance's
//! configuration names, and nothing else. The misbehaving guest tries
//! every other way out (another loopback port with a listener this test
//! owns, a host name, its own DNS, UDP, a listening socket, HTTP to an
//! ungranted port); each is denied, logged, counted in the run's result,
//! and the listeners see no connection. A peer that accepts and then
//! never answers, or trickles bytes, ends the run at its time limit with
//! a message naming the endpoint.

mod common;

use std::time::{Duration, Instant};

use common::peers::{Behaviour, Peer, UdpPeer};
use common::{Workspace, error_of, instance, service_checks, stderr, stdout, tags};
use serde_json::Value;

/// The `misbehave.probe` service check of `probe`: (status, message).
fn probe<'a>(report: &'a Value, probe: &str) -> (u64, &'a str) {
    let wanted = format!("probe:{probe}");
    let found: Vec<&Value> = service_checks(report, "misbehave.probe")
        .into_iter()
        .filter(|s| tags(s).contains(&wanted))
        .collect();
    assert_eq!(found.len(), 1, "{probe}: {report:#}");
    (
        found[0]["status"].as_u64().unwrap(),
        found[0]["message"].as_str().unwrap_or_default(),
    )
}

/// `sandbox.network_denied` of the report's only instance.
fn denied(report: &Value) -> (u64, Vec<String>) {
    let denied = &report[0]["sandbox"]["network_denied"];
    let targets = denied["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    (denied["count"].as_u64().unwrap(), targets)
}

const OK: u64 = 0;
const CRITICAL: u64 = 2;

#[test]
fn only_the_granted_endpoint_is_reachable() {
    let granted = Peer::start(Behaviour::Close);
    let other = Peer::start(Behaviour::Http("not for you"));
    let udp = UdpPeer::start();
    let (g, o, u) = (granted.port, other.port, udp.port);
    let probes = [
        format!("connect:127.0.0.1:{g}"),
        format!("raw:127.0.0.1:{g}"),
        format!("connect:127.0.0.1:{o}"),
        format!("raw:127.0.0.1:{o}"),
        format!("connect:localhost:{g}"),
        "dns:localhost".to_string(),
        format!("udp:127.0.0.1:{u}"),
        "listen:127.0.0.1:0".to_string(),
        "listen:0.0.0.0:0".to_string(),
        format!("http:http://127.0.0.1:{o}/"),
    ];
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    let list: Vec<String> = probes.iter().map(|p| format!("'{p}'")).collect();
    ws.write(
        "conf.d/misbehave.yaml",
        format!(
            "instances:\n  - mode: network\n    host: 127.0.0.1\n    port: {g}\n    probes: [{}]\n",
            list.join(", ")
        ),
    );
    let (report, output) = ws.check_json("misbehave", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));

    // The granted endpoint works, through the SDK and by address.
    assert_eq!(probe(&report, &probes[0]), (OK, "connected"));
    assert_eq!(probe(&report, &probes[1]), (OK, "connected"));
    // Everything else is denied.
    for denied_probe in &probes[2..] {
        let (status, message) = probe(&report, denied_probe);
        assert_eq!(status, CRITICAL, "{denied_probe}: {message}");
    }
    let (_, message) = probe(&report, &probes[2]);
    assert!(
        message.contains("is not granted to this instance")
            && message.contains(&format!("granted: 127.0.0.1:{g}")),
        "{message}"
    );
    let (_, message) = probe(&report, &probes[3]);
    assert!(message.contains("ermission denied"), "{message}");
    let (_, message) = probe(&report, &probes[9]);
    assert!(
        message.contains("request denied by the runner"),
        "{message}"
    );

    // The peers saw only the granted connections.
    assert_eq!(granted.accepted(), 2);
    assert_eq!(other.accepted(), 0);
    assert_eq!(udp.received(), 0);

    // Each denial is in the run's result and the log, with the target.
    let (count, targets) = denied(&report);
    let expected = [
        format!("resolve 127.0.0.1:{o}"),
        format!("TCP connect 127.0.0.1:{o}"),
        format!("resolve localhost:{g}"),
        format!("UDP send 127.0.0.1:{u}"),
        "TCP bind 127.0.0.1:0".to_string(),
        format!("HTTP http://127.0.0.1:{o}"),
    ];
    for target in &expected {
        assert!(targets.contains(target), "{target} not in {targets:?}");
    }
    // Bound to the wildcard (as an outgoing socket is), it still may not
    // listen.
    assert!(
        targets.iter().any(|t| t.starts_with("TCP listen 0.0.0.0:")),
        "{targets:?}"
    );
    assert_eq!(count, targets.len() as u64, "{targets:?}");
    let log = stderr(&output);
    assert!(
        log.contains(&format!(
            "network access denied: TCP connect 127.0.0.1:{o} is not granted to this instance"
        )) && log.contains("misbehave:"),
        "{log}"
    );
}

#[test]
fn http_goes_to_the_granted_url_only() {
    let granted = Peer::start(Behaviour::Http("hello"));
    let other = Peer::start(Behaviour::Http("not for you"));
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    let url = format!("http://127.0.0.1:{}/status", granted.port);
    let other_path = format!("http://127.0.0.1:{}/elsewhere", granted.port);
    let other_port = format!("http://127.0.0.1:{}/status", other.port);
    let by_name = format!("http://localhost:{}/status", granted.port);
    ws.write(
        "conf.d/misbehave.yaml",
        format!(
            "instances:\n  - mode: network\n    url: {url}\n    probes: ['http:{url}', \
             'http:{other_path}', 'http:{other_port}', 'http:{by_name}', \
             'connect:127.0.0.1:{}']\n",
            granted.port
        ),
    );
    let (report, output) = ws.check_json("misbehave", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(probe(&report, &format!("http:{url}")), (OK, "HTTP 200"));
    // Any path of the granted authority.
    assert_eq!(
        probe(&report, &format!("http:{other_path}")),
        (OK, "HTTP 200")
    );
    // Another port, or the same port under another name, is not granted;
    // nor is TCP to the HTTP endpoint.
    assert_eq!(probe(&report, &format!("http:{other_port}")).0, CRITICAL);
    assert_eq!(probe(&report, &format!("http:{by_name}")).0, CRITICAL);
    assert_eq!(
        probe(&report, &format!("connect:127.0.0.1:{}", granted.port)).0,
        CRITICAL
    );
    assert_eq!(granted.accepted(), 2);
    assert_eq!(other.accepted(), 0);
    assert_eq!(denied(&report).0, 3);
}

#[test]
fn a_peer_that_never_answers_ends_the_run_at_its_time_limit() {
    for behaviour in [Behaviour::Silent, Behaviour::Trickle] {
        let peer = Peer::start(behaviour.clone());
        let ws = Workspace::new();
        ws.install_misbehave("misbehave");
        ws.write(
            "conf.d/misbehave.yaml",
            format!(
                "instances:\n  - name: hang\n    mode: network\n    host: 127.0.0.1\n    port: {0}\n    \
                 probes: ['hang:127.0.0.1:{0}']\n    limits: {{timeout: 2}}\n",
                peer.port
            ),
        );
        let started = Instant::now();
        let (report, _) = ws.check_json("misbehave", &[]);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(15),
            "{behaviour:?}: took {took:?}"
        );
        assert_eq!(peer.accepted(), 1);
        let error = error_of(&report, "hang");
        let named = match behaviour {
            Behaviour::Silent => format!("while waiting on the network (127.0.0.1:{})", peer.port),
            _ => format!(
                "the network endpoint it contacted last: 127.0.0.1:{}",
                peer.port
            ),
        };
        assert!(
            error.contains("time limit of 2s (limits.timeout)") && error.contains(&named),
            "{behaviour:?}: {error}"
        );
    }
}

#[test]
fn the_network_option_narrows_and_widens_the_grant_and_configcheck_lists_it() {
    let declared = Peer::start(Behaviour::Close);
    let added = Peer::start(Behaviour::Close);
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    let (d, a) = (declared.port, added.port);
    ws.write(
        "conf.d/misbehave.yaml",
        format!(
            "instances:\n\
             \x20 - name: swapped\n    mode: network\n    host: 127.0.0.1\n    port: {d}\n    \
             network: {{deny: ['*'], allow: ['127.0.0.1:{a}', 'https://example.com']}}\n    \
             probes: ['connect:127.0.0.1:{d}', 'connect:127.0.0.1:{a}']\n\
             \x20 - name: plain\n    mode: network\n    host: 127.0.0.1\n    port: {d}\n    probes: []\n\
             \x20 - name: none\n    mode: ok\n"
        ),
    );
    let (report, output) = ws.check_json("misbehave", &[]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(
        probe(&report, &format!("connect:127.0.0.1:{d}")).0,
        CRITICAL
    );
    assert_eq!(probe(&report, &format!("connect:127.0.0.1:{a}")).0, OK);
    assert_eq!(declared.accepted(), 0);
    assert_eq!(added.accepted(), 1);

    let output = ws.runner(&["configcheck", "-v"]);
    let text = stdout(&output);
    for line in [
        format!("Network: TCP 127.0.0.1:{a}; HTTP(S) example.com:443; everything else is denied"),
        format!("Network: TCP 127.0.0.1:{d}; everything else is denied"),
        "Network: none (every connection is denied)".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }

    // A malformed override names the key and the fix.
    ws.write(
        "conf.d/misbehave.yaml",
        "instances:\n  - mode: ok\n    network: {allow: ['db']}\n",
    );
    let output = ws.runner(&["configcheck"]);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        text.contains("key `network.allow`") && text.contains("`db` is not `host:port`"),
        "{text}"
    );
}

#[test]
fn a_check_cannot_hold_unbounded_sockets() {
    let peer = Peer::start(Behaviour::Close);
    let ws = Workspace::new();
    ws.install_misbehave("misbehave");
    ws.write(
        "conf.d/misbehave.yaml",
        format!(
            "instances:\n\
             \x20 - name: hoard\n    mode: network\n    host: 127.0.0.1\n    port: {0}\n    \
             probes: ['hold:127.0.0.1:{0}']\n\
             \x20 - name: fine\n    mode: ok\n",
            peer.port
        ),
    );
    let (report, output) = ws.check_json("misbehave", &[]);
    let error = error_of(&report, "hoard");
    assert!(
        error.contains("run held more than 1024 sockets, streams and other WASI resources"),
        "{error}\n{}",
        stderr(&output)
    );
    // Each connection holds several resources: far fewer than 1024 got
    // through, and the other instance ran.
    let accepted = peer.accepted();
    assert!((1..1024).contains(&accepted), "{accepted}");
    assert!(
        instance(&report, "fine")["LastError"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}
