//! One process snapshot shared by every check instance.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::Mutex;

use super::ProcessSnapshot;

/// Hands out a cached [`ProcessSnapshot`], re-reading `/proc` only when the
/// cached one is older than `max_age`.
#[derive(Debug)]
pub struct SnapshotService {
    /// Where the proc file system is read from.
    root: PathBuf,
    max_age: Duration,
    /// Held across a refresh, so concurrent callers wait for it and share it.
    cache: Mutex<Option<Cached>>,
    refreshes: AtomicU64,
}

#[derive(Debug)]
struct Cached {
    snapshot: Arc<ProcessSnapshot>,
    /// When the read that produced `snapshot` started.
    started: Instant,
}

impl SnapshotService {
    /// A service whose snapshots of `/proc` are at most `max_age` old.
    pub fn new(max_age: Duration) -> Self {
        Self::with_root(PathBuf::from(super::PROC), max_age)
    }

    /// A service reading the proc file system mounted at `root`.
    pub fn with_root(root: PathBuf, max_age: Duration) -> Self {
        Self {
            root,
            max_age,
            cache: Mutex::new(None),
            refreshes: AtomicU64::new(0),
        }
    }

    /// Returns a snapshot no older than `max_age`; refreshes otherwise.
    ///
    /// Concurrent callers while a refresh is in flight wait for and share
    /// that one refresh; the blocking `/proc` read runs in
    /// `spawn_blocking`. A failed refresh is returned to the caller that ran
    /// it and is not cached: the next caller tries again.
    pub async fn get(&self) -> anyhow::Result<Arc<ProcessSnapshot>> {
        let called = Instant::now();
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            // A read that started after this call is fresh enough whatever
            // `max_age` is: that is how waiters share an in-flight refresh.
            && (cached.started >= called || cached.started.elapsed() <= self.max_age)
        {
            return Ok(Arc::clone(&cached.snapshot));
        }

        let started = Instant::now();
        let root = self.root.clone();
        let read = tokio::task::spawn_blocking(move || ProcessSnapshot::read_from(&root)).await;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
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
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// How many times `/proc` was actually read (for tests and status).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_one_refresh() {
        let service = Arc::new(SnapshotService::new(Duration::from_secs(60)));
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let service = Arc::clone(&service);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    service.get().await.unwrap()
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
        let service = Arc::new(SnapshotService::new(Duration::ZERO));
        let guard = service.cache.lock().await;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let service = Arc::clone(&service);
                tokio::spawn(async move { service.get().await.unwrap() })
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
        service.get().await.unwrap();
        assert_eq!(service.refresh_count(), 2);
    }

    #[tokio::test]
    async fn refreshes_again_after_max_age() {
        let service = SnapshotService::new(Duration::from_millis(300));
        let first = service.get().await.unwrap();
        let second = service.get().await.unwrap();
        assert_eq!(service.refresh_count(), 1);
        assert!(Arc::ptr_eq(&first, &second));

        tokio::time::sleep(Duration::from_millis(400)).await;
        let third = service.get().await.unwrap();
        assert_eq!(service.refresh_count(), 2);
        assert!(!Arc::ptr_eq(&first, &third));
        assert!(third.taken_at > first.taken_at);
    }
}
