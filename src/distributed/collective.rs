//! The one communication primitive a row-sharded solve needs: an
//! allreduce-sum of a buffer, and the counting wrapper the solver uses.

use core::any::TypeId;
use core::cell::Cell;
use dspgd_backend::Scalar;
use std::time::Instant;

/// A group of ranks that can sum buffers: what the distributed solve needs
/// from a message-passing layer.
///
/// Contract, for every implementation:
/// - every rank of the group calls the same sequence of reductions, with
///   buffers of the same length (a mismatch is a bug of the caller: an
///   implementation may panic or, over MPI, hang);
/// - after a call, every rank holds the **bitwise-identical** elementwise
///   sum of all ranks' buffers (the replicas of W stay identical only if
///   this holds);
/// - the sum is computed in the buffer's type.
///
/// Implementations: [`SingleProcess`] (one rank, nothing to do),
/// [`ThreadCollective`](super::ThreadCollective) (ranks simulated by
/// threads, for tests) and, with the feature `mpi`,
/// `MpiCollective` (`MPI_Allreduce` over a communicator).
pub trait Collective {
    /// This rank, in `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank by the elementwise sum over all ranks.
    fn allreduce_sum_f64(&self, buf: &mut [f64]);
    /// Replaces `buf` on every rank by the elementwise sum over all ranks (summed in f32).
    fn allreduce_sum_f32(&self, buf: &mut [f32]);
}

/// A group of one rank: every reduction is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn allreduce_sum_f64(&self, _: &mut [f64]) {}
    fn allreduce_sum_f32(&self, _: &mut [f32]) {}
}

/// [`Collective::allreduce_sum_f64`] or [`Collective::allreduce_sum_f32`],
/// whichever fits the element type.
pub fn allreduce_sum<T: Scalar>(comm: &dyn Collective, buf: &mut [T]) {
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        // SAFETY: T is f64 (same TypeId), so the pointer, length and
        // lifetime describe the same valid, exclusively borrowed memory.
        let b = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<f64>(), buf.len()) };
        comm.allreduce_sum_f64(b);
    } else if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: T is f32 (same TypeId), as above.
        let b = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<f32>(), buf.len()) };
        comm.allreduce_sum_f32(b);
    } else {
        unreachable!("Scalar is sealed: f32 or f64");
    }
}

/// What the solver's reductions cost, by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommCounts {
    /// Allreduce calls.
    pub calls: u64,
    /// Elements reduced (summed over calls; each element is f32 or f64 as the run).
    pub elements: u64,
    /// Wall-clock seconds spent inside the allreduce calls (waiting for the
    /// slowest rank included).
    pub seconds: f64,
}

/// The solver's handle on a [`Collective`]: counts and times every call.
pub(crate) struct Reducer<'c> {
    inner: &'c dyn Collective,
    counts: Cell<CommCounts>,
    /// Exact recomputations of R = XW − Y (each costs one sweep and one reduction).
    pub recomputes: Cell<u64>,
    /// Whether the sweep reductions carry one more element: the observers' votes.
    pub carry_vote: bool,
    /// This rank's vote, sent with the next sweep reduction (0 go on, 1 stop, 1024 interrupt).
    pub vote: Cell<f64>,
    /// The sum of the votes received with the last sweep reduction.
    pub agreed: Cell<f64>,
}

impl<'c> Reducer<'c> {
    pub fn new(inner: &'c dyn Collective, carry_vote: bool) -> Self {
        Self { inner, counts: Cell::new(CommCounts::default()), recomputes: Cell::new(0), carry_vote, vote: Cell::new(0.0), agreed: Cell::new(0.0) }
    }

    pub fn counts(&self) -> CommCounts {
        self.counts.get()
    }

    fn record(&self, elements: usize, start: Instant) {
        let mut c = self.counts.get();
        c.calls += 1;
        c.elements += elements as u64;
        c.seconds += start.elapsed().as_secs_f64();
        self.counts.set(c);
    }

    /// Sums `buf` over the ranks, in its own type.
    pub fn sum<T: Scalar>(&self, buf: &mut [T]) {
        let start = Instant::now();
        allreduce_sum(self.inner, buf);
        self.record(buf.len(), start);
    }

    /// Sums a few f64 statistics over the ranks.
    pub fn sum_f64(&self, buf: &mut [f64]) {
        let start = Instant::now();
        self.inner.allreduce_sum_f64(buf);
        self.record(buf.len(), start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_process_is_the_identity_and_counts() {
        let r = Reducer::new(&SingleProcess, false);
        let mut a = [1.5f64, -2.0];
        let mut b = [3.0f32];
        r.sum(&mut a[..]);
        r.sum(&mut b[..]);
        r.sum_f64(&mut a);
        assert_eq!(a, [1.5, -2.0]);
        assert_eq!(b, [3.0]);
        let c = r.counts();
        assert_eq!((c.calls, c.elements), (3, 5));
    }
}
