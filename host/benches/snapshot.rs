//! The snapshot engine on this host: a full snapshot (every process with
//! every field, every TCP and UDP socket with its owning pids) read by a
//! new `Reader`, and a refresh by a `Reader` that has read once already
//! (its per-(pid, start time) caches warm).
//!
//! Not criterion: it prints one JSON object on stdout so that
//! bench/snapshot_compare.py can put it side by side with `ps` + `ss` and
//! psutil, in the same run and under the same synthetic load
//! (bench/snapshot.sh). Per iteration: wall time, user and system CPU; at
//! the end, peak RSS (VmHWM). A human summary goes to stderr.
//!
//! `cargo bench -p runner --bench snapshot`
//! (`RUNNER_BENCH_ITERS`, default 20 iterations of each).

use std::hint::black_box;
use std::time::Instant;

use runner::snapshot::{FieldSet, ProcessSnapshot, Reader, SnapshotSettings};

/// CPU time used so far by `who` (`RUSAGE_SELF` or `RUSAGE_THREAD`), in
/// milliseconds: (user, system).
fn cpu_ms(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    (ms(ru.ru_utime), ms(ru.ru_stime))
}

/// Per-iteration measurements, in milliseconds.
///
/// CPU is the whole process's (so any worker thread the reader starts
/// counts) and, separately, the calling thread's: the bench has no other
/// threads, so the two differ only by what the reader runs elsewhere.
#[derive(Default)]
struct Samples {
    wall_ms: Vec<f64>,
    user_ms: Vec<f64>,
    sys_ms: Vec<f64>,
    thread_user_ms: Vec<f64>,
    thread_sys_ms: Vec<f64>,
}

impl Samples {
    /// Runs `f` once and records its cost; returns its result so that the
    /// caller drops it outside the measurement.
    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (user0, sys0) = cpu_ms(libc::RUSAGE_SELF);
        let (tuser0, tsys0) = cpu_ms(libc::RUSAGE_THREAD);
        let start = Instant::now();
        let out = black_box(f());
        let wall = start.elapsed().as_secs_f64() * 1e3;
        let (tuser1, tsys1) = cpu_ms(libc::RUSAGE_THREAD);
        let (user1, sys1) = cpu_ms(libc::RUSAGE_SELF);
        self.wall_ms.push(wall);
        self.user_ms.push(user1 - user0);
        self.sys_ms.push(sys1 - sys0);
        self.thread_user_ms.push(tuser1 - tuser0);
        self.thread_sys_ms.push(tsys1 - tsys0);
        out
    }

    /// The same shape as the peers' output (bench/psutil_snapshot.py).
    fn json(&self) -> serde_json::Value {
        let series = [
            ("wall_ms", &self.wall_ms),
            ("user_ms", &self.user_ms),
            ("sys_ms", &self.sys_ms),
            ("thread_user_ms", &self.thread_user_ms),
            ("thread_sys_ms", &self.thread_sys_ms),
        ];
        let mut samples = serde_json::Map::new();
        let mut median_of = serde_json::Map::new();
        for (name, values) in series {
            samples.insert(name.into(), serde_json::json!(values));
            median_of.insert(name.into(), serde_json::json!(median(values)));
        }
        serde_json::json!({ "samples": samples, "median": median_of })
    }
}

/// Median as Python's `statistics.median` computes it (the mean of the two
/// middle values for an even count), so every tool is summarised alike.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Peak resident set size of this process so far, KiB (`VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn counts(snapshot: &ProcessSnapshot) -> (usize, Option<usize>) {
    (
        snapshot.processes.len(),
        snapshot.connections.as_ref().map(|c| c.rows.len()),
    )
}

fn main() {
    let iters: usize = std::env::var("RUNNER_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);

    // Untimed: fault in the code and warm the kernel's dentry caches, so
    // the first timed iteration is not the only cold one.
    black_box(
        Reader::new(SnapshotSettings::default())
            .refresh(FieldSet::ALL)
            .expect("warm-up snapshot"),
    );

    // What a new reader (a CLI call, a fresh service) pays: the reader is
    // created inside the measurement, dropped outside it.
    let mut first = Samples::default();
    let mut seen = (0, None);
    for _ in 0..iters {
        let (reader, snapshot) = first.measure(|| {
            let mut reader = Reader::new(SnapshotSettings::default());
            let snapshot = reader.refresh(FieldSet::ALL).expect("first snapshot");
            (reader, snapshot)
        });
        seen = counts(&snapshot);
        drop((reader, snapshot));
    }

    // What every later tick pays: the same reader, caches warm.
    let mut reader = Reader::new(SnapshotSettings::default());
    drop(reader.refresh(FieldSet::ALL).expect("priming refresh"));
    let mut refresh = Samples::default();
    for _ in 0..iters {
        let snapshot = refresh.measure(|| reader.refresh(FieldSet::ALL).expect("refresh"));
        drop(snapshot);
    }

    let peak = peak_rss_kib();
    let (processes, connections) = seen;
    let out = serde_json::json!({
        "tool": "runner",
        "iters": iters,
        "processes": processes,
        "connections": connections,
        "peak_rss_kib": peak,
        "runs": { "first": first.json(), "refresh": refresh.json() },
    });
    println!("{out}");
    eprintln!(
        "runner snapshot: {processes} processes, {} connections: first {:.1} ms \
         (user {:.1}, sys {:.1}), refresh {:.1} ms (user {:.1}, sys {:.1}), peak RSS {} KiB",
        connections.map_or("no".to_string(), |n| n.to_string()),
        median(&first.wall_ms),
        median(&first.user_ms),
        median(&first.sys_ms),
        median(&refresh.wall_ms),
        median(&refresh.user_ms),
        median(&refresh.sys_ms),
        peak.map_or("?".to_string(), |k| k.to_string()),
    );
}
