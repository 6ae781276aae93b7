//! The sandbox's own budget types: [`Limits`] (what one instance may use)
//! and [`LimitHit`] (which of them stopped a run). The sandbox takes plain
//! numbers; where they come from (runner.yaml, an instance's `limits:`) is
//! the config module's business, so every message names the setting as a
//! user writes it.

use std::fmt;
use std::time::Duration;

/// What one check instance may use. Per run unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Wall time of one `configure` or `run` (`limits.timeout`).
    pub timeout: Duration,
    /// Everything the instance holds at once: all its linear memories and
    /// tables, plus the host-side bytes of what it submitted and wrote in
    /// the current run (`limits.memory_mib`).
    pub memory_bytes: u64,
    /// Metric samples (`limits.max_metrics`).
    pub max_metrics: usize,
    /// Service checks (`limits.max_service_checks`).
    pub max_service_checks: usize,
    /// Events (`limits.max_events`).
    pub max_events: usize,
    /// Metadata entries (`limits.max_metadata`).
    pub max_metadata: usize,
    /// Bytes of everything submitted: metrics, service checks, events and
    /// metadata together (`limits.max_submission_kib`).
    pub max_submission_bytes: usize,
    /// Bytes written to stdout, stderr and `log` (`limits.max_output_kib`).
    pub max_output_bytes: usize,
}

impl Default for Limits {
    /// The defaults documented for runner.yaml's `limits:`.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            memory_bytes: 64 << 20,
            max_metrics: 10_000,
            max_service_checks: 1_000,
            max_events: 100,
            max_metadata: 100,
            max_submission_bytes: 4 << 20,
            max_output_bytes: 64 << 10,
        }
    }
}

/// Which budget a submission counted against, for [`LimitHit::Count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Metrics,
    ServiceChecks,
    Events,
    Metadata,
}

impl Counted {
    fn what(self) -> &'static str {
        match self {
            Counted::Metrics => "metric samples",
            Counted::ServiceChecks => "service checks",
            Counted::Events => "events",
            Counted::Metadata => "metadata entries",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Counted::Metrics => "limits.max_metrics",
            Counted::ServiceChecks => "limits.max_service_checks",
            Counted::Events => "limits.max_events",
            Counted::Metadata => "limits.max_metadata",
        }
    }
}

/// A sandbox limit a run broke. Each names the setting that controls it,
/// so the error tells the user what to change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitHit {
    /// Wall time of `configure` or `run` (`limits.timeout`).
    Timeout(Duration),
    /// `info` has a fixed budget of its own, not the instance's.
    InfoTimeout(Duration),
    /// Everything the instance holds (`limits.memory_mib`).
    Memory { limit: u64, wanted: u64 },
    /// Too many items of one kind in a run.
    Count { kind: Counted, limit: usize },
    /// Bytes submitted in a run (`limits.max_submission_kib`).
    SubmissionBytes(usize),
    /// Bytes written to stdout/stderr/log in a run (`limits.max_output_kib`).
    Output(usize),
    /// One call tried to pass more bytes than the runner lifts at once.
    HostcallBytes(usize),
    /// Sockets, streams and other WASI resources held at once (a fixed
    /// cap: each socket is a file descriptor of the runner).
    Resources(usize),
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Timeout(limit) => write!(
                f,
                "run exceeded its time limit of {} (limits.timeout) and was interrupted",
                humanize_duration(*limit)
            ),
            LimitHit::InfoTimeout(limit) => write!(
                f,
                "its `info` export did not return within its fixed budget of {} \
                 (`info` must only describe the check; this budget is not configurable)",
                humanize_duration(*limit)
            ),
            LimitHit::Memory { limit, wanted } => write!(
                f,
                "run exceeded its memory limit of {} MiB (limits.memory_mib): \
                 its memories, tables and submissions would have needed {} MiB",
                limit >> 20,
                wanted.div_ceil(1 << 20)
            ),
            LimitHit::Count { kind, limit } => write!(
                f,
                "run submitted more than {limit} {} ({}) and was stopped",
                kind.what(),
                kind.setting()
            ),
            LimitHit::SubmissionBytes(limit) => write!(
                f,
                "run submitted more than {} KiB of metrics, service checks, events and \
                 metadata (limits.max_submission_kib) and was stopped",
                limit >> 10
            ),
            LimitHit::Output(limit) => write!(
                f,
                "run wrote more than {} KiB to stdout, stderr and its log \
                 (limits.max_output_kib) and was stopped",
                limit >> 10
            ),
            LimitHit::Resources(limit) => write!(
                f,
                "run held more than {limit} sockets, streams and other WASI resources at once \
                 (a fixed cap of the runner: each socket is one of its file descriptors) and \
                 was stopped"
            ),
            LimitHit::HostcallBytes(limit) => write!(
                f,
                "run passed more than {} MiB to the runner in one call (a batch of \
                 submissions, a log line or an error message: the most one call may pass \
                 is 16 MiB, or limits.max_submission_kib when larger) and was stopped",
                limit >> 20
            ),
        }
    }
}

fn humanize_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
