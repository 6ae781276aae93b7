//! Every TCP and UDP socket of the host, IPv4 and IPv6, with the pids that
//! own them: the connection half of a snapshot.
//!
//! [`read`] dumps the sockets through netlink (`netlink`), or the
//! `/proc/net` tables (`procnet`), finds their owners by walking the
//! processes' fd directories (`owners`) and tells each one's direction from
//! the listening ports (`direction`); `query` answers the questions of
//! checks and the CLI about one read.

mod direction;
mod netlink;
mod owners;
pub use owners::OwnerCache;
mod procnet;
mod query;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use query::{
    ConnectionQuery, ConnectionQueryError, MAX_QUERY_PIDS, MAX_QUERY_STATES, RemoteGroup,
};

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Kernel socket state (`include/net/tcp_states.h`), as `ss` names them.
/// A UDP socket is [`Established`](Self::Established) when connected and
/// [`Close`](Self::Close) (`UNCONN` in `ss`) otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
}

/// Which way a connection was opened, judged as Datadog does from the
/// host's listening ports: a connection whose local port is one this host
/// listens on (same protocol, on that address or a wildcard) is incoming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// A listening TCP socket, or an unconnected UDP socket bound to a port.
    Listening,
    /// Accepted from a remote peer.
    Incoming,
    /// Opened by this host.
    Outgoing,
}

/// One socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub protocol: Protocol,
    pub state: SocketState,
    pub direction: Direction,
    /// Local address and port (IPv4-mapped IPv6 addresses are kept as the
    /// kernel reports them).
    pub local: SocketAddr,
    /// Remote address and port; unspecified with port 0 when not connected.
    pub remote: SocketAddr,
    /// Bytes queued for reading (for a listener: connections waiting to be
    /// accepted).
    pub rx_queue: u32,
    /// Bytes queued for sending (for a listener: the backlog).
    pub tx_queue: u32,
    /// Owner uid of the socket.
    pub uid: u32,
    /// Socket inode (0 for sockets without one, e.g. in TIME_WAIT).
    pub inode: u64,
    /// Processes holding the socket open, sorted; empty when no readable
    /// process holds it (TIME_WAIT, or another user's process while the
    /// runner is unprivileged).
    pub pids: Vec<u32>,
}

/// Where [`Connections`] were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// NETLINK_SOCK_DIAG, as `ss` reads them.
    Netlink,
    /// The `/proc/net/{tcp,tcp6,udp,udp6}` tables.
    ProcNet,
}

/// Every socket of one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connections {
    pub source: Source,
    /// Sorted by protocol, local address, remote address.
    pub rows: Vec<Connection>,
}

impl Protocol {
    /// `"tcp"` or `"udp"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

impl SocketState {
    /// The state of a kernel state number (`TCP_ESTABLISHED` = 1 ...
    /// `TCP_NEW_SYN_RECV` = 12); `None` for numbers newer kernels may add.
    pub fn from_kernel(state: u8) -> Option<Self> {
        Some(match state {
            1 => Self::Established,
            2 => Self::SynSent,
            3 => Self::SynRecv,
            4 => Self::FinWait1,
            5 => Self::FinWait2,
            6 => Self::TimeWait,
            7 => Self::Close,
            8 => Self::CloseWait,
            9 => Self::LastAck,
            10 => Self::Listen,
            11 => Self::Closing,
            12 => Self::NewSynRecv,
            _ => return None,
        })
    }

    /// The name `ss` prints (`ESTAB`, `LISTEN`, `UNCONN` for a closed or
    /// unconnected socket, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Established => "ESTAB",
            Self::SynSent => "SYN-SENT",
            Self::SynRecv => "SYN-RECV",
            Self::FinWait1 => "FIN-WAIT-1",
            Self::FinWait2 => "FIN-WAIT-2",
            Self::TimeWait => "TIME-WAIT",
            Self::Close => "UNCONN",
            Self::CloseWait => "CLOSE-WAIT",
            Self::LastAck => "LAST-ACK",
            Self::Listen => "LISTEN",
            Self::Closing => "CLOSING",
            Self::NewSynRecv => "NEW-SYN-RECV",
        }
    }

    /// The snake_case form for metric tags (`established`, `syn_sent`,
    /// `close`, `listen`, ...): the kernel's names, lower case.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Established => "established",
            Self::SynSent => "syn_sent",
            Self::SynRecv => "syn_recv",
            Self::FinWait1 => "fin_wait1",
            Self::FinWait2 => "fin_wait2",
            Self::TimeWait => "time_wait",
            Self::Close => "close",
            Self::CloseWait => "close_wait",
            Self::LastAck => "last_ack",
            Self::Listen => "listen",
            Self::Closing => "closing",
            Self::NewSynRecv => "new_syn_recv",
        }
    }
}

/// One socket as the kernel reports it, before its direction and owners
/// are known.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Socket {
    protocol: Protocol,
    state: SocketState,
    local: SocketAddr,
    remote: SocketAddr,
    rx_queue: u32,
    tx_queue: u32,
    uid: u32,
    inode: u64,
}

impl Socket {
    fn into_connection(self, direction: Direction, pids: Vec<u32>) -> Connection {
        Connection {
            protocol: self.protocol,
            state: self.state,
            direction,
            local: self.local,
            remote: self.remote,
            rx_queue: self.rx_queue,
            tx_queue: self.tx_queue,
            uid: self.uid,
            inode: self.inode,
            pids,
        }
    }
}

/// The runner's own proc file system, for its own network namespace.
const OWN_PROC: &str = "/proc";

/// Reads every TCP and UDP socket of the host seen through `proc_root`,
/// with the owners among `pids` (blocking: a netlink dump or four table
/// reads, and a walk of each pid's fd directory).
///
/// Netlink answers for the network namespace of the runner itself. When
/// `proc_root` is not `/proc` (the host's proc mounted in the runner's
/// container, e.g. `/host/proc`), the host's namespace is the one of its
/// pid 1; unless that is the runner's own (same `ns/net` inode, e.g. a
/// container on the host network), the sockets come from
/// `<proc_root>/1/net/{tcp,tcp6,udp,udp6}` instead. Netlink failing (e.g.
/// forbidden by a seccomp profile) also falls back to those tables
/// (`/proc/net/*` for `/proc`); the result's [`Connections::source`] tells
/// which was read.
pub fn read(proc_root: &Path, pids: &[u32]) -> anyhow::Result<Connections> {
    let processes: Vec<(u32, u64)> = pids.iter().map(|&pid| (pid, 0)).collect();
    let (source, sockets) = read_sockets(proc_root)?;
    Ok(Connections::assemble(
        source, sockets, proc_root, &processes, None,
    ))
}

/// As [`read`], for `processes` given as (pid, start time) pairs (any
/// number that changes when a pid is reused), walking only the fd
/// directories whose descriptor count changed since the refresh that
/// filled `cache` (see [`OwnerCache`]).
pub fn read_cached(
    proc_root: &Path,
    processes: &[(u32, u64)],
    cache: &mut OwnerCache,
) -> anyhow::Result<Connections> {
    let (source, sockets) = read_sockets(proc_root)?;
    Ok(Connections::assemble(
        source,
        sockets,
        proc_root,
        processes,
        Some(cache),
    ))
}

fn read_sockets(proc_root: &Path) -> anyhow::Result<(Source, Vec<Socket>)> {
    let own = proc_root == Path::new(OWN_PROC);
    if own || same_network_namespace(proc_root) {
        match netlink::dump() {
            Ok(sockets) => return Ok((Source::Netlink, sockets)),
            Err(error) => {
                tracing::debug!("netlink socket dump failed, reading the /proc/net tables: {error}")
            }
        }
    }
    let net_dir = if own {
        proc_root.join("net")
    } else {
        proc_root.join("1/net")
    };
    Ok((Source::ProcNet, procnet::read(&net_dir)?))
}

/// Whether pid 1 of `proc_root` is in the runner's network namespace.
fn same_network_namespace(proc_root: &Path) -> bool {
    let own = std::fs::metadata(Path::new(OWN_PROC).join("self/ns/net"));
    let host = std::fs::metadata(proc_root.join("1/ns/net"));
    match (own, host) {
        (Ok(own), Ok(host)) => (own.dev(), own.ino()) == (host.dev(), host.ino()),
        _ => false,
    }
}

impl Connections {
    /// Rows for `sockets`, with their directions and their owners among
    /// `pids`, sorted.
    fn assemble(
        source: Source,
        sockets: Vec<Socket>,
        proc_root: &Path,
        processes: &[(u32, u64)],
        cache: Option<&mut OwnerCache>,
    ) -> Self {
        let listeners = direction::Listeners::of(&sockets);
        // Sockets without an inode (TIME_WAIT, request sockets) have no owner.
        let mut owners: HashMap<u64, Vec<u32>> = sockets
            .iter()
            .filter(|s| s.inode != 0)
            .map(|s| (s.inode, Vec::new()))
            .collect();
        owners::fill(proc_root, processes, &mut owners, cache);
        let mut rows: Vec<Connection> = sockets
            .into_iter()
            .map(|s| {
                let mut pids = owners.remove(&s.inode).unwrap_or_default();
                pids.sort_unstable();
                pids.dedup();
                let direction = listeners.direction(&s);
                s.into_connection(direction, pids)
            })
            .collect();
        rows.sort_unstable_by_key(|c| (c.protocol, c.local, c.remote, c.state, c.inode));
        Self { source, rows }
    }
}
