//! One process's sockets as the Live Processes page shows them: the ports
//! it listens on, and its established connections grouped by remote
//! endpoint (as the `connections` check groups them), each group with the
//! processes at the other end when they are on this host.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::related::Established;
use crate::snapshot::ProcessSnapshot;
use crate::snapshot::connections::{Direction, Protocol};

/// A port the process listens on (TCP) or is bound to (unconnected UDP).
#[derive(Debug, Serialize)]
pub struct Listening {
    pub protocol: &'static str,
    /// Address and port, `[::]:80` for IPv6.
    pub local: String,
    pub port: u16,
}

/// Established connections to one remote endpoint.
#[derive(Debug, Serialize)]
pub struct RemoteEndpoint<'a> {
    /// `ip:port` for outgoing connections; the address alone for incoming
    /// ones, whose remote ports are ephemeral.
    pub remote: String,
    pub protocol: &'static str,
    /// `incoming` or `outgoing`.
    pub direction: &'static str,
    pub count: u32,
    /// This process's ports in the group, sorted, each once.
    pub local_ports: Vec<u16>,
    /// The processes holding the other ends on this host, most
    /// connections first.
    pub remote_processes: Vec<RemoteProcess<'a>>,
    /// Connections of the group whose other end is no readable process
    /// here (another host, or a process the runner may not read).
    pub elsewhere: u32,
}

/// A process at the other end of some connections of a group.
#[derive(Debug, Serialize)]
pub struct RemoteProcess<'a> {
    pub pid: u32,
    pub name: &'a str,
    pub connections: u32,
}

/// What `pid` listens on, sorted by protocol and port.
pub fn listening(snapshot: &ProcessSnapshot, pid: u32) -> Vec<Listening> {
    let mut ports: Vec<(Protocol, SocketAddr)> = snapshot
        .connections
        .iter()
        .flat_map(|c| c.for_pid(pid))
        .filter(|c| c.direction == Direction::Listening)
        .map(|c| (c.protocol, c.local))
        .collect();
    ports.sort_by_key(|(protocol, local)| (*protocol, local.port(), *local));
    ports.dedup();
    ports
        .into_iter()
        .map(|(protocol, local)| Listening {
            protocol: protocol_name(protocol),
            local: local.to_string(),
            port: local.port(),
        })
        .collect()
}

/// `pid`'s established connections grouped by remote endpoint, largest
/// groups first.
pub fn by_remote<'a>(
    snapshot: &'a ProcessSnapshot,
    established: &Established<'a>,
    pid: u32,
) -> Vec<RemoteEndpoint<'a>> {
    let Some(connections) = &snapshot.connections else {
        return Vec::new();
    };
    connections
        .by_remote_with_rows(pid)
        .into_iter()
        .map(|(group, rows)| {
            let mut local_ports: Vec<u16> = rows.iter().map(|c| c.local.port()).collect();
            local_ports.sort_unstable();
            local_ports.dedup();
            let mut peers: BTreeMap<u32, u32> = BTreeMap::new();
            let mut elsewhere = 0;
            for own in &rows {
                match established.other_end(own) {
                    // A process talking to itself over loopback is its own peer.
                    Some(other) => {
                        let peer = other.pids.iter().find(|&&p| p != pid).unwrap_or(&pid);
                        *peers.entry(*peer).or_default() += 1;
                    }
                    None => elsewhere += 1,
                }
            }
            let mut remote_processes: Vec<RemoteProcess> = peers
                .into_iter()
                .filter_map(|(peer, connections)| {
                    super::process::find(snapshot, peer).map(|row| RemoteProcess {
                        pid: peer,
                        name: &row.name,
                        connections,
                    })
                })
                .collect();
            remote_processes.sort_by_key(|p| (std::cmp::Reverse(p.connections), p.pid));
            let remote = match group.remote_port {
                Some(port) => SocketAddr::new(group.remote_ip, port).to_string(),
                None => group.remote_ip.to_string(),
            };
            RemoteEndpoint {
                remote,
                protocol: protocol_name(group.protocol),
                direction: match group.direction {
                    Direction::Incoming => "incoming",
                    Direction::Outgoing | Direction::Listening => "outgoing",
                },
                count: group.count,
                local_ports,
                remote_processes,
                elsewhere,
            }
        })
        .collect()
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}
