//! What an instance's configuration grants its check: files to read as
//! pid files, raw command lines, and the network endpoints its
//! configuration names under the check's declared endpoint keys, widened
//! or narrowed by the instance's `network` option. Pure: no DNS here (the
//! sandbox resolves granted names when the check asks).

use std::path::PathBuf;

use serde_json::Value;

use crate::config::network::{EndpointSpec, host_port, http_url};
use crate::config::{ConfigError, InstanceConfig};
use crate::sandbox::{EndpointKey, HostPort, NetworkGrants, ProcessGrants};

/// The files named by the check's declared file keys, and raw command
/// lines when the instance asks for them.
pub fn process_grants(config: &InstanceConfig, file_keys: &[String]) -> ProcessGrants {
    let pid_files = file_keys
        .iter()
        .filter_map(|key| config.instance.get(key)?.as_str())
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .collect();
    ProcessGrants {
        pid_files,
        raw_command_lines: config.raw_command_lines,
    }
}

/// The endpoints named under the check's endpoint keys, plus
/// `network.allow`, minus `network.deny`. A value that names no usable
/// endpoint grants nothing and is reported (the check will report its own
/// error when it tries to use it).
pub fn network_grants(
    config: &InstanceConfig,
    keys: &[EndpointKey],
) -> (NetworkGrants, Vec<ConfigError>) {
    let mut grants = NetworkGrants::default();
    let mut warnings = Vec::new();
    for key in keys {
        match declared(&config.instance, key) {
            Ok(Some(EndpointSpec::Tcp { host, port })) => push(&mut grants.tcp, &host, port),
            Ok(Some(EndpointSpec::Http { host, port })) => push(&mut grants.http, &host, port),
            Ok(Some(EndpointSpec::All) | None) => {}
            Err((key, message)) => warnings.push(
                ConfigError::new(format!("{message}; no network is granted for it")).with_key(key),
            ),
        }
    }
    for denied in &config.network.deny {
        match denied {
            EndpointSpec::All => grants = NetworkGrants::default(),
            EndpointSpec::Tcp { host, port } => {
                grants.tcp.retain(|g| *g != HostPort::new(host, *port))
            }
            EndpointSpec::Http { host, port } => {
                grants.http.retain(|g| *g != HostPort::new(host, *port))
            }
        }
    }
    for allowed in &config.network.allow {
        match allowed {
            EndpointSpec::Tcp { host, port } => push(&mut grants.tcp, host, *port),
            EndpointSpec::Http { host, port } => push(&mut grants.http, host, *port),
            EndpointSpec::All => {}
        }
    }
    (grants, warnings)
}

fn push(list: &mut Vec<HostPort>, host: &str, port: u16) {
    let endpoint = HostPort::new(host, port);
    if !list.contains(&endpoint) {
        list.push(endpoint);
    }
}

/// The endpoint one key names in the instance, if any. `Err` carries the
/// key and what is wrong with its value.
fn declared(instance: &Value, key: &EndpointKey) -> Result<Option<EndpointSpec>, (String, String)> {
    match key {
        EndpointKey::Url(key) => {
            let Some(value) = instance.get(key).filter(|v| !v.is_null()) else {
                return Ok(None);
            };
            let Some(text) = value.as_str() else {
                return Err((key.clone(), "not a URL".into()));
            };
            let (host, port) = http_url(text).map_err(|e| (key.clone(), e))?;
            Ok(Some(EndpointSpec::Http { host, port }))
        }
        EndpointKey::HostPort {
            host,
            port,
            default_host,
            default_port,
        } => {
            let host_value = match instance.get(host).filter(|v| !v.is_null()) {
                Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_string(),
                Some(Value::String(_)) => return Err((host.clone(), "empty host".into())),
                Some(_) => return Err((host.clone(), "not a host name or address".into())),
                None => match default_host {
                    Some(default) => default.clone(),
                    None => return Ok(None),
                },
            };
            let port_value = match instance.get(port).filter(|v| !v.is_null()) {
                Some(value) => port_number(value).ok_or_else(|| {
                    (
                        port.clone(),
                        format!("{value} is not a port number (1 to 65535)"),
                    )
                })?,
                None => match default_port {
                    Some(default) => *default,
                    None => return Ok(None),
                },
            };
            // A host written `host:port` or as a URL is the check's
            // business to reject; grant what it names when it is clear.
            let host_value = host_port(&host_value).map(|(h, _)| h).unwrap_or(host_value);
            Ok(Some(EndpointSpec::Tcp {
                host: host_value,
                port: port_value,
            }))
        }
    }
}

/// A port written as a number or a string of digits, as Datadog accepts.
fn port_number(value: &Value) -> Option<u16> {
    let port = match value {
        Value::Number(n) => u16::try_from(n.as_u64()?).ok()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (port > 0).then_some(port)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::network::NetworkOverride;

    fn config(instance: Value, network: NetworkOverride) -> InstanceConfig {
        let mut config = crate::config::tests_support::instance_config(instance);
        config.network = network;
        config
    }

    fn postgres_key() -> EndpointKey {
        EndpointKey::HostPort {
            host: "host".into(),
            port: "port".into(),
            default_host: Some("localhost".into()),
            default_port: Some(5432),
        }
    }

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort::new(host, port)
    }

    #[test]
    fn keys_grant_what_the_instance_names() {
        let keys = [EndpointKey::Url("nginx_status_url".into()), postgres_key()];
        let instance = json!({
            "nginx_status_url": "http://LocalHost:8080/nginx_status",
            "host": "127.0.0.1",
            "port": "15432",
        });
        let (grants, warnings) = network_grants(&config(instance, Default::default()), &keys);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(grants.http, vec![hp("localhost", 8080)]);
        assert_eq!(grants.tcp, vec![hp("127.0.0.1", 15432)]);
    }

    #[test]
    fn defaults_apply_and_missing_keys_grant_nothing() {
        let (grants, _) = network_grants(&config(json!({}), Default::default()), &[postgres_key()]);
        assert_eq!(grants.tcp, vec![hp("localhost", 5432)]);
        let no_default = EndpointKey::HostPort {
            host: "host".into(),
            port: "port".into(),
            default_host: None,
            default_port: None,
        };
        let (grants, _) = network_grants(
            &config(json!({"host": "x"}), Default::default()),
            &[no_default],
        );
        assert!(grants.is_empty());
    }

    #[test]
    fn bad_values_are_reported_with_their_key() {
        let keys = [EndpointKey::Url("url".into()), postgres_key()];
        let instance = json!({"url": "ftp://x/", "port": 70000});
        let (grants, warnings) = network_grants(&config(instance, Default::default()), &keys);
        assert!(grants.is_empty());
        let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            text[0].contains("url") && text[0].contains("ftp"),
            "{text:?}"
        );
        assert!(
            text[1].contains("port") && text[1].contains("70000"),
            "{text:?}"
        );
    }

    #[test]
    fn the_override_narrows_and_widens() {
        let instance = json!({"host": "db", "port": 5432});
        let parse = |list: &[&str]| {
            list.iter()
                .map(|t| EndpointSpec::parse(t).unwrap())
                .collect::<Vec<_>>()
        };
        let network = NetworkOverride {
            allow: parse(&["replica:5432", "http://127.0.0.1:9090/metrics"]),
            deny: parse(&["db:5432"]),
        };
        let (grants, _) = network_grants(&config(instance.clone(), network), &[postgres_key()]);
        assert_eq!(grants.tcp, vec![hp("replica", 5432)]);
        assert_eq!(grants.http, vec![hp("127.0.0.1", 9090)]);

        let network = NetworkOverride {
            allow: Vec::new(),
            deny: parse(&["*"]),
        };
        let (grants, _) = network_grants(&config(instance, network), &[postgres_key()]);
        assert!(grants.is_empty());
    }
}
