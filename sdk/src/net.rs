//! TCP connections to the endpoints the instance was granted.
//!
//! The runner resolves names itself (a check may not look names up) and
//! allows connections only to the addresses of the endpoints its
//! configuration names under [`Check::ENDPOINT_KEYS`](crate::Check::ENDPOINT_KEYS).
//! [`connect`] does both steps and hands back a plain
//! [`std::net::TcpStream`] with read and write timeouts set, so a peer that
//! stops answering ends the read with an error instead of the run.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::bindings::runner::check::network;

/// Why [`connect`] failed. `Display` gives a message that names the
/// endpoint and the cause.
#[derive(Debug)]
pub struct ConnectError {
    /// `host:port` as asked for.
    pub endpoint: String,
    pub kind: ConnectErrorKind,
    /// The underlying message (the resolver's, or the socket error's).
    pub detail: String,
}

/// What went wrong, for checks that report causes differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectErrorKind {
    /// The endpoint is not granted to this instance, or does not resolve.
    Resolve,
    /// The runner denied the connection.
    Denied,
    /// Nothing listens there (connection refused).
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// Any other socket error.
    Other,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ConnectErrorKind::Resolve => "cannot resolve",
            ConnectErrorKind::Denied => "connection denied by the runner to",
            ConnectErrorKind::Refused => "connection refused by",
            ConnectErrorKind::Timeout => "timed out connecting to",
            ConnectErrorKind::Other => "cannot connect to",
        };
        write!(f, "{what} {}: {}", self.endpoint, self.detail)
    }
}

impl std::error::Error for ConnectError {}

/// Resolve `host:port` through the runner: the socket addresses to connect
/// to, in the resolver's order. Fails when the endpoint is not granted to
/// this instance or the name does not resolve.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let error = |detail: String| ConnectError {
        endpoint: endpoint(host, port),
        kind: ConnectErrorKind::Resolve,
        detail,
    };
    let resolved = network::resolve(host, port).map_err(error)?;
    let addresses: Vec<SocketAddr> = resolved
        .addresses
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    if addresses.is_empty() {
        return Err(error("the name has no addresses".into()));
    }
    Ok(addresses)
}

/// Connect to `host:port`, trying each resolved address in turn, within
/// `timeout` overall. The stream's read and write timeouts are set to
/// `timeout` too.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addresses = resolve(host, port)?;
    let deadline = Instant::now() + timeout;
    let mut last: Option<io::Error> = None;
    for address in addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match connect_addr(&address, left) {
            Ok(stream) => {
                stream
                    .set_read_timeout(Some(timeout))
                    .and_then(|()| stream.set_write_timeout(Some(timeout)))
                    .and_then(|()| stream.set_nodelay(true))
                    .map_err(|e| connect_error(host, port, e))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    let error = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    Err(connect_error(host, port, error))
}

/// `TcpStream::connect_timeout` that reports a failed connection as an
/// error. On wasm32-wasip2, std's `connect_timeout` returns `Ok` for a
/// refused connection and leaves the error in `take_error`; this looks.
pub fn connect_addr(address: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(address, timeout)?;
    match stream.take_error()? {
        Some(error) => Err(error),
        None => Ok(stream),
    }
}

/// An I/O error's message without the `(os error N)` std appends (WASI's
/// numbers are not the host's, so they would only mislead).
pub fn io_message(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

fn connect_error(host: &str, port: u16, error: io::Error) -> ConnectError {
    let kind = match error.kind() {
        io::ErrorKind::ConnectionRefused => ConnectErrorKind::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectErrorKind::Timeout,
        io::ErrorKind::PermissionDenied => ConnectErrorKind::Denied,
        _ => ConnectErrorKind::Other,
    };
    ConnectError {
        endpoint: endpoint(host, port),
        kind,
        detail: io_message(&error),
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
