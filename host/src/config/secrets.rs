//! Masking of secret-looking values, so `runner configcheck` output and
//! error messages can be pasted into a ticket without leaking credentials.

use serde_json::Value;

/// What a masked value is replaced with (the Datadog Agent's marker).
pub const MASK: &str = "********";

/// Substrings (lower case) that make a key secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "app_key",
    "credential",
    "private_key",
    "auth",
];

/// True when a key's name suggests its value is a secret
/// (case-insensitive substring match, deliberately broad).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// A copy of `value` where the value of every secret-looking key, at any
/// depth, is replaced by [`MASK`] — whatever its type, since a nested
/// mapping under `auth:` is as sensitive as a string. `null` stays `null`:
/// it reveals nothing and shows the key is unset.
pub fn mask_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = if is_secret_key(k) && !v.is_null() {
                        Value::String(MASK.to_string())
                    } else {
                        mask_secrets(v)
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_recursively_and_case_insensitively() {
        let input = json!({
            "host": "db1",
            "Password": "hunter2",
            "db_passwd": "x",
            "PWD": "x",
            "client_secret": "x",
            "bearer_token": "x",
            "API_KEY": "x",
            "apikey": "x",
            "app_key": 12345,
            "credentials": {"user": "a", "pass": "b"},
            "private_key_path": "/k",
            "auth_header": "Basic abc",
            "unset_password": null,
            "servers": [{"name": "a", "token": "t"}],
            "nested": {"deep": {"secret": ["a"]}},
            "port": 5432
        });
        let m = mask_secrets(&input);
        assert_eq!(
            m,
            json!({
                "host": "db1",
                "Password": MASK,
                "db_passwd": MASK,
                "PWD": MASK,
                "client_secret": MASK,
                "bearer_token": MASK,
                "API_KEY": MASK,
                "apikey": MASK,
                "app_key": MASK,
                "credentials": MASK,
                "private_key_path": MASK,
                "auth_header": MASK,
                "unset_password": null,
                "servers": [{"name": "a", "token": MASK}],
                "nested": {"deep": {"secret": MASK}},
                "port": 5432
            })
        );
        // The input is not modified.
        assert_eq!(input["Password"], "hunter2");
    }

    #[test]
    fn secret_key_detection() {
        assert!(is_secret_key("oauth_client"));
        assert!(!is_secret_key("username"));
        assert!(!is_secret_key("host"));
    }
}
