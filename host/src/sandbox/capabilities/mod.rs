//! The host capabilities a check imports, one module per WIT interface.
//! Each has its own small context in the store, charges its own budget
//! (see `budget`) and, where it touches the host, checks its own grant.
//! The guest's generated types are converted into the runner's own here.
//!
//! - [`metrics`]: metric samples and the hostname;
//! - [`reporting`]: service checks, events and metadata;
//! - [`log`]: log lines (and [`output`], the WASI stdout/stderr capture
//!   that shares their cap);
//! - [`processes`]: queries of the process snapshot;
//! - [`connections`]: queries of the host's sockets;
//! - [`network`]: TCP and HTTP to the endpoints the instance was granted;
//! - [`script`]: a script runtime's check source (Python checks).

pub mod connections;
pub mod log;
pub mod metrics;
pub mod network;
pub mod output;
pub mod processes;
pub mod reporting;
pub mod script;

#[cfg(test)]
mod fuzz;

use wasmtime::component::Linker;

use super::store::HostState;

/// Register every capability's imports.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    metrics::add_to_linker(linker)?;
    reporting::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    processes::add_to_linker(linker)?;
    connections::add_to_linker(linker)?;
    network::add_to_linker(linker)?;
    script::add_to_linker(linker)?;
    // `wasi:http` itself, with the store's hooks as the allow-list.
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    Ok(())
}
