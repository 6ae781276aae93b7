//! Reads of this machine's real sockets: loopback listeners, clients and
//! UDP sockets the tests own, checked against what they know of them and
//! against `ss`.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

/// A listener with clients connected and accepted, all in this process.
struct Server {
    listener: TcpListener,
    clients: Vec<TcpStream>,
    accepted: Vec<TcpStream>,
}

impl Server {
    fn start(address: &str, clients: usize) -> Self {
        let listener = TcpListener::bind(address).unwrap();
        let mut server = Self {
            clients: Vec::new(),
            accepted: Vec::new(),
            listener,
        };
        for _ in 0..clients {
            server
                .clients
                .push(TcpStream::connect(server.address()).unwrap());
            server.accepted.push(server.listener.accept().unwrap().0);
        }
        server
    }

    fn address(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }
}

/// A socket with no queued bytes, owned by uid 0, of inode 0 (as in
/// TIME_WAIT).
pub(super) fn socket(protocol: Protocol, state: SocketState, local: &str, remote: &str) -> Socket {
    Socket {
        protocol,
        state,
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
        rx_queue: 0,
        tx_queue: 0,
        uid: 0,
        inode: 0,
    }
}

fn me() -> u32 {
    std::process::id()
}

/// Reads with this process as the only owner looked for, until `done`
/// holds (loopback data and state changes land asynchronously), for at
/// most 2 s.
fn read_until(done: impl Fn(&Connections) -> bool) -> Connections {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let connections = read(Path::new("/proc"), &[me()]).unwrap();
        if done(&connections) || Instant::now() > deadline {
            return connections;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The one row of `protocol` from `local` to `remote`.
fn row(
    connections: &Connections,
    protocol: Protocol,
    local: SocketAddr,
    remote: SocketAddr,
) -> &Connection {
    let mut rows = connections
        .rows
        .iter()
        .filter(|c| c.protocol == protocol && c.local == local && c.remote == remote);
    let found = rows
        .next()
        .unwrap_or_else(|| panic!("no {local} -> {remote} row"));
    assert!(rows.next().is_none(), "two {local} -> {remote} rows");
    found
}

fn unspecified(address: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = if address.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    (ip, 0).into()
}

#[test]
fn tcp_listeners_clients_and_accepted_sockets_with_their_owner() {
    let servers = [Server::start("127.0.0.1:0", 3), Server::start("[::1]:0", 3)];
    let connections = read(Path::new("/proc"), &[me()]).unwrap();
    assert_eq!(connections.source, Source::Netlink);
    for server in &servers {
        let address = server.address();
        let listener = row(&connections, Protocol::Tcp, address, unspecified(address));
        assert_eq!(
            (listener.state, listener.direction, &listener.pids[..]),
            (SocketState::Listen, Direction::Listening, &[me()][..])
        );
        assert_ne!(listener.inode, 0);
        for (client, accepted) in server.clients.iter().zip(&server.accepted) {
            let client_address = client.local_addr().unwrap();
            let out = row(&connections, Protocol::Tcp, client_address, address);
            assert_eq!(
                (out.state, out.direction, &out.pids[..]),
                (SocketState::Established, Direction::Outgoing, &[me()][..])
            );
            assert_eq!(accepted.peer_addr().unwrap(), client_address);
            let inc = row(&connections, Protocol::Tcp, address, client_address);
            assert_eq!(
                (inc.state, inc.direction, &inc.pids[..]),
                (SocketState::Established, Direction::Incoming, &[me()][..])
            );
            assert_eq!(inc.uid, unsafe { libc::geteuid() });
        }
        let port = address.port();
        assert!(
            connections
                .listening_ports(me())
                .contains(&(Protocol::Tcp, port))
        );
        let groups = connections.by_remote(me());
        let outgoing = RemoteGroup {
            protocol: Protocol::Tcp,
            direction: Direction::Outgoing,
            remote_ip: address.ip(),
            remote_port: Some(port),
            local_port: None,
            count: 3,
        };
        let incoming = RemoteGroup {
            direction: Direction::Incoming,
            remote_port: None,
            local_port: Some(port),
            ..outgoing.clone()
        };
        assert!(groups.contains(&outgoing), "{groups:?}");
        assert!(groups.contains(&incoming), "{groups:?}");
    }
}

#[test]
fn udp_sockets_bound_and_connected() {
    let bound = UdpSocket::bind("127.0.0.1:0").unwrap();
    let connected = UdpSocket::bind("[::1]:0").unwrap();
    let peer = UdpSocket::bind("[::1]:0").unwrap();
    connected.connect(peer.local_addr().unwrap()).unwrap();
    let bound_address = bound.local_addr().unwrap();
    let connected_address = connected.local_addr().unwrap();

    let connections = read(Path::new("/proc"), &[me()]).unwrap();
    let unconn = row(
        &connections,
        Protocol::Udp,
        bound_address,
        unspecified(bound_address),
    );
    assert_eq!(
        (
            unconn.state,
            unconn.state.name(),
            unconn.direction,
            &unconn.pids[..]
        ),
        (
            SocketState::Close,
            "UNCONN",
            Direction::Listening,
            &[me()][..]
        )
    );
    let estab = row(
        &connections,
        Protocol::Udp,
        connected_address,
        peer.local_addr().unwrap(),
    );
    assert_eq!(
        (estab.state, estab.direction, &estab.pids[..]),
        (SocketState::Established, Direction::Outgoing, &[me()][..])
    );
    let ports = connections.listening_ports(me());
    assert!(ports.contains(&(Protocol::Udp, bound_address.port())));
    assert!(!ports.contains(&(Protocol::Udp, connected_address.port())));
}

#[test]
fn unread_bytes_show_in_the_receive_queue() {
    let mut server = Server::start("127.0.0.1:0", 1);
    server.clients[0].write_all(&[7; 100]).unwrap();
    let client = server.clients[0].local_addr().unwrap();
    let address = server.address();
    let connections = read_until(|c| row(c, Protocol::Tcp, address, client).rx_queue == 100);
    assert_eq!(
        row(&connections, Protocol::Tcp, address, client).rx_queue,
        100
    );
    // The client has nothing to read.
    assert_eq!(
        row(&connections, Protocol::Tcp, client, address).rx_queue,
        0
    );

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_address = udp.local_addr().unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(&[7; 10], udp_address)
        .unwrap();
    let unread =
        |c: &Connections| row(c, Protocol::Udp, udp_address, unspecified(udp_address)).rx_queue;
    // UDP counts the memory the datagram holds, more than its 10 bytes.
    assert!(unread(&read_until(|c| unread(c) > 0)) >= 10);
}

#[test]
fn an_actively_closed_connection_lingers_in_time_wait_without_owner() {
    let mut server = Server::start("127.0.0.1:0", 1);
    let client = server.clients[0].local_addr().unwrap();
    let address = server.address();
    // The side that closes first waits in TIME_WAIT.
    drop(server.clients.pop());
    drop(server.accepted.pop());
    let in_time_wait = |c: &Connections| {
        c.rows
            .iter()
            .any(|r| r.local == client && r.remote == address && r.state == SocketState::TimeWait)
    };
    let connections = read_until(in_time_wait);
    let closed = row(&connections, Protocol::Tcp, client, address);
    assert_eq!(
        (
            closed.state,
            closed.direction,
            closed.inode,
            closed.pids.len()
        ),
        (SocketState::TimeWait, Direction::Outgoing, 0, 0)
    );
    assert_eq!(closed.state.name(), "TIME-WAIT");
}

/// The sockets of `sockets` with an end at one of `ends` (a TCP and a UDP
/// socket may share an address), without their queues (a listener's
/// differ between the two sources).
fn endpoints(sockets: &[Socket], ends: &[(Protocol, SocketAddr)]) -> BTreeSet<String> {
    let at = |s: &Socket, address| ends.contains(&(s.protocol, address));
    sockets
        .iter()
        .filter(|s| at(s, s.local) || at(s, s.remote))
        .map(|s| {
            let (p, st, l, r, uid, inode) =
                (s.protocol, s.state, s.local, s.remote, s.uid, s.inode);
            format!("{p:?} {st:?} {l} {r} uid={uid} inode={inode}")
        })
        .collect()
}

#[test]
fn netlink_and_proc_net_agree() {
    let servers = [Server::start("127.0.0.1:0", 2), Server::start("[::1]:0", 2)];
    let udp = [
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("[::1]:0").unwrap(),
    ];
    let tcp_ends = servers.iter().map(|s| (Protocol::Tcp, s.address()));
    let udp_ends = udp.iter().map(|u| (Protocol::Udp, u.local_addr().unwrap()));
    let ends: Vec<_> = tcp_ends.chain(udp_ends).collect();

    let netlink = endpoints(&netlink::dump().unwrap(), &ends);
    let procnet = endpoints(&procnet::read(Path::new("/proc/net")).unwrap(), &ends);
    // A listener and 2 + 2 sockets per server, and the UDP sockets.
    assert_eq!(netlink.len(), 2 * 5 + 2, "{netlink:#?}");
    assert_eq!(netlink, procnet);
}

/// `ss -tanpH` rows (state, local, remote, pids) with an end at one of
/// `addresses`.
fn ss_rows(addresses: &[SocketAddr]) -> BTreeSet<(String, SocketAddr, SocketAddr, Vec<u32>)> {
    let output = Command::new("ss")
        .arg("-tanpH")
        .output()
        .expect("running ss");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    // ss writes a port it does not know as `*`.
    let address = |field: &str| field.replace(":*", ":0").parse::<SocketAddr>().ok();
    let mut rows = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote)) = (address(fields[3]), address(fields[4])) else {
            continue;
        };
        if !addresses.contains(&local) && !addresses.contains(&remote) {
            continue;
        }
        let mut pids: Vec<u32> = line
            .split("pid=")
            .skip(1)
            .map(|rest| rest.split(',').next().unwrap().parse().unwrap())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        rows.insert((fields[0].to_owned(), local, remote, pids));
    }
    rows
}

/// Every pid of this machine.
fn all_pids() -> Vec<u32> {
    let entries = std::fs::read_dir("/proc").unwrap();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn tcp_rows_and_owners_match_ss() {
    let servers = [Server::start("127.0.0.1:0", 2), Server::start("[::1]:0", 2)];
    let addresses: Vec<SocketAddr> = servers.iter().map(Server::address).collect();

    let connections = read(Path::new("/proc"), &all_pids()).unwrap();
    let ours: BTreeSet<_> = connections
        .rows
        .iter()
        .filter(|c| c.protocol == Protocol::Tcp)
        .filter(|c| addresses.contains(&c.local) || addresses.contains(&c.remote))
        .map(|c| (c.state.name().to_owned(), c.local, c.remote, c.pids.clone()))
        .collect();
    assert_eq!(ours.len(), 2 * 5);
    assert!(ours.iter().all(|(.., pids)| pids == &[me()]), "{ours:#?}");
    assert_eq!(ours, ss_rows(&addresses));
}

#[test]
fn another_proc_root_reads_the_tables_of_its_pid_1_and_its_fd_links() {
    let root = tempfile::tempdir().unwrap();
    let net = root.path().join("1/net");
    std::fs::create_dir_all(&net).unwrap();
    let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 0100007F:AB51 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 207242 1 0000000053822965 100 0 0 10 0
   2: 0100007F:E136 0100007F:AB51 01 00000000:00000000 00:00000000 00000000     0        0 207243 2 000000008bee042d 20 0 0 11 -1
";
    std::fs::write(net.join("tcp"), tcp).unwrap();
    std::fs::write(net.join("udp"), "  sl  local_address rem_address   st\n").unwrap();
    // Pid 42 holds the listener in two fds and a pipe; pid 7 the listener
    // too (a fork); pid 9 has no fd directory.
    for (pid, fd, target) in [
        (42, 3, "socket:[207242]"),
        (42, 4, "socket:[207242]"),
        (42, 5, "pipe:[99]"),
        (7, 3, "socket:[207242]"),
    ] {
        let fds = root.path().join(format!("{pid}/fd"));
        std::fs::create_dir_all(&fds).unwrap();
        std::os::unix::fs::symlink(target, fds.join(fd.to_string())).unwrap();
    }

    let connections = read(root.path(), &[42, 9, 7]).unwrap();
    assert_eq!(connections.source, Source::ProcNet);
    let summary: Vec<_> = connections
        .rows
        .iter()
        .map(|c| (c.local.port(), c.state, c.direction, c.pids.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                43857,
                SocketState::Listen,
                Direction::Listening,
                vec![7, 42]
            ),
            (57654, SocketState::Established, Direction::Outgoing, vec![]),
        ]
    );
}

#[test]
fn another_proc_root_in_our_network_namespace_reads_through_netlink() {
    // `/proc/self/..` is `/proc` under another name, as a bind mount would be.
    let root = Path::new("/proc/self/..");
    // Pid 1's namespace may be hidden from us (then it counts as another).
    let namespace = |path: &str| std::fs::read_link(path).ok();
    let same =
        namespace("/proc/1/ns/net").is_some_and(|n| Some(n) == namespace("/proc/self/ns/net"));
    let source = read(root, &[]).unwrap().source;
    assert_eq!(
        source,
        if same {
            Source::Netlink
        } else {
            Source::ProcNet
        }
    );
}

#[test]
fn state_and_protocol_names() {
    let named: Vec<_> = (0..=13)
        .filter_map(SocketState::from_kernel)
        .map(|s| (s.name(), s.tag()))
        .collect();
    assert_eq!(
        named,
        [
            ("ESTAB", "established"),
            ("SYN-SENT", "syn_sent"),
            ("SYN-RECV", "syn_recv"),
            ("FIN-WAIT-1", "fin_wait1"),
            ("FIN-WAIT-2", "fin_wait2"),
            ("TIME-WAIT", "time_wait"),
            ("UNCONN", "close"),
            ("CLOSE-WAIT", "close_wait"),
            ("LAST-ACK", "last_ack"),
            ("LISTEN", "listen"),
            ("CLOSING", "closing"),
            ("NEW-SYN-RECV", "new_syn_recv"),
        ]
    );
    assert_eq!((Protocol::Tcp.name(), Protocol::Udp.name()), ("tcp", "udp"));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// User and system CPU time of this thread so far.
fn thread_cpu() -> (Duration, Duration) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage to fill.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) },
        0
    );
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// `cargo test --release -p runner --lib snapshot::connections::tests::bench -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check: prints timings"]
fn bench_read_with_2000_loopback_connections() {
    let _server = Server::start("127.0.0.1:0", 2000);
    let pids = all_pids();
    let sockets = netlink::dump().unwrap();
    let runs = 11;
    let netlink = time(runs, || netlink::dump().unwrap());
    let procnet = time(runs, || procnet::read(Path::new("/proc/net")).unwrap());
    let walk = time(runs, || {
        let mut owned: HashMap<u64, Vec<u32>> =
            sockets.iter().map(|s| (s.inode, Vec::new())).collect();
        let processes: Vec<(u32, u64)> = pids.iter().map(|&pid| (pid, 0)).collect();
        owners::fill(Path::new("/proc"), &processes, &mut owned, None);
        owned
    });
    let (user_before, system_before) = thread_cpu();
    let full = time(runs, || read(Path::new("/proc"), &pids).unwrap());
    let (user_after, system_after) = thread_cpu();
    let (user, system) = (user_after - user_before, system_after - system_before);
    let ss = time(runs, || Command::new("ss").arg("-tanp").output().unwrap());
    let ss_no_pids = time(runs, || Command::new("ss").arg("-tan").output().unwrap());
    eprintln!(
        "{} sockets, {} pids: netlink dump {netlink:?}, /proc/net {procnet:?}, owner walk {walk:?}, read() {full:?} (user {user:?}, system {system:?} for all runs); ss -tanp {ss:?}, ss -tan {ss_no_pids:?} (medians of {runs})",
        sockets.len(),
        pids.len()
    );
}

/// The owner cache finds what a full walk finds: after no change, after a
/// new socket (the fd count grows), and after a socket swapped for another
/// with the fd count unchanged. (Other tests of this binary open sockets
/// in this process meanwhile: only this test's own sockets are compared.)
#[test]
fn cached_owner_walks_find_new_and_swapped_sockets() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let processes = [(me(), 1)];
    let mut cache = OwnerCache::default();
    let mine = |cache: &mut OwnerCache| -> BTreeSet<u64> {
        read_cached(Path::new("/proc"), &processes, cache)
            .unwrap()
            .rows
            .iter()
            .filter(|r| r.pids.contains(&me()))
            .map(|r| r.inode)
            .collect()
    };
    // The first refresh walks; the second reuses.
    assert!(mine(&mut cache).contains(&inode_of(&listener)));
    assert!(mine(&mut cache).contains(&inode_of(&listener)));
    // A new connection: more fds.
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let now = mine(&mut cache);
    for socket in [inode_of(&listener), inode_of(&client), inode_of(&accepted)] {
        assert!(now.contains(&socket), "{socket} in {now:?}");
    }
    // One socket closed and another opened: the count may be the same, the
    // new socket has no owner in the cache, so the process is walked again.
    let closed = inode_of(&client);
    drop(client);
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let now = mine(&mut cache);
    assert!(now.contains(&inode_of(&other)), "{now:?}");
    assert!(!now.contains(&closed), "{now:?}");
    drop((accepted, other));
}

/// The socket inode of an open socket, from its /proc/self/fd link.
fn inode_of(socket: &impl std::os::fd::AsRawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).unwrap();
    let link = link.to_string_lossy();
    link.trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}
