//! The `process.up` service check.

use runner_sdk::Status;

use crate::config::Limits;

/// Service check name, as in the Datadog Agent.
pub const NAME: &str = "process.up";

/// The status for `count` matched processes. Without `limits`: CRITICAL
/// when nothing matches, else OK. With limits: WARNING outside
/// `warning`, CRITICAL outside `critical` (CRITICAL wins).
pub fn status(count: usize, limits: Option<&Limits>) -> Status {
    match limits {
        None if count == 0 => Status::Critical,
        None => Status::Ok,
        Some(limits) if !limits.critical.contains(count) => Status::Critical,
        Some(limits) if !limits.warning.contains(count) => Status::Warning,
        Some(_) => Status::Ok,
    }
}

fn label(status: Status) -> &'static str {
    match status {
        Status::Ok => "OK",
        Status::Warning => "WARNING",
        Status::Critical => "CRITICAL",
        Status::Unknown => "UNKNOWN",
    }
}

/// `PROCS <STATUS>: N processes found for <name>`, empty when OK.
pub fn message(status: Status, count: usize, name: &str) -> String {
    if status == Status::Ok {
        return String::new();
    }
    format!(
        "PROCS {}: {count} processes found for {name}",
        label(status)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Bounds;

    fn limits(warning: Option<(f64, f64)>, critical: Option<(f64, f64)>) -> Limits {
        let bounds = |b: Option<(f64, f64)>| {
            b.map_or(Bounds::AT_LEAST_ONE, |(low, high)| Bounds { low, high })
        };
        Limits {
            warning: bounds(warning),
            critical: bounds(critical),
        }
    }

    #[test]
    fn without_thresholds() {
        assert_eq!(status(0, None), Status::Critical);
        for count in [1, 3, 10] {
            assert_eq!(status(count, None), Status::Ok, "{count}");
        }
    }

    #[test]
    fn thresholds_table() {
        use Status::{Critical, Ok, Warning};
        let defaults = limits(None, None);
        let warn_2_5 = limits(Some((2.0, 5.0)), None);
        let crit_1_4 = limits(None, Some((1.0, 4.0)));
        let both = limits(Some((3.0, 3.0)), Some((1.0, 5.0)));
        let zero_ok = limits(Some((0.0, 1.0)), Some((0.0, 2.0)));
        // low > high, as Datadog compares: no count is inside.
        let inverted_warn = limits(Some((5.0, 2.0)), None);
        let inverted_crit = limits(None, Some((5.0, 2.0)));
        let cases: &[(&Limits, [Status; 4])] = &[
            //            count: 0         1        3        10
            (&defaults, [Critical, Ok, Ok, Ok]),
            (&warn_2_5, [Critical, Warning, Ok, Warning]),
            (&crit_1_4, [Critical, Ok, Ok, Critical]),
            (&both, [Critical, Warning, Ok, Critical]),
            (&zero_ok, [Ok, Ok, Critical, Critical]),
            (&inverted_warn, [Critical, Warning, Warning, Warning]),
            (&inverted_crit, [Critical, Critical, Critical, Critical]),
        ];
        for (limits, expected) in cases {
            for (count, want) in [0, 1, 3, 10].into_iter().zip(expected) {
                assert_eq!(
                    status(count, Some(limits)),
                    *want,
                    "count {count} with {limits:?}"
                );
            }
        }
    }

    #[test]
    fn messages() {
        assert_eq!(message(Status::Ok, 3, "nginx"), "");
        assert_eq!(
            message(Status::Warning, 1, "nginx"),
            "PROCS WARNING: 1 processes found for nginx"
        );
        assert_eq!(
            message(Status::Critical, 0, "nginx"),
            "PROCS CRITICAL: 0 processes found for nginx"
        );
        assert_eq!(
            message(Status::Critical, 10, "my app"),
            "PROCS CRITICAL: 10 processes found for my app"
        );
    }
}
