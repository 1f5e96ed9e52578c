//! The [`Collective`] over MPI (feature `mpi`): `MPI_Allreduce` with
//! `MPI_SUM` on a communicator, through rsmpi.

use super::collective::Collective;
use core::cell::RefCell;
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::CommunicatorCollectives;

/// The ranks of an MPI communicator (usually the world of `mpirun -np P`).
///
/// The program initialises MPI itself (`mpi::initialize`, keeping the
/// returned `Universe` alive until the end) and wraps a communicator:
///
/// ```no_run
/// use dspgd::distributed::{solve_distributed, MpiCollective};
/// # fn shard() -> (dspgd::Mat<f64>, dspgd::Mat<f64>) { unimplemented!() }
/// let universe = mpi::initialize().expect("MPI initialised once");
/// let comm = MpiCollective::new(universe.world());
/// let (x, y) = shard(); // this rank's rows
/// let sol = solve_distributed(&comm, x.as_ref(), y.as_ref(), None, &Default::default()).unwrap();
/// ```
///
/// Open MPI's `MPI_Allreduce` hands every rank the same sum (its algorithms
/// combine the partial sums in one order and distribute the result); the
/// `mpirun` integration test checks that W is bitwise identical on every rank.
pub struct MpiCollective {
    comm: SimpleCommunicator,
    send64: RefCell<Vec<f64>>,
    send32: RefCell<Vec<f32>>,
}

impl MpiCollective {
    /// Wraps a communicator.
    pub fn new(comm: SimpleCommunicator) -> Self {
        Self { comm, send64: RefCell::new(vec![]), send32: RefCell::new(vec![]) }
    }

    /// The communicator.
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }
}

impl core::fmt::Debug for MpiCollective {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MpiCollective").field("rank", &self.comm.rank()).field("size", &self.comm.size()).finish()
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        usize::try_from(self.comm.rank()).expect("MPI ranks are non-negative")
    }
    fn size(&self) -> usize {
        usize::try_from(self.comm.size()).expect("MPI sizes are positive")
    }
    fn allreduce_sum_f64(&self, buf: &mut [f64]) {
        // rsmpi has no MPI_IN_PLACE form: copy the input aside (O(len), negligible
        // against the message itself).
        let mut send = self.send64.borrow_mut();
        send.clear();
        send.extend_from_slice(buf);
        self.comm.all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
    fn allreduce_sum_f32(&self, buf: &mut [f32]) {
        let mut send = self.send32.borrow_mut();
        send.clear();
        send.extend_from_slice(buf);
        self.comm.all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
}
