//! What one run sends, computed from the selected processes' sockets.

use std::collections::BTreeMap;

use runner_sdk::{Connection, Direction, Protocol, SocketState, Status};

use crate::config::Settings;

/// The service check's name.
pub const SERVICE_CHECK: &str = "connections.listening";

/// One gauge sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    pub value: f64,
    pub tags: Vec<String>,
}

/// `connections.listening`, when the instance expects ports.
#[derive(Debug, Clone, PartialEq)]
pub struct Listening {
    pub status: Status,
    pub message: String,
}

/// Everything one run sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub samples: Vec<Sample>,
    pub listening: Option<Listening>,
}

fn protocol_tag(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// The state as a tag value: the kernel's name in snake case.
fn state_tag(state: SocketState) -> &'static str {
    match state {
        SocketState::Established => "established",
        SocketState::SynSent => "syn_sent",
        SocketState::SynRecv => "syn_recv",
        SocketState::FinWait1 => "fin_wait1",
        SocketState::FinWait2 => "fin_wait2",
        SocketState::TimeWait => "time_wait",
        SocketState::Close => "close",
        SocketState::CloseWait => "close_wait",
        SocketState::LastAck => "last_ack",
        SocketState::Listen => "listen",
        SocketState::Closing => "closing",
        SocketState::NewSynRecv => "new_syn_recv",
    }
}

fn direction_tag(direction: Direction) -> &'static str {
    match direction {
        Direction::Listening => "listening",
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
    }
}

/// Per (protocol, state, direction): sockets and queued bytes.
#[derive(Default)]
struct Group {
    count: u64,
    rx_queue: u64,
    tx_queue: u64,
}

impl Report {
    /// The report for `process_count` selected processes owning `sockets`.
    ///
    /// Metrics (all gauges, with the instance's `process_name:<name>`):
    /// - `connections.processes`: processes selected;
    /// - `connections.count`, `connections.rx_queue`,
    ///   `connections.tx_queue`: sockets, and bytes waiting to be read
    ///   and sent, per `protocol`, `state` and `direction` present;
    /// - `connections.listening_ports`: distinct ports listened on.
    pub fn new(settings: &Settings, process_count: usize, sockets: &[Connection]) -> Report {
        let mut groups: BTreeMap<(&str, &str, &str), Group> = BTreeMap::new();
        for socket in sockets {
            let key = (
                protocol_tag(socket.protocol),
                state_tag(socket.state),
                direction_tag(socket.direction),
            );
            let group = groups.entry(key).or_default();
            group.count += 1;
            group.rx_queue += u64::from(socket.rx_queue);
            group.tx_queue += u64::from(socket.tx_queue);
        }
        let listening = listening_ports(sockets);

        let mut samples = vec![Sample {
            name: "connections.processes",
            value: process_count as f64,
            tags: settings.tags.clone(),
        }];
        for ((protocol, state, direction), group) in &groups {
            let mut tags = settings.tags.clone();
            tags.push(format!("protocol:{protocol}"));
            tags.push(format!("state:{state}"));
            tags.push(format!("direction:{direction}"));
            for (name, value) in [
                ("connections.count", group.count),
                ("connections.rx_queue", group.rx_queue),
                ("connections.tx_queue", group.tx_queue),
            ] {
                samples.push(Sample {
                    name,
                    value: value as f64,
                    tags: tags.clone(),
                });
            }
        }
        samples.push(Sample {
            name: "connections.listening_ports",
            value: listening.len() as f64,
            tags: settings.tags.clone(),
        });

        Report {
            samples,
            listening: listening_check(settings, process_count, &listening),
        }
    }
}

/// Distinct ports the sockets listen on, sorted.
fn listening_ports(sockets: &[Connection]) -> Vec<u16> {
    let mut ports: Vec<u16> = sockets
        .iter()
        .filter(|s| s.direction == Direction::Listening)
        .map(|s| s.local.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn joined(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    ports.join(", ")
}

fn listening_check(settings: &Settings, process_count: usize, open: &[u16]) -> Option<Listening> {
    let expected = &settings.expected_listening_ports;
    if expected.is_empty() {
        return None;
    }
    let name = &settings.name;
    if process_count == 0 {
        return Some(Listening {
            status: Status::Critical,
            message: format!(
                "no process matches {name}, so nothing listens on {}",
                joined(expected)
            ),
        });
    }
    let missing: Vec<u16> = expected
        .iter()
        .copied()
        .filter(|port| open.binary_search(port).is_err())
        .collect();
    Some(if missing.is_empty() {
        Listening {
            status: Status::Ok,
            message: format!("{name} listens on {}", joined(expected)),
        }
    } else {
        let open = if open.is_empty() {
            "no port".to_string()
        } else {
            joined(open)
        };
        Listening {
            status: Status::Critical,
            message: format!(
                "{name} ({process_count} processes) does not listen on {}; it listens on {open}",
                joined(&missing)
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use runner_sdk::Endpoint;
    use runner_sdk::serde_json::{self, json};

    fn settings(ports: &[u16]) -> Settings {
        let config: Config = serde_json::from_value(json!({
            "name": "web", "search_string": ["nginx"], "expected_listening_ports": ports,
        }))
        .unwrap();
        Settings::new(config).unwrap()
    }

    fn socket(
        protocol: Protocol,
        state: SocketState,
        direction: Direction,
        local_port: u16,
        queues: (u32, u32),
    ) -> Connection {
        Connection {
            protocol,
            state,
            direction,
            local: Endpoint {
                address: "127.0.0.1".into(),
                port: local_port,
            },
            remote: Endpoint {
                address: "127.0.0.1".into(),
                port: 50_000,
            },
            rx_queue: queues.0,
            tx_queue: queues.1,
            uid: 0,
            inode: 1,
            pids: vec![10],
        }
    }

    fn value(report: &Report, name: &str, tags: &[&str]) -> Option<f64> {
        report
            .samples
            .iter()
            .find(|s| s.name == name && tags.iter().all(|t| s.tags.iter().any(|st| st == t)))
            .map(|s| s.value)
    }

    #[test]
    fn counts_and_queues_by_protocol_state_and_direction() {
        use Direction::*;
        use SocketState::*;
        let sockets = [
            socket(Protocol::Tcp, Listen, Listening, 8080, (2, 128)),
            socket(Protocol::Tcp, Listen, Listening, 8080, (0, 128)),
            socket(Protocol::Tcp, Established, Incoming, 8080, (10, 0)),
            socket(Protocol::Tcp, Established, Incoming, 8080, (5, 7)),
            socket(Protocol::Tcp, Established, Outgoing, 40_000, (0, 3)),
            socket(Protocol::Udp, Close, Listening, 53, (0, 0)),
        ];
        let report = Report::new(&settings(&[]), 3, &sockets);
        assert_eq!(
            value(&report, "connections.processes", &["process_name:web"]),
            Some(3.0)
        );
        let incoming = ["protocol:tcp", "state:established", "direction:incoming"];
        assert_eq!(value(&report, "connections.count", &incoming), Some(2.0));
        assert_eq!(
            value(&report, "connections.rx_queue", &incoming),
            Some(15.0)
        );
        assert_eq!(value(&report, "connections.tx_queue", &incoming), Some(7.0));
        let listen = ["protocol:tcp", "state:listen", "direction:listening"];
        assert_eq!(value(&report, "connections.count", &listen), Some(2.0));
        assert_eq!(value(&report, "connections.tx_queue", &listen), Some(256.0));
        let udp = ["protocol:udp", "state:close", "direction:listening"];
        assert_eq!(value(&report, "connections.count", &udp), Some(1.0));
        assert_eq!(
            value(&report, "connections.listening_ports", &[]),
            Some(2.0)
        );
        // 1 + 4 groups × 3 + 1.
        assert_eq!(report.samples.len(), 14);
        assert!(
            report
                .samples
                .iter()
                .all(|s| s.tags[0] == "process_name:web")
        );
        // No expected ports: no service check.
        assert_eq!(report.listening, None);
    }

    #[test]
    fn listening_is_critical_for_a_missing_port() {
        let sockets = [
            socket(
                Protocol::Tcp,
                SocketState::Listen,
                Direction::Listening,
                80,
                (0, 0),
            ),
            socket(
                Protocol::Udp,
                SocketState::Close,
                Direction::Listening,
                53,
                (0, 0),
            ),
        ];
        let ok = Report::new(&settings(&[80, 53]), 1, &sockets);
        assert_eq!(
            ok.listening,
            Some(Listening {
                status: Status::Ok,
                message: "web listens on 53, 80".into()
            })
        );
        let missing = Report::new(&settings(&[80, 8080, 443]), 2, &sockets);
        assert_eq!(
            missing.listening,
            Some(Listening {
                status: Status::Critical,
                message: "web (2 processes) does not listen on 443, 8080; it listens on 53, 80"
                    .into()
            })
        );
        let none = Report::new(&settings(&[80]), 0, &[]);
        assert_eq!(
            none.listening,
            Some(Listening {
                status: Status::Critical,
                message: "no process matches web, so nothing listens on 80".into()
            })
        );
        // An established connection on the port is not listening.
        let client = [socket(
            Protocol::Tcp,
            SocketState::Established,
            Direction::Outgoing,
            80,
            (0, 0),
        )];
        let report = Report::new(&settings(&[80]), 1, &client);
        assert_eq!(report.listening.unwrap().status, Status::Critical);
    }
}
