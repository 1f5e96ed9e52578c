//! Ranks simulated by threads of one process: the collective the tests use.

use super::collective::Collective;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// One rank of a group simulated by threads in this process.
///
/// [`ThreadCollective::run`] starts `size` threads, one per rank, and hands
/// each its handle; the handles implement [`Collective`]. Sums are formed in
/// rank order, `((b₀ + b₁) + b₂) + …`, by one thread and copied to all, so
/// they are reproducible and bitwise identical on every rank. If one rank
/// panics, the others panic at their next reduction instead of waiting
/// forever; a reduction with buffers of different lengths panics on every
/// rank.
///
/// ```
/// use dspgd::distributed::{Collective, ThreadCollective};
/// let sums = ThreadCollective::run(3, |c| {
///     let mut buf = [c.rank() as f64, 1.0];
///     c.allreduce_sum_f64(&mut buf);
///     buf
/// });
/// assert_eq!(sums, vec![[3.0, 3.0]; 3]);
/// ```
#[derive(Debug)]
pub struct ThreadCollective {
    rank: usize,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    state: Mutex<State>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Completed reductions.
    generation: u64,
    /// Ranks that have deposited their buffer in the current reduction.
    arrived: usize,
    f64_in: Vec<Vec<f64>>,
    f32_in: Vec<Vec<f32>>,
    f64_out: Vec<f64>,
    f32_out: Vec<f32>,
    /// Ranks whose handle was dropped.
    left: usize,
    /// Why the group cannot go on (a rank panicked or left, or lengths differed).
    broken: Option<String>,
}

impl ThreadCollective {
    /// `size` handles of one group, handle `r` being rank `r`. Give each to
    /// its own thread; every rank must take part in every reduction.
    ///
    /// # Panics
    /// If `size` is 0.
    pub fn group(size: usize) -> Vec<ThreadCollective> {
        assert!(size > 0, "a group needs at least one rank");
        let state = State { f64_in: vec![vec![]; size], f32_in: vec![vec![]; size], ..State::default() };
        let shared = Arc::new(Shared { size, state: Mutex::new(state), cv: Condvar::new() });
        (0..size).map(|rank| ThreadCollective { rank, shared: Arc::clone(&shared) }).collect()
    }

    /// Runs `f` on `size` scoped threads, one per rank, and returns what each
    /// returned, in rank order.
    ///
    /// # Panics
    /// If `size` is 0, or if `f` panics on any rank (the panic is re-raised here).
    pub fn run<R: Send>(size: usize, f: impl Fn(&ThreadCollective) -> R + Sync) -> Vec<R> {
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = Self::group(size).into_iter().map(|c| s.spawn(move || f(&c))).collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
            results.into_iter().map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a rank panicked while holding it; the state is still consistent
        // enough to report `broken`.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Deposits this rank's buffer; the last rank to arrive forms the sum in
    /// rank order; everyone copies it out.
    fn reduce<T: Copy + core::ops::Add<Output = T>>(&self, buf: &mut [T], inputs: fn(&mut State) -> &mut Vec<Vec<T>>, output: fn(&mut State) -> &mut Vec<T>) {
        let size = self.shared.size;
        let mut st = self.lock();
        if st.broken.is_none() && st.left > 0 {
            st.broken = Some(format!("{} rank(s) left the group while rank {} still reduces", st.left, self.rank));
            self.shared.cv.notify_all();
        }
        if let Some(why) = &st.broken {
            panic!("rank {}: the thread group is broken: {why}", self.rank);
        }
        let slot = &mut inputs(&mut st)[self.rank];
        slot.clear();
        slot.extend_from_slice(buf);
        st.arrived += 1;
        let generation = st.generation;
        if st.arrived == size {
            let ins = std::mem::take(inputs(&mut st));
            let len = ins[0].len();
            if let Some(r) = ins.iter().position(|b| b.len() != len) {
                st.broken = Some(format!("allreduce with buffers of different lengths ({len} on rank 0, {} on rank {r})", ins[r].len()));
            } else {
                let out = output(&mut st);
                out.clear();
                out.extend_from_slice(&ins[0]);
                for b in &ins[1..] {
                    for (o, &v) in out.iter_mut().zip(b) {
                        *o = *o + v;
                    }
                }
            }
            *inputs(&mut st) = ins;
            st.arrived = 0;
            st.generation += 1;
            self.shared.cv.notify_all();
        } else {
            while st.generation == generation && st.broken.is_none() {
                if st.left > 0 {
                    st.broken = Some(format!("{} rank(s) left the group while rank {} waits in a reduction", st.left, self.rank));
                    self.shared.cv.notify_all();
                    break;
                }
                st = self.shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        if let Some(why) = &st.broken {
            panic!("rank {}: the thread group is broken: {why}", self.rank);
        }
        // The next sum cannot be formed before this rank deposits again, so the output is still ours.
        buf.copy_from_slice(output(&mut st));
    }
}

impl Drop for ThreadCollective {
    fn drop(&mut self) {
        let mut st = self.lock();
        st.left += 1;
        if std::thread::panicking() && st.broken.is_none() {
            st.broken = Some(format!("rank {} panicked", self.rank));
        }
        self.shared.cv.notify_all();
    }
}

impl Collective for ThreadCollective {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn allreduce_sum_f64(&self, buf: &mut [f64]) {
        self.reduce(buf, |s| &mut s.f64_in, |s| &mut s.f64_out);
    }
    fn allreduce_sum_f32(&self, buf: &mut [f32]) {
        self.reduce(buf, |s| &mut s.f32_in, |s| &mut s.f32_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_rank_order_identically_on_every_rank() {
        // 1e16 + 1 + 1 - 1e16: the order of the sum shows in the result.
        let vals = [1e16, 1.0, 1.0, -1e16];
        let out = ThreadCollective::run(4, |c| {
            let mut b = [vals[c.rank()], c.rank() as f64];
            c.allreduce_sum_f64(&mut b);
            let mut f = [c.rank() as f32 + 0.5];
            c.allreduce_sum_f32(&mut f);
            (b, f)
        });
        let expect = ((1e16 + 1.0) + 1.0) - 1e16;
        for (b, f) in &out {
            assert_eq!(b[0].to_bits(), f64::to_bits(expect));
            assert_eq!(b[1], 6.0);
            assert_eq!(f[0], 8.0);
        }
    }

    #[test]
    fn many_rounds_and_one_rank() {
        let out = ThreadCollective::run(3, |c| {
            let mut acc = 0.0;
            for i in 0..200 {
                let mut b = vec![(c.rank() * i) as f64; 1 + i % 5];
                c.allreduce_sum_f64(&mut b);
                acc += b.iter().sum::<f64>();
            }
            acc
        });
        assert!(out.iter().all(|&a| a == out[0]));
        assert_eq!(
            ThreadCollective::run(1, |c| {
                let mut b = [2.5];
                c.allreduce_sum_f64(&mut b);
                b[0]
            }),
            vec![2.5]
        );
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn mismatched_lengths_panic_instead_of_hanging() {
        ThreadCollective::run(2, |c| {
            let mut b = vec![0.0; 1 + c.rank()];
            c.allreduce_sum_f64(&mut b);
        });
    }

    #[test]
    #[should_panic(expected = "left the group")]
    fn a_rank_that_stops_reducing_does_not_hang_the_others() {
        ThreadCollective::run(2, |c| {
            for _ in 0..1 + c.rank() {
                let mut b = [1.0];
                c.allreduce_sum_f64(&mut b);
            }
        });
    }

    #[test]
    #[should_panic]
    fn a_panicking_rank_does_not_hang_the_others() {
        ThreadCollective::run(3, |c| {
            if c.rank() == 1 {
                panic!("rank 1 fails");
            }
            let mut b = [1.0];
            c.allreduce_sum_f64(&mut b);
        });
    }
}
