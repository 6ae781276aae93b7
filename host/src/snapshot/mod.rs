//! The host's view of processes, handed to checks.
//!
//! A [`ProcessSnapshot`] is one read of `/proc` for the whole host: host CPU
//! time and memory plus one [`ProcessRow`] per process. Checks never walk it
//! themselves: they describe what they want with a [`ProcessQuery`] and
//! [`ProcessSnapshot::query`] (or its variants with [`QueryOptions`])
//! filters host-side, so a check only copies the rows it asked for.
//! [`SnapshotService`] shares one snapshot between every instance that runs
//! within `max_age` of each other.
//!
//! All reading of `/proc` lives in `procfs_reader` behind
//! [`ProcessSnapshot::read`], so it can later be replaced by a faster byte
//! parser (and grow network connections) without touching the rest.

mod procfs_reader;
mod query;
mod service;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::cmdline_scrub::Scrubber;

pub use query::{
    MAX_PATTERN_BYTES, MAX_PATTERNS, PATTERN_CACHE_BYTES, ProcessQuery, QueryError, QueryOptions,
    Selection, read_pid_file,
};
pub use service::SnapshotService;

/// I/O counters of a process, from `/proc/<pid>/io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoCounters {
    /// Read system calls (`syscr`).
    pub read_count: u64,
    /// Write system calls (`syscw`).
    pub write_count: u64,
    /// Bytes actually fetched from the storage layer (`read_bytes`).
    pub read_bytes: u64,
    /// Bytes actually sent to the storage layer (`write_bytes`).
    pub write_bytes: u64,
}

/// One process as seen at snapshot time.
///
/// Fields that can be refused for lack of privilege (or that the kernel does
/// not provide) are `Option`s: `None` means unknown, never zero.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRow {
    /// Process id.
    pub pid: u32,
    /// Parent process id (0 for `init` and `kthreadd`).
    pub ppid: u32,
    /// Like psutil's `name()`: `comm` from `/proc/<pid>/stat`, or, when `comm`
    /// is 15 characters long (truncated by the kernel) and the basename of
    /// `cmdline[0]` starts with it, that basename.
    pub name: String,
    /// Arguments from `/proc/<pid>/cmdline`; empty for kernel threads and
    /// zombies.
    pub cmdline: Vec<String>,
    /// Real uid, from `/proc/<pid>/status`.
    pub uid: Option<u32>,
    /// User name of [`uid`](Self::uid), from `/etc/passwd`; `None` when the
    /// uid is unknown or has no entry there.
    pub user: Option<String>,
    /// State letter from `/proc/<pid>/stat` (`R`, `S`, `D`, `Z`, `I`, ...).
    pub state: char,
    /// Start time, Unix seconds (`starttime / CLK_TCK + btime`).
    pub start_time: f64,
    /// CPU time spent in user mode, seconds.
    pub cpu_user: f64,
    /// CPU time spent in kernel mode, seconds.
    pub cpu_system: f64,
    /// Resident set size, bytes: `statm` resident × page size, like
    /// psutil's `memory_info().rss` (`stat` when `statm` is unreadable).
    pub rss: u64,
    /// Virtual memory size, bytes: `statm` size × page size.
    pub vms: u64,
    /// Resident shared (file-backed + shmem) memory, bytes: `statm` shared ×
    /// page size, like psutil's `memory_info().shared`.
    pub shared: Option<u64>,
    /// Number of threads.
    pub threads: u32,
    /// Number of open file descriptors (entries of `/proc/<pid>/fd`).
    pub open_fds: Option<u32>,
    /// I/O counters from `/proc/<pid>/io`.
    pub io: Option<IoCounters>,
    /// Voluntary context switches, from `/proc/<pid>/status`.
    pub voluntary_ctx_switches: Option<u64>,
    /// Involuntary context switches, from `/proc/<pid>/status`.
    pub involuntary_ctx_switches: Option<u64>,
    /// Minor page faults.
    pub minor_faults: u64,
    /// Major page faults.
    pub major_faults: u64,
    /// Minor page faults of waited-for children.
    pub children_minor_faults: u64,
    /// Major page faults of waited-for children.
    pub children_major_faults: u64,
    /// Names of the fields refused for lack of privilege (`"open_fds"`,
    /// `"io"`, ...); those fields are `None`.
    pub denied: Vec<&'static str>,
}

impl ProcessRow {
    /// [`cmdline`](Self::cmdline) as `scrubber` leaves it: what a check
    /// should be shown (see [`crate::cmdline_scrub`]).
    pub fn scrubbed_cmdline(&self, scrubber: &Scrubber) -> Vec<String> {
        scrubber.scrub(&self.cmdline)
    }
}

/// One read of `/proc` for the whole host.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSnapshot {
    /// When the read started, Unix seconds.
    pub taken_at: f64,
    /// Sum of all fields of the aggregate `cpu` line of `/proc/stat`, seconds.
    /// CPU % of a process is Δ(cpu_user + cpu_system) / Δ host_cpu_time ×
    /// num_cpus × 100.
    pub host_cpu_time: f64,
    /// Number of CPUs (the `cpuN` lines of `/proc/stat`).
    pub num_cpus: u32,
    /// Total usable memory (`MemTotal`), bytes.
    pub total_memory: u64,
    /// Every process, sorted by pid.
    pub processes: Vec<ProcessRow>,
}

/// Where the proc file system is, unless configured otherwise.
pub const PROC: &str = "/proc";

impl ProcessSnapshot {
    /// Reads the whole host from `/proc` (blocking: call it from
    /// `spawn_blocking` in async code, or use [`SnapshotService`]).
    ///
    /// Processes that exit while being read are skipped; only a failure to
    /// read the host-wide files or to list `/proc` is an error.
    pub fn read() -> anyhow::Result<Self> {
        Self::read_from(Path::new(PROC))
    }

    /// As [`read`](Self::read), from a proc file system mounted at `root`
    /// (e.g. the host's `/host/proc` seen from a container).
    pub fn read_from(root: &Path) -> anyhow::Result<Self> {
        procfs_reader::read_snapshot(root)
    }

    /// The rows selected by `q`, sorted by pid, without duplicates.
    ///
    /// See [`ProcessQuery`] for the semantics. Fails when the patterns are
    /// beyond the limits or one is not a valid regex, or when the pid file
    /// cannot be read or holds no pid. Runs without a deadline: for a
    /// check's query, use [`select`](Self::select).
    pub fn query(&self, q: &ProcessQuery) -> Result<Vec<&ProcessRow>, QueryError> {
        self.query_with(q, &QueryOptions::default())
    }

    /// As [`query`](Self::query), giving up with
    /// [`QueryError::DeadlineExceeded`] soon after `deadline`.
    pub fn query_until(
        &self,
        q: &ProcessQuery,
        deadline: Instant,
    ) -> Result<Vec<&ProcessRow>, QueryError> {
        self.query_with(
            q,
            &QueryOptions {
                deadline: Some(deadline),
                ..QueryOptions::default()
            },
        )
    }

    /// As [`query`](Self::query), run as `options` say (a deadline, cmdline
    /// patterns matched against scrubbed command lines).
    pub fn query_with(
        &self,
        q: &ProcessQuery,
        options: &QueryOptions,
    ) -> Result<Vec<&ProcessRow>, QueryError> {
        let indices = query::run(self, q, options)?;
        Ok(indices.into_iter().map(|i| &self.processes[i]).collect())
    }

    /// As [`query_with`](Self::query_with), on a shared snapshot, returning
    /// rows that own it: for running a check's query off the async runtime,
    /// since matching many patterns against every command line is blocking
    /// work:
    ///
    /// ```ignore
    /// let snapshot = snapshots.get().await?; // Arc<ProcessSnapshot>
    /// let options = QueryOptions { deadline: Some(run_deadline), ..Default::default() };
    /// let selection =
    ///     tokio::task::spawn_blocking(move || snapshot.select(&query, &options)).await??;
    /// for row in selection.rows() { /* ... */ }
    /// ```
    pub fn select(
        self: Arc<Self>,
        q: &ProcessQuery,
        options: &QueryOptions,
    ) -> Result<Selection, QueryError> {
        let indices = query::run(&self, q, options)?;
        Ok(Selection::new(self, indices))
    }
}
