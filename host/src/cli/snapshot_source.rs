//! Where `runner processes` and `runner connections` get their snapshots
//! and how they scrub command lines: runner.yaml's `procfs_path`,
//! `sysfs_path`, `passwd_file` and `process_config`, as for checks.

use std::sync::Arc;
use std::time::Duration;

use crate::cmdline_scrub::Scrubber;
use crate::config::RunnerConfig;
use crate::resolve;
use crate::snapshot::{FieldSet, ProcessSnapshot, Reader, SnapshotSettings};

pub use crate::snapshot::connections::ConnectionQuery;

/// Where the host is read from, as runner.yaml (and `HOST_PROC`,
/// `HOST_SYS`, `HOST_ETC`) say; kernel threads only when asked.
pub fn settings(runner: &RunnerConfig, include_kernel_threads: bool) -> SnapshotSettings {
    SnapshotSettings {
        include_kernel_threads,
        ..resolve::snapshot_settings(runner, None)
    }
}

/// How command lines are scrubbed before they are shown or searched:
/// runner.yaml's `process_config`.
pub fn scrubber(runner: &RunnerConfig) -> Arc<Scrubber> {
    runner.process_config.scrubber()
}

/// A snapshot with `fields`, and with CPU % when `interval` is not zero: CPU
/// % needs two reads, so the first one (which reads nothing optional) is
/// taken `interval` before the one returned.
pub fn read(
    settings: SnapshotSettings,
    fields: FieldSet,
    interval: Duration,
) -> anyhow::Result<ProcessSnapshot> {
    let mut reader = Reader::new(settings);
    if !interval.is_zero() {
        reader.refresh(FieldSet::NONE)?;
        std::thread::sleep(interval);
    }
    reader.refresh(fields)
}
