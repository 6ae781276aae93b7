//! Which limit stopped a run, and the memory limiter that enforces the cap.

use std::fmt;
use std::time::Duration;

/// A sandbox limit a run broke. Each names the setting that controls it,
/// so the error tells the user what to change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitHit {
    /// Wall time per run (`limits.timeout`).
    Timeout(Duration),
    /// Linear memory of the instance (`limits.memory_mib`).
    Memory { limit: u64, wanted: u64 },
    /// Metric samples per run (`limits.max_metrics`).
    Metrics(usize),
    /// Captured stdout + stderr per run (`limits.max_output_kib`).
    Output(usize),
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Timeout(limit) => write!(
                f,
                "run exceeded its time limit of {} (limits.timeout) and was interrupted",
                humanize_duration(*limit)
            ),
            LimitHit::Memory { limit, wanted } => write!(
                f,
                "run exceeded its memory limit of {} MiB (limits.memory_mib): it tried to grow its memory to {} MiB",
                limit >> 20,
                wanted.div_ceil(1 << 20)
            ),
            LimitHit::Metrics(limit) => write!(
                f,
                "run submitted more than {limit} metric samples (limits.max_metrics) and was stopped"
            ),
            LimitHit::Output(limit) => write!(
                f,
                "run wrote more than {} KiB to stdout/stderr (limits.max_output_kib) and was stopped",
                limit >> 10
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

/// Caps the linear memory (and tables) of one instance. Growing past the
/// cap traps the guest, and the hit is recorded so the run's error can say
/// which limit it was rather than a bare "out of memory".
pub struct MemoryLimiter {
    max_bytes: u64,
    pub(crate) hit: Option<LimitHit>,
}

/// Table elements are tiny; this only stops a table-growth bomb.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl MemoryLimiter {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            hit: None,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_bytes {
            let hit = LimitHit::Memory {
                limit: self.max_bytes,
                wanted: desired as u64,
            };
            self.hit = Some(hit);
            return Err(wasmtime::format_err!("{hit}"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
