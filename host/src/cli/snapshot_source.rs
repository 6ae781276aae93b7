//! Where `runner processes` and `runner connections` get their snapshots
//! and how they scrub command lines: the one place both verbs take their
//! settings from.

use std::sync::Arc;
use std::time::Duration;

use crate::cmdline_scrub::Scrubber;
use crate::snapshot::{FieldSet, ProcessSnapshot};

// TEMPORARY: `crate::snapshot` once the snapshot engine of issue 7 is merged
// (see `snapshot_shim.rs`).
pub use super::snapshot_shim::{ConnectionQuery, Reader, SnapshotSettings};

/// Where the host is read from. runner.yaml's proc root, sys root and
/// passwd file (and `HOST_PROC`/`HOST_SYS`) are to be applied here.
pub fn settings(include_kernel_threads: bool) -> SnapshotSettings {
    SnapshotSettings {
        include_kernel_threads,
        ..SnapshotSettings::default()
    }
}

/// How command lines are scrubbed before they are shown or searched.
/// runner.yaml's `custom_sensitive_words` and `strip_proc_arguments` are to
/// be applied here.
pub fn scrubber() -> Arc<Scrubber> {
    Scrubber::shared_default()
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
