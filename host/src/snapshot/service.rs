//! One process snapshot shared by every check instance.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::Mutex;

use super::{FieldSet, ProcessSnapshot, Reader, SnapshotSettings};
use crate::cmdline_scrub::Scrubber;

/// Hands out a cached [`ProcessSnapshot`], re-reading `/proc` only when the
/// cached one is older than `max_age` or lacks fields a caller asks for.
#[derive(Debug)]
pub struct SnapshotService {
    /// Where the proc file system is read from.
    root: PathBuf,
    max_age: Duration,
    /// Keeps what refreshes reuse (static fields, the previous CPU sample);
    /// locked by the blocking task that refreshes.
    reader: Arc<std::sync::Mutex<Reader>>,
    /// Held across a refresh, so concurrent callers wait for it and share it.
    cache: Mutex<Option<Cached>>,
    /// The optional fields callers asked for lately, read by every refresh
    /// so that callers asking for different fields share one.
    recent: std::sync::Mutex<RecentFields>,
    /// How command lines are scrubbed before anyone outside the runner
    /// sees them.
    scrubber: Arc<Scrubber>,
    refreshes: AtomicU64,
    /// Wall time of all refreshes, nanoseconds.
    refresh_nanos: AtomicU64,
}

/// How long a field someone asked for keeps being read by every refresh:
/// longer than any usual check interval, so the instances of a daemon that
/// want sockets and those that want fds settle on one refresh per tick.
const FIELDS_KEPT_FOR: Duration = Duration::from_secs(600);

/// When each optional field was last asked for.
#[derive(Debug, Default)]
struct RecentFields {
    open_fds: Option<Instant>,
    io: Option<Instant>,
    cwd: Option<Instant>,
    connections: Option<Instant>,
}

impl RecentFields {
    /// Records `asked` and returns it with every field asked for within
    /// [`FIELDS_KEPT_FOR`].
    fn ask(&mut self, asked: FieldSet, now: Instant) -> FieldSet {
        let keep = |wanted: bool, last: &mut Option<Instant>| {
            if wanted {
                *last = Some(now);
            }
            last.is_some_and(|at| now.duration_since(at) <= FIELDS_KEPT_FOR)
        };
        FieldSet {
            open_fds: keep(asked.open_fds, &mut self.open_fds),
            io: keep(asked.io, &mut self.io),
            cwd: keep(asked.cwd, &mut self.cwd),
            connections: keep(asked.connections, &mut self.connections),
        }
    }
}

#[derive(Debug)]
struct Cached {
    snapshot: Arc<ProcessSnapshot>,
    /// When the read that produced `snapshot` started.
    started: Instant,
}

impl SnapshotService {
    /// A service reading the host as `settings` say, whose snapshots are
    /// at most `max_age` old.
    pub fn new(settings: SnapshotSettings, max_age: Duration) -> Self {
        Self {
            root: settings.proc_root.clone(),
            max_age,
            reader: Arc::new(std::sync::Mutex::new(Reader::new(settings))),
            cache: Mutex::new(None),
            recent: std::sync::Mutex::new(RecentFields::default()),
            scrubber: Scrubber::shared_default(),
            refreshes: AtomicU64::new(0),
            refresh_nanos: AtomicU64::new(0),
        }
    }

    /// The same service, handing out `scrubber` (default: Datadog's
    /// default sensitive words) for the command lines it serves.
    pub fn with_scrubber(mut self, scrubber: Arc<Scrubber>) -> Self {
        self.scrubber = scrubber;
        self
    }

    /// How command lines from this service's snapshots must be scrubbed
    /// before a check, the CLI or a log sees them.
    pub fn scrubber(&self) -> Arc<Scrubber> {
        Arc::clone(&self.scrubber)
    }

    /// Returns a snapshot no older than `max_age` that has `fields`;
    /// refreshes otherwise.
    ///
    /// A refresh reads what is asked plus what callers asked for in the
    /// last 10 minutes and what the cached snapshot had, if that one is
    /// still fresh, so callers asking for different fields settle on one
    /// snapshot. Concurrent callers while a
    /// refresh is in flight wait for and share that one refresh; the
    /// blocking `/proc` read runs in `spawn_blocking`. A failed refresh is
    /// returned to the caller that ran it and is not cached: the next
    /// caller tries again.
    pub async fn get(&self, fields: FieldSet) -> anyhow::Result<Arc<ProcessSnapshot>> {
        let called = Instant::now();
        let mut wanted = self
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ask(fields, called);
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            // A read that started after this call is fresh enough whatever
            // `max_age` is: that is how waiters share an in-flight refresh.
            && (cached.started >= called || cached.started.elapsed() <= self.max_age)
        {
            if cached.snapshot.fields.covers(fields) {
                return Ok(Arc::clone(&cached.snapshot));
            }
            wanted = wanted.union(cached.snapshot.fields);
        }

        let started = Instant::now();
        let reader = Arc::clone(&self.reader);
        let read = tokio::task::spawn_blocking(move || {
            // A refresh that panicked leaves only caches behind: usable.
            let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
            reader.refresh(wanted)
        })
        .await;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.refresh_nanos.fetch_add(took, Ordering::Relaxed);
        let snapshot = Arc::new(
            read.context("process snapshot task failed")?
                .context("reading process snapshot")?,
        );
        *cache = Some(Cached {
            snapshot: Arc::clone(&snapshot),
            started,
        });
        Ok(snapshot)
    }

    /// The proc file system this service reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many times `/proc` was actually read (for tests and status).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Wall time spent reading `/proc` over all refreshes.
    pub fn refresh_time(&self) -> Duration {
        Duration::from_nanos(self.refresh_nanos.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_asked_lately_are_kept() {
        let mut recent = RecentFields::default();
        let start = Instant::now();
        let fds = FieldSet {
            open_fds: true,
            ..FieldSet::NONE
        };
        let sockets = FieldSet {
            connections: true,
            ..FieldSet::NONE
        };
        assert_eq!(recent.ask(fds, start), fds);
        // A later caller asking for sockets gets fds read too, and the
        // other way round.
        let both = fds.union(sockets);
        assert_eq!(recent.ask(sockets, start + Duration::from_secs(15)), both);
        assert_eq!(
            recent.ask(FieldSet::NONE, start + Duration::from_secs(30)),
            both
        );
        // Ten minutes after fds were last asked for, they are dropped.
        let later = start + FIELDS_KEPT_FOR + Duration::from_secs(1);
        assert_eq!(recent.ask(FieldSet::NONE, later), sockets);
        let much_later = later + FIELDS_KEPT_FOR;
        assert_eq!(recent.ask(FieldSet::NONE, much_later), FieldSet::NONE);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_one_refresh() {
        let service = Arc::new(SnapshotService::new(
            SnapshotSettings::default(),
            Duration::from_secs(60),
        ));
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let service = Arc::clone(&service);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    service.get(FieldSet::NONE).await.unwrap()
                })
            })
            .collect();
        let mut snapshots = Vec::new();
        for task in tasks {
            snapshots.push(task.await.unwrap());
        }
        assert_eq!(service.refresh_count(), 1);
        assert!(snapshots.iter().all(|s| Arc::ptr_eq(s, &snapshots[0])));
        assert!(!snapshots[0].processes.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiters_share_an_in_flight_refresh_even_with_zero_max_age() {
        // With max_age 0 every call refreshes, except callers that arrived
        // while a refresh was already running: they share it. Hold the lock
        // so all 8 arrive before the first refresh starts.
        let service = Arc::new(SnapshotService::new(
            SnapshotSettings::default(),
            Duration::ZERO,
        ));
        let guard = service.cache.lock().await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let service = Arc::clone(&service);
                tokio::spawn(async move { service.get(FieldSet::NONE).await.unwrap() })
            })
            .collect();
        // Let every task take its `called` timestamp and queue on the lock.
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(guard);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(service.refresh_count(), 1);
        // A later call does not reuse it.
        service.get(FieldSet::NONE).await.unwrap();
        assert_eq!(service.refresh_count(), 2);
    }

    #[tokio::test]
    async fn refreshes_again_after_max_age() {
        // Long enough for a refresh on a loaded machine.
        let service = SnapshotService::new(SnapshotSettings::default(), Duration::from_secs(1));
        let first = service.get(FieldSet::NONE).await.unwrap();
        let second = service.get(FieldSet::NONE).await.unwrap();
        assert_eq!(service.refresh_count(), 1);
        assert!(Arc::ptr_eq(&first, &second));

        tokio::time::sleep(Duration::from_millis(1100)).await;
        let third = service.get(FieldSet::NONE).await.unwrap();
        assert_eq!(service.refresh_count(), 2);
        assert!(!Arc::ptr_eq(&first, &third));
        assert!(third.taken_at > first.taken_at);
    }

    #[tokio::test]
    async fn refreshes_for_missing_fields_and_keeps_the_cached_ones() {
        let service = SnapshotService::new(SnapshotSettings::default(), Duration::from_secs(60));
        let fds = FieldSet {
            open_fds: true,
            ..FieldSet::NONE
        };
        let io = FieldSet {
            io: true,
            ..FieldSet::NONE
        };
        let first = service.get(fds).await.unwrap();
        assert_eq!(first.fields, fds);
        // Fewer fields: the cached snapshot covers them.
        let same = service.get(FieldSet::NONE).await.unwrap();
        assert!(Arc::ptr_eq(&first, &same));
        assert_eq!(service.refresh_count(), 1);
        // More: a refresh reading both.
        let both = service.get(io).await.unwrap();
        assert_eq!(service.refresh_count(), 2);
        assert_eq!(both.fields, fds.union(io));
        let me = both
            .processes
            .iter()
            .find(|r| r.pid == std::process::id())
            .unwrap();
        assert!(me.open_fds.is_some() && me.io.is_some());
        assert!(Arc::ptr_eq(&both, &service.get(fds).await.unwrap()));
        assert_eq!(service.refresh_count(), 2);
    }
}
