//! Host bindings generated from `wit/` by wasmtime's `bindgen!` — the same
//! WIT files the SDK generates the guest side from. Private to the
//! sandbox: the capabilities convert these types into the runner's own
//! (see `submissions`) before anything leaves it.

wasmtime::component::bindgen!({
    path: "../wit",
    // The check world plus `script`, which only script runtimes import.
    world: "runner",
    imports: {
        // Waits for the shared snapshot refresh and matches off the async
        // runtime's threads.
        "runner:check/processes.query-processes": async | trappable,
        // Waits for the shared snapshot refresh (sockets and their owners).
        "runner:check/connections.query-connections": async | trappable,
        // Resolves a granted name, within the run's deadline.
        "runner:check/network.resolve": async | trappable,
        // Every other import may trap: that is how a run that breaks a
        // budget is stopped on the spot.
        default: trappable,
    },
    exports: { default: async },
});

pub(crate) use self::exports::runner::check::check::{CheckInfo, EndpointKey as WitEndpointKey};
pub(crate) use self::runner::check::{
    connections, log, metrics, network, processes, reporting, script,
};
/// A check component, as the host sees it (the `runner` world's exports
/// are the check world's).
pub(crate) use self::{Runner as Plugin, RunnerPre as PluginPre};
