//! The nginx check: Datadog's `nginx` integration for open-source nginx.
//! It reads the `stub_status` page, sends `nginx.net.*` (connections,
//! connection and request rates, reading/writing/waiting) tagged
//! `nginx_host:` and `port:`, the `nginx.can_connect` service check and
//! the nginx version from the `Server` header.
//!
//! Layout: [`config`] validates the instance, [`url`] reads the status
//! URL, [`status`] parses the page, [`request`] words the failures; `run`
//! is a thin shell around the HTTP request (the runner's `wasi:http`).

pub mod config;
pub mod request;
pub mod status;
pub mod url;

use std::time::Instant;

use runner_sdk::http::{Request, Response};
use runner_sdk::{Check, Context, EndpointKey, Error, Level, Status};

use config::{Config, InitConfig, Settings};
use request::Attempt;
use status::Kind;

/// The service check: can the status page be read?
pub const SERVICE_CHECK: &str = "nginx.can_connect";

/// Most bytes of a response read: a stub_status page is about 100 bytes,
/// and what the check holds counts against its memory limit.
const MAX_BODY: usize = 256 << 10;

/// One configured instance.
#[derive(Debug)]
pub struct NginxCheck {
    settings: Settings,
}

impl Check for NginxCheck {
    type Config = Config;
    type InitConfig = InitConfig;
    const NAME: &'static str = "nginx";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    /// The runner grants HTTP to this URL's host and port, and nothing else.
    const ENDPOINT_KEYS: &'static [EndpointKey] = &[EndpointKey::Url("nginx_status_url")];

    fn configure(init_config: InitConfig, config: Config) -> Result<Self, Error> {
        let settings = Settings::new(init_config, config)?;
        // Logged here, the runner reports them as configuration warnings.
        for warning in &settings.warnings {
            runner_sdk::log(Level::Warn, warning);
        }
        Ok(NginxCheck { settings })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        let settings = &self.settings;
        let (url, response) = match fetch(settings, ctx) {
            Ok(fetched) => fetched,
            Err(message) => {
                // As Datadog: CRITICAL, no metrics, and the run fails.
                ctx.service_check(
                    SERVICE_CHECK,
                    Status::Critical,
                    &settings.service_check_tags,
                    &message,
                );
                return Err(message.into());
            }
        };
        ctx.service_check(SERVICE_CHECK, Status::Ok, &settings.service_check_tags, "");

        match response.header("server").and_then(request::version_of) {
            Some(version) => ctx.set_version(version),
            None => ctx.debug("could not retrieve nginx version info"),
        }

        if request::is_json(response.header("content-type")) {
            return Err(format!(
                "{url} answered JSON, not the stub_status page: the vhost_traffic_status \
                 module and the NGINX Plus API are not supported yet; point \
                 `nginx_status_url` at a `stub_status` location"
            )
            .into());
        }
        let body = response.text();
        let reading = status::parse(&body).map_err(|e| {
            format!(
                "{url} is not an nginx stub_status page ({e}); it starts with: {}",
                status::excerpt(&body)
            )
        })?;
        for (name, kind, value) in status::metrics(&reading) {
            match kind {
                Kind::Gauge => ctx.gauge(name, value, &settings.metric_tags),
                Kind::Rate => ctx.rate(name, value, &settings.metric_tags),
            }
        }
        Ok(())
    }
}

/// GETs the status page, following redirects (within the deadline), and
/// returns the final URL and a 2xx response, or the message of why not.
fn fetch(settings: &Settings, ctx: &Context) -> Result<(String, Response), String> {
    let deadline = Instant::now() + settings.timeout;
    let first_origin = url::origin(&settings.url);
    let mut url = settings.url.clone();
    let mut redirects = 0;
    loop {
        let attempt = Attempt {
            configured_url: &settings.url,
            redirected: redirects > 0,
            timeout: settings.timeout,
            tls_hint: settings.tls_hint.as_deref(),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no answer from {url} within the timeout ({} ms) after {redirects} redirects",
                settings.timeout.as_millis()
            ));
        }
        // As `requests`: no credentials to another scheme, host or port.
        let same_origin = url::origin(&url) == first_origin;
        let mut request = Request::get(&url).timeout(left).max_body(MAX_BODY);
        for (name, value) in &settings.headers {
            if same_origin || !name.eq_ignore_ascii_case("authorization") {
                request = request.header(name, value);
            }
        }
        if settings.log_requests {
            ctx.debug(&format!("Sending GET request to {url}"));
        }
        let response = request
            .send()
            .map_err(|e| request::describe_error(&e, &attempt))?;
        let location = response.header("location").map(str::to_string);
        if request::is_redirect(response.status)
            && settings.follow_redirects
            && let Some(location) = location.as_deref()
        {
            if redirects == request::MAX_REDIRECTS {
                return Err(format!(
                    "{} redirected more than {} times (last to {location})",
                    settings.url,
                    request::MAX_REDIRECTS
                ));
            }
            let next = url::resolve(&url, location);
            ctx.debug(&format!("{url} redirects to {next}"));
            url = next;
            redirects += 1;
            continue;
        }
        if !response.is_success() {
            return Err(request::status_failure(
                &url,
                response.status,
                location.as_deref(),
                settings.sends_credentials && same_origin,
                settings.follow_redirects,
            ));
        }
        return Ok((url, response));
    }
}

runner_sdk::export_check!(NginxCheck);
