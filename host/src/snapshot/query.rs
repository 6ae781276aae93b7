//! Host-side selection of snapshot rows.
//!
//! A query comes from a check, which may be hostile, so what it can make
//! the host do is bounded: at most [`MAX_PATTERNS`] cmdline patterns of at
//! most [`MAX_PATTERN_BYTES`] each, each compiled under the limits of
//! [`crate::pyregex`]; compiled patterns are cached within
//! [`PATTERN_CACHE_BYTES`]; and with a deadline
//! ([`QueryOptions::deadline`]) the query stops soon after it passes.

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use super::{ProcessRow, ProcessSnapshot};
use crate::cmdline_scrub::{Scrubber, join_into};
use crate::pyregex::{PatternError, PyRegex};

/// Most `cmdline_patterns` one query may carry.
pub const MAX_PATTERNS: usize = 64;
/// Longest `cmdline_patterns` entry, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4 << 10;
/// Most memory the cache of compiled patterns may hold, as counted by
/// [`PyRegex::memory_bound`]. That counts what the limits allow rather than
/// what a pattern actually holds, so this keeps about ten patterns
/// (backtracking ones count for three), however small they really are.
pub const PATTERN_CACHE_BYTES: usize = 64 << 20;

/// Most bytes of a pid file that are read.
const PID_FILE_MAX: u64 = 64;

/// Work, in units of about 1 KiB of command line matched by one linear
/// pattern, between two looks at the clock. A backtracking pattern's match
/// (up to [`crate::pyregex::BACKTRACK_LIMIT`] steps, tens of ms) counts as
/// this much on its own, so the clock is read before each of them.
const WORK_PER_CLOCK_CHECK: usize = 64;

/// Which processes a check wants.
///
/// A process is selected when it matches ANY of [`all`](Self::all),
/// [`names`](Self::names), [`cmdline_patterns`](Self::cmdline_patterns),
/// [`pids`](Self::pids) or [`pid_file`](Self::pid_file); then
/// [`include_children`](Self::include_children) adds every descendant of the
/// selected processes; finally [`user`](Self::user) keeps only that user's
/// rows. The default query selects nothing.
#[derive(Default, Clone, Debug)]
pub struct ProcessQuery {
    /// Select every process.
    pub all: bool,
    /// Select processes whose [`ProcessRow::name`] equals one of these.
    pub names: Vec<String>,
    /// Select processes whose command line, joined with single spaces,
    /// contains a match of one of these regexes (Python `re` syntax, see
    /// [`PyRegex`]). A process whose command line may not be read never
    /// matches, as Datadog skips processes it is denied access to.
    ///
    /// At most [`MAX_PATTERNS`] of at most [`MAX_PATTERN_BYTES`] each; all
    /// are compiled (and so validated) before any row is looked at.
    pub cmdline_patterns: Vec<String>,
    /// Select these pids.
    pub pids: Vec<u32>,
    /// Select the pid written in this file (see [`read_pid_file`]). The
    /// query does not decide whether the check may read it: the caller
    /// does, before running the query.
    pub pid_file: Option<PathBuf>,
    /// Also select every descendant (recursively, via ppid) of the selected
    /// processes.
    pub include_children: bool,
    /// When set, keep only rows whose [`ProcessRow::user`] equals this.
    pub user: Option<String>,
}

/// How a query runs, beyond what it selects.
#[derive(Default, Clone, Debug)]
pub struct QueryOptions {
    /// When set, the query gives up with [`QueryError::DeadlineExceeded`]
    /// soon after this instant: the clock is read before each pattern is
    /// compiled, before each backtracking match, and after every 64 linear
    /// matches or 64 KiB of command lines matched, whichever comes first.
    /// One match cannot be interrupted, so the query may overrun by one
    /// match: about 50 ms at most for a backtracking pattern (measured:
    /// 42 ms past a 300 ms deadline), far less for the others on usual
    /// command lines.
    pub deadline: Option<Instant>,
    /// When set, [`ProcessQuery::cmdline_patterns`] are matched against
    /// each command line as this scrubber leaves it (values of sensitive
    /// arguments masked, or arguments stripped), joined with single
    /// spaces, so that a check cannot find out a secret by probing command
    /// lines with patterns. The rows selected still hold the raw command
    /// line: scrub it ([`ProcessRow::scrubbed_cmdline`]) before handing it
    /// to the check.
    pub scrubber: Option<Arc<Scrubber>>,
}

/// The rows a query selected, holding the snapshot they belong to: what
/// [`ProcessSnapshot::select`] returns, so that a query can run on a
/// blocking thread and hand its result back.
#[derive(Clone, Debug)]
pub struct Selection {
    snapshot: Arc<ProcessSnapshot>,
    /// Indices into `snapshot.processes`, in pid order.
    indices: Vec<usize>,
}

impl Selection {
    pub(super) fn new(snapshot: Arc<ProcessSnapshot>, indices: Vec<usize>) -> Self {
        Self { snapshot, indices }
    }

    /// The snapshot the rows belong to (for its host-wide totals).
    pub fn snapshot(&self) -> &ProcessSnapshot {
        &self.snapshot
    }

    /// The selected rows, sorted by pid, without duplicates.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &ProcessRow> + '_ {
        self.indices.iter().map(|&i| &self.snapshot.processes[i])
    }

    /// How many rows were selected.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether no row was selected.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Why a [`ProcessQuery`] could not run.
#[derive(Debug)]
pub enum QueryError {
    /// More than [`MAX_PATTERNS`] `cmdline_patterns`.
    TooManyPatterns {
        /// How many the query has.
        count: usize,
    },
    /// A `cmdline_patterns` entry is longer than [`MAX_PATTERN_BYTES`].
    PatternTooLong {
        /// Its position in `cmdline_patterns`.
        index: usize,
        /// Its length, in bytes.
        bytes: usize,
        /// Its first characters.
        start: String,
    },
    /// A `cmdline_patterns` entry is not a valid regex, or compiles past
    /// the size limit (see [`PatternError::kind`]).
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compilers said.
        error: PatternError,
    },
    /// The pid file could not be opened or read.
    PidFileUnreadable {
        /// The pid file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The pid file is a FIFO, a device, a socket or a directory: not read.
    PidFileNotRegular {
        /// The pid file.
        path: PathBuf,
        /// What it is instead ("FIFO", "character device", ...).
        file_type: &'static str,
    },
    /// The pid file does not start with an integer.
    PidFileWithoutPid {
        /// The pid file.
        path: PathBuf,
    },
    /// The deadline of [`QueryOptions`] passed before the query finished.
    DeadlineExceeded {
        /// What the query was doing ("compiling cmdline patterns", ...).
        during: &'static str,
    },
}

/// How much of a pattern an error message shows.
const SHOWN_PATTERN_CHARS: usize = 64;

/// `pattern`, cut after [`SHOWN_PATTERN_CHARS`] characters.
fn shown(pattern: &str) -> String {
    match pattern.char_indices().nth(SHOWN_PATTERN_CHARS) {
        Some((cut, _)) => format!("{}...", &pattern[..cut]),
        None => pattern.to_owned(),
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyPatterns { count } => write!(
                f,
                "too many cmdline patterns: {count}, at most {MAX_PATTERNS} per query"
            ),
            Self::PatternTooLong {
                index,
                bytes,
                start,
            } => write!(
                f,
                "cmdline pattern #{index} ({start:?}) is {bytes} bytes long, \
                 at most {MAX_PATTERN_BYTES} per pattern"
            ),
            Self::InvalidPattern { pattern, error } => {
                write!(f, "invalid cmdline pattern {:?}: {error}", shown(pattern))
            }
            Self::PidFileUnreadable { path, error } => {
                write!(f, "cannot read pid file {}: {error}", path.display())
            }
            Self::PidFileNotRegular { path, file_type } => write!(
                f,
                "pid file {} is not a regular file (it is a {file_type})",
                path.display()
            ),
            Self::PidFileWithoutPid { path } => {
                write!(f, "pid file {} does not hold a pid", path.display())
            }
            Self::DeadlineExceeded { during } => write!(
                f,
                "process query stopped at the run's deadline, while {during}"
            ),
        }
    }
}

// The underlying error is part of the message, so it is not also exposed
// as `source()` (that would print it twice in error chains).
impl std::error::Error for QueryError {}

/// Compiled patterns, shared by every query: instances run the same
/// queries every interval, and compiling a regex costs far more (hundreds
/// of µs) than matching it against every command line. Patterns come from
/// guests, so the cache is bounded by the memory its patterns may hold.
static COMPILED: LazyLock<Mutex<PatternCache>> =
    LazyLock::new(|| Mutex::new(PatternCache::new(PATTERN_CACHE_BYTES)));

/// Compiled patterns within a memory budget, least recently used evicted
/// first.
#[derive(Debug)]
struct PatternCache {
    capacity: usize,
    entries: HashMap<String, Cached>,
    /// Sum of the entries' `cost`.
    bytes: usize,
    /// Incremented on every use; entries remember theirs.
    clock: u64,
}

#[derive(Debug)]
struct Cached {
    regex: Arc<PyRegex>,
    cost: usize,
    last_used: u64,
}

impl PatternCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            bytes: 0,
            clock: 0,
        }
    }

    /// What an entry is counted as holding: the compiled pattern's bound,
    /// plus the key and the entry itself.
    fn cost(pattern: &str, regex: &PyRegex) -> usize {
        regex.memory_bound() + pattern.len() + size_of::<(String, Cached, PyRegex)>()
    }

    fn get(&mut self, pattern: &str) -> Option<Arc<PyRegex>> {
        self.clock += 1;
        let entry = self.entries.get_mut(pattern)?;
        entry.last_used = self.clock;
        Some(Arc::clone(&entry.regex))
    }

    /// Caches `regex`, evicting the least recently used entries until it
    /// fits; one that cannot fit even alone is not cached.
    fn insert(&mut self, pattern: &str, regex: Arc<PyRegex>) {
        let cost = Self::cost(pattern, &regex);
        if cost > self.capacity {
            return;
        }
        if let Some(old) = self.entries.remove(pattern) {
            self.bytes -= old.cost;
        }
        while self.bytes + cost > self.capacity {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.cost;
            }
        }
        self.clock += 1;
        self.bytes += cost;
        self.entries.insert(
            pattern.to_owned(),
            Cached {
                regex,
                cost,
                last_used: self.clock,
            },
        );
    }
}

fn compiled(pattern: &str) -> Result<Arc<PyRegex>, QueryError> {
    let lock = || COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(regex) = lock().get(pattern) {
        return Ok(regex);
    }
    // Compiled without holding the lock: it may take milliseconds.
    let regex = Arc::new(
        PyRegex::new(pattern).map_err(|error| QueryError::InvalidPattern {
            pattern: pattern.to_owned(),
            error,
        })?,
    );
    lock().insert(pattern, Arc::clone(&regex));
    Ok(regex)
}

/// Refuses a query beyond [`MAX_PATTERNS`] or [`MAX_PATTERN_BYTES`].
fn check_pattern_limits(patterns: &[String]) -> Result<(), QueryError> {
    if patterns.len() > MAX_PATTERNS {
        return Err(QueryError::TooManyPatterns {
            count: patterns.len(),
        });
    }
    match patterns
        .iter()
        .enumerate()
        .find(|(_, p)| p.len() > MAX_PATTERN_BYTES)
    {
        Some((index, pattern)) => Err(QueryError::PatternTooLong {
            index,
            bytes: pattern.len(),
            start: shown(pattern),
        }),
        None => Ok(()),
    }
}

/// A deadline, with the work done since the clock was last read.
struct Deadline {
    at: Option<Instant>,
    work: usize,
}

impl Deadline {
    fn new(at: Option<Instant>) -> Self {
        Self { at, work: 0 }
    }

    /// Fails once the deadline has passed.
    fn check(&mut self, during: &'static str) -> Result<(), QueryError> {
        self.work = 0;
        match self.at {
            Some(at) if Instant::now() >= at => Err(QueryError::DeadlineExceeded { during }),
            _ => Ok(()),
        }
    }

    /// Counts `work` (see [`WORK_PER_CLOCK_CHECK`]), reading the clock when
    /// enough has piled up.
    fn spend(&mut self, work: usize, during: &'static str) -> Result<(), QueryError> {
        self.work += work;
        if self.work >= WORK_PER_CLOCK_CHECK {
            self.check(during)
        } else {
            Ok(())
        }
    }
}

const COMPILING: &str = "compiling cmdline patterns";
const MATCHING: &str = "matching cmdline patterns";

/// Runs `q` over `snapshot`: the indices of the selected rows in
/// `snapshot.processes`, in pid order, no two with the same pid.
pub(super) fn run(
    snapshot: &ProcessSnapshot,
    q: &ProcessQuery,
    options: &QueryOptions,
) -> Result<Vec<usize>, QueryError> {
    let mut deadline = Deadline::new(options.deadline);
    // Everything that can fail, but the deadline, happens before the scan.
    check_pattern_limits(&q.cmdline_patterns)?;
    let mut patterns = Vec::with_capacity(q.cmdline_patterns.len());
    for pattern in &q.cmdline_patterns {
        deadline.check(COMPILING)?;
        patterns.push(compiled(pattern)?);
    }
    let pid_from_file = q.pid_file.as_deref().map(read_pid_file).transpose()?;

    let rows = &snapshot.processes;
    // The snapshot is sorted by pid; tolerate a hand-built one that is not.
    let sorted = rows.is_sorted_by_key(|row| row.pid);
    let index_of = |pid: u32| {
        if sorted {
            rows.binary_search_by_key(&pid, |row| row.pid).ok()
        } else {
            rows.iter().position(|row| row.pid == pid)
        }
    };

    let mut selected = vec![q.all; rows.len()];
    if !q.all {
        for &pid in q.pids.iter().chain(&pid_from_file) {
            if let Some(i) = index_of(pid) {
                selected[i] = true;
            }
        }
        if !q.names.is_empty() || !patterns.is_empty() {
            let mut joined = String::new();
            for (row, selected) in rows.iter().zip(selected.iter_mut()) {
                if *selected {
                    continue;
                }
                *selected = q.names.iter().any(|name| **name == *row.name)
                    || (!patterns.is_empty()
                        && !row.denied.contains(&"cmdline")
                        && matches_any(
                            &patterns,
                            options.scrubber.as_deref(),
                            row,
                            &mut joined,
                            &mut deadline,
                        )?);
            }
        }
    }

    if q.include_children && !q.all {
        add_descendants(rows, &mut selected);
    }

    let mut result: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            selected[i]
                && q.user
                    .as_deref()
                    .is_none_or(|user| rows[i].user.as_deref() == Some(user))
        })
        .collect();
    if !sorted {
        result.sort_by_key(|&i| rows[i].pid);
        result.dedup_by_key(|i| rows[*i].pid);
    }
    Ok(result)
}

/// Whether one of `patterns` matches `row`'s command line (joined into
/// `joined`, scrubbed by `scrubber`), counting the work against `deadline`.
fn matches_any(
    patterns: &[Arc<PyRegex>],
    scrubber: Option<&Scrubber>,
    row: &ProcessRow,
    joined: &mut String,
    deadline: &mut Deadline,
) -> Result<bool, QueryError> {
    match scrubber {
        Some(scrubber) => {
            scrubber.scrub_joined_into(&row.cmdline, joined);
        }
        None => join_into(joined, &row.cmdline),
    }
    let linear_work = 1 + joined.len() / 1024;
    if scrubber.is_some() {
        // About one linear search, when no sensitive word is there.
        deadline.spend(linear_work, MATCHING)?;
    }
    for regex in patterns {
        let work = if regex.is_backtracking() {
            WORK_PER_CLOCK_CHECK
        } else {
            linear_work
        };
        deadline.spend(work, MATCHING)?;
        if regex.is_match(joined) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Marks every descendant of the selected rows.
fn add_descendants(rows: &[ProcessRow], selected: &mut [bool]) {
    let mut children: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if row.ppid != row.pid {
            children.entry(row.ppid).or_default().push(i);
        }
    }
    let mut stack: Vec<usize> = (0..rows.len()).filter(|&i| selected[i]).collect();
    while let Some(i) = stack.pop() {
        for &child in children.get(&rows[i].pid).into_iter().flatten() {
            // `selected` doubles as the visited set, so a ppid cycle ends.
            if !selected[child] {
                selected[child] = true;
                stack.push(child);
            }
        }
    }
}

/// Reads the pid written in the file at `path`: the first integer after
/// leading whitespace, within its first 64 bytes.
///
/// Only a regular file is read: a FIFO would block the reading thread until
/// a writer comes, a device may never end or do something on open, so
/// anything else gives [`QueryError::PidFileNotRegular`] at once. The path
/// is `stat`ed first (following symbolic links), so such a file is not
/// even opened; then it is opened non-blocking (`O_NONBLOCK`, which also
/// keeps an `open` from waiting on a FIFO that appeared in between, with
/// `O_NOCTTY` so a terminal does not become ours, and `O_CLOEXEC`), and the
/// opened handle is checked again (`fstat`), so a file swapped in between
/// is not read either.
///
/// Whether the caller may read `path` at all is not decided here.
pub fn read_pid_file(path: &Path) -> Result<u32, QueryError> {
    use std::os::unix::fs::OpenOptionsExt as _;

    let unreadable = |error| QueryError::PidFileUnreadable {
        path: path.to_owned(),
        error,
    };
    let regular = |metadata: std::fs::Metadata| match file_type_name(&metadata.file_type()) {
        None => Ok(()),
        Some(file_type) => Err(QueryError::PidFileNotRegular {
            path: path.to_owned(),
            file_type,
        }),
    };
    regular(std::fs::metadata(path).map_err(unreadable)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(unreadable)?;
    regular(file.metadata().map_err(unreadable)?)?;
    let mut buf = Vec::with_capacity(PID_FILE_MAX as usize);
    file.take(PID_FILE_MAX)
        .read_to_end(&mut buf)
        .map_err(unreadable)?;
    parse_pid(&buf).ok_or_else(|| QueryError::PidFileWithoutPid {
        path: path.to_owned(),
    })
}

/// What a file that is not a regular file is, for messages; `None` for a
/// regular file.
fn file_type_name(file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::fs::FileType;
    use std::os::unix::fs::FileTypeExt as _;
    type Is = fn(&FileType) -> bool;
    const KINDS: [(Is, &str); 6] = [
        (FileType::is_fifo, "FIFO"),
        (FileType::is_char_device, "character device"),
        (FileType::is_block_device, "block device"),
        (FileType::is_socket, "socket"),
        (FileType::is_dir, "directory"),
        (FileType::is_symlink, "symbolic link"),
    ];
    if file_type.is_file() {
        return None;
    }
    let kind = KINDS.iter().find(|(is, _)| is(file_type));
    Some(kind.map_or("special file", |&(_, name)| name))
}

/// The integer at the start of `buf`, after leading whitespace.
fn parse_pid(buf: &[u8]) -> Option<u32> {
    let buf = buf.trim_ascii_start();
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&buf[..digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyregex::PatternErrorKind;

    fn row(pid: u32, ppid: u32, name: &str, cmdline: &[&str], user: Option<&str>) -> ProcessRow {
        ProcessRow {
            pid,
            ppid,
            name: name.into(),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            exe: None,
            cwd: None,
            uid: None,
            user: user.map(Into::into),
            cpu_percent: None,
            swap: None,
            container_id: None,
            state: 'S',
            start_time: 0.0,
            cpu_user: 0.0,
            cpu_system: 0.0,
            rss: 0,
            vms: 0,
            shared: None,
            threads: 1,
            open_fds: None,
            io: None,
            voluntary_ctx_switches: None,
            involuntary_ctx_switches: None,
            minor_faults: 0,
            major_faults: 0,
            children_minor_faults: 0,
            children_major_faults: 0,
            denied: Vec::new(),
        }
    }

    fn snapshot(processes: Vec<ProcessRow>) -> ProcessSnapshot {
        ProcessSnapshot {
            taken_at: 0.0,
            host_cpu_time: 0.0,
            num_cpus: 1,
            total_memory: 0,
            fields: crate::snapshot::FieldSet::NONE,
            processes,
            connections: None,
        }
    }

    /// A small fixed tree: 1 → {10 → {11 → 12}, 20}, plus a self-parented 30.
    fn tree() -> ProcessSnapshot {
        snapshot(vec![
            row(1, 0, "init", &["/sbin/init"], Some("root")),
            row(10, 1, "sh", &["sh", "-c", "x"], Some("root")),
            row(11, 10, "sleep", &["sleep", "301"], Some("alice")),
            row(12, 11, "sleep", &["sleep", "302"], Some("root")),
            row(20, 1, "nginx", &["nginx:", "worker", "process"], None),
            row(30, 30, "odd", &[], Some("root")),
        ])
    }

    fn pids(rows: Vec<&ProcessRow>) -> Vec<u32> {
        rows.into_iter().map(|r| r.pid).collect()
    }

    #[test]
    fn selectors_are_ored_and_user_filters_last() {
        let s = tree();
        let q = ProcessQuery {
            names: vec!["init".into()],
            cmdline_patterns: vec!["worker process$".into()],
            pids: vec![12, 12, 999],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [1, 12, 20]);
        let q = ProcessQuery {
            user: Some("root".into()),
            ..q
        };
        assert_eq!(pids(s.query(&q).unwrap()), [1, 12]);
        assert!(s.query(&ProcessQuery::default()).unwrap().is_empty());
        let all = ProcessQuery {
            all: true,
            user: Some("alice".into()),
            ..Default::default()
        };
        assert_eq!(pids(s.query(&all).unwrap()), [11]);
    }

    #[test]
    fn children_are_added_recursively() {
        let s = tree();
        let q = ProcessQuery {
            pids: vec![10, 30],
            include_children: true,
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [10, 11, 12, 30]);
        let q = ProcessQuery {
            user: Some("root".into()),
            ..q
        };
        assert_eq!(pids(s.query(&q).unwrap()), [10, 12, 30]);
    }

    #[test]
    fn unsorted_snapshot_still_gives_sorted_rows() {
        let mut s = tree();
        s.processes.reverse();
        let q = ProcessQuery {
            pids: vec![12, 1],
            names: vec!["sleep".into()],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [1, 11, 12]);
    }

    #[test]
    fn cmdline_patterns_are_python_regexes() {
        let s = tree();
        // Look-ahead: sleeps except the one running 302.
        let q = ProcessQuery {
            cmdline_patterns: vec![r"^sleep (?!302)".into()],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [11]);
        // Look-behind.
        let q = ProcessQuery {
            cmdline_patterns: vec![r"(?<=nginx: )worker".into()],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [20]);
        let q = ProcessQuery {
            cmdline_patterns: vec!["(?<=x".into()],
            ..Default::default()
        };
        let err = s.query(&q).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid cmdline pattern \"(?<=x\": "),
            "{err}"
        );
    }

    #[test]
    fn a_denied_cmdline_never_matches_a_pattern() {
        let mut s = tree();
        // Its real command line is unknown: even `.*` must not select it.
        s.processes[5].denied = vec!["cmdline"];
        let q = ProcessQuery {
            cmdline_patterns: vec![".*".into()],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [1, 10, 11, 12, 20]);
        // Selecting it by name or pid still works.
        let q = ProcessQuery {
            names: vec!["odd".into()],
            ..Default::default()
        };
        assert_eq!(pids(s.query(&q).unwrap()), [30]);
    }

    #[test]
    fn pattern_limits_are_errors_naming_the_limit() {
        let s = tree();
        let query = |patterns: Vec<String>| {
            s.query(&ProcessQuery {
                cmdline_patterns: patterns,
                ..Default::default()
            })
        };
        let at_most = (0..MAX_PATTERNS).map(|i| format!("x{i}")).collect();
        assert!(query(at_most).unwrap().is_empty());
        let too_many = (0..=MAX_PATTERNS).map(|i| format!("x{i}")).collect();
        let err = query(too_many).unwrap_err();
        assert!(matches!(err, QueryError::TooManyPatterns { count: 65 }));
        assert_eq!(
            err.to_string(),
            "too many cmdline patterns: 65, at most 64 per query"
        );

        assert!(query(vec!["a".repeat(MAX_PATTERN_BYTES)]).is_ok());
        let long = format!("sleep{}", "a".repeat(MAX_PATTERN_BYTES));
        let err = query(vec!["sleep".into(), long]).unwrap_err();
        assert!(matches!(
            err,
            QueryError::PatternTooLong {
                index: 1,
                bytes: 4101,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "cmdline pattern #1 (\"sleep{}...\") is 4101 bytes long, at most 4096 per pattern",
                "a".repeat(59)
            )
        );

        let err = query(vec![r"\w{0,200}x".into()]).unwrap_err();
        assert!(
            matches!(&err, QueryError::InvalidPattern { error, .. } if error.kind == PatternErrorKind::TooBig)
        );
        assert_eq!(
            err.to_string(),
            "invalid cmdline pattern \"\\\\w{0,200}x\": \
             pattern too complex: it compiles to more than the 1024 KiB allowed"
        );
    }

    #[test]
    fn the_pattern_cache_stays_within_its_bytes() {
        let regex = |i: usize| Arc::new(PyRegex::new(&format!("x{i}")).unwrap());
        let one = PatternCache::cost("x10", &regex(10));
        let mut cache = PatternCache::new(5 * one);
        for i in 10..100 {
            let pattern = format!("x{i}");
            cache.insert(&pattern, regex(i));
            // Keep x10 in use: it is never the least recently used.
            assert!(cache.get("x10").is_some(), "{i}");
            assert!(cache.bytes <= cache.capacity, "{i}: {}", cache.bytes);
            let sum: usize = cache.entries.values().map(|e| e.cost).sum();
            assert_eq!(cache.bytes, sum);
            assert!(cache.get(&pattern).is_some());
        }
        assert_eq!(cache.entries.len(), 5);
        assert!(cache.entries.contains_key("x99") && cache.entries.contains_key("x10"));
        // Re-inserting does not count twice; too big for the cache is not cached.
        cache.insert("x99", regex(99));
        assert_eq!(cache.entries.len(), 5);
        let mut tiny = PatternCache::new(one - 1);
        tiny.insert("x10", regex(10));
        assert!(tiny.entries.is_empty() && tiny.bytes == 0);

        // The shared cache, through queries.
        for round in 0..3 {
            let patterns = (0..MAX_PATTERNS)
                .map(|i| format!("cache-test-{round}-{i}|(?=y){i}"))
                .collect();
            tree()
                .query(&ProcessQuery {
                    cmdline_patterns: patterns,
                    ..Default::default()
                })
                .unwrap();
            let cache = COMPILED.lock().unwrap();
            assert!(cache.bytes <= PATTERN_CACHE_BYTES, "{}", cache.bytes);
        }
    }

    #[test]
    fn a_passed_deadline_stops_the_query() {
        let s = tree();
        let q = ProcessQuery {
            cmdline_patterns: vec!["sleep".into()],
            ..Default::default()
        };
        let err = s.query_until(&q, Instant::now()).unwrap_err();
        assert!(matches!(
            err,
            QueryError::DeadlineExceeded {
                during: "compiling cmdline patterns"
            }
        ));
        assert_eq!(
            err.to_string(),
            "process query stopped at the run's deadline, while compiling cmdline patterns"
        );
        let later = Instant::now() + std::time::Duration::from_secs(60);
        assert_eq!(pids(s.query_until(&q, later).unwrap()), [11, 12]);
    }

    #[test]
    fn the_clock_is_read_after_enough_work() {
        let mut deadline = Deadline::new(Some(Instant::now()));
        for _ in 1..WORK_PER_CLOCK_CHECK {
            deadline.spend(1, MATCHING).unwrap();
        }
        assert!(deadline.spend(1, MATCHING).is_err());
        assert!(deadline.spend(WORK_PER_CLOCK_CHECK, MATCHING).is_err());
        let mut none = Deadline::new(None);
        assert!(none.spend(10 * WORK_PER_CLOCK_CHECK, MATCHING).is_ok());
    }

    #[test]
    fn a_deadline_bounds_patterns_times_rows() {
        // Each match gives up after the backtracking limit (tens of ms):
        // 64 patterns × 100 rows would take minutes.
        let text = format!("{}b", "a".repeat(3000));
        let rows = (1..=100)
            .map(|pid| row(pid, 0, "a", &[text.as_str()], None))
            .collect();
        let s = snapshot(rows);
        let q = ProcessQuery {
            cmdline_patterns: (0..MAX_PATTERNS)
                .map(|i| format!(r"^(a|a)+\1${i}"))
                .collect(),
            ..Default::default()
        };
        let started = Instant::now();
        let err = s
            .query_until(&q, started + std::time::Duration::from_millis(300))
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(
                err,
                QueryError::DeadlineExceeded {
                    during: "matching cmdline patterns"
                }
            ),
            "{err}"
        );
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn patterns_can_match_scrubbed_command_lines() {
        let mut s = tree();
        s.processes[5].cmdline = vec!["mysqld".into(), "--password=hunter2".into()].into();
        let query = |pattern: &str, scrubber: Option<Arc<Scrubber>>| {
            let q = ProcessQuery {
                cmdline_patterns: vec![pattern.into()],
                ..Default::default()
            };
            let options = QueryOptions {
                scrubber,
                ..Default::default()
            };
            pids(s.query_with(&q, &options).unwrap())
        };
        let scrubber = Some(Scrubber::shared_default());
        assert_eq!(query("hunter", None), [30]);
        assert!(query("hunter", scrubber.clone()).is_empty());
        assert_eq!(query(r"^mysqld --password=\*{8}$", scrubber.clone()), [30]);
        // The rows still hold the raw command line, to scrub for display.
        let rows = s
            .query_with(
                &ProcessQuery {
                    names: vec!["odd".into()],
                    ..Default::default()
                },
                &QueryOptions {
                    scrubber: scrubber.clone(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(rows[0].cmdline[1], "--password=hunter2");
        assert_eq!(
            rows[0].scrubbed_cmdline(&Scrubber::default()),
            ["mysqld", "--password=********"]
        );
        // Stripping leaves only the executable to match.
        let strip = Some(Arc::new(Scrubber::default().with_strip_arguments(true)));
        assert!(query("password", strip.clone()).is_empty());
        assert_eq!(query("^mysqld$", strip), [30]);
    }

    #[test]
    fn pid_is_the_leading_integer() {
        assert_eq!(parse_pid(b"1234"), Some(1234));
        assert_eq!(parse_pid(b" \n\t42\n"), Some(42));
        assert_eq!(parse_pid(b"7 extra 9\n"), Some(7));
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"  \n"), None);
        assert_eq!(parse_pid(b"pid=3"), None);
        assert_eq!(parse_pid(b"99999999999999999999"), None);
    }

    #[test]
    fn pid_file_beyond_64_bytes_is_not_read() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, format!("{}77\n", " ".repeat(64)).as_bytes()).unwrap();
        let err = read_pid_file(file.path()).unwrap_err();
        assert!(matches!(err, QueryError::PidFileWithoutPid { .. }), "{err}");
        std::fs::write(file.path(), format!("{}77\n", " ".repeat(62))).unwrap();
        assert_eq!(read_pid_file(file.path()).unwrap(), 77);
    }
}
