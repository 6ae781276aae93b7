//! Datadog names and tags to Prometheus names and labels.
//!
//! - Metric names: every character outside `[a-zA-Z0-9_]` becomes `_`
//!   (`nginx.net.request_per_s` → `nginx_net_request_per_s`; `:` too,
//!   as Prometheus keeps it for recording rules), and a leading digit gets
//!   a `_` in front.
//! - Counters (Datadog `count` and `monotonic_count`) end in `_total`.
//! - A gauge whose mapped name ends in a suffix Prometheus keeps for
//!   other types (`_total`, `_count`, `_sum`, `_bucket`, `_created`) gets
//!   `_value` appended (`system.processes.ioread_count` →
//!   `system_processes_ioread_count_value`, a histogram's `.count` →
//!   `_count_value`), so Prometheus and `promtool` do not take it for part
//!   of a counter, histogram or summary.
//! - Tags become labels: `key:value` → `key="value"`, the key mapped like a
//!   metric name (a reserved `__` start gets a `tag` prefix); a tag without
//!   a value becomes `key="true"`; several values of one key (Datadog
//!   allows `role:db` and `role:web` on one series) are joined with `,`
//!   in sorted order, since a Prometheus series has one value per label.

use std::collections::BTreeMap;

/// A metric or label name made valid for Prometheus (see the module doc).
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Suffixes Prometheus reserves for counters, histograms and summaries.
const RESERVED_SUFFIXES: &[&str] = &["_total", "_count", "_sum", "_bucket", "_created"];

/// The family name of a gauge (see the module doc).
pub fn gauge_name(name: &str) -> String {
    let mapped = sanitize(name);
    if RESERVED_SUFFIXES.iter().any(|s| mapped.ends_with(s)) {
        format!("{mapped}_value")
    } else {
        mapped
    }
}

/// A label name: like a metric name, and never Prometheus's reserved
/// `__` prefix.
pub fn label_name(key: &str) -> String {
    let name = sanitize(key);
    if name.starts_with("__") {
        format!("tag{name}")
    } else {
        name
    }
}

/// The family name of a counter: the mapped name without a trailing
/// `_total`, which the exposition adds back to the sample.
pub fn counter_base(name: &str) -> String {
    let mapped = sanitize(name);
    match mapped.strip_suffix("_total") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => mapped,
    }
}

/// Labels, sorted by name, for Datadog tags.
pub type Labels = Vec<(String, String)>;

/// The labels of a series with `tags`.
pub fn labels(tags: &[String]) -> Labels {
    let mut by_key: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for tag in tags {
        let (key, value) = tag.split_once(':').unwrap_or((tag.as_str(), "true"));
        by_key.entry(label_name(key)).or_default().push(value);
    }
    by_key
        .into_iter()
        .map(|(key, mut values)| {
            values.sort_unstable();
            values.dedup();
            (key, values.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datadog_names_map_by_prometheus_rules() {
        assert_eq!(
            sanitize("nginx.net.request_per_s"),
            "nginx_net_request_per_s"
        );
        assert_eq!(
            sanitize("system.processes.cpu.pct"),
            "system_processes_cpu_pct"
        );
        assert_eq!(sanitize("a-b:c d"), "a_b_c_d");
        assert_eq!(sanitize("9lives"), "_9lives");
        assert_eq!(sanitize("héllo"), "h_llo");
        assert_eq!(sanitize(""), "_");
        assert_eq!(
            counter_base("postgres.rows_fetched"),
            "postgres_rows_fetched"
        );
        assert_eq!(counter_base("requests.total"), "requests");
        assert_eq!(counter_base("_total"), "_total");
        assert_eq!(
            gauge_name("system.processes.ioread_count"),
            "system_processes_ioread_count_value"
        );
        assert_eq!(gauge_name("latency.count"), "latency_count_value");
        assert_eq!(
            gauge_name("system.processes.number"),
            "system_processes_number"
        );
    }

    #[test]
    fn tags_become_labels() {
        let tags: Vec<String> = [
            "role:web",
            "env:prod",
            "role:db",
            "standalone",
            "url:http://x:1/a",
            "__name__:x",
            "weird-key:v",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            labels(&tags),
            [
                ("env", "prod"),
                ("role", "db,web"),
                ("standalone", "true"),
                ("tag__name__", "x"),
                ("url", "http://x:1/a"),
                ("weird_key", "v"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec()
        );
    }
}
