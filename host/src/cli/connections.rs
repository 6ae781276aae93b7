//! `runner connections`: the host's TCP and UDP sockets with the processes
//! holding them, like `ss -tuanp`, or as JSON. Columns and JSON fields:
//! docs/processes.md.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::snapshot_source::{self, ConnectionQuery};
use super::{report, table, write_stdout};
use crate::cmdline_scrub::Scrubber;
use crate::config::RunnerConfig;
use crate::snapshot::connections::{Connection, Direction, Protocol, SocketState};
use crate::snapshot::{FieldSet, ProcessSnapshot};
use crate::views::process::{self as process_view, find};

pub const AFTER_HELP: &str = "\
Examples:
  runner connections                   every TCP and UDP socket
  runner connections --listening       listening ports, and who holds them
  runner connections --port 5432       sockets on port 5432, either end
  runner connections --pid 1234 -t     the TCP sockets of process 1234
  runner connections --state established --direction incoming
                                       connections accepted from peers
  runner connections --json            every field, as a JSON array

Columns are ss's: Netid, State (ESTAB, LISTEN, UNCONN, TIME-WAIT, ...),
Recv-Q and Send-Q (bytes queued; for a listener, connections waiting to be
accepted and the backlog), the local and the peer address (IPv6 in brackets,
`*` for no port), then each process holding the socket as name(pid),user,
and the command line (scrubbed) of the first. A socket no readable process
holds (TIME-WAIT, or another user's when not run as root) shows `-`.";

#[derive(Debug, Args)]
pub struct ConnectionsArgs {
    /// Only sockets held by this process; repeat for several.
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,

    /// Only sockets with this local or peer port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only listening sockets: TCP in LISTEN, UDP bound but not connected.
    /// (`-l` is the runner's --log-level.)
    #[arg(long, visible_alias = "listen")]
    pub listening: bool,

    /// Only sockets in this state (ss's names); repeat for several.
    #[arg(long, value_enum, value_name = "STATE")]
    pub state: Vec<StateArg>,

    /// Only sockets opened this way.
    #[arg(long, value_enum, value_name = "DIRECTION")]
    pub direction: Option<DirectionArg>,

    /// Only TCP sockets.
    #[arg(short, long, conflicts_with = "udp")]
    pub tcp: bool,

    /// Only UDP sockets.
    #[arg(short, long)]
    pub udp: bool,

    /// Print a JSON array of sockets with every field.
    #[arg(long)]
    pub json: bool,
}

/// `--state`, as `ss state ...` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    #[value(alias = "estab")]
    Established,
    SynSent,
    SynRecv,
    #[value(name = "fin-wait-1")]
    FinWait1,
    #[value(name = "fin-wait-2")]
    FinWait2,
    TimeWait,
    /// UDP not connected (`UNCONN`), or TCP closed.
    #[value(alias = "unconn", alias = "close")]
    Closed,
    CloseWait,
    LastAck,
    #[value(alias = "listen")]
    Listening,
    Closing,
}

impl From<StateArg> for SocketState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Established => SocketState::Established,
            StateArg::SynSent => SocketState::SynSent,
            StateArg::SynRecv => SocketState::SynRecv,
            StateArg::FinWait1 => SocketState::FinWait1,
            StateArg::FinWait2 => SocketState::FinWait2,
            StateArg::TimeWait => SocketState::TimeWait,
            StateArg::Closed => SocketState::Close,
            StateArg::CloseWait => SocketState::CloseWait,
            StateArg::LastAck => SocketState::LastAck,
            StateArg::Listening => SocketState::Listen,
            StateArg::Closing => SocketState::Closing,
        }
    }
}

/// `--direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// Listening sockets.
    Listening,
    /// Accepted from a peer.
    Incoming,
    /// Opened by this host.
    Outgoing,
}

impl From<DirectionArg> for Direction {
    fn from(direction: DirectionArg) -> Self {
        match direction {
            DirectionArg::Listening => Direction::Listening,
            DirectionArg::Incoming => Direction::Incoming,
            DirectionArg::Outgoing => Direction::Outgoing,
        }
    }
}

impl ConnectionsArgs {
    fn query(&self) -> ConnectionQuery {
        ConnectionQuery {
            pids: (!self.pids.is_empty()).then(|| self.pids.clone()),
            port: self.port,
            states: self.state.iter().map(|&s| s.into()).collect(),
            listening_only: self.listening,
            direction: self.direction.map(Direction::from),
            protocol: match (self.tcp, self.udp) {
                (true, false) => Some(Protocol::Tcp),
                (false, true) => Some(Protocol::Udp),
                _ => None,
            },
        }
    }
}

/// Run the verb; returns the process exit code.
pub fn execute(runner: &RunnerConfig, args: &ConnectionsArgs) -> i32 {
    let fields = FieldSet {
        connections: true,
        ..FieldSet::NONE
    };
    let read = snapshot_source::read(
        snapshot_source::settings(runner, false),
        fields,
        std::time::Duration::ZERO,
    );
    let snapshot = match read {
        Ok(snapshot) => snapshot,
        Err(e) => {
            report("Error", format_args!("reading the connections: {e:#}"));
            return 1;
        }
    };
    let Some(connections) = &snapshot.connections else {
        report("Error", "the snapshot has no connections");
        return 1;
    };
    let sockets = match connections.query(&args.query()) {
        Ok(sockets) => sockets,
        Err(e) => {
            report("Error", e);
            return 2;
        }
    };
    let scrubber = snapshot_source::scrubber(runner);
    let output = if args.json {
        let rows: Vec<ConnectionJson> = sockets
            .iter()
            .map(|c| ConnectionJson::new(c, &snapshot, &scrubber))
            .collect();
        let mut json = serde_json::to_string_pretty(&rows).expect("the list serialises");
        json.push('\n');
        json
    } else {
        connection_table(&snapshot, &sockets, &scrubber)
    };
    if let Err(e) = write_stdout(&output) {
        report("Error", format_args!("writing the list: {e}"));
        return 1;
    }
    if !args.json {
        note_unowned(&sockets);
    }
    0
}

fn connection_table(
    snapshot: &ProcessSnapshot,
    sockets: &[&Connection],
    scrubber: &Scrubber,
) -> String {
    let header = [
        "Netid",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
        "Process",
        "Command",
    ];
    let rows: Vec<Vec<String>> = sockets
        .iter()
        .map(|c| {
            let owners: Vec<String> = c.pids.iter().map(|&pid| owner(snapshot, pid)).collect();
            let command = c
                .pids
                .iter()
                .find_map(|&pid| find(snapshot, pid))
                .map(|row| process_view::command(row, scrubber));
            vec![
                c.protocol.name().to_string(),
                c.state.name().to_string(),
                c.rx_queue.to_string(),
                c.tx_queue.to_string(),
                endpoint(c.local),
                endpoint(c.remote),
                if owners.is_empty() {
                    "-".to_string()
                } else {
                    owners.join(" ")
                },
                process_view::or_dash(command),
            ]
        })
        .collect();
    table::render_or_none(&header, &rows, table::stdout_width())
}

/// `name(pid),user`, as `ss -p` names the holder of a socket; `(pid)` for a
/// process that exited since its sockets were read.
fn owner(snapshot: &ProcessSnapshot, pid: u32) -> String {
    match find(snapshot, pid) {
        Some(row) => format!("{}({pid}),{}", row.name, process_view::user(row)),
        None => format!("({pid})"),
    }
}

/// `address:port` as `ss` writes it: IPv6 in brackets, `*` for port 0.
fn endpoint(address: SocketAddr) -> String {
    let text = address.to_string();
    match text.strip_suffix(":0") {
        Some(host) if address.port() == 0 => format!("{host}:*"),
        _ => text,
    }
}

/// Says why sockets show no process when that is for lack of privilege.
fn note_unowned(sockets: &[&Connection]) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    // Sockets without an inode (TIME-WAIT) have no holder for anyone.
    let hidden = sockets
        .iter()
        .filter(|c| c.pids.is_empty() && c.inode != 0)
        .count();
    if hidden > 0 {
        eprintln!(
            "Note: {hidden} socket(s) show no process: they are held by other users' \
             processes; run as root to see them."
        );
    }
}

/// A socket in `--json`. Field names are stable (docs/processes.md).
#[derive(Debug, Serialize)]
struct ConnectionJson<'a> {
    protocol: &'static str,
    state: &'static str,
    direction: &'static str,
    local_address: String,
    local_port: u16,
    remote_address: String,
    remote_port: u16,
    rx_queue: u32,
    tx_queue: u32,
    uid: u32,
    inode: u64,
    processes: Vec<OwnerJson<'a>>,
}

/// A process holding a socket; everything but the pid null when it exited
/// since its sockets were read.
#[derive(Debug, Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    name: Option<&'a str>,
    user: Option<&'a str>,
    /// Scrubbed.
    cmdline: Option<Vec<String>>,
}

impl<'a> ConnectionJson<'a> {
    fn new(c: &Connection, snapshot: &'a ProcessSnapshot, scrubber: &Scrubber) -> Self {
        let processes = c
            .pids
            .iter()
            .map(|&pid| {
                let row = find(snapshot, pid);
                OwnerJson {
                    pid,
                    name: row.map(|r| &*r.name),
                    user: row.and_then(|r| r.user.as_deref()),
                    cmdline: row.map(|r| r.scrubbed_cmdline(scrubber)),
                }
            })
            .collect();
        Self {
            protocol: c.protocol.name(),
            state: c.state.name(),
            direction: match c.direction {
                Direction::Listening => "listening",
                Direction::Incoming => "incoming",
                Direction::Outgoing => "outgoing",
            },
            local_address: c.local.ip().to_string(),
            local_port: c.local.port(),
            remote_address: c.remote.ip().to_string(),
            remote_port: c.remote.port(),
            rx_queue: c.rx_queue,
            tx_queue: c.tx_queue,
            uid: c.uid,
            inode: c.inode,
            processes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::process::tests::{row, snapshot};

    fn socket(local: &str, remote: &str, pids: &[u32]) -> Connection {
        Connection {
            rx_queue: 3,
            inode: 77,
            ..crate::views::related::tests::socket(
                SocketState::Established,
                Direction::Outgoing,
                local,
                remote,
                pids,
            )
        }
    }

    #[test]
    fn endpoints_read_like_ss() {
        assert_eq!(endpoint("127.0.0.1:80".parse().unwrap()), "127.0.0.1:80");
        assert_eq!(endpoint("0.0.0.0:0".parse().unwrap()), "0.0.0.0:*");
        assert_eq!(endpoint("[::1]:5432".parse().unwrap()), "[::1]:5432");
        assert_eq!(endpoint("[::]:0".parse().unwrap()), "[::]:*");
        assert_eq!(
            endpoint("[::ffff:10.0.0.1]:80".parse().unwrap()),
            "[::ffff:10.0.0.1]:80"
        );
    }

    #[test]
    fn rows_name_their_processes_and_escape_their_commands() {
        let mut app = row(10, &["/srv/app", "--secret=s3", "\u{1b}[2J"]);
        app.user = Some("www-data".into());
        let snapshot = snapshot(vec![app, row(11, &["/srv/app"])]);
        let sockets = [
            socket("127.0.0.1:40000", "[::1]:443", &[10, 11, 12]),
            socket("127.0.0.1:40001", "127.0.0.1:443", &[]),
        ];
        let refs: Vec<&Connection> = sockets.iter().collect();
        let out = connection_table(&snapshot, &refs, &Scrubber::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        let cells = |line: &str| -> Vec<String> {
            line.split("  ")
                .filter(|c| !c.is_empty())
                .map(|c| c.trim().to_string())
                .collect()
        };
        assert_eq!(
            cells(lines[1]),
            [
                "tcp",
                "ESTAB",
                "3",
                "0",
                "127.0.0.1:40000",
                "[::1]:443",
                "app(10),www-data app(11),root (12)",
                "/srv/app --secret=******** \\u{1b}[2J",
            ]
        );
        assert_eq!(cells(lines[2])[5..], ["127.0.0.1:443", "-", "-"]);
    }

    #[test]
    fn json_has_every_field() {
        let snapshot = snapshot(vec![row(10, &["/srv/app", "--password", "x"])]);
        let json = ConnectionJson::new(
            &socket("[::1]:40000", "[::1]:443", &[10, 12]),
            &snapshot,
            &Scrubber::default(),
        );
        assert_eq!(
            serde_json::to_value(&json).unwrap(),
            serde_json::json!({
                "protocol": "tcp",
                "state": "ESTAB",
                "direction": "outgoing",
                "local_address": "::1",
                "local_port": 40000,
                "remote_address": "::1",
                "remote_port": 443,
                "rx_queue": 3,
                "tx_queue": 0,
                "uid": 0,
                "inode": 77,
                "processes": [
                    {"pid": 10, "name": "app", "user": "root",
                     "cmdline": ["/srv/app", "--password", "********"]},
                    {"pid": 12, "name": null, "user": null, "cmdline": null},
                ],
            })
        );
    }

    #[test]
    fn flags_make_the_query() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from([
            "runner",
            "connections",
            "--pid",
            "1",
            "--pid",
            "2",
            "--port",
            "80",
            "--listening",
            "--state",
            "estab",
            "--state",
            "fin-wait-1",
            "--direction",
            "incoming",
            "-t",
        ])
        .unwrap();
        let crate::cli::Command::Connections(args) = cli.command else {
            panic!("not connections");
        };
        let q = args.query();
        assert_eq!(q.pids, Some(vec![1, 2]));
        assert_eq!(q.port, Some(80));
        assert!(q.listening_only);
        assert_eq!(q.states, [SocketState::Established, SocketState::FinWait1]);
        assert_eq!(q.direction, Some(Direction::Incoming));
        assert_eq!(q.protocol, Some(Protocol::Tcp));
        let all = ConnectionsArgs {
            pids: vec![],
            port: None,
            listening: false,
            state: vec![],
            direction: None,
            tcp: false,
            udp: false,
            json: false,
        }
        .query();
        assert_eq!(all.pids, None);
        assert_eq!(all.protocol, None);
    }
}
