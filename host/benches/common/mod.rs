//! Shared set-up for the benchmarks: plugins, conf.d instances, contexts
//! and the async runtime. Everything here is set-up; nothing is timed.

#![allow(dead_code)] // each bench uses a different part of this module

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;

use runner::catalog::{Catalog, PluginFile};
use runner::collector::Collector;
use runner::config::{InstanceConfig, load_conf_d};
use runner::resolve::sandbox_limits;
use runner::sandbox::{CheckInstance, InstanceSpec, LoadedPlugin, ProcessGrants, Sandbox, Sizing};
use runner::snapshot::{SnapshotService, SnapshotSettings};

/// The hostname the benchmark instances are told about.
pub const HOSTNAME: &str = "bench-host";

/// A single-threaded tokio runtime with timers (the sandbox wraps every
/// call in `tokio::time::timeout`) and a blocking pool (snapshot reads).
/// `block_on` runs on the calling thread, as a scheduler worker would.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}

/// The misbehave test guest, as a `checks.d` drop-in would be loaded.
pub fn misbehave_file(scratch: &Path) -> PluginFile {
    let checks_d = scratch.join("checks.d");
    std::fs::create_dir_all(&checks_d).unwrap();
    let guest = PathBuf::from(env!("RUNNER_TEST_GUEST_DIR")).join("misbehave.wasm");
    std::fs::copy(&guest, checks_d.join("misbehave.wasm"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", guest.display()));
    Catalog::discover(&checks_d)
        .get("misbehave")
        .expect("misbehave.wasm in checks.d")
        .clone()
}

/// The bundled `process` check.
pub fn process_file() -> PluginFile {
    Catalog::discover(Path::new("/nonexistent-checks.d"))
        .get("process")
        .expect("the bundled process check")
        .clone()
}

/// Load a plugin (compile, pre-instantiate, call `info`).
pub fn load(
    rt: &tokio::runtime::Runtime,
    sandbox: &Sandbox,
    file: &PluginFile,
) -> Arc<LoadedPlugin> {
    rt.block_on(sandbox.load_plugin(file.to_load()))
        .unwrap_or_else(|e| panic!("loading {}: {e}", file.name))
}

/// The instances of `conf.d/<check>.yaml` holding `yaml`, loaded the way
/// the runner loads them (IDs, tags, default limits).
pub fn instances(scratch: &Path, check: &str, yaml: &str) -> Vec<InstanceConfig> {
    let conf_d = scratch.join(format!("conf.d-{check}"));
    std::fs::create_dir_all(&conf_d).unwrap();
    std::fs::write(conf_d.join(format!("{check}.yaml")), yaml).unwrap();
    let loaded = load_conf_d(&conf_d, &|_| None);
    assert!(
        loaded.errors.is_empty(),
        "conf.d errors: {:?}",
        loaded.errors
    );
    loaded.instances().cloned().collect()
}

/// What `CheckInstance::new` needs for a conf.d instance.
pub fn spec(config: &InstanceConfig, snapshots: &Arc<SnapshotService>) -> InstanceSpec {
    InstanceSpec {
        id: config.id.clone(),
        init_config: config.init_config.clone(),
        instance: config.instance.clone(),
        limits: sandbox_limits(&config.limits),
        grants: ProcessGrants::default(),
        network: Default::default(),
        hostname: HOSTNAME.into(),
        snapshots: Arc::clone(snapshots),
    }
}

/// A sandbox as the runner builds it (pooling allocator), or with
/// on-demand allocation for comparison.
pub fn sandbox(cache_dir: Option<PathBuf>, pooling: bool) -> Sandbox {
    Sandbox::new(
        cache_dir,
        Sizing {
            pooling,
            ..Sizing::default()
        },
    )
    .unwrap()
}

/// A snapshot service whose snapshot never goes stale during a benchmark.
pub fn fresh_snapshots() -> Arc<SnapshotService> {
    Arc::new(SnapshotService::new(
        SnapshotSettings::default(),
        Duration::from_secs(24 * 3600),
    ))
}

/// A ready (instantiated and configured) instance.
pub fn prepared(
    rt: &tokio::runtime::Runtime,
    plugin: &Arc<LoadedPlugin>,
    config: &InstanceConfig,
    snapshots: &Arc<SnapshotService>,
) -> CheckInstance {
    let mut instance = CheckInstance::new(Arc::clone(plugin), spec(config, snapshots));
    rt.block_on(instance.prepare())
        .unwrap_or_else(|e| panic!("preparing {}: {e}", config.id));
    instance
}

/// A long-lived process whose name (comm) is `name`: `sleep` started
/// through a symlink called `name`, so a narrow exact-name search matches
/// exactly one process. Its command line is `<scratch>/<name> 86400`.
/// Killed on drop.
pub struct NamedSleeper {
    child: std::process::Child,
}

impl NamedSleeper {
    pub fn start(scratch: &Path, name: &str) -> Self {
        let sleep = ["/usr/bin/sleep", "/bin/sleep"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("a sleep binary");
        let link = scratch.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(sleep, &link).unwrap();
        }
        let child = std::process::Command::new(&link)
            .arg("86400")
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", link.display()));
        Self { child }
    }
}

impl Drop for NamedSleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Benchmark one scheduled run as the scheduler does it: `instance.run()`
/// then `collector.collect(..)`, per iteration.
pub fn bench_run_and_collect(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    rt: &tokio::runtime::Runtime,
    instance: &mut CheckInstance,
    collector: &mut Collector,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let outcome = instance.run().await;
                    black_box(collector.collect(&outcome));
                }
                start.elapsed()
            })
        })
    });
}
