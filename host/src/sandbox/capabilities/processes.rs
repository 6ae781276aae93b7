//! The `processes` capability: queries of the shared process snapshot.
//!
//! Everything a query makes the host do counts against the check: the
//! wait for the shared refresh and the matching both end at the run's
//! deadline, and the matching runs on a blocking thread so no regex can
//! hold up the async runtime. The pid file is read only when the
//! instance's configuration granted its path, and command lines are
//! scrubbed unless it granted raw ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::cmdline_scrub::Scrubber;
use crate::sandbox::bindings::processes::{self as wit, Host, QueryError};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::LimitHit;
use crate::sandbox::store::HostState;
use crate::snapshot::{self, FieldSet, ProcessRow, ProcessSnapshot, QueryOptions, SnapshotService};
use wit::ProcessFields as Fields;

/// What an instance may see of the host's processes, from its config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessGrants {
    /// Files the check may ask the host to read as pid files: the values
    /// of the check's `file-keys` in the instance's configuration.
    pub pid_files: Vec<PathBuf>,
    /// `raw_command_lines: true`: command lines are handed over (and
    /// matched) unscrubbed.
    pub raw_command_lines: bool,
}

/// This capability's part of a store.
pub struct ProcessesCtx {
    /// None while `info` runs: it must not depend on the host.
    snapshots: Option<Arc<SnapshotService>>,
    grants: ProcessGrants,
}

impl ProcessesCtx {
    pub fn new(snapshots: Option<Arc<SnapshotService>>, grants: ProcessGrants) -> Self {
        Self { snapshots, grants }
    }
}

struct View<'a> {
    ctx: &'a ProcessesCtx,
    budget: &'a mut Budget,
    deadline: Instant,
    timeout: LimitHit,
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &state.processes,
        budget: &mut state.budget,
        deadline: state.deadline,
        timeout: state.timeout,
    })
}

impl Host for View<'_> {
    async fn query_processes(
        &mut self,
        query: wit::ProcessQuery,
    ) -> wasmtime::Result<Result<wit::ProcessSnapshot, QueryError>> {
        let Some(snapshots) = self.ctx.snapshots.clone() else {
            return Ok(Err(QueryError::SnapshotUnavailable(
                "processes cannot be queried during `info`".into(),
            )));
        };
        if let Some(path) = &query.pid_file
            && !self
                .ctx
                .grants
                .pid_files
                .iter()
                .any(|p| p.as_os_str() == path.as_str())
        {
            // Said without touching the file: the answer must not tell
            // whether an ungranted path exists.
            return Ok(Err(QueryError::PidFileNotGranted(format!(
                "pid file {path:?} is not granted to this instance: only paths its \
                 configuration names (e.g. `pid_file`) may be read"
            ))));
        }
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let fields = FieldSet {
            open_fds: query.fields.contains(wit::ProcessFields::OPEN_FDS),
            io: query.fields.contains(wit::ProcessFields::IO),
            cwd: query.fields.contains(wit::ProcessFields::CWD),
            connections: false,
        };
        let snapshot = match tokio::time::timeout_at(deadline, snapshots.get(fields)).await {
            Err(_elapsed) => return Err(self.budget.fail(self.timeout)),
            Ok(Err(e)) => {
                return Ok(Err(QueryError::SnapshotUnavailable(format!(
                    "reading the process list failed: {e:#}"
                ))));
            }
            Ok(Ok(snapshot)) => snapshot,
        };
        let scrubber = (!self.ctx.grants.raw_command_lines).then(|| snapshots.scrubber());
        let options = QueryOptions {
            deadline: Some(self.deadline),
            scrubber,
        };
        // Patterns and pid files are what a check can make slow (regex
        // matching, a file on a hung mount): those run on a blocking
        // thread. Selecting by name, pid or all is linear in the snapshot
        // and cheaper than the hop, so it runs here.
        if query.cmdline_patterns.is_empty() && query.pid_file.is_none() {
            return match select(snapshot, query, &options) {
                Err(Stopped::Deadline) => Err(self.budget.fail(self.timeout)),
                Err(Stopped::Query(error)) => Ok(Err(error)),
                Ok(rows) => Ok(Ok(rows)),
            };
        }
        let work = tokio::task::spawn_blocking(move || select(snapshot, query, &options));
        match tokio::time::timeout_at(deadline, work).await {
            // The blocking side stops at the same deadline by itself.
            Err(_) | Ok(Ok(Err(Stopped::Deadline))) => Err(self.budget.fail(self.timeout)),
            Ok(Err(join)) => Err(wasmtime::format_err!("process query failed: {join}")),
            Ok(Ok(Err(Stopped::Query(error)))) => Ok(Err(error)),
            Ok(Ok(Ok(rows))) => Ok(Ok(rows)),
        }
    }
}

/// Why [`select`] returned no rows.
enum Stopped {
    /// The run's deadline passed: the run is stopped.
    Deadline,
    /// The query failed: the check gets the error.
    Query(QueryError),
}

/// Run the query and build the guest's rows: the blocking part. Patterns
/// are matched against the command lines the check would see (scrubbed
/// unless granted raw), so a check cannot probe secrets with regexes.
fn select(
    snapshot: Arc<ProcessSnapshot>,
    query: wit::ProcessQuery,
    options: &QueryOptions,
) -> Result<wit::ProcessSnapshot, Stopped> {
    let fields = query.fields;
    let query = snapshot::ProcessQuery {
        all: query.all,
        names: query.names,
        cmdline_patterns: query.cmdline_patterns,
        pids: query.pids,
        pid_file: query.pid_file.map(Into::into),
        include_children: query.include_children,
        user: query.user,
    };
    let selection = snapshot.select(&query, options).map_err(to_wit_error)?;
    let snapshot = selection.snapshot();
    let processes = selection
        .rows()
        .map(|row| to_wit_process(row, fields, options.scrubber.as_deref()))
        .collect();
    Ok(wit::ProcessSnapshot {
        taken_at: snapshot.taken_at,
        host_cpu_time: snapshot.host_cpu_time,
        num_cpus: snapshot.num_cpus,
        total_memory: snapshot.total_memory,
        processes,
    })
}

fn to_wit_error(error: snapshot::QueryError) -> Stopped {
    use snapshot::QueryError as E;
    let message = error.to_string();
    Stopped::Query(match error {
        E::DeadlineExceeded { .. } => return Stopped::Deadline,
        E::TooManyPatterns { .. } | E::PatternTooLong { .. } | E::InvalidPattern { .. } => {
            QueryError::InvalidQuery(message)
        }
        E::PidFileUnreadable { .. } | E::PidFileNotRegular { .. } => {
            QueryError::PidFileUnreadable(message)
        }
        E::PidFileWithoutPid { .. } => QueryError::PidFileWithoutPid(message),
    })
}

/// The guest's row: the strings (and the fields that cost reads) only
/// when `fields` asks, so a numbers-only query copies no strings.
fn to_wit_process(row: &ProcessRow, fields: Fields, scrubber: Option<&Scrubber>) -> wit::Process {
    let string = |flag: Fields, value: Option<&str>| {
        value.filter(|_| fields.contains(flag)).map(str::to_owned)
    };
    let cmdline = fields.contains(Fields::CMDLINE).then(|| match scrubber {
        Some(scrubber) => row.scrubbed_cmdline(scrubber),
        None => row.cmdline.to_vec(),
    });
    wit::Process {
        pid: row.pid,
        ppid: row.ppid,
        name: string(Fields::NAME, Some(&row.name)),
        cmdline,
        exe: string(Fields::EXE, row.exe.as_deref()),
        cwd: string(Fields::CWD, row.cwd.as_deref()),
        uid: row.uid,
        user: string(Fields::USER, row.user.as_deref()),
        container_id: string(Fields::CONTAINER_ID, row.container_id.as_deref()),
        state: row.state,
        start_time: row.start_time,
        cpu_user: row.cpu_user,
        cpu_system: row.cpu_system,
        cpu_percent: row.cpu_percent.map(|cpu| wit::CpuPercent {
            user: cpu.user,
            system: cpu.system,
            total: cpu.total,
        }),
        rss: row.rss,
        vms: row.vms,
        shared: row.shared,
        swap: row.swap,
        threads: row.threads,
        open_fds: row.open_fds.filter(|_| fields.contains(Fields::OPEN_FDS)),
        io: row
            .io
            .as_ref()
            .filter(|_| fields.contains(Fields::IO))
            .map(|io| wit::IoCounters {
                read_count: io.read_count,
                write_count: io.write_count,
                read_bytes: io.read_bytes,
                write_bytes: io.write_bytes,
            }),
        voluntary_ctx_switches: row.voluntary_ctx_switches,
        involuntary_ctx_switches: row.involuntary_ctx_switches,
        minor_faults: row.minor_faults,
        major_faults: row.major_faults,
        children_minor_faults: row.children_minor_faults,
        children_major_faults: row.children_major_faults,
        denied: denied_fields(&row.denied),
    }
}

/// The snapshot's names of refused fields as the WIT flags.
fn denied_fields(denied: &[&str]) -> wit::DeniedFields {
    use wit::DeniedFields as D;
    denied.iter().fold(D::empty(), |flags, name| {
        flags
            | match *name {
                "cmdline" => D::CMDLINE,
                "exe" => D::EXE,
                "cwd" => D::CWD,
                "uid" => D::UID,
                "user" => D::USER,
                "shared" => D::SHARED,
                "swap" => D::SWAP,
                "open_fds" => D::OPEN_FDS,
                "io" => D::IO,
                "voluntary_ctx_switches" | "involuntary_ctx_switches" => D::CTX_SWITCHES,
                _ => D::empty(),
            }
    })
}
