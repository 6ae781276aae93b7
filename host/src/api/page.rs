//! The Live Processes page: three files embedded in the binary, so it works
//! offline and builds with no Node or npm, and the login form a browser
//! gets when the daemon has an access token. Everything is served with a
//! Content-Security-Policy that allows only these files: no inline script,
//! no other origin.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Where the stylesheet is served (the login form uses it too).
pub const STYLESHEET: &str = "/assets/app.css";
/// Where the script is served.
pub const SCRIPT: &str = "/assets/app.js";

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const LOGIN_HTML: &str = include_str!("../../web/login.html");

/// Where login.html takes its message.
const MESSAGE_SLOT: &str = "<!-- message -->";

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// `GET /`: the page.
pub async fn index() -> Response {
    served(INDEX_HTML.to_string(), "text/html; charset=utf-8")
}

/// `GET /assets/app.js`.
pub async fn script() -> Response {
    served(APP_JS.to_string(), "text/javascript; charset=utf-8")
}

/// `GET /assets/app.css`.
pub async fn stylesheet() -> Response {
    served(APP_CSS.to_string(), "text/css; charset=utf-8")
}

/// `GET /login`.
pub async fn login_form() -> Response {
    login(None)
}

/// The login form, with `message` (one of this crate's constants, never
/// request input) above it.
pub fn login(message: Option<&'static str>) -> Response {
    let body = match message {
        Some(message) => LOGIN_HTML.replace(
            MESSAGE_SLOT,
            &format!("<p class=\"login-error\" role=\"alert\">{message}</p>"),
        ),
        None => LOGIN_HTML.to_string(),
    };
    served(body, "text/html; charset=utf-8")
}

fn served(body: String, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // A new binary may bring new files under the same names.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_files() {
        for html in [INDEX_HTML, LOGIN_HTML] {
            assert!(!html.contains("http://") && !html.contains("https://"));
            assert!(!html.contains("<script>"), "inline script");
            assert!(!html.contains("style=\""), "inline style");
        }
        assert!(INDEX_HTML.contains(SCRIPT));
        assert!(INDEX_HTML.contains(STYLESHEET));
        assert!(LOGIN_HTML.contains(STYLESHEET));
        assert!(LOGIN_HTML.contains(MESSAGE_SLOT));
        assert!(
            !APP_JS.contains("innerHTML"),
            "the page must build nodes, not HTML"
        );
    }
}
