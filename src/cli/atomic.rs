//! Output files that appear whole or not at all (SPEC §8).
//!
//! Every output is first written to a hidden temporary file in the folder of
//! its destination, flushed to disk, and only then renamed over the
//! destination (a rename within one folder is atomic on POSIX file systems).
//! A run stages all of its outputs before committing any, so a failure while
//! writing leaves no output file behind; dropping a [`Staged`] file that was
//! not committed removes its temporary file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The folder a path lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh, unused temporary name beside `dest`.
fn temp_name(dest: &Path, tag: &str) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    folder_of(dest).join(format!(".{name}.{tag}.{}.{n}.tmp", std::process::id()))
}

/// Checks, before any work is done, that `path` can be written: it is not a
/// folder, its folder exists, and a file can be created in that folder.
///
/// # Errors
/// A sentence naming the path and the reason.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("the output path is empty".into());
    }
    if path.is_dir() {
        return Err(format!("'{}' is a folder; give a file name", path.display()));
    }
    let folder = folder_of(path);
    if folder.exists() && !folder.is_dir() {
        return Err(format!("cannot write '{}': '{}' is a file, not a folder", path.display(), folder.display()));
    }
    if !folder.is_dir() {
        return Err(format!("cannot write '{}': the folder '{}' does not exist", path.display(), folder.display()));
    }
    let probe = temp_name(path, "probe");
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(f) => {
            drop(f);
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("cannot write '{}': cannot create a file in the folder '{}': {e}", path.display(), folder.display())),
    }
}

/// A complete output waiting in a temporary file beside its destination.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to a temporary file beside `dest` and flushes it to disk.
///
/// # Errors
/// The I/O error, naming `dest`.
pub fn stage(dest: &Path, bytes: &[u8]) -> Result<Staged, String> {
    let tmp = temp_name(dest, "partial");
    let staged = Staged { tmp, dest: dest.to_path_buf(), committed: false };
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&staged.tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| format!("cannot write '{}': {e}", dest.display()))?;
    Ok(staged)
}

/// Renames every staged file onto its destination.
///
/// # Errors
/// The first rename that failed, naming its destination; the temporary
/// files not yet renamed are removed.
pub fn commit(files: Vec<Staged>) -> Result<(), String> {
    for mut s in files {
        fs::rename(&s.tmp, &s.dest).map_err(|e| format!("cannot write '{}': {e}", s.dest.display()))?;
        s.committed = true;
        // Make the rename itself durable where the platform allows it.
        if let Ok(dir) = File::open(folder_of(&s.dest)) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_commit_and_drop() {
        let dir = std::env::temp_dir().join(format!("dspgd-atomic-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.bin");
        let b = dir.join("b.bin");
        check_writable(&a).unwrap();
        let sa = stage(&a, b"hello").unwrap();
        assert!(!a.exists(), "nothing appears before the commit");
        let sb = stage(&b, b"world").unwrap();
        drop(sb);
        commit(vec![sa]).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"hello");
        assert!(!b.exists());
        let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind: {left:?}");
        assert!(check_writable(&dir).unwrap_err().contains("folder"));
        assert!(check_writable(&dir.join("no/such/x.npy")).unwrap_err().contains("does not exist"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
