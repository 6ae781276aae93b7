//! The value rules of the daemon's settings in runner.yaml (`listen`,
//! `histogram_percentiles`, ...), shared by the file and the `RUNNER_*`
//! variables so both accept exactly the same values.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// Where the daemon serves `/metrics` and `/status` unless told otherwise:
/// loopback only, so nothing is exposed beyond the host by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5180";

/// One of Datadog's `histogram_aggregates`: a series sent for each
/// histogram, suffixed `.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HistogramAggregate {
    Max,
    Min,
    Median,
    Avg,
    Sum,
    /// The number of samples, sent as a rate over the instance's interval.
    Count,
}

/// Datadog's default `histogram_aggregates`.
pub const DEFAULT_AGGREGATES: [HistogramAggregate; 4] = [
    HistogramAggregate::Max,
    HistogramAggregate::Median,
    HistogramAggregate::Avg,
    HistogramAggregate::Count,
];

/// A percentile as runner.yaml may write it: Datadog's strings (`"0.95"`)
/// or plain numbers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PercentileValue {
    Number(f64),
    Text(String),
}

/// What a percentile must be, as error messages word it.
pub const PERCENTILE_EXPECTED: &str = "a fraction between 0 and 1, such as \"0.95\"";

/// A percentile in hundredths (95 for `0.95`), as Datadog rounds it: the
/// series is suffixed `.<n>percentile`.
pub fn parse_percentile(value: &PercentileValue) -> Result<u32, String> {
    let number = match value {
        PercentileValue::Number(n) => *n,
        PercentileValue::Text(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("expected {PERCENTILE_EXPECTED}, got {text:?}"))?,
    };
    let hundredths = (number * 100.0).round();
    if number.is_finite() && number > 0.0 && number < 1.0 && (1.0..=99.0).contains(&hundredths) {
        Ok(hundredths as u32)
    } else {
        Err(format!("expected {PERCENTILE_EXPECTED}, got {number}"))
    }
}

/// Percentiles in hundredths, sorted, without duplicates.
pub fn parse_percentiles(values: &[PercentileValue]) -> Result<Vec<u32>, String> {
    let mut out = values
        .iter()
        .map(parse_percentile)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub(crate) fn de_percentiles<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    let values = Vec::<PercentileValue>::deserialize(d)?;
    parse_percentiles(&values).map_err(de::Error::custom)
}

/// What `listen` must be, as error messages word it.
pub const LISTEN_EXPECTED: &str =
    "an IP address and port such as \"127.0.0.1:5180\", or \"\" for no endpoint";

/// `listen`: an address, or `None` for no HTTP endpoint (empty text).
pub fn parse_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("expected {LISTEN_EXPECTED}, got {text:?}"))
}

pub(crate) fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = Option::<String>::deserialize(d)?.unwrap_or_default();
    parse_listen(&text).map_err(de::Error::custom)
}

/// Fewest characters an access token may have: a guessable token on a
/// reachable port is no protection.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The HTTP endpoint's access token (`access_token`). Its `Debug` never
/// shows it, so it cannot reach a log through a `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(********)")
    }
}

impl AccessToken {
    /// Whether `given` is this token. Digests are compared, so the time
    /// taken says nothing about how much of the token was right.
    pub fn matches(&self, given: &str) -> bool {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.0.as_bytes()) == Sha256::digest(given.as_bytes())
    }

    /// What a browser keeps in its session cookie after logging in: a
    /// digest of the token, so the token itself is not stored in the
    /// browser, and a new token ends every session.
    pub fn session(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(b"runner session\0");
        digest.update(self.0.as_bytes());
        hex::encode(digest.finalize())
    }

    /// Whether `given` is [`session`](Self::session), compared by digest.
    pub fn matches_session(&self, given: &str) -> bool {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.session().as_bytes()) == Sha256::digest(given.as_bytes())
    }

    /// The token itself, for a client that must present it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `access_token`: None when empty; else at least [`MIN_TOKEN_CHARS`]
/// characters, without spaces or control characters (it travels in an
/// HTTP header). The message never quotes the value.
pub fn parse_access_token(text: &str) -> Result<Option<AccessToken>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the token may not contain spaces or control characters".into());
    }
    let chars = text.chars().count();
    if chars < MIN_TOKEN_CHARS {
        return Err(format!(
            "the token has {chars} characters; use at least {MIN_TOKEN_CHARS} \
             (e.g. the output of `openssl rand -hex 16`)"
        ));
    }
    Ok(Some(AccessToken(text.to_string())))
}

pub(crate) fn de_access_token<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<AccessToken>, D::Error> {
    let text = Option::<String>::deserialize(d)?.unwrap_or_default();
    parse_access_token(&text).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_are_long_enough_and_never_printed() {
        assert_eq!(parse_access_token("  ").unwrap(), None);
        let token = parse_access_token("0123456789abcdef").unwrap().unwrap();
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "AccessToken(********)");
        let short = parse_access_token("secret").unwrap_err();
        assert!(short.contains("6 characters; use at least 16"), "{short}");
        assert!(!short.contains("secret"), "{short}");
        assert!(parse_access_token("0123456789 abcdef").is_err());
    }

    #[test]
    fn percentiles_round_like_datadog() {
        let text = |s: &str| PercentileValue::Text(s.into());
        assert_eq!(parse_percentile(&text("0.95")), Ok(95));
        assert_eq!(parse_percentile(&text(" 0.5 ")), Ok(50));
        // Rounds to 1.00: not a percentile.
        assert!(parse_percentile(&PercentileValue::Number(0.999)).is_err());
        assert_eq!(parse_percentile(&PercentileValue::Number(0.994)), Ok(99));
        for bad in ["1", "0", "-0.5", "abc", "NaN"] {
            assert!(parse_percentile(&text(bad)).is_err(), "{bad}");
        }
        let both = [text("0.99"), PercentileValue::Number(0.5), text("0.50")];
        assert_eq!(parse_percentiles(&both), Ok(vec![50, 99]));
    }

    #[test]
    fn listen_is_an_address_or_nothing() {
        assert_eq!(
            parse_listen("127.0.0.1:5180").unwrap(),
            Some("127.0.0.1:5180".parse().unwrap())
        );
        assert_eq!(parse_listen(" ").unwrap(), None);
        assert_eq!(
            parse_listen("[::1]:0").unwrap(),
            Some("[::1]:0".parse().unwrap())
        );
        let error = parse_listen("localhost:5180").unwrap_err();
        assert!(error.contains("IP address and port"), "{error}");
    }
}
