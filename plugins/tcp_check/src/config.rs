//! One `tcp_check` instance as written in conf.d, with Datadog's keys,
//! defaults and rules (integrations-core `tcp_check`).

use runner_sdk::Error;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// One instance of `tcp_check`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Config {
    /// Names the instance: the `instance:` tag of everything it sends.
    pub name: String,
    /// Host name or IP address to connect to. The runner resolves it and
    /// grants this instance connections to it on `port`, and nothing else.
    pub host: String,
    /// TCP port to connect to (a number, or a string of digits).
    #[serde(deserialize_with = "port")]
    #[schemars(with = "PortSchema")]
    pub port: u16,
    /// Seconds to wait for the connection. Default 10.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 0))]
    pub timeout: f64,
    /// Send `network.tcp.response_time`, the seconds the connection took.
    #[serde(default)]
    pub collect_response_time: bool,
    /// Connect to every address the host resolves to, not only the first.
    #[serde(default)]
    pub multiple_ips: bool,
    /// Only use the host's IPv4 addresses.
    #[serde(default)]
    pub ipv4_only: bool,
    /// Datadog: seconds between DNS lookups of `host`. The runner does the
    /// lookups and caches them for 30 s, whatever this says.
    #[serde(default)]
    pub ip_cache_duration: Option<f64>,
    /// Tags added to everything the instance sends (added by the runner).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The schema of `port`: an integer or a string of digits.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PortSchema {
    Number(#[schemars(range(min = 1, max = 65535))] u16),
    Text(#[schemars(regex(pattern = r"^\s*[0-9]+\s*$"))] String),
}

fn default_timeout() -> f64 {
    10.0
}

fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    let invalid = |shown: String| {
        serde::de::Error::custom(format!(
            "`{shown}` is an invalid `port`; a number must be specified"
        ))
    };
    let port = match Raw::deserialize(deserializer)? {
        Raw::Number(n) => u16::try_from(n).map_err(|_| invalid(n.to_string()))?,
        Raw::Text(text) => text.trim().parse().map_err(|_| invalid(text.clone()))?,
    };
    if port == 0 {
        return Err(invalid("0".into()));
    }
    Ok(port)
}

impl Config {
    /// The connect timeout; refuses what is not a usable duration.
    pub fn timeout(&self) -> Result<Duration, Error> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "`{}` is an invalid `timeout`; a positive number of seconds must be specified",
                    self.timeout
                )
                .into()
            })
    }
}
