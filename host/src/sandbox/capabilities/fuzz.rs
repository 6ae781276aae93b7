//! Property tests ("fuzz target") of the host side of the WIT boundary:
//! the capabilities' generated `Host` methods driven directly, on views
//! over a fresh [`Budget`] with small random limits, with random batches
//! (counts, lengths from empty to megabytes, control characters, odd but
//! valid UTF-8, many tags), interleaved with guest memory and table growth
//! and new runs. What must hold after every call:
//!
//! - no panic;
//! - an `Err` means the budget recorded a hit whose message names a
//!   `limits.` setting;
//! - what was kept is a prefix of what was sent, in order, and all of it
//!   when the call succeeded; the per-run counts never exceed their limits;
//! - the run's submitted bytes never exceed `max_submission_bytes`, and
//!   `held_bytes() <= memory_bytes`;
//! - log lines are charged exactly against the output cap, and the lines
//!   kept as configure warnings are the escaped warn/error lines, without
//!   control characters.
//!
//! A second target drives the [`wasmtime::ResourceLimiter`] alone.
//!
//! Bounded and deterministic by default: 256 cases from a fixed ChaCha
//! seed, no failure persistence (CI always sees the same inputs). Run
//! longer with proptest's variables (the fixed seed only applies when
//! `PROPTEST_RNG_SEED` is unset):
//! `PROPTEST_CASES=100000 cargo test --release -p runner fuzz_`.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, RngSeed};
use wasmtime::ResourceLimiter as _;

use super::log::{self as log_cap, LogCtx};
use super::metrics::{self as metrics_cap, MetricsCtx};
use super::output::CapturedOutput;
use super::reporting::{self as reporting_cap, ReportingCtx};
use crate::sandbox::bindings::log::{Host as _, Level};
use crate::sandbox::bindings::metrics::{self as wit_metrics, Host as _};
use crate::sandbox::bindings::reporting::{self as wit_reporting, Host as _};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::{Counted, LimitHit, Limits};
use crate::sandbox::submissions::{Event, Metric, ServiceCheck};

/// The seed of the CI run (any fixed value; changing it changes the cases).
const SEED: u64 = 0x0077_1b0d_f022;

/// `ProptestConfig::default()` (which applies `PROPTEST_CASES` and the
/// other `PROPTEST_*` variables) made reproducible: a fixed ChaCha seed
/// unless `PROPTEST_RNG_SEED` is set, and no regression files (a failure
/// found by a long run is pinned as an explicit test instead).
fn fuzz_config() -> ProptestConfig {
    let env = ProptestConfig::default();
    ProptestConfig {
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: match env.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            chosen => chosen,
        },
        max_shrink_time: 60_000,
        ..env
    }
}

// ---------------------------------------------------------------------------
// Generated inputs

/// Text a check may send: printable, any Unicode, control and
/// terminal-driving characters, odd but valid UTF-8, empty, huge.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        8 => "[ -~]{0,12}",
        2 => any::<String>(),
        2 => "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{2028}\\u{2029}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}\\u{feff}\\u{fffe}\\u{fffd}\\u{10ffff}\\u{301}\\u{1F600}a\\\\]{0,16}",
        2 => Just(String::new()),
        1 => (select(&["x", "\u{1b}[2J", "\n", "é", "\u{0}"][..]), 0usize..(3 << 20))
            .prop_map(|(unit, bytes)| unit.repeat(bytes / unit.len())),
    ]
    .boxed()
}

/// Text that is mostly short (the huge case is rarer here, as there are
/// many of these per item).
fn short_text() -> BoxedStrategy<String> {
    prop_oneof![
        20 => "[ -~]{0,12}",
        3 => "[\\x00-\\x1f\\x7f\\u{9b}\\u{202e}é]{0,6}",
        3 => Just(String::new()),
        1 => text(),
    ]
    .boxed()
}

fn tags() -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        10 => prop::collection::vec(short_text(), 0..6),
        1 => (0usize..5000).prop_map(|n| vec![String::new(); n]),
        1 => (0usize..2000).prop_map(|n| (0..n).map(|i| format!("tag:{i}")).collect()),
    ]
    .boxed()
}

fn metric() -> BoxedStrategy<wit_metrics::Metric> {
    use wit_metrics::MetricType as T;
    (
        short_text(),
        select(&[T::Gauge, T::Count, T::MonotonicCount, T::Rate, T::Histogram][..]),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0)
        ],
        tags(),
        prop::option::of(short_text()),
    )
        .prop_map(|(name, kind, value, tags, hostname)| wit_metrics::Metric {
            name,
            kind,
            value,
            tags,
            hostname,
        })
        .boxed()
}

fn service_check() -> BoxedStrategy<wit_reporting::ServiceCheck> {
    use wit_reporting::Status as S;
    (
        short_text(),
        select(&[S::Ok, S::Warning, S::Critical, S::Unknown][..]),
        text(),
        tags(),
        prop::option::of(short_text()),
    )
        .prop_map(
            |(name, status, message, tags, hostname)| wit_reporting::ServiceCheck {
                name,
                status,
                message,
                tags,
                hostname,
            },
        )
        .boxed()
}

fn event() -> BoxedStrategy<wit_reporting::Event> {
    use wit_reporting::{AlertType as A, EventPriority as P};
    (
        (short_text(), text(), prop::option::of(any::<i64>())),
        select(&[P::Normal, P::Low][..]),
        select(&[A::Info, A::Warning, A::Error, A::Success][..]),
        tags(),
        prop::option::of(short_text()),
        prop::option::of(short_text()),
    )
        .prop_map(
            |((title, text, timestamp), priority, alert_type, tags, aggregation_key, hostname)| {
                wit_reporting::Event {
                    title,
                    text,
                    timestamp,
                    priority,
                    alert_type,
                    tags,
                    aggregation_key,
                    hostname,
                }
            },
        )
        .boxed()
}

/// A batch: usually a few items, sometimes many.
fn batch<T: std::fmt::Debug + Clone + 'static>(item: BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    prop_oneof![
        6 => prop::collection::vec(item.clone(), 0..8),
        1 => prop::collection::vec(item, 0..200),
    ]
    .boxed()
}

/// One thing a check (or the store around it) does.
#[derive(Debug, Clone)]
enum Op {
    Metrics(Vec<wit_metrics::Metric>),
    ServiceChecks(Vec<wit_reporting::ServiceCheck>),
    Events(Vec<wit_reporting::Event>),
    Metadata(Vec<(String, String)>),
    Log(Level, String),
    /// The guest grows memory (or table, counted in elements) `index`.
    Grow {
        table: bool,
        index: usize,
        delta: u64,
    },
    /// `configure` starts: warn/error lines are kept, not logged.
    KeepWarnings,
    /// `configure` ended: its warnings are handed over.
    TakeWarnings,
    /// A whole `configure`: warnings kept, lines logged, warnings taken.
    Configure(Vec<(Level, String)>),
    /// The run ends; a new one starts (what `store::begin_call` does).
    NewRun,
}

fn level() -> BoxedStrategy<Level> {
    select(
        &[
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ][..],
    )
    .boxed()
}

/// Mostly the levels `configure` warnings are made of.
fn warn_level() -> BoxedStrategy<Level> {
    prop_oneof![3 => Just(Level::Warn), 2 => Just(Level::Error), 1 => level()].boxed()
}

/// A warning line: short, or long enough (once escaped) to be clipped.
fn warning_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => short_text(),
        1 => (select(&["w", "\u{1b}[2J", "\r\n", "\u{202e}é"][..]), 300usize..3000)
            .prop_map(|(unit, n)| unit.repeat(n)),
    ]
    .boxed()
}

fn growth() -> BoxedStrategy<u64> {
    prop_oneof![
        4 => 0u64..70_000,
        2 => 0u64..(1 << 20),
        1 => 0u64..(1 << 32),
        1 => 0u64..(1 << 40),
    ]
    .boxed()
}

fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        6 => batch(metric()).prop_map(Op::Metrics),
        3 => batch(service_check()).prop_map(Op::ServiceChecks),
        3 => batch(event()).prop_map(Op::Events),
        3 => batch((short_text(), text()).boxed()).prop_map(Op::Metadata),
        4 => (level(), text()).prop_map(|(l, m)| Op::Log(l, m)),
        2 => (any::<bool>(), 0usize..4, growth())
            .prop_map(|(table, index, delta)| Op::Grow { table, index, delta }),
        1 => Just(Op::KeepWarnings),
        1 => Just(Op::TakeWarnings),
        2 => prop::collection::vec((warn_level(), warning_text()), 0..80).prop_map(Op::Configure),
        1 => prop::collection::vec((level(), text()), 0..4).prop_map(Op::Configure),
        1 => Just(Op::NewRun),
    ]
    .boxed()
}

/// A count limit: small (so it is reached), zero, or huge.
fn count() -> BoxedStrategy<usize> {
    prop_oneof![8 => 1usize..40, 1 => Just(0usize), 1 => Just(usize::MAX)].boxed()
}

fn bytes_limit() -> BoxedStrategy<usize> {
    prop_oneof![
        4 => 0usize..4096,
        4 => 0usize..(1 << 20),
        2 => 0usize..(8 << 20),
        1 => Just(usize::MAX),
    ]
    .boxed()
}

fn limits() -> BoxedStrategy<Limits> {
    (
        prop_oneof![
            4 => 0u64..8192,
            4 => 0u64..(16 << 20),
            1 => 0u64..(1 << 34),
            // `memory_mib` saturates to this for absurd settings.
            1 => Just(u64::MAX),
        ],
        (count(), count(), count(), count()),
        bytes_limit(),
        prop_oneof![
            2 => 0usize..512,
            2 => 0usize..8192,
            1 => bytes_limit(),
            1 => Just(usize::MAX),
        ],
    )
        .prop_map(
            |(memory_bytes, (metrics, service_checks, events, metadata), submission, output)| {
                Limits {
                    timeout: std::time::Duration::from_secs(1),
                    memory_bytes,
                    max_metrics: metrics,
                    max_service_checks: service_checks,
                    max_events: events,
                    max_metadata: metadata,
                    max_submission_bytes: submission,
                    max_output_bytes: output,
                }
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------
// The model the host is checked against

/// What the test expects, run by run.
struct Session {
    limits: Limits,
    budget: Budget,
    metrics: MetricsCtx,
    reporting: ReportingCtx,
    log: LogCtx,
    output: CapturedOutput,
    /// Sizes of the guest's memories (bytes) and tables (elements).
    memories: [u64; 4],
    tables: [u64; 4],
    /// Bytes of guest memories and tables, as the limiter should count.
    guest_bytes: u64,
    /// Items of each kind kept this run (metrics in order).
    kept_metrics: Vec<Metric>,
    kept: [usize; 4],
    /// Bytes logged this run.
    logged: usize,
    /// Whether a call of this run failed (later calls report its hit).
    failed: bool,
    /// Expected configure warnings, while they are kept.
    warnings: Option<Vec<String>>,
}

const MAX_CONFIGURE_WARNINGS: usize = 32;
const MAX_WARNING_CHARS: usize = 2000;

fn slot(kind: Counted) -> usize {
    match kind {
        Counted::Metrics => 0,
        Counted::ServiceChecks => 1,
        Counted::Events => 2,
        Counted::Metadata => 3,
    }
}

fn limit_of(limits: &Limits, kind: Counted) -> usize {
    match kind {
        Counted::Metrics => limits.max_metrics,
        Counted::ServiceChecks => limits.max_service_checks,
        Counted::Events => limits.max_events,
        Counted::Metadata => limits.max_metadata,
    }
}

/// What `escape::for_terminal` must have removed.
fn drives_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Floats compared by bits (NaN is a valid sample).
fn same_metric(a: &Metric, b: &Metric) -> bool {
    a.name == b.name
        && a.kind == b.kind
        && a.value.to_bits() == b.value.to_bits()
        && a.tags == b.tags
        && a.hostname == b.hostname
}

impl Session {
    fn new(limits: Limits) -> Self {
        let output = CapturedOutput::new(limits.max_output_bytes);
        Self {
            limits,
            budget: Budget::new(limits),
            metrics: MetricsCtx::new(Arc::from("host")),
            reporting: ReportingCtx::default(),
            log: LogCtx::new(Arc::from("check:fuzz"), output.clone()),
            output,
            memories: [0; 4],
            tables: [0; 4],
            guest_bytes: 0,
            kept_metrics: Vec::new(),
            kept: [0; 4],
            logged: 0,
            failed: false,
            warnings: None,
        }
    }

    /// Checks a call's result: an error names a `limits.` setting and was
    /// recorded; the first one of a run is a count hit only when the count
    /// is used up.
    fn check_result(
        &mut self,
        what: &str,
        result: wasmtime::Result<()>,
    ) -> Result<bool, TestCaseError> {
        let Err(e) = result else {
            return Ok(true);
        };
        let hit = self.budget.hit();
        prop_assert!(hit.is_some(), "{what} failed without a recorded hit: {e}");
        let hit = hit.unwrap();
        prop_assert!(
            e.to_string().contains("limits."),
            "{what}: error names no setting: {e}"
        );
        prop_assert!(
            hit.to_string().contains("limits."),
            "{what}: hit names no setting: {hit}"
        );
        if !self.failed {
            prop_assert_eq!(e.to_string(), hit.to_string(), "{}: first hit", what);
            if let LimitHit::Count { kind, limit } = hit {
                prop_assert_eq!(limit, limit_of(&self.limits, kind));
                prop_assert_eq!(self.kept[slot(kind)], limit, "{} stopped early", what);
            }
        }
        self.failed = true;
        Ok(false)
    }

    /// The invariants that hold between any two calls.
    fn check_budget(&self) -> Result<(), TestCaseError> {
        let held = self.budget.held_bytes();
        prop_assert!(
            held <= self.limits.memory_bytes,
            "held {held} > memory {}",
            self.limits.memory_bytes
        );
        prop_assert!(
            held >= self.guest_bytes,
            "held {held} < guest {}",
            self.guest_bytes
        );
        let submitted = held - self.guest_bytes;
        prop_assert!(
            submitted <= self.limits.max_submission_bytes as u64,
            "submitted {submitted} > {}",
            self.limits.max_submission_bytes
        );
        for kind in [
            Counted::Metrics,
            Counted::ServiceChecks,
            Counted::Events,
            Counted::Metadata,
        ] {
            let limit = limit_of(&self.limits, kind);
            prop_assert!(self.kept[slot(kind)] <= limit, "{kind:?} over its limit");
            prop_assert_eq!(self.budget.room(kind), limit - self.kept[slot(kind)]);
        }
        prop_assert!(self.reporting.service_checks.len() <= self.limits.max_service_checks);
        prop_assert!(self.reporting.events.len() <= self.limits.max_events);
        prop_assert!(self.reporting.metadata.len() <= self.limits.max_metadata);
        Ok(())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Metrics(batch) => {
                let sent: Vec<Metric> = batch.iter().cloned().map(Metric::from).collect();
                let result = metrics_cap::test_view(&mut self.metrics, &mut self.budget)
                    .submit_metrics(batch);
                let new = self.metrics.take();
                self.kept[0] += new.len();
                let ok = self.check_result("submit_metrics", result)?;
                prop_assert!(new.len() <= sent.len());
                prop_assert!(
                    ok == (new.len() == sent.len()),
                    "kept {} of {}",
                    new.len(),
                    sent.len()
                );
                for (i, (kept, sent)) in new.iter().zip(&sent).enumerate() {
                    prop_assert!(same_metric(kept, sent), "metric #{i} changed");
                }
                self.kept_metrics.extend(new);
            }
            Op::ServiceChecks(batch) => {
                let sent: Vec<ServiceCheck> =
                    batch.iter().cloned().map(ServiceCheck::from).collect();
                let before = self.reporting.service_checks.len();
                let result = reporting_cap::test_view(&mut self.reporting, &mut self.budget)
                    .submit_service_checks(batch);
                let new = &self.reporting.service_checks[before..];
                let n = new.len();
                prop_assert!(new == &sent[..n.min(sent.len())], "not a prefix");
                self.kept[1] += n;
                let ok = self.check_result("submit_service_checks", result)?;
                prop_assert!(ok == (n == sent.len()), "kept {} of {}", n, sent.len());
            }
            Op::Events(batch) => {
                let sent: Vec<Event> = batch.iter().cloned().map(Event::from).collect();
                let before = self.reporting.events.len();
                let result = reporting_cap::test_view(&mut self.reporting, &mut self.budget)
                    .submit_events(batch);
                let new = &self.reporting.events[before..];
                let n = new.len();
                prop_assert!(new == &sent[..n.min(sent.len())], "not a prefix");
                self.kept[2] += n;
                let ok = self.check_result("submit_events", result)?;
                prop_assert!(ok == (n == sent.len()), "kept {} of {}", n, sent.len());
            }
            Op::Metadata(entries) => {
                let before = self.reporting.metadata.clone();
                let room = self.budget.room(Counted::Metadata);
                let result = reporting_cap::test_view(&mut self.reporting, &mut self.budget)
                    .set_metadata(entries.clone());
                let used = room - self.budget.room(Counted::Metadata);
                self.kept[3] += used;
                let ok = self.check_result("set_metadata", result)?;
                // Some prefix of the entries was applied, a later key
                // replacing an earlier one; all of them when it succeeded.
                let mut expected = before;
                let mut applied = None;
                for k in 0..=entries.len() {
                    if k > 0 {
                        let (key, value) = entries[k - 1].clone();
                        expected.retain(|(old, _)| *old != key);
                        expected.push((key, value));
                    }
                    if expected == self.reporting.metadata {
                        applied = Some(k);
                    }
                }
                prop_assert!(applied.is_some(), "metadata is not a prefix applied");
                prop_assert!(used <= entries.len());
                prop_assert!(
                    ok == (used == entries.len()),
                    "kept {used} of {}",
                    entries.len()
                );
            }
            Op::Log(level, message) => {
                let len = message.len();
                let room = self.limits.max_output_bytes - self.logged;
                let result =
                    log_cap::test_view(&mut self.log, &mut self.budget).log(level, message.clone());
                let failed_before = self.failed;
                let ok = self.check_result("log", result)?;
                prop_assert_eq!(ok, len <= room, "log of {} bytes with {} left", len, room);
                if !ok && !failed_before {
                    prop_assert!(matches!(self.budget.hit(), Some(LimitHit::Output(_))));
                }
                if ok {
                    self.logged += len;
                    if let Some(kept) = &mut self.warnings
                        && matches!(level, Level::Warn | Level::Error)
                        && kept.len() < MAX_CONFIGURE_WARNINGS
                    {
                        kept.push(
                            crate::escape::for_terminal(&message)
                                .chars()
                                .take(MAX_WARNING_CHARS)
                                .collect(),
                        );
                    }
                }
            }
            Op::Grow {
                table,
                index,
                delta,
            } => {
                let held = self.budget.held_bytes();
                let (current, desired, bytes) = if table {
                    let current = self.tables[index];
                    (current, current + delta, u128::from(delta) * 8)
                } else {
                    let current = self.memories[index];
                    (current, current + delta, u128::from(delta))
                };
                let fits = u128::from(held) + bytes <= u128::from(self.limits.memory_bytes);
                let (current, desired) = (current as usize, desired as usize);
                let result = if table {
                    self.budget.table_growing(current, desired, None)
                } else {
                    self.budget.memory_growing(current, desired, None)
                };
                match result {
                    Ok(granted) => {
                        prop_assert!(granted, "growth refused without an error");
                        prop_assert!(fits, "growth by {bytes} bytes over the cap allowed");
                        if table {
                            self.tables[index] += delta;
                        } else {
                            self.memories[index] += delta;
                        }
                        self.guest_bytes += bytes as u64;
                        prop_assert_eq!(self.budget.held_bytes(), held + bytes as u64);
                    }
                    Err(e) => {
                        prop_assert!(!fits, "growth by {bytes} bytes within the cap refused: {e}");
                        prop_assert_eq!(self.budget.held_bytes(), held);
                        // The error is the run's first hit: this one,
                        // unless an earlier call of the run failed.
                        let hit = self.budget.hit();
                        prop_assert!(hit.is_some(), "growth failed without a recorded hit");
                        prop_assert_eq!(
                            e.to_string(),
                            hit.map(|h| h.to_string()).unwrap_or_default()
                        );
                        if !self.failed {
                            prop_assert!(matches!(hit, Some(LimitHit::Memory { .. })), "{e}");
                            prop_assert!(e.to_string().contains("limits.memory_mib"), "{e}");
                        }
                        self.failed = true;
                    }
                }
            }
            Op::KeepWarnings => {
                self.log.keep_warnings();
                self.warnings = Some(Vec::new());
            }
            Op::TakeWarnings => {
                let got = self.log.take_warnings();
                let expected = self.warnings.take().unwrap_or_default();
                for line in &got {
                    prop_assert!(
                        !line.chars().any(drives_terminal),
                        "a configure warning drives the terminal: {line:?}"
                    );
                    prop_assert!(line.chars().count() <= MAX_WARNING_CHARS);
                }
                prop_assert!(got.len() <= MAX_CONFIGURE_WARNINGS);
                prop_assert_eq!(got, expected);
            }
            Op::Configure(lines) => {
                self.apply(Op::KeepWarnings)?;
                for (level, line) in lines {
                    self.apply(Op::Log(level, line))?;
                }
                self.apply(Op::TakeWarnings)?;
            }
            Op::NewRun => {
                self.budget.begin_call();
                let _ = self.output.take();
                self.metrics.take();
                self.reporting = ReportingCtx::default();
                self.kept_metrics.clear();
                self.kept = [0; 4];
                self.logged = 0;
                self.failed = false;
            }
        }
        self.check_budget()
    }
}

proptest! {
    #![proptest_config(fuzz_config())]

    /// Random sequences of host calls on one instance's capabilities.
    #[test]
    fn fuzz_wit_host_calls(limits in limits(), ops in prop::collection::vec(op(), 1..24)) {
        let mut session = Session::new(limits);
        for op in ops {
            session.apply(op)?;
        }
    }

    /// The limiter alone: any sequence of memory and table growth keeps
    /// `held_bytes() <= memory_bytes`, and fails exactly when the cap would
    /// be passed.
    #[test]
    fn fuzz_resource_limiter(
        memory_bytes in prop_oneof![0u64..100_000, 0u64..(1 << 34)],
        growths in prop::collection::vec((any::<bool>(), 0usize..4, growth()), 0..40),
    ) {
        let limits = Limits { memory_bytes, ..Limits::default() };
        let mut session = Session::new(limits);
        for (table, index, delta) in growths {
            session.apply(Op::Grow { table, index, delta })?;
        }
    }
}
