//! The sandbox: one wasmtime engine for the whole process, one store per
//! check instance, with limits on time, memory, samples and output.
//!
//! - [`Sandbox`] owns the engine, the linker and the epoch ticker.
//! - [`plugin`] compiles a plugin file (with an on-disk cache) and checks
//!   that it implements the check world.
//! - [`instance`] runs one configured instance and rebuilds it after a
//!   trap.
//! - [`host_api`] is the guest/host boundary.

pub mod bindings;
mod cache;
pub mod host_api;
pub mod instance;
pub mod limits;
mod output;
pub mod plugin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

pub use host_api::{HostContext, HostState, Submissions};
pub use instance::{CheckInstance, InstanceSpec, RunError, RunOutcome};
pub use limits::LimitHit;
pub use plugin::{LoadedPlugin, PluginError};

/// How often the epoch advances. A run that exceeds its time limit is
/// interrupted within one tick of it.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Guest stack limit. Deep recursion traps cleanly instead of crashing.
const MAX_WASM_STACK: usize = 1 << 20;

/// The engine and linker shared by every plugin and instance.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cache_dir: Option<PathBuf>,
}

impl Sandbox {
    /// Build the engine. `cache_dir` holds compiled plugins between
    /// invocations (None: compile every time).
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("adding WASI to the linker")?;
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)
            .context("adding the runner's host interface to the linker")?;

        spawn_epoch_ticker(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    pub(crate) fn cache_dir(&self) -> Option<&std::path::Path> {
        self.inner.cache_dir.as_deref()
    }
}

/// Advance the engine's epoch every tick for as long as the engine lives.
/// A weak handle lets the thread end with the last `Sandbox`.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("runner-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}
