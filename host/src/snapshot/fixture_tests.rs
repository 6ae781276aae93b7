//! The reader on a recorded proc tree (built in a temporary directory), so
//! every value of a row is known exactly, and on this host's live `/proc`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::*;

const BTIME: u64 = 1_700_000_000;
const ID: &str = "3f2a9c1e5b7d4f608192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

/// The part of a recorded `/proc/meminfo` the parser requires.
const MEMINFO: &str = "MemTotal:       24683656 kB\nMemFree:        15083028 kB\n\
    MemAvailable:   23489584 kB\nBuffers:           35564 kB\nCached:          8366576 kB\n\
    SwapCached:            0 kB\nActive:          3593688 kB\nInactive:        5435404 kB\n\
    SwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:             56596 kB\n\
    Writeback:           108 kB\nAnonPages:        638896 kB\nMapped:           150732 kB\n\
    Shmem:              8952 kB\nSlab:             452396 kB\nSReclaimable:     396380 kB\n\
    SUnreclaim:        56016 kB\nKernelStack:        1648 kB\nPageTables:         4020 kB\n\
    NFS_Unstable:          0 kB\nBounce:                0 kB\nWritebackTmp:          0 kB\n\
    CommitLimit:    12341828 kB\nCommitted_AS:    2209192 kB\nVmallocTotal:   34359738367 kB\n\
    VmallocUsed:       13896 kB\nVmallocChunk:          0 kB\n";

/// A proc tree (and sys tree) in a temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
}

/// The `stat` fields a fixture process varies.
#[derive(Clone, Copy)]
struct Proc<'a> {
    pid: u32,
    comm: &'a str,
    state: char,
    ppid: u32,
    flags: u32,
    utime: u64,
    stime: u64,
    starttime: u64,
}

impl Fixture {
    fn new() -> Self {
        let fixture = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        fixture.host_ticks(1000);
        fixture.write("proc/meminfo", MEMINFO);
        fixture.write("sys/devices/system/cpu/online", "0-1\n");
        fixture.write(
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        );
        // init, outside any container.
        fixture.process(
            Proc {
                pid: 1,
                comm: "systemd",
                state: 'S',
                ppid: 0,
                flags: 4194560,
                utime: 300,
                stime: 200,
                starttime: 10,
            },
            0,
            "/sbin/init\0splash\0",
            "0::/init.scope\n",
        );
        // A web server in a docker container, with an odd comm.
        fixture.process(
            Proc {
                pid: 100,
                comm: "(a) b)",
                state: 'R',
                ppid: 1,
                flags: 4194560,
                utime: 50,
                stime: 20,
                starttime: 500,
            },
            1000,
            "/usr/bin/web\0--port\x008080\0",
            &format!("12:pids:/docker/{ID}\n0::/system.slice/containerd.service\n"),
        );
        // kthreadd.
        fixture.process(
            Proc {
                pid: 2,
                comm: "kthreadd",
                state: 'S',
                ppid: 0,
                flags: 0x0020_8040,
                utime: 0,
                stime: 3,
                starttime: 2,
            },
            0,
            "",
            "0::/\n",
        );
        // Not processes: a pid directory gone but for its name, and other
        // entries of /proc.
        fixture.write("proc/4242/comm", "gone\n");
        fixture.write("proc/sys/kernel/pid_max", "4194304\n");
        fixture
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `<proc>/stat` with `total` host ticks over two CPUs.
    fn host_ticks(&self, total: u64) {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let line = |t: u64| format!("{} 0 {} {} 0 0 0 0 0 0", t / 4, t / 4, t - t / 2);
        self.write(
            "proc/stat",
            &format!(
                "cpu  {}\ncpu0 {}\ncpu1 {}\nintr 0\nctxt 4242\nbtime {BTIME}\n\
                 processes 4343\nprocs_running 1\nprocs_blocked 0\n",
                line(total),
                line(total / 2),
                line(total / 2),
            ),
        );
    }

    fn stat(&self, p: Proc<'_>) {
        let Proc {
            pid,
            comm,
            state,
            ppid,
            flags,
            utime,
            stime,
            starttime,
        } = p;
        self.write(
            &format!("proc/{pid}/stat"),
            &format!(
                "{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 {flags} 1234 5678 9 10 \
                 {utime} {stime} 3 4 20 0 2 0 {starttime} 123456789 321 \
                 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
            ),
        );
    }

    fn process(&self, p: Proc<'_>, uid: u32, cmdline: &str, cgroup: &str) {
        let pid = p.pid;
        self.stat(p);
        self.write(
            &format!("proc/{pid}/status"),
            &format!(
                "Name:\t{}\nState:\t{}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n\
                 VmSize:\t   10940 kB\nVmRSS:\t    1692 kB\nRssAnon:\t     212 kB\n\
                 RssFile:\t    1472 kB\nRssShmem:\t       8 kB\n\
                 VmSwap:\t      12 kB\nThreads:\t2\n\
                 voluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t7\n",
                p.comm, p.state, pid
            ),
        );
        self.write(&format!("proc/{pid}/cmdline"), cmdline);
        self.write(&format!("proc/{pid}/cgroup"), cgroup);
        self.write(
            &format!("proc/{pid}/io"),
            "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 2\nread_bytes: 4096\n\
             write_bytes: 8192\ncancelled_write_bytes: 0\n",
        );
        for fd in 0..pid.min(5) {
            self.write(&format!("proc/{pid}/fd/{fd}"), "");
        }
        let dir = self.path(&format!("proc/{pid}"));
        std::os::unix::fs::symlink(format!("/srv/{pid}"), dir.join("cwd")).unwrap();
        if let Some(arg0) = cmdline.split('\0').next().filter(|a| !a.is_empty()) {
            std::os::unix::fs::symlink(arg0, dir.join("exe")).unwrap();
        }
    }

    fn settings(&self) -> SnapshotSettings {
        SnapshotSettings {
            proc_root: self.path("proc"),
            sys_root: self.path("sys"),
            passwd_file: Some(self.path("passwd")),
            include_kernel_threads: false,
        }
    }

    fn reader(&self) -> Reader {
        Reader::new(self.settings())
    }
}

fn row(snapshot: &ProcessSnapshot, pid: u32) -> &ProcessRow {
    snapshot
        .processes
        .iter()
        .find(|r| r.pid == pid)
        .unwrap_or_else(|| panic!("no row for pid {pid}"))
}

const OPTIONAL: FieldSet = FieldSet {
    open_fds: true,
    io: true,
    cwd: true,
    connections: false,
};

#[test]
fn rows_of_a_recorded_tree() {
    let fixture = Fixture::new();
    let s = fixture.reader().refresh(OPTIONAL).unwrap();
    let ticks = procfs::ticks_per_second() as f64;
    assert_eq!(s.host_cpu_time, 1000.0 / ticks);
    assert_eq!(s.num_cpus, 2);
    assert_eq!(s.total_memory, 24683656 * 1024);
    assert_eq!(s.fields, OPTIONAL);
    assert_eq!(s.connections, None);
    // Kernel thread 2 and the half-gone 4242 have no row.
    let pids: Vec<u32> = s.processes.iter().map(|r| r.pid).collect();
    assert_eq!(pids, [1, 100]);

    let expected = ProcessRow {
        pid: 100,
        ppid: 1,
        name: "(a) b)".into(),
        cmdline: ["/usr/bin/web", "--port", "8080"].map(String::from).into(),
        exe: Some("/usr/bin/web".into()),
        cwd: Some("/srv/100".into()),
        uid: Some(1000),
        user: Some("alice".into()),
        state: 'R',
        start_time: 500.0 / ticks + BTIME as f64,
        cpu_user: 50.0 / ticks,
        cpu_system: 20.0 / ticks,
        cpu_percent: None,
        rss: 1692 * 1024,
        vms: 10940 * 1024,
        shared: Some(1480 * 1024),
        swap: Some(12 * 1024),
        threads: 2,
        open_fds: Some(5),
        io: Some(IoCounters {
            read_count: 10,
            write_count: 2,
            read_bytes: 4096,
            write_bytes: 8192,
        }),
        voluntary_ctx_switches: Some(100),
        involuntary_ctx_switches: Some(7),
        minor_faults: 1234,
        major_faults: 9,
        children_minor_faults: 5678,
        children_major_faults: 10,
        container_id: Some(ID.into()),
        denied: vec![],
    };
    assert_eq!(*row(&s, 100), expected);

    let init = row(&s, 1);
    assert_eq!(&*init.name, "systemd");
    assert_eq!(
        *init.cmdline,
        ["/sbin/init".to_owned(), "splash".to_owned()]
    );
    assert_eq!(init.user.as_deref(), Some("root"));
    assert_eq!(init.container_id, None);
    assert_eq!(init.open_fds, Some(1));
}

#[test]
fn optional_fields_only_when_asked() {
    let fixture = Fixture::new();
    let s = fixture.reader().refresh(FieldSet::NONE).unwrap();
    assert_eq!(s.fields, FieldSet::NONE);
    for r in &s.processes {
        assert_eq!((r.open_fds, r.io, &r.cwd), (None, None, &None), "{}", r.pid);
        assert!(r.denied.is_empty());
    }
    // The fixture has no socket tables: the sockets are missing, the rows
    // are not.
    let s = fixture.reader().refresh(FieldSet::ALL).unwrap();
    assert_eq!(s.fields, FieldSet::ALL);
    assert_eq!(s.connections, None);
    assert_eq!(row(&s, 100).open_fds, Some(5));
}

#[test]
fn kernel_threads_when_included() {
    let fixture = Fixture::new();
    let mut reader = Reader::new(SnapshotSettings {
        include_kernel_threads: true,
        ..fixture.settings()
    });
    let s = reader.refresh(FieldSet::NONE).unwrap();
    let pids: Vec<u32> = s.processes.iter().map(|r| r.pid).collect();
    assert_eq!(pids, [1, 2, 100]);
    let kthreadd = row(&s, 2);
    assert_eq!(&*kthreadd.name, "kthreadd");
    assert!(kthreadd.cmdline.is_empty());
    assert_eq!((kthreadd.exe.clone(), kthreadd.ppid), (None, 0));
}

#[test]
fn cpu_percent_between_two_refreshes() {
    let fixture = Fixture::new();
    let mut reader = fixture.reader();
    let first = reader.refresh(FieldSet::NONE).unwrap();
    assert!(first.processes.iter().all(|r| r.cpu_percent.is_none()));

    // 400 host ticks pass (two CPUs: 200 each); the web server spends 60
    // in user and 20 in kernel mode: 30 % + 10 % of one core.
    fixture.host_ticks(1400);
    fixture.stat(Proc {
        pid: 100,
        comm: "(a) b)",
        state: 'R',
        ppid: 1,
        flags: 4194560,
        utime: 110,
        stime: 40,
        starttime: 500,
    });
    let second = reader.refresh(FieldSet::NONE).unwrap();
    assert_eq!(
        row(&second, 100).cpu_percent,
        Some(CpuPercent {
            user: 30.0,
            system: 10.0,
            total: 40.0
        })
    );
    // init did not run.
    assert_eq!(row(&second, 1).cpu_percent.map(|p| p.total), Some(0.0));
}

#[test]
fn static_fields_are_reused_for_the_same_process_only() {
    let fixture = Fixture::new();
    let mut reader = fixture.reader();
    let first = reader.refresh(FieldSet::NONE).unwrap();

    // Same pid and start time: the command line is not read again (a
    // process rewriting its title keeps its first one), and the strings
    // are shared with the previous snapshot.
    fixture.write("proc/100/cmdline", "/usr/bin/other\0");
    fixture.write("proc/100/cgroup", "0::/\n");
    let second = reader.refresh(FieldSet::NONE).unwrap();
    let (before, after) = (row(&first, 100), row(&second, 100));
    assert_eq!(after.cmdline[0], "/usr/bin/web");
    assert!(Arc::ptr_eq(&before.cmdline, &after.cmdline));
    assert!(Arc::ptr_eq(&before.name, &after.name));
    assert_eq!(after.container_id.as_deref(), Some(ID));

    // A new process with the same pid (another start time): read afresh,
    // no CPU % (its first sample).
    let web = Proc {
        pid: 100,
        comm: "(a) b)",
        state: 'R',
        ppid: 1,
        flags: 4194560,
        utime: 1,
        stime: 1,
        starttime: 900,
    };
    fixture.stat(web);
    let third = reader.refresh(FieldSet::NONE).unwrap();
    let row3 = row(&third, 100);
    assert_eq!(*row3.cmdline, ["/usr/bin/other".to_owned()]);
    assert_eq!(row3.container_id, None);
    assert_eq!(row3.cpu_percent, None);

    // The same process after an exec (new comm, same start time): read
    // afresh too, but its CPU % continues.
    fixture.write("proc/100/cmdline", "/usr/bin/exec-ed\0");
    fixture.stat(Proc {
        comm: "exec-ed",
        utime: 21,
        ..web
    });
    fixture.host_ticks(1200);
    let fourth = reader.refresh(FieldSet::NONE).unwrap();
    let row4 = row(&fourth, 100);
    assert_eq!(
        (&*row4.name, &row4.cmdline[0][..]),
        ("exec-ed", "/usr/bin/exec-ed")
    );
    assert_eq!(row4.cpu_percent.map(|p| p.user), Some(20.0));

    // A process gone from the tree is forgotten: were it to come back,
    // it would be read afresh.
    let saved = fixture.path("saved-100");
    std::fs::rename(fixture.path("proc/100"), &saved).unwrap();
    let fifth = reader.refresh(FieldSet::NONE).unwrap();
    assert!(fifth.processes.iter().all(|r| r.pid != 100));
    std::fs::rename(&saved, fixture.path("proc/100")).unwrap();
    fixture.write("proc/100/cmdline", "/usr/bin/back\0");
    let sixth = reader.refresh(FieldSet::NONE).unwrap();
    assert_eq!(*row(&sixth, 100).cmdline, ["/usr/bin/back".to_owned()]);
}

#[test]
fn missing_host_files_are_errors_naming_them() {
    let fixture = Fixture::new();
    std::fs::remove_file(fixture.path("proc/meminfo")).unwrap();
    let err = fixture.reader().refresh(FieldSet::NONE).unwrap_err();
    assert!(format!("{err:#}").contains("proc/meminfo"), "{err:#}");
    // Without a sys tree, the CPUs of <proc>/stat.
    fixture.write("proc/meminfo", MEMINFO);
    std::fs::remove_dir_all(fixture.path("sys")).unwrap();
    assert_eq!(
        fixture.reader().refresh(FieldSet::NONE).unwrap().num_cpus,
        2
    );
}

/// Pids of `/proc` minus kernel threads, read with std (not the code under
/// test).
fn listed_user_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| {
            // Field 9 (flags) after the comm.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let after = &stat[stat.rfind(')').unwrap() + 2..];
                let flags: u32 = after.split(' ').nth(6).unwrap().parse().unwrap();
                flags & 0x0020_0000 == 0
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}

#[test]
fn live_pid_set_matches_a_listing_of_proc() {
    // Processes come and go (other tests spawn some): compare a listing
    // before and after with the snapshot in between, allowing what changed.
    let before = listed_user_pids();
    let s = Reader::new(SnapshotSettings::default())
        .refresh(FieldSet::NONE)
        .unwrap();
    let after = listed_user_pids();
    let ours: Vec<u32> = s.processes.iter().map(|r| r.pid).collect();
    let stable: Vec<u32> = before
        .iter()
        .copied()
        .filter(|pid| after.contains(pid))
        .collect();
    for pid in &stable {
        assert!(ours.contains(pid), "{pid} missing from the snapshot");
    }
    for pid in &ours {
        assert!(
            before.contains(pid) || after.contains(pid),
            "{pid} in the snapshot but never listed (a kernel thread?)"
        );
    }
}

#[test]
fn live_child_with_cpu_percent() {
    let mut child = Command::new("sleep")
        .arg("30.5")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = Reader::new(SnapshotSettings::default());
    let first = reader.refresh(OPTIONAL).unwrap();
    // Host CPU time must pass (clock ticks are 10 ms) for a CPU %.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let second = reader.refresh(OPTIONAL).unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
    let fds = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .count();
    child.kill().unwrap();
    child.wait().unwrap();

    let me = std::process::id();
    let r = row(&second, child.id());
    assert_eq!((r.ppid, &*r.name), (me, "sleep"));
    assert_eq!(*r.cmdline, ["sleep".to_owned(), "30.5".to_owned()]);
    assert!(matches!(r.state, 'S' | 'R'), "{}", r.state);
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(r.uid, Some(uid));
    let id = Command::new("id").arg("-un").output().unwrap();
    let user = String::from_utf8(id.stdout).unwrap();
    assert_eq!(r.user.as_deref(), Some(user.trim()));
    assert_eq!(r.exe.as_deref().map(Path::new), Some(exe.as_path()));
    assert_eq!(r.open_fds, Some(fds as u32));
    assert_eq!(r.cwd.as_deref(), std::env::current_dir().unwrap().to_str());
    // Second sample: a CPU %, near zero for a sleeping process.
    assert!(row(&first, child.id()).cpu_percent.is_none());
    let cpu = r.cpu_percent.expect("second sample has CPU %");
    assert!(cpu.total >= 0.0 && cpu.total <= 100.0 * f64::from(second.num_cpus));
}

/// CPU time of this thread (or of waited-for children), user and system,
/// seconds.
fn cpu_times(who: i32) -> (f64, f64) {
    // SAFETY: plain old data, filled in by getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    assert_eq!(unsafe { libc::getrusage(who, &mut usage) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// Runs `f` `runs` times; prints the median wall time and the mean user
/// and system CPU time of `who`.
fn measure(label: &str, runs: usize, who: i32, mut f: impl FnMut() -> usize) {
    let mut wall = Vec::new();
    let (u0, s0) = cpu_times(who);
    let mut pids = 0;
    for _ in 0..runs {
        let started = std::time::Instant::now();
        pids = f();
        wall.push(started.elapsed().as_secs_f64());
    }
    let (u1, s1) = cpu_times(who);
    wall.sort_by(f64::total_cmp);
    let median = wall[wall.len() / 2];
    println!(
        "{label}: {pids} pids, median {:.2} ms ({:.1} µs/pid), user {:.2} ms, system {:.2} ms",
        median * 1e3,
        median * 1e6 / pids.max(1) as f64,
        (u1 - u0) * 1e3 / runs as f64,
        (s1 - s0) * 1e3 / runs as f64,
    );
}

/// Timing of a first snapshot and of a refresh of this host, against the
/// reads of the procfs crate the previous reader made and against `ps`:
/// `RUNNER_TIMING_EXTRA_PROCS=2000 cargo test --release -p runner --lib
/// snapshot::fixture_tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn timing() {
    let extra: usize = std::env::var("RUNNER_TIMING_EXTRA_PROCS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut sleepers: Vec<_> = (0..extra)
        .map(|_| {
            Command::new("sleep")
                .arg("600")
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let fields = FieldSet {
        open_fds: true,
        io: true,
        ..FieldSet::NONE
    };
    let runs = 10;
    let settings = SnapshotSettings::default();
    measure("first snapshot", runs, libc::RUSAGE_THREAD, || {
        Reader::new(settings.clone())
            .refresh(fields)
            .unwrap()
            .processes
            .len()
    });
    let mut reader = Reader::new(settings.clone());
    reader.refresh(fields).unwrap();
    measure("refresh", runs, libc::RUSAGE_THREAD, || {
        reader.refresh(fields).unwrap().processes.len()
    });
    // The fields `ps` shows: no fds, no io.
    measure(
        "refresh without fds and io",
        runs,
        libc::RUSAGE_THREAD,
        || reader.refresh(FieldSet::NONE).unwrap().processes.len(),
    );
    // What the replaced procfs_reader read per process, with the crate.
    measure("procfs crate", runs, libc::RUSAGE_THREAD, || {
        let mut n = 0;
        for process in procfs::process::all_processes().unwrap().flatten() {
            let Ok(stat) = process.stat() else { continue };
            let _ = (process.cmdline(), process.status(), process.statm());
            let _ = (process.fd_count(), process.io());
            n += usize::from(stat.pid > 0);
        }
        n
    });
    measure(
        "ps -eo pid,ppid,user,pcpu,rss,vsz,nlwp,args",
        runs,
        libc::RUSAGE_CHILDREN,
        || {
            let out = Command::new("ps")
                .args(["-eo", "pid,ppid,user,pcpu,rss,vsz,nlwp,args"])
                .output()
                .unwrap();
            out.stdout.iter().filter(|&&b| b == b'\n').count() - 1
        },
    );
    for sleeper in &mut sleepers {
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }
}
