//! Where in its interval each instance starts: instances sharing an
//! interval are spaced evenly over it, without randomness (the Agent
//! spreads them too), so their runs do not pile up on the check runners.
//! They are ordered by check, so the instances of one check run close
//! together and share one /proc snapshot refresh when there are many.

use std::collections::BTreeMap;
use std::time::Duration;

/// The start offset of each instance within its interval, keyed by
/// instance ID. `instances`: (check, instance ID, interval).
pub fn offsets(instances: &[(String, String, Duration)]) -> BTreeMap<String, Duration> {
    let mut by_interval: BTreeMap<Duration, Vec<(&str, &str)>> = BTreeMap::new();
    for (check, id, interval) in instances {
        by_interval.entry(*interval).or_default().push((check, id));
    }
    let mut offsets = BTreeMap::new();
    for (interval, mut members) in by_interval {
        members.sort_unstable();
        members.dedup();
        let n = members.len() as u32;
        for (i, (_, id)) in members.into_iter().enumerate() {
            offsets.insert(id.to_string(), interval * i as u32 / n);
        }
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::offsets;
    use std::time::Duration;

    #[test]
    fn instances_sharing_an_interval_are_spread_evenly() {
        let s = Duration::from_secs;
        let one = |check: &str, id: &str, secs| (check.to_string(), id.to_string(), s(secs));
        let got = offsets(&[
            one("process", "process:b", 16),
            one("nginx", "nginx:a", 16),
            one("disk", "disk:a", 16),
            one("process", "process:a", 16),
            one("process", "process:slow", 60),
        ]);
        assert_eq!(got.len(), 5);
        // By check, then ID: disk, nginx, process:a, process:b.
        assert_eq!(got["disk:a"], s(0));
        assert_eq!(got["nginx:a"], s(4));
        assert_eq!(got["process:a"], s(8));
        assert_eq!(got["process:b"], s(12));
        assert_eq!(got["process:slow"], s(0), "alone in its interval");
    }

    #[test]
    fn a_thousand_instances_a_millisecond_apart() {
        let many: Vec<_> = (0..1000)
            .map(|i| {
                (
                    "process".into(),
                    format!("process:{i:04}"),
                    Duration::from_secs(1),
                )
            })
            .collect();
        let got = offsets(&many);
        let mut starts: Vec<Duration> = got.values().copied().collect();
        starts.sort();
        for pair in starts.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(1));
        }
    }
}
