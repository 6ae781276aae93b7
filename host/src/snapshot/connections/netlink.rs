//! Socket dumps through NETLINK_SOCK_DIAG (inet_diag), as `ss` reads them:
//! one request per (protocol, address family), answered with a binary
//! record per socket; far cheaper than the kernel formatting the
//! `/proc/net` text tables. Sees the network namespace of the calling
//! thread only.

use std::io;
use std::os::fd::AsRawFd;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkHeader,
    NetlinkMessage, Parseable,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
};
use netlink_sys::{
    Socket as NetlinkSocket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG,
};

use super::{Protocol, Socket, SocketState};

/// Receive buffer: the kernel fills each datagram of a dump up to the
/// buffer's size (capped near 32 KiB), so this never truncates one.
const RECV_BUFFER: usize = 64 * 1024;

/// How long to wait for the kernel's next datagram before giving up (the
/// caller then falls back to `/proc/net`); a dump answers in milliseconds.
const RECV_TIMEOUT_SECS: libc::time_t = 5;

/// Every TCP and UDP socket, IPv4 and IPv6, of the caller's network
/// namespace, in all states.
pub(super) fn dump() -> io::Result<Vec<Socket>> {
    let mut socket = NetlinkSocket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    set_recv_timeout(&socket)?;
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut sockets = Vec::new();
    let mut sequence = 0;
    for (protocol, ip_protocol) in [(Protocol::Tcp, IPPROTO_TCP), (Protocol::Udp, IPPROTO_UDP)] {
        for family in [AF_INET, AF_INET6] {
            sequence += 1;
            request(&socket, sequence, family, ip_protocol)?;
            receive(&socket, &mut buf, protocol, &mut sockets)?;
        }
    }
    Ok(sockets)
}

fn set_recv_timeout(socket: &NetlinkSocket) -> io::Result<()> {
    let timeout = libc::timeval {
        tv_sec: RECV_TIMEOUT_SECS,
        tv_usec: 0,
    };
    // SAFETY: a valid socket fd and a timeval of the size passed.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for a dump of every socket of one family and protocol.
fn request(socket: &NetlinkSocket, sequence: u32, family: u8, protocol: u8) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = sequence;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            // With SYN_RECV the kernel also reports NEW_SYN_RECV request
            // sockets (as SYN_RECV), so these are all states.
            states: StateFlags::all(),
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    socket.send(&bytes, 0)?;
    Ok(())
}

/// Reads the answer to one request until `NLMSG_DONE`, appending a
/// [`Socket`] per record. Only each record's fixed header is decoded:
/// no attributes were asked for, so there is nothing else to read.
fn receive(
    socket: &NetlinkSocket,
    buf: &mut [u8],
    protocol: Protocol,
    sockets: &mut Vec<Socket>,
) -> io::Result<()> {
    loop {
        let received = socket.recv(&mut &mut buf[..], 0)?;
        let mut datagram = &buf[..received.min(buf.len())];
        while !datagram.is_empty() {
            let message = NetlinkBuffer::new_checked(datagram).map_err(invalid)?;
            match message.message_type() {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    // The payload starts with the negated errno.
                    let code = message
                        .payload()
                        .first_chunk::<4>()
                        .map_or(libc::EIO, |bytes| -i32::from_ne_bytes(*bytes));
                    return Err(io::Error::from_raw_os_error(code));
                }
                SOCK_DIAG_BY_FAMILY => {
                    let header = InetResponseHeader::parse(message.payload()).map_err(invalid)?;
                    sockets.extend(to_socket(protocol, &header));
                }
                _ => {}
            }
            // Messages are padded to 4 bytes.
            let next = (message.length() as usize).next_multiple_of(4);
            datagram = datagram.get(next..).unwrap_or_default();
        }
    }
}

fn invalid(error: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("inet_diag answer: {error}"),
    )
}

/// `None` for a state number this code does not know (a newer kernel's).
fn to_socket(protocol: Protocol, header: &InetResponseHeader) -> Option<Socket> {
    let id = &header.socket_id;
    Some(Socket {
        protocol,
        state: SocketState::from_kernel(header.state)?,
        local: (id.source_address, id.source_port).into(),
        remote: (id.destination_address, id.destination_port).into(),
        rx_queue: header.recv_queue,
        tx_queue: header.send_queue,
        uid: header.uid,
        inode: header.inode.into(),
    })
}
