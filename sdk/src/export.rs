//! The glue between the WIT exports and a [`Check`] type, used by
//! [`export_check!`](crate::export_check).

use std::any::Any;
use std::cell::RefCell;

use crate::CheckInfo;
use crate::{Check, Context, Error};

thread_local! {
    // The configured check of this component instance. Components are
    // single-threaded and one instance serves one conf.d instance.
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// `info` export: name, version and the schemas derived from the config types.
pub fn info<C: Check>() -> CheckInfo {
    let init_schema = schemars::schema_for!(C::InitConfig);
    CheckInfo {
        name: C::NAME.to_string(),
        version: C::VERSION.to_string(),
        instance_schema: schemars::schema_for!(C::Config).to_value().to_string(),
        init_config_schema: init_schema.to_value().to_string(),
        endpoint_keys: C::ENDPOINT_KEYS.iter().map(|k| k.to_wit()).collect(),
        file_keys: C::FILE_KEYS.iter().map(|k| k.to_string()).collect(),
    }
}

/// `configure` export: deserialise both configs and build the check.
pub fn configure<C: Check>(init_config: String, instance: String) -> Result<(), String> {
    // An empty `init_config:` in YAML is null: treat it as no keys.
    let init_config = match init_config.trim() {
        "" | "null" => "{}",
        text => text,
    };
    let init: C::InitConfig =
        serde_json::from_str(init_config).map_err(|e| format!("init_config: {e}"))?;
    let config: C::Config =
        serde_json::from_str(&instance).map_err(|e| format!("instance: {e}"))?;
    let check = C::configure(init, config).map_err(|Error(message)| message)?;
    INSTANCE.with(|slot| *slot.borrow_mut() = Some(Box::new(check)));
    Ok(())
}

/// `run` export: run the check and flush what it submitted, even on error.
pub fn run<C: Check>() -> Result<(), String> {
    INSTANCE.with(|slot| {
        let mut slot = slot.borrow_mut();
        let check = slot
            .as_mut()
            .and_then(|c| c.downcast_mut::<C>())
            .ok_or_else(|| "run called before a successful configure".to_string())?;
        let mut ctx = Context::new();
        let result = check.run(&mut ctx);
        ctx.flush();
        result.map_err(|Error(message)| message)
    })
}

/// Export a [`Check`] type as the component's `check` interface.
///
/// ```ignore
/// runner_sdk::export_check!(MyCheck);
/// ```
#[macro_export]
macro_rules! export_check {
    ($check:ty) => {
        // Only on wasm32: natively (unit tests of a check crate) the export
        // names are not valid linker symbols.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        struct __RunnerCheckExport;

        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::runner::check::check::Guest for __RunnerCheckExport {
            fn info() -> $crate::CheckInfo {
                $crate::__private::info::<$check>()
            }
            fn configure(
                init_config: ::std::string::String,
                instance: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::configure::<$check>(init_config, instance)
            }
            fn run() -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::run::<$check>()
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_plugin!(__RunnerCheckExport with_types_in $crate::bindings);

        // Natively the check type is still "used", so unit tests of a
        // check crate build without dead-code warnings.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() -> $crate::CheckInfo = $crate::__private::info::<$check>;
    };
}
