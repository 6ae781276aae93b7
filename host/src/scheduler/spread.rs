//! Where in its interval each instance starts. Instances sharing an
//! interval are ordered by check then ID and cut into batches of at most
//! [`BATCH`]; the batches are spaced evenly over the interval, without
//! randomness (the Agent spreads checks too, and starts those sharing one
//! of its 1 s buckets together). The instances of a batch start together:
//! they share one /proc snapshot refresh instead of paying one each, which
//! is most of what a `process` run costs, and a burst of 32 runs takes a
//! few milliseconds on the check runners. Many instances are still spread
//! out: 1,000 at 1 s make 32 batches, 31 ms apart.

use std::collections::BTreeMap;
use std::time::Duration;

/// Most instances that start at the same moment.
pub const BATCH: usize = 32;

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
        let n = members.len();
        // Batches of nearly equal size: member i goes to batch i * k / n.
        let batches = n.div_ceil(BATCH).max(1);
        for (i, (_, id)) in members.into_iter().enumerate() {
            let batch = i * batches / n;
            offsets.insert(id.to_string(), interval * batch as u32 / batches as u32);
        }
    }
    offsets
}

#[cfg(test)]
mod tests {
    use super::offsets;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn a_few_instances_sharing_an_interval_start_together() {
        let s = Duration::from_secs;
        let one = |check: &str, id: &str, secs| (check.to_string(), id.to_string(), s(secs));
        let got = offsets(&[
            one("process", "process:b", 16),
            one("nginx", "nginx:a", 16),
            one("connections", "connections:a", 16),
            one("process", "process:slow", 60),
        ]);
        assert_eq!(got.len(), 4);
        for id in ["process:b", "nginx:a", "connections:a", "process:slow"] {
            assert_eq!(got[id], s(0), "{id}");
        }
    }

    #[test]
    fn many_are_cut_into_batches_by_check_then_id() {
        let s = Duration::from_secs;
        // 40 instances at 10 s: two batches of 20, at 0 and 5 s. The 10
        // `a` instances come first, then `b:00` .. `b:29`.
        let mut many: Vec<_> = (0..30)
            .map(|i| ("b".to_string(), format!("b:{i:02}"), s(10)))
            .collect();
        many.extend((0..10).map(|i| ("a".to_string(), format!("a:{i:02}"), s(10))));
        let got = offsets(&many);
        assert_eq!(got["a:00"], s(0));
        assert_eq!(got["b:09"], s(0));
        assert_eq!(got["b:10"], s(5));
        assert_eq!(got["b:29"], s(5));
        assert_eq!(got.values().filter(|o| **o == s(0)).count(), 20);
    }

    #[test]
    fn a_thousand_instances_in_32_batches() {
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
        let mut per_start: BTreeMap<Duration, usize> = BTreeMap::new();
        for offset in got.values() {
            *per_start.entry(*offset).or_default() += 1;
        }
        assert_eq!(per_start.len(), 32);
        assert!(
            per_start.values().all(|n| (31..=32).contains(n)),
            "{per_start:?}"
        );
        let starts: Vec<Duration> = per_start.into_keys().collect();
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap.abs_diff(Duration::from_millis(31)) <= Duration::from_millis(1),
                "{gap:?}"
            );
        }
    }
}
