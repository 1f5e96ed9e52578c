//! A process-wide team of worker threads that spin between parallel steps.
//!
//! A sweep over an X of a few MB takes 50 to 500 µs, and an iteration runs
//! one sweep split over the threads. Rayon's pool puts an idle worker to
//! sleep, so each sweep starts by waking it (tens of µs), and with the
//! calling thread it runs three threads on two cores. The team's workers
//! instead wait busy for [`SPIN`] after each task, as OpenBLAS's threads do
//! between the calls numpy makes, then sleep on a condition variable: the
//! next sweep of a running solve starts at once, and an idle process costs
//! nothing. A worker that finds itself on the caller's core after a job
//! moves to another core, since there the two would take turns instead of
//! running side by side (see `worker`).
//!
//! [`run`] hands task 0 to the calling thread; the calling thread and the
//! workers claim the other tasks as they become free. Workers (at most one
//! per core besides the caller's) are started on first need and live for
//! the process. One caller at a time owns the team: a second caller
//! (another solve on another thread, or a task that itself calls [`run`])
//! gets scoped threads of its own instead, so nothing waits on the team and
//! nothing deadlocks.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle worker waits, busy, for the next task before it sleeps.
pub const SPIN: Duration = Duration::from_millis(1);
/// Busy waits yield the core once every this many pauses (a few µs), so a
/// waiter that shares its core with the thread it waits for (more threads
/// than free cores, or two threads the scheduler put on one core) lets that
/// thread run at once instead of at the end of its time slice.
const YIELD_EVERY: u32 = 128;

/// One step of a busy wait: a pause, or now and then a yield of the core.
fn backoff(step: &mut u32) {
    *step = step.wrapping_add(1);
    if *step % YIELD_EVERY == 0 {
        std::thread::yield_now();
    } else {
        core::hint::spin_loop();
    }
}

/// A task body with its lifetime erased (see [`run`]'s SAFETY comment).
type Job = &'static (dyn Fn(usize) + Sync);

/// What the caller and the workers share.
struct Shared {
    /// Bumped once per published job.
    epoch: AtomicU64,
    /// The current job, while it runs; tasks are claimed under its lock.
    job: Mutex<Option<Posted>>,
    /// Tasks 1, 2, … of the current job not finished yet.
    unfinished: AtomicUsize,
    /// The core the caller published the last job from (`usize::MAX`: not known).
    caller_cpu: AtomicUsize,
    /// The first panic of a worker's task, handed on to the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Workers asleep on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

/// A job as the workers see it.
struct Posted {
    body: Job,
    tasks: usize,
    /// The next task to claim (task 0 is the caller's).
    next: usize,
}

struct Team {
    shared: &'static Shared,
    /// Held by the caller that owns the team; the number of workers started.
    owner: Mutex<usize>,
    /// Most workers: one per core besides the caller's, so that the team
    /// never has more busy threads than the machine has cores.
    max_workers: usize,
}

static TEAM: OnceLock<Team> = OnceLock::new();

fn team() -> &'static Team {
    TEAM.get_or_init(|| Team {
        shared: Box::leak(Box::new(Shared {
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            unfinished: AtomicUsize::new(0),
            caller_cpu: AtomicUsize::new(usize::MAX),
            panic: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        })),
        owner: Mutex::new(0),
        max_workers: std::thread::available_parallelism().map_or(1, |n| n.get()) - 1,
    })
}

/// Locks `m`, ignoring poison: every value guarded here stays valid when a
/// task panics (the panic is caught, stored and re-raised by the caller).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f(0)`, …, `f(tasks − 1)` in parallel and returns when all have
/// returned: `f(0)` on the calling thread; the others are claimed one at a
/// time by the calling thread and the team's workers (at most one per
/// other core) as each becomes free, so more tasks than cores, or a worker
/// that the system keeps waiting, cost balance, not a stall. A panic in any
/// task is resumed on the caller once every task that started has ended;
/// when the caller's own task panics, tasks not yet claimed are skipped.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let sum = AtomicUsize::new(0);
/// dspgd_backend::team::run(3, &|i| {
///     sum.fetch_add(i + 1, Ordering::Relaxed);
/// });
/// assert_eq!(sum.into_inner(), 6);
/// ```
pub fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    if tasks <= 1 {
        (0..tasks).for_each(f);
        return;
    }
    let team = team();
    let mut started = match team.owner.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return run_scoped(tasks, f),
    };
    let sh = team.shared;
    while *started < (tasks - 1).min(team.max_workers) {
        let w = *started + 1;
        let seen = sh.epoch.load(Ordering::Acquire);
        let spawned = std::thread::Builder::new().name(format!("dspgd-team-{w}")).spawn(move || worker(sh, seen));
        if spawned.is_err() {
            // No more threads: the ones there are (or the caller) claim the rest.
            break;
        }
        *started = w;
    }
    // SAFETY: only the lifetime is erased. A task is claimed, and the body
    // copied out, under `sh.job`'s lock, and counted in `unfinished` until
    // it has returned; `Wait`'s drop, which runs before this function
    // returns or unwinds, closes the job to new claims, waits until
    // `unfinished` is 0, then clears `sh.job`. So no thread calls or holds
    // `job` after `f`'s borrow ends.
    let job: Job = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
    let epoch = sh.epoch.load(Ordering::Relaxed) + 1;
    // A worker's panic left over from a run whose own task panicked too.
    lock(&sh.panic).take();
    sh.unfinished.store(tasks - 1, Ordering::Relaxed);
    sh.caller_cpu.store(current_cpu().unwrap_or(usize::MAX), Ordering::Relaxed);
    *lock(&sh.job) = Some(Posted { body: job, tasks, next: 1 });
    // SeqCst with the sleepers' count (see `worker`): either this thread
    // sees a sleeper and wakes it, or the sleeper sees the new epoch.
    sh.epoch.store(epoch, Ordering::SeqCst);
    if sh.sleepers.load(Ordering::SeqCst) > 0 {
        let _g = lock(&sh.sleep);
        sh.wake.notify_all();
    }
    {
        let _wait = Wait(sh);
        f(0);
        let mut took_over = false;
        while let Some((i, ..)) = claim(sh) {
            took_over = true;
            let _done = Done(sh);
            f(i);
        }
        if took_over {
            // A worker left its task to this thread: it may be waiting for
            // this core (see `worker`), where this thread, which never
            // blocks, would keep it waiting for the whole solve. Let it run.
            std::thread::yield_now();
        }
    }
    let panic = lock(&sh.panic).take();
    drop(started);
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// The next unclaimed task of the current job and its body, if any task is left.
fn claim(sh: &Shared) -> Option<(usize, Job)> {
    let mut g = lock(&sh.job);
    let p = g.as_mut()?;
    (p.next < p.tasks).then(|| {
        p.next += 1;
        (p.next - 1, p.body)
    })
}

/// Counts a claimed task as finished when dropped (also when it panics).
struct Done(&'static Shared);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.unfinished.fetch_sub(1, Ordering::Release);
    }
}

/// On drop: closes the current job to new claims (tasks left unclaimed
/// after a panic of the caller's count as finished), waits for the tasks
/// that were claimed, then clears the job.
struct Wait(&'static Shared);

impl Drop for Wait {
    fn drop(&mut self) {
        let sh = self.0;
        if let Some(p) = lock(&sh.job).as_mut() {
            sh.unfinished.fetch_sub(p.tasks - p.next, Ordering::Relaxed);
            p.next = p.tasks;
        }
        let mut step = 0;
        while sh.unfinished.load(Ordering::Acquire) != 0 {
            backoff(&mut step);
        }
        *lock(&sh.job) = None;
    }
}

/// The team is owned by another caller: the same tasks on scoped threads,
/// a panic handed on as it was raised (not as the scope's own).
fn run_scoped(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let panic = std::thread::scope(|s| {
        let handles: Vec<_> = (1..tasks).map(|i| s.spawn(move || f(i))).collect();
        let own = catch_unwind(AssertUnwindSafe(|| f(0))).err();
        handles.into_iter().fold(own, |first, h| first.or(h.join().err()))
    });
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// A worker's loop: wait for a job newer than `seen`, then claim and run
/// its tasks while any are left.
fn worker(sh: &'static Shared, mut seen: u64) {
    let mut spin = SPIN;
    loop {
        seen = wait_for_job(sh, seen, spin);
        while let Some((i, body)) = claim(sh) {
            let _done = Done(sh);
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| body(i))) {
                lock(&sh.panic).get_or_insert(p);
            }
        }
        // Wait busy for the next job (also when the caller was quicker and
        // left nothing to claim, or it would keep being quicker). On the
        // caller's core, the two threads would take turns instead of
        // running side by side, sweep after sweep: the scheduler neither
        // moves a thread that never stops nor, on a busy machine, looks for
        // an idle core when it wakes one (it put this worker back beside
        // the caller eleven wake-ups in a row). So move to another core;
        // where that is not possible, sleep and let the next wake-up choose.
        let caller_cpu = sh.caller_cpu.load(Ordering::Relaxed);
        spin = if current_cpu() != Some(caller_cpu) || leave_cpu(caller_cpu) { SPIN } else { Duration::ZERO };
    }
}

/// Returns the epoch once it differs from `seen`: busy for `spin`, then
/// asleep on the condition variable.
fn wait_for_job(sh: &Shared, seen: u64, spin: Duration) -> u64 {
    let start = Instant::now();
    let mut step = 0;
    loop {
        let epoch = sh.epoch.load(Ordering::Acquire);
        if epoch != seen {
            return epoch;
        }
        if step % YIELD_EVERY != 0 || start.elapsed() < spin {
            backoff(&mut step);
            continue;
        }
        let mut g = lock(&sh.sleep);
        sh.sleepers.fetch_add(1, Ordering::SeqCst);
        let mut epoch = sh.epoch.load(Ordering::SeqCst);
        while epoch == seen {
            g = sh.wake.wait(g).unwrap_or_else(PoisonError::into_inner);
            epoch = sh.epoch.load(Ordering::SeqCst);
        }
        sh.sleepers.fetch_sub(1, Ordering::SeqCst);
        return epoch;
    }
}

/// The core the calling thread runs on, where the system tells.
#[cfg(target_os = "linux")]
fn current_cpu() -> Option<usize> {
    // SAFETY: `sched_getcpu` takes no arguments and touches no memory of
    // ours; it returns the core number, or -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

#[cfg(not(target_os = "linux"))]
fn current_cpu() -> Option<usize> {
    None
}

/// Moves the calling thread off core `cpu`, leaving its affinity as it was;
/// false when it could not (a mask beyond `CPU_SETSIZE`, or no other core allowed).
#[cfg(target_os = "linux")]
fn leave_cpu(cpu: usize) -> bool {
    let size = core::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set (plain integers).
    let mut allowed: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    // SAFETY: `allowed` is a writable `cpu_set_t` of `size` bytes; pid 0 is this thread.
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 || cpu >= 8 * size {
        return false;
    }
    let mut elsewhere = allowed;
    // SAFETY: `cpu` < 8·size, the bits of a `cpu_set_t`, so the index is in range.
    unsafe { libc::CPU_CLR(cpu, &mut elsewhere) };
    // SAFETY: as above, sets of `size` bytes read by the kernel; pid 0 is
    // this thread. The first call moves it (the kernel migrates a thread
    // off a core its new mask excludes before the call returns); the
    // second restores the mask it had, without moving it back.
    unsafe { libc::CPU_COUNT(&elsewhere) > 0 && libc::sched_setaffinity(0, size, &elsewhere) == 0 && libc::sched_setaffinity(0, size, &allowed) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn leave_cpu(_cpu: usize) -> bool {
    false
}

/// Calls `f(i, &mut items[i])` for every i, in parallel through [`run`]
/// (one task per item).
///
/// ```
/// let mut parts = [1, 2, 3, 4];
/// dspgd_backend::team::for_each_mut(&mut parts, |i, x| *x *= 10 + i);
/// assert_eq!(parts, [10, 22, 36, 52]);
/// ```
pub fn for_each_mut<T: Send, F: Fn(usize, &mut T) + Sync>(items: &mut [T], f: F) {
    let base = ItemsPtr(items.as_mut_ptr());
    run(items.len(), &|i| {
        // SAFETY: `run` calls this with each i < items.len() exactly once,
        // so the `&mut` are to distinct elements of `items`, which stays
        // mutably borrowed (and alive) until `run` returns.
        let item = unsafe { &mut *base.at(i) };
        f(i, item);
    });
}

/// The base of the items of [`for_each_mut`], shared with the tasks.
struct ItemsPtr<T>(*mut T);

// SAFETY: the tasks only form `&mut` to distinct elements (see
// `for_each_mut`), which is sound across threads when `T: Send`.
unsafe impl<T: Send> Sync for ItemsPtr<T> {}

impl<T> ItemsPtr<T> {
    /// The address of item `i` (a method, so that closures capture the
    /// whole `Sync` wrapper and not the raw pointer field).
    fn at(&self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn affinity() -> libc::cpu_set_t {
        // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        // SAFETY: `set` is a writable `cpu_set_t` of the size passed; pid 0 is this thread.
        assert_eq!(unsafe { libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) }, 0);
        set
    }

    #[test]
    fn leave_cpu_moves_the_thread_off_its_core_and_keeps_its_mask() {
        // On a thread of its own, so that the test harness's threads keep their placement.
        std::thread::spawn(|| {
            let before = affinity();
            // SAFETY: reads a `cpu_set_t` filled by the kernel.
            let allowed = unsafe { libc::CPU_COUNT(&before) };
            let cpu = current_cpu().expect("sched_getcpu works on Linux");
            let moved = leave_cpu(cpu);
            assert_eq!(moved, allowed > 1, "{allowed} cores allowed");
            if moved {
                assert_ne!(current_cpu(), Some(cpu));
            }
            // SAFETY: compares two `cpu_set_t` filled by the kernel.
            assert!(unsafe { libc::CPU_EQUAL(&before, &affinity()) }, "the affinity mask changed");
            // Pinned to one core: nowhere to go, and the pin stays.
            let here = current_cpu().expect("sched_getcpu works on Linux");
            // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
            let mut pinned: libc::cpu_set_t = unsafe { core::mem::zeroed() };
            // SAFETY: `CPU_SET` only writes a bit of `pinned` (its index is bounds-checked).
            unsafe { libc::CPU_SET(here, &mut pinned) };
            let size = core::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: `pinned` is a `cpu_set_t` of the size passed; pid 0 is this thread.
            assert_eq!(unsafe { libc::sched_setaffinity(0, size, &pinned) }, 0);
            assert!(!leave_cpu(here));
            assert_eq!(current_cpu(), Some(here));
            // SAFETY: as above.
            assert!(unsafe { libc::CPU_EQUAL(&pinned, &affinity()) }, "the pin changed");
        })
        .join()
        .unwrap();
    }
}
