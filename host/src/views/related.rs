//! The processes related to one: those running the same command, and
//! those it exchanges data with over established connections on this host
//! (`runner processes --related PID`, the Live Processes page).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::snapshot::connections::{Connection, Direction, Protocol, SocketState};
use crate::snapshot::{ProcessRow, ProcessSnapshot};
use crate::views::process::find;

/// What PID is related to.
pub struct Related<'a> {
    pub process: &'a ProcessRow,
    /// Other processes of the same executable, or of the same name started
    /// as the same `argv[0]`.
    pub same_command: Vec<&'a ProcessRow>,
    /// The processes at the other end of connections PID opened.
    pub talks_to: Vec<Peer<'a>>,
    /// The processes at the other end of connections PID accepted.
    pub talked_to_by: Vec<Peer<'a>>,
    /// PID's established connections whose other end is no process of the
    /// snapshot: another host, or a process the runner may not read.
    pub elsewhere: usize,
}

/// A process at the other end of some of PID's connections; most
/// connections first, then by pid.
pub struct Peer<'a> {
    pub process: &'a ProcessRow,
    pub connections: usize,
}

/// What `pid` is related to in `snapshot` (read with connections, or its
/// peers are empty); `None` when it has no such process.
pub fn find_related(snapshot: &ProcessSnapshot, pid: u32) -> Option<Related<'_>> {
    find_related_in(snapshot, &Established::of(snapshot), pid)
}

/// [`find_related`], with the snapshot's established connections already
/// indexed.
pub fn find_related_in<'a>(
    snapshot: &'a ProcessSnapshot,
    established: &Established<'a>,
    pid: u32,
) -> Option<Related<'a>> {
    let process = find(snapshot, pid)?;
    let same_command = snapshot
        .processes
        .iter()
        .filter(|other| other.pid != pid && same_command(process, other))
        .collect();
    let mut talks_to = BTreeMap::new();
    let mut talked_to_by = BTreeMap::new();
    let mut elsewhere = 0;
    for own in established.of_process(pid) {
        let Some(other_end) = established.other_end(own) else {
            elsewhere += 1;
            continue;
        };
        let peers = match own.direction {
            Direction::Incoming => &mut talked_to_by,
            Direction::Outgoing | Direction::Listening => &mut talks_to,
        };
        // A process talking to itself over loopback is no peer of its own.
        for &peer in other_end.pids.iter().filter(|&&p| p != pid) {
            *peers.entry(peer).or_insert(0) += 1;
        }
    }
    Some(Related {
        process,
        same_command,
        talks_to: peers(snapshot, talks_to),
        talked_to_by: peers(snapshot, talked_to_by),
        elsewhere,
    })
}

/// Same executable, or (when the executable is unknown or differs) same
/// name started as the same `argv[0]`.
fn same_command(a: &ProcessRow, b: &ProcessRow) -> bool {
    (a.exe.is_some() && a.exe == b.exe)
        || (a.name == b.name && a.cmdline.first() == b.cmdline.first())
}

/// The established connections of a snapshot, each findable by its ends
/// so that the other end of a connection on this host can be looked up.
pub struct Established<'a> {
    rows: Vec<&'a Connection>,
    by_ends: HashMap<Ends, &'a Connection>,
}

impl<'a> Established<'a> {
    /// Those of `snapshot` (empty when it was read without connections).
    pub fn of(snapshot: &'a ProcessSnapshot) -> Self {
        let rows: Vec<&Connection> = snapshot
            .connections
            .iter()
            .flat_map(|c| &c.rows)
            .filter(|c| c.state == SocketState::Established)
            .collect();
        let by_ends = rows.iter().map(|c| (ends(c), *c)).collect();
        Self { rows, by_ends }
    }

    /// The established connections `pid` holds.
    pub fn of_process(&self, pid: u32) -> impl Iterator<Item = &'a Connection> + '_ {
        self.rows
            .iter()
            .copied()
            .filter(move |c| c.pids.contains(&pid))
    }

    /// The socket at the other end of `own`, when it is on this host and
    /// some readable process holds it.
    pub fn other_end(&self, own: &Connection) -> Option<&'a Connection> {
        let (protocol, local, remote) = ends(own);
        self.by_ends
            .get(&(protocol, remote, local))
            .copied()
            .filter(|c| !c.pids.is_empty())
    }
}

/// A connection's protocol, local and remote end. IPv4-mapped IPv6
/// addresses are made IPv4: a client on `127.0.0.1` talks to a server on
/// `[::]` through a socket the server sees as `[::ffff:127.0.0.1]`.
type Ends = (Protocol, SocketAddr, SocketAddr);

fn ends(c: &Connection) -> Ends {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    (c.protocol, canonical(c.local), canonical(c.remote))
}

/// Peers with their rows, most connections first; pids that exited since
/// their sockets were read are left out.
fn peers(snapshot: &ProcessSnapshot, counts: BTreeMap<u32, usize>) -> Vec<Peer<'_>> {
    let mut peers: Vec<Peer> = counts
        .into_iter()
        .filter_map(|(pid, connections)| {
            find(snapshot, pid).map(|process| Peer {
                process,
                connections,
            })
        })
        .collect();
    peers.sort_by(|a, b| (b.connections, a.process.pid).cmp(&(a.connections, b.process.pid)));
    peers
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snapshot::connections::{Connections, Source};
    use crate::views::process::tests::{row, snapshot};

    /// A TCP socket with empty queues, held by `pids`.
    pub(crate) fn socket(
        state: SocketState,
        direction: Direction,
        local: &str,
        remote: &str,
        pids: &[u32],
    ) -> Connection {
        Connection {
            protocol: Protocol::Tcp,
            state,
            direction,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            rx_queue: 0,
            tx_queue: 0,
            uid: 0,
            inode: 1,
            pids: pids.to_vec(),
        }
    }

    use Direction::{Incoming, Listening, Outgoing};
    use SocketState::{Established, Listen, TimeWait};

    /// An app (pid 10, and its twin 11) using postgres (20) twice and
    /// redis (30) once over loopback, one of the postgres connections
    /// through postgres's IPv6 wildcard socket; a client (40) calling the
    /// app; the app calling another host; and the app talking to itself.
    fn host() -> ProcessSnapshot {
        let rows = [
            socket(Listen, Listening, "0.0.0.0:8080", "0.0.0.0:0", &[10, 11]),
            socket(Listen, Listening, "[::]:5432", "[::]:0", &[20]),
            socket(Listen, Listening, "127.0.0.1:6379", "0.0.0.0:0", &[30]),
            // app -> postgres, twice, once over IPv4 to the IPv6 socket
            socket(
                Established,
                Outgoing,
                "127.0.0.1:40001",
                "127.0.0.1:5432",
                &[10],
            ),
            socket(
                Established,
                Incoming,
                "[::ffff:127.0.0.1]:5432",
                "[::ffff:127.0.0.1]:40001",
                &[20],
            ),
            socket(Established, Outgoing, "[::1]:40002", "[::1]:5432", &[10]),
            socket(Established, Incoming, "[::1]:5432", "[::1]:40002", &[20]),
            // app -> redis
            socket(
                Established,
                Outgoing,
                "127.0.0.1:40003",
                "127.0.0.1:6379",
                &[10],
            ),
            socket(
                Established,
                Incoming,
                "127.0.0.1:6379",
                "127.0.0.1:40003",
                &[30],
            ),
            // client -> app
            socket(
                Established,
                Outgoing,
                "127.0.0.1:50000",
                "127.0.0.1:8080",
                &[40],
            ),
            socket(
                Established,
                Incoming,
                "127.0.0.1:8080",
                "127.0.0.1:50000",
                &[10],
            ),
            // app -> another host
            socket(
                Established,
                Outgoing,
                "10.0.0.2:40004",
                "192.0.2.7:443",
                &[10],
            ),
            // app -> app (its own loopback connection)
            socket(
                Established,
                Outgoing,
                "127.0.0.1:40005",
                "127.0.0.1:8080",
                &[10],
            ),
            socket(
                Established,
                Incoming,
                "127.0.0.1:8080",
                "127.0.0.1:40005",
                &[10],
            ),
            // a closed connection of the app to postgres: not a peer now
            socket(TimeWait, Outgoing, "127.0.0.1:40006", "127.0.0.1:5432", &[]),
        ];
        let mut snapshot = snapshot(vec![
            row(10, &["/srv/app/bin/app", "--port=8080"]),
            row(11, &["/srv/app/bin/app", "--port=8081"]),
            row(20, &["/usr/lib/postgresql/15/bin/postgres"]),
            row(30, &["redis-server"]),
            row(40, &["curl", "localhost:8080"]),
        ]);
        snapshot.connections = Some(Arc::new(Connections {
            source: Source::Netlink,
            rows: rows.to_vec(),
        }));
        snapshot
    }

    fn pids(peers: &[Peer]) -> Vec<(u32, usize)> {
        peers
            .iter()
            .map(|p| (p.process.pid, p.connections))
            .collect()
    }

    #[test]
    fn peers_are_the_other_ends_of_established_connections() {
        let host = host();
        let app = find_related(&host, 10).unwrap();
        assert_eq!(app.process.pid, 10);
        assert_eq!(pids(&app.talks_to), [(20, 2), (30, 1)]);
        assert_eq!(pids(&app.talked_to_by), [(40, 1)]);
        // 192.0.2.7:443
        assert_eq!(app.elsewhere, 1);

        let postgres = find_related(&host, 20).unwrap();
        assert!(postgres.talks_to.is_empty());
        assert_eq!(pids(&postgres.talked_to_by), [(10, 2)]);
        assert_eq!(postgres.elsewhere, 0);

        let client = find_related(&host, 40).unwrap();
        assert_eq!(pids(&client.talks_to), [(10, 1)]);
    }

    #[test]
    fn same_command_is_same_executable_or_name_and_argv0() {
        let mut host = host();
        let app = find_related(&host, 10).unwrap();
        let same: Vec<u32> = app.same_command.iter().map(|p| p.pid).collect();
        assert_eq!(same, [11]);
        assert!(find_related(&host, 20).unwrap().same_command.is_empty());

        // Unknown executables (another user's processes): name and argv[0].
        for row in &mut host.processes {
            row.exe = None;
        }
        let same: Vec<u32> = find_related(&host, 11)
            .unwrap()
            .same_command
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(same, [10]);
        host.processes[1].cmdline = Arc::from(vec!["/opt/other/app".to_string()]);
        assert!(find_related(&host, 10).unwrap().same_command.is_empty());
    }

    #[test]
    fn without_connections_there_are_no_peers() {
        let mut host = host();
        host.connections = None;
        let app = find_related(&host, 10).unwrap();
        assert!(app.talks_to.is_empty() && app.talked_to_by.is_empty());
        assert_eq!(app.elsewhere, 0);
        assert!(find_related(&host, 99).is_none());
    }

    #[test]
    fn sockets_without_a_readable_owner_are_elsewhere() {
        let mut host = host();
        let mut connections = (**host.connections.as_ref().unwrap()).clone();
        // Redis's end of the app's connection: held by a process the runner
        // may not read.
        for c in &mut connections.rows {
            if c.local.port() == 6379 {
                c.pids.clear();
            }
        }
        host.connections = Some(Arc::new(connections));
        let app = find_related(&host, 10).unwrap();
        assert_eq!(pids(&app.talks_to), [(20, 2)]);
        assert_eq!(app.elsewhere, 2);
    }
}
