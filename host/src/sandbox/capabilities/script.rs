//! The `script` capability: a script runtime's (Python's) view of the one
//! check it runs — that check's source file, and the instance's ID. It is
//! the only file such a check gets: the runtime has no file system.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::sandbox::bindings::script::{self as wit, Host, SourceFile};
use crate::sandbox::store::HostState;

/// A check's source, as the catalog read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSource {
    /// The check name (the file name without its extension).
    pub check: String,
    /// The path errors and tracebacks show.
    pub path: String,
    pub text: String,
}

/// This capability's part of a store.
pub struct ScriptCtx {
    source: Option<Arc<ScriptSource>>,
    check_id: Arc<str>,
}

impl ScriptCtx {
    /// `source`: None for a check that is not a script (a component that
    /// imports `script` anyway gets an error when it calls it).
    pub fn new(source: Option<Arc<ScriptSource>>, check_id: Arc<str>) -> Self {
        Self { source, check_id }
    }
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = &'a mut ScriptCtx;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| &mut state.script)
}

impl Host for &mut ScriptCtx {
    fn source(&mut self) -> wasmtime::Result<SourceFile> {
        let Some(source) = &self.source else {
            wasmtime::bail!(
                "the check called `runner:check/script.source`, but it is not a script: \
                 only the runner's script runtime gets a source file"
            );
        };
        Ok(SourceFile {
            check: source.check.clone(),
            path: source.path.clone(),
            text: source.text.clone(),
        })
    }

    fn check_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.check_id.to_string())
    }
}
