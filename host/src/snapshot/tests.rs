//! Snapshot and query tests against real processes spawned for the test.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

/// Kills what a test spawned, even when the test fails.
#[derive(Default)]
struct Reaper {
    children: Vec<Child>,
    /// Process groups to kill (their leader is also in `children`).
    groups: Vec<u32>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for group in &self.groups {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status();
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Reaper {
    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

/// A `sleep` argument unique to this test process and `tag` (tests run in
/// parallel threads of one process) and index: `300.<pid><tag:02><i>`.
fn marker(tag: u32, i: u32) -> String {
    format!("300.{}{tag:02}{i}", std::process::id())
}

/// The anchored regex matching exactly the markers of `tag`.
fn marker_pattern(tag: u32) -> String {
    format!(
        "^sleep {}[123]$",
        regex::escape(&format!("300.{}{tag:02}", std::process::id()))
    )
}

/// Three `sleep 300.<unique>` children.
fn spawn_sleepers(tag: u32) -> Reaper {
    let mut reaper = Reaper::default();
    for i in 1..=3 {
        let child = Command::new("sleep")
            .arg(marker(tag, i))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep");
        reaper.children.push(child);
    }
    reaper
}

/// A first snapshot of this host with fds and io counters (what the
/// `process` check reads).
fn read() -> ProcessSnapshot {
    read_with(SnapshotSettings::default())
}

fn read_with(settings: SnapshotSettings) -> ProcessSnapshot {
    let fields = FieldSet {
        open_fds: true,
        io: true,
        ..FieldSet::NONE
    };
    Reader::new(settings)
        .refresh(fields)
        .expect("read snapshot")
}

/// Reads snapshots until `ready` holds for one (processes take a moment to
/// exec), for at most 10 s.
fn snapshot_when(ready: impl Fn(&ProcessSnapshot) -> bool) -> ProcessSnapshot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = read();
        if ready(&snapshot) || Instant::now() > deadline {
            return snapshot;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A snapshot in which the given pids run `sleep`, settled.
fn snapshot_with_sleepers(pids: &[u32]) -> ProcessSnapshot {
    snapshot_when(|s| {
        pids.iter()
            .all(|pid| row(s, *pid).is_some_and(|r| &*r.name == "sleep" && settled(r)))
    })
}

/// Whether `row` was read after its exec finished: the name is set at
/// exec, but the dynamic loader maps the libraries after, so a row read
/// in between has a fraction of the final memory. A settled sleeper
/// sleeps, with the memory it will keep.
fn settled(row: &ProcessRow) -> bool {
    let vms_now = std::fs::read_to_string(format!("/proc/{}/statm", row.pid))
        .ok()
        .and_then(|statm| statm.split_whitespace().next()?.parse::<u64>().ok())
        .map(|pages| pages * procfs::page_size());
    row.state == 'S' && vms_now == Some(row.vms)
}

fn row(snapshot: &ProcessSnapshot, pid: u32) -> Option<&ProcessRow> {
    snapshot.processes.iter().find(|r| r.pid == pid)
}

fn pids_of(rows: &[&ProcessRow]) -> Vec<u32> {
    rows.iter().map(|r| r.pid).collect()
}

fn sorted(mut pids: Vec<u32>) -> Vec<u32> {
    pids.sort_unstable();
    pids
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Our real uid, from /proc rather than assumed.
fn my_uid() -> u32 {
    procfs::process::Process::myself()
        .unwrap()
        .status()
        .unwrap()
        .ruid
}

/// Our user name, from `id` rather than from the code under test.
fn my_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn host_totals_are_plausible() {
    let before = now();
    let s = read();
    assert!(s.host_cpu_time > 0.0, "host_cpu_time {}", s.host_cpu_time);
    assert!(s.num_cpus >= 1);
    assert!(s.total_memory > 0);
    assert!(s.taken_at >= before - 1.0 && s.taken_at <= now() + 1.0);
    assert!(
        s.processes.windows(2).all(|w| w[0].pid < w[1].pid),
        "rows sorted by pid, no duplicates"
    );
    let me = row(&s, std::process::id()).expect("our own process");
    assert_eq!(me.uid, Some(my_uid()));
    assert!(me.threads >= 1);
    assert!(me.rss > 0 && me.vms >= me.rss);
    assert!(me.open_fds.is_some_and(|n| n >= 3), "{:?}", me.open_fds);
    assert!(me.io.is_some(), "our own io is readable");
    assert!(me.voluntary_ctx_switches.is_some());
    assert!(me.denied.is_empty(), "{:?}", me.denied);
    assert!(me.cpu_user + me.cpu_system > 0.0);
    assert!(me.minor_faults > 0);
}

#[test]
fn kernel_threads_only_when_asked_and_without_cmdline() {
    let s = read_with(SnapshotSettings {
        include_kernel_threads: true,
        ..SnapshotSettings::default()
    });
    // pid 2 is kthreadd on a host kernel (a pid namespace has no kernel
    // threads); check that independently of the code under test.
    let kthreadd_runs =
        std::fs::read_to_string("/proc/2/stat").is_ok_and(|stat| stat.starts_with("2 (kthreadd) "));
    if kthreadd_runs {
        let kthreadd = row(&s, 2).expect("kernel threads are kept");
        assert_eq!(&*kthreadd.name, "kthreadd");
        assert_eq!(kthreadd.ppid, 0);
        assert!(kthreadd.cmdline.is_empty(), "{:?}", kthreadd.cmdline);
        // Its children are kernel threads too.
        assert!(
            s.processes
                .iter()
                .any(|r| r.ppid == 2 && r.cmdline.is_empty())
        );
    }
    // Every process still has a name from comm.
    assert!(s.processes.iter().all(|r| !r.name.is_empty()));
    if kthreadd_runs {
        assert!(row(&read(), 2).is_none(), "excluded by default");
    }
}

#[test]
fn spawned_children_are_read_correctly() {
    let reaper = spawn_sleepers(1);
    let s = snapshot_with_sleepers(&reaper.pids());
    let (uid, user) = (my_uid(), my_user());
    for (i, pid) in (1..=3).zip(reaper.pids()) {
        let r = row(&s, pid).unwrap_or_else(|| panic!("pid {pid} missing"));
        assert_eq!(r.ppid, std::process::id());
        assert_eq!(&*r.name, "sleep");
        assert_eq!(*r.cmdline, ["sleep".to_owned(), marker(1, i)]);
        assert_eq!(r.uid, Some(uid));
        assert_eq!(r.user.as_deref(), Some(user.as_str()));
        assert!(
            (r.start_time - now()).abs() < 10.0,
            "start_time {} vs now {}",
            r.start_time,
            now()
        );
        assert!(r.rss > 0);
        assert!(r.vms >= r.rss);
        // Memory as psutil's memory_info() reads it: statm pages × page
        // size (a sleeping process does not change it).
        let statm: Vec<u64> = std::fs::read_to_string(format!("/proc/{pid}/statm"))
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let page = procfs::page_size();
        assert_eq!(r.vms, statm[0] * page);
        assert_eq!(r.rss, statm[1] * page);
        assert_eq!(r.shared, Some(statm[2] * page));
        assert_eq!(r.threads, 1);
        assert!(matches!(r.state, 'S' | 'R'), "state {}", r.state);
        assert!(r.open_fds.is_some_and(|n| n >= 1));
        assert!(r.io.is_some());
        assert!(r.involuntary_ctx_switches.is_some());
        assert!(r.denied.is_empty(), "{:?}", r.denied);
    }
}

#[test]
fn query_by_cmdline_regex_finds_exactly_the_children() {
    let reaper = spawn_sleepers(2);
    let s = snapshot_with_sleepers(&reaper.pids());
    let q = ProcessQuery {
        cmdline_patterns: vec![marker_pattern(2)],
        ..Default::default()
    };
    assert_eq!(pids_of(&s.query(&q).unwrap()), sorted(reaper.pids()));
}

#[test]
fn query_by_name_and_user() {
    let reaper = spawn_sleepers(3);
    let s = snapshot_with_sleepers(&reaper.pids());
    let user = my_user();
    let q = ProcessQuery {
        names: vec!["sleep".into()],
        user: Some(user.clone()),
        ..Default::default()
    };
    let rows = s.query(&q).unwrap();
    // Other sleeps may run on the host; ours must be among them.
    let found = pids_of(&rows);
    for pid in reaper.pids() {
        assert!(found.contains(&pid), "{pid} not in {found:?}");
    }
    assert!(
        rows.iter()
            .all(|r| &*r.name == "sleep" && r.user.as_deref() == Some(user.as_str()))
    );
    assert!(found.is_sorted());

    let other_user = ProcessQuery {
        user: Some(format!("{user}-but-not-really")),
        ..q
    };
    assert!(s.query(&other_user).unwrap().is_empty());
}

#[test]
fn query_by_pids_sorts_and_dedups() {
    let reaper = spawn_sleepers(4);
    let s = snapshot_with_sleepers(&reaper.pids());
    let p = reaper.pids();
    let q = ProcessQuery {
        pids: vec![p[2], p[0], p[2], u32::MAX],
        ..Default::default()
    };
    assert_eq!(pids_of(&s.query(&q).unwrap()), sorted(vec![p[0], p[2]]));
}

#[test]
fn query_by_pid_file() {
    let reaper = spawn_sleepers(5);
    let s = snapshot_with_sleepers(&reaper.pids());
    let pid = reaper.pids()[1];
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("  {pid}\n")).unwrap();
    let q = ProcessQuery {
        pid_file: Some(file.path().to_owned()),
        ..Default::default()
    };
    let rows = s.query(&q).unwrap();
    assert_eq!(pids_of(&rows), [pid]);
    assert_eq!(rows[0].cmdline[1], marker(5, 2));
}

#[test]
fn include_children_adds_descendants() {
    let m1 = format!("301.{}06", std::process::id());
    let m2 = format!("302.{}06", std::process::id());
    let mut reaper = Reaper::default();
    let sh = Command::new("sh")
        .args(["-c", &format!("sleep {m1} & sleep {m2} & wait")])
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sh");
    let sh_pid = sh.id();
    reaper.groups.push(sh_pid);
    reaper.children.push(sh);

    let only_sh = ProcessQuery {
        pids: vec![sh_pid],
        ..Default::default()
    };
    let with_children = ProcessQuery {
        include_children: true,
        ..only_sh.clone()
    };
    let s = snapshot_when(|s| {
        s.query(&with_children)
            .is_ok_and(|rows| rows.iter().filter(|r| &*r.name == "sleep").count() == 2)
    });

    let rows = s.query(&with_children).unwrap();
    assert_eq!(rows.len(), 3, "{rows:#?}");
    assert!(rows.is_sorted_by_key(|r| r.pid));
    let (shells, sleeps): (Vec<&ProcessRow>, Vec<&ProcessRow>) =
        rows.iter().partition(|r| r.pid == sh_pid);
    assert_eq!(shells.len(), 1);
    let mut args: Vec<&str> = sleeps.iter().map(|r| r.cmdline[1].as_str()).collect();
    args.sort_unstable();
    assert_eq!(args, [m1.as_str(), m2.as_str()]);
    assert!(
        sleeps
            .iter()
            .all(|r| r.ppid == sh_pid && &*r.name == "sleep")
    );

    assert_eq!(pids_of(&s.query(&only_sh).unwrap()), [sh_pid]);

    // Recursive: our own process with children reaches the grandchildren.
    let from_me = ProcessQuery {
        pids: vec![std::process::id()],
        include_children: true,
        ..Default::default()
    };
    let found = pids_of(&s.query(&from_me).unwrap());
    for r in &rows {
        assert!(found.contains(&r.pid), "{} not in {found:?}", r.pid);
    }
}

#[test]
fn invalid_regex_is_an_error_naming_the_pattern() {
    let s = read();
    let q = ProcessQuery {
        all: true, // compiled up front, even when nothing else is needed
        cmdline_patterns: vec!["sleep".into(), "sleep (unclosed".into()],
        ..Default::default()
    };
    let err = s.query(&q).unwrap_err();
    assert!(
        matches!(&err, QueryError::InvalidPattern { pattern, .. } if pattern == "sleep (unclosed")
    );
    let message = err.to_string();
    assert!(message.contains("sleep (unclosed"), "{message}");
    assert!(message.contains("unclosed group"), "{message}");
}

#[test]
fn missing_pid_file_is_an_error_naming_the_path() {
    let s = read();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.pid");
    let q = ProcessQuery {
        pid_file: Some(path.clone()),
        ..Default::default()
    };
    let err = s.query(&q).unwrap_err();
    assert!(
        matches!(&err, QueryError::PidFileUnreadable { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("No such file"), "{message}");
}

#[test]
fn pid_file_without_integer_is_an_error_naming_the_path() {
    let s = read();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "not a pid\n").unwrap();
    let q = ProcessQuery {
        pid_file: Some(file.path().to_owned()),
        ..Default::default()
    };
    let err = s.query(&q).unwrap_err();
    assert!(
        matches!(&err, QueryError::PidFileWithoutPid { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&file.path().display().to_string()));
}

#[test]
fn user_filter_excluding_everything_is_empty() {
    let s = read();
    let all = ProcessQuery {
        all: true,
        ..Default::default()
    };
    assert_eq!(s.query(&all).unwrap().len(), s.processes.len());
    let nobody = ProcessQuery {
        user: Some("no-such-user-for-snapshot-tests".into()),
        ..all
    };
    assert!(s.query(&nobody).unwrap().is_empty());
}

/// `read_pid_file(path)`, failing the test if it takes more than 5 s (so
/// a regression that blocks does not hang the test run).
fn read_pid_file_promptly(path: &std::path::Path) -> Result<u32, QueryError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(read_pid_file(&path));
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("read_pid_file blocked")
}

#[test]
fn a_fifo_as_pid_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("check.pid");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);

    let started = Instant::now();
    let err = read_pid_file_promptly(&fifo).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(
            &err,
            QueryError::PidFileNotRegular {
                file_type: "FIFO",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "pid file {} is not a regular file (it is a FIFO)",
            fifo.display()
        )
    );

    // Through a query, and through a symbolic link to it.
    let link = dir.path().join("link.pid");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let s = snapshot_when(|_| true);
    let q = ProcessQuery {
        pid_file: Some(link),
        ..Default::default()
    };
    let err = s.query(&q).unwrap_err();
    assert!(matches!(err, QueryError::PidFileNotRegular { .. }), "{err}");
}

#[test]
fn devices_and_directories_as_pid_file_are_refused() {
    let err = read_pid_file_promptly(std::path::Path::new("/dev/null")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pid file /dev/null is not a regular file (it is a character device)"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = read_pid_file_promptly(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            QueryError::PidFileNotRegular {
                file_type: "directory",
                ..
            }
        ),
        "{err}"
    );
    // Whatever our stdin is (a terminal, a pipe, /dev/null), reading it
    // as a pid file returns at once; only a regular file would be read.
    let stdin = std::path::Path::new("/dev/stdin");
    let stdin_is_file = std::fs::metadata(stdin).is_ok_and(|m| m.is_file());
    match read_pid_file_promptly(stdin) {
        Err(QueryError::PidFileNotRegular { .. }) => assert!(!stdin_is_file),
        Err(QueryError::PidFileUnreadable { .. }) => {}
        other => assert!(stdin_is_file, "{other:?}"),
    }
}

#[tokio::test]
async fn select_runs_on_a_blocking_thread_with_a_deadline() {
    let reaper = spawn_sleepers(7);
    let s = Arc::new(snapshot_with_sleepers(&reaper.pids()));
    let q = ProcessQuery {
        cmdline_patterns: vec![marker_pattern(7)],
        ..Default::default()
    };
    let options = QueryOptions {
        deadline: Some(Instant::now() + Duration::from_secs(30)),
        scrubber: Some(crate::cmdline_scrub::Scrubber::shared_default()),
    };
    let shared = Arc::clone(&s);
    let selection = tokio::task::spawn_blocking(move || shared.select(&q, &options))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(selection.len(), 3);
    let rows: Vec<&ProcessRow> = selection.rows().collect();
    assert_eq!(pids_of(&rows), sorted(reaper.pids()));
    assert!(std::ptr::eq(selection.snapshot(), &*s));
}
