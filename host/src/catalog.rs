//! Which checks exist: the bundled ones compiled into the runner, and
//! drop-in `checks.d/<name>.wasm` components and `checks.d/<name>.py`
//! Datadog Python checks (run by the bundled Python runtime), which
//! override a bundled check of the same name.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::sandbox::{PluginBytes, Script, ScriptSource};

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
    /// For a Python check: its source; `bytes` are then the Python
    /// runtime's.
    pub script: Option<Script>,
}

/// The largest Python check file read: a check is source code, not data.
pub const MAX_SCRIPT_BYTES: u64 = 4 << 20;

/// The bundled Python runtime: what runs every `checks.d/<name>.py`.
pub fn python_runtime() -> &'static str {
    bundled::PYTHON_RUNTIME_DESCRIPTION
}

impl PluginFile {
    fn new(name: String, source: PluginSource, bytes: Cow<'static, [u8]>) -> Self {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Self {
            name,
            source,
            bytes,
            sha256,
            script: None,
        }
    }

    /// The plugin as the sandbox loads it.
    pub fn to_load(&self) -> PluginBytes<'_> {
        PluginBytes {
            name: &self.name,
            origin: self.source.to_string(),
            bytes: &self.bytes,
            sha256: &self.sha256,
            script: self.script.clone(),
        }
    }

    /// A Python check: its source, run by the bundled runtime.
    fn python(name: String, path: &Path, text: String) -> Self {
        let (bytes, runtime_sha256) = bundled::PYTHON_RUNTIME;
        let source = ScriptSource {
            check: name.clone(),
            path: path.display().to_string(),
            text,
        };
        Self {
            script: Some(Script {
                sha256: hex::encode(Sha256::digest(source.text.as_bytes())),
                source,
                runtime: python_runtime().to_string(),
            }),
            name,
            source: PluginSource::File(path.to_path_buf()),
            bytes: Cow::Borrowed(bytes),
            sha256: runtime_sha256.to_string(),
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
                script: None,
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
        // Components first: where both `<name>.wasm` and `<name>.py`
        // exist, the component runs and the Python file is named in a
        // warning.
        for extension in ["wasm", "py"] {
            for path in &paths {
                if path.extension().and_then(|e| e.to_str()) != Some(extension) || !path.is_file() {
                    continue;
                }
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                catalog.add_file(name, path, extension == "py");
            }
        }
        catalog
    }

    fn add_file(&mut self, name: &str, path: &Path, python: bool) {
        if python
            && let Some(PluginFile {
                source: PluginSource::File(component),
                ..
            }) = self.plugins.get(name)
        {
            self.warnings.push(format!(
                "{}: ignored: {} is the check `{name}` (remove one of the two)",
                path.display(),
                component.display()
            ));
            return;
        }
        let file = match python {
            true => read_script(path).map(|text| PluginFile::python(name.to_string(), path, text)),
            false => std::fs::read(path).map(|bytes| {
                PluginFile::new(
                    name.to_string(),
                    PluginSource::File(path.to_path_buf()),
                    bytes.into(),
                )
            }),
        };
        match file {
            Ok(file) => {
                self.plugins.insert(name.to_string(), file);
            }
            Err(e) => self
                .warnings
                .push(format!("{}: cannot read check: {e}", path.display())),
        }
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
            "no check named `{name}`: it is not bundled and there is no {} or {}; known checks: {}",
            checks_d.join(format!("{name}.wasm")).display(),
            checks_d.join(format!("{name}.py")).display(),
            self.names().join(", ")
        )
    }
}

/// A Python check's source: UTF-8 (as Python reads it), at most
/// [`MAX_SCRIPT_BYTES`].
fn read_script(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    let file = std::fs::File::open(path)?;
    let read = file.take(MAX_SCRIPT_BYTES + 1).read_to_string(&mut text)?;
    if read as u64 > MAX_SCRIPT_BYTES {
        return Err(std::io::Error::other(format!(
            "a Python check may be at most {} MiB",
            MAX_SCRIPT_BYTES >> 20
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_files_are_checks_and_a_component_of_the_same_name_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.py"), "# a check\n").unwrap();
        std::fs::write(dir.path().join("both.py"), "# a check\n").unwrap();
        std::fs::write(dir.path().join("both.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a check").unwrap();
        let catalog = Catalog::discover(dir.path());

        let hello = catalog.get("hello").unwrap();
        let script = hello.script.as_ref().unwrap();
        assert_eq!(script.source.check, "hello");
        assert_eq!(script.source.text, "# a check\n");
        assert_eq!(
            script.sha256,
            hex::encode(Sha256::digest(b"# a check\n")),
            "the source's hash identifies the plugin"
        );
        assert_eq!(
            hello.sha256,
            bundled::PYTHON_RUNTIME.1,
            "the runtime is compiled"
        );
        assert_eq!(script.runtime, python_runtime());

        assert!(catalog.get("both").unwrap().script.is_none());
        assert_eq!(catalog.warnings.len(), 1, "{:?}", catalog.warnings);
        assert!(
            catalog.warnings[0].ends_with(&format!(
                "both.py: ignored: {} is the check `both` (remove one of the two)",
                dir.path().join("both.wasm").display()
            )),
            "{:?}",
            catalog.warnings
        );
        assert!(catalog.get("notes").is_none());
    }

    #[test]
    fn an_oversized_python_file_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.py");
        std::fs::write(&path, vec![b'#'; MAX_SCRIPT_BYTES as usize + 1]).unwrap();
        let catalog = Catalog::discover(dir.path());
        assert!(catalog.get("big").is_none());
        assert_eq!(
            catalog.warnings,
            [format!(
                "{}: cannot read check: a Python check may be at most 4 MiB",
                path.display()
            )]
        );
    }

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
