//! Questions about one read of connections: a process's sockets, its
//! listening ports, whom it talks to, and the host-side filter of checks.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use super::{Connection, Connections, Direction, Protocol, SocketState};

/// Most pids a [`ConnectionQuery`] may name: more than a host runs in
/// practice, and a bound on the copy and sort a caller can cause.
pub const MAX_QUERY_PIDS: usize = 1 << 17;

/// Most states a [`ConnectionQuery`] may list (there are 12; repeats are
/// allowed up to this).
pub const MAX_QUERY_STATES: usize = 64;

/// Which connections a caller wants; every condition set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionQuery {
    /// Sockets held by one of these processes (`Some` of an empty list
    /// selects nothing); `None` for any socket, owned or not.
    pub pids: Option<Vec<u32>>,
    /// Sockets whose local or remote port is this one.
    pub port: Option<u16>,
    /// Sockets in one of these states; empty for any state.
    pub states: Vec<SocketState>,
    /// Only [`Direction::Listening`] sockets.
    pub listening_only: bool,
    /// Only sockets of this direction.
    pub direction: Option<Direction>,
    /// Only sockets of this protocol.
    pub protocol: Option<Protocol>,
}

/// A [`ConnectionQuery`] beyond its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionQueryError {
    /// More than [`MAX_QUERY_PIDS`] pids.
    TooManyPids(usize),
    /// More than [`MAX_QUERY_STATES`] states.
    TooManyStates(usize),
}

impl fmt::Display for ConnectionQueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPids(n) => {
                write!(
                    f,
                    "{n} pids in a connection query (at most {MAX_QUERY_PIDS})"
                )
            }
            Self::TooManyStates(n) => {
                write!(
                    f,
                    "{n} states in a connection query (at most {MAX_QUERY_STATES})"
                )
            }
        }
    }
}

impl std::error::Error for ConnectionQueryError {}

/// Established connections of a process to one peer, from
/// [`Connections::by_remote`].
///
/// Outgoing connections are grouped by remote address and port: the
/// service talked to (`10.0.0.5:5432`, ×12). Incoming ones by remote
/// address and *local* port: which client uses which of our services
/// (`10.0.0.7` on our `:8080`, ×40); their remote ports are ephemeral and
/// would make a group per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteGroup {
    pub protocol: Protocol,
    /// [`Direction::Incoming`] or [`Direction::Outgoing`].
    pub direction: Direction,
    pub remote_ip: IpAddr,
    /// The peer's port, for outgoing connections.
    pub remote_port: Option<u16>,
    /// Our port the peer connected to, for incoming connections.
    pub local_port: Option<u16>,
    /// Number of connections.
    pub count: u32,
}

impl Connections {
    /// The sockets `pid` holds.
    pub fn for_pid(&self, pid: u32) -> impl Iterator<Item = &Connection> {
        self.rows
            .iter()
            .filter(move |c| c.pids.binary_search(&pid).is_ok())
    }

    /// The ports `pid` listens on (TCP listeners, bound unconnected UDP
    /// sockets), sorted, each once.
    pub fn listening_ports(&self, pid: u32) -> Vec<(Protocol, u16)> {
        let mut ports: Vec<_> = self
            .for_pid(pid)
            .filter(|c| c.direction == Direction::Listening)
            .map(|c| (c.protocol, c.local.port()))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// `pid`'s established connections grouped by peer (see
    /// [`RemoteGroup`]), largest groups first, then by protocol, direction,
    /// address and port.
    pub fn by_remote(&self, pid: u32) -> Vec<RemoteGroup> {
        self.by_remote_with_rows(pid)
            .into_iter()
            .map(|(group, _)| group)
            .collect()
    }

    /// [`by_remote`](Self::by_remote), each group with its connections.
    pub fn by_remote_with_rows(&self, pid: u32) -> Vec<(RemoteGroup, Vec<&Connection>)> {
        // (protocol, direction, remote ip, remote port, local port)
        type Peer = (Protocol, Direction, IpAddr, Option<u16>, Option<u16>);
        let mut members: HashMap<Peer, Vec<&Connection>> = HashMap::new();
        for c in self.for_pid(pid) {
            if c.state != SocketState::Established {
                continue;
            }
            let (remote_port, local_port) = match c.direction {
                Direction::Outgoing => (Some(c.remote.port()), None),
                Direction::Incoming => (None, Some(c.local.port())),
                Direction::Listening => continue,
            };
            let key = (
                c.protocol,
                c.direction,
                c.remote.ip(),
                remote_port,
                local_port,
            );
            members.entry(key).or_default().push(c);
        }
        let mut groups: Vec<(RemoteGroup, Vec<&Connection>)> = members
            .into_iter()
            .map(
                |((protocol, direction, remote_ip, remote_port, local_port), rows)| {
                    let group = RemoteGroup {
                        protocol,
                        direction,
                        remote_ip,
                        remote_port,
                        local_port,
                        count: rows.len() as u32,
                    };
                    (group, rows)
                },
            )
            .collect();
        groups.sort_unstable_by_key(|(g, _)| {
            let key = (
                g.protocol,
                g.direction,
                g.remote_ip,
                g.remote_port,
                g.local_port,
            );
            (std::cmp::Reverse(g.count), key)
        });
        groups
    }

    /// The rows `q` selects, in row order. Linear in the rows plus
    /// `q.pids` log `q.pids`; fails when `q` is beyond
    /// [`MAX_QUERY_PIDS`] or [`MAX_QUERY_STATES`].
    pub fn query(&self, q: &ConnectionQuery) -> Result<Vec<&Connection>, ConnectionQueryError> {
        if q.states.len() > MAX_QUERY_STATES {
            return Err(ConnectionQueryError::TooManyStates(q.states.len()));
        }
        let pids = match &q.pids {
            Some(pids) if pids.len() > MAX_QUERY_PIDS => {
                return Err(ConnectionQueryError::TooManyPids(pids.len()));
            }
            Some(pids) => {
                let mut sorted = pids.clone();
                sorted.sort_unstable();
                sorted.dedup();
                Some(sorted)
            }
            None => None,
        };
        // Bit `state as u16` set for each wanted state; 0 for any state.
        let states = q.states.iter().fold(0u16, |bits, &s| bits | 1 << s as u16);
        let selected = |c: &&Connection| {
            pids.as_ref()
                .is_none_or(|pids| c.pids.iter().any(|p| pids.binary_search(p).is_ok()))
                && q.port
                    .is_none_or(|port| c.local.port() == port || c.remote.port() == port)
                && (states == 0 || states & 1 << c.state as u16 != 0)
                && (!q.listening_only || c.direction == Direction::Listening)
                && q.direction.is_none_or(|d| c.direction == d)
                && q.protocol.is_none_or(|p| c.protocol == p)
        };
        Ok(self.rows.iter().filter(selected).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Source;
    use super::super::tests::socket;
    use super::*;

    /// A web server (pid 10, a forked worker 11) on :8080 with three
    /// clients from two hosts, talking to a database; a DNS server (pid 20).
    fn sample() -> Connections {
        use Direction::{Incoming, Listening, Outgoing};
        use Protocol::{Tcp, Udp};
        use SocketState::{Close, Established, Listen, TimeWait};
        // One row per line: a table.
        #[rustfmt::skip]
        let rows: [(_, _, _, _, _, &[u32]); 10] = [
            (Tcp, Listen, Listening, "0.0.0.0:8080", "0.0.0.0:0", &[10, 11]),
            (Tcp, Listen, Listening, "[::]:8080", "[::]:0", &[10, 11]),
            (Tcp, Established, Incoming, "10.0.0.1:8080", "10.0.0.7:50000", &[11]),
            (Tcp, Established, Incoming, "10.0.0.1:8080", "10.0.0.7:50001", &[11]),
            (Tcp, Established, Incoming, "10.0.0.1:8080", "10.0.0.8:50000", &[11]),
            (Tcp, Established, Outgoing, "10.0.0.1:40000", "10.0.0.5:5432", &[11]),
            (Tcp, Established, Outgoing, "10.0.0.1:40001", "10.0.0.5:5432", &[11]),
            (Tcp, TimeWait, Outgoing, "10.0.0.1:40002", "10.0.0.5:5432", &[]),
            (Udp, Close, Listening, "0.0.0.0:53", "0.0.0.0:0", &[20]),
            (Udp, Established, Outgoing, "10.0.0.1:6000", "10.0.0.9:53", &[20]),
        ];
        let rows = rows
            .into_iter()
            .map(|(protocol, state, direction, local, remote, pids)| {
                socket(protocol, state, local, remote).into_connection(direction, pids.to_vec())
            });
        Connections {
            source: Source::Netlink,
            rows: rows.collect(),
        }
    }

    /// Indices of the rows `q` selects.
    fn selected(connections: &Connections, q: &ConnectionQuery) -> Vec<usize> {
        let rows = connections.query(q).unwrap();
        let index = |c: &Connection| connections.rows.iter().position(|r| r == c).unwrap();
        rows.into_iter().map(index).collect()
    }

    #[test]
    fn query_filters_combine() {
        let c = sample();
        let any = ConnectionQuery::default();
        assert_eq!(selected(&c, &any), (0..10).collect::<Vec<_>>());
        let pids = |pids: &[u32]| ConnectionQuery {
            pids: Some(pids.to_vec()),
            ..ConnectionQuery::default()
        };
        assert_eq!(selected(&c, &pids(&[20, 99, 20])), [8, 9]);
        assert_eq!(selected(&c, &pids(&[10])), [0, 1]);
        assert_eq!(selected(&c, &pids(&[])), [0usize; 0]);
        let port = ConnectionQuery {
            port: Some(5432),
            ..ConnectionQuery::default()
        };
        assert_eq!(selected(&c, &port), [5, 6, 7]);
        let states = ConnectionQuery {
            states: vec![SocketState::TimeWait, SocketState::Close],
            ..ConnectionQuery::default()
        };
        assert_eq!(selected(&c, &states), [7, 8]);
        let listening = ConnectionQuery {
            listening_only: true,
            protocol: Some(Protocol::Tcp),
            ..ConnectionQuery::default()
        };
        assert_eq!(selected(&c, &listening), [0, 1]);
        let incoming_from_11 = ConnectionQuery {
            direction: Some(Direction::Incoming),
            port: Some(50000),
            ..pids(&[11])
        };
        assert_eq!(selected(&c, &incoming_from_11), [2, 4]);
    }

    #[test]
    fn query_limits_are_enforced() {
        let c = sample();
        let too_many_pids = ConnectionQuery {
            pids: Some(vec![1; MAX_QUERY_PIDS + 1]),
            ..ConnectionQuery::default()
        };
        assert_eq!(
            c.query(&too_many_pids).unwrap_err(),
            ConnectionQueryError::TooManyPids(MAX_QUERY_PIDS + 1)
        );
        let too_many_states = ConnectionQuery {
            states: vec![SocketState::Listen; MAX_QUERY_STATES + 1],
            ..ConnectionQuery::default()
        };
        assert_eq!(
            c.query(&too_many_states).unwrap_err().to_string(),
            "65 states in a connection query (at most 64)"
        );
        let at_the_limits = ConnectionQuery {
            pids: Some((0..MAX_QUERY_PIDS as u32).rev().collect()),
            states: vec![SocketState::Listen; MAX_QUERY_STATES],
            ..ConnectionQuery::default()
        };
        assert_eq!(selected(&c, &at_the_limits), [0, 1]);
    }

    #[test]
    fn per_process_views() {
        let c = sample();
        assert_eq!(c.for_pid(10).count(), 2);
        assert_eq!(c.for_pid(11).count(), 7);
        assert_eq!(c.listening_ports(11), [(Protocol::Tcp, 8080)]);
        assert_eq!(c.listening_ports(20), [(Protocol::Udp, 53)]);
        assert_eq!(c.listening_ports(99), []);

        let group = |direction, ip: &str, remote_port, local_port, count| RemoteGroup {
            protocol: Protocol::Tcp,
            direction,
            remote_ip: ip.parse().unwrap(),
            remote_port,
            local_port,
            count,
        };
        assert_eq!(
            c.by_remote(11),
            [
                group(Direction::Incoming, "10.0.0.7", None, Some(8080), 2),
                group(Direction::Outgoing, "10.0.0.5", Some(5432), None, 2),
                group(Direction::Incoming, "10.0.0.8", None, Some(8080), 1),
            ]
        );
        let udp = &c.by_remote(20)[0];
        assert_eq!(
            (udp.protocol, udp.remote_port, udp.count),
            (Protocol::Udp, Some(53), 1)
        );
        assert_eq!(c.by_remote(10), []);
    }
}
