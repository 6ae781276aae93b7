//! Datadog's TCP check: can a connection be opened to `host:port`, and
//! how long does it take. The smallest networked check: the runner grants
//! each instance exactly its `host` and `port`.
//!
//! Sends, per address tried (the first the host resolves to, or all with
//! `multiple_ips`):
//! - `network.tcp.can_connect` (gauge, 1 or 0) and the `tcp.can_connect`
//!   service check, tagged `target_host:`, `port:`, `instance:` (the
//!   normalised name) and `address:`;
//! - with `collect_response_time`, `network.tcp.response_time` (gauge,
//!   seconds) tagged `url:<host>:<port>`, `instance:` and `address:`.

pub mod config;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use runner_sdk::net::{self, ConnectErrorKind};
use runner_sdk::{Check, Context, EndpointKey, Error, NoInitConfig, Status};

pub use config::Config;

/// The service check and its twin gauge.
pub const SERVICE_CHECK: &str = "tcp.can_connect";
pub const CAN_CONNECT: &str = "network.tcp.can_connect";
pub const RESPONSE_TIME: &str = "network.tcp.response_time";

/// One configured instance.
#[derive(Debug)]
pub struct TcpCheck {
    config: Config,
    timeout: Duration,
    /// Tags of the service check and `can_connect` (before `address:`).
    check_tags: Vec<String>,
    /// Tags of `response_time` (before `address:`).
    metric_tags: Vec<String>,
}

impl Check for TcpCheck {
    type Config = Config;
    type InitConfig = NoInitConfig;
    const NAME: &'static str = "tcp_check";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ENDPOINT_KEYS: &'static [EndpointKey] = &[EndpointKey::HostPort {
        host: "host",
        port: "port",
        default_host: None,
        default_port: None,
    }];

    fn configure(_init_config: NoInitConfig, config: Config) -> Result<Self, Error> {
        let timeout = config.timeout()?;
        if config.host.trim().is_empty() {
            return Err("`` is an invalid `url`; a string must be specified".into());
        }
        let check_tags = vec![
            format!("target_host:{}", config.host),
            format!("port:{}", config.port),
            format!("instance:{}", normalize_tag(&config.name)),
        ];
        let metric_tags = vec![
            format!("url:{}:{}", config.host, config.port),
            format!("instance:{}", config.name),
        ];
        Ok(TcpCheck {
            config,
            timeout,
            check_tags,
            metric_tags,
        })
    }

    fn run(&mut self, ctx: &mut Context) -> Result<(), Error> {
        let addresses = self.addresses()?;
        for address in addresses {
            let tag = format!("address:{}", address.ip());
            let started = Instant::now();
            let outcome = net::connect_addr(&address, self.timeout);
            let elapsed = started.elapsed();
            let (status, message) = match outcome {
                Ok(stream) => {
                    drop(stream);
                    (Status::Ok, String::new())
                }
                Err(error) => (Status::Critical, failure_message(&error, elapsed)),
            };
            let mut tags = self.check_tags.clone();
            tags.push(tag.clone());
            ctx.service_check(SERVICE_CHECK, status, &tags, &message);
            let up = if status == Status::Ok { 1.0 } else { 0.0 };
            ctx.gauge(CAN_CONNECT, up, &tags);
            if status == Status::Ok && self.config.collect_response_time {
                let mut tags = self.metric_tags.clone();
                tags.push(tag);
                ctx.gauge(RESPONSE_TIME, elapsed.as_secs_f64(), &tags);
            }
        }
        Ok(())
    }
}

impl TcpCheck {
    /// The addresses to try: resolved by the runner, IPv4 only when asked,
    /// the first unless `multiple_ips`.
    fn addresses(&self) -> Result<Vec<SocketAddr>, Error> {
        let host = &self.config.host;
        let mut addresses = net::resolve(host, self.config.port).map_err(|e| match e.kind {
            ConnectErrorKind::Resolve => {
                Error::from(format!("URL: {host} could not be resolved ({})", e.detail))
            }
            _ => Error::from(e),
        })?;
        if self.config.ipv4_only {
            addresses.retain(|a| matches!(a.ip(), IpAddr::V4(_)));
        }
        if !self.config.multiple_ips {
            addresses.truncate(1);
        }
        if addresses.is_empty() {
            return Err(format!("URL: {host} could not be resolved (no IPv4 address)").into());
        }
        Ok(addresses)
    }
}

/// The service check's message on failure, worded as Datadog's.
fn failure_message(error: &std::io::Error, elapsed: Duration) -> String {
    let ms = elapsed.as_millis();
    if matches!(
        error.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        format!(
            "Socket error: timed out. The connection timed out after {ms} ms because it took \
             more time than the system tcp stack allows. You might want to change this setting \
             to allow longer timeouts"
        )
    } else {
        format!(
            "{}. Connection failed after {ms} ms",
            net::io_message(error)
        )
    }
}

/// Datadog's `AgentCheck.normalize_tag`: `,+*-/()[]{}` and white space
/// become `_`, runs of `_` collapse, `_` around dots go, and `_` at the
/// ends are stripped.
pub fn normalize_tag(tag: &str) -> String {
    let replaced: String = tag
        .chars()
        .map(|c| match c {
            ',' | '+' | '*' | '-' | '/' | '(' | ')' | '[' | ']' | '{' | '}' => '_',
            c if c.is_ascii_whitespace() => '_',
            c => c,
        })
        .collect();
    let mut collapsed = String::with_capacity(replaced.len());
    for c in replaced.chars() {
        if c == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(c);
    }
    let dotted = collapsed.replace("_.", ".").replace("._", ".");
    dotted.trim_matches('_').to_string()
}

runner_sdk::export_check!(TcpCheck);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configure(value: serde_json::Value) -> Result<TcpCheck, Error> {
        let config: Config = serde_json::from_value(value).map_err(|e| e.to_string())?;
        TcpCheck::configure(NoInitConfig {}, config)
    }

    #[test]
    fn tags_follow_datadog() {
        let check =
            configure(json!({"name": "My DB (primary)", "host": "db", "port": "5432"})).unwrap();
        assert_eq!(
            check.check_tags,
            ["target_host:db", "port:5432", "instance:My_DB_primary"]
        );
        assert_eq!(
            check.metric_tags,
            ["url:db:5432", "instance:My DB (primary)"]
        );
        assert_eq!(check.timeout, Duration::from_secs(10));
    }

    #[test]
    fn normalize_tag_matches_the_agent() {
        assert_eq!(normalize_tag("a-b c"), "a_b_c");
        assert_eq!(normalize_tag("__x__.__y__"), "x.y");
        assert_eq!(normalize_tag("web (blue)"), "web_blue");
        assert_eq!(normalize_tag("host:port"), "host:port");
    }

    #[test]
    fn bad_ports_and_timeouts_are_named() {
        let error = configure(json!({"name": "x", "host": "db", "port": "http"})).unwrap_err();
        assert!(
            error.message().contains("`http` is an invalid `port`"),
            "{error:?}"
        );
        let error = configure(json!({"name": "x", "host": "db", "port": 70000})).unwrap_err();
        assert!(
            error.message().contains("`70000` is an invalid `port`"),
            "{error:?}"
        );
        let error =
            configure(json!({"name": "x", "host": "db", "port": 1, "timeout": 0})).unwrap_err();
        assert!(error.message().contains("invalid `timeout`"), "{error:?}");
    }

    #[test]
    fn failure_messages_read_like_datadog() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let message = failure_message(&refused, Duration::from_millis(3));
        assert_eq!(message, "connection refused. Connection failed after 3 ms");
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert!(
            failure_message(&timeout, Duration::from_secs(1))
                .starts_with("Socket error: timed out.")
        );
    }
}
