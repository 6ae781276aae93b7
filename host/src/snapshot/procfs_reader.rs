//! Reads a [`ProcessSnapshot`] from `/proc` with the `procfs` crate.
//!
//! Everything that touches `/proc` or `/etc/passwd` lives here, behind
//! [`read_snapshot`]. Correct rather than fast for now: a faster reader
//! (own byte parsing, fd counts without building names) can replace the
//! internals without changing the rows it produces.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use procfs::process::Process;
use procfs::{FromRead, FromReadSI, KernelStats, Meminfo, ProcError, ProcResult};

use super::{IoCounters, ProcessRow, ProcessSnapshot};

/// `PF_KTHREAD` in the flags field of `/proc/<pid>/stat`.
const PF_KTHREAD: u32 = 0x0020_0000;
/// `comm` is truncated by the kernel to `TASK_COMM_LEN - 1` bytes.
const COMM_MAX: usize = 15;
const PASSWD: &str = "/etc/passwd";

/// Host-wide values every row needs, read once per refresh.
struct RowContext<'a> {
    ticks_per_second: f64,
    page_size: u64,
    btime: f64,
    users: &'a HashMap<u32, String>,
}

/// Reads the whole host, from the proc file system mounted at `root`
/// (`/proc`, or the host's when the runner runs in a container).
pub(super) fn read_snapshot(root: &Path) -> anyhow::Result<ProcessSnapshot> {
    let taken_at = unix_now();
    let ticks_per_second = procfs::ticks_per_second().max(1) as f64;
    let stat = root.join("stat");
    let stats = KernelStats::from_file(&stat, procfs::current_system_info())
        .with_context(|| format!("reading {}", stat.display()))?;
    let meminfo = root.join("meminfo");
    let total_memory = Meminfo::from_file(&meminfo)
        .with_context(|| format!("reading {}", meminfo.display()))?
        .mem_total;
    let users = load_users(Path::new(PASSWD));
    let ctx = RowContext {
        ticks_per_second,
        page_size: procfs::page_size(),
        btime: stats.btime as f64,
        users: &users,
    };

    let mut processes = Vec::new();
    let listing = procfs::process::all_processes_with_root(root)
        .with_context(|| format!("listing {}", root.display()))?;
    for entry in listing {
        // An entry that cannot be opened has exited since the listing.
        let Ok(process) = entry else { continue };
        if let Some(row) = read_row(&process, &ctx) {
            processes.push(row);
        }
    }
    processes.sort_unstable_by_key(|row| row.pid);

    Ok(ProcessSnapshot {
        taken_at,
        host_cpu_time: total_ticks(&stats.total) as f64 / ticks_per_second,
        num_cpus: u32::try_from(stats.cpu_time.len())
            .unwrap_or(u32::MAX)
            .max(1),
        total_memory,
        fields: super::FieldSet {
            open_fds: true,
            io: true,
            ..super::FieldSet::NONE
        },
        processes,
        connections: None,
    })
}

/// Sum of every field of a `cpu` line of `/proc/stat`, in ticks.
fn total_ticks(cpu: &procfs::CpuTime) -> u64 {
    [
        Some(cpu.user),
        Some(cpu.nice),
        Some(cpu.system),
        Some(cpu.idle),
        cpu.iowait,
        cpu.irq,
        cpu.softirq,
        cpu.steal,
        cpu.guest,
        cpu.guest_nice,
    ]
    .into_iter()
    .flatten()
    .sum()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Collects the outcome of optional per-field reads.
#[derive(Default)]
struct Fields {
    /// Row fields refused for lack of privilege.
    denied: Vec<&'static str>,
    /// Some file was missing: either the process exited mid-read or the
    /// kernel lacks the file.
    not_found: bool,
}

impl Fields {
    /// `Some` on success; on permission denied records `names` (the row
    /// fields this file feeds) in `denied`; `None` on any failure.
    fn take<T>(&mut self, names: &[&'static str], result: ProcResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ProcError::PermissionDenied(_)) => {
                self.denied.extend_from_slice(names);
                None
            }
            Err(ProcError::Io(e, _)) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.denied.extend_from_slice(names);
                None
            }
            Err(ProcError::NotFound(_)) => {
                self.not_found = true;
                None
            }
            Err(_) => None,
        }
    }
}

/// One row, or `None` when the process exited while being read.
fn read_row(process: &Process, ctx: &RowContext<'_>) -> Option<ProcessRow> {
    // Without stat there is no row: the process is gone (stat is readable by
    // everyone).
    let stat = process.stat().ok()?;
    let mut fields = Fields::default();

    let kernel_thread = stat.flags & PF_KTHREAD != 0;
    let cmdline = if kernel_thread {
        Vec::new()
    } else {
        fields
            .take(&["cmdline"], read_cmdline(process))
            .unwrap_or_default()
    };
    let status = fields.take(
        &[
            "uid",
            "user",
            "voluntary_ctx_switches",
            "involuntary_ctx_switches",
        ],
        process.status(),
    );
    let statm = fields.take(&["shared"], process.statm());
    let open_fds = fields.take(&["open_fds"], process.fd_count());
    let io = fields.take(&["io"], process.io());

    // A missing file usually means the process exited mid-read (then stat
    // fails too); a kernel without e.g. task I/O accounting keeps the row.
    if fields.not_found && matches!(process.stat(), Err(ProcError::NotFound(_))) {
        return None;
    }

    let uid = status.as_ref().map(|s| s.ruid);
    let ticks = ctx.ticks_per_second;
    Some(ProcessRow {
        pid: u32::try_from(stat.pid).ok()?,
        ppid: u32::try_from(stat.ppid).unwrap_or(0),
        name: process_name(&stat.comm, &cmdline).into(),
        user: uid.and_then(|uid| ctx.users.get(&uid).map(|u| u.as_str().into())),
        exe: None,
        cwd: None,
        cpu_percent: None,
        swap: None,
        container_id: None,
        uid,
        state: stat.state,
        start_time: stat.starttime as f64 / ticks + ctx.btime,
        cpu_user: stat.utime as f64 / ticks,
        cpu_system: stat.stime as f64 / ticks,
        // Memory from one read of statm, as psutil's `memory_info()`, so
        // that rss - shared (mem.real) compares like with like; stat only
        // when statm cannot be read.
        rss: statm
            .as_ref()
            .map_or(stat.rss, |m| m.resident)
            .saturating_mul(ctx.page_size),
        vms: statm
            .as_ref()
            .map_or(stat.vsize, |m| m.size.saturating_mul(ctx.page_size)),
        shared: statm.map(|m| m.shared.saturating_mul(ctx.page_size)),
        threads: u32::try_from(stat.num_threads).unwrap_or(0),
        open_fds: open_fds.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        io: io.map(|io| IoCounters {
            read_count: io.syscr,
            write_count: io.syscw,
            read_bytes: io.read_bytes,
            write_bytes: io.write_bytes,
        }),
        voluntary_ctx_switches: status.as_ref().and_then(|s| s.voluntary_ctxt_switches),
        involuntary_ctx_switches: status.as_ref().and_then(|s| s.nonvoluntary_ctxt_switches),
        minor_faults: stat.minflt,
        major_faults: stat.majflt,
        children_minor_faults: stat.cminflt,
        children_major_faults: stat.cmajflt,
        cmdline: cmdline.into(),
        denied: fields.denied,
    })
}

/// `/proc/<pid>/cmdline`, tolerating non-UTF-8 arguments.
fn read_cmdline(process: &Process) -> ProcResult<Vec<String>> {
    let mut raw = Vec::new();
    process
        .open_relative("cmdline")?
        .read_to_end(&mut raw)
        .map_err(ProcError::from)?;
    Ok(split_cmdline(&String::from_utf8_lossy(&raw)))
}

/// Splits the raw content of `cmdline` the way psutil does: NUL-separated,
/// except for processes that rewrote their title with spaces (no trailing
/// NUL, or a single NUL-terminated argument containing spaces).
fn split_cmdline(data: &str) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    let sep = if data.ends_with('\0') { '\0' } else { ' ' };
    let data = data.strip_suffix(sep).unwrap_or(data);
    let mut args: Vec<String> = data.split(sep).map(str::to_owned).collect();
    if sep == '\0' && args.len() == 1 && data.contains(' ') {
        args = data.split(' ').map(str::to_owned).collect();
    }
    args
}

/// psutil's `name()`: `comm`, or the basename of `cmdline[0]` when `comm`
/// was truncated by the kernel and that basename extends it.
fn process_name(comm: &str, cmdline: &[String]) -> String {
    if comm.len() >= COMM_MAX
        && let Some(arg0) = cmdline.first()
    {
        let base = arg0.rsplit('/').next().unwrap_or(arg0);
        if base.starts_with(comm) {
            return base.to_owned();
        }
    }
    comm.to_owned()
}

/// uid → user name from a passwd file; the first entry of a uid wins. A
/// missing or unreadable file gives an empty map (rows then have no user).
fn load_users(path: &Path) -> HashMap<u32, String> {
    match std::fs::read(path) {
        Ok(raw) => parse_passwd(&String::from_utf8_lossy(&raw)),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "no user names for processes");
            HashMap::new()
        }
    }
}

fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split(':');
        let (Some(name), Some(_password), Some(uid)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if name.is_empty() || name.starts_with(['#', '+', '-']) {
            continue;
        }
        if let Ok(uid) = uid.trim().parse::<u32>() {
            users.entry(uid).or_insert_with(|| name.to_owned());
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmdline_is_split_like_psutil() {
        assert_eq!(split_cmdline(""), Vec::<String>::new());
        assert_eq!(
            split_cmdline("sleep\x00300\x00"),
            strings(&["sleep", "300"])
        );
        // Empty arguments in the middle are kept.
        assert_eq!(split_cmdline("a\0\0b\0"), strings(&["a", "", "b"]));
        // Rewritten titles.
        assert_eq!(
            split_cmdline("nginx: worker process\0"),
            strings(&["nginx:", "worker", "process"])
        );
        assert_eq!(
            split_cmdline("postgres: checkpointer "),
            strings(&["postgres:", "checkpointer"])
        );
    }

    #[test]
    fn name_extends_truncated_comm_from_cmdline() {
        let long = strings(&["/usr/lib/jvm/bin/java-application-server", "-x"]);
        assert_eq!(
            process_name("java-applicatio", &long),
            "java-application-server"
        );
        // Not truncated: comm as is.
        assert_eq!(process_name("sleep", &strings(&["/bin/sleeper"])), "sleep");
        // Truncated but cmdline[0] does not extend it (e.g. a renamed thread).
        assert_eq!(process_name("kworker/0:1-eve", &long), "kworker/0:1-eve");
        // Kernel threads have no cmdline.
        assert_eq!(process_name("kworker/0:1-eve", &[]), "kworker/0:1-eve");
    }

    #[test]
    fn passwd_maps_uids_to_first_name() {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n\
             # comment\n\
             \n\
             daemon:x:1:1::/:/usr/sbin/nologin\n\
             toor:x:0:0::/root:/bin/sh\n\
             +nis::::::\n\
             broken-line\n\
             bad:x:notanumber:0::/:/bin/sh\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&1).map(String::as_str), Some("daemon"));
        assert_eq!(users.len(), 2);
        assert!(load_users(Path::new("/nonexistent/passwd")).is_empty());
    }

    #[test]
    fn field_errors_are_classified() {
        let mut fields = Fields::default();
        let ok: ProcResult<u32> = Ok(7);
        assert_eq!(fields.take(&["a"], ok), Some(7));
        let denied: ProcResult<u32> = Err(ProcError::PermissionDenied(None));
        assert_eq!(fields.take(&["io"], denied), None);
        let denied_io: ProcResult<u32> = Err(ProcError::from(io::Error::from_raw_os_error(1)));
        assert_eq!(fields.take(&["open_fds"], denied_io), None);
        let other: ProcResult<u32> = Err(ProcError::Incomplete(None));
        assert_eq!(fields.take(&["shared"], other), None);
        assert_eq!(fields.denied, ["io", "open_fds"]);
        assert!(!fields.not_found);
        let gone: ProcResult<u32> = Err(ProcError::NotFound(None));
        assert_eq!(fields.take(&["uid"], gone), None);
        assert!(fields.not_found);
        assert_eq!(fields.denied, ["io", "open_fds"]);
    }

    #[test]
    fn cpu_line_sums_every_field() {
        use procfs::FromReadSI as _;
        let text = "cpu  1 2 4 8 16 32 64 128 256 512\n\
                    cpu0 1 2 4 8 16 32 64 128 256 512\n\
                    ctxt 1\nbtime 1700000000\nprocesses 5\n";
        let stats = KernelStats::from_read(text.as_bytes(), procfs::current_system_info()).unwrap();
        assert_eq!(total_ticks(&stats.total), 1023);
        // Older kernels lack the optional columns.
        let text = "cpu  1 2 4 8\nctxt 1\nbtime 1\nprocesses 1\n";
        let stats = KernelStats::from_read(text.as_bytes(), procfs::current_system_info()).unwrap();
        assert_eq!(total_ticks(&stats.total), 15);
    }
}
