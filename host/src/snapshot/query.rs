//! Host-side selection of snapshot rows.

use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{ProcessRow, ProcessSnapshot};
use crate::pyregex::{PatternError, PyRegex};

/// Most bytes of a pid file that are read.
const PID_FILE_MAX: u64 = 64;

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
    pub cmdline_patterns: Vec<String>,
    /// Select these pids.
    pub pids: Vec<u32>,
    /// Select the pid written in this file: the first integer after leading
    /// whitespace, within its first 64 bytes.
    pub pid_file: Option<PathBuf>,
    /// Also select every descendant (recursively, via ppid) of the selected
    /// processes.
    pub include_children: bool,
    /// When set, keep only rows whose [`ProcessRow::user`] equals this.
    pub user: Option<String>,
}

/// Why a [`ProcessQuery`] could not run.
#[derive(Debug)]
pub enum QueryError {
    /// A `cmdline_patterns` entry is not a valid regex.
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compilers said.
        error: PatternError,
    },
    /// The pid file could not be read.
    PidFileUnreadable {
        /// The pid file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The pid file does not start with an integer.
    PidFileWithoutPid {
        /// The pid file.
        path: PathBuf,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPattern { pattern, error } => {
                write!(f, "invalid cmdline pattern {pattern:?}: {error}")
            }
            Self::PidFileUnreadable { path, error } => {
                write!(f, "cannot read pid file {}: {error}", path.display())
            }
            Self::PidFileWithoutPid { path } => {
                write!(f, "pid file {} does not hold a pid", path.display())
            }
        }
    }
}

// The underlying error is part of the message, so it is not also exposed
// as `source()` (that would print it twice in error chains).
impl std::error::Error for QueryError {}

/// Compiled patterns, shared by every query: instances run the same
/// queries every interval, and compiling a regex costs far more (hundreds
/// of µs) than matching it against every command line. Bounded, because
/// patterns come from guests: when full, it starts over.
static COMPILED: Mutex<Option<HashMap<String, PyRegex>>> = Mutex::new(None);
const COMPILED_MAX: usize = 256;

fn compiled(pattern: &str) -> Result<PyRegex, QueryError> {
    let mut cache = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(regex) = cache.get(pattern) {
        return Ok(regex.clone());
    }
    let regex = PyRegex::new(pattern).map_err(|error| QueryError::InvalidPattern {
        pattern: pattern.to_string(),
        error,
    })?;
    if cache.len() >= COMPILED_MAX {
        cache.clear();
    }
    cache.insert(pattern.to_string(), regex.clone());
    Ok(regex)
}

/// Runs `q` over `snapshot`: the selected rows, sorted by pid, no duplicates.
pub(super) fn run<'a>(
    snapshot: &'a ProcessSnapshot,
    q: &ProcessQuery,
) -> Result<Vec<&'a ProcessRow>, QueryError> {
    // Everything that can fail happens before the scan.
    let patterns = q
        .cmdline_patterns
        .iter()
        .map(|pattern| compiled(pattern))
        .collect::<Result<Vec<_>, _>>()?;
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
                *selected = q.names.contains(&row.name)
                    || (!patterns.is_empty() && !row.denied.contains(&"cmdline") && {
                        join_into(&mut joined, &row.cmdline);
                        patterns.iter().any(|re| re.is_match(&joined))
                    });
            }
        }
    }

    if q.include_children && !q.all {
        add_descendants(rows, &mut selected);
    }

    let mut result: Vec<&ProcessRow> = rows
        .iter()
        .zip(selected)
        .filter(|(row, selected)| {
            *selected
                && q.user
                    .as_deref()
                    .is_none_or(|user| row.user.as_deref() == Some(user))
        })
        .map(|(row, _)| row)
        .collect();
    if !sorted {
        result.sort_by_key(|row| row.pid);
        result.dedup_by_key(|row| row.pid);
    }
    Ok(result)
}

/// `args` joined with single spaces, into a reused buffer.
fn join_into(buf: &mut String, args: &[String]) {
    buf.clear();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        buf.push_str(arg);
    }
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

fn read_pid_file(path: &Path) -> Result<u32, QueryError> {
    let mut buf = Vec::with_capacity(PID_FILE_MAX as usize);
    std::fs::File::open(path)
        .and_then(|file| file.take(PID_FILE_MAX).read_to_end(&mut buf))
        .map_err(|error| QueryError::PidFileUnreadable {
            path: path.to_owned(),
            error,
        })?;
    parse_pid(&buf).ok_or_else(|| QueryError::PidFileWithoutPid {
        path: path.to_owned(),
    })
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

    fn row(pid: u32, ppid: u32, name: &str, cmdline: &[&str], user: Option<&str>) -> ProcessRow {
        ProcessRow {
            pid,
            ppid,
            name: name.to_owned(),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            uid: None,
            user: user.map(str::to_owned),
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
            processes,
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
