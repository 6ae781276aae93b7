//! Byte parsers for the per-process files of `/proc`.
//!
//! Hand-written for speed: a refresh parses `stat` and `status` of
//! every process, and the `procfs` crate builds owned strings (a HashMap of
//! ~55 of them for `status`) for each. These borrow from the read buffer,
//! allocate nothing and stop after the last field a row needs.

/// `comm` is truncated by the kernel to `TASK_COMM_LEN - 1` bytes.
const COMM_MAX: usize = 15;

/// The fields of `/proc/<pid>/stat` a row needs (`man 5 proc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat<'a> {
    pub comm: &'a [u8],
    pub state: char,
    pub ppid: u32,
    pub flags: u32,
    pub minflt: u64,
    pub cminflt: u64,
    pub majflt: u64,
    pub cmajflt: u64,
    /// Clock ticks.
    pub utime: u64,
    /// Clock ticks.
    pub stime: u64,
    pub num_threads: u32,
    /// Clock ticks after boot.
    pub starttime: u64,
    /// Bytes.
    pub vsize: u64,
    /// Pages.
    pub rss: u64,
}

/// Parses `/proc/<pid>/stat`. `comm` may hold spaces and parentheses, so it
/// runs from the first `(` to the *last* `)`.
pub(super) fn stat(data: &[u8]) -> Option<Stat<'_>> {
    let open = data.iter().position(|&b| b == b'(')?;
    let close = data.iter().rposition(|&b| b == b')')?;
    let comm = data.get(open + 1..close)?;
    // Fields after comm, from field 3 (state) on.
    let mut fields = data[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = char::from(*fields.next()?.first()?);
    // Indexes below count from state = 0.
    let mut at = 0;
    let mut next = |index: usize| -> Option<u64> {
        let field = fields.nth(index - at - 1)?;
        at = index;
        number(field)
    };
    let ppid = next(1)?;
    let flags = next(6)?;
    let minflt = next(7)?;
    let cminflt = next(8)?;
    let majflt = next(9)?;
    let cmajflt = next(10)?;
    let utime = next(11)?;
    let stime = next(12)?;
    let num_threads = next(17)?;
    let starttime = next(19)?;
    let vsize = next(20)?;
    let rss = next(21)?;
    Some(Stat {
        comm,
        state,
        ppid: u32::try_from(ppid).ok()?,
        flags: u32::try_from(flags).ok()?,
        minflt,
        cminflt,
        majflt,
        cmajflt,
        utime,
        stime,
        num_threads: u32::try_from(num_threads).ok()?,
        starttime,
        vsize,
        rss,
    })
}

/// What a row needs from `/proc/<pid>/status`; a line the kernel does not
/// write (no `VmSwap` for kernel threads and zombies) is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Status {
    /// Real uid (the first number of `Uid:`).
    pub uid: Option<u32>,
    /// `VmSize`, bytes: `statm` size.
    pub size: Option<u64>,
    /// `VmRSS`, bytes: `statm` resident.
    pub resident: Option<u64>,
    /// `RssFile`, bytes.
    pub rss_file: Option<u64>,
    /// `RssShmem`, bytes.
    pub rss_shmem: Option<u64>,
    /// `VmSwap`, bytes.
    pub swap: Option<u64>,
    pub voluntary_ctx_switches: Option<u64>,
    pub involuntary_ctx_switches: Option<u64>,
}

pub(super) fn status(data: &[u8]) -> Status {
    let mut status = Status::default();
    for line in data.split(|&b| b == b'\n') {
        if let Some(value) = line.strip_prefix(b"Uid:") {
            status.uid = value
                .split(|&b| b == b'\t')
                .find(|f| !f.is_empty())
                .and_then(number)
                .and_then(|uid| u32::try_from(uid).ok());
        } else if let Some(value) = line.strip_prefix(b"VmSize:") {
            status.size = kib(value);
        } else if let Some(value) = line.strip_prefix(b"VmRSS:") {
            status.resident = kib(value);
        } else if let Some(value) = line.strip_prefix(b"RssFile:") {
            status.rss_file = kib(value);
        } else if let Some(value) = line.strip_prefix(b"RssShmem:") {
            status.rss_shmem = kib(value);
        } else if let Some(value) = line.strip_prefix(b"VmSwap:") {
            status.swap = kib(value);
        } else if let Some(value) = line.strip_prefix(b"voluntary_ctxt_switches:") {
            status.voluntary_ctx_switches = number(value);
        } else if let Some(value) = line.strip_prefix(b"nonvoluntary_ctxt_switches:") {
            status.involuntary_ctx_switches = number(value);
            // The last line a row needs.
            break;
        }
    }
    status
}

/// A `status` value in kB, as bytes.
fn kib(value: &[u8]) -> Option<u64> {
    number(value.strip_suffix(b" kB").unwrap_or(value)).map(|kib| kib.saturating_mul(1024))
}

/// The counters of `/proc/<pid>/io` a row needs; `None` when one is missing.
pub(super) fn io(data: &[u8]) -> Option<super::IoCounters> {
    let (mut syscr, mut syscw, mut read_bytes) = (None, None, None);
    for line in data.split(|&b| b == b'\n') {
        if let Some(value) = line.strip_prefix(b"syscr:") {
            syscr = number(value);
        } else if let Some(value) = line.strip_prefix(b"syscw:") {
            syscw = number(value);
        } else if let Some(value) = line.strip_prefix(b"read_bytes:") {
            read_bytes = number(value);
        } else if let Some(value) = line.strip_prefix(b"write_bytes:") {
            // `write_bytes` comes after the others.
            return Some(super::IoCounters {
                read_count: syscr?,
                write_count: syscw?,
                read_bytes: read_bytes?,
                write_bytes: number(value)?,
            });
        }
    }
    None
}

/// A decimal number, ignoring surrounding whitespace.
pub(super) fn number(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field.trim_ascii()).ok()?.parse().ok()
}

/// Splits the raw content of `cmdline` the way psutil does: NUL-separated,
/// except for processes that rewrote their title with spaces (no trailing
/// NUL, or a single NUL-terminated argument containing spaces).
pub(super) fn cmdline(data: &str) -> Vec<String> {
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
pub(super) fn process_name(comm: &str, cmdline: &[String]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    /// Recorded from `/proc/<pid>/stat` of a process whose comm was set to
    /// `(a) b)` (prctl allows any bytes).
    const STAT_ODD_COMM: &[u8] = b"4242 ((a) b)) S 1 4242 4242 0 -1 4194560 1234 5678 9 10 \
        250 125 3 4 20 0 3 0 987654 123456789 321 18446744073709551615 1 1 0 0 0 0 0 \
        4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_with_spaces_and_parentheses_in_comm() {
        let s = stat(STAT_ODD_COMM).unwrap();
        assert_eq!(
            s,
            Stat {
                comm: b"(a) b)",
                state: 'S',
                ppid: 1,
                flags: 4194560,
                minflt: 1234,
                cminflt: 5678,
                majflt: 9,
                cmajflt: 10,
                utime: 250,
                stime: 125,
                num_threads: 3,
                starttime: 987654,
                vsize: 123456789,
                rss: 321,
            }
        );
    }

    #[test]
    fn stat_of_a_zombie_and_a_kernel_thread() {
        let zombie = b"31337 (defunct-thing) Z 4000 31337 4000 0 -1 4227084 90 0 0 0 \
            1 2 0 0 20 0 1 0 55555 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        let z = stat(zombie).unwrap();
        assert_eq!((z.state, z.ppid, z.vsize, z.rss), ('Z', 4000, 0, 0));
        assert_eq!((z.utime, z.stime, z.starttime), (1, 2, 55555));

        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 \
            2 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0\n";
        let k = stat(kthread).unwrap();
        assert_eq!(k.comm, b"kthreadd");
        assert_ne!(k.flags & 0x0020_0000, 0, "PF_KTHREAD");
        assert_eq!((k.ppid, k.stime, k.starttime), (0, 3, 2));
    }

    #[test]
    fn truncated_or_garbled_stat_is_none() {
        assert_eq!(stat(b""), None);
        assert_eq!(stat(b"12 (x) S 1 2 3"), None);
        assert_eq!(
            stat(b"12 x S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"),
            None
        );
    }

    #[test]
    fn status_of_a_process() {
        let text = b"Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t77\n\
            Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\n\
            VmPeak:\t    2928 kB\nVmSize:\t    2928 kB\nVmHWM:\t    1696 kB\n\
            VmRSS:\t    1696 kB\nRssAnon:\t     112 kB\nRssFile:\t    1580 kB\n\
            RssShmem:\t       4 kB\nVmSwap:\t      12 kB\nThreads:\t1\n\
            voluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(
            status(text),
            Status {
                uid: Some(1000),
                size: Some(2928 * 1024),
                resident: Some(1696 * 1024),
                rss_file: Some(1580 * 1024),
                rss_shmem: Some(4 * 1024),
                swap: Some(12 * 1024),
                voluntary_ctx_switches: Some(5),
                involuntary_ctx_switches: Some(7),
            }
        );
    }

    #[test]
    fn status_without_optional_lines() {
        // A zombie (or kernel thread): no Vm* lines; an old kernel: no ctx
        // switch lines.
        let text = b"Name:\tdefunct\nState:\tZ (zombie)\nUid:\t0\t0\t0\t0\nThreads:\t1\n";
        assert_eq!(
            status(text),
            Status {
                uid: Some(0),
                ..Status::default()
            }
        );
        assert_eq!(status(b""), Status::default());
    }

    #[test]
    fn io_counters() {
        let text = b"rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 2\nread_bytes: 4096\n\
            write_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(
            io(text),
            Some(super::super::IoCounters {
                read_count: 10,
                write_count: 2,
                read_bytes: 4096,
                write_bytes: 8192,
            })
        );
        assert_eq!(io(b"rchar: 1\nwchar: 2\n"), None);
    }

    #[test]
    fn cmdline_is_split_like_psutil() {
        assert_eq!(cmdline(""), Vec::<String>::new());
        assert_eq!(cmdline("sleep\x00300\x00"), strings(&["sleep", "300"]));
        // Empty arguments in the middle are kept.
        assert_eq!(cmdline("a\0\0b\0"), strings(&["a", "", "b"]));
        // Rewritten titles.
        assert_eq!(
            cmdline("nginx: worker process\0"),
            strings(&["nginx:", "worker", "process"])
        );
        assert_eq!(
            cmdline("postgres: checkpointer "),
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
}
