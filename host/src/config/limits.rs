//! [`Limits`]: the sandbox budget of one check instance, and the value rules
//! shared by runner.yaml, `RUNNER_*` variables and an instance's `limits:` map
//! (so the three places accept exactly the same values).

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Resource limits applied to every run of a check instance.
///
/// Set defaults for all instances under `limits:` in runner.yaml (or with
/// `RUNNER_<KEY>` environment variables, e.g. `RUNNER_TIMEOUT`,
/// `RUNNER_MAX_SUBMISSION_KIB`); override them per instance with a
/// `limits:` map in the instance. A check that exceeds a limit is stopped,
/// its run fails with an error naming the setting, and no other check is
/// affected.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock seconds one run (or `configure`) may take before it is
    /// interrupted, host work done for the check included (fractions
    /// allowed, e.g. `0.5`). Must be > 0. Default: 10.
    #[serde(deserialize_with = "de_timeout")]
    pub timeout: f64,
    /// Memory cap per instance, in MiB: all of its linear memories and
    /// tables together, plus what the runner holds for its current run.
    /// Must be >= 1. Default: 64.
    #[serde(deserialize_with = "de_count_u64")]
    pub memory_mib: u64,
    /// Metric samples one run may submit. Must be >= 1. Default: 10000.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_metrics: usize,
    /// Service checks one run may submit. Must be >= 1. Default: 1000.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_service_checks: usize,
    /// Events one run may submit. Must be >= 1. Default: 100.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_events: usize,
    /// Metadata entries one run may set. Must be >= 1. Default: 100.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_metadata: usize,
    /// KiB of metrics, service checks, events and metadata (names, tags,
    /// messages, texts) one run may submit, all kinds together. Must be
    /// >= 1. Default: 4096.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_submission_kib: usize,
    /// KiB a run may write to stdout, stderr and its log together.
    /// Must be >= 1. Default: 64.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_output_kib: usize,
    /// Metric contexts (name + tags + hostname) an instance may keep
    /// alive; samples of new series beyond it are dropped and the run
    /// fails. Idle series expire. Must be >= 1. Default: 10000.
    #[serde(deserialize_with = "de_count_usize")]
    pub max_contexts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: 10.0,
            memory_mib: 64,
            max_metrics: 10_000,
            max_service_checks: 1_000,
            max_events: 100,
            max_metadata: 100,
            max_submission_kib: 4096,
            max_output_kib: 64,
            max_contexts: 10_000,
        }
    }
}

/// The keys of a `limits:` map, in documentation order.
pub const LIMIT_KEYS: &[&str] = &[
    "timeout",
    "memory_mib",
    "max_metrics",
    "max_service_checks",
    "max_events",
    "max_metadata",
    "max_submission_kib",
    "max_output_kib",
    "max_contexts",
];

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

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib.saturating_mul(1024 * 1024)
    }

    /// The whole-number limit named `key` (every key but `timeout`).
    pub fn count_mut(&mut self, key: &str) -> Option<&mut usize> {
        Some(match key {
            "max_metrics" => &mut self.max_metrics,
            "max_service_checks" => &mut self.max_service_checks,
            "max_events" => &mut self.max_events,
            "max_metadata" => &mut self.max_metadata,
            "max_submission_kib" => &mut self.max_submission_kib,
            "max_output_kib" => &mut self.max_output_kib,
            "max_contexts" => &mut self.max_contexts,
            _ => return None,
        })
    }

    /// `self` with the limits `over` sets replaced.
    pub fn with(&self, over: &LimitsOverride) -> Limits {
        let count = |o: Option<u64>, d: usize| o.map_or(d, to_usize);
        Limits {
            timeout: over.timeout.unwrap_or(self.timeout),
            memory_mib: over.memory_mib.unwrap_or(self.memory_mib),
            max_metrics: count(over.max_metrics, self.max_metrics),
            max_service_checks: count(over.max_service_checks, self.max_service_checks),
            max_events: count(over.max_events, self.max_events),
            max_metadata: count(over.max_metadata, self.max_metadata),
            max_submission_kib: count(over.max_submission_kib, self.max_submission_kib),
            max_output_kib: count(over.max_output_kib, self.max_output_kib),
            max_contexts: count(over.max_contexts, self.max_contexts),
        }
    }
}

/// An instance's `limits:` map: the limits it sets, each checked by the
/// same rules as in runner.yaml.
// Unknown keys are the schema's business (a warning), not serde's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct LimitsOverride {
    /// Wall-clock seconds one run may take (> 0).
    #[serde(deserialize_with = "de_opt_timeout")]
    #[schemars(extend("examples" = [30]))]
    pub timeout: Option<f64>,
    /// Memory cap: memories, tables and the run's submissions, MiB (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [128]))]
    pub memory_mib: Option<u64>,
    /// Metric samples per run (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [20000]))]
    pub max_metrics: Option<u64>,
    /// Service checks per run (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [2000]))]
    pub max_service_checks: Option<u64>,
    /// Events per run (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [500]))]
    pub max_events: Option<u64>,
    /// Metadata entries per run (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [200]))]
    pub max_metadata: Option<u64>,
    /// Submitted KiB per run, all kinds together (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [8192]))]
    pub max_submission_kib: Option<u64>,
    /// stdout + stderr + log KiB per run (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [256]))]
    pub max_output_kib: Option<u64>,
    /// Live metric contexts (>= 1).
    #[serde(deserialize_with = "de_opt_count")]
    #[schemars(extend("examples" = [50000]))]
    pub max_contexts: Option<u64>,
}

/// A fix example for a limit key.
pub(crate) fn example(key: &str) -> String {
    match key {
        "timeout" => "e.g. `timeout: 30`".to_string(),
        "memory_mib" => "e.g. `memory_mib: 128`".to_string(),
        "max_metrics" => "e.g. `max_metrics: 20000`".to_string(),
        "max_service_checks" => "e.g. `max_service_checks: 2000`".to_string(),
        "max_events" => "e.g. `max_events: 500`".to_string(),
        "max_metadata" => "e.g. `max_metadata: 200`".to_string(),
        "max_submission_kib" => "e.g. `max_submission_kib: 8192`".to_string(),
        "max_output_kib" => "e.g. `max_output_kib: 256`".to_string(),
        "max_contexts" => "e.g. `max_contexts: 50000`".to_string(),
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

// serde visitors: the checks run inside the visitor so that serde_yaml
// attaches the value's own line and column to the error.

#[derive(Clone, Copy)]
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
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        Err(E::custom(format!(
            "expected {TIMEOUT_EXPECTED}, got string {v:?}"
        )))
    }
}

#[derive(Clone, Copy)]
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
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        Err(E::custom(format!(
            "expected {COUNT_EXPECTED}, got string {v:?}"
        )))
    }
}

pub(crate) fn de_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_f64(TimeoutVisitor)
}

fn de_count_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_u64(CountVisitor)
}

fn de_opt_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(OptionOf(TimeoutVisitor))
}

fn de_opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_option(OptionOf(CountVisitor))
}

/// `null` or what the inner visitor accepts.
struct OptionOf<V>(V);

impl<'de, V: Visitor<'de> + Copy> Visitor<'de> for OptionOf<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

pub(crate) fn de_count_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
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
        let mut m = l;
        for key in &LIMIT_KEYS[2..] {
            *m.count_mut(key).unwrap() = 1;
        }
        assert_eq!(m.max_contexts, 1);
        assert!(m.count_mut("timeout").is_none());
        let odd = Limits {
            timeout: f64::NAN,
            ..l
        };
        assert_eq!(odd.timeout_duration(), Duration::ZERO);
    }

    #[test]
    fn overrides_apply_key_by_key_with_the_same_rules() {
        let over: LimitsOverride =
            serde_json::from_value(json!({"timeout": 2.5, "memory_mib": 128})).unwrap();
        let l = Limits::default().with(&over);
        assert_eq!(l.timeout, 2.5);
        assert_eq!(l.memory_mib, 128);
        assert_eq!(l.max_metrics, 10_000);
        for (value, message) in [
            (
                json!({"timeout": 0}),
                "expected a number of seconds > 0, got 0",
            ),
            (
                json!({"max_metrics": -1}),
                "expected a whole number >= 1, got -1",
            ),
            (
                json!({"max_output_kib": 1.5}),
                "expected a whole number >= 1, got 1.5",
            ),
            (
                json!({"timeout": "x"}),
                "expected a number of seconds > 0, got string \"x\"",
            ),
        ] {
            let e = serde_json::from_value::<LimitsOverride>(value.clone()).unwrap_err();
            assert_eq!(e.to_string(), message, "{value}");
        }
        let none: LimitsOverride = serde_json::from_value(json!({"timeout": null})).unwrap();
        assert_eq!(none, LimitsOverride::default());
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
