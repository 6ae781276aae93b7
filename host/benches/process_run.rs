//! The bundled `process` check on this host's full process list, beyond
//! the shared snapshot. The snapshot service is warmed once and never goes
//! stale, so a run measures what each instance adds: the host-side query,
//! copying the matched rows into the guest, the guest's own work, and
//! `Collector::collect`. Goal: ≤ 1 ms per instance.
//!
//! Also measured, as context: the shared snapshot itself (paid once per
//! tick for all instances): a first snapshot (nothing cached) and a
//! refresh (command lines, exe, users and container ids reused), and the
//! host-side query alone.
//!
//! `cargo bench -p runner --bench process_run`
//!
//! `RUNNER_BENCH_EXTRA_PROCS=<n>` starts n extra `sleep` processes first,
//! to see how the costs grow with a bigger process list.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use runner::collector::Collector;
use runner::snapshot::{FieldSet, ProcessQuery, Reader, SnapshotSettings};

/// Realistic instances: everything (worst case), one exact name, and a
/// command-line regex (one pattern that matches, one that does not).
const INSTANCES: &str = r#"
init_config:
instances:
  - name: all
    search_string: [All]
    tags: [env:bench]
  - name: sshd
    search_string: [bench-sshd]
    tags: [env:bench]
  - name: sshd-regex
    search_string: ['bench-sshd \d+$', 'java.*kafka\.Kafka']
    exact_match: false
    tags: [env:bench]
"#;

fn extra_processes() -> Vec<std::process::Child> {
    let n: usize = std::env::var("RUNNER_BENCH_EXTRA_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (0..n)
        .map(|_| {
            std::process::Command::new("sleep")
                .arg("86400")
                .spawn()
                .expect("starting sleep")
        })
        .collect()
}

fn process_run(c: &mut Criterion) {
    let scratch = tempfile::tempdir().unwrap();
    let _sshd = common::NamedSleeper::start(scratch.path(), "bench-sshd");
    let mut extra = extra_processes();
    let rt = common::runtime();

    // The shared refresh, as context.
    // What the `process` check reads.
    let fields = FieldSet {
        open_fds: true,
        io: true,
        ..FieldSet::NONE
    };
    let first = || Reader::new(SnapshotSettings::default()).refresh(fields);
    let pids = first().unwrap().processes.len();
    eprintln!("process snapshot: {pids} processes on this host");
    let mut group = c.benchmark_group("snapshot");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.bench_function(format!("first/{pids}_pids"), |b| {
        b.iter(|| black_box(first().unwrap()))
    });
    let mut reader = Reader::new(SnapshotSettings::default());
    group.bench_function(format!("refresh/{pids}_pids"), |b| {
        b.iter(|| black_box(reader.refresh(fields).unwrap()))
    });
    group.finish();

    let sandbox = common::sandbox(None, true);
    let plugin = common::load(&rt, &sandbox, &common::process_file());
    let configs = common::instances(scratch.path(), "process", INSTANCES);
    let snapshots = common::fresh_snapshots();
    // Warm the shared snapshot: every run below reuses it.
    let snapshot = rt.block_on(snapshots.get(fields)).unwrap();

    let mut group = c.benchmark_group("process_run");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut last_outcome = None;
    for config in &configs {
        let name = config.name.as_deref().unwrap();
        let mut instance = common::prepared(&rt, &plugin, config, &snapshots);
        let mut collector = Collector::new(config, common::HOSTNAME, &[]);
        // Set-up check (not timed): the run succeeds, and what it matched.
        let outcome = rt.block_on(instance.run());
        assert_eq!(outcome.result, Ok(()), "{name}: {}", outcome.output);
        let matched = outcome
            .submissions
            .metrics
            .iter()
            .find(|m| m.name == "system.processes.number")
            .map_or(0.0, |m| m.value);
        let collected = collector.collect(&outcome);
        eprintln!(
            "process instance {name}: {matched} processes matched, {} metric samples",
            collected.metric_samples
        );
        assert!(matched >= 1.0, "{name} matched no process");

        common::bench_run_and_collect(
            &mut group,
            &format!("{name}/run+collect"),
            &rt,
            &mut instance,
            &mut collector,
        );
        last_outcome = Some((config, outcome));
    }
    assert_eq!(snapshots.refresh_count(), 1, "the snapshot went stale");
    // The collector's share: every instance submits the same 22 samples.
    let (config, outcome) = last_outcome.unwrap();
    let mut collector = Collector::new(config, common::HOSTNAME, &[]);
    let samples = outcome.submissions.metrics.len();
    group.bench_function(format!("collect_only/{samples}_samples"), |b| {
        b.iter(|| black_box(collector.collect(&outcome)))
    });
    group.finish();

    // The host-side selection alone (what `query-processes` does before
    // copying rows into the guest), for the same three queries.
    let queries = [
        (
            "all",
            ProcessQuery {
                all: true,
                ..Default::default()
            },
        ),
        (
            "sshd",
            ProcessQuery {
                names: vec!["bench-sshd".into()],
                ..Default::default()
            },
        ),
        (
            "sshd-regex",
            ProcessQuery {
                cmdline_patterns: vec![r"bench-sshd \d+$".into(), r"java.*kafka\.Kafka".into()],
                ..Default::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("snapshot_query");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for (name, query) in &queries {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(snapshot.query(query).unwrap().len()))
        });
    }
    group.finish();

    for child in &mut extra {
        let _ = child.kill();
        let _ = child.wait();
    }
}

criterion_group!(benches, process_run);
criterion_main!(benches);
