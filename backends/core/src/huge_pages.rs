//! Large buffers backed by transparent huge pages, as numpy does for its
//! arrays.
//!
//! A sweep streams X once per iteration. With 4 KiB pages, an X of 80 MB
//! spans 20 000 pages, more than the TLB holds, so the page walks compete
//! with the data for the memory system; with 2 MiB pages it spans 40.
//! Measured here (AMD Zen 4, `dspgd bench --shape S3 --precond gd`, one
//! thread): 79–87 iterations/s with 4 KiB pages, 93–94 with huge pages in
//! f64; 140–169 against 193 in f32.
//!
//! Linux gives huge pages to anonymous memory only where asked
//! (`/sys/kernel/mm/transparent_hugepage/enabled` = `madvise`, the common
//! default), so [`vec_with_capacity`] asks, with `madvise(MADV_HUGEPAGE)`,
//! for buffers of at least [`MIN_BYTES`], before they are first written.
//! The advice changes how the pages are backed, never their contents; where
//! it is refused or unknown (other systems, THP off), nothing happens.

/// Smallest buffer (bytes) advised to use huge pages: 4 MiB, numpy's
/// threshold (two huge pages; smaller buffers would gain little).
pub const MIN_BYTES: usize = 4 << 20;

/// An empty vector with room for `capacity` elements; on Linux, when that
/// room is at least [`MIN_BYTES`], the kernel is asked to back it with huge
/// pages as it is written.
///
/// Fill it with `push`/`extend`/`resize` (the pages are backed on first
/// write, so the advice must come before). Use it for X when you build it
/// yourself; dspgd's own [`Mat`](crate::Mat) constructors and the CLI's
/// loaders use it already.
///
/// ```
/// let mut x: Vec<f64> = dspgd_backend::huge_pages::vec_with_capacity(1 << 20);
/// x.extend((0..1 << 20).map(|i| i as f64));
/// assert_eq!(x.len(), 1 << 20);
/// ```
pub fn vec_with_capacity<T>(capacity: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(capacity);
    let bytes = v.capacity().saturating_mul(core::mem::size_of::<T>());
    if bytes >= MIN_BYTES {
        advise(v.as_ptr() as usize, bytes);
    }
    v
}

/// The system's transparent-huge-page mode (`always`, `madvise` or
/// `never`), or `None` where there is none to read (not Linux, or a kernel
/// without THP). With `madvise` or `always`, [`vec_with_capacity`]'s advice
/// is followed.
pub fn system_mode() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let s = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    // The file lists the modes with the current one in brackets.
    let start = s.find('[')? + 1;
    let end = s[start..].find(']')? + start;
    Some(s[start..end].to_string())
}

/// Asks for huge pages over the whole pages inside `addr..addr + bytes`.
#[cfg(target_os = "linux")]
fn advise(addr: usize, bytes: usize) {
    const PAGE: usize = 4096;
    let start = addr.next_multiple_of(PAGE);
    let end = (addr + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: `start..end` lies inside the vector's own allocation (the
        // pages wholly within it), which stays alive for the call.
        // MADV_HUGEPAGE only changes how the kernel backs these pages; it
        // never unmaps them or changes their contents, so no Rust-visible
        // memory changes. A failure (THP off, old kernel) leaves the pages
        // as they were, and is ignored on purpose: the advice is optional.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_addr: usize, _bytes: usize) {}
