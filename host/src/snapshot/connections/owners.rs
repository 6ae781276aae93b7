//! Which processes hold which sockets: a walk of `<proc>/<pid>/fd` with one
//! `readlinkat` per descriptor, as `ss -p` does. A socket's link reads
//! `socket:[<inode>]`.
//!
//! This is the costly half of reading connections (a few µs per fd), so it
//! runs on raw libc calls: the fd directory is opened relative to the proc
//! root, its entries are read in place with `readdir`, and each link is
//! read into one reused buffer, with no allocation per descriptor (std's
//! `read_dir` and `read_link` allocate a name and a path for each).

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Pids holding each socket inode, for the inodes of `owned` (keys); the
/// values are filled in `pids` order, so sorted when `pids` is, and may
/// repeat a pid that holds a socket in several descriptors. Pids whose fd
/// directory cannot be read (exited, or another user's while
/// unprivileged) are skipped.
pub(super) fn fill(proc_root: &Path, pids: &[u32], owned: &mut HashMap<u64, Vec<u32>>) {
    let Ok(root) = CString::new(proc_root.as_os_str().as_bytes()) else {
        return;
    };
    let Some(root) = Dir::open(libc::AT_FDCWD, &root) else {
        return;
    };
    let mut path = Vec::with_capacity(32);
    let mut link = [0u8; 64];
    for &pid in pids {
        path.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(path, "{pid}/fd\0");
        let Ok(path) = CStr::from_bytes_with_nul(&path) else {
            continue;
        };
        let Some(mut fds) = Dir::open(root.fd(), path) else {
            continue;
        };
        let at = fds.fd();
        while let Some(name) = fds.next_entry() {
            if let Some(inode) = read_link(at, name, &mut link).and_then(socket_inode)
                && let Some(owners) = owned.get_mut(&inode)
            {
                owners.push(pid);
            }
        }
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
