//! Which checks exist: the bundled ones compiled into the runner, and
//! drop-in `checks.d/<name>.wasm` files, which override a bundled check of
//! the same name.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Compiled into the runner binary.
    Bundled,
    /// A drop-in file under `checks.d/`.
    File(PathBuf),
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginSource::Bundled => f.write_str("bundled"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A plugin's bytes and identity, not yet compiled.
#[derive(Debug, Clone)]
pub struct PluginFile {
    /// The check name: the bundled name or the file stem.
    pub name: String,
    pub source: PluginSource,
    pub bytes: Cow<'static, [u8]>,
    /// Hex sha256 of `bytes`, shown by `configcheck -v` and keying the
    /// compile cache.
    pub sha256: String,
}

impl PluginFile {
    fn new(name: String, source: PluginSource, bytes: Cow<'static, [u8]>) -> Self {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Self {
            name,
            source,
            bytes,
            sha256,
        }
    }
}

/// All known checks by name.
#[derive(Debug, Default)]
pub struct Catalog {
    plugins: BTreeMap<String, PluginFile>,
    /// Problems reading `checks.d` (unreadable files); each names the file.
    pub warnings: Vec<String>,
}

impl Catalog {
    /// The bundled checks, overridden by `checks_d/*.wasm`. A missing
    /// `checks_d` is fine: there are simply no drop-in checks.
    pub fn discover(checks_d: &Path) -> Self {
        let mut catalog = Catalog::default();
        for (name, bytes, sha256) in bundled::BUNDLED {
            // Hashed at build time: the bytes are not read unless the
            // plugin has to be compiled.
            let file = PluginFile {
                name: name.to_string(),
                source: PluginSource::Bundled,
                bytes: Cow::Borrowed(bytes),
                sha256: sha256.to_string(),
            };
            catalog.plugins.insert(name.to_string(), file);
        }
        let entries = match std::fs::read_dir(checks_d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return catalog,
            Err(e) => {
                catalog
                    .warnings
                    .push(format!("{}: cannot list checks: {e}", checks_d.display()));
                return catalog;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.extension().and_then(|e| e.to_str()) != Some("wasm") || !path.is_file() {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let file = PluginFile::new(
                        name.to_string(),
                        PluginSource::File(path.clone()),
                        bytes.into(),
                    );
                    catalog.plugins.insert(name.to_string(), file);
                }
                Err(e) => catalog
                    .warnings
                    .push(format!("{}: cannot read check: {e}", path.display())),
            }
        }
        catalog
    }

    pub fn get(&self, name: &str) -> Option<&PluginFile> {
        self.plugins.get(name)
    }

    /// Known check names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.plugins.keys().map(String::as_str).collect()
    }

    /// The error for a check name nobody provides, listing the ones we know.
    pub fn not_found(&self, name: &str, checks_d: &Path) -> String {
        format!(
            "no check named `{name}`: it is not bundled and there is no {}; known checks: {}",
            checks_d.join(format!("{name}.wasm")).display(),
            self.names().join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_hashes_taken_at_build_time_match_the_bytes() {
        let catalog = Catalog::discover(Path::new("/nonexistent/checks.d"));
        for (name, _, _) in bundled::BUNDLED {
            let file = catalog.get(name).unwrap();
            assert_eq!(
                file.sha256,
                hex::encode(Sha256::digest(&file.bytes)),
                "{name}"
            );
        }
    }
}
