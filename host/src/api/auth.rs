//! Access control of the HTTP endpoint.
//!
//! On loopback (the default) it is open to the host's users, like the
//! Agent's, but only under a Host header that names an address or
//! `localhost`: a web page whose own name was made to resolve to 127.0.0.1
//! (DNS rebinding) must not read the host's command lines.
//!
//! With `access_token` set, every request must present it, as
//! `Authorization: Bearer <token>` (Prometheus, `runner status`) or as the
//! session cookie a browser gets from the login form; anything else gets
//! 401. The daemon refuses to listen beyond loopback without a token (see
//! [`check_exposure`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiState, page};
use crate::config::daemon::AccessToken;

/// The session cookie's name.
const SESSION_COOKIE: &str = "runner_session";

/// Why the daemon must not listen on `address` as configured, if so: a
/// non-loopback address needs a token.
pub fn check_exposure(address: SocketAddr, token: Option<&AccessToken>) -> Result<(), String> {
    if address.ip().is_loopback() || token.is_some() {
        return Ok(());
    }
    Err(format!(
        "refusing to serve /metrics, /status and the Live Processes page on {address} \
         (listen) without an access token: beyond loopback they show every check's \
         results, command lines and connections\n  \
         hint: set `access_token` in runner.yaml (or RUNNER_ACCESS_TOKEN) to a secret of \
         at least 16 characters, e.g. `openssl rand -hex 16`, or listen on 127.0.0.1"
    ))
}

/// Paths anyone may fetch: the login form and the stylesheet it uses.
fn is_public(path: &str) -> bool {
    path == "/login" || path == page::STYLESHEET
}

/// Let a request through when it may see the endpoint; otherwise answer
/// 401 (no or a wrong token) or 403 (a Host header that is no address).
pub async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let Some(token) = &state.access_token else {
        if !host_is_an_address(headers) {
            return (
                StatusCode::FORBIDDEN,
                "403 Forbidden: without an access token the runner answers only requests \
                 addressed to an IP address or localhost\n",
            )
                .into_response();
        }
        return next.run(request).await;
    };
    if is_public(request.uri().path()) || presents(token, headers) {
        return next.run(request).await;
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let www_authenticate = [(header::WWW_AUTHENTICATE, "Bearer realm=\"runner\"")];
    if wants_html {
        // A browser: the login form, still with 401.
        return (
            StatusCode::UNAUTHORIZED,
            www_authenticate,
            page::login(None),
        )
            .into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        www_authenticate,
        "401 Unauthorized: send the runner's access token as `Authorization: Bearer <token>`\n",
    )
        .into_response()
}

/// Whether the request carries the token, or the session cookie made of it.
fn presents(token: &AccessToken, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|given| token.matches(given)) {
        return true;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == SESSION_COOKIE && token.matches_session(value))
}

/// Whether the Host header names an IP address or `localhost` (with or
/// without a port), as it does for every client that did not reach the
/// daemon through a DNS name. No Host header (HTTP/1.0) is fine too.
fn host_is_an_address(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        // [v6]:port or [v6]
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// `POST /login`: with the right token, set the session cookie and go to
/// the page; otherwise the form again, with 401.
pub async fn login(State(state): State<Arc<ApiState>>, Form(form): Form<Login>) -> Response {
    let Some(token) = &state.access_token else {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    };
    if !token.matches(form.token.trim()) {
        tracing::warn!("the Live Processes login was given a wrong access token");
        return (
            StatusCode::UNAUTHORIZED,
            page::login(Some("That is not this runner's access token.")),
        )
            .into_response();
    }
    // HttpOnly: no script reads it; SameSite=Strict: no other site's page
    // sends it; no Max-Age: it ends with the browser session.
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        token.session()
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::daemon::parse_access_token;

    #[test]
    fn without_a_token_only_addresses_and_localhost_may_be_the_host() {
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            host_is_an_address(&headers)
        };
        for fine in [
            "127.0.0.1:5180",
            "127.0.0.1",
            "[::1]:5180",
            "[::1]",
            "localhost:5180",
            "LOCALHOST",
            "app.localhost:80",
            "10.1.2.3:80",
        ] {
            assert!(with_host(fine), "{fine}");
        }
        for rebound in ["evil.example:5180", "evil.example", "127.0.0.1.nip.io:5180"] {
            assert!(!with_host(rebound), "{rebound}");
        }
        assert!(host_is_an_address(&HeaderMap::new()));
    }

    #[test]
    fn the_token_or_its_session_cookie_is_accepted() {
        let token = parse_access_token("0123456789abcdef").unwrap().unwrap();
        let with = |name: header::HeaderName, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            presents(&token, &headers)
        };
        assert!(with(header::AUTHORIZATION, "Bearer 0123456789abcdef"));
        assert!(!with(header::AUTHORIZATION, "Bearer 0123456789abcdeX"));
        let session = token.session();
        assert!(!session.contains("0123456789abcdef"));
        assert!(with(
            header::COOKIE,
            &format!("a=b; runner_session={session}")
        ));
        assert!(!with(header::COOKIE, "runner_session=0123456789abcdef"));
        assert!(!with(header::COOKIE, &format!("other={session}")));
        assert!(!presents(&token, &HeaderMap::new()));
    }

    #[test]
    fn only_loopback_goes_without_a_token() {
        let token = parse_access_token("0123456789abcdef").unwrap();
        for open in ["127.0.0.1:5180", "[::1]:5180", "127.0.0.2:0"] {
            assert_eq!(
                check_exposure(open.parse().unwrap(), None),
                Ok(()),
                "{open}"
            );
        }
        for exposed in ["0.0.0.0:5180", "[::]:5180", "192.168.1.5:5180"] {
            let address = exposed.parse().unwrap();
            let error = check_exposure(address, None).unwrap_err();
            assert!(
                error.contains("(listen) without an access token"),
                "{error}"
            );
            assert!(error.contains("`access_token`"), "{error}");
            assert_eq!(check_exposure(address, token.as_ref()), Ok(()));
        }
    }
}
