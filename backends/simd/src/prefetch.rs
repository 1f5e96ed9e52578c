//! Software prefetch of the next block of rows of X, issued from inside the
//! rank-update pass of the current block.
//!
//! With X in DRAM and k ≥ 2, the pass that first touches a block (Q = X_B·P)
//! was measured to take the sum of its compute time and its memory time: the
//! hardware prefetchers do not run far enough ahead of an FMA-bound loop.
//! The rank-update pass reads only from cache, so it has DRAM to spare; it
//! asks for the next block's lines, one line per row and vector step (see
//! `kernels::rank_update`), so the requests are spread over the pass instead
//! of queued in a burst.

/// A prefetcher: pulp's SSE token on x86-64 when prefetching is wanted,
/// nothing otherwise (then every call is a no-op).
#[derive(Clone, Copy)]
pub(crate) struct Prefetch {
    #[cfg(target_arch = "x86_64")]
    sse: Option<pulp::core_arch::x86::Sse>,
}

impl Prefetch {
    /// A prefetcher that issues requests when `on` (and the CPU has SSE,
    /// which every x86-64 has).
    pub(crate) fn new(on: bool) -> Self {
        #[cfg(not(target_arch = "x86_64"))]
        let _ = on;
        Prefetch {
            #[cfg(target_arch = "x86_64")]
            sse: if on { pulp::core_arch::x86::Sse::try_new() } else { None },
        }
    }

    /// True when the calls do something.
    pub(crate) fn is_on(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.sse.is_some();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Asks for the cache line holding `data[i]` to be brought into L2
    /// (nothing if `i` is out of range).
    #[inline(always)]
    pub(crate) fn line<T>(self, data: &[T], i: usize) {
        #[cfg(target_arch = "x86_64")]
        if let (Some(sse), Some(v)) = (self.sse, data.get(i)) {
            sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(v as *const T as *const i8);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (data, i);
    }
}
