//! Access control of the HTTP endpoint. On loopback (the default) it is
//! open to the host's users, like the Agent's. With `access_token` set,
//! every request must present it as `Authorization: Bearer <token>`, or
//! gets 401; the daemon refuses to listen beyond loopback without one
//! (see [`check_exposure`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::config::daemon::AccessToken;

/// Why the daemon must not listen on `address` as configured, if so: a
/// non-loopback address needs a token.
pub fn check_exposure(address: SocketAddr, token: Option<&AccessToken>) -> Result<(), String> {
    if address.ip().is_loopback() || token.is_some() {
        return Ok(());
    }
    Err(format!(
        "refusing to serve /metrics and /status on {address} (listen) without an access \
         token: beyond loopback they show every check's results and host details\n  \
         hint: set `access_token` in runner.yaml (or RUNNER_ACCESS_TOKEN) to a secret of \
         at least 16 characters, e.g. `openssl rand -hex 16`, or listen on 127.0.0.1"
    ))
}

/// Let a request through when no token is configured or it presents the
/// token; otherwise answer 401.
pub async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.access_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    if presented.is_some_and(|given| token.matches(given)) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"runner\"")],
        "401 Unauthorized: send the runner's access token as `Authorization: Bearer <token>`\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::daemon::parse_access_token;

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
