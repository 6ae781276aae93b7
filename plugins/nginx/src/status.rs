//! The text nginx's `stub_status` module serves, and the metrics Datadog
//! derives from it.
//!
//! ```text
//! Active connections: 8
//! server accepts handled requests
//!  1156958 1156958 4491319
//! Reading: 0 Writing: 2 Waiting: 6
//! ```
//!
//! (nginx ends most lines with a space.) Datadog's check searches the body
//! with three loose regular expressions and submits whatever matches, so
//! an HTML page with three numbers in it gives made-up metrics. This
//! parser wants all four lines and says which one is missing.

use std::fmt;

/// One reading of the status page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StubStatus {
    /// Open client connections, including idle ones.
    pub active: u64,
    /// Client connections accepted since nginx started.
    pub accepts: u64,
    /// Accepted connections that were handled (less than `accepts` only
    /// when a limit such as `worker_connections` was reached).
    pub handled: u64,
    /// Client requests since nginx started.
    pub requests: u64,
    /// Connections whose request header nginx is reading.
    pub reading: u64,
    /// Connections nginx is writing a response to.
    pub writing: u64,
    /// Idle keep-alive connections.
    pub waiting: u64,
}

/// Why a body is not a stub_status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStubStatus(pub String);

impl fmt::Display for NotStubStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How one metric is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// The runner sends the per-second rate between two runs.
    Rate,
}

/// The metrics of one reading, in the order Datadog submits them.
pub fn metrics(status: &StubStatus) -> [(&'static str, Kind, f64); 7] {
    [
        ("nginx.net.connections", Kind::Gauge, status.active as f64),
        (
            "nginx.net.conn_opened_per_s",
            Kind::Rate,
            status.accepts as f64,
        ),
        (
            "nginx.net.conn_dropped_per_s",
            Kind::Rate,
            status.accepts as f64 - status.handled as f64,
        ),
        (
            "nginx.net.request_per_s",
            Kind::Rate,
            status.requests as f64,
        ),
        ("nginx.net.reading", Kind::Gauge, status.reading as f64),
        ("nginx.net.writing", Kind::Gauge, status.writing as f64),
        ("nginx.net.waiting", Kind::Gauge, status.waiting as f64),
    ]
}

const ACTIVE: &str = "Active connections:";
const COUNTERS: &str = "server accepts handled requests";

/// Parses a stub_status body. Leading and trailing spaces on a line and
/// blank lines do not matter; the four parts must all be there.
pub fn parse(body: &str) -> Result<StubStatus, NotStubStatus> {
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let missing = |what: &str| NotStubStatus(format!("no `{what}` line"));

    let active_line = lines
        .iter()
        .find_map(|l| l.strip_prefix(ACTIVE))
        .ok_or_else(|| missing(ACTIVE))?;
    let active = number(active_line.trim(), ACTIVE)?;

    // The counters are on the line after their header. (Tengine adds a
    // fourth column, `request_time`; the first three are nginx's.)
    let header = lines
        .iter()
        .position(|l| l.starts_with(COUNTERS))
        .ok_or_else(|| missing(COUNTERS))?;
    let counters = lines
        .get(header + 1)
        .ok_or_else(|| NotStubStatus(format!("no counters after `{COUNTERS}`")))?;
    let values: Vec<&str> = counters.split_whitespace().collect();
    if values.len() < 3 {
        return Err(NotStubStatus(format!(
            "expected three counters (accepts handled requests) after `{COUNTERS}`, got `{counters}`"
        )));
    }
    let accepts = number(values[0], "accepts")?;
    let handled = number(values[1], "handled")?;
    let requests = number(values[2], "requests")?;

    let states = lines
        .iter()
        .find(|l| l.starts_with("Reading:"))
        .ok_or_else(|| missing("Reading: … Writing: … Waiting: …"))?;
    let tokens: Vec<&str> = states.split_whitespace().collect();
    let state = |label: &str| -> Result<u64, NotStubStatus> {
        let at = tokens
            .iter()
            .position(|t| *t == label)
            .ok_or_else(|| NotStubStatus(format!("no `{label}` in `{states}`")))?;
        let value = tokens
            .get(at + 1)
            .ok_or_else(|| NotStubStatus(format!("no number after `{label}` in `{states}`")))?;
        number(value, label.trim_end_matches(':'))
    };
    Ok(StubStatus {
        active,
        accepts,
        handled,
        requests,
        reading: state("Reading:")?,
        writing: state("Writing:")?,
        waiting: state("Waiting:")?,
    })
}

fn number(text: &str, what: &str) -> Result<u64, NotStubStatus> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotStubStatus(format!(
            "`{what}` is `{text}`, not a whole number"
        )));
    }
    text.parse()
        .map_err(|_| NotStubStatus(format!("`{what}` is `{text}`, too large")))
}

/// The first characters of a body, on one line, for an error message.
pub fn excerpt(body: &str) -> String {
    const MAX: usize = 80;
    let flat: String = body
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let mut out: String = flat.chars().take(MAX).collect();
    if flat.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what nginx 1.22.1 serves (trailing spaces included).
    const NGINX_1_22: &str = "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n";

    #[test]
    fn parses_what_nginx_serves() {
        assert_eq!(
            parse(NGINX_1_22),
            Ok(StubStatus {
                active: 1,
                accepts: 1,
                handled: 1,
                requests: 1,
                reading: 0,
                writing: 1,
                waiting: 0,
            })
        );
    }

    #[test]
    fn parses_datadogs_example_and_other_spacing() {
        let body = "Active connections: 8\nserver accepts handled requests\n 1156958 1156958 4491319\nReading: 0 Writing: 2 Waiting: 6\n";
        let s = parse(body).unwrap();
        assert_eq!(
            (s.active, s.accepts, s.handled, s.requests),
            (8, 1156958, 1156958, 4491319)
        );
        assert_eq!((s.reading, s.writing, s.waiting), (0, 2, 6));
        // CRLF line ends, blank lines, tabs, no final newline.
        let body = "\r\nActive connections:\t12\r\n\r\nserver accepts handled requests\r\n\t7 5 30\r\nReading: 1  Writing: 2  Waiting: 9";
        let s = parse(body).unwrap();
        assert_eq!((s.active, s.accepts, s.handled, s.requests), (12, 7, 5, 30));
        assert_eq!((s.reading, s.writing, s.waiting), (1, 2, 9));
    }

    #[test]
    fn tengine_extra_column_is_ignored() {
        let body = "Active connections: 1\nserver accepts handled requests request_time\n 1140 1140 1140 75806\nReading: 0 Writing: 1 Waiting: 0\n";
        let s = parse(body).unwrap();
        assert_eq!((s.accepts, s.handled, s.requests), (1140, 1140, 1140));
    }

    #[test]
    fn metrics_are_datadogs() {
        let s = StubStatus {
            active: 8,
            accepts: 100,
            handled: 97,
            requests: 400,
            reading: 1,
            writing: 2,
            waiting: 5,
        };
        assert_eq!(
            metrics(&s),
            [
                ("nginx.net.connections", Kind::Gauge, 8.0),
                ("nginx.net.conn_opened_per_s", Kind::Rate, 100.0),
                ("nginx.net.conn_dropped_per_s", Kind::Rate, 3.0),
                ("nginx.net.request_per_s", Kind::Rate, 400.0),
                ("nginx.net.reading", Kind::Gauge, 1.0),
                ("nginx.net.writing", Kind::Gauge, 2.0),
                ("nginx.net.waiting", Kind::Gauge, 5.0),
            ]
        );
    }

    #[test]
    fn an_html_page_is_not_stub_status() {
        let page = "<html>\n<head><title>Welcome to nginx!</title></head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>1 2 3</p>\n</body>\n</html>\n";
        assert_eq!(
            parse(page),
            Err(NotStubStatus("no `Active connections:` line".into()))
        );
        assert_eq!(
            parse(""),
            Err(NotStubStatus("no `Active connections:` line".into()))
        );
    }

    #[test]
    fn malformed_pages_say_what_is_wrong() {
        let cases = [
            (
                "Active connections: many\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "`Active connections:` is `many`, not a whole number",
            ),
            (
                "Active connections: 1\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "no `server accepts handled requests` line",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "expected three counters (accepts handled requests) after `server accepts handled requests`, got `1 1`",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 -1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "`handled` is `-1`, not a whole number",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1 1\n",
                "no `Reading: … Writing: … Waiting: …` line",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
                "no `Waiting:` in `Reading: 0 Writing: 1`",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting:\n",
                "no number after `Waiting:` in `Reading: 0 Writing: 1 Waiting:`",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 99999999999999999999 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "`accepts` is `99999999999999999999`, too large",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n",
                "no counters after `server accepts handled requests`",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(parse(body), Err(NotStubStatus(message.into())), "{body:?}");
        }
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt("  <html>\n<body>\tx</body>\n"),
            "<html> <body> x</body>"
        );
        let long = "a".repeat(200);
        assert_eq!(excerpt(&long).chars().count(), 81);
        assert!(excerpt(&long).ends_with('…'));
        assert_eq!(excerpt("a\u{7}b"), "ab");
    }
}
