//! The sandbox core: the one wasmtime [`Engine`] of the process (pooling
//! allocator sized from the configured instances, epoch interruption (see
//! [`super::epoch`]), the
//! compiled-plugin cache) and the [`Linker`] every capability registers
//! itself in. It knows nothing of config files or the CLI: callers hand it
//! plain numbers ([`Sizing`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::sync::OnceCell;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::budget::{MAX_MEMORIES, MAX_TABLES};
use super::cache;
use super::capabilities;
use super::epoch;
use super::store::HostState;

/// Guest stack limit. Deep recursion traps cleanly instead of crashing.
const MAX_WASM_STACK: usize = 1 << 20;

/// Pool slots beyond the configured instances: `info` calls while plugins
/// load, and an instance rebuilt while its old store is still dropping.
const SPARE_SLOTS: usize = 16;
/// Core instances of one component: a Rust component has about five
/// (its module plus WASI shims); interpreters have more.
const CORE_INSTANCES_PER_COMPONENT: usize = 50;
/// Most elements of one table. Rust components use a few hundred;
/// CPython's function table has tens of thousands.
const TABLE_ELEMENTS: usize = 200_000;

/// Bytes of a freed memory slot kept resident for reuse.
const KEEP_RESIDENT: usize = 1 << 20;

/// What the engine is sized for.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    /// Check instances that may exist at once.
    pub instances: usize,
    /// The largest memory cap of any instance, bytes.
    pub max_memory_bytes: u64,
    /// Reserve a pool of instance slots up front (the default); `false`
    /// allocates every instance on demand.
    pub pooling: bool,
}

impl Default for Sizing {
    fn default() -> Self {
        Self {
            instances: 16,
            max_memory_bytes: super::Limits::default().memory_bytes,
            pooling: true,
        }
    }
}

/// How instances get their memory: from a pool reserved up front, or
/// on demand when the pool could not be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    Pooling { slots: usize },
    OnDemand,
}

/// The engine and linker shared by every plugin and instance.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
    allocation: Allocation,
    /// Components shared by several checks (a script runtime runs every
    /// script check), by sha256: compiled or loaded once per process.
    shared: Mutex<HashMap<String, Arc<OnceCell<Component>>>>,
}

impl Sandbox {
    /// Build the engine. `cache_dir` holds compiled plugins between
    /// invocations (None: compile every time).
    pub fn new(cache_dir: Option<PathBuf>, sizing: Sizing) -> anyhow::Result<Self> {
        let slots = sizing.instances + SPARE_SLOTS;
        let pooled = match sizing.pooling {
            true => Engine::new(&config(Some((slots, sizing)))),
            false => Err(wasmtime::format_err!("pooling not asked for")),
        };
        let (engine, allocation) = match pooled {
            Ok(engine) => (engine, Allocation::Pooling { slots }),
            Err(e) if !sizing.pooling => {
                tracing::debug!("allocating on demand: {e}");
                let engine = Engine::new(&config(None))
                    .map_err(anyhow::Error::from)
                    .context("creating the wasmtime engine")?;
                (engine, Allocation::OnDemand)
            }
            Err(e) => {
                // Address space is short (e.g. a low `ulimit -v`): the
                // on-demand allocator needs no reservation up front.
                tracing::warn!("instance pool unavailable, allocating on demand: {e:#}");
                let engine = Engine::new(&config(None))
                    .map_err(anyhow::Error::from)
                    .context("creating the wasmtime engine")?;
                (engine, Allocation::OnDemand)
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding WASI to the linker")?;
        capabilities::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding the runner's capabilities to the linker")?;
        epoch::register(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir,
                allocation,
                shared: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether instances come from the pool.
    pub fn allocation(&self) -> Allocation {
        self.inner.allocation
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Compile `bytes` (through the on-disk cache) on a blocking thread:
    /// a large component takes seconds. A `shared` component is kept and
    /// compiled once however many checks ask for it at once.
    pub(crate) async fn compile(
        &self,
        bytes: &[u8],
        sha256: &str,
        shared: bool,
    ) -> wasmtime::Result<Component> {
        if !shared {
            return self
                .compile_blocking(bytes.to_vec(), sha256.to_string())
                .await;
        }
        let cell = {
            let mut shared = self.inner.shared.lock().unwrap_or_else(|e| e.into_inner());
            shared.entry(sha256.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| self.compile_blocking(bytes.to_vec(), sha256.to_string()))
            .await
            .cloned()
    }

    async fn compile_blocking(
        &self,
        bytes: Vec<u8>,
        sha256: String,
    ) -> wasmtime::Result<Component> {
        let engine = self.inner.engine.clone();
        let cache_dir = self.inner.cache_dir.clone();
        tokio::task::spawn_blocking(move || {
            let compiled = cache::compile(&engine, &bytes, &sha256, cache_dir.as_deref());
            release_freed_memory();
            compiled
        })
        .await
        .map_err(|e| wasmtime::format_err!("compiling the plugin failed: {e}"))?
    }
}

/// Give memory freed by a compile back to the system: compiling a large
/// component (the Python runtime) peaks at hundreds of MB, which the
/// allocator would otherwise keep for the life of the daemon.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory; it has no
    // preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The engine configuration; `pool` sizes the pooling allocator.
fn config(pool: Option<(usize, Sizing)>) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK);
    if let Some((slots, sizing)) = pool {
        let slots32 = u32::try_from(slots).unwrap_or(u32::MAX);
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(slots32)
            .total_core_instances(slots32.saturating_mul(8))
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT as u32)
            // A component may define several memories and tables, but all
            // of them share its one byte cap (see `budget`).
            .max_memories_per_component(MAX_MEMORIES as u32)
            .max_tables_per_component(MAX_TABLES as u32)
            .max_memories_per_module(2)
            .max_tables_per_module(4)
            .total_memories(
                slots32
                    .saturating_mul(2)
                    .saturating_add(MAX_MEMORIES as u32),
            )
            .total_tables(slots32.saturating_mul(8).saturating_add(MAX_TABLES as u32))
            .table_elements(TABLE_ELEMENTS)
            .max_memory_size(usize::try_from(sizing.max_memory_bytes).unwrap_or(usize::MAX))
            .total_stacks(slots32)
            // A reused slot is reset with memset for what a small check
            // touches (and only the pages it touched, where the kernel can
            // say which) instead of madvise and fresh page faults.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            // ...for at most this many free slots, so what stays resident
            // is bounded (16 MiB) however many instances come and go.
            .max_unused_warm_slots(SPARE_SLOTS as u32)
            .table_keep_resident(KEEP_RESIDENT / 16)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    config
}
