//! Host overhead of one run of an empty check from a ready instance:
//! `CheckInstance::run` (arm the deadline, call the guest's `run`, take
//! its submissions and output) plus `Collector::collect` (tags, aggregate,
//! flush). The guest is the misbehave test guest in mode `idle`, whose
//! `run` does nothing and submits nothing, so what is measured is the
//! host's own cost per run. Goal: ≤ 20 µs median.
//!
//! `cargo bench -p runner --bench empty_run`

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use runner::collector::Collector;

fn empty_run(c: &mut Criterion) {
    let scratch = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let sandbox = common::sandbox(None, true);
    let plugin = common::load(&rt, &sandbox, &common::misbehave_file(scratch.path()));
    let configs = common::instances(
        scratch.path(),
        "misbehave",
        "instances:\n\
         \x20 - {name: idle, mode: idle, tags: [\"env:bench\"]}\n\
         \x20 - {name: ok, mode: ok, tags: [\"env:bench\"]}\n",
    );
    let (idle, ok) = (&configs[0], &configs[1]);
    let snapshots = common::fresh_snapshots();

    let mut group = c.benchmark_group("empty_run");
    group
        .sample_size(100)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));

    // Set-up check (not timed): the idle run succeeds and submits nothing.
    let mut instance = common::prepared(&rt, &plugin, idle, &snapshots);
    let mut collector = Collector::new(idle, common::HOSTNAME, &[]);
    let outcome = rt.block_on(instance.run());
    assert_eq!(
        outcome.result,
        Ok(()),
        "idle run failed: {}",
        outcome.output
    );
    let collected = collector.collect(&outcome);
    assert!(collected.series.is_empty() && collected.service_checks.is_empty());

    // The goal: run + collect.
    common::bench_run_and_collect(
        &mut group,
        "idle/run+collect",
        &rt,
        &mut instance,
        &mut collector,
    );

    // The two halves, to see which one dominates.
    group.bench_function("idle/run", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(instance.run().await);
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("idle/collect", |b| {
        b.iter(|| black_box(collector.collect(&outcome)))
    });

    // Context: the smallest real check, one gauge and one service check.
    let mut instance = common::prepared(&rt, &plugin, ok, &snapshots);
    let mut collector = Collector::new(ok, common::HOSTNAME, &[]);
    let outcome = rt.block_on(instance.run());
    assert_eq!(outcome.result, Ok(()), "ok run failed: {}", outcome.output);
    assert_eq!(collector.collect(&outcome).series.len(), 1);
    common::bench_run_and_collect(
        &mut group,
        "ok_1_gauge_1_service_check/run+collect",
        &rt,
        &mut instance,
        &mut collector,
    );
    group.finish();
}

criterion_group!(benches, empty_run);
criterion_main!(benches);
