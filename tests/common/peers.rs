//! Loopback peers the network tests talk to: a TCP listener that counts
//! the connections it accepts and then behaves as asked (closes, stays
//! silent, trickles bytes, answers HTTP), and a UDP socket that counts
//! datagrams. Each runs on its own thread until dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a [`Peer`] does with a connection it accepted.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Close it at once.
    Close,
    /// Keep it open and send nothing.
    Silent,
    /// Send one byte every 100 ms, forever.
    Trickle,
    /// Read the request head and answer `200 OK` with this body.
    Http(&'static str),
}

/// A TCP listener on 127.0.0.1 that counts what it accepts.
pub struct Peer {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, behaviour, &accepted, &stop))
        };
        Self {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far, after giving the accept loop (which
    /// polls every 10 ms) time to take what is already queued.
    pub fn accepted(&self) -> usize {
        std::thread::sleep(Duration::from_millis(100));
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, behaviour: Behaviour, accepted: &AtomicUsize, stop: &AtomicBool) {
    let mut held: Vec<TcpStream> = Vec::new();
    let mut tick = 0u64;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                stream.set_nonblocking(false).unwrap();
                match &behaviour {
                    Behaviour::Close => drop(stream),
                    Behaviour::Silent | Behaviour::Trickle => held.push(stream),
                    Behaviour::Http(body) => answer_http(&mut stream, body),
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        tick += 1;
        if matches!(behaviour, Behaviour::Trickle) && tick.is_multiple_of(10) {
            held.retain_mut(|s| s.write_all(b"x").is_ok());
        }
    }
}

fn answer_http(stream: &mut TcpStream, body: &str) {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A UDP socket on 127.0.0.1 that counts the datagrams it receives.
pub struct UdpPeer {
    pub port: u16,
    socket: UdpSocket,
}

impl UdpPeer {
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let port = socket.local_addr().unwrap().port();
        Self { port, socket }
    }

    /// Datagrams received so far (drains them).
    pub fn received(&self) -> usize {
        let mut buf = [0u8; 2048];
        let mut count = 0;
        while self.socket.recv(&mut buf).is_ok() {
            count += 1;
        }
        count
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
