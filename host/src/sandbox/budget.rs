//! One instance's budget: the memory it holds (guest memories and tables
//! plus host-side bytes it causes) and what the current run has used of
//! its per-run allowances. Every capability charges here before it keeps
//! anything, so a check pays for the host work done on its behalf.

use super::limits::{Counted, LimitHit, Limits};

/// Bytes charged per table element: wasmtime stores a pointer-sized
/// reference per `funcref`/`externref` slot.
const TABLE_ELEMENT_BYTES: u64 = 8;

/// Most memories and tables one instance may define. Rust and Python
/// components need one or two memories and a handful of tables; the byte
/// cap still applies to all of them together.
pub(crate) const MAX_MEMORIES: usize = 16;
pub(crate) const MAX_TABLES: usize = 64;

#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    /// Bytes of all linear memories and tables. They only grow during a
    /// store's life; a new store starts from zero.
    guest_bytes: u64,
    /// Host-side bytes held for the current run (its submissions),
    /// released when the run's results are handed over. Captured output
    /// has its own cap (`limits.max_output_kib`, see `capabilities::output`).
    host_bytes: u64,
    submitted_bytes: usize,
    counts: [usize; 4],
    /// The first limit the current call broke.
    hit: Option<LimitHit>,
}

/// Where a kind's count is kept in [`Budget::counts`].
fn slot(kind: Counted) -> usize {
    match kind {
        Counted::Metrics => 0,
        Counted::ServiceChecks => 1,
        Counted::Events => 2,
        Counted::Metadata => 3,
    }
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            guest_bytes: 0,
            host_bytes: 0,
            submitted_bytes: 0,
            counts: [0; 4],
            hit: None,
        }
    }

    /// Start a new call: per-run allowances are full again and host-side
    /// bytes of the previous run were handed over.
    pub fn begin_call(&mut self) {
        self.host_bytes = 0;
        self.submitted_bytes = 0;
        self.counts = [0; 4];
        self.hit = None;
    }

    /// The limit that stopped the current call, if any.
    pub fn hit(&self) -> Option<LimitHit> {
        self.hit
    }

    /// Record `hit` (the first one wins: it is the cause) and return it as
    /// the error that traps the guest.
    pub fn fail(&mut self, hit: LimitHit) -> wasmtime::Error {
        let hit = *self.hit.get_or_insert(hit);
        wasmtime::format_err!("{hit}")
    }

    /// Bytes the instance holds now.
    pub fn held_bytes(&self) -> u64 {
        self.guest_bytes + self.host_bytes
    }

    /// Charge `items` of `kind` and `bytes` of submitted data. On success
    /// the host may keep them.
    pub fn charge_submission(
        &mut self,
        kind: Counted,
        items: usize,
        bytes: usize,
    ) -> Result<(), LimitHit> {
        if items > self.room(kind) {
            let limit = self.room(kind) + self.counts[slot(kind)];
            return Err(LimitHit::Count { kind, limit });
        }
        if bytes > self.limits.max_submission_bytes - self.submitted_bytes {
            return Err(LimitHit::SubmissionBytes(self.limits.max_submission_bytes));
        }
        self.charge_host(bytes as u64)?;
        self.counts[slot(kind)] += items;
        self.submitted_bytes += bytes;
        Ok(())
    }

    /// How many more items of `kind` fit in this run.
    pub fn room(&self, kind: Counted) -> usize {
        let limit = match kind {
            Counted::Metrics => self.limits.max_metrics,
            Counted::ServiceChecks => self.limits.max_service_checks,
            Counted::Events => self.limits.max_events,
            Counted::Metadata => self.limits.max_metadata,
        };
        limit - self.counts[slot(kind)]
    }

    fn charge_host(&mut self, bytes: u64) -> Result<(), LimitHit> {
        let wanted = self.held_bytes().saturating_add(bytes);
        if wanted > self.limits.memory_bytes {
            return Err(LimitHit::Memory {
                limit: self.limits.memory_bytes,
                wanted,
            });
        }
        self.host_bytes += bytes;
        Ok(())
    }

    fn grow_guest(&mut self, current: u64, desired: u64) -> wasmtime::Result<bool> {
        let wanted = self
            .held_bytes()
            .saturating_add(desired.saturating_sub(current));
        if wanted > self.limits.memory_bytes {
            let hit = LimitHit::Memory {
                limit: self.limits.memory_bytes,
                wanted,
            };
            return Err(self.fail(hit));
        }
        self.guest_bytes += desired.saturating_sub(current);
        Ok(true)
    }
}

/// All memories and tables of the instance share the one cap: a component
/// that defines many memories gets no more than one that defines one.
impl wasmtime::ResourceLimiter for Budget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow_guest(current as u64, desired as u64)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow_guest(
            (current as u64).saturating_mul(TABLE_ELEMENT_BYTES),
            (desired as u64).saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter as _;

    fn budget() -> Budget {
        Budget::new(Limits {
            memory_bytes: 100,
            max_metrics: 3,
            max_submission_bytes: 50,
            ..Limits::default()
        })
    }

    #[test]
    fn memories_and_tables_share_one_cap_with_host_bytes() {
        let mut b = budget();
        assert!(b.memory_growing(0, 40, None).unwrap());
        assert!(b.memory_growing(0, 40, None).unwrap(), "a second memory");
        // 80 held: a table of 3 elements (24 bytes) does not fit.
        assert!(b.table_growing(0, 3, None).is_err());
        assert_eq!(
            b.hit(),
            Some(LimitHit::Memory {
                limit: 100,
                wanted: 104
            })
        );
        b.begin_call();
        assert_eq!(
            b.charge_submission(Counted::Metrics, 1, 30),
            Err(LimitHit::Memory {
                limit: 100,
                wanted: 110
            }),
            "host-side bytes count against the same cap"
        );
    }

    #[test]
    fn per_run_allowances_reset_and_name_their_setting() {
        let mut b = budget();
        b.charge_submission(Counted::Metrics, 3, 10).unwrap();
        assert_eq!(
            b.charge_submission(Counted::Metrics, 1, 1),
            Err(LimitHit::Count {
                kind: Counted::Metrics,
                limit: 3
            })
        );
        assert_eq!(
            b.charge_submission(Counted::Events, 1, 41),
            Err(LimitHit::SubmissionBytes(50))
        );
        b.begin_call();
        assert_eq!(b.room(Counted::Metrics), 3);
    }
}
