//! Deterministic mutation fuzzing of the `.npy` reader and of the spec-string
//! parsers (issue 6, item 5).
//!
//! cargo-fuzz needs nightly and `libfuzzer-sys`, which is not in Cargo.lock
//! and cannot be fetched offline, so this is an in-repo harness that runs on
//! stable as an ordinary test. It is coverage-blind but structure-aware: the
//! inputs are the committed seed corpus (`fuzz/corpus/`) mutated by bit flips,
//! interesting bytes, byte insertions and deletions, header field edits
//! (descr, shape, fortran_order, version, header length, data length),
//! grammar-generated headers and splices of two corpus files.
//!
//! Invariants checked on every execution (and a watchdog thread aborts with
//! the input saved when one execution runs longer than [`HANG`]):
//! - `.npy`: no panic; the extra memory allocated while parsing stays below
//!   [`alloc_bound`] of the input length (a header claiming a huge shape or a
//!   huge header must cost nothing); an `Ok` array is 1-D or 2-D with as many
//!   elements as its shape says and survives `encode` → `parse` bit for bit;
//!   an error names the input and is one printable line of bounded length.
//! - spec strings (`Loss`, `Precond`, `LearningRate`, `Schedule`,
//!   `PathChoice`, `BackendChoice`): no panic; an `Ok` value prints to a
//!   string that parses back to the same value; an error is one printable
//!   line naming what was parsed.
//!
//! Budget: `DSPGD_FUZZ_ITERS` executions per target (default: [`CI_ITERS_NPY`]
//! and [`CI_ITERS_SPEC`], a few seconds), or `DSPGD_FUZZ_SECS` seconds per
//! target (e.g. `DSPGD_FUZZ_SECS=600` for a local run). `DSPGD_FUZZ_SEED`
//! picks the seed (default 1). Execution `i` depends only on the seed and
//! `i`, so any finding is reproducible; its input is also saved under
//! `target/tmp/fuzz-findings/`. Copy it to `fuzz/regressions/<target>/` to
//! keep it: those files are replayed first on every run.
//!
//!     DSPGD_FUZZ_SECS=600 cargo test -p dspgd --test fuzz -- --nocapture

#[path = "../src/cli/npy.rs"]
#[allow(dead_code)]
mod npy;

use dspgd::kernels::rng::Rng;
use dspgd::{BackendChoice, LearningRate, Loss, PathChoice, Precond, Schedule};
use npy::{Array, Data};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::{Debug, Display};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// Executions of the `.npy` target in the default (CI) budget.
const CI_ITERS_NPY: u64 = 300_000;
/// Executions of the spec-string target in the default (CI) budget.
const CI_ITERS_SPEC: u64 = 200_000;

// ------------------------------------------------------- allocation meter

/// The system allocator, counting the bytes live and their peak per thread
/// (the test harness runs the two targets on different threads).
struct Meter;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: never panics, even while the thread is being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the bookkeeping only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr`/`layout` come from this allocator, i.e. from `System`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static METER: Meter = Meter;

/// Runs `f` and returns its result with the peak of the bytes it allocated
/// on this thread beyond what was live when it started.
fn metered<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

/// The most `parse` may allocate for an input of `len` bytes. The reader
/// holds at once at most: the header bytes (≤ len, grown by doubling: ≤ 2·len)
/// and its text (Latin-1 → UTF-8 doubles non-ASCII bytes, plus growth:
/// ≤ 4·len), or later the data vector (≤ len, its size is checked against
/// the input first), its Fortran-to-C copy (≤ len) and the conversion
/// buffer (≤ len). 8·len covers either phase; 8 KiB covers the fixed-size
/// bits (the shape, key strings, an error message of bounded length).
fn alloc_bound(len: usize) -> usize {
    8 * len + 8 * 1024
}

#[test]
fn the_meter_sees_allocations_and_frees() {
    let (v, peak) = metered(|| vec![0u8; 1 << 20]);
    assert!(peak >= 1 << 20, "{peak}");
    let ((), peak) = metered(|| drop(v));
    assert_eq!(peak, 0, "a free is not an allocation");
    let (_, peak) = metered(|| npy::parse(b"\x93NUMPY\x02\x00\x00\x00\x10\x00{'descr'", Path::new(NAME)));
    assert!(peak <= alloc_bound(21), "a tiny file claiming a 1 MiB header: {peak} bytes");
}

// ------------------------------------------------------------- budget

/// How long a target runs: a fixed number of executions or a time budget.
#[derive(Clone, Copy, Debug)]
enum Budget {
    Iters(u64),
    Time(Duration),
}

impl Budget {
    fn from_env(ci_iters: u64) -> Self {
        if let Some(s) = std::env::var("DSPGD_FUZZ_SECS").ok().and_then(|v| v.parse::<u64>().ok()) {
            return Budget::Time(Duration::from_secs(s));
        }
        Budget::Iters(std::env::var("DSPGD_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(ci_iters))
    }
    fn go_on(&self, done: u64, start: Instant) -> bool {
        match *self {
            Budget::Iters(n) => done < n,
            Budget::Time(t) => start.elapsed() < t,
        }
    }
}

fn seed() -> u64 {
    std::env::var("DSPGD_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// The generator of execution `i`: depends on the seed and `i` only.
fn rng_for(seed: u64, i: u64) -> Rng {
    Rng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> &'a T {
    &v[below(rng, v.len())]
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The files of a folder, sorted by name (missing folder: none).
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

/// Longest an execution may run before the watchdog calls it a hang (a
/// normal one takes microseconds; this leaves room for a loaded machine).
const HANG: Duration = Duration::from_secs(30);

/// The input each target is running and since when, for the watchdog.
static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// One target's current execution.
struct Running {
    target: &'static str,
    seed: u64,
    iter: u64,
    since: Instant,
    input: Vec<u8>,
}

/// Records that `target` starts execution `iter` on `input`.
fn running(target: &'static str, seed: u64, iter: u64, input: &[u8]) {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
            let slots = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(Running { target, seed, iter, input, .. }) = slots.iter().find(|s| s.since.elapsed() > HANG) {
                // A hang cannot be unwound from another thread: save the input and abort.
                let file = save_finding(target, *seed, *iter, input);
                // Straight to stderr: the test harness's capture of eprintln! dies with the process.
                let _ = writeln!(
                    std::io::stderr(),
                    "fuzz finding in the {target} target (DSPGD_FUZZ_SEED={seed}, execution {iter}): hang (> {HANG:?}); input saved to {}",
                    file.display()
                );
                std::process::abort();
            }
        });
    });
    let mut slots = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    slots.retain(|s| s.target != target);
    slots.push(Running { target, seed, iter, since: Instant::now(), input: input.to_vec() });
}

fn save_finding(target: &str, seed: u64, iter: u64, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{target}-seed{seed}-iter{iter}.bin"));
    std::fs::write(&file, input).unwrap();
    file
}

/// Saves a failing input where a developer can find it, and fails the test.
fn finding(target: &str, seed: u64, iter: u64, input: &[u8], what: &str) -> ! {
    let file = save_finding(target, seed, iter, input);
    panic!(
        "fuzz finding in the {target} target (DSPGD_FUZZ_SEED={seed}, execution {iter}): {what}\n  input ({} bytes) saved to {}\n  keep it as a regression test: copy it to fuzz/regressions/{target}/",
        input.len(),
        file.display()
    );
}

/// An error message fit for the one-line `error: ...` of the CLI.
fn check_message(msg: &str, max_len: usize) -> Result<(), String> {
    if let Some(c) = msg.chars().find(|c| c.is_control()) {
        return Err(format!("the error message holds the control character {c:?}: {msg:?}"));
    }
    if msg.len() > max_len {
        return Err(format!("the error message is {} bytes long (at most {max_len}): {:?}...", msg.len(), msg.chars().take(200).collect::<String>()));
    }
    Ok(())
}

// ------------------------------------------------------------ .npy target

const NAME: &str = "fuzz-input.npy";

/// The invariants of the reader on one input; `Err` describes a violation.
fn check_npy(input: &[u8]) -> Result<(), String> {
    let (outcome, peak) = metered(|| catch_unwind(|| npy::parse(input, Path::new(NAME))));
    let result = outcome.map_err(|p| format!("panic: {}", panic_text(&p)))?;
    if peak > alloc_bound(input.len()) {
        return Err(format!("allocated {peak} bytes for a {}-byte input (bound {})", input.len(), alloc_bound(input.len())));
    }
    match result {
        Ok(a) => {
            if !(1..=2).contains(&a.shape.len()) {
                return Err(format!("Ok with a {}-d shape {:?}", a.shape.len(), a.shape));
            }
            let count: usize = a.shape.iter().product();
            let len = match &a.data {
                Data::F32(v) => v.len(),
                Data::F64(v) => v.len(),
            };
            if len != count {
                return Err(format!("Ok with shape {:?} but {len} elements", a.shape));
            }
            let again = npy::parse(&npy::encode(&a), Path::new(NAME)).map_err(|e| format!("encode → parse fails: {e}"))?;
            if !same_bits(&a, &again) {
                return Err("encode → parse changes the array".into());
            }
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            if !msg.starts_with(&format!("{NAME}: ")) {
                return Err(format!("the error does not start with the file name: {msg:?}"));
            }
            check_message(&msg, 1024)
        }
    }
}

fn same_bits(a: &Array, b: &Array) -> bool {
    a.shape == b.shape
        && match (&a.data, &b.data) {
            (Data::F32(x), Data::F32(y)) => x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits())),
            (Data::F64(x), Data::F64(y)) => x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits())),
            _ => false,
        }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "(non-string payload)".into())
}

const DESCRS: &[&str] = &[
    "<f8", "<f4", ">f8", ">f4", "=f8", "|f4", "f8", "f4", "d", "f", "<f2", "<f16", "<i8", "<i4", "|u1", "|b1", "?", "<c8", "<c16", "|O", "O", "<U3", "|S2",
    "|V8", "<M8[D]", "<m8", "", "<", "<f", "<f8 ", "\u{e9}f8", "<f\u{0}",
];
const FORTRANS: &[&str] = &["False", "True", "false", "1", "None", "'False'", "", "Tru", "False False"];
const DIMS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "7",
    "64",
    "1000",
    "65536",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "-1",
    "3L",
    "2.0",
    "",
    " 3 ",
    "0x10",
    "1e3",
];
const BYTES: &[u8] = b"\x00\x01\x7f\x80\xff(),'\"{}: \nL09-[]TF\x93";

/// A header text from the grammar, with fields drawn from lists of edge cases.
fn gen_header(rng: &mut Rng) -> (String, Option<(usize, Vec<usize>)>) {
    let q = if below(rng, 4) == 0 { '"' } else { '\'' };
    let descr = *pick(rng, DESCRS);
    let fortran = *pick(rng, FORTRANS);
    let ndims = *pick(rng, &[0usize, 1, 1, 2, 2, 2, 3, 4]);
    let dims: Vec<&str> = (0..ndims).map(|_| if below(rng, 3) == 0 { *pick(rng, DIMS) } else { *pick(rng, &["0", "1", "2", "3", "5"]) }).collect();
    let shape = match dims.len() {
        1 if below(rng, 4) != 0 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut fields = vec![format!("{q}descr{q}: {q}{descr}{q}"), format!("{q}fortran_order{q}: {fortran}"), format!("{q}shape{q}: {shape}")];
    if below(rng, 8) == 0 {
        fields.remove(below(rng, fields.len()));
    }
    if below(rng, 8) == 0 {
        fields.push(format!("{q}extra{q}: [1, (2, {{3: 4}})]"));
    }
    if below(rng, 4) == 0 {
        let (a, b) = (below(rng, fields.len()), below(rng, fields.len()));
        fields.swap(a, b);
    }
    let comma = if below(rng, 2) == 0 { ", " } else { "" };
    let header = format!("{{{}{comma}}}", fields.join(", "));
    // The element size and shape when they are valid, to size the data right.
    let size = match descr {
        "<f8" | ">f8" | "=f8" | "f8" | "d" => Some(8),
        "<f4" | ">f4" | "|f4" | "f4" | "f" => Some(4),
        _ => None,
    };
    let parsed: Option<Vec<usize>> = dims.iter().map(|d| d.trim().trim_end_matches('L').parse::<usize>().ok()).collect();
    (header, size.zip(parsed))
}

/// A whole file: preamble, header (padded as NumPy pads) and data, with the
/// version, header length and data length sometimes wrong on purpose.
fn gen_file(rng: &mut Rng) -> Vec<u8> {
    let (mut header, valid) = gen_header(rng);
    let version = *pick(rng, &[1u8, 1, 1, 2, 3, 0, 4, 255]);
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, if below(rng, 8) == 0 { 1 } else { 0 }]);
    let hl = if below(rng, 10) == 0 { below(rng, 1 << 21) } else { header.len() };
    if version == 1 {
        out.extend_from_slice(&(hl as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(hl as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    let want = valid.and_then(|(size, shape)| shape.iter().try_fold(size, |a, &d| a.checked_mul(d))).filter(|&b| b <= 1 << 16);
    let n = match want {
        Some(b) if below(rng, 4) != 0 => b,
        Some(b) => b.saturating_add(below(rng, 17)).saturating_sub(8),
        None => below(rng, 96),
    };
    out.extend((0..n).map(|_| rng.next_u64() as u8));
    out
}

/// Where the header text sits, when the preamble is there.
fn header_span(b: &[u8]) -> Option<(usize, usize)> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return None;
    }
    let (start, hl) = if b[6] == 1 {
        (10, u16::from_le_bytes([b[8], b[9]]) as usize)
    } else if b.len() >= 12 {
        (12, u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize)
    } else {
        return None;
    };
    Some((start, (start + hl).min(b.len())))
}

/// Replaces the text after `key` up to the next `end` byte inside the header.
fn edit_field(b: &mut Vec<u8>, key: &[u8], end: &[u8], new: &[u8]) -> bool {
    let Some((start, stop)) = header_span(b) else { return false };
    let Some(k) = b[start..stop].windows(key.len()).position(|w| w == key) else { return false };
    let from = start + k + key.len();
    let Some(e) = b[from..stop].iter().position(|c| end.contains(c)) else { return false };
    b.splice(from..from + e, new.iter().copied());
    true
}

/// Sets the header-length field to the actual header length (after an edit).
fn fix_header_len(b: &mut [u8]) {
    let Some((start, _)) = header_span(b) else { return };
    let Some(nl) = b[start..].iter().position(|&c| c == b'\n') else { return };
    let hl = nl + 1;
    if b[6] == 1 {
        b[8..10].copy_from_slice(&(hl.min(u16::MAX as usize) as u16).to_le_bytes());
    } else {
        b[8..12].copy_from_slice(&(hl as u32).to_le_bytes());
    }
}

fn mutate(rng: &mut Rng, b: &mut Vec<u8>, corpus: &[(String, Vec<u8>)]) {
    let at = |rng: &mut Rng, b: &Vec<u8>| below(rng, b.len() + 1);
    match below(rng, 13) {
        0 if !b.is_empty() => {
            let i = below(rng, b.len());
            b[i] ^= 1 << below(rng, 8);
        }
        1 if !b.is_empty() => {
            let i = below(rng, b.len());
            b[i] = *pick(rng, BYTES);
        }
        2 => {
            let i = at(rng, b);
            let n = 1 + below(rng, 16);
            let ins: Vec<u8> = (0..n).map(|_| if below(rng, 2) == 0 { *pick(rng, BYTES) } else { rng.next_u64() as u8 }).collect();
            b.splice(i..i, ins);
        }
        3 if !b.is_empty() => {
            let i = below(rng, b.len());
            let n = 1 + below(rng, 16.min(b.len() - i));
            b.drain(i..i + n);
        }
        4 => b.truncate(below(rng, b.len() + 1)),
        5 => b.extend((0..below(rng, 64)).map(|_| rng.next_u64() as u8)),
        6 => {
            let d = pick(rng, DESCRS).as_bytes().to_vec();
            if edit_field(b, b"descr': '", b"'", &d) && below(rng, 2) == 0 {
                fix_header_len(b);
            }
        }
        7 => {
            let n = *pick(rng, &[0usize, 1, 2, 3]);
            let dims: Vec<&str> = (0..n).map(|_| *pick(rng, DIMS)).collect();
            let t = format!("{}{}", dims.join(", "), if n == 1 { "," } else { "" });
            if edit_field(b, b"shape': (", b")", t.as_bytes()) && below(rng, 2) == 0 {
                fix_header_len(b);
            }
        }
        8 => {
            let f = pick(rng, FORTRANS).as_bytes().to_vec();
            edit_field(b, b"fortran_order': ", b",}", &f);
        }
        9 if b.len() >= 8 => {
            b[6] = *pick(rng, &[0u8, 1, 2, 3, 4, 255]);
            b[7] = *pick(rng, &[0u8, 0, 1, 255]);
        }
        10 if b.len() >= 12 => {
            let v = *pick(rng, &[0u32, 1, 63, 64, 118, 0xffff, 1 << 20, (1 << 20) + 1, u32::MAX]);
            let w = if b[6] == 1 { 2 } else { 4 };
            b[8..8 + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        11 => {
            let other = &pick(rng, corpus).1;
            let cut_a = below(rng, b.len() + 1);
            let cut_b = below(rng, other.len() + 1);
            b.truncate(cut_a);
            b.extend_from_slice(&other[cut_b..]);
        }
        _ => {
            // Fresh data of the right length for the (possibly edited) header.
            if let Some((_, stop)) = header_span(b) {
                let n = b.len() - stop;
                b.truncate(stop);
                b.extend((0..n).map(|_| rng.next_u64() as u8));
            }
        }
    }
}

fn npy_input(rng: &mut Rng, corpus: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = if below(rng, 10) < 3 { gen_file(rng) } else { pick(rng, corpus).1.clone() };
    for _ in 0..below(rng, 4) + usize::from(!b.is_empty() && below(rng, 10) < 7) {
        mutate(rng, &mut b, corpus);
    }
    b
}

#[test]
fn npy_reader_fuzz() {
    let corpus = files_in(&repo("fuzz/corpus/npy"));
    assert!(corpus.len() >= 20, "the seed corpus fuzz/corpus/npy is missing");
    let regressions = files_in(&repo("fuzz/regressions/npy"));
    let seed = seed();
    for (name, bytes) in corpus.iter().chain(&regressions) {
        running("npy", seed, u64::MAX, bytes);
        if let Err(what) = check_npy(bytes) {
            panic!("fuzz/…/{name}: {what}");
        }
    }
    // The valid seeds must parse: a reader that refuses everything passes the invariants too.
    let ok = corpus.iter().filter(|(_, b)| npy::parse(b, Path::new(NAME)).is_ok()).count();
    assert!(ok >= 10, "only {ok} seeds parse");

    let budget = Budget::from_env(CI_ITERS_NPY);
    let (start, mut done, mut n_ok) = (Instant::now(), 0u64, 0u64);
    while budget.go_on(done, start) {
        let mut rng = rng_for(seed, done);
        let input = npy_input(&mut rng, &corpus);
        running("npy", seed, done, &input);
        if let Err(what) = check_npy(&input) {
            finding("npy", seed, done, &input, &what);
        }
        n_ok += u64::from(npy::parse(&input, Path::new(NAME)).is_ok());
        done += 1;
    }
    eprintln!(
        "fuzz npy: seed {seed}, {done} executions in {:.1} s ({} seeds, {} regressions), {n_ok} parsed OK, no finding",
        start.elapsed().as_secs_f64(),
        corpus.len(),
        regressions.len()
    );
    assert!(n_ok > done / 50, "the mutations should leave some inputs valid ({n_ok} of {done})");
}

// ------------------------------------------------------------ spec target

/// Checks one parser on one string.
fn check_parser<T: FromStr<Err = dspgd::SpecError> + Display + Debug>(s: &str) -> Result<bool, String> {
    let r = catch_unwind(AssertUnwindSafe(|| s.parse::<T>())).map_err(|p| format!("panic: {}", panic_text(&p)))?;
    match r {
        Ok(v) => {
            let shown = v.to_string();
            let back: T = shown.parse().map_err(|e| format!("{s:?} parses to {v:?}, shown as {shown:?}, which does not parse: {e}"))?;
            if back.to_string() != shown || format!("{back:?}") != format!("{v:?}") {
                return Err(format!("{s:?} parses to {v:?}, shown as {shown:?}, which parses to {back:?}"));
            }
            Ok(true)
        }
        Err(e) => {
            let msg = e.to_string();
            if !msg.contains(e.what) {
                return Err(format!("the error for {s:?} does not say what was parsed: {msg:?}"));
            }
            check_message(&msg, 4 * s.len() + 512).map(|()| false)
        }
    }
}

/// All the spec parsers of the library and the CLI; the number that accepted `s`.
fn check_spec(s: &str) -> Result<usize, String> {
    let oks = [
        check_parser::<Loss>(s).map_err(|e| format!("Loss: {e}"))?,
        check_parser::<Precond>(s).map_err(|e| format!("Precond: {e}"))?,
        check_parser::<LearningRate>(s).map_err(|e| format!("LearningRate: {e}"))?,
        check_parser::<Schedule>(s).map_err(|e| format!("Schedule: {e}"))?,
        check_parser::<PathChoice>(s).map_err(|e| format!("PathChoice: {e}"))?,
        check_parser::<BackendChoice>(s).map_err(|e| format!("BackendChoice: {e}"))?,
    ];
    Ok(oks.iter().filter(|&&b| b).count())
}

const NAMES: &[&str] = &[
    "gd",
    "clip",
    "ngd",
    "power",
    "spectral",
    "muon",
    "sign",
    "adam",
    "eclip",
    "lp",
    "squared",
    "huber",
    "logcosh",
    "default",
    "auto",
    "line-search",
    "linesearch",
    "ls",
    "const",
    "constant",
    "invsqrt",
    "inv",
    "geom",
    "primal",
    "gram",
    "tune",
    "reference",
    "faer",
    "simd",
    "openblas",
    "custom",
    "GD",
    "",
    " ",
    "x",
];
const NUMS: &[&str] = &[
    "0", "-0", "1", "2", "1.5", "0.5", "1e-3", "1E-3", "+1", "-1", ".5", "5.", "1e308", "1e309", "1e400", "-1e400", "5e-324", "1e-400", "2.2250738585072014e-308",
    "inf", "-inf", "+inf", "infinity", "NaN", "nan", "-NaN", "0x10", "1_000", "1e", "e5", "", " ", "1 ", "0.999", "1.0000000000000002",
    "0.9999999999999999", "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
];
const CHARS: &[char] = &[':', ' ', '.', 'e', 'E', '-', '+', '0', '1', '9', 'a', 'z', 'é', 'τ', '∞', '\n', '\t', '\r', '\0', '\u{7f}', '\u{200b}', '\u{fffd}'];

fn spec_input(rng: &mut Rng, seeds: &[String]) -> String {
    let mut s: Vec<char> = match below(rng, 10) {
        0..=3 => pick(rng, seeds).chars().collect(),
        4..=7 => {
            let mut t = pick(rng, NAMES).to_string();
            if below(rng, 4) != 0 {
                t.push(':');
                if below(rng, 3) == 0 {
                    t.push_str(&format!("{}", f64::from_bits(rng.next_u64())));
                } else if below(rng, 3) == 0 {
                    t.push_str(&format!("{:e}", rng.uniform() * 10f64.powi(below(rng, 40) as i32 - 20)));
                } else {
                    t.push_str(pick::<&str>(rng, NUMS));
                }
            }
            if below(rng, 10) == 0 {
                t.push_str(pick::<&str>(rng, &[":", ":1", "::", " :2"]));
            }
            t.chars().collect()
        }
        _ => {
            let n = below(rng, 24);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            String::from_utf8_lossy(&bytes).chars().collect()
        }
    };
    for _ in 0..below(rng, 3) {
        match below(rng, 5) {
            0 => {
                let i = below(rng, s.len() + 1);
                s.insert(i, *pick(rng, CHARS));
            }
            1 if !s.is_empty() => {
                s.remove(below(rng, s.len()));
            }
            2 if !s.is_empty() => {
                let i = below(rng, s.len());
                s[i] = *pick(rng, CHARS);
            }
            3 if !s.is_empty() => {
                let i = below(rng, s.len());
                s[i] = if s[i].is_ascii_lowercase() { s[i].to_ascii_uppercase() } else { s[i].to_ascii_lowercase() };
            }
            _ => {
                let (a, b) = (below(rng, s.len() + 1), below(rng, s.len() + 1));
                let piece: Vec<char> = s[a.min(b)..a.max(b)].to_vec();
                let i = below(rng, s.len() + 1);
                s.splice(i..i, piece);
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn spec_parsers_fuzz() {
    let seeds: Vec<String> = std::fs::read_to_string(repo("fuzz/corpus/spec/seeds.txt")).unwrap().lines().map(str::to_string).collect();
    assert!(seeds.len() >= 40, "the seed corpus fuzz/corpus/spec/seeds.txt is missing");
    let regressions = files_in(&repo("fuzz/regressions/spec"));
    let seed = seed();
    let mut accepted_seeds = 0;
    for s in &seeds {
        accepted_seeds += check_spec(s).unwrap_or_else(|e| panic!("seed {s:?}: {e}"));
    }
    for (name, bytes) in &regressions {
        check_spec(&String::from_utf8_lossy(bytes)).unwrap_or_else(|e| panic!("fuzz/regressions/spec/{name}: {e}"));
    }
    assert!(accepted_seeds >= 40, "the valid seeds must parse ({accepted_seeds} accepted)");

    let budget = Budget::from_env(CI_ITERS_SPEC);
    let (start, mut done, mut n_ok) = (Instant::now(), 0u64, 0u64);
    while budget.go_on(done, start) {
        let mut rng = rng_for(seed, done);
        let input = spec_input(&mut rng, &seeds);
        running("spec", seed, done, input.as_bytes());
        match check_spec(&input) {
            Ok(n) => n_ok += u64::from(n > 0),
            Err(what) => finding("spec", seed, done, input.as_bytes(), &what),
        }
        done += 1;
    }
    eprintln!(
        "fuzz spec: seed {seed}, {done} executions in {:.1} s ({} seeds, {} regressions), {n_ok} accepted by some parser, no finding",
        start.elapsed().as_secs_f64(),
        seeds.len(),
        regressions.len()
    );
    assert!(n_ok > done / 20, "the mutations should leave some specs valid ({n_ok} of {done})");
}
