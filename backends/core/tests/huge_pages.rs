//! `huge_pages::vec_with_capacity`: the buffer it returns is usable as any
//! vector, and on Linux with transparent huge pages available its pages are
//! backed by huge pages once written (read back from /proc/self/smaps).

use dspgd_backend::huge_pages::{system_mode, vec_with_capacity, MIN_BYTES};

#[test]
fn behaves_as_a_vector() {
    for cap in [0, 1, 1000, MIN_BYTES / 8 + 3] {
        let mut v: Vec<f64> = vec_with_capacity(cap);
        assert!(v.is_empty());
        assert!(v.capacity() >= cap);
        v.extend((0..cap).map(|i| i as f64));
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64));
    }
    let z: Vec<()> = vec_with_capacity(10);
    assert!(z.is_empty());
    if let Some(mode) = system_mode() {
        assert!(["always", "madvise", "never"].contains(&mode.as_str()), "unexpected THP mode {mode:?}");
    }
}

/// kB of anonymous huge pages in the mapping that holds `addr`.
#[cfg(target_os = "linux")]
fn huge_kb_at(addr: usize) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = a <= addr && addr < b;
                continue;
            }
        }
        if inside {
            if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                return rest.trim().trim_end_matches("kB").trim().parse().expect("AnonHugePages value");
            }
        }
    }
    0
}

#[cfg(target_os = "linux")]
#[test]
fn large_buffers_get_huge_pages() {
    let Some(mode) = system_mode() else {
        eprintln!("no transparent huge pages on this kernel: nothing to check");
        return;
    };
    if mode == "never" {
        eprintln!("transparent huge pages are off (never): nothing to check");
        return;
    }
    let len = (64 << 20) / 8; // 64 MiB: at least 31 whole 2 MiB pages inside.
    let mut advised: Vec<f64> = vec_with_capacity(len);
    advised.resize(len, 1.0);
    let kb = huge_kb_at(advised.as_ptr() as usize + len * 4);
    assert!(kb >= 2048, "an advised 64 MiB buffer has {kb} kB of huge pages (THP mode {mode})");
    if mode == "madvise" {
        // The control: without the advice, this mode gives none.
        let mut plain: Vec<f64> = Vec::with_capacity(len);
        plain.resize(len, 1.0);
        let kb = huge_kb_at(plain.as_ptr() as usize + len * 4);
        assert_eq!(kb, 0, "a buffer without the advice got huge pages in madvise mode");
    }
}
