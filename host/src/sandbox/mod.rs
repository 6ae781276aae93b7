//! The sandbox: one wasmtime engine for the whole process, one store per
//! check instance, with a budget on time, memory, submissions and output.
//! It imports nothing from config, the catalog or the CLI: callers hand it
//! plugin bytes, plain [`Limits`] and [`ProcessGrants`].
//!
//! - [`core`]: the engine (pooling allocator) and linker;
//! - [`epoch`]: the ticker that lets deadlines interrupt running guests;
//! - [`store`]: a store's data and the per-call deadline;
//! - [`budget`]: what an instance holds and what a run has used;
//! - [`capabilities`]: one module per WIT interface the host provides;
//! - [`plugin`]: compiling a plugin (with an on-disk cache) and its `info`;
//! - [`instance`]: configuring and running one instance;
//! - [`errors`]: how a run ended, in words.
//!
//! The guest's generated types stay in here: what a run submitted comes
//! out as the runner's own [`submissions`] types.

mod bindings;
mod budget;
mod cache;
pub mod capabilities;
pub mod core;
mod epoch;
pub mod errors;
pub mod instance;
pub mod limits;
pub mod plugin;
mod store;
pub mod submissions;

pub use capabilities::network::{Denials, HostPort, NetworkGrants};
pub use capabilities::processes::ProcessGrants;
pub use capabilities::script::ScriptSource;
pub use core::{Allocation, Sandbox, Sizing};
pub use errors::RunError;
pub use instance::{CheckInstance, InstanceSpec, RunOutcome};
pub use limits::{Counted, LimitHit, Limits};
pub use plugin::{LoadedPlugin, PluginBytes, PluginError, Script};
pub use submissions::{EndpointKey, PluginInfo, Submissions};
