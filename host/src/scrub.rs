//! The Datadog Agent's secret scrubber (pkg/util/scrubber, default
//! replacers), so what `configcheck` prints is scrubbed exactly as the
//! Agent scrubs it: passwords, tokens, SNMP community strings, credentials
//! in URLs, API/APP keys (all but their last characters), PEM blocks.
//!
//! Two passes, as in the Agent:
//! - on a decoded value ([`scrub_value`]): any mapping key matching a
//!   sensitive-key pattern gets `********` (API/APP keys keep a suffix);
//! - on text ([`scrub_bytes`], [`scrub_text`]): regex replacers per line,
//!   then multi-line ones (PEM blocks, `community_strings` lists).
//!
//! [`scrub_yaml`] chains them like the Agent's `ScrubYaml`, which is what
//! its `configcheck` applies to every instance and `init_config`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::goyaml;

/// What a scrubbed value becomes (the Agent's `defaultReplacement`).
pub const REPLACEMENT: &str = "********";

/// A text replacer: applied to a line (or the whole text) when one of its
/// hints occurs in it, or always when it has none.
struct TextReplacer {
    regex: Regex,
    hints: &'static [&'static str],
    replacement: &'static str,
}

/// What a sensitive mapping key's value becomes.
#[derive(Clone, Copy)]
enum KeyAction {
    Mask,
    /// API / APP keys: stars, then the last few characters.
    KeepSuffix,
    /// `additional_endpoints`: every leaf of a mapping, or scrub a list.
    AllLeaves,
}

struct KeyReplacer {
    key: Regex,
    action: KeyAction,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("scrubber pattern {pattern}: {e}"))
}

/// `key: value` lines whose key contains `part` anywhere.
fn yaml_key_part(part: &str) -> String {
    format!(r"(\s*(\w|_|-)*{part}(\w|_|-)*\s*:).+")
}

/// `key: value` lines whose key is exactly `key`.
fn yaml_key(key: &str) -> String {
    format!(r"(\s*{key}\s*:).+")
}

/// `key: value` lines (from the line start) whose key ends with `ending`.
fn yaml_key_ending(ending: &str) -> String {
    format!(r"(^\s*(\w|_|-)*{ending}\s*:).+")
}

fn yaml_key_prefix_suffix(prefix: &str, suffix: &str) -> String {
    format!(r"(\s*{prefix}(\w|_|-)*{suffix}\s*:).+")
}

const QUOTED: &str = r#"$1 "********""#;

const EXACT_KEYS: &str = "(auth-tenantid|authority|cainzapp-api-key|cms-svc-api-key|dd-api-key|lodauth|sec-websocket-key|statuskey|cookie|private-token|kong-admin-token|accesstoken|session_token)";
const SNMP_KEYS: &str = "(community_string|auth_?[Kk]ey|priv_?[Kk]ey|community|authentication_key|privacy_key|Authorization|authorization)";

/// Single-line replacers, in the Agent's order.
static LINE_REPLACERS: LazyLock<Vec<TextReplacer>> = LazyLock::new(|| {
    let r =
        |regex: String, hints: &'static [&'static str], replacement: &'static str| TextReplacer {
            regex: re(&regex),
            hints,
            replacement,
        };
    vec![
        r(
            r"(api_?key=)\b[a-zA-Z0-9]+([a-zA-Z0-9]{4})\b".into(),
            &["api_key", "apikey"],
            "${1}****************************${2}",
        ),
        r(
            r"(ap(?:p|plication)_?key=)\b[a-zA-Z0-9]+([a-zA-Z0-9]{4})\b".into(),
            &["app_key", "appkey", "application_key"],
            "${1}************************************${2}",
        ),
        r(
            r"ddapp_[a-zA-Z0-9_]{30}([a-zA-Z0-9_]{4})".into(),
            &["ddapp_"],
            "************************************${1}",
        ),
        r(
            r"\bBearer [a-fA-F0-9]{59}([a-fA-F0-9]{5})\b".into(),
            &["Bearer"],
            "Bearer ***********************************************************${1}",
        ),
        r(r"\bBearer\s+[^*]+\b".into(), &["Bearer"], "Bearer ********"),
        r(
            yaml_key_prefix_suffix("x-", "key"),
            &[
                "x-api-key",
                "x-dreamfactory-api-key",
                "x-functions-key",
                "x-lz-api-key",
                "x-octopus-apikey",
                "x-pm-partner-key",
                "x-rapidapi-key",
                "x-sungard-idp-api-key",
                "x-vtex-api-appkey",
                "x-seel-api-key",
                "x-goog-api-key",
                "x-sonar-passcode",
            ],
            QUOTED,
        ),
        r(
            yaml_key_prefix_suffix("x-", "token"),
            &[
                "x-auth-token",
                "x-rundeck-auth-token",
                "x-consul-token",
                "x-datadog-monitor-token",
                "x-vault-token",
                "x-vtex-api-apptoken",
                "x-static-token",
            ],
            QUOTED,
        ),
        r(
            yaml_key_prefix_suffix("x-", "auth"),
            &["x-auth", "x-stratum-auth"],
            QUOTED,
        ),
        r(
            yaml_key_prefix_suffix("x-", "secret"),
            &[
                "x-api-secret",
                "x-ibm-client-secret",
                "x-chalk-client-secret",
            ],
            QUOTED,
        ),
        r(
            yaml_key(EXACT_KEYS),
            &[
                "auth-tenantid",
                "authority",
                "cainzapp-api-key",
                "cms-svc-api-key",
                "dd-api-key",
                "lodauth",
                "sec-websocket-key",
                "statuskey",
                "cookie",
                "private-token",
                "kong-admin-token",
                "accesstoken",
                "session_token",
            ],
            QUOTED,
        ),
        r(yaml_key_ending("private_key"), &["private_key"], QUOTED),
        r(
            r"(\-|\:|,|\[|\{)(\s+)?\b[a-fA-F0-9]{28}([a-fA-F0-9]{4})\b".into(),
            &[],
            r#"${1}${2}"****************************${3}""#,
        ),
        r(
            r"\b[a-fA-F0-9]{28}([a-fA-F0-9]{4})\b".into(),
            &[],
            "****************************${1}",
        ),
        r(
            r"(\-|\:|,|\[|\{)(\s+)?\b[a-fA-F0-9]{36}([a-fA-F0-9]{4})\b".into(),
            &[],
            r#"${1}${2}"************************************${3}""#,
        ),
        r(
            r"\b[a-fA-F0-9]{36}([a-fA-F0-9]{4})\b".into(),
            &[],
            "************************************${1}",
        ),
        r(
            r"\bDDRCM_[A-Z0-9]+([A-Z0-9]{5})\b".into(),
            &[],
            "***********************************${1}",
        ),
        // Credentials in URLs: `scheme://user:password@host`.
        r(
            r#"(?i)([a-z][a-z0-9+-.]+://|\b)([^:\s]+):([^\s|"]+)@"#.into(),
            &[],
            "${1}${2}:********@",
        ),
        r(yaml_key_part("(pass(word)?|pwd)"), &["pass", "pwd"], QUOTED),
        // `--mysql_password=x`, `"pwd": "x"`: the value, not the line.
        r(
            r#"(?i)(["']?(?:pass(?:word)?|pswd|pwd)["']?)((?:=| = |: )["']?)([0-9A-Za-z#!$%&()*+,\-./:<=>?@\[\\\]^_{|}~]+)"#
                .into(),
            &[],
            "${1}${2}********",
        ),
        r(yaml_key_ending("_?(token|jwt)"), &["token", "jwt"], QUOTED),
        r(
            yaml_key("(consumer_key|token_id)"),
            &["consumer_key", "token_id"],
            QUOTED,
        ),
        r(
            yaml_key_ending("_secret(_id)?"),
            &["secret", "secret_id"],
            QUOTED,
        ),
        r(yaml_key_ending("access_key"), &["access_key"], QUOTED),
        r(
            yaml_key(SNMP_KEYS),
            &[
                "community_string",
                "authKey",
                "authkey",
                "auth_key",
                "privKey",
                "privkey",
                "priv_key",
                "community",
                "authentication_key",
                "privacy_key",
                "Authorization",
                "authorization",
            ],
            QUOTED,
        ),
    ]
});

/// Replacers run over the whole text after the line pass.
static MULTI_LINE_REPLACERS: LazyLock<Vec<TextReplacer>> = LazyLock::new(|| {
    vec![
        // `community_strings:` followed by a `- x` list or a `[...]` list.
        TextReplacer {
            regex: re(r"(\s*community_strings\s*:)\s*(?:\n(?:\s+-\s+.*)*|\[(?:\n?.*?)*?\])"),
            hints: &["community_strings"],
            replacement: QUOTED,
        },
        TextReplacer {
            regex: re(r"-----BEGIN (?:.*)-----[A-Za-z0-9=\+/\s]*-----END (?:.*)-----"),
            hints: &["BEGIN"],
            replacement: REPLACEMENT,
        },
    ]
});

/// Sensitive mapping keys, in the Agent's order (the first match wins).
static KEY_REPLACERS: LazyLock<Vec<KeyReplacer>> = LazyLock::new(|| {
    let mask = |key: String| KeyReplacer {
        key: re(&key),
        action: KeyAction::Mask,
    };
    vec![
        mask("^x-.*key$".into()),
        mask("^x-.*token$".into()),
        mask("^x-.*auth$".into()),
        mask("^x-.*secret$".into()),
        mask(format!("^{EXACT_KEYS}$")),
        mask("^.*private_key$".into()),
        mask("(pass(word)?|pwd)".into()),
        mask("^.*_?(token|jwt)$".into()),
        mask("^(consumer_key|token_id)$".into()),
        mask("^.*_secret(_id)?$".into()),
        mask("^.*access_key$".into()),
        mask(format!("^{SNMP_KEYS}$")),
        KeyReplacer {
            key: re("api[-_]?key"),
            action: KeyAction::KeepSuffix,
        },
        KeyReplacer {
            key: re("ap(?:p|plication)[-_]?key"),
            action: KeyAction::KeepSuffix,
        },
        KeyReplacer {
            key: re("^additional_endpoints$"),
            action: KeyAction::AllLeaves,
        },
    ]
});

/// The Agent's `ScrubYaml` of a decoded value: scrub by key, marshal with
/// go-yaml, scrub the text. Like the Agent's, the result has no final
/// newline (its text scrubber joins lines without one).
pub fn scrub_yaml(value: &Value) -> String {
    scrub_bytes(&goyaml::marshal(&scrub_value(value)))
}

/// A copy of `value` with every sensitive key's value replaced.
pub fn scrub_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(scrub_map(map)),
        Value::Array(items) => Value::Array(items.iter().map(scrub_value).collect()),
        other => other.clone(),
    }
}

fn scrub_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(key, value)| {
            let action = KEY_REPLACERS
                .iter()
                .find(|r| r.key.is_match(key))
                .map(|r| r.action);
            let scrubbed = match action {
                Some(KeyAction::Mask) => Value::String(REPLACEMENT.to_string()),
                Some(KeyAction::KeepSuffix) => match value {
                    Value::String(s) if s.trim().is_empty() => Value::String(String::new()),
                    Value::String(s) => Value::String(hide_key_except_last_chars(s.trim())),
                    _ => Value::String(REPLACEMENT.to_string()),
                },
                Some(KeyAction::AllLeaves) => match value {
                    Value::Object(_) => all_leaves(value),
                    other => scrub_value(other),
                },
                None => scrub_value(value),
            };
            (key.clone(), scrubbed)
        })
        .collect()
}

/// Every leaf replaced, nulls kept (`additional_endpoints` keyed by URL).
fn all_leaves(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), all_leaves(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(all_leaves).collect()),
        Value::Null => Value::Null,
        Value::String(s) if is_enc(s) => value.clone(),
        _ => Value::String(REPLACEMENT.to_string()),
    }
}

/// `ENC[...]` secret-backend handles are kept: they reveal nothing.
fn is_enc(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("ENC[") && s.ends_with(']')
}

/// Stars, then the last 1 to 4 characters: more of a longer key stays
/// visible (the Agent's `HideKeyExceptLastChars`, on bytes like Go).
pub fn hide_key_except_last_chars(key: &str) -> String {
    let len = key.len();
    if len <= 4 {
        return REPLACEMENT.to_string();
    }
    // Go's bits.Len(len) - 2, clamped to 1..=4.
    let bits = usize::BITS - len.leading_zeros();
    let visible = (bits as usize).saturating_sub(2).clamp(1, 4);
    let mut cut = len - visible;
    while !key.is_char_boundary(cut) {
        cut += 1;
    }
    format!("{}{}", "*".repeat(cut), &key[cut..])
}

/// The Agent's `ScrubBytes`: each line through the single-line replacers
/// (comment lines dropped, blank lines kept), joined without a final
/// newline, then the multi-line replacers.
pub fn scrub_bytes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else if !line.trim_start().starts_with('#') {
            if !first {
                out.push('\n');
            }
            out.push_str(&scrub_line(line));
            first = false;
        }
    }
    apply(&MULTI_LINE_REPLACERS, out)
}

/// The same replacers over text that is not YAML (a whole report): every
/// line is kept, comments and final newline included.
pub fn scrub_text(text: &str) -> String {
    let lines: Vec<String> = text.split('\n').map(scrub_line).collect();
    apply(&MULTI_LINE_REPLACERS, lines.join("\n"))
}

/// One line through the single-line replacers.
pub fn scrub_line(line: &str) -> String {
    apply(&LINE_REPLACERS, line.to_string())
}

fn apply(replacers: &[TextReplacer], mut text: String) -> String {
    for r in replacers {
        if r.hints.is_empty() || r.hints.iter().any(|h| text.contains(h)) {
            text = r.regex.replace_all(&text, r.replacement).into_owned();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_keys_are_masked_at_any_depth() {
        let v = json!({
            "host": "db",
            "password": "hunter2",
            "db_pass": "x",
            "passphrase": "x",
            "community_string": "public",
            "auth_token": "x",
            "client_secret": "x",
            "aws_access_key": "x",
            "ssh_private_key": "x",
            "x-api-key": "x",
            "cookie": "x",
            "token_id": "x",
            "unset_password": null,
            "servers": [{"name": "a", "pwd": 5}],
            "username": "admin",
            "port": 5432
        });
        let m = scrub_value(&v);
        for key in [
            "password",
            "db_pass",
            "passphrase",
            "community_string",
            "auth_token",
            "client_secret",
            "aws_access_key",
            "ssh_private_key",
            "x-api-key",
            "cookie",
            "token_id",
            // The Agent masks a null too.
            "unset_password",
        ] {
            assert_eq!(m[key], REPLACEMENT, "{key}");
        }
        assert_eq!(m["servers"][0]["pwd"], REPLACEMENT);
        assert_eq!(m["servers"][0]["name"], "a");
        assert_eq!(m["username"], "admin");
        assert_eq!(m["host"], "db");
        assert_eq!(m["port"], 5432);
        // Key patterns are case-sensitive, as in the Agent.
        assert_eq!(scrub_value(&json!({"Password": "x"}))["Password"], "x");
    }

    #[test]
    fn api_and_app_keys_keep_a_suffix() {
        let v = json!({
            "api_key": "0123456789abcdef0123456789abcdef",
            "app_key": " abcdefgh ",
            "apikey": "abc",
            "application_key": 42,
            "api-key": ""
        });
        let m = scrub_value(&v);
        assert_eq!(m["api_key"], format!("{}cdef", "*".repeat(28)));
        assert_eq!(m["app_key"], "******gh");
        assert_eq!(m["apikey"], REPLACEMENT);
        assert_eq!(m["application_key"], REPLACEMENT);
        assert_eq!(m["api-key"], "");
        assert_eq!(hide_key_except_last_chars("abcde"), "****e");
        assert_eq!(
            hide_key_except_last_chars(&"k".repeat(16)),
            format!("{}kkk", "*".repeat(13))
        );
    }

    #[test]
    fn additional_endpoints_leaves() {
        let v = json!({"additional_endpoints": {"https://a": ["k1", "ENC[x]", null]}});
        assert_eq!(
            scrub_value(&v),
            json!({"additional_endpoints": {"https://a": [REPLACEMENT, "ENC[x]", null]}})
        );
        let v = json!({"additional_endpoints": [{"api_key": "abcdefgh", "host": "h"}]});
        assert_eq!(
            scrub_value(&v),
            json!({"additional_endpoints": [{"api_key": "******gh", "host": "h"}]})
        );
    }

    #[test]
    fn text_rules() {
        for (line, want) in [
            (
                "url: http://user:hunter2@db:5432/x",
                "url: http://user:********@db:5432/x",
            ),
            (
                "dsn: postgres://u:p%40ss@h/db?sslmode=x",
                "dsn: postgres://u:********@h/db?sslmode=x",
            ),
            ("  db_pass: hunter2", r#"  db_pass: "********""#),
            ("password: 'x'", r#"password: "********""#),
            ("passphrase: x", r#"passphrase: "********""#),
            (
                "community_string: public",
                r#"community_string: "********""#,
            ),
            ("  auth_token: abc", r#"  auth_token: "********""#),
            ("client_secret: abc", r#"client_secret: "********""#),
            (
                "run --mysql_password=s3cr3t now",
                "run --mysql_password=******** now",
            ),
            (
                "Authorization: Bearer abc.def",
                r#"Authorization: "********""#,
            ),
            ("header Bearer abc.def", "header Bearer ********"),
            (
                "key 0123456789abcdef0123456789abcdef",
                "key ****************************cdef",
            ),
            (
                "api_key: 0123456789abcdef0123456789abcdef",
                r#"api_key: "****************************cdef""#,
            ),
            (
                "x?api_key=abcdefghijklmnop&y=1",
                "x?api_key=****************************mnop&y=1",
            ),
            ("host: db.example", "host: db.example"),
        ] {
            assert_eq!(scrub_line(line), want, "{line}");
        }
    }

    #[test]
    fn multi_line_rules() {
        let text = "community_strings:\n  - a\n  - b\nport: 1";
        assert_eq!(scrub_text(text), "community_strings: \"********\"\nport: 1");
        let pem = "cert: -----BEGIN CERTIFICATE-----\nMIIB\nabc=\n-----END CERTIFICATE-----\nx: 1";
        assert_eq!(scrub_text(pem), "cert: ********\nx: 1");
    }

    #[test]
    fn scrub_bytes_drops_comments_and_the_final_newline() {
        assert_eq!(scrub_bytes("a: 1\n# c\n\nb: 2\n"), "a: 1\n\nb: 2");
        // scrub_text keeps every line.
        assert_eq!(scrub_text("# c\na: 1\n"), "# c\na: 1\n");
    }

    #[test]
    fn scrub_yaml_is_the_agents_pipeline() {
        let v = json!({"host": "h", "password": "p", "api_key": "0123456789abcdef0123456789abcdef", "url": "http://u:p@h/"});
        assert_eq!(
            scrub_yaml(&v),
            "api_key: '****************************cdef'\n\
             host: h\n\
             password: \"********\"\n\
             url: http://u:********@h/"
        );
    }
}
