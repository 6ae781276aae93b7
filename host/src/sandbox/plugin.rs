//! Turning a plugin file into something ready to instantiate: recognise
//! what the bytes are, compile them (through the cache), check that the
//! component implements the check world, and ask it for its `info`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store;

use super::bindings::{Plugin, PluginPre};
use super::host_api::{CheckInfo, HostContext, HostState};
use super::{Sandbox, cache};
use crate::catalog::{PluginFile, PluginSource};
use crate::snapshot::SnapshotService;

/// The WIT package this runner implements, for error messages.
pub const WORLD: &str = "runner:check/plugin@0.1.0";

/// Limits for the `info` call made while loading a plugin.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);
const INFO_MEMORY: u64 = 64 << 20;

/// A compiled plugin, pre-instantiated (imports resolved and type-checked
/// once), with what it said about itself.
pub struct LoadedPlugin {
    pub name: String,
    pub source: PluginSource,
    pub sha256: String,
    /// What the check said about itself; its schemas are compiled by the
    /// caller (see `config::CheckSchemas`).
    pub info: CheckInfo,
    pub(crate) pre: PluginPre<HostState>,
}

/// Why a plugin could not be loaded. Every message names the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub plugin: String,
    pub source: PluginSource,
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            PluginSource::Bundled => write!(f, "bundled check `{}`: {}", self.plugin, self.message),
            PluginSource::File(path) => write!(f, "{}: {}", path.display(), self.message),
        }
    }
}

impl std::error::Error for PluginError {}

impl Sandbox {
    /// Compile and check a plugin and call its `info` export.
    pub async fn load_plugin(&self, file: &PluginFile) -> Result<Arc<LoadedPlugin>, PluginError> {
        let fail = |message: String| PluginError {
            plugin: file.name.clone(),
            source: file.source.clone(),
            message,
        };
        recognise(&file.bytes).map_err(fail)?;
        let component = cache::compile(self.engine(), &file.bytes, &file.sha256, self.cache_dir())
            .map_err(|e| fail(format!("not a valid WebAssembly component: {e:#}")))?;
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
        let info = call_info(&pre, &file.name)
            .await
            .map_err(|e| fail(format!("its `info` export failed: {e:#}")))?;
        Ok(Arc::new(LoadedPlugin {
            name: file.name.clone(),
            source: file.source.clone(),
            sha256: file.sha256.clone(),
            info,
            pre,
        }))
    }
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

async fn call_info(pre: &PluginPre<HostState>, name: &str) -> anyhow::Result<CheckInfo> {
    let context = HostContext {
        instance_id: format!("{name}:info").into(),
        hostname: "".into(),
        snapshots: Arc::new(SnapshotService::new(Duration::ZERO)),
    };
    let state = HostState::new(context, INFO_MEMORY, 0, 64 << 10);
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limiter);
    super::instance::install_deadline(&mut store, INFO_TIMEOUT);
    super::instance::begin_call(&mut store, INFO_TIMEOUT);
    let call = async {
        let plugin: Plugin = pre.instantiate_async(&mut store).await?;
        plugin.runner_check_check().call_info(&mut store).await
    };
    match tokio::time::timeout(INFO_TIMEOUT, call).await {
        Ok(result) => result.map_err(|e| anyhow::anyhow!("{e:#}")),
        Err(_) => anyhow::bail!("did not return within {}s", INFO_TIMEOUT.as_secs()),
    }
}
