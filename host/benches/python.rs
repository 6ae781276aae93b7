//! Python checks (docs/BENCHMARKS.md §9): the same check run by the
//! runner's Python runtime and by CPython with Datadog's own base class
//! (`datadog-checks-base` from PyPI, `bench/python_native.sh`), side by
//! side in one run:
//! - time per run of a configured instance;
//! - a fresh instance: build, configure and run it once;
//! - memory per live instance, 100 instances, and a `runner run` daemon
//!   running 100 instances of the hello-world check every 2 s, after a
//!   minute;
//! - the runtime's one-time compile (time, peak memory) and its cache
//!   entry, and a load from the cache.
//!
//! Checks: Datadog's hello world (`examples/python/checks.d/hello.py`) and a typical
//! check that parses a payload and submits 60 samples
//! (`bench/python/typical.py`).
//!
//! `cargo bench -p runner --bench python` (about 4 minutes). `RUNNER_BENCH_RUNS` (2000),
//! `RUNNER_BENCH_FRESH` (100) and `RUNNER_BENCH_INSTANCES` (100) change
//! the counts. Results go to stdout and target/bench-python/results.md.
//! Nothing here asserts on time.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner::catalog::{Catalog, PluginFile};
use runner::sandbox::{CheckInstance, LoadedPlugin, Sandbox, Sizing};

const CHECKS: &[&str] = &["hello", "typical"];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fields of /proc/self/smaps_rollup and status, bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss: u64,
    pss: u64,
    private: u64,
    peak: u64,
}

/// The memory of process `pid` (`self` for this one), from /proc.
fn memory_of(pid: &str) -> Memory {
    let mut memory = Memory::default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for line in rollup.lines().chain(status.lines()) {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(kib)) = (
            parts.next(),
            parts.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            continue;
        };
        match key {
            "Rss:" => memory.rss = kib * 1024,
            "Pss:" => memory.pss = kib * 1024,
            "Private_Clean:" | "Private_Dirty:" => memory.private += kib * 1024,
            "VmHWM:" => memory.peak = kib * 1024,
            _ => {}
        }
    }
    memory
}

fn memory() -> Memory {
    memory_of("self")
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / times.len() as u32
}

/// What the native side measured (bench/python_native.py's JSON).
#[derive(Debug, Clone, serde::Deserialize)]
struct Native {
    python: String,
    run_median_s: f64,
    run_mean_s: f64,
    fresh_median_s: f64,
    process_rss: f64,
    process_pss: f64,
    private_per_instance: f64,
}

fn native(check: &Path, runs: usize, fresh: usize, instances: usize) -> Native {
    let output = Command::new(workspace_root().join("bench/python_native.sh"))
        .arg(check)
        .args([runs, fresh, instances].map(|n| n.to_string()))
        .output()
        .expect("running bench/python_native.sh");
    assert!(
        output.status.success(),
        "bench/python_native.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "bench/python_native.sh printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The runner's side for one check.
struct Measured {
    run_median: Duration,
    run_mean: Duration,
    fresh_median: Duration,
    private_per_instance: f64,
    pss_per_instance: f64,
    rss_per_instance: f64,
}

/// Where the benchmark's check `check` is.
fn check_source(check: &str) -> PathBuf {
    match check {
        "hello" => workspace_root().join("examples/python/checks.d/hello.py"),
        _ => workspace_root().join(format!("bench/python/{check}.py")),
    }
}

fn python_file(checks_d: &Path, check: &str) -> PluginFile {
    let source = check_source(check);
    std::fs::copy(&source, checks_d.join(format!("{check}.py"))).unwrap();
    Catalog::discover(checks_d)
        .get(check)
        .unwrap_or_else(|| panic!("{check}.py in checks.d"))
        .clone()
}

fn measure(
    rt: &tokio::runtime::Runtime,
    scratch: &Path,
    plugin: &Arc<LoadedPlugin>,
    check: &str,
    runs: usize,
    fresh: usize,
    count: usize,
) -> Measured {
    let yaml: String = std::iter::once("instances:\n".to_string())
        .chain((0..count.max(1)).map(|i| format!("  - name: i{i}\n    tags: [team:bench]\n")))
        .collect();
    let configs = common::instances(scratch, check, &yaml);
    let snapshots = common::fresh_snapshots();

    let mut instance = common::prepared(rt, plugin, &configs[0], &snapshots);
    let first = rt.block_on(instance.run());
    assert!(first.result.is_ok(), "{check}: {:?}", first.result);
    let mut per_run: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let outcome = rt.block_on(instance.run());
            let took = start.elapsed();
            assert!(outcome.result.is_ok(), "{check}: {:?}", outcome.result);
            took
        })
        .collect();
    drop(instance);

    let mut fresh_times: Vec<Duration> = (0..fresh)
        .map(|i| {
            let config = &configs[i % configs.len()];
            let start = Instant::now();
            let mut instance = CheckInstance::new(plugin.clone(), common::spec(config, &snapshots));
            let outcome = rt.block_on(instance.run());
            let took = start.elapsed();
            assert!(outcome.result.is_ok(), "{check}: {:?}", outcome.result);
            took
        })
        .collect();

    let before = memory();
    let live: Vec<CheckInstance> = configs
        .iter()
        .take(count)
        .map(|config| {
            let mut instance = CheckInstance::new(plugin.clone(), common::spec(config, &snapshots));
            let outcome = rt.block_on(instance.run());
            assert!(outcome.result.is_ok(), "{check}: {:?}", outcome.result);
            instance
        })
        .collect();
    let after = memory();
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / count as f64;
    let measured = Measured {
        run_median: median(&mut per_run),
        run_mean: mean(&per_run),
        fresh_median: median(&mut fresh_times),
        private_per_instance: per(after.private, before.private),
        pss_per_instance: per(after.pss, before.pss),
        rss_per_instance: per(after.rss, before.rss),
    };
    drop(live);
    measured
}

/// A `runner run` daemon with `count` instances of `check` every 2 s,
/// after `seconds`: its memory (PSS, RSS, private), from /proc.
fn daemon(scratch: &Path, cache: &Path, check: &str, count: usize, seconds: u64) -> Memory {
    let dir = scratch.join(format!("daemon-{check}-{count}"));
    let (conf_d, checks_d) = (dir.join("conf.d"), dir.join("checks.d"));
    std::fs::create_dir_all(&conf_d).unwrap();
    std::fs::create_dir_all(&checks_d).unwrap();
    std::fs::copy(check_source(check), checks_d.join(format!("{check}.py"))).unwrap();
    let yaml: String = std::iter::once("instances:\n".to_string())
        .chain((0..count).map(|i| format!("  - name: i{i}\n    min_collection_interval: 2\n")))
        .collect();
    std::fs::write(conf_d.join(format!("{check}.yaml")), yaml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["run", "--conf-d"])
        .arg(&conf_d)
        .arg("--checks-d")
        .arg(&checks_d)
        .env("RUNNER_LISTEN", "127.0.0.1:0")
        .env("RUNNER_CACHE_DIR", cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting runner run");
    std::thread::sleep(Duration::from_secs(seconds));
    let memory = memory_of(&child.id().to_string());
    let _ = child.kill();
    let _ = child.wait();
    memory
}

fn mib(bytes: f64) -> String {
    match bytes < f64::from(100 << 10) {
        true => format!("{:.1} KiB", bytes / 1024.0),
        false => format!("{:.1} MiB", bytes / f64::from(1 << 20)),
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

fn main() {
    let runs = env_number("RUNNER_BENCH_RUNS", 2000);
    let fresh = env_number("RUNNER_BENCH_FRESH", 100);
    let count = env_number("RUNNER_BENCH_INSTANCES", 100);
    let scratch = tempfile::tempdir().unwrap();
    let checks_d = scratch.path().join("checks.d");
    std::fs::create_dir_all(&checks_d).unwrap();
    let cache = scratch.path().join("cache");
    let rt = common::runtime();
    let sizing = Sizing {
        instances: count + fresh + 16,
        ..Sizing::default()
    };

    // The runtime's one-time compile, into an empty cache, then a load
    // from the cache by a new engine.
    let hello = python_file(&checks_d, "hello");
    let before_compile = memory();
    let start = Instant::now();
    let cold = Sandbox::new(Some(cache.clone()), sizing).unwrap();
    common::load(&rt, &cold, &hello);
    let compile = start.elapsed();
    let after_compile = memory();
    drop(cold);
    let cache_bytes: u64 = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let start = Instant::now();
    let sandbox = Sandbox::new(Some(cache.clone()), sizing).unwrap();
    common::load(&rt, &sandbox, &hello);
    let cached_load = start.elapsed();

    let mut out = String::new();
    writeln!(
        out,
        "Python runtime: {}; compile into an empty cache {:.2} s (peak RSS {}), \
         cache entry {}, load from the cache {} (runner process {} peak before the compile)\n",
        runner::catalog::python_runtime(),
        compile.as_secs_f64(),
        mib(after_compile.peak as f64),
        mib(cache_bytes as f64),
        ms(cached_load),
        mib(before_compile.peak as f64),
    )
    .unwrap();
    writeln!(
        out,
        "| Check | Measure | Runner | CPython + datadog-checks-base | Ratio |\n|---|---|---|---|---|"
    )
    .unwrap();
    let mut natives: Vec<Native> = Vec::new();
    for check in CHECKS {
        let file = python_file(&checks_d, check);
        let plugin = common::load(&rt, &sandbox, &file);
        let ours = measure(&rt, scratch.path(), &plugin, check, runs, fresh, count);
        let theirs = native(&checks_d.join(format!("{check}.py")), runs, fresh, count);
        let ratio = |a: f64, b: f64| format!("{:.1}×", a / b);
        let rows = [
            (
                "run (median)",
                ms(ours.run_median),
                ms(Duration::from_secs_f64(theirs.run_median_s)),
                ratio(ours.run_median.as_secs_f64(), theirs.run_median_s),
            ),
            (
                "run (mean)",
                ms(ours.run_mean),
                ms(Duration::from_secs_f64(theirs.run_mean_s)),
                ratio(ours.run_mean.as_secs_f64(), theirs.run_mean_s),
            ),
            (
                "fresh instance + first run (median)",
                ms(ours.fresh_median),
                ms(Duration::from_secs_f64(theirs.fresh_median_s)),
                ratio(ours.fresh_median.as_secs_f64(), theirs.fresh_median_s),
            ),
            (
                "private memory per live instance",
                mib(ours.private_per_instance),
                mib(theirs.private_per_instance),
                ratio(
                    ours.private_per_instance,
                    theirs.private_per_instance.max(1.0),
                ),
            ),
        ];
        for (measure, a, b, r) in rows {
            writeln!(out, "| {check} | {measure} | {a} | {b} | {r} |").unwrap();
        }
        writeln!(
            out,
            "| {check} | PSS / RSS per live instance | {} / {} | | |",
            mib(ours.pss_per_instance),
            mib(ours.rss_per_instance)
        )
        .unwrap();
        natives.push(theirs);
    }
    // The whole daemon, as a user runs it (the runtime already in the
    // cache), next to the native process holding as many instances.
    // After 60 s of runs every 2 s: the instances' memory has settled.
    let one = daemon(scratch.path(), &cache, "hello", 1, 60);
    let many = daemon(scratch.path(), &cache, "hello", count, 60);
    for (label, memory) in [("1 instance", one), (&format!("{count} instances"), many)] {
        writeln!(
            out,
            "| hello | whole process, {label}: PSS / RSS (private) | {} / {} ({}) | {} |  |",
            mib(memory.pss as f64),
            mib(memory.rss as f64),
            mib(memory.private as f64),
            match label {
                "1 instance" => "".to_string(),
                _ => format!(
                    "{} / {}",
                    mib(natives[0].process_pss),
                    mib(natives[0].process_rss)
                ),
            },
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nRunner: `runner run` for the whole-process rows (instances every 2 s, \
         measured after 60 s), the sandbox API in this process for the others. \
         Native: CPython {} with datadog-checks-base 38.7.0 (its stub aggregator), \
         all instances in one interpreter as in the Agent. {runs} runs, \
         {fresh} fresh instances, {count} live instances.",
        natives[0].python
    )
    .unwrap();
    print!("{out}");
    let dir = workspace_root().join("target/bench-python");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("results.md"), &out).unwrap();
}
