//! Turning a plugin file into something ready to instantiate: recognise
//! what the bytes are, compile them (through the cache), check that the
//! component implements the check world, and ask it for its `info`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::bindings::{CheckInfo, Plugin, PluginPre, WitEndpointKey};
use super::capabilities::processes::ProcessGrants;
use super::capabilities::script::ScriptSource;
use super::core::Sandbox;
use super::errors::{RunError, check_message, classify_trap};
use super::limits::{LimitHit, Limits};
use super::store::{HostState, StoreSetup, begin_call, new_store};
use super::submissions::{EndpointKey, PluginInfo};

/// The version of the WIT package this runner implements.
pub const VERSION: &str = "0.4.0";
/// The world this runner implements, for error messages.
pub const WORLD: &str = "runner:check/plugin@0.4.0";

/// The fixed budget of the `info` call made while loading a plugin: it
/// only describes the check, so it gets no say in its own limits.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(5);
pub const INFO_MEMORY: u64 = 64 << 20;

/// A plugin file's bytes, as the catalog found them.
pub struct PluginBytes<'a> {
    /// The check name it is loaded under.
    pub name: &'a str,
    /// Where it comes from, as `configcheck -v` shows it (`bundled`, a path).
    pub origin: String,
    pub bytes: &'a [u8],
    /// Hex sha256 of `bytes`, the compile cache's key.
    pub sha256: &'a str,
    /// For a script check: its source; `bytes` are then the runtime that
    /// runs it.
    pub script: Option<Script>,
}

/// A check written in a scripting language, as the catalog found it.
#[derive(Debug, Clone)]
pub struct Script {
    pub source: ScriptSource,
    /// Hex sha256 of the source file.
    pub sha256: String,
    /// What runs it, as `configcheck -v` shows it.
    pub runtime: String,
}

/// A compiled plugin, pre-instantiated (imports resolved and type-checked
/// once), with what it said about itself.
pub struct LoadedPlugin {
    pub name: String,
    /// Where it came from, as given in [`PluginBytes::origin`].
    pub origin: String,
    /// Hex sha256 of the plugin file (of the source, for a script).
    pub sha256: String,
    /// What the check said about itself; its schemas are compiled by the
    /// caller (see `config::CheckSchemas`).
    pub info: PluginInfo,
    /// For a script check: what runs it (`CPython 3.14.0 (componentize-py 0.25.1)`).
    pub runtime: Option<String>,
    pub(crate) script: Option<Arc<ScriptSource>>,
    pub(crate) pre: PluginPre<HostState>,
}

/// Why a plugin could not be loaded. The caller names the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

impl Sandbox {
    /// Compile and check a plugin and call its `info` export.
    pub async fn load_plugin(
        &self,
        file: PluginBytes<'_>,
    ) -> Result<Arc<LoadedPlugin>, PluginError> {
        let fail = |message: String| PluginError { message };
        recognise(file.bytes).map_err(fail)?;
        let component = self
            .compile(file.bytes, file.sha256, file.script.is_some())
            .await
            .map_err(|e| fail(format!("not a valid WebAssembly component: {e:#}")))?;
        // A component built against another version of the contract is
        // named as such, with both versions.
        if let Some(theirs) = other_contract(&component, self.engine()) {
            return Err(fail(format!(
                "it was built against {theirs}, but this runner implements \
                 runner:check@{VERSION}: rebuild it against this runner's wit/ or SDK"
            )));
        }
        let instance_pre = self.linker().instantiate_pre(&component).map_err(|e| {
            fail(format!(
                "does not implement the check world {WORLD}: {e:#} \
                 (rebuild it against this runner's wit/ or SDK)"
            ))
        })?;
        let pre = PluginPre::new(instance_pre).map_err(|e| {
            fail(format!(
                "does not export the check interface of {WORLD}: {e:#} \
                 (rebuild it against this runner's wit/ or SDK)"
            ))
        })?;
        let script = file.script.as_ref().map(|s| Arc::new(s.source.clone()));
        let (mut info, version) =
            call_info(&pre, file.name, script.clone())
                .await
                .map_err(|e| match e {
                    InfoError::Load(message) => fail(message),
                    InfoError::Run(e) => fail(format!("its `info` export failed: {e}")),
                })?;
        if let Some(version) = version {
            info.version = version;
        }
        Ok(Arc::new(LoadedPlugin {
            name: file.name.to_string(),
            origin: file.origin,
            sha256: file
                .script
                .as_ref()
                .map_or(file.sha256, |s| s.sha256.as_str())
                .to_string(),
            info,
            runtime: file.script.map(|s| s.runtime),
            script,
            pre,
        }))
    }
}

/// The `runner:check` version a component imports or exports, when it is
/// not this runner's (e.g. `runner:check@0.1.0 (runner:check/host@0.1.0)`).
fn other_contract(
    component: &wasmtime::component::Component,
    engine: &wasmtime::Engine,
) -> Option<String> {
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(name, _)| name)
        .chain(ty.exports(engine).map(|(name, _)| name));
    for name in names {
        let Some(rest) = name.strip_prefix("runner:check/") else {
            continue;
        };
        let Some((_, version)) = rest.split_once('@') else {
            continue;
        };
        if version != VERSION {
            return Some(format!("runner:check@{version} (it uses `{name}`)"));
        }
    }
    None
}

/// Say what the bytes are when they are not a component, in words that
/// point at the fix.
fn recognise(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        let start: String = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        return Err(format!(
            "not a WebAssembly file (it starts with `{start}`, not `00 61 73 6d`)"
        ));
    }
    // Bytes 4..8: version and layer. Layer 0 is a core module, 1 a component.
    if bytes[6..8] == [0, 0] {
        return Err("is a core WebAssembly module, not a component: build it with \
                    `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
            .to_string());
    }
    Ok(())
}

/// Why `info` (or a script's `load`) gave no description.
enum InfoError {
    /// The script runtime could not load the check's source: its words.
    Load(String),
    Run(RunError),
}

/// The export a script runtime loads its check's source with.
const SCRIPT_LOADER: &str = "runner:check/script-loader@0.4.0";

/// Call `info` in a store of its own, under its fixed budget; for a
/// script, first its runtime's `load` (which returns the script's
/// version).
async fn call_info(
    pre: &PluginPre<HostState>,
    name: &str,
    script: Option<Arc<ScriptSource>>,
) -> Result<(PluginInfo, Option<String>), InfoError> {
    let is_script = script.is_some();
    let limits = Limits {
        timeout: INFO_TIMEOUT,
        memory_bytes: INFO_MEMORY,
        max_metrics: 0,
        max_service_checks: 0,
        max_events: 0,
        max_metadata: 0,
        max_submission_bytes: 1 << 20,
        max_output_bytes: 64 << 10,
    };
    let fuel = limits.max_submission_bytes;
    let mut store = new_store(
        pre.engine(),
        StoreSetup {
            instance_id: format!("{name}:info").into(),
            hostname: "".into(),
            snapshots: None,
            grants: ProcessGrants::default(),
            network: None,
            limits,
            timeout: LimitHit::InfoTimeout(INFO_TIMEOUT),
            script,
        },
    );
    let _ticking = begin_call(&mut store, INFO_TIMEOUT);
    let call = async {
        let instance = pre.instance_pre().instantiate_async(&mut store).await?;
        let mut version = None;
        if is_script {
            match call_load(&mut store, &instance).await? {
                Ok(loaded) => version = Some(loaded),
                Err(message) => return wasmtime::Result::Ok(Err(message)),
            }
        }
        let plugin = Plugin::new(&mut store, &instance)?;
        let info = plugin.runner_check_check().call_info(&mut store).await?;
        Ok(Ok((info, version)))
    };
    let result = tokio::time::timeout(INFO_TIMEOUT, call).await;
    let (output, overflowed) = store.data().output.take();
    match result {
        Ok(Ok(Ok((info, version)))) => Ok((info.into(), version)),
        Ok(Ok(Err(message))) => Err(InfoError::Load(check_message(&message))),
        Ok(Err(trap)) => Err(InfoError::Run(classify_trap(
            &trap,
            store.data().limit_hit(overflowed),
            &output,
            fuel,
        ))),
        Err(_elapsed) => Err(InfoError::Run(RunError::Limit(LimitHit::InfoTimeout(
            INFO_TIMEOUT,
        )))),
    }
}

/// A script runtime's `load`: `Ok(version)` or the load error, in the
/// runtime's words.
async fn call_load(
    store: &mut wasmtime::Store<HostState>,
    instance: &wasmtime::component::Instance,
) -> wasmtime::Result<Result<String, String>> {
    let interface = instance
        .get_export_index(&mut *store, None, SCRIPT_LOADER)
        .ok_or_else(|| {
            wasmtime::format_err!("the script runtime does not export {SCRIPT_LOADER}")
        })?;
    let load = instance
        .get_export_index(&mut *store, Some(&interface), "load")
        .ok_or_else(|| wasmtime::format_err!("{SCRIPT_LOADER} has no `load`"))?;
    let func = instance.get_typed_func::<(), (Result<String, String>,)>(&mut *store, &load)?;
    let (result,) = func.call_async(&mut *store, ()).await?;
    Ok(result)
}

impl From<CheckInfo> for PluginInfo {
    fn from(info: CheckInfo) -> Self {
        PluginInfo {
            name: info.name,
            version: info.version,
            instance_schema: info.instance_schema,
            init_config_schema: info.init_config_schema,
            endpoint_keys: info
                .endpoint_keys
                .into_iter()
                .map(|key| match key {
                    WitEndpointKey::Url(key) => EndpointKey::Url(key),
                    WitEndpointKey::HostPort(keys) => EndpointKey::HostPort {
                        host: keys.host,
                        port: keys.port,
                        default_host: keys.default_host,
                        default_port: keys.default_port,
                    },
                })
                .collect(),
            file_keys: info.file_keys,
        }
    }
}
