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
//! A [`Reader`] takes the snapshots (blocking); it keeps what cannot change
//! for a process between refreshes and the previous CPU sample, so keep one
//! per proc file system. Its parts: `files` (system calls relative to a
//! process's directory), `parse` (the per-process files), `cpu`, `users`,
//! `container`.

pub mod connections;
mod container;
mod cpu;
mod files;
mod parse;
mod query;
mod reader;
mod service;
mod users;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::cmdline_scrub::Scrubber;
pub use connections::Connections;

pub use query::{
    MAX_PATTERN_BYTES, MAX_PATTERNS, PATTERN_CACHE_BYTES, ProcessQuery, QueryError, QueryOptions,
    Selection, read_pid_file,
};
pub use reader::{Reader, SnapshotSettings};
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

/// What a refresh reads beyond the fields every row always has.
///
/// Reading a process's open fds, I/O counters and cwd costs a file (or a
/// directory) per process each; connections cost a netlink dump and a walk
/// of every `/proc/<pid>/fd`. A refresh reads only what some caller asked
/// for; a row's field that was not read is `None`, like an unknown one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FieldSet {
    /// [`ProcessRow::open_fds`].
    pub open_fds: bool,
    /// [`ProcessRow::io`].
    pub io: bool,
    /// [`ProcessRow::cwd`].
    pub cwd: bool,
    /// [`ProcessSnapshot::connections`], with owning pids.
    pub connections: bool,
}

impl FieldSet {
    /// Every optional field.
    pub const ALL: Self = Self {
        open_fds: true,
        io: true,
        cwd: true,
        connections: true,
    };
    /// No optional field.
    pub const NONE: Self = Self {
        open_fds: false,
        io: false,
        cwd: false,
        connections: false,
    };

    /// What either set reads.
    pub fn union(self, other: Self) -> Self {
        Self {
            open_fds: self.open_fds || other.open_fds,
            io: self.io || other.io,
            cwd: self.cwd || other.cwd,
            connections: self.connections || other.connections,
        }
    }

    /// Whether a snapshot read with `self` has everything `wanted` asks.
    pub fn covers(self, wanted: Self) -> bool {
        self.union(wanted) == self
    }
}

/// CPU use of a process between two refreshes, in top's convention: 100 %
/// is one full core, so a process busy on two cores shows 200 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuPercent {
    /// Time in user mode.
    pub user: f64,
    /// Time in kernel mode.
    pub system: f64,
    /// `user + system`.
    pub total: f64,
}

/// One process as seen at snapshot time.
///
/// Fields that can be refused for lack of privilege (or that the kernel does
/// not provide, or that the refresh was not asked to read: see
/// [`FieldSet`]) are `Option`s: `None` means unknown, never zero. Strings
/// that cannot change for a (pid, start time) are shared between refreshes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRow {
    /// Process id.
    pub pid: u32,
    /// Parent process id (0 for `init` and `kthreadd`).
    pub ppid: u32,
    /// Like psutil's `name()`: `comm` from `/proc/<pid>/stat`, or, when `comm`
    /// is 15 characters long (truncated by the kernel) and the basename of
    /// `cmdline[0]` starts with it, that basename.
    pub name: Arc<str>,
    /// Arguments from `/proc/<pid>/cmdline`, unscrubbed; empty for kernel
    /// threads and zombies.
    pub cmdline: Arc<[String]>,
    /// Executable path (`/proc/<pid>/exe`).
    pub exe: Option<Arc<str>>,
    /// Working directory (`/proc/<pid>/cwd`), when [`FieldSet::cwd`].
    pub cwd: Option<String>,
    /// Real uid, from `/proc/<pid>/status`.
    pub uid: Option<u32>,
    /// User name of [`uid`](Self::uid), from the name service (or the
    /// configured passwd file); `None` when the uid is unknown or has no
    /// name.
    pub user: Option<Arc<str>>,
    /// State letter from `/proc/<pid>/stat` (`R`, `S`, `D`, `Z`, `I`, ...).
    pub state: char,
    /// Start time, Unix seconds (`starttime / CLK_TCK + btime`).
    pub start_time: f64,
    /// CPU time spent in user mode, seconds.
    pub cpu_user: f64,
    /// CPU time spent in kernel mode, seconds.
    pub cpu_system: f64,
    /// CPU use since the previous refresh that saw this process; `None` on
    /// its first sample.
    pub cpu_percent: Option<CpuPercent>,
    /// Resident set size, bytes: `statm` resident × page size, like
    /// psutil's `memory_info().rss` (read as `VmRSS` of `status`, the same
    /// counter in kB; `stat` when `status` has none).
    pub rss: u64,
    /// Virtual memory size, bytes: `statm` size × page size (`VmSize`).
    pub vms: u64,
    /// Resident shared (file-backed + shmem) memory, bytes: `statm` shared ×
    /// page size, like psutil's `memory_info().shared` (`RssFile +
    /// RssShmem` of `status`).
    pub shared: Option<u64>,
    /// Swapped-out memory, bytes (`VmSwap` of `/proc/<pid>/status`).
    pub swap: Option<u64>,
    /// Number of threads.
    pub threads: u32,
    /// Number of open file descriptors, when [`FieldSet::open_fds`].
    pub open_fds: Option<u32>,
    /// I/O counters from `/proc/<pid>/io`, when [`FieldSet::io`].
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
    /// Container id from the cgroup path (docker, containerd, CRI-O,
    /// podman, ECS); `None` outside a container.
    pub container_id: Option<Arc<str>>,
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
    /// Number of online CPUs (see [`SnapshotSettings::sys_root`]).
    pub num_cpus: u32,
    /// Total usable memory (`MemTotal`), bytes.
    pub total_memory: u64,
    /// What this refresh read beyond the always-read fields.
    pub fields: FieldSet,
    /// Every process, sorted by pid (kernel threads only when asked).
    pub processes: Vec<ProcessRow>,
    /// Every TCP and UDP socket, when [`FieldSet::connections`].
    pub connections: Option<Arc<Connections>>,
}

/// Where the proc file system is, unless configured otherwise.
pub const PROC: &str = "/proc";

impl ProcessSnapshot {
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
    /// let snapshot = snapshots.get(FieldSet::NONE).await?; // Arc<ProcessSnapshot>
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
