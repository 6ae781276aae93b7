//! Every TCP and UDP socket of the host, IPv4 and IPv6, with the pids that
//! own them: the connection half of a snapshot.

use std::net::SocketAddr;

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
