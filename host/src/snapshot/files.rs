//! System calls on `/proc`, relative to an open directory, into reused
//! buffers (rustix: raw system calls, no allocation per call).
//!
//! Opening a process's directory once and its files relative to it saves
//! the path walk per file, and pins the process: when it exits, reads
//! through the directory fail instead of reaching a new process that
//! reused the pid.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
use rustix::io::Errno;

/// `PROC_SUPER_MAGIC`, the `f_type` of a proc file system.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// Initial size of a read buffer: every `stat`, `status` and `io` fits.
const BUF_SIZE: usize = 16 * 1024;

/// Opens directory `name` under `dir`.
pub(super) fn open_dir(dir: impl AsFd, name: impl rustix::path::Arg) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Whether `dir` is on a proc file system (rather than, say, a recorded
/// copy of one).
#[allow(
    clippy::useless_conversion,
    reason = "f_type is i64 here, a narrower integer on other targets"
)]
pub(super) fn is_procfs(dir: impl AsFd) -> bool {
    rustix::fs::fstatfs(dir).is_ok_and(|fs| i64::from(fs.f_type) == PROC_SUPER_MAGIC)
}

/// A buffer reused for every read of a refresh.
#[derive(Debug)]
pub(super) struct Buffer {
    data: Vec<u8>,
}

impl Default for Buffer {
    fn default() -> Self {
        Self {
            data: vec![0; BUF_SIZE],
        }
    }
}

impl Buffer {
    /// The content of file `name` under `dir`.
    ///
    /// A proc file hands over its whole content in the first `read` when
    /// the buffer is large enough, so a short read is the end: that saves
    /// the second `read` that `read_to_end` makes to see 0. A full buffer
    /// (a long command line) grows and reads on.
    pub fn read(&mut self, dir: impl AsFd, name: &CStr) -> Result<&[u8], Errno> {
        let file = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let mut len = 0;
        loop {
            let n = rustix::io::read(&file, &mut self.data[len..])?;
            len += n;
            if n == 0 || len < self.data.len() {
                return Ok(&self.data[..len]);
            }
            self.data.resize(self.data.len() * 2, 0);
        }
    }

    /// The target of symbolic link `name` under `dir`.
    pub fn read_link(&mut self, dir: impl AsFd, name: &CStr) -> Result<&[u8], Errno> {
        loop {
            let len = rustix::fs::readlinkat_raw(&dir, name, &mut self.data[..])?;
            // A full buffer may have cut the target short.
            if len < self.data.len() {
                return Ok(&self.data[..len]);
            }
            self.data.resize(self.data.len() * 2, 0);
        }
    }
}

/// Number of entries of directory `name` under `dir` (an fd directory),
/// without `.` and `..`.
///
/// On procfs (Linux ≥ 6.2) the size of an fd directory is its number of
/// open fds: one `stat`. Otherwise (an older kernel reports 0, a recorded
/// copy a block size) the entries are counted with `getdents`, without
/// building their names.
pub(super) fn count_entries(dir: impl AsFd, name: &CStr, on_procfs: bool) -> Result<u32, Errno> {
    if on_procfs {
        let size = rustix::fs::statat(&dir, name, AtFlags::empty())?.st_size;
        if size > 0 {
            return Ok(u32::try_from(size).unwrap_or(u32::MAX));
        }
    }
    let fds = open_dir(&dir, name)?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&fds, &mut buf);
    let mut count = 0u32;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        if !matches!(entry.file_name().to_bytes(), b"." | b"..") {
            count = count.saturating_add(1);
        }
    }
    Ok(count)
}

/// The pids in a proc directory: its entries named by a number.
pub(super) fn pids(proc_dir: impl AsFd) -> Result<Vec<u32>, Errno> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 16 * 1024];
    let mut entries = RawDir::new(&proc_dir, &mut buf);
    let mut pids = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        if let Some(pid) = super::parse::number(entry.file_name().to_bytes())
            .and_then(|pid| u32::try_from(pid).ok())
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_links_and_counts_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::File::open(dir.path()).unwrap();
        let long = "x".repeat(BUF_SIZE * 3 + 5);
        std::fs::write(dir.path().join("long"), &long).unwrap();
        std::fs::write(dir.path().join("short"), "hello").unwrap();
        std::os::unix::fs::symlink("/some/target", dir.path().join("link")).unwrap();
        std::fs::create_dir(dir.path().join("fd")).unwrap();
        for fd in ["0", "1", "7"] {
            std::fs::write(dir.path().join("fd").join(fd), "").unwrap();
        }

        let mut buf = Buffer::default();
        assert_eq!(buf.read(&root, c"short").unwrap(), b"hello");
        assert_eq!(buf.read(&root, c"long").unwrap(), long.as_bytes());
        assert_eq!(buf.read_link(&root, c"link").unwrap(), b"/some/target");
        assert_eq!(buf.read(&root, c"missing"), Err(Errno::NOENT));
        assert!(!is_procfs(&root));
        // Not procfs: counted, whatever `on_procfs` says.
        assert_eq!(count_entries(&root, c"fd", false), Ok(3));
    }

    #[test]
    fn on_procfs_fd_counts_and_pids() {
        use std::process::{Command, Stdio};
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proc_dir = open_dir(rustix::fs::CWD, "/proc").unwrap();
        assert!(is_procfs(&proc_dir));
        let dir = open_dir(&proc_dir, rustix::path::DecInt::new(child.id())).unwrap();
        // Counted independently: stdin, stdout, stderr and whatever our
        // own parent left open without close-on-exec.
        let fds = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .unwrap()
            .count() as u32;
        assert!(fds >= 3);
        assert_eq!(count_entries(&dir, c"fd", true), Ok(fds));
        assert_eq!(count_entries(&dir, c"fd", false), Ok(fds));
        assert!(pids(&proc_dir).unwrap().contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        // Reaped: reads through the open directory fail.
        let mut buf = Buffer::default();
        assert!(buf.read(&dir, c"stat").is_err());
    }
}
