//! Which processes hold which sockets: a walk of `<proc>/<pid>/fd` with one
//! `readlinkat` per descriptor, as `ss -p` does. A socket's link reads
//! `socket:[<inode>]`.
//!
//! This is the costly half of reading connections (a few µs per fd), so it
//! runs on raw libc calls: the fd directory is opened relative to the proc
//! root, its entries are read in place with `readdir`, and each link is
//! read into one reused buffer, with no allocation per descriptor (std's
//! `read_dir` and `read_link` allocate a name and a path for each).

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A full walk is made at least every this many refreshes, whatever the
/// fd counts say (see [`OwnerCache`]).
const FULL_WALK_EVERY: u64 = 10;

/// The socket inodes each process held at its last walk, so that a refresh
/// walks only the processes whose fd count changed.
///
/// A process whose identity (pid, start time) and fd count are unchanged
/// keeps its sockets. A new socket can only have appeared in a process
/// that was walked, unless a process swapped one descriptor for another
/// with no change in count: so when sockets are left without an owner that
/// the last full walk did not leave without one, the skipped processes are
/// walked too. What remains possible is missing a process that swapped a
/// socket for one that was already open elsewhere (fd passing, `dup2` over
/// a socket) with its count unchanged; every [`FULL_WALK_EVERY`]th refresh
/// walks everything, which bounds how long that lasts.
#[derive(Debug, Default)]
pub struct OwnerCache {
    held: HashMap<u32, Held>,
    /// Socket inodes no readable process held at the last full walk
    /// (kernel sockets, other users' processes when unprivileged).
    unowned_after_full_walk: HashSet<u64>,
    refreshes: u64,
}

#[derive(Debug)]
struct Held {
    /// Start time of the process, as the caller identifies it.
    start: u64,
    /// Its fd count at the walk.
    fds: i64,
    /// Socket inodes among its descriptors.
    inodes: Vec<u64>,
}

/// Pids holding each socket inode, for the inodes of `owned` (keys): the
/// values get the pids of `processes` ((pid, start time) pairs) in order,
/// so sorted when `processes` is, and may repeat a pid that holds a socket
/// in several descriptors. Pids whose fd directory cannot be read (exited,
/// or another user's while unprivileged) are skipped. With a `cache`, only
/// processes whose fd count changed are walked (see [`OwnerCache`]).
pub(super) fn fill(
    proc_root: &Path,
    processes: &[(u32, u64)],
    owned: &mut HashMap<u64, Vec<u32>>,
    cache: Option<&mut OwnerCache>,
) {
    let Ok(root) = CString::new(proc_root.as_os_str().as_bytes()) else {
        return;
    };
    let Some(root) = Dir::open(libc::AT_FDCWD, &root) else {
        return;
    };
    let mut walker = Walker {
        root,
        path: Vec::with_capacity(32),
        link: [0u8; 64],
    };
    let Some(cache) = cache else {
        for &(pid, _) in processes {
            if let Some((_, inodes)) = walker.walk(pid, false) {
                add(owned, pid, &inodes);
            }
        }
        return;
    };
    // Fd counts come from the size of the fd directory, which only procfs
    // (Linux 6.2 and later) reports; elsewhere every process is walked.
    let full = cache.refreshes % FULL_WALK_EVERY == 0 || !walker.root.on_procfs();
    cache.refreshes += 1;
    let mut held = HashMap::with_capacity(processes.len());
    let mut skipped = Vec::new();
    for &(pid, start) in processes {
        let Some(fds) = walker.fd_count(pid) else {
            continue;
        };
        if !full
            && let Some(before) = cache.held.remove(&pid)
            && before.start == start
            && before.fds == fds
        {
            add(owned, pid, &before.inodes);
            held.insert(pid, before);
            skipped.push(pid);
            continue;
        }
        if let Some((fds, inodes)) = walker.walk(pid, true) {
            add(owned, pid, &inodes);
            held.insert(pid, Held { start, fds, inodes });
        }
    }
    let unowned = |owned: &HashMap<u64, Vec<u32>>| -> HashSet<u64> {
        owned
            .iter()
            .filter(|(_, pids)| pids.is_empty())
            .map(|(&inode, _)| inode)
            .collect()
    };
    let mut left = unowned(owned);
    if !full && !left.is_subset(&cache.unowned_after_full_walk) {
        for pid in skipped {
            if let Some((fds, inodes)) = walker.walk(pid, true) {
                for inode in &inodes {
                    // Held already (from the cache) or newly found.
                    if let Some(owners) = owned.get_mut(inode)
                        && !owners.contains(&pid)
                    {
                        owners.push(pid);
                    }
                }
                if let Some(h) = held.get_mut(&pid) {
                    h.fds = fds;
                    h.inodes = inodes;
                }
            }
        }
        left = unowned(owned);
        cache.unowned_after_full_walk = left;
    } else if full {
        cache.unowned_after_full_walk = left;
    }
    cache.held = held;
}

/// Adds `pid` as an owner of each of `inodes` that is in `owned`.
fn add(owned: &mut HashMap<u64, Vec<u32>>, pid: u32, inodes: &[u64]) {
    for inode in inodes {
        if let Some(owners) = owned.get_mut(inode) {
            owners.push(pid);
        }
    }
}

/// Reads fd directories under one proc root, with reused buffers.
struct Walker {
    root: Dir,
    path: Vec<u8>,
    link: [u8; 64],
}

impl Walker {
    /// Opens `<pid>/fd` relative to the proc root.
    fn open(&mut self, pid: u32) -> Option<Dir> {
        self.path.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(self.path, "{pid}/fd\0");
        let path = CStr::from_bytes_with_nul(&self.path).ok()?;
        Dir::open(self.root.fd(), path)
    }

    /// The number of descriptors of `pid`, from its fd directory's size.
    fn fd_count(&mut self, pid: u32) -> Option<i64> {
        self.open(pid).map(|dir| dir.size())
    }

    /// The socket inodes among `pid`'s descriptors (and, when `count`, the
    /// directory's size as its fd count), one `readlinkat` per descriptor.
    fn walk(&mut self, pid: u32, count: bool) -> Option<(i64, Vec<u64>)> {
        let mut fds = self.open(pid)?;
        let size = if count { fds.size() } else { 0 };
        let at = fds.fd();
        let mut inodes = Vec::new();
        while let Some(name) = fds.next_entry() {
            if let Some(inode) = read_link(at, name, &mut self.link).and_then(socket_inode) {
                inodes.push(inode);
            }
        }
        Some((size, inodes))
    }
}

/// The inode of a `socket:[<inode>]` link target.
fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    // The kernel writes the inode in decimal; bytes that are all digits
    // are valid UTF-8.
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An open directory, read with `readdir` (closed on drop).
struct Dir(std::ptr::NonNull<libc::DIR>);

impl Dir {
    /// Opens `path` relative to the directory `at`; `None` when it cannot
    /// be opened.
    fn open(at: libc::c_int, path: &CStr) -> Option<Self> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: `path` is NUL-terminated; the fd is owned by the DIR from
        // here on (closed by `closedir`), or closed below if that fails.
        unsafe {
            let fd = libc::openat(at, path.as_ptr(), flags);
            if fd < 0 {
                return None;
            }
            match std::ptr::NonNull::new(libc::fdopendir(fd)) {
                Some(dir) => Some(Self(dir)),
                None => {
                    libc::close(fd);
                    None
                }
            }
        }
    }

    fn fd(&self) -> libc::c_int {
        // SAFETY: the DIR is open until drop.
        unsafe { libc::dirfd(self.0.as_ptr()) }
    }

    /// The directory's size (`st_size`): for a procfs fd directory, the
    /// number of open descriptors; -1 when it cannot be read.
    fn size(&self) -> i64 {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the fd is open and `stat` is writable; it is read only
        // when `fstat` succeeded and so filled it.
        unsafe {
            if libc::fstat(self.fd(), stat.as_mut_ptr()) != 0 {
                return -1;
            }
            stat.assume_init().st_size
        }
    }

    /// Whether the directory is on a proc file system.
    fn on_procfs(&self) -> bool {
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: as in `size`.
        unsafe {
            libc::fstatfs(self.fd(), fs.as_mut_ptr()) == 0
                && fs.assume_init().f_type == libc::PROC_SUPER_MAGIC
        }
    }

    /// The name of the next entry that is not a directory (in an fd
    /// directory: every entry but `.` and `..`), valid until the next call.
    fn next_entry(&mut self) -> Option<&CStr> {
        loop {
            // SAFETY: the DIR is open; the entry `readdir` returns stays
            // valid until the next `readdir` on it, which needs `&mut self`
            // while the returned name borrows `self`.
            unsafe {
                let entry = libc::readdir(self.0.as_ptr());
                if entry.is_null() {
                    return None;
                }
                if (*entry).d_type != libc::DT_DIR {
                    return Some(CStr::from_ptr((*entry).d_name.as_ptr()));
                }
            }
        }
    }
}

/// The target of the link `name` in the directory `at`, cut to `buf`'s
/// length (longer targets are not sockets).
fn read_link<'b>(at: libc::c_int, name: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: `name` is NUL-terminated and `buf` writable for its length.
    let len = unsafe { libc::readlinkat(at, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(len).ok().map(|len| &buf[..len])
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: opened by `fdopendir`, closed only here.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_inode_reads_only_socket_links() {
        assert_eq!(socket_inode(b"socket:[123456]"), Some(123456));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[123]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[12x]"), None);
    }
}
