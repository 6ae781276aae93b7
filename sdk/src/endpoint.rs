//! [`EndpointKey`]: how a check tells the runner where its configuration
//! names the endpoints it connects to.

use crate::bindings::exports::runner::check::check::{self as wit, HostPortKeys};

/// Where an instance's configuration names a network endpoint, for
/// [`Check::ENDPOINT_KEYS`](crate::Check::ENDPOINT_KEYS).
///
/// ```
/// use runner_sdk::EndpointKey;
/// // nginx: one URL key; HTTP requests to its host and port are granted.
/// const NGINX: &[EndpointKey] = &[EndpointKey::Url("nginx_status_url")];
/// // postgres: `host` and `port`, with the check's defaults.
/// const POSTGRES: &[EndpointKey] = &[EndpointKey::HostPort {
///     host: "host",
///     port: "port",
///     default_host: Some("localhost"),
///     default_port: Some(5432),
/// }];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKey {
    /// A key whose value is an `http://` or `https://` URL: HTTP requests
    /// to the URL's host and port (any path) are granted.
    Url(&'static str),
    /// A host key and a port key: TCP connections to that host and port
    /// are granted. The defaults apply when the instance leaves a key out
    /// (`None`: no grant without it).
    HostPort {
        host: &'static str,
        port: &'static str,
        default_host: Option<&'static str>,
        default_port: Option<u16>,
    },
}

impl EndpointKey {
    pub(crate) fn to_wit(self) -> wit::EndpointKey {
        match self {
            EndpointKey::Url(key) => wit::EndpointKey::Url(key.to_string()),
            EndpointKey::HostPort {
                host,
                port,
                default_host,
                default_port,
            } => wit::EndpointKey::HostPort(HostPortKeys {
                host: host.to_string(),
                port: port.to_string(),
                default_host: default_host.map(str::to_string),
                default_port,
            }),
        }
    }
}
