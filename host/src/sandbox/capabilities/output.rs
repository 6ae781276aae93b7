//! The guest's stdout and stderr: one capped buffer per instance, emptied
//! after every run. The cap (`limits.max_output_kib`) also covers what the
//! check writes through the `log` capability. Writing past it traps the
//! guest, and the overflow is recorded so the run's error can name the
//! limit.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    /// Bytes written through `log` this run (logged, not kept here).
    logged: usize,
    overflowed: bool,
}

impl Buffer {
    fn used(&self) -> usize {
        self.bytes.len() + self.logged
    }
}

/// A clonable handle on one capped buffer (stdout and stderr share it).
#[derive(Clone, Debug)]
pub struct CapturedOutput {
    capacity: usize,
    buffer: Arc<Mutex<Buffer>>,
}

impl CapturedOutput {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A poisoned lock only means a writer panicked mid-append; the
        // bytes are still good to read.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take what the guest wrote since the last call, and whether it
    /// tried to write more than the cap.
    pub fn take(&self) -> (String, bool) {
        let mut buffer = self.lock();
        let text = String::from_utf8_lossy(&buffer.bytes).into_owned();
        buffer.bytes.clear();
        buffer.logged = 0;
        let overflowed = std::mem::take(&mut buffer.overflowed);
        (text, overflowed)
    }

    /// Count `bytes` written through `log` against the cap; false (and
    /// the overflow recorded) when they do not fit.
    pub fn charge_log(&self, bytes: usize) -> bool {
        let mut buffer = self.lock();
        if bytes > self.capacity - buffer.used() {
            buffer.overflowed = true;
            return false;
        }
        buffer.logged += bytes;
        true
    }

    fn append(&self, bytes: &[u8]) -> Result<(), ()> {
        let mut buffer = self.lock();
        if bytes.len() > self.capacity - buffer.used() {
            buffer.overflowed = true;
            return Err(());
        }
        buffer.bytes.extend_from_slice(bytes);
        Ok(())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes).map_err(|()| {
            StreamError::Trap(wasmtime::format_err!(
                "stdout/stderr output limit of {} bytes reached",
                self.capacity
            ))
        })
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let used = self.lock().used();
        // Always grant at least one byte so an over-long write reaches
        // `write` and is recorded as an overflow instead of a silent close.
        Ok((self.capacity - used).max(1))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(
            self.append(buf)
                .map(|()| buf.len())
                .map_err(|()| io::Error::other("output limit reached")),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
