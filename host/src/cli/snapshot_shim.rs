//! TEMPORARY, deleted when the snapshot engine of issue 7 is merged: the
//! parts of its API that `runner processes` and `runner connections` use,
//! with the signatures `host/src/snapshot/` is getting, so the verbs
//! compile and run before it lands.
//!
//! To drop it: delete this file and its `mod` line in `cli/mod.rs`, and
//! point the `pub use` in `cli/snapshot_source.rs` at `crate::snapshot`.
//!
//! What it does meanwhile: [`Reader`] wraps [`ProcessSnapshot::read_from`]
//! (no CPU %, exe or cwd, the [`FieldSet`] is ignored) and connections are
//! always empty.

// The real engine reads every setting; the stand-in only some.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use crate::snapshot::connections::{Connection, Protocol, SocketState, Source};
use crate::snapshot::{Connections, FieldSet, ProcessSnapshot};

/// Where a [`Reader`] reads the host from.
#[derive(Debug, Clone)]
pub struct SnapshotSettings {
    pub proc_root: PathBuf,
    pub sys_root: PathBuf,
    pub passwd_file: Option<PathBuf>,
    pub include_kernel_threads: bool,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
            passwd_file: None,
            include_kernel_threads: false,
        }
    }
}

/// Reads snapshots one after another.
pub struct Reader {
    settings: SnapshotSettings,
}

impl Reader {
    pub fn new(settings: SnapshotSettings) -> Self {
        Self { settings }
    }

    pub fn refresh(&mut self, fields: FieldSet) -> anyhow::Result<ProcessSnapshot> {
        let mut snapshot = ProcessSnapshot::read_from(&self.settings.proc_root)?;
        if !self.settings.include_kernel_threads {
            snapshot.processes.retain(|p| p.pid != 2 && p.ppid != 2);
        }
        snapshot.fields = fields;
        snapshot.connections = fields.connections.then(|| {
            Arc::new(Connections {
                source: Source::ProcNet,
                rows: Vec::new(),
            })
        });
        Ok(snapshot)
    }
}

/// Which sockets a [`Connections::query`] returns; every field that is set
/// must match.
#[derive(Debug, Clone, Default)]
pub struct ConnectionQuery {
    pub pids: Option<Vec<u32>>,
    pub port: Option<u16>,
    pub states: Vec<SocketState>,
    pub listening_only: bool,
    pub direction: Option<crate::snapshot::connections::Direction>,
    pub protocol: Option<Protocol>,
}

impl Connections {
    pub fn query(&self, q: &ConnectionQuery) -> Vec<&Connection> {
        self.rows
            .iter()
            .filter(|c| {
                q.pids
                    .as_ref()
                    .is_none_or(|pids| c.pids.iter().any(|p| pids.contains(p)))
                    && q.port
                        .is_none_or(|port| c.local.port() == port || c.remote.port() == port)
                    && (q.states.is_empty() || q.states.contains(&c.state))
                    && (!q.listening_only
                        || c.direction == crate::snapshot::connections::Direction::Listening)
                    && q.direction.is_none_or(|d| c.direction == d)
                    && q.protocol.is_none_or(|p| c.protocol == p)
            })
            .collect()
    }
}

impl SocketState {
    pub fn name(self) -> &'static str {
        match self {
            SocketState::Established => "ESTAB",
            SocketState::SynSent => "SYN-SENT",
            SocketState::SynRecv => "SYN-RECV",
            SocketState::FinWait1 => "FIN-WAIT-1",
            SocketState::FinWait2 => "FIN-WAIT-2",
            SocketState::TimeWait => "TIME-WAIT",
            SocketState::Close => "UNCONN",
            SocketState::CloseWait => "CLOSE-WAIT",
            SocketState::LastAck => "LAST-ACK",
            SocketState::Listen => "LISTEN",
            SocketState::Closing => "CLOSING",
            SocketState::NewSynRecv => "NEW-SYN-RECV",
        }
    }
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}
