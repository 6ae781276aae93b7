//! The `network` capability: TCP (through `wasi:sockets`) and HTTP
//! (through `wasi:http`) to exactly the endpoints an instance was granted.
//!
//! - DNS is the runner's: a check's own name lookups are refused, and
//!   `resolve` answers only for granted `host:port`s, so a check cannot
//!   leak data through the names it asks for.
//! - TCP: the socket check allows the implicit bind of an outgoing socket
//!   (wildcard address, port 0) and connections to the addresses a granted
//!   endpoint resolved to. Listening, accepting, explicit binds and all
//!   UDP traffic are denied.
//! - HTTP: the request's host and port must be a granted authority; the
//!   runner makes the connection (and TLS), with the guest's timeouts cut
//!   to what is left of the run.
//! - Every denial is logged with the instance ID and the target, counted,
//!   and handed to the run's outcome.
//! - Waiting counts against the run: `resolve` ends at the run's deadline,
//!   and the endpoint last contacted names the peer when a run times out
//!   while blocked on the network.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::sandbox::bindings::network::{self as wit, Host};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::LimitHit;
use crate::sandbox::store::HostState;

/// Most denied targets kept per run for the outcome (all are counted).
const MAX_DENIALS_KEPT: usize = 16;

/// Denials logged per run; the rest are only counted, so a check that
/// loops over denied targets cannot flood the log.
const MAX_DENIALS_LOGGED: u64 = 5;

/// Most characters of a denied target kept (a check chooses the names it
/// asks to resolve).
const MAX_TARGET_CHARS: usize = 200;

/// How long a resolved name is reused before it is looked up again.
const RESOLVE_TTL: Duration = Duration::from_secs(30);

/// A granted endpoint: a host (a name or an IP address) and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: &str, port: u16) -> Self {
        // Names compare without case; brackets around IPv6 are syntax.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Self {
            host: host.to_ascii_lowercase(),
            port,
        }
    }

    /// The host as an IP address, when it is one.
    fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What an instance may reach on the network. Empty: nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkGrants {
    /// TCP connections to these endpoints (their resolved addresses).
    pub tcp: Vec<HostPort>,
    /// HTTP and HTTPS requests to these authorities (any path).
    pub http: Vec<HostPort>,
}

impl NetworkGrants {
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.http.is_empty()
    }
}

/// What the runner denied an instance during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denials {
    /// Every denied attempt.
    pub count: u64,
    /// The first few, described (`TCP connect 127.0.0.1:9`).
    pub targets: Vec<String>,
}

/// What the store's WASI socket check, the HTTP hooks and the `resolve`
/// call share.
struct Shared {
    instance_id: Arc<str>,
    state: Mutex<SharedState>,
}

#[derive(Default)]
struct SharedState {
    /// Socket addresses a TCP connect may go to: the granted IP literals,
    /// plus what granted names resolved to.
    allowed: HashSet<SocketAddr>,
    denials: Denials,
    /// The endpoint contacted last, to name it when a run times out.
    last_endpoint: Option<String>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SharedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deny(&self, target: String) {
        // The target may carry a name the check chose: cut and escaped
        // before it reaches a log or a terminal.
        let target = match target.char_indices().nth(MAX_TARGET_CHARS) {
            Some((cut, _)) => format!("{}…", &target[..cut]),
            None => target,
        };
        let target = crate::escape::for_terminal(&target).into_owned();
        let mut state = self.lock();
        state.denials.count += 1;
        if state.denials.count <= MAX_DENIALS_LOGGED {
            tracing::warn!(
                target: "check",
                instance = %self.instance_id,
                "network access denied: {target} is not granted to this instance"
            );
        }
        if state.denials.targets.len() < MAX_DENIALS_KEPT {
            state.denials.targets.push(target);
        }
    }

    fn contacted(&self, endpoint: String) {
        self.lock().last_endpoint = Some(endpoint);
    }

    /// The socket check: may this use of this address go ahead?
    fn allows(&self, addr: SocketAddr, used: SocketAddrUse) -> bool {
        let wildcard = addr.ip().is_unspecified() && addr.port() == 0;
        let (allowed, what) = match used {
            // The implicit bind of an outgoing socket: no traffic, and the
            // connect that follows is checked on its own.
            SocketAddrUse::TcpBind => (wildcard, "TCP bind"),
            SocketAddrUse::TcpConnect => (self.lock().allowed.contains(&addr), "TCP connect"),
            SocketAddrUse::TcpListen => (false, "TCP listen"),
            SocketAddrUse::TcpAccept => (false, "TCP accept"),
            SocketAddrUse::UdpBind => (wildcard, "UDP bind"),
            SocketAddrUse::UdpSend => (false, "UDP send"),
            SocketAddrUse::UdpReceive => (false, "UDP receive"),
        };
        if allowed {
            if matches!(used, SocketAddrUse::TcpConnect) {
                self.contacted(addr.to_string());
            }
        } else {
            self.deny(format!("{what} {addr}"));
        }
        allowed
    }
}

/// This capability's part of a store.
pub struct NetworkCtx {
    grants: NetworkGrants,
    shared: Arc<Shared>,
    /// Names resolved for this instance, and when.
    resolved: HashMap<HostPort, (Instant, Vec<SocketAddr>)>,
    pub(crate) http: HttpHooks,
}

impl NetworkCtx {
    pub fn new(instance_id: Arc<str>, grants: NetworkGrants) -> Self {
        let allowed = grants
            .tcp
            .iter()
            .filter_map(|g| Some(SocketAddr::new(g.ip()?, g.port)))
            .collect();
        let shared = Arc::new(Shared {
            instance_id,
            state: Mutex::new(SharedState {
                allowed,
                ..SharedState::default()
            }),
        });
        let http = HttpHooks {
            granted: grants.http.clone(),
            shared: shared.clone(),
            deadline: Instant::now(),
        };
        Self {
            grants,
            shared,
            resolved: HashMap::new(),
            http,
        }
    }

    /// The check for the store's `WasiCtxBuilder::socket_addr_check`.
    pub fn socket_check(
        &self,
    ) -> impl Fn(
        SocketAddr,
        SocketAddrUse,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>
    + Send
    + Sync
    + 'static {
        let shared = self.shared.clone();
        move |addr, used| {
            let allowed = shared.allows(addr, used);
            Box::pin(async move { allowed })
        }
    }

    /// Start a call: arm the deadline the HTTP hooks cut timeouts to.
    pub fn begin_call(&mut self, deadline: Instant) {
        self.http.deadline = deadline;
        self.shared.lock().last_endpoint = None;
    }

    /// What was denied since the last call, handed over.
    pub fn take_denials(&mut self) -> Denials {
        std::mem::take(&mut self.shared.lock().denials)
    }

    /// The endpoint the instance contacted last in this call.
    pub fn last_endpoint(&self) -> Option<String> {
        self.shared.lock().last_endpoint.clone()
    }
}

/// The `wasi:http` hooks of one store: the allow-list of authorities.
pub struct HttpHooks {
    granted: Vec<HostPort>,
    shared: Arc<Shared>,
    /// When the current call must end.
    deadline: Instant,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
)>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let Some(host) = uri.host() else {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestUriInvalid) });
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = HostPort::new(host, port);
        let scheme = if https { "https" } else { "http" };
        if !self.granted.contains(&authority) {
            self.shared.deny(format!("HTTP {scheme}://{authority}"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        self.shared.contacted(format!("{scheme}://{authority}"));
        let options = within(options.unwrap_or_default(), self.deadline);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// The guest's timeouts, none longer than what is left of the call.
fn within(options: RequestOptions, deadline: Instant) -> RequestOptions {
    let left = deadline.saturating_duration_since(Instant::now());
    let cut = |timeout: Option<Duration>| Some(timeout.map_or(left, |t| t.min(left)));
    RequestOptions {
        connect_timeout: cut(options.connect_timeout),
        first_byte_timeout: cut(options.first_byte_timeout),
        between_bytes_timeout: cut(options.between_bytes_timeout),
    }
}

struct View<'a> {
    ctx: &'a mut NetworkCtx,
    budget: &'a mut Budget,
    deadline: Instant,
    timeout: LimitHit,
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &mut state.network,
        budget: &mut state.budget,
        deadline: state.deadline,
        timeout: state.timeout,
    })
}

impl Host for View<'_> {
    async fn resolve(
        &mut self,
        host: String,
        port: u16,
    ) -> wasmtime::Result<Result<wit::ResolvedEndpoint, String>> {
        let endpoint = HostPort::new(&host, port);
        if !self.ctx.grants.tcp.contains(&endpoint) {
            self.ctx.shared.deny(format!("resolve {endpoint}"));
            return Ok(Err(format!(
                "{endpoint} is not granted to this instance (granted: {})",
                describe(&self.ctx.grants.tcp)
            )));
        }
        let addresses = match self.ctx.resolved.get(&endpoint) {
            Some((at, addresses)) if at.elapsed() < RESOLVE_TTL => addresses.clone(),
            _ => {
                let deadline = tokio::time::Instant::from_std(self.deadline);
                let lookup = lookup(&endpoint);
                let addresses = match tokio::time::timeout_at(deadline, lookup).await {
                    Err(_elapsed) => return Err(self.budget.fail(self.timeout)),
                    Ok(Err(message)) => return Ok(Err(message)),
                    Ok(Ok(addresses)) => addresses,
                };
                self.ctx
                    .resolved
                    .insert(endpoint.clone(), (Instant::now(), addresses.clone()));
                self.ctx.shared.lock().allowed.extend(&addresses);
                addresses
            }
        };
        Ok(Ok(wit::ResolvedEndpoint {
            host,
            port,
            addresses: addresses.iter().map(ToString::to_string).collect(),
        }))
    }
}

/// Resolve a granted endpoint with the system's resolver.
async fn lookup(endpoint: &HostPort) -> Result<Vec<SocketAddr>, String> {
    if let Some(ip) = endpoint.ip() {
        return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
    }
    let found = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot resolve {endpoint}: {e}"))?;
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(format!("cannot resolve {endpoint}: no addresses"));
    }
    Ok(addresses)
}

/// A list of endpoints for a message: `a:1, b:2`, or `none`.
pub fn describe(endpoints: &[HostPort]) -> String {
    if endpoints.is_empty() {
        return "none".into();
    }
    let names: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(allowed: &[&str]) -> Shared {
        Shared {
            instance_id: "test:1".into(),
            state: Mutex::new(SharedState {
                allowed: allowed.iter().map(|a| a.parse().unwrap()).collect(),
                ..SharedState::default()
            }),
        }
    }

    #[test]
    fn only_the_implicit_bind_and_granted_connects_pass() {
        let shared = shared(&["127.0.0.1:5432"]);
        let any4: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let any6: SocketAddr = "[::]:0".parse().unwrap();
        assert!(shared.allows(any4, SocketAddrUse::TcpBind));
        assert!(shared.allows(any6, SocketAddrUse::TcpBind));
        assert!(shared.allows("127.0.0.1:5432".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert_eq!(
            shared.lock().last_endpoint.as_deref(),
            Some("127.0.0.1:5432")
        );

        let denied = [
            ("127.0.0.1:5433", SocketAddrUse::TcpConnect),
            ("127.0.0.1:0", SocketAddrUse::TcpBind),
            ("0.0.0.0:8080", SocketAddrUse::TcpBind),
            ("0.0.0.0:0", SocketAddrUse::TcpListen),
            ("127.0.0.1:5432", SocketAddrUse::TcpAccept),
            ("127.0.0.1:53", SocketAddrUse::UdpReceive),
            ("127.0.0.1:53", SocketAddrUse::UdpSend),
        ];
        for (addr, used) in denied {
            assert!(
                !shared.allows(addr.parse().unwrap(), used),
                "{addr} {used:?}"
            );
        }
        let denials = &shared.lock().denials;
        assert_eq!(denials.count, 7);
        assert_eq!(denials.targets[0], "TCP connect 127.0.0.1:5433");
        assert_eq!(denials.targets[6], "UDP send 127.0.0.1:53");
    }

    #[test]
    fn denials_are_counted_past_what_is_kept() {
        let shared = shared(&[]);
        for port in 1..=100 {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            assert!(!shared.allows(addr, SocketAddrUse::TcpConnect));
        }
        let denials = &shared.lock().denials;
        assert_eq!(denials.count, 100);
        assert_eq!(denials.targets.len(), MAX_DENIALS_KEPT);
    }

    #[test]
    fn denied_names_are_cut_and_escaped() {
        let shared = shared(&[]);
        shared.deny(format!("resolve \u{1b}[2J{}:1", "x".repeat(1000)));
        let denials = &shared.lock().denials;
        let target = &denials.targets[0];
        assert!(target.starts_with("resolve \\u{1b}[2Jxxx"), "{target}");
        assert!(target.chars().count() < 220, "{target}");
    }

    #[test]
    fn timeouts_are_cut_to_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let options = within(
            RequestOptions {
                connect_timeout: Some(Duration::from_secs(600)),
                first_byte_timeout: Some(Duration::from_millis(100)),
                between_bytes_timeout: None,
            },
            deadline,
        );
        assert!(options.connect_timeout.unwrap() <= Duration::from_secs(2));
        assert_eq!(options.first_byte_timeout, Some(Duration::from_millis(100)));
        assert!(options.between_bytes_timeout.unwrap() <= Duration::from_secs(2));
    }

    #[test]
    fn endpoints_compare_without_case_or_brackets() {
        assert_eq!(
            HostPort::new("LocalHost", 80),
            HostPort::new("localhost", 80)
        );
        assert_eq!(HostPort::new("[::1]", 80), HostPort::new("::1", 80));
        assert_eq!(HostPort::new("::1", 80).to_string(), "[::1]:80");
        assert_eq!(HostPort::new("::1", 80).ip(), Some("::1".parse().unwrap()));
    }
}
