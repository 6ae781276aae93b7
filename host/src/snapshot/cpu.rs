//! Host CPU time and CPU % of a process between two refreshes.

use std::path::Path;

use anyhow::Context as _;
use procfs::{FromReadSI as _, KernelStats};

use super::CpuPercent;

/// Host-wide values of `/proc/stat` a refresh needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostCpu {
    /// Sum of every field of the aggregate `cpu` line, clock ticks.
    pub total_ticks: u64,
    /// Boot time, Unix seconds.
    pub btime: u64,
    /// Number of `cpuN` lines.
    pub cpus: u32,
}

/// Reads `<proc>/stat` (once per refresh: the `procfs` crate is fine here).
pub(super) fn read_host(proc_root: &Path) -> anyhow::Result<HostCpu> {
    let path = proc_root.join("stat");
    let stats = KernelStats::from_file(&path, procfs::current_system_info())
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(HostCpu {
        total_ticks: total_ticks(&stats.total),
        btime: stats.btime,
        cpus: u32::try_from(stats.cpu_time.len()).unwrap_or(u32::MAX),
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

/// Number of online CPUs from `<sys>/devices/system/cpu/online` (a list
/// such as `0-3,6`), or `None` when it cannot be read.
pub(super) fn online_cpus(sys_root: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(sys_root.join("devices/system/cpu/online")).ok()?;
    count_cpu_list(text.trim())
}

/// Counts the CPUs of a kernel CPU list (`0-3,6`). Hand-parsed: the format
/// is this one line.
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut count = 0u32;
    for range in list.split(',') {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let (first, last): (u32, u32) = (first.parse().ok()?, last.parse().ok()?);
        count = count.checked_add(last.checked_sub(first)? + 1)?;
    }
    (count > 0).then_some(count)
}

/// CPU use between two samples of one process, in top's convention (100 %
/// is one core): Δ process ticks / Δ host ticks × CPUs × 100. `None` when
/// no host time passed.
pub(super) fn percent(
    (user_before, system_before): (u64, u64),
    (user_now, system_now): (u64, u64),
    host_ticks: u64,
    cpus: u32,
) -> Option<CpuPercent> {
    if host_ticks == 0 {
        return None;
    }
    let scale = f64::from(cpus) * 100.0 / host_ticks as f64;
    // A counter going backwards (it should not) counts as no use.
    let user = user_now.saturating_sub(user_before) as f64 * scale;
    let system = system_now.saturating_sub(system_before) as f64 * scale;
    Some(CpuPercent {
        user,
        system,
        total: user + system,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_line_sums_every_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("stat"),
            "cpu  1 2 4 8 16 32 64 128 256 512\n\
             cpu0 1 2 4 8 16 32 64 128 256 512\n\
             cpu1 0 0 0 0 0 0 0 0 0 0\n\
             ctxt 1\nbtime 1700000000\nprocesses 5\n",
        )
        .unwrap();
        assert_eq!(
            read_host(dir.path()).unwrap(),
            HostCpu {
                total_ticks: 1023,
                btime: 1_700_000_000,
                cpus: 2
            }
        );
        // Older kernels lack the optional columns.
        std::fs::write(
            dir.path().join("stat"),
            "cpu  1 2 4 8\ncpu0 1 2 4 8\nctxt 1\nbtime 1\nprocesses 1\n",
        )
        .unwrap();
        assert_eq!(read_host(dir.path()).unwrap().total_ticks, 15);
        let err = read_host(&dir.path().join("nowhere")).unwrap_err();
        assert!(format!("{err:#}").contains("nowhere/stat"), "{err:#}");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-1"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("a-b"), None);
    }

    #[test]
    fn online_cpus_of_this_host_and_a_fixture() {
        // This host: agrees with the CPUs the scheduler lets us use at most.
        let online = online_cpus(Path::new("/sys")).unwrap();
        let available = std::thread::available_parallelism().unwrap().get() as u32;
        assert!(online >= available, "{online} < {available}");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(online_cpus(dir.path()), None);
        let cpu = dir.path().join("devices/system/cpu");
        std::fs::create_dir_all(&cpu).unwrap();
        std::fs::write(cpu.join("online"), "0-5,7\n").unwrap();
        assert_eq!(online_cpus(dir.path()), Some(7));
    }

    #[test]
    fn percent_of_host_time() {
        // 2 CPUs, 200 host ticks passed (1 s of each CPU): 30 user + 10
        // system ticks are 30 % + 10 % of one core.
        let p = percent((100, 50), (130, 60), 200, 2).unwrap();
        assert_eq!((p.user, p.system, p.total), (30.0, 10.0, 40.0));
        // Never negative; no host time, no percentage.
        let p = percent((100, 50), (90, 50), 200, 2).unwrap();
        assert_eq!(p.total, 0.0);
        assert_eq!(percent((0, 0), (1, 1), 0, 2), None);
    }
}
