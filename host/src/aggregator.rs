//! Datadog Agent aggregation for what one check instance submits.
//!
//! Checks submit raw samples; Datadog's backend expects per-flush series with
//! the Agent's semantics (a `rate` is a per-second derivative, a
//! `monotonic_count` a sum of increases, a `histogram` five summary series).
//! Reproducing those semantics here is what makes the runner a drop-in for
//! the Agent's check system: the same check produces the same series.
//!
//! One [`Aggregator`] lives per check instance and is kept between runs, so
//! rate and monotonic_count baselines survive from one run to the next. The
//! caller [`add`](Aggregator::add)s what a run submitted, then calls
//! [`flush`](Aggregator::flush) once.
//!
//! A sample whose value (or timestamp) is NaN or infinite is dropped on
//! [`add`](Aggregator::add): it cannot be sent as JSON and would poison every
//! sum, average and baseline it touched.
//!
//! What a check can make the host hold is bounded: at most
//! [`with_max_contexts`](Aggregator::with_max_contexts) contexts live at
//! once (a sample of a new series beyond that is dropped, and
//! [`context_limit_hit`](Aggregator::context_limit_hit) says so after the
//! flush), and a rate or monotonic_count context is forgotten after
//! [`MAX_IDLE_FLUSHES`] flushes without a sample.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

/// A stateful context that received no sample for this long is forgotten,
/// like the Agent's context expiry: a counter that comes back after a day is
/// a new counter, not a delta against a day-old value.
const CONTEXT_EXPIRY_SECS: f64 = 25.0 * 3600.0;

/// A stateful context that received no sample in this many flushes in a
/// row is forgotten, even before [`CONTEXT_EXPIRY_SECS`].
///
/// The Agent's 25 h alone does not bound memory: at a 15 s interval that is
/// 6 000 runs, and a check that tags a rate with something that changes
/// every run (a pid, a request id) would keep every run's contexts for a
/// day. Counting flushes bounds what idle contexts hold to the new series
/// of the last 10 runs, whatever the interval. The cost is small: a series
/// that misses 10 runs in a row (150 s at the default interval) restarts
/// from a fresh baseline and loses one point, which is what a restart of
/// the runner costs it too; a derivative across that gap would average over
/// an outage rather than describe it. With long intervals (10 flushes >
/// 25 h) the Agent's 25 h comes first, as before. Failed runs flush too,
/// so a check failing 10 times in a row also starts over.
pub const MAX_IDLE_FLUSHES: u32 = 10;

/// Which series a histogram sends per flush (Datadog's
/// `histogram_aggregates` and `histogram_percentiles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSpec {
    pub max: bool,
    pub min: bool,
    pub median: bool,
    pub avg: bool,
    pub sum: bool,
    /// `.count`, sent as a rate over the interval.
    pub count: bool,
    /// Percentiles in hundredths: 95 sends `.95percentile`.
    pub percentiles: Vec<u32>,
}

impl Default for HistogramSpec {
    /// Datadog's defaults: max, median, avg, count and the 95th percentile.
    fn default() -> Self {
        Self {
            max: true,
            min: false,
            median: true,
            avg: true,
            sum: false,
            count: true,
            percentiles: vec![95],
        }
    }
}

/// How a check asked for a sample to be aggregated (the submit call it used).
///
/// Part of the context key: the same name submitted as a gauge and as a
/// count are two independent series, as in the Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// Last value of the run wins.
    Gauge,
    /// Values of the run are summed.
    Count,
    /// Sum of increases of an ever-growing counter, resets ignored.
    MonotonicCount,
    /// Per-second derivative of a counter between two runs.
    Rate,
    /// Distribution of the run's values, summarised per flush.
    Histogram,
}

/// One value a check submitted, with everything that identifies its context.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, as the check submitted it.
    pub name: String,
    /// Which aggregation the check asked for.
    pub kind: MetricType,
    /// The value; NaN and infinities are dropped.
    pub value: f64,
    /// Final tags (the caller already appended instance/host tags); order
    /// and duplicates do not matter.
    pub tags: Vec<String>,
    /// Host the sample is about; `None` (or `""`) means no host.
    pub hostname: Option<String>,
    /// Unix seconds of the run that submitted it; rates divide by the
    /// difference between two of these.
    pub timestamp: f64,
}

/// The type a series is sent as (Datadog's series "type" field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesType {
    /// A point-in-time value.
    Gauge,
    /// A number of occurrences during the interval.
    Count,
    /// Occurrences per second over the interval.
    Rate,
}

/// One aggregated series, shaped like an entry of Datadog's series payload so
/// it can be serialised as-is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Series {
    /// Metric name (with `.max`, `.avg`, … for histograms).
    pub metric: String,
    /// `(timestamp, value)` pairs; serialised as `[[ts, value], ...]`.
    pub points: Vec<(f64, f64)>,
    /// Sorted, deduplicated, so equal contexts print equally.
    pub tags: Vec<String>,
    /// `""` when there is no hostname, as Datadog prints it.
    pub host: String,
    /// How the backend should interpret the value.
    #[serde(rename = "type")]
    pub kind: SeriesType,
    /// Flush interval in seconds; tells the backend what a count or rate
    /// covers.
    pub interval: u64,
}

/// What identifies a series: two samples with an equal key are aggregated
/// together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ContextKey {
    name: String,
    /// Sorted and deduplicated, so tag order never splits a context.
    tags: Vec<String>,
    /// `None` for no host (`Some("")` is normalised to `None`).
    host: Option<String>,
    kind: MetricType,
}

impl ContextKey {
    /// The text this key holds: what [`Aggregator::held_bytes`] counts.
    fn text_bytes(&self) -> usize {
        self.name.len()
            + self.tags.iter().map(String::len).sum::<usize>()
            + self.host.as_ref().map_or(0, String::len)
    }
}

/// Per-context state.
#[derive(Debug, Default)]
struct Context {
    /// `(value, timestamp)` added since the last flush, in submission order.
    pending: Vec<(f64, f64)>,
    /// Last committed `(value, timestamp)`: the reference the next delta
    /// (monotonic_count) or derivative (rate) is computed against. Only
    /// stateful types ever set it; a context without one is dropped after
    /// the flush.
    baseline: Option<(f64, f64)>,
    /// A later sample has been compared with a baseline at least once (so
    /// the context is no longer waiting for its second sample).
    compared: bool,
    /// `now` of the last flush that committed a sample, for expiry.
    last_seen: f64,
    /// Flushes in a row without a sample, for [`MAX_IDLE_FLUSHES`].
    idle_flushes: u32,
}

/// Samples of new series were dropped because the aggregator already held
/// its maximum number of contexts (`limits.max_contexts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextLimitHit {
    /// The cap, as given to [`Aggregator::with_max_contexts`].
    pub limit: usize,
    /// Samples dropped in the flush (not distinct series).
    pub dropped: u64,
}

impl fmt::Display for ContextLimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { limit, dropped } = self;
        let (samples, were) = if *dropped == 1 {
            ("sample", "was")
        } else {
            ("samples", "were")
        };
        write!(
            f,
            "run needed more than {limit} metric contexts (limits.max_contexts; series kept \
             from earlier runs count too): {dropped} {samples} of new series {were} dropped"
        )
    }
}

impl std::error::Error for ContextLimitHit {}

/// Aggregates the samples of one check instance into Datadog series.
///
/// Keep it for the instance's lifetime: rate and monotonic_count need the
/// previous run's sample.
#[derive(Debug)]
pub struct Aggregator {
    contexts: HashMap<ContextKey, Context>,
    /// At most this many contexts at once (stateless ones of the current
    /// run included).
    max_contexts: usize,
    /// Sum of [`ContextKey::text_bytes`] over `contexts`.
    held_bytes: usize,
    /// Samples dropped by the cap since the last flush.
    dropped: u64,
    /// What the last flush reports through `context_limit_hit`.
    dropped_in_last_flush: u64,
    histograms: HistogramSpec,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self {
            contexts: HashMap::new(),
            max_contexts: usize::MAX,
            held_bytes: 0,
            dropped: 0,
            dropped_in_last_flush: 0,
            histograms: HistogramSpec::default(),
        }
    }
}

impl Aggregator {
    /// An aggregator with no context yet, for a newly scheduled instance.
    /// No cap on contexts: see [`with_max_contexts`](Self::with_max_contexts).
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the contexts (distinct series) held at once at `max`: a sample
    /// that would create one more is dropped, while samples of existing
    /// contexts are still aggregated. Contexts kept between runs (rate and
    /// monotonic_count baselines) count as well as those of the current
    /// run, so what the host holds for this instance stays bounded. A check
    /// whose series are the same every run needs at most as many contexts
    /// as it submits samples per run.
    pub fn with_max_contexts(mut self, max: usize) -> Self {
        self.max_contexts = max;
        self
    }

    /// Which series histograms send (Datadog's defaults otherwise).
    pub fn with_histograms(mut self, spec: HistogramSpec) -> Self {
        self.histograms = spec;
        self
    }

    /// Contexts held now: stateful ones kept between runs, plus those of
    /// samples added since the last flush.
    pub fn live_contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Bytes of text the live contexts hold: metric names, tags and
    /// hostnames. The map and allocations come on top (about 170 bytes a
    /// context and 24 a tag, plus allocator rounding), as do the 16 bytes
    /// of each sample pending until the flush.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Whether the last [`flush`](Self::flush) had samples of new series
    /// dropped by the [cap](Self::with_max_contexts), and how many: the
    /// caller fails the run with it.
    pub fn context_limit_hit(&self) -> Option<ContextLimitHit> {
        (self.dropped_in_last_flush > 0).then_some(ContextLimitHit {
            limit: self.max_contexts,
            dropped: self.dropped_in_last_flush,
        })
    }

    /// Queues a sample for the next [`flush`](Self::flush).
    ///
    /// Nothing is computed yet, because rates and gauges depend on which
    /// samples belong to the same run. Samples with a NaN or infinite value
    /// or timestamp are dropped, and so are samples of a new context when
    /// [`live_contexts`](Self::live_contexts) is at the cap (counted for
    /// [`context_limit_hit`](Self::context_limit_hit)).
    pub fn add(&mut self, sample: Sample) {
        if !sample.value.is_finite() || !sample.timestamp.is_finite() {
            return;
        }
        let mut tags = sample.tags;
        tags.sort_unstable();
        tags.dedup();
        let key = ContextKey {
            name: sample.name,
            tags,
            host: sample.hostname.filter(|h| !h.is_empty()),
            kind: sample.kind,
        };
        let full = self.contexts.len() >= self.max_contexts;
        let ctx = match self.contexts.entry(key) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(_) if full => {
                self.dropped += 1;
                return;
            }
            Entry::Vacant(entry) => {
                self.held_bytes += entry.key().text_bytes();
                entry.insert(Context::default())
            }
        };
        ctx.pending.push((sample.value, sample.timestamp));
    }

    /// Commit what was added since the last flush: called once after every run.
    ///
    /// `now` (Unix seconds) stamps every point and drives the 25 h expiry of
    /// stateful contexts (which also expire after [`MAX_IDLE_FLUSHES`]
    /// flushes without a sample); `interval_secs` is the instance's
    /// collection interval, which a histogram's `.count` rate is divided by.
    /// Returns the series sorted by (metric, tags, host) so output is
    /// reproducible. Afterwards [`context_limit_hit`](Self::context_limit_hit)
    /// tells whether the cap dropped samples since the previous flush.
    pub fn flush(&mut self, now: f64, interval_secs: u64) -> Vec<Series> {
        self.dropped_in_last_flush = std::mem::take(&mut self.dropped);
        let mut out = Vec::new();
        for (key, ctx) in &mut self.contexts {
            if ctx.baseline.is_some() && now - ctx.last_seen > CONTEXT_EXPIRY_SECS {
                ctx.baseline = None;
                ctx.compared = false;
            }
            if ctx.pending.is_empty() {
                ctx.idle_flushes += 1;
                continue;
            }
            ctx.idle_flushes = 0;
            ctx.last_seen = now;
            let mut emit = |suffix: &str, kind: SeriesType, value: f64| {
                // A sum can still overflow to infinity; JSON cannot carry it.
                if value.is_finite() {
                    out.push(Series {
                        metric: format!("{}{suffix}", key.name),
                        points: vec![(now, value)],
                        tags: key.tags.clone(),
                        host: key.host.clone().unwrap_or_default(),
                        kind,
                        interval: interval_secs,
                    });
                }
            };
            let pending = std::mem::take(&mut ctx.pending);
            match key.kind {
                MetricType::Gauge => {
                    if let Some(&(value, _)) = pending.last() {
                        emit("", SeriesType::Gauge, value);
                    }
                }
                MetricType::Count => {
                    emit("", SeriesType::Count, pending.iter().map(|s| s.0).sum());
                }
                MetricType::MonotonicCount => {
                    if let Some(sum) = monotonic_increase(ctx, &pending) {
                        emit("", SeriesType::Count, sum);
                    }
                }
                MetricType::Rate => {
                    if let Some(rate) = pending.last().and_then(|&last| rate_against(ctx, last)) {
                        emit("", SeriesType::Gauge, rate);
                    }
                }
                MetricType::Histogram => {
                    let mut values: Vec<f64> = pending.iter().map(|s| s.0).collect();
                    values.sort_unstable_by(f64::total_cmp);
                    let n = values.len();
                    let spec = &self.histograms;
                    let sum: f64 = values.iter().sum();
                    if spec.max {
                        emit(".max", SeriesType::Gauge, values[n - 1]);
                    }
                    if spec.min {
                        emit(".min", SeriesType::Gauge, values[0]);
                    }
                    if spec.median {
                        emit(".median", SeriesType::Gauge, nearest_rank(&values, 1, 2));
                    }
                    if spec.avg {
                        emit(".avg", SeriesType::Gauge, sum / n as f64);
                    }
                    if spec.sum {
                        emit(".sum", SeriesType::Gauge, sum);
                    }
                    if spec.count {
                        // Datadog sends a histogram's count as a rate over
                        // the flush interval; guard a zero interval.
                        let per_sec = n as f64 / interval_secs.max(1) as f64;
                        emit(".count", SeriesType::Rate, per_sec);
                    }
                    for &p in &spec.percentiles {
                        let value = nearest_rank(&values, p as usize, 100);
                        emit(&format!(".{p}percentile"), SeriesType::Gauge, value);
                    }
                }
            }
        }
        // Stateless contexts, and stateful ones just expired, hold nothing
        // worth keeping.
        let mut freed = 0;
        self.contexts.retain(|key, ctx| {
            let keep = ctx.baseline.is_some() && ctx.idle_flushes < MAX_IDLE_FLUSHES;
            if !keep {
                freed += key.text_bytes();
            }
            keep
        });
        self.held_bytes -= freed;
        out.sort_by(compare_series);
        out
    }

    /// True when a rate or monotonic_count context has only its baseline sample so far
    /// (so `runner check` can tell the user to use --check-rate).
    ///
    /// Reflects the state as of the last [`flush`](Self::flush).
    pub fn awaiting_second_sample(&self) -> bool {
        self.contexts
            .values()
            .any(|ctx| ctx.baseline.is_some() && !ctx.compared)
    }
}

/// Sum of the non-negative deltas between consecutive samples, starting from
/// the context's baseline; a drop is a counter reset, whose delta is ignored
/// while the baseline still moves to the new value. `None` when no delta was
/// computed (the only sample was the first one ever: a baseline). A flush
/// whose only deltas were resets emits `Some(0.0)`, as the Agent does.
fn monotonic_increase(ctx: &mut Context, pending: &[(f64, f64)]) -> Option<f64> {
    let mut sum = None;
    for &(value, ts) in pending {
        if let Some((previous, _)) = ctx.baseline {
            *sum.get_or_insert(0.0) += (value - previous).max(0.0);
            ctx.compared = true;
        }
        ctx.baseline = Some((value, ts));
    }
    sum
}

/// Per-second derivative between the baseline and this run's last sample
/// (earlier samples of the same run are superseded, as in the Agent).
///
/// `None` on the first sample (it becomes the baseline), on equal timestamps
/// (the baseline is kept: there is no interval to divide by), on an earlier
/// timestamp (clock went back: the new sample becomes the baseline), and on a
/// negative result (counter reset: the new sample becomes the baseline).
fn rate_against(ctx: &mut Context, (value, ts): (f64, f64)) -> Option<f64> {
    let Some((previous, previous_ts)) = ctx.baseline else {
        ctx.baseline = Some((value, ts));
        return None;
    };
    if ts == previous_ts {
        return None;
    }
    ctx.baseline = Some((value, ts));
    ctx.compared = true;
    let rate = (value - previous) / (ts - previous_ts);
    (ts > previous_ts && rate >= 0.0).then_some(rate)
}

/// Nearest-rank percentile of `sorted` (ascending, non-empty) for
/// p = `num`/`den`: the value at index ceil(p × n) − 1, clamped to ≥ 0.
///
/// Nearest rank always returns a submitted value (no interpolation), which
/// is what the Agent reports. The rank is computed in integers so that
/// floating error in p × n cannot push it one rank up.
fn nearest_rank(sorted: &[f64], num: usize, den: usize) -> f64 {
    let rank = (num * sorted.len()).div_ceil(den);
    sorted[rank.saturating_sub(1)]
}

/// Total order for output: (metric, tags, host), then type and value so that
/// even colliding names (a gauge `x.max` next to histogram `x`) never depend
/// on hash-map iteration order.
fn compare_series(a: &Series, b: &Series) -> Ordering {
    let rank = |kind: SeriesType| match kind {
        SeriesType::Gauge => 0,
        SeriesType::Count => 1,
        SeriesType::Rate => 2,
    };
    (&a.metric, &a.tags, &a.host, rank(a.kind))
        .cmp(&(&b.metric, &b.tags, &b.host, rank(b.kind)))
        .then_with(|| {
            let value = |s: &Series| s.points.first().map_or(0.0, |p| p.1);
            value(a).total_cmp(&value(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: u64 = 15;

    fn sample(name: &str, kind: MetricType, value: f64, ts: f64) -> Sample {
        Sample {
            name: name.to_owned(),
            kind,
            value,
            tags: vec!["env:prod".to_owned()],
            hostname: Some("h1".to_owned()),
            timestamp: ts,
        }
    }

    /// Adds `values` as one run at `ts` and flushes at `ts`.
    fn run(agg: &mut Aggregator, kind: MetricType, values: &[f64], ts: f64) -> Vec<Series> {
        for &v in values {
            agg.add(sample("m", kind, v, ts));
        }
        agg.flush(ts, INTERVAL)
    }

    /// The single series of a flush: (type, value), asserting its shape.
    fn only(series: &[Series]) -> (SeriesType, f64) {
        assert_eq!(series.len(), 1, "{series:?}");
        assert_eq!(series[0].points.len(), 1);
        (series[0].kind, series[0].points[0].1)
    }

    #[test]
    fn gauge_last_value_wins_and_is_forgotten() {
        let mut agg = Aggregator::new();
        let out = run(&mut agg, MetricType::Gauge, &[1.0, 5.0, 3.0], 100.0);
        assert_eq!(
            out,
            vec![Series {
                metric: "m".into(),
                points: vec![(100.0, 3.0)],
                tags: vec!["env:prod".into()],
                host: "h1".into(),
                kind: SeriesType::Gauge,
                interval: INTERVAL,
            }]
        );
        assert!(agg.contexts.is_empty(), "stateless context kept");
        assert!(agg.flush(115.0, INTERVAL).is_empty());
    }

    #[test]
    fn count_sums_within_a_flush_only() {
        let mut agg = Aggregator::new();
        let out = run(&mut agg, MetricType::Count, &[1.0, 2.0, 3.5], 100.0);
        assert_eq!(only(&out), (SeriesType::Count, 6.5));
        let out = run(&mut agg, MetricType::Count, &[4.0], 115.0);
        assert_eq!(only(&out), (SeriesType::Count, 4.0));
        assert!(agg.flush(130.0, INTERVAL).is_empty());
    }

    #[test]
    fn monotonic_count_keeps_its_baseline_across_flushes() {
        let mut agg = Aggregator::new();
        let mc = MetricType::MonotonicCount;
        let out = run(&mut agg, mc, &[2.0, 3.0, 6.0, 7.0], 100.0);
        assert_eq!(only(&out), (SeriesType::Count, 5.0));
        let out = run(&mut agg, mc, &[10.0, 11.0], 115.0);
        assert_eq!(only(&out), (SeriesType::Count, 4.0));
    }

    #[test]
    fn monotonic_count_ignores_reset_delta_but_moves_baseline() {
        let mut agg = Aggregator::new();
        let mc = MetricType::MonotonicCount;
        let out = run(&mut agg, mc, &[5.0, 8.0, 2.0, 4.0], 100.0);
        assert_eq!(only(&out), (SeriesType::Count, 5.0));
        // Reset across flushes: 4 → 1 is ignored, 1 → 3 counts.
        let out = run(&mut agg, mc, &[1.0, 3.0], 115.0);
        assert_eq!(only(&out), (SeriesType::Count, 2.0));
        // A flush whose only delta is a reset still reports 0, as the Agent.
        let out = run(&mut agg, mc, &[0.0], 130.0);
        assert_eq!(only(&out), (SeriesType::Count, 0.0));
    }

    #[test]
    fn monotonic_count_baseline_only_flush_emits_nothing() {
        let mut agg = Aggregator::new();
        let mc = MetricType::MonotonicCount;
        assert!(run(&mut agg, mc, &[2.0], 100.0).is_empty());
        assert!(
            agg.flush(115.0, INTERVAL).is_empty(),
            "no sample, no series"
        );
        let out = run(&mut agg, mc, &[9.0], 130.0);
        assert_eq!(only(&out), (SeriesType::Count, 7.0));
    }

    #[test]
    fn rate_from_the_second_run_uses_sample_timestamps() {
        let mut agg = Aggregator::new();
        assert!(run(&mut agg, MetricType::Rate, &[10.0], 100.0).is_empty());
        let out = run(&mut agg, MetricType::Rate, &[40.0], 115.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 2.0));
        // Uneven gap: (100 − 40) / (135 − 115) = 3.
        let out = run(&mut agg, MetricType::Rate, &[100.0], 135.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 3.0));
        assert_eq!(out[0].points, vec![(135.0, 3.0)]);
    }

    #[test]
    fn rate_sample_timestamp_not_flush_time_is_the_divisor() {
        let mut agg = Aggregator::new();
        agg.add(sample("m", MetricType::Rate, 0.0, 100.0));
        agg.flush(101.0, INTERVAL);
        agg.add(sample("m", MetricType::Rate, 50.0, 110.0));
        // Flushed late: still 50 / (110 − 100).
        assert_eq!(only(&agg.flush(130.0, INTERVAL)), (SeriesType::Gauge, 5.0));
    }

    #[test]
    fn rate_needs_two_runs_and_uses_the_runs_last_sample() {
        let mut agg = Aggregator::new();
        agg.add(sample("m", MetricType::Rate, 1.0, 99.0));
        agg.add(sample("m", MetricType::Rate, 10.0, 100.0));
        assert!(agg.flush(100.0, INTERVAL).is_empty());
        assert!(agg.awaiting_second_sample());
        let out = run(&mut agg, MetricType::Rate, &[0.0, 25.0], 105.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 3.0));
    }

    #[test]
    fn negative_rate_is_dropped_then_resumes_from_new_baseline() {
        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::Rate, &[100.0], 0.0);
        assert!(run(&mut agg, MetricType::Rate, &[50.0], 10.0).is_empty());
        let out = run(&mut agg, MetricType::Rate, &[80.0], 20.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 3.0));
    }

    #[test]
    fn rate_without_forward_time_is_dropped() {
        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::Rate, &[10.0], 100.0);
        // Same timestamp: dropped, baseline (10 @ 100) kept.
        assert!(run(&mut agg, MetricType::Rate, &[20.0], 100.0).is_empty());
        let out = run(&mut agg, MetricType::Rate, &[40.0], 110.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 3.0));
        // Earlier timestamp (clock went back): (30 − 40) / (90 − 110) would
        // be a positive 0.5, but it is dropped and becomes the baseline.
        assert!(run(&mut agg, MetricType::Rate, &[30.0], 90.0).is_empty());
        let out = run(&mut agg, MetricType::Rate, &[80.0], 95.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 10.0));
    }

    fn histogram_values(out: &[Series]) -> Vec<(&str, SeriesType, f64)> {
        out.iter()
            .map(|s| (s.metric.as_str(), s.kind, s.points[0].1))
            .collect()
    }

    #[test]
    fn histogram_of_1_to_100() {
        let mut agg = Aggregator::new();
        // Submitted out of order: 1..=100 permuted by ×37 mod 101.
        for i in 1..=100u32 {
            agg.add(sample(
                "h",
                MetricType::Histogram,
                f64::from(i * 37 % 101),
                0.0,
            ));
        }
        let out = agg.flush(0.0, 10);
        assert_eq!(
            histogram_values(&out),
            vec![
                ("h.95percentile", SeriesType::Gauge, 95.0),
                ("h.avg", SeriesType::Gauge, 50.5),
                ("h.count", SeriesType::Rate, 10.0),
                ("h.max", SeriesType::Gauge, 100.0),
                ("h.median", SeriesType::Gauge, 50.0),
            ]
        );
        assert!(out.iter().all(|s| s.tags == ["env:prod"] && s.host == "h1"));
        assert!(agg.contexts.is_empty());
        assert!(
            agg.flush(15.0, 10).is_empty(),
            "values leaked into next flush"
        );
    }

    #[test]
    fn histogram_nearest_rank_on_small_sets() {
        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::Histogram, &[7.0], 0.0)
            .iter()
            .filter(|s| s.metric != "m.count")
            .for_each(|s| assert_eq!(s.points[0].1, 7.0, "{}", s.metric));
        let out = run(&mut agg, MetricType::Histogram, &[4.0, 1.0, 3.0, 2.0], 15.0);
        assert_eq!(
            histogram_values(&out),
            vec![
                ("m.95percentile", SeriesType::Gauge, 4.0),
                ("m.avg", SeriesType::Gauge, 2.5),
                ("m.count", SeriesType::Rate, 4.0 / 15.0),
                ("m.max", SeriesType::Gauge, 4.0),
                ("m.median", SeriesType::Gauge, 2.0),
            ]
        );
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        // ceil(0.95 × 20) − 1 = 18 exactly → 19, not 20.
        assert_eq!(nearest_rank(&twenty, 95, 100), 19.0);
        assert_eq!(nearest_rank(&twenty, 1, 2), 10.0);
    }

    #[test]
    fn tag_order_and_duplicates_share_a_context() {
        let mut agg = Aggregator::new();
        let mut a = sample("m", MetricType::Count, 1.0, 0.0);
        a.tags = vec!["b".into(), "a".into()];
        let mut b = sample("m", MetricType::Count, 2.0, 0.0);
        b.tags = vec!["a".into(), "b".into(), "a".into()];
        agg.add(a);
        agg.add(b);
        let out = agg.flush(0.0, INTERVAL);
        assert_eq!(only(&out), (SeriesType::Count, 3.0));
        assert_eq!(out[0].tags, ["a", "b"]);
    }

    #[test]
    fn hostnames_and_types_split_contexts_and_output_is_sorted() {
        let mut agg = Aggregator::new();
        for (host, value) in [
            (Some("h2"), 2.0),
            (None, 0.0),
            (Some("h1"), 1.0),
            (Some(""), 5.0),
        ] {
            let mut s = sample("m", MetricType::Gauge, value, 0.0);
            s.hostname = host.map(str::to_owned);
            agg.add(s);
        }
        agg.add(sample("a", MetricType::Count, 9.0, 0.0));
        agg.add(sample("m", MetricType::Count, 4.0, 0.0));
        let out = agg.flush(0.0, INTERVAL);
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.metric.as_str(), s.host.as_str(), s.kind, s.points[0].1))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "h1", SeriesType::Count, 9.0),
                // None and "" are the same "no host" context: last wins.
                ("m", "", SeriesType::Gauge, 5.0),
                ("m", "h1", SeriesType::Gauge, 1.0),
                ("m", "h1", SeriesType::Count, 4.0),
                ("m", "h2", SeriesType::Gauge, 2.0),
            ]
        );
    }

    #[test]
    fn non_finite_values_are_dropped() {
        let mut agg = Aggregator::new();
        let out = run(&mut agg, MetricType::Gauge, &[1.0, f64::NAN], 0.0);
        assert_eq!(only(&out), (SeriesType::Gauge, 1.0));
        let out = run(
            &mut agg,
            MetricType::Count,
            &[1.0, f64::INFINITY, 2.0],
            15.0,
        );
        assert_eq!(only(&out), (SeriesType::Count, 3.0));
        let out = run(&mut agg, MetricType::Histogram, &[f64::NAN, 3.0, 1.0], 30.0);
        assert!(
            out.iter()
                .any(|s| s.metric == "m.avg" && s.points[0].1 == 2.0)
        );
        // A NaN alone creates no context and no baseline.
        assert!(run(&mut agg, MetricType::MonotonicCount, &[f64::NAN], 45.0).is_empty());
        assert!(agg.contexts.is_empty());
        let mut bad_ts = sample("m", MetricType::Rate, 1.0, f64::NAN);
        bad_ts.timestamp = f64::NAN;
        agg.add(bad_ts);
        assert!(agg.flush(60.0, INTERVAL).is_empty());
        assert!(agg.contexts.is_empty());
    }

    #[test]
    fn stateful_contexts_expire_after_25_hours_when_flushes_are_rare() {
        const H25: f64 = 25.0 * 3600.0;
        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::Rate, &[0.0], 0.0);
        run(&mut agg, MetricType::MonotonicCount, &[0.0], 0.0);
        // Fewer than MAX_IDLE_FLUSHES idle flushes: only the 25 h apply.
        assert!(agg.flush(H25, INTERVAL).is_empty());
        assert_eq!(agg.contexts.len(), 2, "expired at exactly 25 h");
        assert!(agg.flush(H25 + 1.0, INTERVAL).is_empty());
        assert!(agg.contexts.is_empty(), "kept past 25 h");
        assert!(!agg.awaiting_second_sample());

        // Without an intermediate flush the stale baseline is not used either.
        run(&mut agg, MetricType::Rate, &[0.0], 0.0);
        run(&mut agg, MetricType::MonotonicCount, &[0.0], 0.0);
        assert!(run(&mut agg, MetricType::Rate, &[100.0], H25 + 1.0).is_empty());
        assert!(run(&mut agg, MetricType::MonotonicCount, &[100.0], H25 + 1.0).is_empty());
        assert!(agg.awaiting_second_sample());
        // Control: within 25 h the baseline is used.
        let out = run(&mut agg, MetricType::Rate, &[136.0], 2.0 * H25);
        assert_eq!(only(&out), (SeriesType::Gauge, 36.0 / (H25 - 1.0)));
    }

    #[test]
    fn stateful_contexts_expire_after_10_flushes_without_samples() {
        let mut agg = Aggregator::new();
        agg.add(sample("m", MetricType::Rate, 0.0, 0.0));
        agg.add(sample("m", MetricType::MonotonicCount, 0.0, 0.0));
        agg.flush(0.0, INTERVAL);
        let ts = |flush: u32| f64::from(flush) * INTERVAL as f64;
        for flush in 1..MAX_IDLE_FLUSHES {
            assert!(agg.flush(ts(flush), INTERVAL).is_empty());
        }
        assert_eq!(agg.live_contexts(), 2, "expired before 10 idle flushes");
        // After 9 idle flushes the rate's baseline is still used; this
        // flush is the monotonic_count's 10th without a sample.
        let out = run(&mut agg, MetricType::Rate, &[150.0], ts(10));
        assert_eq!(only(&out), (SeriesType::Gauge, 1.0));
        assert_eq!(agg.live_contexts(), 1, "monotonic_count kept");
        assert!(!agg.awaiting_second_sample());
        // So the monotonic_count starts over from a new baseline.
        assert!(run(&mut agg, MetricType::MonotonicCount, &[100.0], ts(11)).is_empty());
        assert!(agg.awaiting_second_sample());

        // 10 idle flushes in a row expire the rate too.
        for flush in 12..22 {
            agg.flush(ts(flush), INTERVAL);
        }
        assert!(agg.contexts.is_empty());
        assert_eq!(agg.held_bytes(), 0);
        assert!(run(&mut agg, MetricType::Rate, &[500.0], ts(22)).is_empty());
    }

    /// A sample of metric `m` whose one tag is `tag`.
    fn tagged(kind: MetricType, tag: &str, value: f64, ts: f64) -> Sample {
        Sample {
            tags: vec![tag.to_owned()],
            ..sample("m", kind, value, ts)
        }
    }

    #[test]
    fn cap_drops_new_contexts_but_keeps_updating_existing_ones() {
        let mut agg = Aggregator::new().with_max_contexts(2);
        agg.add(sample("a", MetricType::Rate, 0.0, 0.0));
        agg.add(sample("b", MetricType::Gauge, 1.0, 0.0));
        agg.add(sample("c", MetricType::Gauge, 1.0, 0.0));
        // Same name, other type: another context, dropped too.
        agg.add(sample("b", MetricType::Count, 1.0, 0.0));
        agg.add(sample("b", MetricType::Gauge, 2.0, 0.0));
        assert_eq!(agg.live_contexts(), 2);
        let out = agg.flush(0.0, INTERVAL);
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.metric.as_str(), s.points[0].1))
            .collect();
        assert_eq!(got, [("b", 2.0)]);
        assert_eq!(
            agg.context_limit_hit(),
            Some(ContextLimitHit {
                limit: 2,
                dropped: 2
            })
        );

        // The rate's baseline is kept, the gauge's context freed: one new
        // context fits again, the next one does not.
        agg.add(sample("a", MetricType::Rate, 30.0, 15.0));
        agg.add(sample("c", MetricType::Gauge, 3.0, 15.0));
        agg.add(sample("d", MetricType::Gauge, 4.0, 15.0));
        let out = agg.flush(15.0, INTERVAL);
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.metric.as_str(), s.points[0].1))
            .collect();
        assert_eq!(got, [("a", 2.0), ("c", 3.0)]);
        let hit = agg.context_limit_hit().expect("d dropped");
        assert_eq!(hit.dropped, 1);
        assert!(
            hit.to_string()
                .ends_with(": 1 sample of new series was dropped")
        );

        // Reported per flush.
        agg.add(sample("a", MetricType::Rate, 45.0, 30.0));
        assert_eq!(only(&agg.flush(30.0, INTERVAL)), (SeriesType::Gauge, 1.0));
        assert_eq!(agg.context_limit_hit(), None);
    }

    #[test]
    fn expiry_frees_contexts_so_new_ones_fit_again() {
        let mut agg = Aggregator::new().with_max_contexts(2);
        // A check that tags its counter with something new every run.
        agg.add(tagged(MetricType::MonotonicCount, "run:0", 1.0, 0.0));
        agg.add(tagged(MetricType::MonotonicCount, "run:1", 1.0, 0.0));
        agg.flush(0.0, INTERVAL);
        let per_context = "m".len() + "run:0".len() + "h1".len();
        assert_eq!(agg.held_bytes(), 2 * per_context);
        agg.add(tagged(MetricType::MonotonicCount, "run:2", 1.0, 15.0));
        agg.flush(15.0, INTERVAL);
        assert_eq!(agg.context_limit_hit().map(|hit| hit.dropped), Some(1));
        assert_eq!(agg.live_contexts(), 2);
        for flush in 2..=MAX_IDLE_FLUSHES {
            agg.flush(f64::from(flush) * 15.0, INTERVAL);
        }
        assert_eq!(agg.live_contexts(), 0);
        assert_eq!(agg.held_bytes(), 0);
        agg.add(tagged(MetricType::MonotonicCount, "run:2", 1.0, 165.0));
        agg.flush(165.0, INTERVAL);
        assert_eq!(agg.context_limit_hit(), None);
        assert_eq!(agg.held_bytes(), per_context);
    }

    #[test]
    fn held_bytes_counts_key_text_and_goes_back_down() {
        let mut agg = Aggregator::new();
        assert_eq!(agg.held_bytes(), 0);
        let mut s = sample("metric", MetricType::Gauge, 1.0, 0.0);
        s.tags = vec!["b:2".into(), "a:1".into(), "b:2".into()];
        agg.add(s.clone());
        // Duplicate tags count once; the same context again adds nothing.
        let first = "metric".len() + "a:1b:2".len() + "h1".len();
        assert_eq!(agg.held_bytes(), first);
        agg.add(s);
        assert_eq!(agg.held_bytes(), first);
        agg.add(sample("metric", MetricType::Gauge, 2.0, 0.0));
        let mut no_host = sample("r", MetricType::Rate, 2.0, 0.0);
        no_host.hostname = None;
        agg.add(no_host);
        let second = "metric".len() + "env:prod".len() + "h1".len();
        let third = "r".len() + "env:prod".len();
        assert_eq!(agg.held_bytes(), first + second + third);
        agg.flush(0.0, INTERVAL);
        // The gauges are freed, the rate's baseline is kept.
        assert_eq!(agg.held_bytes(), "r".len() + "env:prod".len());
    }

    #[test]
    fn context_limit_hit_names_the_setting() {
        let hit = ContextLimitHit {
            limit: 2000,
            dropped: 37,
        };
        assert_eq!(
            hit.to_string(),
            "run needed more than 2000 metric contexts (limits.max_contexts; series kept \
             from earlier runs count too): 37 samples of new series were dropped"
        );
    }

    #[test]
    fn awaiting_second_sample_tracks_baseline_only_contexts() {
        let mut agg = Aggregator::new();
        assert!(!agg.awaiting_second_sample());
        run(&mut agg, MetricType::Gauge, &[1.0], 0.0);
        assert!(!agg.awaiting_second_sample());
        run(&mut agg, MetricType::Rate, &[1.0], 0.0);
        assert!(agg.awaiting_second_sample());
        run(&mut agg, MetricType::Rate, &[2.0], 15.0);
        assert!(!agg.awaiting_second_sample());

        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::MonotonicCount, &[1.0], 0.0);
        assert!(agg.awaiting_second_sample());
        run(&mut agg, MetricType::MonotonicCount, &[1.0], 15.0);
        assert!(!agg.awaiting_second_sample());

        // Two samples in one run are enough for a monotonic_count.
        let mut agg = Aggregator::new();
        run(&mut agg, MetricType::MonotonicCount, &[1.0, 2.0], 0.0);
        assert!(!agg.awaiting_second_sample());
    }

    #[test]
    fn serialises_like_datadog() {
        let series = Series {
            metric: "m".into(),
            points: vec![(1.5, 2.0)],
            tags: vec!["a:b".into()],
            host: String::new(),
            kind: SeriesType::Rate,
            interval: 15,
        };
        assert_eq!(
            serde_json::to_value(&series).unwrap(),
            serde_json::json!({
                "metric": "m", "points": [[1.5, 2.0]], "tags": ["a:b"],
                "host": "", "type": "rate", "interval": 15
            })
        );
        assert_eq!(
            serde_json::to_value(MetricType::MonotonicCount).unwrap(),
            "monotonic_count"
        );
    }
}
