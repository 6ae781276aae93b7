//! Which way each socket was opened, judged from the host's listening
//! ports (as Datadog does without eBPF): the kernel does not record it.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Direction, Protocol, Socket, SocketState};

/// Whether `socket` waits for peers: a TCP listener, or an unconnected UDP
/// socket bound to a port.
fn is_listening(socket: &Socket) -> bool {
    match socket.protocol {
        Protocol::Tcp => socket.state == SocketState::Listen,
        Protocol::Udp => socket.state == SocketState::Close && socket.local.port() != 0,
    }
}

/// The ports the host listens on, by protocol and local address.
pub(super) struct Listeners(HashSet<(Protocol, IpAddr, u16)>);

impl Listeners {
    pub(super) fn of(sockets: &[Socket]) -> Self {
        let listening = sockets.iter().filter(|s| is_listening(s));
        Self(
            listening
                .map(|s| (s.protocol, s.local.ip(), s.local.port()))
                .collect(),
        )
    }

    /// Listening for a listening socket; Incoming when its local port is
    /// listened on (same protocol) on its own address or on the wildcard
    /// of its family (which, for IPv6, also accepts IPv4-mapped peers);
    /// Outgoing otherwise.
    pub(super) fn direction(&self, socket: &Socket) -> Direction {
        if is_listening(socket) {
            return Direction::Listening;
        }
        let (protocol, ip, port) = (socket.protocol, socket.local.ip(), socket.local.port());
        let wildcard = match ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        if self.0.contains(&(protocol, ip, port)) || self.0.contains(&(protocol, wildcard, port)) {
            Direction::Incoming
        } else {
            Direction::Outgoing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::socket;
    use super::*;

    #[test]
    fn directions_follow_the_listening_ports() {
        use Protocol::{Tcp, Udp};
        use SocketState::{Close, Established, Listen, TimeWait};
        let sockets = [
            socket(Tcp, Listen, "127.0.0.1:8080", "0.0.0.0:0"),
            socket(Tcp, Listen, "[::]:443", "[::]:0"),
            socket(Udp, Close, "0.0.0.0:53", "0.0.0.0:0"),
            // Accepted on 127.0.0.1:8080, and its client.
            socket(Tcp, Established, "127.0.0.1:8080", "127.0.0.1:40000"),
            socket(Tcp, Established, "127.0.0.1:40000", "127.0.0.1:8080"),
            // Same port on another address: not the listener's.
            socket(Tcp, Established, "10.0.0.1:8080", "10.0.0.2:5000"),
            // Accepted by the IPv6 wildcard, from an IPv4 peer.
            socket(
                Tcp,
                TimeWait,
                "[::ffff:10.0.0.1]:443",
                "[::ffff:10.0.0.2]:5001",
            ),
            // TCP on a UDP listening port is not incoming.
            socket(Tcp, Established, "10.0.0.1:53", "10.0.0.3:80"),
            socket(Udp, Established, "10.0.0.1:53", "10.0.0.3:6000"),
            socket(Udp, Established, "10.0.0.1:6001", "10.0.0.3:53"),
        ];
        let listeners = Listeners::of(&sockets);
        let directions: Vec<_> = sockets.iter().map(|s| listeners.direction(s)).collect();
        use Direction::{Incoming, Listening, Outgoing};
        assert_eq!(
            directions,
            [
                Listening, Listening, Listening, Incoming, Outgoing, Outgoing, Incoming, Outgoing,
                Incoming, Outgoing
            ]
        );
    }
}
