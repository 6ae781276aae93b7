//! Back-off for an instance that fails to instantiate or configure: it is
//! reported on every attempt and retried ever less often, never dropped.

use std::time::Duration;

use super::MAX_BACKOFF;

/// Which ticks a failing instance skips: after `n` failures in a row to
/// configure, it is tried again after 2^(n-1) intervals, at most
/// [`MAX_BACKOFF`] (or one interval, when that is longer).
pub(super) struct Backoff {
    interval: Duration,
    failures: u32,
    skip: u32,
}

impl Backoff {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            failures: 0,
            skip: 0,
        }
    }

    /// Whether this tick runs; counts down skipped ticks.
    pub(super) fn due(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// Record a failure; returns how long until the next attempt.
    pub(super) fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let cap = (MAX_BACKOFF.as_secs_f64() / self.interval.as_secs_f64()).max(1.0) as u32;
        let intervals = 2u32.saturating_pow(self.failures - 1).min(cap);
        self.skip = intervals - 1;
        self.interval * intervals
    }

    pub(super) fn succeeded(&mut self) {
        self.failures = 0;
        self.skip = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn failing_configure_backs_off_then_resumes() {
        let mut b = Backoff::new(Duration::from_secs(60));
        let mut pattern = String::new();
        for _ in 0..12 {
            if b.due() {
                pattern.push('R');
                b.failed();
            } else {
                pattern.push('.');
            }
        }
        // Tried after 1, 2, 4, then every 5 intervals (300 s / 60 s).
        assert_eq!(pattern, "RR.R...R....");
        b.succeeded();
        assert!(b.due());
        let mut slow = Backoff::new(Duration::from_secs(600));
        assert_eq!(slow.failed(), Duration::from_secs(600));
        assert_eq!(
            slow.failed(),
            Duration::from_secs(600),
            "never less than one interval"
        );
    }
}
