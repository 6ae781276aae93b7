//! Time to get a fresh instance ready: `CheckInstance::prepare`
//! (instantiate the pre-instantiated plugin in a new store, then call the
//! guest's `configure`), for the idle misbehave guest and for `process`.
//! Dropping the instance is not timed.
//!
//! As context, the one-time plugin load (`Sandbox::load_plugin`: compile
//! or load from the cache, pre-instantiate, call `info`, parse schemas),
//! without a cache (Cranelift compiles the bytes) and from a warm on-disk
//! cache.
//!
//! `cargo bench -p runner --bench instantiate`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use runner::catalog::PluginFile;
use runner::config::InstanceConfig;
use runner::sandbox::{CheckInstance, LoadedPlugin, Sandbox};
use runner::snapshot::SnapshotService;

fn prepare_bench(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    plugin: &Arc<LoadedPlugin>,
    config: &InstanceConfig,
    snapshots: &Arc<SnapshotService>,
) {
    let spec = common::spec(config, snapshots);
    // Set-up check (not timed): the instance configures.
    drop(common::prepared(rt, plugin, config, snapshots));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut instance = CheckInstance::new(Arc::clone(plugin), spec.clone());
                    let start = Instant::now();
                    let prepared = instance.prepare().await;
                    total += start.elapsed();
                    black_box(prepared).unwrap();
                    drop(instance);
                }
                total
            })
        })
    });
}

fn instantiate(c: &mut Criterion) {
    let scratch = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let snapshots = common::fresh_snapshots();
    let misbehave = common::misbehave_file(scratch.path());
    let process = common::process_file();

    let sandbox = common::sandbox(None, true);
    let on_demand = common::sandbox(None, false);
    let idle_plugin = common::load(&rt, &sandbox, &misbehave);
    let process_plugin = common::load(&rt, &sandbox, &process);
    let idle_on_demand = common::load(&rt, &on_demand, &misbehave);
    let idle = common::instances(
        scratch.path(),
        "misbehave",
        "instances:\n  - {name: idle, mode: idle}\n",
    );
    let sshd = common::instances(
        scratch.path(),
        "process",
        "instances:\n  - {name: sshd, search_string: [sshd], tags: [env:bench]}\n",
    );

    let mut group = c.benchmark_group("instantiate");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    prepare_bench(
        &mut group,
        "idle/prepare",
        &rt,
        &idle_plugin,
        &idle[0],
        &snapshots,
    );
    prepare_bench(
        &mut group,
        "idle/prepare_on_demand",
        &rt,
        &idle_on_demand,
        &idle[0],
        &snapshots,
    );
    prepare_bench(
        &mut group,
        "process/prepare",
        &rt,
        &process_plugin,
        &sshd[0],
        &snapshots,
    );
    group.finish();

    // One-time plugin load, as context. Compiling takes a good fraction
    // of a second: few, flat samples.
    let mut group = c.benchmark_group("plugin_load");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    let cache_dir = scratch.path().join("cache");
    let cached = common::sandbox(Some(cache_dir.clone()), true);
    for file in [&misbehave, &process] {
        load_benches(&mut group, &rt, &sandbox, &cached, file);
    }
    let entries = std::fs::read_dir(&cache_dir).unwrap().count();
    assert_eq!(entries, 2, "the cache holds one entry per plugin");
    group.finish();
}

fn load_benches(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    uncached: &Sandbox,
    cached: &Sandbox,
    file: &PluginFile,
) {
    let name = &file.name;
    let kib = file.bytes.len() / 1024;
    group.bench_function(format!("{name}_{kib}KiB/compile_no_cache"), |b| {
        b.iter(|| black_box(common::load(rt, uncached, file)))
    });
    // Fill the cache once; every timed load then deserializes it.
    common::load(rt, cached, file);
    group.bench_function(format!("{name}_{kib}KiB/from_disk_cache"), |b| {
        b.iter(|| black_box(common::load(rt, cached, file)))
    });
}

criterion_group!(benches, instantiate);
criterion_main!(benches);
