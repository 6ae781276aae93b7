//! Where the results of runs go: each sink stages every finished run as it
//! comes, and publishes what it staged on every flush (every
//! `flush_interval`, and once more on shutdown), the way the Agent's
//! aggregator flushes to its forwarder every 15 s. Runs are aggregated
//! with Datadog's semantics before they get here (per run, as the Agent
//! commits a check's samples after each run); a flush only decides when
//! sinks show them.
//!
//! What a sink holds between flushes is bounded by design: the Prometheus
//! sink keeps the latest state per instance, the JSON-lines sink a capped
//! buffer of lines.

pub mod json_lines;
pub mod prometheus;

use crate::scheduler::CompletedRun;

/// One destination for results.
pub trait Sink: Send + Sync + 'static {
    /// A run finished; keep what the next flush publishes.
    fn stage(&self, run: &CompletedRun);
    /// Instance `id` is gone: its series disappear at the next flush.
    fn remove(&self, id: &str);
    /// Publish what was staged. May block on I/O: called off the async
    /// runtime's threads.
    fn flush(&self);
}
