//! HTTP and HTTPS requests to the endpoints the instance was granted,
//! through `wasi:http`: the runner makes the connection (and the TLS
//! handshake, verified against the Mozilla root store), after checking the
//! URL's host and port against the instance's grant.
//!
//! ```no_run
//! use std::time::Duration;
//! use runner_sdk::http::Request;
//!
//! let response = Request::get("http://localhost:8080/nginx_status")
//!     .basic_auth("user", "secret")
//!     .timeout(Duration::from_secs(10))
//!     .send()?;
//! assert_eq!(response.status, 200);
//! # Ok::<(), runner_sdk::http::HttpError>(())
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Most bytes of a response body read by default: a status page is
/// small, and what the check holds counts against its memory limit.
pub const DEFAULT_MAX_BODY: usize = 4 << 20;

/// Read size of one body chunk.
const CHUNK: u64 = 64 << 10;

/// An HTTP request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
    max_body: usize,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request failed. `Display` names the URL and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub url: String,
    pub kind: HttpErrorKind,
    pub detail: String,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// Not an absolute `http://` or `https://` URL.
    InvalidUrl,
    /// The runner denied the request: the URL's host and port are not
    /// granted to this instance.
    Denied,
    /// Nothing listens there, or the name does not resolve.
    Connect,
    /// No complete answer within the timeout.
    Timeout,
    /// The TLS handshake failed (e.g. the certificate did not verify).
    Tls,
    /// The body is larger than [`Request::max_body`].
    TooLarge,
    /// Anything else (a malformed response, a reset connection).
    Protocol,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            HttpErrorKind::InvalidUrl => "invalid URL",
            HttpErrorKind::Denied => "request denied by the runner to",
            HttpErrorKind::Connect => "cannot connect to",
            HttpErrorKind::Timeout => "timed out waiting for",
            HttpErrorKind::Tls => "TLS handshake failed with",
            HttpErrorKind::TooLarge => "response too large from",
            HttpErrorKind::Protocol => "HTTP error from",
        };
        write!(f, "{what} {}: {}", self.url, self.detail)
    }
}

impl std::error::Error for HttpError {}

impl Request {
    /// A GET request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A POST request; set the body with [`Request::body`].
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// A request with any of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS.
    pub fn new(method: &'static str, url: &str) -> Self {
        Self {
            method,
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Basic` with these credentials.
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", &format!("Basic {token}"))
    }

    /// The request body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The whole exchange (connect, send, headers and body) must finish
    /// within this long. Default 10 s. The run's own time limit applies
    /// on top.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Most body bytes read before the request fails with
    /// [`HttpErrorKind::TooLarge`]. Default [`DEFAULT_MAX_BODY`].
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Send the request and read the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let error = |kind, detail: String| HttpError {
            url: self.url.clone(),
            kind,
            detail,
        };
        let target = Target::parse(&self.url).map_err(|d| error(HttpErrorKind::InvalidUrl, d))?;

        let mut entries = Vec::with_capacity(self.headers.len() + 1);
        for (name, value) in &self.headers {
            entries.push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        }
        if let Some(auth) = &target.userinfo_auth
            && !entries.iter().any(|(n, _)| n == "authorization")
        {
            entries.push(("authorization".into(), auth.as_bytes().to_vec()));
        }
        let headers = Fields::from_list(&entries)
            .map_err(|e| error(HttpErrorKind::Protocol, format!("invalid header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let invalid = |what: &str| error(HttpErrorKind::InvalidUrl, format!("invalid {what}"));
        request
            .set_method(&method(self.method))
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&target.scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| invalid("host or port"))?;
        request
            .set_path_with_query(Some(&target.path))
            .map_err(|()| invalid("path"))?;

        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // The runner may refuse an option; the deadline below still holds.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));

        let body = request
            .body()
            .map_err(|()| error(HttpErrorKind::Protocol, "request body unavailable".into()))?;
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|e| error(kind_of(&e), describe(&e)))?;
        write_body(&body, &self.body)
            .map_err(|d| error(HttpErrorKind::Protocol, format!("sending the body: {d}")))?;
        OutgoingBody::finish(body, None).map_err(|e| error(kind_of(&e), describe(&e)))?;

        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(error(kind_of(&e), describe(&e))),
            Some(Err(())) | None => {
                return Err(error(HttpErrorKind::Protocol, "no response".into()));
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| error(HttpErrorKind::Protocol, "response body unavailable".into()))?;
        let body = read_body(&incoming, deadline, self.max_body, self.timeout)
            .map_err(|(kind, detail)| error(kind, detail))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// The parts of a URL `wasi:http` takes.
struct Target {
    scheme: Scheme,
    /// `host:port` (the port written out when the URL has one).
    authority: String,
    path: String,
    /// `Basic …` from `user:password@` in the URL.
    userinfo_auth: Option<String>,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(other) => return Err(format!("scheme `{other}` is not http or https")),
            None => return Err("no scheme: write http:// or https://".into()),
        };
        let authority = uri.authority().ok_or("no host")?;
        let (userinfo, host_port) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, rest)) => (Some(userinfo), rest),
            None => (None, authority.as_str()),
        };
        if host_port.is_empty() {
            return Err("no host".into());
        }
        let userinfo_auth = userinfo.map(|u| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u)
            )
        });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Self {
            scheme,
            authority: host_port.to_string(),
            path,
            userinfo_auth,
        })
    }
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body
        .write()
        .map_err(|()| "stream unavailable".to_string())?;
    // `blocking_write_and_flush` takes at most 4096 bytes per call.
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn read_body(
    body: &IncomingBody,
    deadline: Instant,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, (HttpErrorKind, String)> {
    let stream = body.stream().map_err(|()| {
        (
            HttpErrorKind::Protocol,
            "body stream unavailable".to_string(),
        )
    })?;
    let mut out = Vec::new();
    loop {
        // A peer that trickles bytes never trips the runner's
        // between-bytes timeout: the deadline ends the exchange.
        if Instant::now() >= deadline {
            return Err((
                HttpErrorKind::Timeout,
                format!(
                    "the response body did not finish within {} ms (timeout)",
                    timeout.as_millis()
                ),
            ));
        }
        match stream.blocking_read(CHUNK) {
            Ok(chunk) => {
                if out.len() + chunk.len() > max {
                    return Err((
                        HttpErrorKind::TooLarge,
                        format!("the body is larger than {max} bytes"),
                    ));
                }
                out.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(out),
            Err(StreamError::LastOperationFailed(e)) => {
                let detail = e.to_debug_string();
                let kind = if detail.contains("timeout") || detail.contains("Timeout") {
                    HttpErrorKind::Timeout
                } else {
                    HttpErrorKind::Protocol
                };
                return Err((kind, format!("reading the body: {detail}")));
            }
        }
    }
}

fn kind_of(error: &ErrorCode) -> HttpErrorKind {
    match error {
        ErrorCode::HttpRequestDenied => HttpErrorKind::Denied,
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpErrorKind::Timeout,
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated => HttpErrorKind::Connect,
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => HttpErrorKind::Tls,
        _ => HttpErrorKind::Protocol,
    }
}

fn describe(error: &ErrorCode) -> String {
    match error {
        ErrorCode::HttpRequestDenied => {
            "its host and port are not granted to this instance".to_string()
        }
        ErrorCode::ConnectionRefused => "connection refused".to_string(),
        ErrorCode::ConnectionTimeout => "connection timed out".to_string(),
        ErrorCode::HttpResponseTimeout => "no response within the timeout".to_string(),
        ErrorCode::ConnectionReadTimeout => "the response stopped arriving".to_string(),
        ErrorCode::DnsError(e) => format!(
            "DNS error: {}",
            e.rcode.clone().unwrap_or_else(|| "unknown".into())
        ),
        ErrorCode::TlsCertificateError => "the server's certificate did not verify".to_string(),
        ErrorCode::InternalError(Some(message)) => message.clone(),
        other => format!("{other:?}"),
    }
}
