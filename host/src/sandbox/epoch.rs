//! The epoch ticker. Wasmtime interrupts a guest (to yield to the async
//! runtime, or to stop it at its deadline) only when its engine's epoch
//! advances, so something must advance it while guests run. One thread per
//! process does, every [`TICK`], for every engine, but only while a guest
//! call is in progress ([`ticking`]); otherwise it is parked, so an idle
//! runner does not wake up 100 times a second.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

/// How often the epoch advances during a call. A run that exceeds its time
/// limit is interrupted within one tick of it.
pub const TICK: Duration = Duration::from_millis(10);

/// Guest calls in progress, in every engine.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The engines to tick; dropped ones are forgotten at the next tick.
static ENGINES: Mutex<Vec<EngineWeak>> = Mutex::new(Vec::new());
/// The ticker thread, started with the first engine.
static THREAD: OnceLock<Thread> = OnceLock::new();

/// Advance `engine`'s epoch while any guest call is in progress.
pub fn register(engine: &Engine) {
    ENGINES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(engine.weak());
    THREAD.get_or_init(|| {
        std::thread::Builder::new()
            .name("runner-epoch".into())
            .spawn(tick_while_active)
            .expect("spawning the epoch ticker thread")
            .thread()
            .clone()
    });
}

/// Held for the length of a guest call: the epochs advance until the last
/// one is dropped.
#[must_use = "the epoch only advances while this is held"]
pub struct Ticking(());

/// Start ticking (if no call was in progress) until the result is dropped.
pub fn ticking() -> Ticking {
    if ACTIVE.fetch_add(1, Ordering::AcqRel) == 0
        && let Some(thread) = THREAD.get()
    {
        thread.unpark();
    }
    Ticking(())
}

impl Drop for Ticking {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

fn tick_while_active() {
    loop {
        if ACTIVE.load(Ordering::Acquire) == 0 {
            // An unpark between the load and here makes park return at
            // once: no call is missed.
            std::thread::park();
            continue;
        }
        ENGINES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|weak| match weak.upgrade() {
                Some(engine) => {
                    engine.increment_epoch();
                    true
                }
                None => false,
            });
        std::thread::sleep(TICK);
    }
}
