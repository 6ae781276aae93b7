//! Turning a process snapshot into the `system.processes.*` metrics.
//! Pure functions over plain data, so they are tested natively.

use std::collections::HashMap;

use runner_sdk::{DeniedFields, MetricType, Process, ProcessSnapshot};

/// One metric to submit (the tags are the same for all of them).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: &'static str,
    pub kind: MetricType,
    pub value: f64,
}

impl Sample {
    fn gauge(name: &'static str, value: f64) -> Sample {
        Sample {
            name,
            kind: MetricType::Gauge,
            value,
        }
    }
}

/// A process across snapshots: a pid is reused, a (pid, start time) is not.
type ProcessKey = (u32, u64);

fn key(process: &Process) -> ProcessKey {
    (process.pid, process.start_time.to_bits())
}

/// CPU time of one process and of the host when it was sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuSample {
    process: f64,
    host: f64,
}

/// The previous CPU sample of every process matched by the last run: what
/// `system.processes.cpu.pct` is computed against.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuHistory {
    previous: HashMap<ProcessKey, CpuSample>,
}

impl CpuHistory {
    /// The summed CPU % of the processes of `snapshot` that have a previous
    /// sample, or `None` when none has. Afterwards the history holds
    /// exactly the processes of `snapshot`: the others are forgotten.
    pub fn update(&mut self, snapshot: &ProcessSnapshot) -> Option<f64> {
        let num_cpus = f64::from(snapshot.num_cpus);
        let mut total: Option<f64> = None;
        let mut current = HashMap::with_capacity(snapshot.processes.len());
        for process in &snapshot.processes {
            let now = CpuSample {
                process: process.cpu_user + process.cpu_system,
                host: snapshot.host_cpu_time,
            };
            if let Some(before) = self.previous.get(&key(process)) {
                let host_delta = now.host - before.host;
                // No host CPU time elapsed (or a clock step back): no
                // meaningful percentage for this process this time.
                if host_delta > 0.0 {
                    let pct = (now.process - before.process) / host_delta * num_cpus * 100.0;
                    *total.get_or_insert(0.0) += pct.max(0.0);
                }
            }
            current.insert(key(process), now);
        }
        self.previous = current;
        total
    }

    /// Forget every process (nothing was matched).
    pub fn clear(&mut self) {
        self.previous.clear();
    }

    /// How many processes have a sample.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.previous.len()
    }
}

/// One always-readable counter of a process.
type Counter = fn(&Process) -> u64;

/// `ignore_denied_access: false`, as in Datadog: access denied while
/// searching command lines fails the run, naming the first such process
/// of `all` (every process on the host). Unreadable fields of matched
/// processes never do: they are left out of the sums.
pub fn check_search_denied(all: &ProcessSnapshot) -> Result<(), String> {
    match all
        .processes
        .iter()
        .find(|p| p.denied.contains(DeniedFields::CMDLINE))
    {
        Some(process) => Err(format!(
            "access denied to the command line of pid {} ({}) while searching \
             `search_string`; set `ignore_denied_access: true` to skip such processes",
            process.pid,
            process.name.as_deref().unwrap_or("?")
        )),
        None => Ok(()),
    }
}

/// Sum of `field` over the processes that have it; `None` when none has.
fn sum(processes: &[Process], field: impl Fn(&Process) -> Option<f64>) -> Option<f64> {
    processes
        .iter()
        .filter_map(field)
        .fold(None, |total, value| Some(total.unwrap_or(0.0) + value))
}

/// The metrics of one run, in a stable order. `cpu_pct` is what
/// [`CpuHistory::update`] returned for the same snapshot. Fields missing
/// from a process are left out of its sums; a metric no process has a
/// value for is not sent, except `system.processes.number`.
pub fn samples(snapshot: &ProcessSnapshot, cpu_pct: Option<f64>) -> Vec<Sample> {
    let procs = &snapshot.processes;
    let mut out = vec![Sample::gauge("system.processes.number", procs.len() as f64)];
    let mut gauge = |name: &'static str, value: Option<f64>| {
        if let Some(value) = value {
            out.push(Sample::gauge(name, value));
        }
    };
    let num = |v: u64| v as f64;

    gauge(
        "system.processes.threads",
        sum(procs, |p| Some(f64::from(p.threads))),
    );
    if snapshot.num_cpus > 0 {
        gauge("system.processes.cpu.pct", cpu_pct);
        gauge(
            "system.processes.cpu.normalized_pct",
            cpu_pct.map(|pct| pct / f64::from(snapshot.num_cpus)),
        );
    }
    gauge("system.processes.mem.rss", sum(procs, |p| Some(num(p.rss))));
    gauge("system.processes.mem.vms", sum(procs, |p| Some(num(p.vms))));
    gauge(
        "system.processes.mem.real",
        sum(procs, |p| {
            p.shared.map(|shared| num(p.rss.saturating_sub(shared)))
        }),
    );
    gauge(
        "system.processes.open_file_descriptors",
        sum(procs, |p| p.open_fds.map(f64::from)),
    );
    gauge(
        "system.processes.ioread_count",
        sum(procs, |p| p.io.as_ref().map(|io| num(io.read_count))),
    );
    gauge(
        "system.processes.iowrite_count",
        sum(procs, |p| p.io.as_ref().map(|io| num(io.write_count))),
    );
    let read_bytes = sum(procs, |p| p.io.as_ref().map(|io| num(io.read_bytes)));
    let write_bytes = sum(procs, |p| p.io.as_ref().map(|io| num(io.write_bytes)));
    gauge("system.processes.ioread_bytes", read_bytes);
    gauge("system.processes.iowrite_bytes", write_bytes);
    gauge(
        "system.processes.voluntary_ctx_switches",
        sum(procs, |p| p.voluntary_ctx_switches.map(num)),
    );
    gauge(
        "system.processes.involuntary_ctx_switches",
        sum(procs, |p| p.involuntary_ctx_switches.map(num)),
    );
    if !procs.is_empty() {
        let run_times: Vec<f64> = procs
            .iter()
            .map(|p| (snapshot.taken_at - p.start_time).max(0.0))
            .collect();
        let total: f64 = run_times.iter().sum();
        gauge(
            "system.processes.run_time.avg",
            Some(total / run_times.len() as f64),
        );
        gauge(
            "system.processes.run_time.max",
            run_times.iter().copied().reduce(f64::max),
        );
        gauge(
            "system.processes.run_time.min",
            run_times.iter().copied().reduce(f64::min),
        );
    }
    if snapshot.total_memory > 0 {
        // psutil's memory_percent() per process, summed as Datadog does.
        let total = num(snapshot.total_memory);
        gauge(
            "system.processes.mem.pct",
            sum(procs, |p| Some(num(p.rss) / total * 100.0)),
        );
    }

    for (name, value) in [
        ("system.processes.ioread_bytes_count", read_bytes),
        ("system.processes.iowrite_bytes_count", write_bytes),
    ] {
        if let Some(value) = value {
            out.push(Sample {
                name,
                kind: MetricType::MonotonicCount,
                value,
            });
        }
    }

    let faults: [(&'static str, Counter); 4] = [
        ("system.processes.mem.page_faults.minor_faults", |p| {
            p.minor_faults
        }),
        ("system.processes.mem.page_faults.major_faults", |p| {
            p.major_faults
        }),
        (
            "system.processes.mem.page_faults.children_minor_faults",
            |p| p.children_minor_faults,
        ),
        (
            "system.processes.mem.page_faults.children_major_faults",
            |p| p.children_major_faults,
        ),
    ];
    for (name, field) in faults {
        if let Some(value) = sum(procs, |p| Some(num(field(p)))) {
            out.push(Sample {
                name,
                kind: MetricType::Rate,
                value,
            });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use runner_sdk::IoCounters;

    const GIB: u64 = 1 << 30;

    /// A process with every field readable.
    pub(crate) fn process(pid: u32) -> Process {
        Process {
            pid,
            ppid: 1,
            name: Some("worker".into()),
            cmdline: None,
            exe: None,
            cwd: None,
            uid: Some(1000),
            user: None,
            container_id: None,
            state: 'S',
            start_time: 1_000.0,
            cpu_user: 0.0,
            cpu_system: 0.0,
            cpu_percent: None,
            rss: 0,
            vms: 0,
            shared: Some(0),
            swap: None,
            threads: 1,
            open_fds: Some(0),
            io: Some(IoCounters {
                read_count: 0,
                write_count: 0,
                read_bytes: 0,
                write_bytes: 0,
            }),
            voluntary_ctx_switches: Some(0),
            involuntary_ctx_switches: Some(0),
            minor_faults: 0,
            major_faults: 0,
            children_minor_faults: 0,
            children_major_faults: 0,
            denied: DeniedFields::empty(),
        }
    }

    pub(crate) fn snapshot(processes: Vec<Process>) -> ProcessSnapshot {
        ProcessSnapshot {
            taken_at: 2_000.0,
            host_cpu_time: 10_000.0,
            num_cpus: 2,
            total_memory: 4 * GIB,
            processes,
        }
    }

    fn value(samples: &[Sample], name: &str) -> Option<f64> {
        let found: Vec<&Sample> = samples.iter().filter(|s| s.name == name).collect();
        assert!(found.len() <= 1, "{name} sent {} times", found.len());
        found.first().map(|s| s.value)
    }

    fn kind(samples: &[Sample], name: &str) -> MetricType {
        samples.iter().find(|s| s.name == name).unwrap().kind
    }

    fn three() -> Vec<Process> {
        let mut a = process(10);
        a.rss = 100 * 1024 * 1024;
        a.vms = 1_000;
        a.shared = Some(10 * 1024 * 1024);
        a.threads = 4;
        a.open_fds = Some(7);
        a.io = Some(IoCounters {
            read_count: 1,
            write_count: 2,
            read_bytes: 300,
            write_bytes: 400,
        });
        a.voluntary_ctx_switches = Some(5);
        a.involuntary_ctx_switches = Some(6);
        a.minor_faults = 11;
        a.major_faults = 1;
        a.children_minor_faults = 100;
        a.children_major_faults = 10;
        a.start_time = 1_900.0;

        let mut b = process(20);
        b.rss = 200 * 1024 * 1024;
        b.vms = 2_000;
        b.shared = Some(50 * 1024 * 1024);
        b.threads = 2;
        b.open_fds = Some(3);
        b.io = Some(IoCounters {
            read_count: 10,
            write_count: 20,
            read_bytes: 3_000,
            write_bytes: 4_000,
        });
        b.voluntary_ctx_switches = Some(50);
        b.involuntary_ctx_switches = Some(60);
        b.minor_faults = 22;
        b.major_faults = 2;
        b.children_minor_faults = 200;
        b.children_major_faults = 20;
        b.start_time = 1_500.0;

        let mut c = process(30);
        c.rss = 724 * 1024 * 1024;
        c.vms = 3_000;
        c.shared = Some(24 * 1024 * 1024);
        c.threads = 1;
        c.open_fds = Some(0);
        c.io = Some(IoCounters {
            read_count: 100,
            write_count: 200,
            read_bytes: 30_000,
            write_bytes: 40_000,
        });
        c.voluntary_ctx_switches = Some(500);
        c.involuntary_ctx_switches = Some(600);
        c.minor_faults = 33;
        c.major_faults = 3;
        c.children_minor_faults = 300;
        c.children_major_faults = 30;
        c.start_time = 1_990.0;
        vec![a, b, c]
    }

    #[test]
    fn sums_over_three_pids() {
        let s = samples(&snapshot(three()), None);
        let mib = 1024.0 * 1024.0;
        assert_eq!(value(&s, "system.processes.number"), Some(3.0));
        assert_eq!(value(&s, "system.processes.threads"), Some(7.0));
        assert_eq!(value(&s, "system.processes.mem.rss"), Some(1024.0 * mib));
        assert_eq!(value(&s, "system.processes.mem.vms"), Some(6_000.0));
        assert_eq!(
            value(&s, "system.processes.mem.real"),
            Some((90.0 + 150.0 + 700.0) * mib)
        );
        // 1 GiB of 4 GiB.
        assert_eq!(value(&s, "system.processes.mem.pct"), Some(25.0));
        assert_eq!(
            value(&s, "system.processes.open_file_descriptors"),
            Some(10.0)
        );
        assert_eq!(value(&s, "system.processes.ioread_count"), Some(111.0));
        assert_eq!(value(&s, "system.processes.iowrite_count"), Some(222.0));
        assert_eq!(value(&s, "system.processes.ioread_bytes"), Some(33_300.0));
        assert_eq!(value(&s, "system.processes.iowrite_bytes"), Some(44_400.0));
        assert_eq!(
            value(&s, "system.processes.ioread_bytes_count"),
            Some(33_300.0)
        );
        assert_eq!(
            value(&s, "system.processes.iowrite_bytes_count"),
            Some(44_400.0)
        );
        assert_eq!(
            value(&s, "system.processes.voluntary_ctx_switches"),
            Some(555.0)
        );
        assert_eq!(
            value(&s, "system.processes.involuntary_ctx_switches"),
            Some(666.0)
        );
        assert_eq!(
            value(&s, "system.processes.mem.page_faults.minor_faults"),
            Some(66.0)
        );
        assert_eq!(
            value(&s, "system.processes.mem.page_faults.major_faults"),
            Some(6.0)
        );
        assert_eq!(
            value(&s, "system.processes.mem.page_faults.children_minor_faults"),
            Some(600.0)
        );
        assert_eq!(
            value(&s, "system.processes.mem.page_faults.children_major_faults"),
            Some(60.0)
        );
        // No CPU history given: no CPU metrics.
        assert_eq!(value(&s, "system.processes.cpu.pct"), None);
        assert_eq!(value(&s, "system.processes.cpu.normalized_pct"), None);
    }

    #[test]
    fn metric_types() {
        let s = samples(&snapshot(three()), Some(1.0));
        for name in [
            "system.processes.number",
            "system.processes.cpu.pct",
            "system.processes.cpu.normalized_pct",
            "system.processes.mem.rss",
            "system.processes.mem.real",
            "system.processes.mem.pct",
            "system.processes.ioread_bytes",
            "system.processes.run_time.avg",
        ] {
            assert_eq!(kind(&s, name), MetricType::Gauge, "{name}");
        }
        for name in [
            "system.processes.ioread_bytes_count",
            "system.processes.iowrite_bytes_count",
        ] {
            assert_eq!(kind(&s, name), MetricType::MonotonicCount, "{name}");
        }
        for name in [
            "system.processes.mem.page_faults.minor_faults",
            "system.processes.mem.page_faults.major_faults",
            "system.processes.mem.page_faults.children_minor_faults",
            "system.processes.mem.page_faults.children_major_faults",
        ] {
            assert_eq!(kind(&s, name), MetricType::Rate, "{name}");
        }
        // Every metric of the checks.md table, once, and nothing else.
        let mut names: Vec<&str> = s.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let mut expected = vec![
            "system.processes.number",
            "system.processes.cpu.pct",
            "system.processes.cpu.normalized_pct",
            "system.processes.mem.rss",
            "system.processes.mem.vms",
            "system.processes.mem.real",
            "system.processes.mem.pct",
            "system.processes.threads",
            "system.processes.open_file_descriptors",
            "system.processes.voluntary_ctx_switches",
            "system.processes.involuntary_ctx_switches",
            "system.processes.ioread_count",
            "system.processes.iowrite_count",
            "system.processes.ioread_bytes",
            "system.processes.iowrite_bytes",
            "system.processes.ioread_bytes_count",
            "system.processes.iowrite_bytes_count",
            "system.processes.mem.page_faults.minor_faults",
            "system.processes.mem.page_faults.major_faults",
            "system.processes.mem.page_faults.children_minor_faults",
            "system.processes.mem.page_faults.children_major_faults",
            "system.processes.run_time.avg",
            "system.processes.run_time.max",
            "system.processes.run_time.min",
        ];
        expected.sort_unstable();
        assert_eq!(names, expected);
    }

    #[test]
    fn run_time_avg_max_min() {
        // Started 100 s, 500 s and 10 s before the snapshot.
        let s = samples(&snapshot(three()), None);
        assert_eq!(
            value(&s, "system.processes.run_time.avg"),
            Some(610.0 / 3.0)
        );
        assert_eq!(value(&s, "system.processes.run_time.max"), Some(500.0));
        assert_eq!(value(&s, "system.processes.run_time.min"), Some(10.0));
    }

    #[test]
    fn no_process_sends_only_the_count() {
        let s = samples(&snapshot(Vec::new()), None);
        assert_eq!(s, [Sample::gauge("system.processes.number", 0.0)]);
    }

    #[test]
    fn mem_real_only_from_pids_with_shared() {
        let mut procs = three();
        procs[0].shared = None; // 100 MiB rss, not counted in mem.real
        procs[2].shared = None;
        let s = samples(&snapshot(procs), None);
        let mib = 1024.0 * 1024.0;
        assert_eq!(value(&s, "system.processes.mem.real"), Some(150.0 * mib));
        assert_eq!(value(&s, "system.processes.mem.rss"), Some(1024.0 * mib));

        let mut procs = three();
        for p in &mut procs {
            p.shared = None;
        }
        let s = samples(&snapshot(procs), None);
        assert_eq!(value(&s, "system.processes.mem.real"), None);
    }

    #[test]
    fn unreadable_fields_are_skipped_not_zero() {
        let mut procs = three();
        // pid 20 belongs to another user: its fds, I/O and ctx switches
        // were refused.
        procs[1].open_fds = None;
        procs[1].io = None;
        procs[1].voluntary_ctx_switches = None;
        procs[1].involuntary_ctx_switches = None;
        procs[1].denied = DeniedFields::OPEN_FDS | DeniedFields::IO | DeniedFields::CTX_SWITCHES;
        let snap = snapshot(procs);
        // Unreadable fields are no search error, whatever the option.
        assert_eq!(check_search_denied(&snap), Ok(()));
        let s = samples(&snap, None);
        assert_eq!(value(&s, "system.processes.number"), Some(3.0));
        assert_eq!(
            value(&s, "system.processes.open_file_descriptors"),
            Some(7.0)
        );
        assert_eq!(value(&s, "system.processes.ioread_count"), Some(101.0));
        assert_eq!(value(&s, "system.processes.iowrite_bytes"), Some(40_400.0));
        assert_eq!(
            value(&s, "system.processes.iowrite_bytes_count"),
            Some(40_400.0)
        );
        assert_eq!(
            value(&s, "system.processes.voluntary_ctx_switches"),
            Some(505.0)
        );
        assert_eq!(
            value(&s, "system.processes.involuntary_ctx_switches"),
            Some(606.0)
        );
        // Always-readable fields still count all three.
        assert_eq!(value(&s, "system.processes.threads"), Some(7.0));
    }

    #[test]
    fn field_missing_everywhere_is_not_sent() {
        let mut procs = three();
        for p in &mut procs {
            p.io = None;
            p.open_fds = None;
        }
        let s = samples(&snapshot(procs), None);
        for name in [
            "system.processes.open_file_descriptors",
            "system.processes.ioread_count",
            "system.processes.iowrite_count",
            "system.processes.ioread_bytes",
            "system.processes.iowrite_bytes",
            "system.processes.ioread_bytes_count",
            "system.processes.iowrite_bytes_count",
        ] {
            assert_eq!(value(&s, name), None, "{name}");
        }
        assert_eq!(
            value(&s, "system.processes.voluntary_ctx_switches"),
            Some(555.0)
        );
    }

    #[test]
    fn only_a_denied_command_line_is_a_search_error() {
        // pid 1's io and fds are refused even to root: never an error.
        let mut init = process(1);
        init.name = Some("systemd".into());
        init.io = None;
        init.open_fds = None;
        init.denied = DeniedFields::IO | DeniedFields::OPEN_FDS;
        assert_eq!(check_search_denied(&snapshot(vec![init.clone()])), Ok(()));

        let mut hidden = process(8);
        hidden.name = Some("postgres".into());
        hidden.denied = DeniedFields::CMDLINE;
        assert_eq!(
            check_search_denied(&snapshot(vec![init, process(5), hidden])),
            Err(
                "access denied to the command line of pid 8 (postgres) while \
                 searching `search_string`; set `ignore_denied_access: true` to skip \
                 such processes"
                    .to_string()
            )
        );
    }

    #[test]
    fn mem_pct_sums_each_process_percentage() {
        // psutil's memory_percent per process, summed: 1/3 + 1/3 of the
        // total, not (2/3 of it) computed once.
        let mut a = process(1);
        a.rss = 1;
        let mut b = process(2);
        b.rss = 1;
        let mut snap = snapshot(vec![a, b]);
        snap.total_memory = 3;
        let s = samples(&snap, None);
        assert_eq!(
            value(&s, "system.processes.mem.pct"),
            Some(1.0 / 3.0 * 100.0 + 1.0 / 3.0 * 100.0)
        );
    }

    fn with_cpu(pid: u32, user: f64, system: f64) -> Process {
        let mut p = process(pid);
        p.cpu_user = user;
        p.cpu_system = system;
        p
    }

    #[test]
    fn cpu_needs_a_previous_sample() {
        let mut history = CpuHistory::default();
        let mut first = snapshot(vec![with_cpu(10, 3.0, 1.0)]);
        first.host_cpu_time = 100.0;
        assert_eq!(history.update(&first), None);
        let s = samples(&first, None);
        assert_eq!(value(&s, "system.processes.cpu.pct"), None);
        assert_eq!(value(&s, "system.processes.cpu.normalized_pct"), None);

        // 0.5 s of CPU while the host's 2 CPUs advanced 2 s in total:
        // half of one CPU.
        let mut second = snapshot(vec![with_cpu(10, 3.25, 1.25)]);
        second.host_cpu_time = 102.0;
        let pct = history.update(&second);
        assert_eq!(pct, Some(50.0));
        let s = samples(&second, pct);
        assert_eq!(value(&s, "system.processes.cpu.pct"), Some(50.0));
        assert_eq!(value(&s, "system.processes.cpu.normalized_pct"), Some(25.0));
    }

    #[test]
    fn cpu_excludes_new_pids_and_forgets_gone_ones() {
        let mut history = CpuHistory::default();
        let mut first = snapshot(vec![with_cpu(10, 1.0, 0.0), with_cpu(20, 5.0, 0.0)]);
        first.host_cpu_time = 100.0;
        assert_eq!(history.update(&first), None);
        assert_eq!(history.tracked(), 2);

        // pid 10 used 1 s of 4 host seconds on 4 CPUs (100 %); pid 30 is
        // new, 20 is gone.
        let mut second = snapshot(vec![with_cpu(10, 2.0, 0.0), with_cpu(30, 9.0, 9.0)]);
        second.num_cpus = 4;
        second.host_cpu_time = 104.0;
        assert_eq!(history.update(&second), Some(100.0));
        assert_eq!(history.tracked(), 2);

        // pid 20 is back (same start time) but was forgotten: no sample.
        // pid 30 used 1 s of 4: 100 %; pid 10 used nothing: 0 %.
        let mut third = snapshot(vec![
            with_cpu(10, 2.0, 0.0),
            with_cpu(20, 6.0, 0.0),
            with_cpu(30, 9.5, 9.5),
        ]);
        third.num_cpus = 4;
        third.host_cpu_time = 108.0;
        assert_eq!(history.update(&third), Some(100.0));
    }

    #[test]
    fn cpu_reused_pid_is_a_new_process() {
        let mut history = CpuHistory::default();
        let mut first = snapshot(vec![with_cpu(10, 50.0, 0.0)]);
        first.host_cpu_time = 100.0;
        history.update(&first);
        let mut reused = with_cpu(10, 0.1, 0.0);
        reused.start_time += 30.0;
        let mut second = snapshot(vec![reused]);
        second.host_cpu_time = 102.0;
        assert_eq!(history.update(&second), None);
    }

    #[test]
    fn cpu_clamped_at_zero() {
        let mut history = CpuHistory::default();
        let mut first = snapshot(vec![with_cpu(10, 5.0, 0.0), with_cpu(11, 1.0, 0.0)]);
        first.host_cpu_time = 100.0;
        history.update(&first);
        // pid 10's counter went down (should not happen): 0, not negative.
        let mut second = snapshot(vec![with_cpu(10, 4.0, 0.0), with_cpu(11, 1.5, 0.0)]);
        second.host_cpu_time = 102.0;
        assert_eq!(history.update(&second), Some(50.0));
    }
}
