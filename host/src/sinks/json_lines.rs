//! The JSON-lines sink: every run as one JSON object per line, on stdout
//! or appended to a file, for people who pipe results elsewhere (`jq`,
//! Vector, a log shipper). Lines are written on each flush, in the order
//! the runs finished.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::Sink;
use crate::aggregator::Series;
use crate::collector::{EventOut, ServiceCheckOut, unix_seconds};
use crate::scheduler::CompletedRun;

/// Most bytes of lines held between two flushes; past it lines are
/// dropped (and counted) rather than letting a stalled reader grow the
/// runner without bound.
pub const MAX_PENDING_BYTES: usize = 64 << 20;

/// Where the lines go.
pub enum Output {
    Stdout,
    File(File),
}

impl Output {
    /// `-` is stdout; anything else a file, created if needed and
    /// appended to.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdout);
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Self::File)
    }
}

pub struct JsonLines {
    out: Mutex<Output>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    text: String,
    dropped: u64,
}

/// One line: the run and everything it produced.
#[derive(Serialize)]
struct RunLine<'a> {
    instance: &'a str,
    check: &'a str,
    timestamp: f64,
    duration_ms: f64,
    /// From due to started.
    lag_ms: f64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "is_zero")]
    skipped: u64,
    series: &'a [Series],
    service_checks: Vec<&'a ServiceCheckOut>,
    events: &'a [EventOut],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    metadata: &'a [(String, String)],
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl JsonLines {
    pub fn new(out: Output) -> Self {
        Self {
            out: Mutex::new(out),
            pending: Mutex::new(Pending::default()),
        }
    }
}

impl Sink for JsonLines {
    fn stage(&self, run: &CompletedRun) {
        let collected = &run.collected;
        let line = RunLine {
            instance: &run.config.id,
            check: &run.config.check,
            timestamp: unix_seconds(run.outcome.started_at),
            duration_ms: run.outcome.duration.as_secs_f64() * 1000.0,
            lag_ms: run.lag.as_secs_f64() * 1000.0,
            status: if collected.error.is_none() {
                "ok"
            } else {
                "error"
            },
            error: collected.error.as_deref(),
            warnings: &run.outcome.warnings,
            skipped: run.skipped,
            series: &collected.series,
            service_checks: collected
                .service_checks
                .iter()
                .chain([&run.check_status])
                .collect(),
            events: &collected.events,
            metadata: &collected.metadata,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.text.len() + text.len() >= MAX_PENDING_BYTES {
            pending.dropped += 1;
            return;
        }
        pending.text.push_str(&text);
        pending.text.push('\n');
    }

    fn remove(&self, _id: &str) {}

    fn flush(&self) {
        let Pending { text, dropped } =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if dropped > 0 {
            tracing::warn!(
                "json_lines: {dropped} run(s) dropped: more than {} MiB waited for the output",
                MAX_PENDING_BYTES >> 20
            );
        }
        if text.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let written = match &mut *out {
            Output::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            }
            Output::File(file) => file.write_all(text.as_bytes()),
        };
        // A closed stdout (e.g. piped into `head`) must not stop the checks.
        if let Err(e) = written
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            tracing::warn!("json_lines: cannot write: {e}");
        }
    }
}
