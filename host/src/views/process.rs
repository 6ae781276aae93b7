//! What `runner processes`, `runner connections` and the Live Processes
//! page show of a process: table cells, where an unknown value is `-`
//! (never 0), and JSON objects, where it is null. Command lines are shown
//! scrubbed.

use serde::Serialize;

use crate::cmdline_scrub::Scrubber;
use crate::snapshot::{ProcessRow, ProcessSnapshot};

/// A process as listed: its row and its command line as shown.
pub struct Listed<'a> {
    pub row: &'a ProcessRow,
    pub command: String,
}

impl<'a> Listed<'a> {
    pub fn new(row: &'a ProcessRow, scrubber: &Scrubber) -> Self {
        Self {
            row,
            command: command(row, scrubber),
        }
    }
}

/// The row of `pid`, if the snapshot has one (its rows are sorted by pid).
pub fn find(snapshot: &ProcessSnapshot, pid: u32) -> Option<&ProcessRow> {
    let processes = &snapshot.processes;
    processes
        .binary_search_by_key(&pid, |p| p.pid)
        .ok()
        .map(|i| &processes[i])
}

/// The scrubbed command line, arguments joined with spaces; `[name]` for a
/// process without one (kernel threads, zombies), as `ps` shows them.
pub fn command(row: &ProcessRow, scrubber: &Scrubber) -> String {
    if row.cmdline.is_empty() {
        return format!("[{}]", row.name);
    }
    let mut line = String::new();
    scrubber.scrub_joined_into(&row.cmdline, &mut line);
    line
}

/// The user's name, else the uid (a user without a name), else `-`.
pub fn user(row: &ProcessRow) -> String {
    match (&row.user, row.uid) {
        (Some(name), _) => name.to_string(),
        (None, Some(uid)) => uid.to_string(),
        (None, None) => "-".to_string(),
    }
}

/// Resident memory as a percentage of the host's.
pub fn memory_percent(row: &ProcessRow, total_memory: u64) -> Option<f64> {
    (total_memory > 0).then(|| row.rss as f64 * 100.0 / total_memory as f64)
}

/// The table's columns, in order. CONTAINER only shows when some listed
/// process is in a container.
pub fn header(container: bool) -> Vec<&'static str> {
    let mut header = vec![
        "PID", "PPID", "USER", "CPU%", "MEM%", "RSS", "THR", "FDS", "S", "ELAPSED",
    ];
    if container {
        header.push("CONTAINER");
    }
    header.push("COMMAND");
    header
}

/// Whether any of `listed` is in a container.
pub fn shows_container(listed: &[Listed]) -> bool {
    listed.iter().any(|l| l.row.container_id.is_some())
}

/// One process's cells under [`header`].
pub fn cells(listed: &Listed, snapshot: &ProcessSnapshot, container: bool) -> Vec<String> {
    let row = listed.row;
    let mut cells = vec![
        row.pid.to_string(),
        row.ppid.to_string(),
        user(row),
        percent(row.cpu_percent.map(|cpu| cpu.total)),
        percent(memory_percent(row, snapshot.total_memory)),
        size(row.rss),
        row.threads.to_string(),
        or_dash(row.open_fds),
        row.state.to_string(),
        elapsed(snapshot.taken_at - row.start_time),
    ];
    if container {
        cells.push(
            row.container_id
                .as_deref()
                .map_or("-", short_id)
                .to_string(),
        );
    }
    cells.push(listed.command.clone());
    cells
}

/// A value, or `-` when it is unknown.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A percentage with one decimal, or `-`.
fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// Bytes in binary units the way top and htop write them: `900B`, `4.0K`,
/// `12M`, `1.5G` (one decimal below 10).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes}B"),
        _ if value < 10.0 => format!("{value:.1}{}", UNITS[unit]),
        _ => format!("{value:.0}{}", UNITS[unit]),
    }
}

/// Time since a process started as `ps -o etime` writes it:
/// `[[days-]hours:]minutes:seconds`.
pub fn elapsed(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (days, hours) = (total / 86_400, total / 3600 % 24);
    let (minutes, seconds) = (total / 60 % 60, total % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes:02}:{seconds:02}"),
        (0, _) => format!("{hours:02}:{minutes:02}:{seconds:02}"),
        _ => format!("{days}-{hours:02}:{minutes:02}:{seconds:02}"),
    }
}

/// A container id as Docker shortens it: its first 12 characters.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(end, _)| &id[..end])
}

/// A process in `--json`: every field of its row, unknown ones null.
/// Field names are stable (documented in docs/processes.md).
#[derive(Debug, Serialize)]
pub struct ProcessJson<'a> {
    pub pid: u32,
    pub ppid: u32,
    pub name: &'a str,
    pub user: Option<&'a str>,
    pub uid: Option<u32>,
    pub state: char,
    /// Unix seconds.
    pub start_time: f64,
    pub cpu_percent: Option<f64>,
    pub cpu_user_percent: Option<f64>,
    pub cpu_system_percent: Option<f64>,
    pub cpu_user_seconds: f64,
    pub cpu_system_seconds: f64,
    pub memory_percent: Option<f64>,
    pub rss: u64,
    pub vms: u64,
    pub shared: Option<u64>,
    pub swap: Option<u64>,
    pub threads: u32,
    pub open_fds: Option<u32>,
    pub io: Option<IoJson>,
    pub voluntary_ctx_switches: Option<u64>,
    pub involuntary_ctx_switches: Option<u64>,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub exe: Option<&'a str>,
    pub cwd: Option<&'a str>,
    pub container_id: Option<&'a str>,
    /// Scrubbed.
    pub cmdline: Vec<String>,
    /// Fields refused for lack of privilege (and so null).
    pub denied: &'a [&'static str],
}

/// `/proc/<pid>/io` in `--json`.
#[derive(Debug, Serialize)]
pub struct IoJson {
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_count: u64,
    pub write_count: u64,
}

impl<'a> ProcessJson<'a> {
    pub fn new(row: &'a ProcessRow, snapshot: &ProcessSnapshot, scrubber: &Scrubber) -> Self {
        Self {
            pid: row.pid,
            ppid: row.ppid,
            name: &row.name,
            user: row.user.as_deref(),
            uid: row.uid,
            state: row.state,
            start_time: row.start_time,
            cpu_percent: row.cpu_percent.map(|cpu| cpu.total),
            cpu_user_percent: row.cpu_percent.map(|cpu| cpu.user),
            cpu_system_percent: row.cpu_percent.map(|cpu| cpu.system),
            cpu_user_seconds: row.cpu_user,
            cpu_system_seconds: row.cpu_system,
            memory_percent: memory_percent(row, snapshot.total_memory),
            rss: row.rss,
            vms: row.vms,
            shared: row.shared,
            swap: row.swap,
            threads: row.threads,
            open_fds: row.open_fds,
            io: row.io.map(|io| IoJson {
                read_bytes: io.read_bytes,
                write_bytes: io.write_bytes,
                read_count: io.read_count,
                write_count: io.write_count,
            }),
            voluntary_ctx_switches: row.voluntary_ctx_switches,
            involuntary_ctx_switches: row.involuntary_ctx_switches,
            minor_faults: row.minor_faults,
            major_faults: row.major_faults,
            exe: row.exe.as_deref(),
            cwd: row.cwd.as_deref(),
            container_id: row.container_id.as_deref(),
            cmdline: row.scrubbed_cmdline(scrubber),
            denied: &row.denied,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snapshot::{CpuPercent, FieldSet};

    /// A row with every field known, for tests to change.
    pub(crate) fn row(pid: u32, cmdline: &[&str]) -> ProcessRow {
        let name = cmdline
            .first()
            .and_then(|c| c.rsplit('/').next())
            .unwrap_or("kworker/0:1");
        ProcessRow {
            pid,
            ppid: 1,
            name: name.into(),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            exe: cmdline.first().map(|c| Arc::from(*c)),
            cwd: Some("/".into()),
            uid: Some(0),
            user: Some("root".into()),
            state: 'S',
            start_time: 1_000.0,
            cpu_user: 1.5,
            cpu_system: 0.5,
            cpu_percent: Some(CpuPercent {
                user: 3.0,
                system: 1.5,
                total: 4.5,
            }),
            rss: 8 << 20,
            vms: 100 << 20,
            shared: Some(1 << 20),
            swap: Some(0),
            threads: 2,
            open_fds: Some(5),
            io: Some(crate::snapshot::IoCounters::default()),
            voluntary_ctx_switches: Some(10),
            involuntary_ctx_switches: Some(1),
            minor_faults: 100,
            major_faults: 2,
            children_minor_faults: 0,
            children_major_faults: 0,
            container_id: None,
            denied: Vec::new(),
        }
    }

    /// A snapshot of `processes` (sorted by pid), taken at 4,723 s.
    pub(crate) fn snapshot(mut processes: Vec<ProcessRow>) -> ProcessSnapshot {
        processes.sort_by_key(|p| p.pid);
        ProcessSnapshot {
            taken_at: 4_723.0,
            host_cpu_time: 0.0,
            num_cpus: 2,
            total_memory: 64 << 20,
            fields: FieldSet::ALL,
            processes,
            connections: None,
        }
    }

    /// A row as an unprivileged reader sees another user's process.
    fn unknown_row() -> ProcessRow {
        ProcessRow {
            uid: None,
            user: None,
            exe: None,
            cwd: None,
            cpu_percent: None,
            open_fds: None,
            io: None,
            shared: None,
            swap: None,
            voluntary_ctx_switches: None,
            involuntary_ctx_switches: None,
            denied: vec!["open_fds", "io", "cwd", "exe"],
            ..row(7, &["/usr/sbin/sshd", "-D"])
        }
    }

    #[test]
    fn known_values_fill_the_cells() {
        let snapshot = snapshot(vec![row(42, &["/usr/bin/postgres", "-D", "/data"])]);
        let listed = Listed::new(&snapshot.processes[0], &Scrubber::default());
        assert_eq!(
            cells(&listed, &snapshot, false),
            [
                "42",
                "1",
                "root",
                "4.5",
                "12.5",
                "8.0M",
                "2",
                "5",
                "S",
                "01:02:03",
                "/usr/bin/postgres -D /data"
            ]
        );
        assert_eq!(header(false).len(), 11);
    }

    #[test]
    fn unknown_values_are_dashes_not_zeros() {
        let snapshot = snapshot(vec![unknown_row()]);
        let listed = Listed::new(&snapshot.processes[0], &Scrubber::default());
        let cells = cells(&listed, &snapshot, true);
        let column = |name: &str| {
            let i = header(true).iter().position(|h| *h == name).unwrap();
            cells[i].clone()
        };
        assert_eq!(column("USER"), "-");
        assert_eq!(column("CPU%"), "-");
        assert_eq!(column("FDS"), "-");
        assert_eq!(column("CONTAINER"), "-");
    }

    #[test]
    fn unknown_values_are_null_in_json() {
        let snapshot = snapshot(vec![unknown_row()]);
        let json = ProcessJson::new(&snapshot.processes[0], &snapshot, &Scrubber::default());
        let value = serde_json::to_value(&json).unwrap();
        for field in [
            "user",
            "uid",
            "exe",
            "cwd",
            "open_fds",
            "io",
            "cpu_percent",
            "cpu_user_percent",
            "swap",
            "container_id",
        ] {
            assert!(value[field].is_null(), "{field}: {value}");
        }
        assert_eq!(
            value["denied"],
            serde_json::json!(["open_fds", "io", "cwd", "exe"])
        );
        assert_eq!(value["state"], "S");
        assert_eq!(value["rss"], 8 << 20);
        assert_eq!(
            value["cmdline"],
            serde_json::json!(["/usr/sbin/sshd", "-D"])
        );
    }

    #[test]
    fn json_has_known_values_and_scrubbed_arguments() {
        let mut postgres = row(42, &["postgres", "--password=hunter2", "-D", "/data"]);
        postgres.container_id = Some("f".repeat(64).into());
        let snapshot = snapshot(vec![postgres]);
        let json = ProcessJson::new(&snapshot.processes[0], &snapshot, &Scrubber::default());
        let value = serde_json::to_value(&json).unwrap();
        assert_eq!(
            value["cmdline"],
            serde_json::json!(["postgres", "--password=********", "-D", "/data"])
        );
        assert_eq!(value["cpu_percent"], 4.5);
        assert_eq!(value["cpu_user_percent"], 3.0);
        assert_eq!(value["memory_percent"], 12.5);
        assert_eq!(value["open_fds"], 5);
        assert_eq!(value["io"]["read_bytes"], 0);
        assert_eq!(value["container_id"], "f".repeat(64));
        assert_eq!(value["user"], "root");
        assert_eq!(value["uid"], 0);
    }

    #[test]
    fn commands_are_scrubbed_and_argumentless_ones_named() {
        let scrubber = Scrubber::default();
        let mysql = row(3, &["mysqld", "--password", "hunter2", "--port=3306"]);
        assert_eq!(
            command(&mysql, &scrubber),
            "mysqld --password ******** --port=3306"
        );
        let kernel = row(2, &[]);
        assert_eq!(command(&kernel, &scrubber), "[kworker/0:1]");
    }

    #[test]
    fn a_user_without_a_name_shows_its_uid() {
        let mut row = row(3, &["x"]);
        row.user = None;
        row.uid = Some(1234);
        assert_eq!(user(&row), "1234");
    }

    #[test]
    fn sizes_and_times_read_like_top_and_ps() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(1023), "1023B");
        assert_eq!(size(4096), "4.0K");
        assert_eq!(size(12 * 1024 * 1024 + 400_000), "12M");
        assert_eq!(size(3 << 30), "3.0G");
        assert_eq!(elapsed(59.9), "00:59");
        assert_eq!(elapsed(3723.0), "01:02:03");
        assert_eq!(elapsed(2.0 * 86_400.0 + 5.0), "2-00:00:05");
        assert_eq!(elapsed(-3.0), "00:00");
        assert_eq!(short_id(&"ab".repeat(32)), "abababababab");
        assert_eq!(short_id("abc"), "abc");
    }

    #[test]
    fn rows_are_found_by_pid() {
        let snapshot = snapshot(vec![row(9, &["a"]), row(3, &["b"]), row(5, &["c"])]);
        assert_eq!(find(&snapshot, 5).map(|r| &*r.name), Some("c"));
        assert!(find(&snapshot, 4).is_none());
    }
}
