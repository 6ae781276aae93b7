//! The JSON behind the Live Processes page: `GET /api/processes` (every
//! process, searched and filtered on the server with the matcher of
//! `runner processes`, with facet counts) and `GET /api/processes/{pid}`
//! (one process, its sockets and the processes related to it). Command
//! lines are scrubbed as everywhere else; the field names are documented
//! in docs/web.md.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiState;
use crate::cmdline_scrub::Scrubber;
use crate::snapshot::{FieldSet, ProcessSnapshot};
use crate::views::connections::{self, Listening, RemoteEndpoint};
use crate::views::process::{self, Listed, ProcessJson};
use crate::views::related::{self, Established, Peer};
use crate::views::search::Search;

/// What the list reads: the search matches the working directory, and the
/// table shows open fds.
const LIST_FIELDS: FieldSet = FieldSet {
    open_fds: true,
    cwd: true,
    ..FieldSet::NONE
};

/// `GET /api/processes` parameters; empty ones are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Search words, as `runner processes SEARCH`.
    #[serde(default)]
    q: String,
    /// Facets: one value each.
    #[serde(default)]
    user: String,
    #[serde(default)]
    container: String,
    #[serde(default)]
    tag: String,
}

/// A process as a row of the table.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    pid: u32,
    ppid: u32,
    name: &'a str,
    user: Option<&'a str>,
    uid: Option<u32>,
    state: char,
    cpu_percent: Option<f64>,
    memory_percent: Option<f64>,
    rss: u64,
    threads: u32,
    open_fds: Option<u32>,
    start_time: f64,
    /// Scrubbed.
    command: String,
    container_id: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(listed: Listed<'a>, snapshot: &ProcessSnapshot) -> Self {
        let row = listed.row;
        Self {
            pid: row.pid,
            ppid: row.ppid,
            name: &row.name,
            user: row.user.as_deref(),
            uid: row.uid,
            state: row.state,
            cpu_percent: row.cpu_percent.map(|cpu| cpu.total),
            memory_percent: process::memory_percent(row, snapshot.total_memory),
            rss: row.rss,
            threads: row.threads,
            open_fds: row.open_fds,
            start_time: row.start_time,
            command: listed.command,
            container_id: row.container_id.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ProcessList<'a> {
    /// When the snapshot was read, Unix seconds.
    time: f64,
    hostname: &'a str,
    host_tags: &'a [String],
    total_memory: u64,
    /// Processes on the host.
    total: usize,
    /// Processes the search and the facets let through.
    matched: usize,
    processes: Vec<Row<'a>>,
    facets: Facets<'a>,
}

/// Counts over the processes the search matches, before facet filters,
/// most first: what each facet value would leave.
#[derive(Debug, Default, Serialize)]
struct Facets<'a> {
    user: Vec<FacetValue<'a>>,
    container: Vec<FacetValue<'a>>,
    tag: Vec<FacetValue<'a>>,
}

#[derive(Debug, Serialize)]
struct FacetValue<'a> {
    value: std::borrow::Cow<'a, str>,
    count: usize,
}

/// `GET /api/processes`.
pub async fn processes(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<ListQuery>,
) -> Response {
    let snapshot = match state.snapshots.get(LIST_FIELDS).await {
        Ok(snapshot) => snapshot,
        Err(e) => return unavailable(&e),
    };
    let scrubber = state.snapshots.scrubber();
    let list = list(&snapshot, &query, &state, &scrubber);
    Json(list).into_response()
}

fn list<'a>(
    snapshot: &'a ProcessSnapshot,
    query: &ListQuery,
    state: &'a ApiState,
    scrubber: &Scrubber,
) -> ProcessList<'a> {
    let search = Search::new(std::slice::from_ref(&query.q));
    let found: Vec<Listed> = snapshot
        .processes
        .iter()
        .map(|row| Listed::new(row, scrubber))
        .filter(|listed| search.matches(listed))
        .collect();
    let facets = facets(&found, &state.host_tags);
    let tag_passes = query.tag.is_empty() || state.host_tags.contains(&query.tag);
    let processes: Vec<Row> = found
        .into_iter()
        .filter(|l| {
            tag_passes
                && (query.user.is_empty() || process::user(l.row) == query.user)
                && (query.container.is_empty()
                    || l.row.container_id.as_deref() == Some(query.container.as_str()))
        })
        .map(|l| Row::new(l, snapshot))
        .collect();
    ProcessList {
        time: snapshot.taken_at,
        hostname: &state.hostname,
        host_tags: &state.host_tags,
        total_memory: snapshot.total_memory,
        total: snapshot.processes.len(),
        matched: processes.len(),
        processes,
        facets,
    }
}

fn facets<'a>(found: &[Listed<'a>], host_tags: &'a [String]) -> Facets<'a> {
    let mut users: BTreeMap<String, usize> = BTreeMap::new();
    let mut containers: BTreeMap<&'a str, usize> = BTreeMap::new();
    for listed in found {
        *users.entry(process::user(listed.row)).or_default() += 1;
        if let Some(id) = listed.row.container_id.as_deref() {
            *containers.entry(id).or_default() += 1;
        }
    }
    let ranked = |counts: Vec<FacetValue<'a>>| {
        let mut counts = counts;
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts
    };
    Facets {
        user: ranked(
            users
                .into_iter()
                .map(|(value, count)| FacetValue {
                    value: value.into(),
                    count,
                })
                .collect(),
        ),
        container: ranked(
            containers
                .into_iter()
                .map(|(value, count)| FacetValue {
                    value: value.into(),
                    count,
                })
                .collect(),
        ),
        // Host tags are on every process of the host.
        tag: host_tags
            .iter()
            .map(|tag| FacetValue {
                value: tag.as_str().into(),
                count: found.len(),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
struct ProcessDetail<'a> {
    time: f64,
    process: Full<'a>,
    listening: Vec<Listening>,
    connections: Vec<RemoteEndpoint<'a>>,
    related: RelatedJson<'a>,
}

/// Every field of the process, and its command line as one string.
#[derive(Debug, Serialize)]
struct Full<'a> {
    #[serde(flatten)]
    fields: ProcessJson<'a>,
    command: String,
}

#[derive(Debug, Serialize)]
struct RelatedJson<'a> {
    same_command: Vec<Row<'a>>,
    talks_to: Vec<PeerRow<'a>>,
    talked_to_by: Vec<PeerRow<'a>>,
    /// Established connections whose other end is no process here.
    connections_elsewhere: usize,
}

#[derive(Debug, Serialize)]
struct PeerRow<'a> {
    connections: usize,
    process: Row<'a>,
}

/// `GET /api/processes/{pid}`; 404 when there is no such process.
pub async fn process(State(state): State<Arc<ApiState>>, Path(pid): Path<u32>) -> Response {
    let snapshot = match state.snapshots.get(FieldSet::ALL).await {
        Ok(snapshot) => snapshot,
        Err(e) => return unavailable(&e),
    };
    let scrubber = state.snapshots.scrubber();
    match detail(&snapshot, pid, &scrubber) {
        Some(detail) => Json(detail).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no process {pid} on this host"),
        ),
    }
}

fn detail<'a>(
    snapshot: &'a ProcessSnapshot,
    pid: u32,
    scrubber: &Scrubber,
) -> Option<ProcessDetail<'a>> {
    let established = Established::of(snapshot);
    let related = related::find_related_in(snapshot, &established, pid)?;
    let row_of = |row| Row::new(Listed::new(row, scrubber), snapshot);
    let peers = |peers: &[Peer<'a>]| -> Vec<PeerRow<'a>> {
        peers
            .iter()
            .map(|peer| PeerRow {
                connections: peer.connections,
                process: row_of(peer.process),
            })
            .collect()
    };
    Some(ProcessDetail {
        time: snapshot.taken_at,
        process: Full {
            fields: ProcessJson::new(related.process, snapshot, scrubber),
            command: process::command(related.process, scrubber),
        },
        listening: connections::listening(snapshot, pid),
        connections: connections::by_remote(snapshot, &established, pid),
        related: RelatedJson {
            same_command: related.same_command.iter().map(|row| row_of(row)).collect(),
            talks_to: peers(&related.talks_to),
            talked_to_by: peers(&related.talked_to_by),
            connections_elsewhere: related.elsewhere,
        },
    })
}

fn unavailable(e: &anyhow::Error) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("reading the processes failed: {e:#}"),
    )
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
