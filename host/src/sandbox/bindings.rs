//! Host bindings generated from `wit/` by wasmtime's `bindgen!` — the same
//! WIT files the SDK generates the guest side from.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: {
        // Waits for the shared snapshot refresh, which reads /proc off the
        // async runtime's threads.
        "runner:check/host.query-processes": async | trappable,
        // Every other import may trap: that is how a run that breaks a
        // limit (too many metrics) is stopped on the spot.
        default: trappable,
    },
    exports: { default: async },
});
