//! The exposition of metric families in the two formats Prometheus
//! scrapes: OpenMetrics text (written by `prometheus-client`) and the
//! Prometheus text format 0.0.4 (written here: `prometheus-client` writes
//! only OpenMetrics, and the older format is a few lines of rules — HELP
//! and TYPE lines, escaped label values, counters named with `_total`).
//! Which one a scrape gets is [`negotiate`]d from its `Accept` header.

use std::fmt::Write as _;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::names::Labels;

/// The two metric types the runner exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// Cumulative; its samples are named `<family>_total`.
    Counter,
}

/// One metric family: a name, its help, its type and its series.
#[derive(Debug, Clone)]
pub struct Family {
    /// Without `_total` for counters.
    pub name: String,
    /// One line; no backslash or newline (neither format escapes HELP the
    /// same way, so callers keep it plain).
    pub help: String,
    pub kind: Kind,
    pub samples: Vec<(Labels, f64)>,
}

/// Which exposition format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Prometheus,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// OpenMetrics when the `Accept` header prefers it (Prometheus asks for it
/// first), the Prometheus text format otherwise (curl, older scrapers).
/// Media ranges are compared by their `q` weight, as RFC 9110 says; ties
/// go to OpenMetrics.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Prometheus;
    };
    let mut best_open: f64 = 0.0;
    let mut best_text: f64 = 0.0;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => best_open = best_open.max(q),
            "text/plain" | "text/*" | "*/*" => best_text = best_text.max(q),
            _ => {}
        }
    }
    if best_open > 0.0 && best_open >= best_text {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// `families` in `format`.
pub fn encode(families: Vec<Family>, format: Format) -> String {
    match format {
        Format::OpenMetrics => openmetrics(families),
        Format::Prometheus => prometheus_text(&families),
    }
}

#[derive(Debug)]
struct Families(Vec<Family>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let kind = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
            };
            let mut metric = encoder.encode_descriptor(&family.name, &family.help, None, kind)?;
            for (labels, value) in &family.samples {
                let sample = metric.encode_family(labels)?;
                match family.kind {
                    Kind::Gauge => ConstGauge::new(*value).encode(sample)?,
                    Kind::Counter => ConstCounter::new(*value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

fn openmetrics(families: Vec<Family>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(families)));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

fn prometheus_text(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        let (name, kind) = match family.kind {
            Kind::Gauge => (family.name.clone(), "gauge"),
            Kind::Counter => (format!("{}_total", family.name), "counter"),
        };
        let _ = writeln!(out, "# HELP {name} {}", family.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in &family.samples {
            out.push_str(&name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (key, value)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{key}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
    out
}

/// A label value in the text format: `\`, `"` and newlines escaped.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as Go's `strconv.FormatFloat(v, 'g', -1, 64)` would
/// write it closely enough for Prometheus's parser: integers without a
/// fraction, others in Rust's shortest round-trip form.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Family> {
        vec![
            Family {
                name: "nginx_net_connections".into(),
                help: "Datadog gauge nginx.net.connections".into(),
                kind: Kind::Gauge,
                samples: vec![(
                    vec![
                        ("nginx_host".into(), "127.0.0.1".into()),
                        ("note".into(), "say \"hi\"\\\nbye".into()),
                    ],
                    3.0,
                )],
            },
            Family {
                name: "nginx_connections_accepted".into(),
                help: "Datadog monotonic_count nginx.connections.accepted".into(),
                kind: Kind::Counter,
                samples: vec![(vec![], 12.5)],
            },
        ]
    }

    #[test]
    fn prometheus_text_format() {
        assert_eq!(
            encode(families(), Format::Prometheus),
            "# HELP nginx_net_connections Datadog gauge nginx.net.connections\n\
             # TYPE nginx_net_connections gauge\n\
             nginx_net_connections{nginx_host=\"127.0.0.1\",note=\"say \\\"hi\\\"\\\\\\nbye\"} 3\n\
             # HELP nginx_connections_accepted_total Datadog monotonic_count nginx.connections.accepted\n\
             # TYPE nginx_connections_accepted_total counter\n\
             nginx_connections_accepted_total 12.5\n"
        );
    }

    #[test]
    fn openmetrics_format() {
        let text = encode(families(), Format::OpenMetrics);
        assert!(
            text.contains("# TYPE nginx_connections_accepted counter\n"),
            "{text}"
        );
        // prometheus-client writes `{}` for no labels, which OpenMetrics allows.
        assert!(
            text.contains("\nnginx_connections_accepted_total{} 12.5\n"),
            "{text}"
        );
        assert!(
            text.contains("nginx_net_connections{nginx_host=\"127.0.0.1\",note=\"say \\\"hi\\\"\\\\\\nbye\"} 3.0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn content_negotiation() {
        // What Prometheus 2.x sends.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(negotiate(None), Format::Prometheus);
        assert_eq!(negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(
            negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")),
            Format::Prometheus
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Prometheus
        );
    }
}
