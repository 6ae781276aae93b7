//! Bindings generated from `wit/` by `wit-bindgen`: the same WIT files the
//! runner generates its host side from.

wit_bindgen::generate!({
    path: "../wit",
    world: "plugin",
    pub_export_macro: true,
    export_macro_name: "export_plugin",
    default_bindings_module: "runner_sdk::bindings",
    additional_derives: [Clone, PartialEq],
});
