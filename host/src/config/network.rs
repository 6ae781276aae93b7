//! The `network` instance option: how an operator narrows or widens the
//! network a check is granted, and the endpoint syntax it shares with the
//! checks' own endpoint keys (`host:port` for TCP, an `http://` or
//! `https://` URL for HTTP).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// `network:` as written in an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct NetworkOverride {
    /// Endpoints granted on top of those the instance's configuration
    /// names: `host:port` for TCP, an `http://` or `https://` URL for
    /// HTTP (its host and port; any path).
    #[schemars(with = "Vec<String>", extend("examples" = [["db-replica:5432", "https://status.internal:8443"]]))]
    #[serde(deserialize_with = "endpoints")]
    pub allow: Vec<EndpointSpec>,
    /// Endpoints taken away from the grant, written the same way; `"*"`
    /// takes away every endpoint the configuration names, so only `allow`
    /// is left.
    #[schemars(with = "Vec<String>", extend("examples" = [["*"]]))]
    #[serde(deserialize_with = "endpoints")]
    pub deny: Vec<EndpointSpec>,
}

/// One endpoint written by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointSpec {
    /// `host:port`: TCP.
    Tcp { host: String, port: u16 },
    /// `http(s)://host[:port][/path]`: HTTP requests to host and port.
    Http { host: String, port: u16 },
    /// `*` (in `deny`): everything the configuration names.
    All,
}

impl EndpointSpec {
    /// Parse `host:port`, `[v6]:port`, an `http(s)://` URL or `*`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(EndpointSpec::All);
        }
        if text.contains("://") {
            let (host, port) = http_url(text)?;
            return Ok(EndpointSpec::Http { host, port });
        }
        let (host, port) = host_port(text)?;
        Ok(EndpointSpec::Tcp { host, port })
    }
}

impl fmt::Display for EndpointSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointSpec::Tcp { host, port } => write!(f, "{host}:{port}"),
            EndpointSpec::Http { host, port } => write!(f, "http(s)://{host}:{port}"),
            EndpointSpec::All => f.write_str("*"),
        }
    }
}

/// The host and port of an `http://` or `https://` URL (the scheme's
/// default port when it has none).
pub fn http_url(text: &str) -> Result<(String, u16), String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{text}`: the scheme `{}` is not http or https",
            url.scheme()
        ));
    }
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => return Err(format!("`{text}` has no host")),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("`{text}` has no port"))?;
    Ok((host, port))
}

/// `host:port` or `[v6]:port`.
pub fn host_port(text: &str) -> Result<(String, u16), String> {
    let wrong = || format!("`{text}` is not `host:port` (IPv6 as `[::1]:5432`) or an http(s) URL");
    let (host, port) = text.rsplit_once(':').ok_or_else(wrong)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(wrong)?,
        None if host.contains(':') => return Err(wrong()),
        None => host,
    };
    let port: u16 = port.parse().map_err(|_| wrong())?;
    if host.is_empty() || port == 0 {
        return Err(wrong());
    }
    Ok((host.to_string(), port))
}

fn endpoints<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<EndpointSpec>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|t| EndpointSpec::parse(t).map_err(serde::de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_operators_write_them() {
        let tcp = |host: &str, port| EndpointSpec::Tcp {
            host: host.into(),
            port,
        };
        let http = |host: &str, port| EndpointSpec::Http {
            host: host.into(),
            port,
        };
        assert_eq!(EndpointSpec::parse("db:5432"), Ok(tcp("db", 5432)));
        assert_eq!(EndpointSpec::parse("[::1]:5432"), Ok(tcp("::1", 5432)));
        assert_eq!(EndpointSpec::parse("*"), Ok(EndpointSpec::All));
        assert_eq!(
            EndpointSpec::parse("http://127.0.0.1:8080/nginx_status"),
            Ok(http("127.0.0.1", 8080))
        );
        assert_eq!(
            EndpointSpec::parse("https://example.com"),
            Ok(http("example.com", 443))
        );
        assert_eq!(EndpointSpec::parse("http://[::1]/x"), Ok(http("::1", 80)));
        for bad in ["db", "::1:5432", "db:0", "db:http", "ftp://x:21", ":80"] {
            let error = EndpointSpec::parse(bad).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
    }

    #[test]
    fn an_override_reads_from_yaml() {
        let value: NetworkOverride =
            serde_yaml::from_str("allow: ['db:5432']\ndeny: ['*']\n").unwrap();
        assert_eq!(value.deny, vec![EndpointSpec::All]);
        let error = serde_yaml::from_str::<NetworkOverride>("allow: ['db']").unwrap_err();
        assert!(
            error.to_string().contains("`db` is not `host:port`"),
            "{error}"
        );
    }
}
