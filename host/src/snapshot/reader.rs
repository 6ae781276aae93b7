//! Reads [`ProcessSnapshot`]s from a proc file system, fast.
//!
//! Per process: its directory is opened once and `stat` and `status` are
//! read relative to it, each with one `read` into a reused
//! buffer and parsed without allocating (`parse`). What cannot change for a
//! (pid, start time) — name, command line, exe, container id — is read the
//! first time a process is seen and reused by later refreshes, together
//! with the process's CPU ticks for its CPU %. fd count, I/O counters and
//! cwd are read only when the [`FieldSet`] asks; so are the host's sockets
//! with their owning pids (see [`connections::read`]).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use procfs::{FromRead as _, Meminfo};
use rustix::fs::AtFlags;
use rustix::io::Errno;
use rustix::path::DecInt;

use super::connections::{self, Connections};
use super::files::{self, Buffer};
use super::{FieldSet, ProcessRow, ProcessSnapshot, container, cpu, parse, users::Users};

/// `PF_KTHREAD` in the flags field of `/proc/<pid>/stat`.
const PF_KTHREAD: u32 = 0x0020_0000;

/// Where a [`Reader`] reads the host from, and what it includes.
///
/// In a container watching its host, point `proc_root` and `sys_root` at
/// the host's mounts (`HOST_PROC`, `HOST_SYS`) and `passwd_file` at the
/// host's `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSettings {
    /// The proc file system (`/proc`).
    pub proc_root: PathBuf,
    /// The sys file system (`/sys`): the number of online CPUs comes from
    /// `<sys_root>/devices/system/cpu/online`, or, when that cannot be
    /// read, from the `cpuN` lines of `<proc_root>/stat`.
    pub sys_root: PathBuf,
    /// User names from this passwd file; `None` asks the system's name
    /// service (`getpwuid_r`: NSS, so systemd, sssd, LDAP users too).
    pub passwd_file: Option<PathBuf>,
    /// Whether kernel threads get rows.
    pub include_kernel_threads: bool,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from(super::PROC),
            sys_root: PathBuf::from("/sys"),
            passwd_file: None,
            include_kernel_threads: false,
        }
    }
}

/// Takes snapshots of the host, keeping what the next refresh can reuse.
///
/// Blocking: call [`refresh`](Self::refresh) from `spawn_blocking` in async
/// code, or use [`SnapshotService`](super::SnapshotService).
#[derive(Debug)]
pub struct Reader {
    settings: SnapshotSettings,
    ticks_per_second: f64,
    page_size: u64,
    users: Users,
    /// Processes seen by the previous refresh.
    known: HashMap<u32, Known>,
    /// Host CPU ticks at the previous refresh.
    previous_host_ticks: Option<u64>,
    /// Counts refreshes, to drop the processes a refresh did not see.
    generation: u64,
    /// `stat` of the process being read (its comm is borrowed while the
    /// other files are read into `buf`).
    stat_buf: Buffer,
    buf: Buffer,
    /// Sockets each process held, for the next refresh's owner walk.
    owners: connections::OwnerCache,
}

/// What the reader keeps about a process between refreshes.
#[derive(Debug)]
struct Known {
    /// `starttime` of `stat`: with the pid, the identity of a process.
    start_ticks: u64,
    /// comm when `statics` were read: an exec keeps pid and start time but
    /// changes comm (and cmdline and exe with it).
    comm: Box<[u8]>,
    statics: Statics,
    /// `utime`, `stime` at the refresh that last saw it.
    cpu_ticks: (u64, u64),
    generation: u64,
}

/// The fields of a row that cannot change for a (pid, start time).
#[derive(Debug, Clone)]
struct Statics {
    name: Arc<str>,
    cmdline: Arc<[String]>,
    exe: Option<Arc<str>>,
    container_id: Option<Arc<str>>,
    /// Which of these were refused.
    denied: Vec<&'static str>,
}

/// What one refresh shares between its rows.
struct Refresh {
    proc_dir: OwnedFd,
    on_procfs: bool,
    fields: FieldSet,
    btime: f64,
    /// Host CPU ticks since the previous refresh.
    host_ticks: Option<u64>,
    num_cpus: u32,
}

impl Reader {
    pub fn new(settings: SnapshotSettings) -> Self {
        Self {
            users: Users::new(settings.passwd_file.clone()),
            settings,
            ticks_per_second: procfs::ticks_per_second().max(1) as f64,
            page_size: procfs::page_size(),
            known: HashMap::new(),
            previous_host_ticks: None,
            generation: 0,
            stat_buf: Buffer::default(),
            buf: Buffer::default(),
            owners: connections::OwnerCache::default(),
        }
    }

    pub fn settings(&self) -> &SnapshotSettings {
        &self.settings
    }

    /// Reads the whole host, and what `fields` asks beyond the fields
    /// every row has (connections are not read here: `connections` stays
    /// `None` and the snapshot's `fields.connections` false).
    ///
    /// Processes that exit while being read are skipped; only a failure to
    /// read the host-wide files or to list the proc directory is an error.
    pub fn refresh(&mut self, fields: FieldSet) -> anyhow::Result<ProcessSnapshot> {
        let taken_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let root = &self.settings.proc_root;
        let host = cpu::read_host(root)?;
        let meminfo = root.join("meminfo");
        let total_memory = Meminfo::from_file(&meminfo)
            .with_context(|| format!("reading {}", meminfo.display()))?
            .mem_total;
        let num_cpus = cpu::online_cpus(&self.settings.sys_root)
            .unwrap_or(host.cpus)
            .max(1);
        let proc_dir = files::open_dir(rustix::fs::CWD, root)
            .with_context(|| format!("opening {}", root.display()))?;
        let pids = files::pids(&proc_dir).with_context(|| format!("listing {}", root.display()))?;

        self.generation += 1;
        let refresh = Refresh {
            on_procfs: files::is_procfs(&proc_dir),
            proc_dir,
            fields,
            btime: host.btime as f64,
            host_ticks: self
                .previous_host_ticks
                .map(|before| host.total_ticks.saturating_sub(before)),
            num_cpus,
        };
        let mut processes = Vec::with_capacity(pids.len());
        for pid in pids {
            if let Some(row) = self.read_row(&refresh, pid) {
                processes.push(row);
            }
        }
        processes.sort_unstable_by_key(|row| row.pid);
        let generation = self.generation;
        self.known.retain(|_, known| known.generation == generation);
        self.previous_host_ticks = Some(host.total_ticks);
        let connections = fields
            .connections
            .then(|| self.read_connections(&processes));

        Ok(ProcessSnapshot {
            taken_at,
            host_cpu_time: host.total_ticks as f64 / self.ticks_per_second,
            num_cpus,
            total_memory,
            fields,
            processes,
            connections: connections.flatten(),
        })
    }

    /// The host's sockets, owned by `processes`. A failure (netlink and
    /// the `/proc/net` tables both unreadable) costs only the sockets, not
    /// the process rows: it is logged and the snapshot has none.
    fn read_connections(&mut self, processes: &[ProcessRow]) -> Option<Arc<Connections>> {
        let identities: Vec<(u32, u64)> = processes
            .iter()
            .map(|row| (row.pid, row.start_time.to_bits()))
            .collect();
        let root = &self.settings.proc_root;
        match connections::read_cached(root, &identities, &mut self.owners) {
            Ok(connections) => Some(Arc::new(connections)),
            Err(error) => {
                tracing::warn!("cannot read the host's sockets: {error:#}");
                None
            }
        }
    }

    /// One row; `None` for a process that exited while being read, or a
    /// kernel thread when they are not included.
    fn read_row(&mut self, refresh: &Refresh, pid: u32) -> Option<ProcessRow> {
        // Without its directory or stat there is no row: the process is
        // gone (stat is readable by everyone).
        let dir = files::open_dir(&refresh.proc_dir, DecInt::new(pid)).ok()?;
        let stat = parse::stat(self.stat_buf.read(&dir, c"stat").ok()?)?;
        let kernel_thread = stat.flags & PF_KTHREAD != 0;
        if kernel_thread && !self.settings.include_kernel_threads {
            return None;
        }

        let mut problems = Problems::default();
        let status = problems
            .take(
                &[
                    "uid",
                    "user",
                    "shared",
                    "swap",
                    "voluntary_ctx_switches",
                    "involuntary_ctx_switches",
                ],
                self.buf.read(&dir, c"status"),
            )
            .map(parse::status)
            .unwrap_or_default();

        let known = self
            .known
            .get(&pid)
            .filter(|known| known.start_ticks == stat.starttime);
        let previous_cpu = known.map(|known| known.cpu_ticks);
        let reused = known
            .filter(|known| *known.comm == *stat.comm)
            .map(|known| known.statics.clone());
        let is_reused = reused.is_some();
        let statics = match reused {
            Some(statics) => statics,
            None => read_statics(&mut self.buf, &dir, &stat, kernel_thread, &mut problems),
        };

        let fields = refresh.fields;
        let open_fds = if fields.open_fds {
            problems.take(
                &["open_fds"],
                files::count_entries(&dir, c"fd", refresh.on_procfs),
            )
        } else {
            None
        };
        let io = if fields.io {
            problems
                .take(&["io"], self.buf.read(&dir, c"io"))
                .and_then(parse::io)
        } else {
            None
        };
        let cwd = if fields.cwd {
            problems
                .take(&["cwd"], self.buf.read_link(&dir, c"cwd"))
                .map(|path| String::from_utf8_lossy(path).into_owned())
        } else {
            None
        };

        // A missing file usually means the process exited mid-read (then
        // its stat is gone too); a zombie has no exe, and a kernel without
        // task I/O accounting no io, and those keep their row.
        if problems.not_found && rustix::fs::statat(&dir, c"stat", AtFlags::empty()).is_err() {
            return None;
        }

        let cpu_ticks = (stat.utime, stat.stime);
        let cpu_percent = previous_cpu
            .zip(refresh.host_ticks)
            .and_then(|(before, host)| cpu::percent(before, cpu_ticks, host, refresh.num_cpus));
        match self.known.get_mut(&pid) {
            Some(known) if is_reused => {
                known.cpu_ticks = cpu_ticks;
                known.generation = self.generation;
            }
            _ => {
                self.known.insert(
                    pid,
                    Known {
                        start_ticks: stat.starttime,
                        comm: stat.comm.into(),
                        statics: statics.clone(),
                        cpu_ticks,
                        generation: self.generation,
                    },
                );
            }
        }

        let mut denied = statics.denied;
        denied.extend(problems.denied);
        let ticks = self.ticks_per_second;
        let page = self.page_size;
        Some(ProcessRow {
            pid,
            ppid: stat.ppid,
            name: statics.name,
            cmdline: statics.cmdline,
            exe: statics.exe,
            cwd,
            uid: status.uid,
            user: status.uid.and_then(|uid| self.users.name(uid)),
            state: stat.state,
            start_time: stat.starttime as f64 / ticks + refresh.btime,
            cpu_user: stat.utime as f64 / ticks,
            cpu_system: stat.stime as f64 / ticks,
            cpu_percent,
            // Memory from one read of status, whose VmSize, VmRSS and
            // RssFile + RssShmem are the size, resident and shared of statm
            // (psutil's `memory_info()`) in kB: one file less per process,
            // and rss - shared (mem.real) compares like with like. stat
            // only when status has no memory lines (zombies).
            rss: status.resident.unwrap_or(stat.rss.saturating_mul(page)),
            vms: status.size.unwrap_or(stat.vsize),
            shared: status
                .rss_file
                .zip(status.rss_shmem)
                .map(|(file, shmem)| file + shmem),
            swap: status.swap,
            threads: stat.num_threads,
            open_fds,
            io,
            voluntary_ctx_switches: status.voluntary_ctx_switches,
            involuntary_ctx_switches: status.involuntary_ctx_switches,
            minor_faults: stat.minflt,
            major_faults: stat.majflt,
            children_minor_faults: stat.cminflt,
            children_major_faults: stat.cmajflt,
            container_id: statics.container_id,
            denied,
        })
    }
}

/// Reads the fields that cannot change for a (pid, start time).
fn read_statics(
    buf: &mut Buffer,
    dir: &OwnedFd,
    stat: &parse::Stat<'_>,
    kernel_thread: bool,
    problems: &mut Problems,
) -> Statics {
    let mut own = Problems::default();
    // Kernel threads have neither command line nor executable.
    let cmdline = if kernel_thread {
        Vec::new()
    } else {
        own.take(&["cmdline"], buf.read(dir, c"cmdline"))
            .map(|raw| parse::cmdline(&String::from_utf8_lossy(raw)))
            .unwrap_or_default()
    };
    let exe = if kernel_thread {
        None
    } else {
        own.take(&["exe"], buf.read_link(dir, c"exe"))
            .map(|path| Arc::from(String::from_utf8_lossy(path)))
    };
    let container_id = own
        .take(&["container_id"], buf.read(dir, c"cgroup"))
        .and_then(container::container_id)
        .map(Arc::from);
    let name = parse::process_name(&String::from_utf8_lossy(stat.comm), &cmdline);
    problems.not_found |= own.not_found;
    Statics {
        name: name.into(),
        cmdline: cmdline.into(),
        exe,
        container_id,
        denied: own.denied,
    }
}

/// Collects the outcome of optional per-field reads.
#[derive(Debug, Default)]
struct Problems {
    /// Row fields refused for lack of privilege.
    denied: Vec<&'static str>,
    /// Some file was missing: either the process exited mid-read or the
    /// kernel lacks the file.
    not_found: bool,
}

impl Problems {
    /// `Some` on success; on permission denied records `names` (the row
    /// fields this file feeds) in `denied`; `None` on any failure.
    fn take<T>(&mut self, names: &[&'static str], result: Result<T, Errno>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Errno::ACCESS | Errno::PERM) => {
                self.denied.extend_from_slice(names);
                None
            }
            // ESRCH: the process exited after its directory was opened.
            Err(Errno::NOENT | Errno::SRCH) => {
                self.not_found = true;
                None
            }
            Err(_) => None,
        }
    }
}
