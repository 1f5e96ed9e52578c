//! Ctrl-C during `dspgd solve`: the first SIGINT asks the running solve to
//! stop at its next check (every few iterations); the CLI then writes the
//! last iterate and the report and exits with 130. A second SIGINT exits at
//! once (130, nothing written).
//!
//! The handler only flips an atomic flag (async-signal-safe) or calls
//! `_exit`; it is installed with the C library's `signal`, which std already
//! links on Unix. Elsewhere Ctrl-C keeps its default effect.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// True once Ctrl-C was pressed after [`install`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

#[cfg(unix)]
mod imp {
    use super::{Ordering, REQUESTED};
    use std::os::raw::c_int;

    const SIGINT: c_int = 2;
    type Handler = extern "C" fn(c_int);

    extern "C" {
        fn signal(signum: c_int, handler: Handler) -> usize;
        fn _exit(status: c_int) -> !;
    }

    extern "C" fn on_sigint(_: c_int) {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            // SAFETY: `_exit` is async-signal-safe and takes no pointers.
            unsafe { _exit(130) }
        }
    }

    /// Installs the handler for SIGINT.
    pub fn install() {
        // SAFETY: `on_sigint` has the C signature `signal` expects and only
        // touches an atomic or calls `_exit`, both async-signal-safe.
        unsafe {
            signal(SIGINT, on_sigint);
        }
    }
}

#[cfg(not(unix))]
mod imp {
    /// Ctrl-C keeps its default effect on this platform.
    pub fn install() {}
}

pub use imp::install;
