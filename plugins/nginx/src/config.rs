//! One instance of the nginx check, as written in
//! `conf.d/nginx.d/conf.yaml`, and its validation into [`Settings`].
//!
//! The keys are Datadog's: the nginx integration's own, and the HTTP
//! options every Datadog HTTP check takes (integrations-core's
//! `instances/http` template, read by `datadog_checks_base`'s
//! `RequestsWrapper`). Options the runner cannot honour yet are accepted
//! with a warning that says what happens instead.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use runner_sdk::serde_json::Value;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::url::StatusUrl;

/// Datadog's default HTTP timeout, in seconds.
pub const DEFAULT_TIMEOUT: f64 = 10.0;
/// The runner's default run time limit (`limits.timeout`), in seconds.
pub const DEFAULT_RUN_LIMIT: f64 = 10.0;
/// Tag names Datadog calls generic (integrations-core's `GENERIC_TAGS`).
const GENERIC_TAGS: &[&str] = &[
    "cluster_name",
    "clustername",
    "cluster",
    "clusterid",
    "cluster_id",
    "env",
    "host_name",
    "hostname",
    "host",
    "service",
    "version",
];
/// Headers `wasi:http` does not let a guest set: the runner writes them.
const FORBIDDEN_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// A header value: YAML may write `X-Retries: 3`; Datadog sends it as text.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HeaderValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl HeaderValue {
    /// The text Python's `str()` gives, as the Agent sends it.
    fn text(&self) -> String {
        match self {
            HeaderValue::Text(s) => s.clone(),
            HeaderValue::Integer(i) => i.to_string(),
            HeaderValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e16 => format!("{n:.1}"),
            HeaderValue::Number(n) => n.to_string(),
            HeaderValue::Bool(true) => "True".to_string(),
            HeaderValue::Bool(false) => "False".to_string(),
        }
    }
}

/// HTTP and HTTPS proxies (Datadog's `proxy` option).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
pub struct Proxy {
    /// Proxy for http:// URLs.
    #[serde(default)]
    pub http: Option<String>,
    /// Proxy for https:// URLs.
    #[serde(default)]
    pub https: Option<String>,
    /// Hosts reached without the proxy.
    #[serde(default)]
    pub no_proxy: Option<Value>,
}

impl Proxy {
    fn is_set(&self) -> bool {
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&self.http) || set(&self.https)
    }
}

/// The file-level `init_config` of `conf.d/nginx.d/conf.yaml`: the HTTP
/// defaults Datadog reads there. (`service`, `min_collection_interval`
/// and `loader` are the runner's.)
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InitConfig {
    /// Default `timeout` (seconds) of the file's instances. Default: 10.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Default proxy of the file's instances. Not supported: the runner
    /// connects directly (a warning says so).
    #[serde(default)]
    pub proxy: Option<Proxy>,
    /// Default `skip_proxy` of the file's instances. The runner always
    /// connects directly, so this has no effect.
    #[serde(default)]
    pub skip_proxy: Option<bool>,
    /// Use the Agent's proxy settings from datadog.yaml. There are none
    /// here: no effect.
    #[serde(default)]
    pub use_agent_proxy: Option<bool>,
    /// Default `log_requests` of the file's instances.
    #[serde(default)]
    pub log_requests: Option<bool>,
    /// Default `tls_ignore_warning`. The runner never makes unverified
    /// requests, so there is nothing to warn about: no effect.
    #[serde(default)]
    pub tls_ignore_warning: Option<bool>,
}

/// One nginx to watch: the URL of its `stub_status` page and how to
/// reach it. (`tags`, `service`, `min_collection_interval` and the other
/// options every check takes are the runner's.)
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Config {
    /// URL of nginx's `stub_status` page (`location /nginx_status {
    /// stub_status; }`), e.g. `http://localhost:81/nginx_status`. The
    /// runner lets this instance reach this URL's host and port, and no
    /// other. `user:password@` in the URL is used for basic auth when
    /// `username`/`password` are not set.
    #[schemars(extend("examples" = ["http://localhost:81/nginx_status"]))]
    pub nginx_status_url: String,

    /// User name for HTTP basic auth (Datadog's nginx key). `username`
    /// wins when both are set.
    #[serde(default)]
    pub user: Option<String>,
    /// User name for HTTP basic auth (the key of Datadog's HTTP options).
    /// Credentials are sent only when `password` is set too.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for HTTP basic auth.
    #[serde(default)]
    pub password: Option<String>,
    /// Authentication scheme. Only `basic` (the default) is supported;
    /// with `digest`, `ntlm`, `kerberos` or `aws` no credentials are sent
    /// (with a warning).
    #[serde(default)]
    pub auth_type: Option<String>,
    /// Encode basic-auth credentials as latin-1 (true, Datadog's default)
    /// or UTF-8 (false). Only matters for non-ASCII names and passwords.
    #[serde(default)]
    pub use_legacy_auth_encoding: Option<bool>,

    /// Verify the server's TLS certificate (default true). The runner
    /// always verifies HTTPS against the Mozilla root store:
    /// `tls_verify: false` is not supported yet and has no effect (a
    /// warning says so).
    #[serde(default)]
    pub tls_verify: Option<bool>,
    /// The nginx check's legacy name for `tls_verify` (used when
    /// `tls_verify` is not set).
    #[serde(default)]
    pub ssl_validation: Option<bool>,
    /// CA certificates to verify the server with. Not supported yet: the
    /// certificate is verified against the Mozilla root store only (a
    /// warning says so).
    #[serde(default)]
    pub tls_ca_cert: Option<String>,
    /// Client certificate. Not supported: none is sent (a warning says so).
    #[serde(default)]
    pub tls_cert: Option<String>,
    /// Private key of `tls_cert`. Not supported.
    #[serde(default)]
    pub tls_private_key: Option<String>,
    /// Use a `Host` header for SNI. Not supported: SNI is the URL's host.
    #[serde(default)]
    pub tls_use_host_header: Option<bool>,
    /// Silence warnings about unverified HTTPS requests. The runner makes
    /// none: no effect.
    #[serde(default)]
    pub tls_ignore_warning: Option<bool>,
    /// TLS versions to allow. Not supported: the runner's TLS speaks 1.2
    /// and 1.3.
    #[serde(default)]
    pub tls_protocols_allowed: Option<Vec<String>>,
    /// TLS cipher suites to offer. Not supported: the runner's defaults.
    #[serde(default)]
    pub tls_ciphers: Option<Vec<String>>,

    /// Seconds to wait for nginx (default: init_config's `timeout`, else
    /// 10; fractions allowed). The request also ends before the run's own
    /// time limit (`limits.timeout`, 10 s by default), so that
    /// `nginx.can_connect` can still report the timeout.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Seconds to wait for the connection (default: `timeout`). The
    /// runner applies one deadline to the whole request: the larger of
    /// `connect_timeout` and `read_timeout`.
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    /// Seconds to wait for the response (default: `timeout`); see
    /// `connect_timeout`.
    #[serde(default)]
    pub read_timeout: Option<f64>,

    /// Headers sent instead of the default ones (the default is a
    /// `User-Agent`). `Host`, `Connection` and other hop-by-hop headers
    /// cannot be set (a warning says so).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, HeaderValue>>,
    /// Headers sent in addition to the default ones (or to `headers`).
    #[serde(default)]
    pub extra_headers: Option<BTreeMap<String, HeaderValue>>,
    /// Follow redirects (default true). Only redirects to the
    /// `nginx_status_url`'s host and port can be followed: the runner
    /// grants no other.
    #[serde(default)]
    pub allow_redirects: Option<bool>,

    /// HTTP/HTTPS proxies. Not supported: the runner connects to nginx
    /// directly (a warning says so).
    #[serde(default)]
    pub proxy: Option<Proxy>,
    /// Bypass proxies. The runner always connects directly: no effect.
    #[serde(default)]
    pub skip_proxy: Option<bool>,
    /// Log each request (at debug level).
    #[serde(default)]
    pub log_requests: Option<bool>,
    /// Reuse connections between runs. No effect: each run connects anew.
    #[serde(default)]
    pub persist_connections: Option<bool>,
    /// KiB read at a time from streamed responses. No effect.
    #[serde(default)]
    pub request_size: Option<f64>,
    /// Token read from a file or OAuth and sent as a header. Not supported
    /// (a warning says so).
    #[serde(default)]
    pub auth_token: Option<Value>,
    /// NTLM domain. Not supported (a warning says so).
    #[serde(default)]
    pub ntlm_domain: Option<String>,
    /// Kerberos strategy. Not supported (a warning says so).
    #[serde(default)]
    pub kerberos_auth: Option<Value>,
    /// Kerberos credential cache. Not supported.
    #[serde(default)]
    pub kerberos_cache: Option<String>,
    /// Kerberos delegation. Not supported.
    #[serde(default)]
    pub kerberos_delegate: Option<bool>,
    /// Kerberos preemptive authentication. Not supported.
    #[serde(default)]
    pub kerberos_force_initiate: Option<bool>,
    /// Kerberos host name. Not supported.
    #[serde(default)]
    pub kerberos_hostname: Option<String>,
    /// Kerberos keytab. Not supported.
    #[serde(default)]
    pub kerberos_keytab: Option<String>,
    /// Kerberos principal. Not supported.
    #[serde(default)]
    pub kerberos_principal: Option<String>,
    /// AWS Signature v4 region. Not supported (a warning says so).
    #[serde(default)]
    pub aws_region: Option<String>,
    /// AWS Signature v4 host. Not supported.
    #[serde(default)]
    pub aws_host: Option<String>,
    /// AWS Signature v4 service. Not supported.
    #[serde(default)]
    pub aws_service: Option<String>,

    /// Read the NGINX Plus API instead of stub_status. Not supported yet:
    /// `true` is a configuration error.
    #[serde(default)]
    pub use_plus_api: Option<bool>,
    /// NGINX Plus API: also read the stream endpoints. Only used with
    /// `use_plus_api`.
    #[serde(default)]
    pub use_plus_api_stream: Option<bool>,
    /// NGINX Plus API version. Only used with `use_plus_api`.
    #[serde(default)]
    pub plus_api_version: Option<Value>,
    /// NGINX Plus API: query only the endpoints nginx lists. Only used
    /// with `use_plus_api`.
    #[serde(default)]
    pub only_query_enabled_endpoints: Option<bool>,
    /// Read the vhost_traffic_status module's JSON. Not supported yet:
    /// `true` is a configuration error.
    #[serde(default)]
    pub use_vts: Option<bool>,

    /// The instance's tags (the runner adds them to everything sent; the
    /// check reads them to add Datadog's `nginx_`-prefixed twins of the
    /// generic ones).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Rename generic tags (`host`, `env`, ...) to `nginx_<name>` instead
    /// of sending both (the runner renames; the check reads it to know
    /// whether to add the twins).
    #[serde(default)]
    pub disable_generic_tags: Option<bool>,
    /// The runner's sandbox limits of this instance; the check reads
    /// `limits.timeout` to end its request before the run's time is up.
    #[serde(default)]
    pub limits: Option<Value>,
}

/// An instance after validation: what `run` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The URL requested (without credentials); messages show it.
    pub url: String,
    /// Tags of every metric: `nginx_host:<host>`, `port:<port>` (and the
    /// twins of generic instance tags).
    pub metric_tags: Vec<String>,
    /// Tags of `nginx.can_connect`: `host:<host>`, `port:<port>`, and
    /// unless `disable_generic_tags` `nginx_host:<host>` (and twins).
    pub service_check_tags: Vec<String>,
    /// Request headers, credentials included.
    pub headers: Vec<(String, String)>,
    /// Whether an `Authorization` header is among `headers` (a 401 means
    /// the credentials were refused, not missing).
    pub sends_credentials: bool,
    /// The whole request's deadline.
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub log_requests: bool,
    /// Added to a TLS error: the TLS options that did not apply.
    pub tls_hint: Option<String>,
    /// What the configuration gets away with but the user should know,
    /// logged as warnings at configure time.
    pub warnings: Vec<String>,
}

impl Settings {
    /// Validates `config` (what a JSON Schema cannot express).
    pub fn new(init: InitConfig, config: Config) -> Result<Settings, String> {
        let mut warnings = Vec::new();
        if config.use_plus_api == Some(true) {
            return Err(
                "`use_plus_api: true`: the NGINX Plus API is not supported yet; this \
                        check reads the stub_status page (set `use_plus_api: false` and point \
                        `nginx_status_url` at a `stub_status` location)"
                    .to_string(),
            );
        }
        if config.use_vts == Some(true) {
            return Err(
                "`use_vts: true`: the vhost_traffic_status module is not supported \
                        yet; this check reads the stub_status page (set `use_vts: false` and \
                        point `nginx_status_url` at a `stub_status` location)"
                    .to_string(),
            );
        }
        let target = StatusUrl::parse(&config.nginx_status_url)?;

        let (headers, sends_credentials) = headers(&config, &target, &mut warnings)?;
        let timeout = timeout(&init, &config, &mut warnings)?;
        let tls_hint = tls(&config, &target, &mut warnings);
        proxies(&init, &config, &mut warnings);
        unsupported_auth_options(&config, &mut warnings);

        let disable_generic = config.disable_generic_tags.unwrap_or(false);
        let twins = if disable_generic {
            Vec::new()
        } else {
            generic_twins(config.tags.as_deref().unwrap_or_default())
        };
        let nginx_host = format!("nginx_host:{}", target.host);
        let port = format!("port:{}", target.tag_port);
        let mut metric_tags = vec![nginx_host.clone(), port.clone()];
        metric_tags.extend(twins.iter().cloned());
        // Datadog tags the service check `host:` and `port:`; its nginx
        // check then adds the `nginx_host:` twin (or, with
        // `disable_generic_tags`, only that: the runner renames `host:`).
        let mut service_check_tags = vec![format!("host:{}", target.host), port];
        if !disable_generic {
            service_check_tags.push(nginx_host);
        }
        service_check_tags.extend(twins);

        Ok(Settings {
            url: target.url,
            metric_tags,
            service_check_tags,
            headers,
            sends_credentials,
            timeout,
            follow_redirects: config.allow_redirects.unwrap_or(true),
            log_requests: config.log_requests.or(init.log_requests).unwrap_or(false),
            tls_hint,
            warnings,
        })
    }
}

/// `nginx_<name>:<value>` for each generic instance tag: Datadog's nginx
/// check sends both the generic tag and this twin unless
/// `disable_generic_tags` is set.
pub fn generic_twins(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|tag| {
            let (name, value) = tag.split_once(':')?;
            GENERIC_TAGS
                .contains(&name)
                .then(|| format!("nginx_{name}:{value}"))
        })
        .collect()
}

/// The request headers: the default `User-Agent` (or `headers`), then
/// `extra_headers`, then credentials.
fn headers(
    config: &Config,
    target: &StatusUrl,
    warnings: &mut Vec<String>,
) -> Result<(Vec<(String, String)>, bool), String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    // An empty `headers` keeps the defaults, as Datadog's `if headers:`.
    match config.headers.as_ref().filter(|h| !h.is_empty()) {
        Some(replacement) => add_headers(&mut headers, "headers", replacement, warnings)?,
        None => headers.push((
            "User-Agent".to_string(),
            format!("runner-nginx-check/{}", env!("CARGO_PKG_VERSION")),
        )),
    }
    if let Some(extra) = &config.extra_headers {
        add_headers(&mut headers, "extra_headers", extra, warnings)?;
    }

    let username = config.username.as_ref().or(config.user.as_ref());
    let username_key = if config.username.is_some() {
        "username"
    } else {
        "user"
    };
    let auth_type = config
        .auth_type
        .as_deref()
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "basic".to_string());
    let credentials = match (username, &config.password) {
        (Some(user), Some(password)) => Some((user.clone(), password.clone())),
        (Some(_), None) => {
            warnings.push(format!(
                "`{username_key}` is set but `password` is not: no credentials are sent \
                 (as with the Datadog Agent); set `password` too"
            ));
            None
        }
        (None, Some(_)) => {
            warnings.push(
                "`password` is set but `username` (or `user`) is not: no credentials are \
                 sent (as with the Datadog Agent); set `username` too"
                    .to_string(),
            );
            None
        }
        (None, None) => None,
    }
    .or_else(|| target.userinfo.clone());

    if let Some((user, password)) = credentials {
        match auth_type.as_str() {
            "basic" => {}
            "digest" | "ntlm" | "kerberos" | "aws" => {
                warnings.push(format!(
                    "`auth_type: {auth_type}` is not supported yet: requests are sent \
                     without credentials, so nginx may answer 401"
                ));
                return Ok((headers.clone(), has_authorization(&headers)));
            }
            other => warnings.push(format!(
                "`auth_type: {other}` is not a known authentication type; basic auth is \
                 used, as the Datadog Agent does"
            )),
        }
        let legacy = config.use_legacy_auth_encoding.unwrap_or(true);
        let joined = format!("{user}:{password}");
        let bytes = match latin1(&joined) {
            Some(bytes) if legacy => bytes,
            None if legacy => {
                warnings.push(
                    "the user name or password has characters latin-1 cannot encode: they \
                     are sent as UTF-8 (set `use_legacy_auth_encoding: false` to say so)"
                        .to_string(),
                );
                joined.into_bytes()
            }
            _ => joined.into_bytes(),
        };
        let token = base64::engine::general_purpose::STANDARD.encode(bytes);
        // Credentials win over an `Authorization` header, as in `requests`.
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        headers.push(("Authorization".to_string(), format!("Basic {token}")));
    } else if let Some(auth_type) = &config.auth_type
        && !auth_type.trim().eq_ignore_ascii_case("basic")
    {
        warnings.push(format!(
            "`auth_type: {}` is not supported yet: requests are sent without its \
             authentication",
            auth_type.trim()
        ));
    }
    let sends_credentials = has_authorization(&headers);
    Ok((headers, sends_credentials))
}

fn has_authorization(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
}

/// `text` as latin-1 bytes, if every character has one.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// Adds (or replaces, ignoring case) headers from option `key`.
fn add_headers(
    headers: &mut Vec<(String, String)>,
    key: &str,
    values: &BTreeMap<String, HeaderValue>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (name, value) in values {
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(format!(
                "`{key}`: `{name}` is not a valid header name (letters, digits and \
                 !#$%&'*+-.^_`|~ only)"
            ));
        }
        let value = value.text();
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!(
                "`{key}`: the value of `{name}` contains a line break or NUL"
            ));
        }
        if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            warnings.push(format!(
                "`{key}`: `{name}` cannot be set: the runner writes it itself (`Host` is \
                 the URL's host); the header is not sent"
            ));
            continue;
        }
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_string(), value));
    }
    Ok(())
}

/// The request's deadline: the larger of the connect and read timeouts,
/// ended before the run's own time limit.
fn timeout(
    init: &InitConfig,
    config: &Config,
    warnings: &mut Vec<String>,
) -> Result<Duration, String> {
    let positive = |key: &str, value: Option<f64>| -> Result<Option<f64>, String> {
        match value {
            Some(v) if v.is_nan() || v <= 0.0 || v.is_infinite() => Err(format!(
                "`{key}` is {v}; it must be a number of seconds above 0, e.g. 10"
            )),
            other => Ok(other),
        }
    };
    let init_timeout = positive("init_config.timeout", init.timeout)?;
    let timeout = positive("timeout", config.timeout)?;
    let connect = positive("connect_timeout", config.connect_timeout)?;
    let read = positive("read_timeout", config.read_timeout)?;
    let base = timeout.or(init_timeout).unwrap_or(DEFAULT_TIMEOUT);
    let wanted = connect.unwrap_or(base).max(read.unwrap_or(base));
    let explicit = [init_timeout, timeout, connect, read]
        .iter()
        .any(Option::is_some);

    let (run_limit, limit_source) = match run_limit(config.limits.as_ref()) {
        Some(limit) => (limit, "this instance's `limits.timeout`"),
        None => (DEFAULT_RUN_LIMIT, "the default `limits.timeout`"),
    };
    // Time left in the run to report the failure.
    let cap = run_limit - (run_limit / 10.0).min(1.0);
    if wanted > cap && explicit {
        warnings.push(format!(
            "the request timeout ({wanted} s) does not fit in the run's time limit \
             ({run_limit} s, {limit_source}): requests end after {cap} s, so that \
             `nginx.can_connect` can still report a timeout; to wait longer, set \
             `limits: {{timeout: {}}}` on the instance",
            (wanted + 1.0).ceil()
        ));
    }
    Ok(Duration::from_secs_f64(wanted.min(cap)))
}

/// `limits.timeout` of the instance, when it sets one.
fn run_limit(limits: Option<&Value>) -> Option<f64> {
    limits?
        .get("timeout")?
        .as_f64()
        .filter(|t| *t > 0.0 && t.is_finite())
}

/// TLS options the runner cannot honour yet: warnings, and the hint added
/// to a TLS failure.
fn tls(config: &Config, target: &StatusUrl, warnings: &mut Vec<String>) -> Option<String> {
    let verify = config.tls_verify.or(config.ssl_validation).unwrap_or(true);
    let verify_key = if config.tls_verify.is_some() {
        "tls_verify"
    } else {
        "ssl_validation"
    };
    let ca_cert = config
        .tls_ca_cert
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    if !target.is_https() {
        return None;
    }
    let mut hints = Vec::new();
    if let Some(path) = ca_cert {
        warnings.push(format!(
            "`tls_ca_cert` is not supported yet: the certificate of {} is verified \
             against the Mozilla root store only, not against {path}; a certificate \
             signed by a private CA makes `nginx.can_connect` CRITICAL",
            target.host
        ));
        hints.push("`tls_ca_cert` is not supported yet".to_string());
    } else if !verify {
        warnings.push(format!(
            "`{verify_key}: false` is not supported yet and has no effect: the runner \
             verifies the certificate of {} against the Mozilla root store, so a \
             self-signed or private-CA certificate makes `nginx.can_connect` CRITICAL \
             (use an http:// status URL on a local port, or a publicly trusted \
             certificate)",
            target.host
        ));
        hints.push(format!(
            "`{verify_key}: false` is not supported yet: certificates are always verified \
             against the Mozilla root store"
        ));
    }
    if config
        .tls_cert
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
    {
        warnings.push(
            "`tls_cert` (client certificate) is not supported yet: no client certificate \
             is sent"
                .to_string(),
        );
        hints.push("no client certificate is sent".to_string());
    } else if config
        .tls_private_key
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty())
    {
        warnings.push(
            "`tls_private_key` has no effect: client certificates are not supported yet"
                .to_string(),
        );
    }
    if config.tls_use_host_header == Some(true) {
        warnings.push(
            "`tls_use_host_header` is not supported: SNI and certificate checks use the \
             URL's host"
                .to_string(),
        );
    }
    if config
        .tls_protocols_allowed
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        warnings.push(
            "`tls_protocols_allowed` is not supported: the runner speaks TLS 1.2 and 1.3"
                .to_string(),
        );
    }
    if config.tls_ciphers.as_ref().is_some_and(|c| !c.is_empty()) {
        warnings.push(
            "`tls_ciphers` is not supported: the runner offers its own cipher suites".to_string(),
        );
    }
    (!hints.is_empty()).then(|| hints.join("; "))
}

fn proxies(init: &InitConfig, config: &Config, warnings: &mut Vec<String>) {
    let skip = config.skip_proxy.or(init.skip_proxy).unwrap_or(false);
    if skip {
        return;
    }
    for (key, proxy) in [
        ("proxy", config.proxy.as_ref()),
        ("init_config.proxy", init.proxy.as_ref()),
    ] {
        if proxy.is_some_and(Proxy::is_set) {
            warnings.push(format!(
                "`{key}` is not supported yet: the runner connects to nginx directly"
            ));
            return;
        }
    }
}

fn unsupported_auth_options(config: &Config, warnings: &mut Vec<String>) {
    let set_text = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let set_value = |v: &Option<Value>| {
        v.as_ref().is_some_and(|v| {
            !v.is_null() && v != &Value::Bool(false) && v.as_str() != Some("disabled")
        })
    };
    if set_value(&config.auth_token) {
        warnings.push("`auth_token` is not supported yet: no token is read or sent".to_string());
    }
    if set_text(&config.ntlm_domain) {
        warnings.push("`ntlm_domain`: NTLM authentication is not supported yet".to_string());
    }
    let kerberos = set_value(&config.kerberos_auth)
        || [
            &config.kerberos_cache,
            &config.kerberos_hostname,
            &config.kerberos_keytab,
            &config.kerberos_principal,
        ]
        .into_iter()
        .any(set_text)
        || config.kerberos_delegate == Some(true)
        || config.kerberos_force_initiate == Some(true);
    if kerberos {
        warnings.push(
            "the `kerberos_*` options: Kerberos authentication is not supported yet".to_string(),
        );
    }
    if [&config.aws_region, &config.aws_host, &config.aws_service]
        .into_iter()
        .any(set_text)
    {
        warnings.push("the `aws_*` options: AWS request signing is not supported yet".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_sdk::serde_json::{self, json};

    fn settings_with(init: Value, instance: Value) -> Result<Settings, String> {
        let init: InitConfig = serde_json::from_value(init).map_err(|e| e.to_string())?;
        let config: Config = serde_json::from_value(instance).map_err(|e| e.to_string())?;
        Settings::new(init, config)
    }

    fn settings(instance: Value) -> Result<Settings, String> {
        settings_with(json!({}), instance)
    }

    fn header<'a>(s: &'a Settings, name: &str) -> Option<&'a str> {
        s.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults() {
        let s = settings(json!({"nginx_status_url": "http://localhost:81/nginx_status"})).unwrap();
        assert_eq!(s.url, "http://localhost:81/nginx_status");
        assert_eq!(s.metric_tags, ["nginx_host:localhost", "port:81"]);
        assert_eq!(
            s.service_check_tags,
            ["host:localhost", "port:81", "nginx_host:localhost"]
        );
        // 10 s wanted, but the run's default limit is 10 s: 9 s.
        assert_eq!(s.timeout, Duration::from_secs(9));
        assert!(s.follow_redirects);
        assert!(!s.log_requests);
        assert!(!s.sends_credentials);
        assert_eq!(s.tls_hint, None);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(
            s.headers,
            [(
                "User-Agent".to_string(),
                format!("runner-nginx-check/{}", env!("CARGO_PKG_VERSION"))
            )]
        );
    }

    #[test]
    fn tags_follow_datadog() {
        let s = settings(json!({
            "nginx_status_url": "https://Status.Example.com/nginx_status",
            "tags": ["env:prod", "team:web", "bare", "host:front-1"],
        }))
        .unwrap();
        // No port in the URL: `port:80`, even for https, as Datadog.
        assert_eq!(
            s.metric_tags,
            [
                "nginx_host:status.example.com",
                "port:80",
                "nginx_env:prod",
                "nginx_host:front-1"
            ]
        );
        assert_eq!(
            s.service_check_tags,
            [
                "host:status.example.com",
                "port:80",
                "nginx_host:status.example.com",
                "nginx_env:prod",
                "nginx_host:front-1"
            ]
        );
        // With disable_generic_tags the runner renames `host:` (and the
        // instance's generic tags) to `nginx_…`: no twins.
        let s = settings(json!({
            "nginx_status_url": "http://127.0.0.1:8080/status",
            "tags": ["env:prod"],
            "disable_generic_tags": true,
        }))
        .unwrap();
        assert_eq!(s.metric_tags, ["nginx_host:127.0.0.1", "port:8080"]);
        assert_eq!(s.service_check_tags, ["host:127.0.0.1", "port:8080"]);
    }

    #[test]
    fn plus_api_and_vts_are_configuration_errors() {
        let e = settings(json!({"nginx_status_url": "http://h/api", "use_plus_api": true}))
            .unwrap_err();
        assert!(e.contains("NGINX Plus API is not supported yet"), "{e}");
        let e = settings(json!({"nginx_status_url": "http://h/vts", "use_vts": true})).unwrap_err();
        assert!(
            e.contains("vhost_traffic_status module is not supported yet"),
            "{e}"
        );
        // `false`, and the Plus-only options without it, are fine.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "use_plus_api": false,
            "use_plus_api_stream": true, "plus_api_version": 7,
            "only_query_enabled_endpoints": true, "use_vts": false,
        }))
        .unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn a_missing_or_bad_url_is_an_error() {
        assert!(
            settings(json!({}))
                .unwrap_err()
                .contains("nginx_status_url")
        );
        assert!(
            settings(json!({"nginx_status_url": "localhost/nginx_status"}))
                .unwrap_err()
                .contains("no scheme")
        );
    }

    #[test]
    fn basic_auth_from_user_or_username() {
        // Datadog's nginx key.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "user": "alice", "password": "secret",
        }))
        .unwrap();
        assert_eq!(header(&s, "authorization"), Some("Basic YWxpY2U6c2VjcmV0"));
        assert!(s.sends_credentials);
        // `username` wins over `user`, as Datadog's remapper.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "user": "bob", "username": "alice",
            "password": "secret",
        }))
        .unwrap();
        assert_eq!(header(&s, "authorization"), Some("Basic YWxpY2U6c2VjcmV0"));
        // From the URL, when the options are not set.
        let s = settings(json!({"nginx_status_url": "http://alice:secret@h/s"})).unwrap();
        assert_eq!(header(&s, "authorization"), Some("Basic YWxpY2U6c2VjcmV0"));
        assert_eq!(s.url, "http://h/s");
        // Only half the credentials: none sent, with a warning.
        let s = settings(json!({"nginx_status_url": "http://h/s", "user": "alice"})).unwrap();
        assert_eq!(header(&s, "authorization"), None);
        assert!(s.warnings[0].contains("`user` is set but `password` is not"));
    }

    #[test]
    fn credentials_are_latin1_unless_told_otherwise() {
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "username": "é", "password": "x",
        }))
        .unwrap();
        // 0xE9 ':' 'x'
        assert_eq!(header(&s, "authorization"), Some("Basic 6Tp4"));
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "username": "é", "password": "x",
            "use_legacy_auth_encoding": false,
        }))
        .unwrap();
        assert_eq!(header(&s, "authorization"), Some("Basic w6k6eA=="));
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "username": "€", "password": "x",
        }))
        .unwrap();
        assert_eq!(header(&s, "authorization"), Some("Basic 4oKsOng="));
        assert!(s.warnings[0].contains("latin-1"));
    }

    #[test]
    fn other_auth_types_send_no_credentials() {
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "username": "a", "password": "b",
            "auth_type": "digest",
        }))
        .unwrap();
        assert_eq!(header(&s, "authorization"), None);
        assert!(s.warnings[0].contains("`auth_type: digest` is not supported yet"));
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "username": "a", "password": "b",
            "auth_type": "weird",
        }))
        .unwrap();
        assert!(header(&s, "authorization").is_some());
        assert!(s.warnings[0].contains("basic auth is used"));
    }

    #[test]
    fn headers_replace_or_extend_the_defaults() {
        let s = settings(json!({
            "nginx_status_url": "http://h/s",
            "headers": {"X-Token": "abc", "Host": "other", "X-Retries": 3},
            "extra_headers": {"x-token": "def", "Accept": "text/plain", "Flag": true},
        }))
        .unwrap();
        assert_eq!(header(&s, "user-agent"), None);
        assert_eq!(header(&s, "x-token"), Some("def"));
        assert_eq!(header(&s, "x-retries"), Some("3"));
        assert_eq!(header(&s, "accept"), Some("text/plain"));
        assert_eq!(header(&s, "flag"), Some("True"));
        assert_eq!(header(&s, "host"), None);
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("`Host` cannot be set"));

        let s = settings(json!({
            "nginx_status_url": "http://h/s", "extra_headers": {"Authorization": "Bearer t"},
        }))
        .unwrap();
        assert!(header(&s, "user-agent").is_some());
        assert_eq!(header(&s, "authorization"), Some("Bearer t"));
        assert!(s.sends_credentials);
        // Credentials win over an Authorization header.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "extra_headers": {"Authorization": "Bearer t"},
            "username": "alice", "password": "secret",
        }))
        .unwrap();
        let auths: Vec<_> = s
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .collect();
        assert_eq!(auths.len(), 1);
        assert_eq!(auths[0].1, "Basic YWxpY2U6c2VjcmV0");

        assert!(
            settings(json!({"nginx_status_url": "http://h/s", "headers": {"Bad Name": "x"}}))
                .unwrap_err()
                .contains("not a valid header name")
        );
        assert!(
            settings(json!({"nginx_status_url": "http://h/s", "headers": {"X": "a\r\nB: c"}}))
                .unwrap_err()
                .contains("line break")
        );
    }

    #[test]
    fn timeouts() {
        let t = |instance: Value| settings(instance).map(|s| s.timeout);
        let t_init =
            |init: Value, instance: Value| settings_with(init, instance).map(|s| s.timeout);
        assert_eq!(
            t(json!({"nginx_status_url": "http://h/s", "timeout": 2.5})),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(
            t_init(
                json!({"timeout": 3}),
                json!({"nginx_status_url": "http://h/s"})
            ),
            Ok(Duration::from_secs(3))
        );
        // The instance's timeout wins over init_config's.
        assert_eq!(
            t_init(
                json!({"timeout": 3}),
                json!({"nginx_status_url": "http://h/s", "timeout": 4})
            ),
            Ok(Duration::from_secs(4))
        );
        // One deadline: the larger of connect and read.
        assert_eq!(
            t(
                json!({"nginx_status_url": "http://h/s", "timeout": 2, "connect_timeout": 1, "read_timeout": 5})
            ),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            t(json!({"nginx_status_url": "http://h/s", "timeout": 2, "connect_timeout": 1})),
            Ok(Duration::from_secs(2))
        );
        // Longer than the run may take: cut, with a warning.
        let s = settings(json!({"nginx_status_url": "http://h/s", "timeout": 30})).unwrap();
        assert_eq!(s.timeout, Duration::from_secs(9));
        assert!(
            s.warnings[0].contains("requests end after 9 s"),
            "{:?}",
            s.warnings
        );
        assert!(
            s.warnings[0].contains("limits: {timeout: 31}"),
            "{:?}",
            s.warnings
        );
        // ... unless the instance's own limit leaves room.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "timeout": 30, "limits": {"timeout": 40},
        }))
        .unwrap();
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert!(s.warnings.is_empty());
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "limits": {"timeout": 2, "memory_mib": 32},
        }))
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(1800));
        assert!(
            s.warnings.is_empty(),
            "the default timeout is not the user's doing"
        );

        for bad in [json!(0), json!(-1)] {
            assert!(
                t(json!({"nginx_status_url": "http://h/s", "timeout": bad}))
                    .unwrap_err()
                    .contains("above 0")
            );
        }
        assert!(t(json!({"nginx_status_url": "http://h/s", "timeout": "10"})).is_err());
    }

    #[test]
    fn tls_options_that_do_not_apply_are_warned_about() {
        let s = settings(json!({"nginx_status_url": "https://h/s", "tls_verify": false})).unwrap();
        assert!(
            s.warnings[0].contains("`tls_verify: false` is not supported yet and has no effect")
        );
        assert!(s.tls_hint.as_deref().unwrap().contains("always verified"));
        // The nginx check's legacy key.
        let s =
            settings(json!({"nginx_status_url": "https://h/s", "ssl_validation": false})).unwrap();
        assert!(s.warnings[0].contains("`ssl_validation: false`"));
        // tls_verify wins over ssl_validation.
        let s = settings(json!({
            "nginx_status_url": "https://h/s", "ssl_validation": false, "tls_verify": true,
        }))
        .unwrap();
        assert!(s.warnings.is_empty());
        let s = settings(json!({
            "nginx_status_url": "https://h/s", "tls_ca_cert": "/etc/ssl/my-ca.pem",
            "tls_cert": "/c.pem", "tls_use_host_header": true,
            "tls_protocols_allowed": ["TLSv1.2"], "tls_ciphers": ["X"],
            "tls_ignore_warning": true,
        }))
        .unwrap();
        assert_eq!(s.warnings.len(), 5, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("not against /etc/ssl/my-ca.pem"));
        assert!(s.tls_hint.as_deref().unwrap().contains("`tls_ca_cert`"));
        // Plain http: TLS options do not matter.
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "tls_verify": false, "tls_ca_cert": "/x",
        }))
        .unwrap();
        assert!(s.warnings.is_empty());
        assert_eq!(s.tls_hint, None);
    }

    #[test]
    fn other_unsupported_options_are_warned_about() {
        let s = settings_with(
            json!({"proxy": {"http": "http://proxy:3128"}}),
            json!({"nginx_status_url": "http://h/s"}),
        )
        .unwrap();
        assert!(s.warnings[0].contains("`init_config.proxy` is not supported yet"));
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "proxy": {"https": "http://p:1"}, "skip_proxy": true,
        }))
        .unwrap();
        assert!(s.warnings.is_empty());
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "auth_token": {"reader": {}, "writer": {}},
            "ntlm_domain": "D\\u", "kerberos_auth": "required", "aws_region": "eu-west-1",
            "persist_connections": true, "request_size": 16, "log_requests": true,
            "allow_redirects": false, "kerberos_delegate": false,
        }))
        .unwrap();
        assert_eq!(s.warnings.len(), 4, "{:?}", s.warnings);
        assert!(s.log_requests);
        assert!(!s.follow_redirects);
        // Empty or disabled values are not "set".
        let s = settings(json!({
            "nginx_status_url": "http://h/s", "kerberos_auth": "disabled", "proxy": {},
            "tls_cert": "", "headers": {},
        }))
        .unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!(
            header(&s, "user-agent").is_some(),
            "empty `headers` keeps the defaults"
        );
    }

    #[test]
    fn generic_twins_are_datadogs() {
        let tags: Vec<String> = [
            "env:prod",
            "service:web",
            "version:1:2",
            "team:x",
            "cluster",
            "host_name:h",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            generic_twins(&tags),
            [
                "nginx_env:prod",
                "nginx_service:web",
                "nginx_version:1:2",
                "nginx_host_name:h"
            ]
        );
    }

    #[test]
    fn header_values_print_as_python_does() {
        assert_eq!(HeaderValue::Number(1.0).text(), "1.0");
        assert_eq!(HeaderValue::Number(1.5).text(), "1.5");
        assert_eq!(HeaderValue::Integer(-2).text(), "-2");
        assert_eq!(HeaderValue::Bool(false).text(), "False");
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use runner_sdk::serde_json::Value;

    fn schema<T: JsonSchema>() -> Value {
        schemars::schema_for!(T).to_value()
    }

    /// The runner validates instances against this schema and shows the
    /// descriptions: only the URL is required, and every key is explained.
    #[test]
    fn the_schema_requires_the_url_and_describes_every_key() {
        for (name, schema) in [
            ("instance", schema::<Config>()),
            ("init_config", schema::<InitConfig>()),
        ] {
            let properties = schema["properties"].as_object().unwrap();
            for (key, property) in properties {
                assert!(
                    property
                        .get("description")
                        .is_some_and(|d| d.as_str().is_some_and(|d| !d.is_empty())),
                    "{name} key `{key}` has no description: {property}"
                );
            }
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().map(|k| k.as_str().unwrap()).collect())
                .unwrap_or_default();
            let expected: &[&str] = if name == "instance" {
                &["nginx_status_url"]
            } else {
                &[]
            };
            assert_eq!(required, expected, "{name}");
        }
        let instance = schema::<Config>();
        assert!(instance["properties"].get("tls_verify").is_some());
        assert!(instance["properties"].get("use_plus_api").is_some());
        assert_eq!(
            schema::<InitConfig>()["additionalProperties"],
            Value::Bool(false)
        );
    }
}
