//! [`Limits`]: the sandbox budget of one check instance, and the value rules
//! shared by runner.yaml, `RUNNER_*` variables and an instance's `limits:` map
//! (so the three places accept exactly the same values).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::suggest::{did_you_mean_hint, show_value};

/// Resource limits applied to every run of a check instance.
///
/// Set defaults for all instances under `limits:` in runner.yaml (or with
/// `RUNNER_TIMEOUT`, `RUNNER_MEMORY_MIB`, `RUNNER_MAX_METRICS`,
/// `RUNNER_MAX_OUTPUT_KIB`); override them per instance with a `limits:` map
/// in the instance. A check that exceeds a limit is stopped (time, memory)
/// or cut off (metrics, output) without affecting any other check.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock seconds one run may take before it is interrupted
    /// (fractions allowed, e.g. `0.5`). Must be > 0. Default: 10.
    #[serde(deserialize_with = "de_timeout")]
    pub timeout: f64,
    /// Linear memory cap per instance, in MiB. Must be >= 1. Default: 64.
    #[serde(deserialize_with = "de_count_u64")]
    pub memory_mib: u64,
    /// Metric samples one run may submit. A run that submits more is
    /// stopped and fails (the samples up to the limit are kept) and the
    /// instance is rebuilt. Must be >= 1. Default: 10000.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_metrics: usize,
    /// Captured stdout + stderr per run, in KiB; the rest is discarded.
    /// Must be >= 1. Default: 64.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_output_kib: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: 10.0,
            memory_mib: 64,
            max_metrics: 10_000,
            max_output_kib: 64,
        }
    }
}

/// The keys of a `limits:` map, in documentation order.
pub const LIMIT_KEYS: &[&str] = &["timeout", "memory_mib", "max_metrics", "max_output_kib"];

/// What a timeout must be, as error messages word it.
pub(crate) const TIMEOUT_EXPECTED: &str = "a number of seconds > 0";
/// What the whole-number limits must be, as error messages word it.
pub(crate) const COUNT_EXPECTED: &str = "a whole number >= 1";

impl Limits {
    /// The timeout as a `Duration` for the sandbox's epoch deadline.
    /// Saturates instead of panicking on values that bypassed validation.
    pub fn timeout_duration(&self) -> Duration {
        Duration::try_from_secs_f64(self.timeout.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// The memory cap in bytes, as the sandbox's resource limiter wants it.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib.saturating_mul(1024 * 1024)
    }

    /// The output cap in bytes, as the output capture wants it.
    pub fn max_output_bytes(&self) -> usize {
        self.max_output_kib.saturating_mul(1024)
    }

    /// Applies an instance's `limits:` map on top of `self`.
    ///
    /// Returns the merged limits and one [`LimitProblem`] per bad entry
    /// (unknown key, wrong type, out of range); bad entries are ignored.
    pub(crate) fn overlay(&self, map: &Map<String, Value>) -> (Limits, Vec<LimitProblem>) {
        let mut out = *self;
        let mut problems = Vec::new();
        for (key, value) in map {
            let result = match key.as_str() {
                "timeout" => json_timeout(value).map(|v| out.timeout = v),
                "memory_mib" => json_count(value).map(|v| out.memory_mib = v),
                "max_metrics" => json_count(value).map(|v| out.max_metrics = to_usize(v)),
                "max_output_kib" => json_count(value).map(|v| out.max_output_kib = to_usize(v)),
                _ => {
                    problems.push(LimitProblem {
                        key: key.clone(),
                        message: format!(
                            "unknown limit; valid limits are {}",
                            LIMIT_KEYS.join(", ")
                        ),
                        hint: Some(
                            did_you_mean_hint(key, LIMIT_KEYS.iter().copied())
                                .unwrap_or_else(|| "remove it".to_string()),
                        ),
                    });
                    continue;
                }
            };
            if let Err(message) = result {
                problems.push(LimitProblem {
                    hint: Some(example(key)),
                    key: key.clone(),
                    message,
                });
            }
        }
        (out, problems)
    }
}

/// One bad entry in a `limits:` map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LimitProblem {
    /// The limit key as written.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// A fix example for a limit key.
pub(crate) fn example(key: &str) -> String {
    match key {
        "timeout" => "e.g. `timeout: 30`".to_string(),
        "memory_mib" => "e.g. `memory_mib: 128`".to_string(),
        "max_metrics" => "e.g. `max_metrics: 20000`".to_string(),
        "max_output_kib" => "e.g. `max_output_kib: 256`".to_string(),
        other => format!("e.g. `{other}: 1`"),
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The value rule for `timeout`: a finite number of seconds > 0 that fits a
/// `Duration`.
pub(crate) fn check_timeout(v: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 && Duration::try_from_secs_f64(v).is_ok() {
        Ok(v)
    } else {
        Err(format!("expected {TIMEOUT_EXPECTED}, got {v}"))
    }
}

/// The value rule for the whole-number limits: >= 1.
pub(crate) fn check_count(v: u64) -> Result<u64, String> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(format!("expected {COUNT_EXPECTED}, got {v}"))
    }
}

/// Parses a timeout given as text (environment variables).
pub(crate) fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) => check_timeout(v).map_err(|_| format!("expected {TIMEOUT_EXPECTED}, got {text:?}")),
        Err(_) => Err(format!("expected {TIMEOUT_EXPECTED}, got {text:?}")),
    }
}

/// Parses a whole-number limit given as text (environment variables).
pub(crate) fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(v) => check_count(v).map_err(|_| format!("expected {COUNT_EXPECTED}, got {text:?}")),
        Err(_) => Err(format!("expected {COUNT_EXPECTED}, got {text:?}")),
    }
}

fn json_timeout(value: &Value) -> Result<f64, String> {
    match value.as_f64() {
        Some(v) => check_timeout(v),
        None => Err(format!(
            "expected {TIMEOUT_EXPECTED}, got {}",
            show_value(value)
        )),
    }
}

fn json_count(value: &Value) -> Result<u64, String> {
    match value.as_u64() {
        Some(v) => check_count(v),
        None => Err(format!(
            "expected {COUNT_EXPECTED}, got {}",
            show_value(value)
        )),
    }
}

// serde visitors: the checks run inside the visitor so that serde_yaml
// attaches the value's own line and column to the error.

struct TimeoutVisitor;

impl Visitor<'_> for TimeoutVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(TIMEOUT_EXPECTED)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        check_timeout(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
}

struct CountVisitor;

impl Visitor<'_> for CountVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(COUNT_EXPECTED)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        check_count(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("expected {COUNT_EXPECTED}, got {v}"))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!("expected {COUNT_EXPECTED}, got {v}")))
    }
}

fn de_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(TimeoutVisitor)
}

fn de_count_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_u64(CountVisitor)
}

fn de_count_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    d.deserialize_u64(CountVisitor).map(to_usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_conversions() {
        let l = Limits::default();
        assert_eq!(l.timeout, 10.0);
        assert_eq!(l.memory_mib, 64);
        assert_eq!(l.max_metrics, 10_000);
        assert_eq!(l.max_output_kib, 64);
        assert_eq!(l.timeout_duration(), Duration::from_secs(10));
        assert_eq!(l.memory_bytes(), 64 * 1024 * 1024);
        assert_eq!(l.max_output_bytes(), 64 * 1024);
        let odd = Limits {
            timeout: f64::NAN,
            ..l
        };
        assert_eq!(odd.timeout_duration(), Duration::ZERO);
    }

    #[test]
    fn overlay_overrides_and_reports() {
        let base = Limits::default();
        let map = json!({"timeout": 2.5, "memory_mib": 128});
        let (l, problems) = base.overlay(map.as_object().unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(l.timeout, 2.5);
        assert_eq!(l.memory_mib, 128);
        assert_eq!(l.max_metrics, 10_000);

        let map = json!({"timeout": 0, "max_metrics": -1, "max_output_kib": 1.5, "memmory_mib": 3});
        let (l, mut problems) = base.overlay(map.as_object().unwrap());
        assert_eq!(l, base);
        problems.sort_by(|a, b| a.key.cmp(&b.key));
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["max_metrics", "max_output_kib", "memmory_mib", "timeout"]
        );
        assert_eq!(problems[0].message, "expected a whole number >= 1, got -1");
        assert_eq!(problems[1].message, "expected a whole number >= 1, got 1.5");
        assert_eq!(
            problems[2].message,
            "unknown limit; valid limits are timeout, memory_mib, max_metrics, max_output_kib"
        );
        assert_eq!(
            problems[2].hint.as_deref(),
            Some("did you mean `memory_mib`?")
        );
        assert_eq!(
            problems[3].message,
            "expected a number of seconds > 0, got 0"
        );
    }

    #[test]
    fn text_parsers() {
        assert_eq!(parse_timeout("2.5"), Ok(2.5));
        assert_eq!(
            parse_timeout("soon"),
            Err("expected a number of seconds > 0, got \"soon\"".to_string())
        );
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("inf").is_err());
        assert_eq!(parse_count("7"), Ok(7));
        assert!(parse_count("0").is_err());
        assert!(parse_count("1.5").is_err());
    }
}
