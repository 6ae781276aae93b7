//! What triggers a reload: changes under conf.d and checks.d (inotify,
//! through `notify`) and SIGHUP. Bursts of events (an editor's save is
//! several) are merged by the caller.

use std::path::Path;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// Watch `dirs` (those that exist) and send `()` on every change. The
/// watcher stops when the returned value is dropped.
pub fn watch(dirs: &[&Path], changed: UnboundedSender<()>) -> Option<RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, EventKind::Access(_))
        {
            let _ = changed.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::warn!("cannot watch for configuration changes ({e}); send SIGHUP to reload");
            return None;
        }
    };
    for dir in dirs {
        if !dir.is_dir() {
            tracing::info!(
                "{} does not exist: not watched (create it, then send SIGHUP)",
                dir.display()
            );
            continue;
        }
        if let Err(e) = watcher.watch(dir, RecursiveMode::Recursive) {
            tracing::warn!("cannot watch {}: {e}; send SIGHUP to reload", dir.display());
        }
    }
    Some(watcher)
}
