//! An on-disk cache of compiled plugins, so a `runner check` does not pay
//! Cranelift's compile time on every invocation.
//!
//! Loading a compiled artifact is `unsafe` in wasmtime: it is trusted
//! machine code. So the cache only reads files the runner wrote itself:
//! the directory must be owned by the current user and writable by nobody
//! else, files are written atomically (temp file + rename), and names carry
//! the plugin's sha256, the engine's compatibility hash and the runner's
//! version so a stale or foreign entry is never picked up.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Compile `bytes`, or load the compiled artifact cached under `cache_dir`.
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir.and_then(usable_dir) else {
        return Component::new(engine, bytes);
    };
    let path = dir.join(entry_name(engine, sha256));
    if path.is_file() {
        // SAFETY: the file is in a directory only this user can write, and
        // its name binds it to these exact plugin bytes and this engine.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(
                "ignoring unusable compiled plugin cache entry {}: {e}",
                path.display()
            ),
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(e) = store(&component, &path) {
        tracing::debug!(
            "could not write compiled plugin cache entry {}: {e}",
            path.display()
        );
    }
    Ok(component)
}

fn entry_name(engine: &Engine, sha256: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("{sha256}-{:016x}.cwasm", hasher.finish())
}

fn store(component: &Component, path: &Path) -> anyhow::Result<()> {
    let serialized = component.serialize()?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The cache directory, created if needed, or None when it is not safe to
/// load code from it.
fn usable_dir(dir: &Path) -> Option<PathBuf> {
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        tracing::debug!(
            "plugin cache disabled: cannot create {}: {e}",
            dir.display()
        );
        return None;
    }
    let meta = std::fs::metadata(dir).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let foreign_writable = meta.permissions().mode() & 0o022 != 0;
    if meta.uid() != me || foreign_writable {
        tracing::warn!(
            "plugin cache disabled: {} must be owned by uid {me} and not writable by group or others",
            dir.display()
        );
        return None;
    }
    Some(dir.to_path_buf())
}
