//! What the check says when the status page cannot be read, and the
//! other small decisions around the request that need no network (so
//! they are unit-tested natively).

use std::time::Duration;

use runner_sdk::http::{HttpError, HttpErrorKind};

/// Redirects followed before giving up (`requests`' default).
pub const MAX_REDIRECTS: usize = 30;

/// Where a failed request stood, for its message.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// `nginx_status_url` (without credentials).
    pub configured_url: &'a str,
    /// Whether this request followed a redirect.
    pub redirected: bool,
    /// The request's deadline.
    pub timeout: Duration,
    /// The TLS options that did not apply, for a TLS failure.
    pub tls_hint: Option<&'a str>,
}

/// The message of `nginx.can_connect` (and of the failed run) when the
/// request did not get an answer.
pub fn describe_error(error: &HttpError, attempt: &Attempt) -> String {
    let url = &error.url;
    let detail = &error.detail;
    match error.kind {
        HttpErrorKind::Connect => format!("cannot connect to {url}: {detail}"),
        HttpErrorKind::Timeout => format!(
            "no answer from {url} within {} (timeout): {detail}",
            seconds(attempt.timeout)
        ),
        HttpErrorKind::Tls => {
            let detail = tls_detail(detail);
            match attempt.tls_hint {
                Some(hint) => format!("TLS handshake with {url} failed: {detail} ({hint})"),
                None => format!("TLS handshake with {url} failed: {detail}"),
            }
        }
        HttpErrorKind::Denied if attempt.redirected => format!(
            "{} redirected to {url}, which this instance may not reach: the runner grants \
             only the host and port of `nginx_status_url`; set `nginx_status_url` to the \
             final URL",
            attempt.configured_url
        ),
        HttpErrorKind::Denied => format!("the runner denied the request to {url}: {detail}"),
        HttpErrorKind::TooLarge => {
            format!("the response of {url} is not a stub_status page: {detail}")
        }
        HttpErrorKind::InvalidUrl if attempt.redirected => format!(
            "{} redirected to `{url}`, which is not a usable URL: {detail}",
            attempt.configured_url
        ),
        HttpErrorKind::InvalidUrl => format!("invalid URL {url}: {detail}"),
        HttpErrorKind::Protocol => format!("HTTP error from {url}: {detail}"),
    }
}

/// The SDK words a certificate failure; the other TLS errors come as
/// `wasi:http` error codes (`ErrorCode::TlsProtocolError`).
fn tls_detail(detail: &str) -> String {
    if detail.contains("TlsProtocolError") {
        "TLS protocol error (does the port serve plain HTTP? then write http://)".to_string()
    } else if detail.contains("TlsAlertReceived") {
        format!("the server refused the handshake ({detail})")
    } else {
        detail.to_string()
    }
}

/// `2.5 s`, `10 s`.
fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{} s", (secs * 1000.0).round() / 1000.0)
    }
}

/// Whether `status` is a redirect `requests` follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The message for an answer that is not 2xx (after redirects).
pub fn status_failure(
    url: &str,
    status: u16,
    location: Option<&str>,
    sends_credentials: bool,
    follow_redirects: bool,
) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default();
    let hint = match status {
        401 if sends_credentials => {
            " (the credentials were refused: check `username` and `password`)".to_string()
        }
        401 => " (no credentials were sent: set `username` and `password`)".to_string(),
        404 => " (is `nginx_status_url` the path of a `stub_status` location?)".to_string(),
        s if is_redirect(s) => match location {
            Some(to) if !follow_redirects => {
                format!(" (a redirect to {to}, not followed: `allow_redirects` is false)")
            }
            Some(to) => format!(" (a redirect to {to})"),
            None => " (a redirect without a Location header)".to_string(),
        },
        _ => String::new(),
    };
    format!("{url} answered HTTP {status}{reason}{hint}")
}

/// The nginx version in a `Server` header, as Datadog reads it: what
/// follows the first `/` (`nginx/1.22.1` gives `1.22.1`; Ubuntu's
/// `nginx/1.18.0 (Ubuntu)` gives `1.18.0`). A bare `nginx`
/// (`server_tokens off`) gives none.
pub fn version_of(server: &str) -> Option<&str> {
    let (_, rest) = server.trim().split_once('/')?;
    let version = rest.split('/').next()?.split_whitespace().next()?;
    (!version.is_empty()).then_some(version)
}

/// Whether a `Content-Type` is JSON (VTS or the old Plus status module),
/// which Datadog flattens into gauges and this check does not read.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: HttpErrorKind, detail: &str) -> HttpError {
        HttpError {
            url: "http://127.0.0.1:8080/nginx_status".to_string(),
            kind,
            detail: detail.to_string(),
        }
    }

    fn attempt() -> Attempt<'static> {
        Attempt {
            configured_url: "http://127.0.0.1:8080/nginx_status",
            redirected: false,
            timeout: Duration::from_secs(9),
            tls_hint: None,
        }
    }

    #[test]
    fn request_errors_name_the_url_and_the_cause() {
        assert_eq!(
            describe_error(
                &error(HttpErrorKind::Connect, "connection refused"),
                &attempt()
            ),
            "cannot connect to http://127.0.0.1:8080/nginx_status: connection refused"
        );
        assert_eq!(
            describe_error(
                &error(HttpErrorKind::Timeout, "no response within the timeout"),
                &Attempt {
                    timeout: Duration::from_millis(2500),
                    ..attempt()
                }
            ),
            "no answer from http://127.0.0.1:8080/nginx_status within 2.5 s (timeout): no \
             response within the timeout"
        );
        assert_eq!(
            describe_error(
                &error(
                    HttpErrorKind::Tls,
                    "the server's certificate did not verify"
                ),
                &Attempt {
                    tls_hint: Some("`tls_verify: false` is not supported yet"),
                    ..attempt()
                }
            ),
            "TLS handshake with http://127.0.0.1:8080/nginx_status failed: the server's \
             certificate did not verify (`tls_verify: false` is not supported yet)"
        );
        assert_eq!(
            describe_error(
                &error(HttpErrorKind::Tls, "ErrorCode::TlsProtocolError"),
                &attempt()
            ),
            "TLS handshake with http://127.0.0.1:8080/nginx_status failed: TLS protocol error \
             (does the port serve plain HTTP? then write http://)"
        );
        let denied = error(
            HttpErrorKind::Denied,
            "its host and port are not granted to this instance",
        );
        assert!(
            describe_error(&denied, &attempt()).starts_with("the runner denied the request to")
        );
        let redirected = HttpError {
            url: "https://elsewhere/s".to_string(),
            ..denied
        };
        assert_eq!(
            describe_error(
                &redirected,
                &Attempt {
                    redirected: true,
                    ..attempt()
                }
            ),
            "http://127.0.0.1:8080/nginx_status redirected to https://elsewhere/s, which this \
             instance may not reach: the runner grants only the host and port of \
             `nginx_status_url`; set `nginx_status_url` to the final URL"
        );
    }

    #[test]
    fn statuses_say_what_to_fix() {
        let url = "http://h:81/nginx_status";
        assert_eq!(
            status_failure(url, 404, None, false, true),
            "http://h:81/nginx_status answered HTTP 404 Not Found (is `nginx_status_url` the \
             path of a `stub_status` location?)"
        );
        assert_eq!(
            status_failure(url, 401, None, true, true),
            "http://h:81/nginx_status answered HTTP 401 Unauthorized (the credentials were \
             refused: check `username` and `password`)"
        );
        assert!(status_failure(url, 401, None, false, true).contains("no credentials were sent"));
        assert_eq!(
            status_failure(url, 503, None, false, true),
            "http://h:81/nginx_status answered HTTP 503 Service Unavailable"
        );
        assert_eq!(
            status_failure(url, 301, Some("https://h/nginx_status"), false, false),
            "http://h:81/nginx_status answered HTTP 301 Moved Permanently (a redirect to \
             https://h/nginx_status, not followed: `allow_redirects` is false)"
        );
        assert!(
            status_failure(url, 302, None, false, true).ends_with("without a Location header)")
        );
        assert_eq!(
            status_failure(url, 599, None, false, true),
            "http://h:81/nginx_status answered HTTP 599"
        );
    }

    #[test]
    fn versions_from_the_server_header() {
        assert_eq!(version_of("nginx/1.22.1"), Some("1.22.1"));
        assert_eq!(version_of("nginx/1.18.0 (Ubuntu)"), Some("1.18.0"));
        assert_eq!(version_of("openresty/1.21.4.1"), Some("1.21.4.1"));
        assert_eq!(version_of("nginx"), None);
        assert_eq!(version_of("nginx/"), None);
        assert_eq!(version_of(""), None);
    }

    #[test]
    fn redirect_statuses() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        for s in [200, 304, 300, 404] {
            assert!(!is_redirect(s));
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
