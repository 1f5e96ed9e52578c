//! Without the `mpi` feature, `dspgd solve --shard rows` is a usage error
//! (exit 2) that says how to build with MPI; nothing of MPI is linked.
#![cfg(all(feature = "cli", not(feature = "mpi")))]

use std::process::Command;

#[test]
fn shard_rows_without_mpi_says_how_to_build_it() {
    let o = Command::new(env!("CARGO_BIN_EXE_dspgd"))
        .args(["solve", "--x", "X.npy", "--y", "Y.npy", "--out", "W.npy", "--shard", "rows"])
        .output()
        .expect("run dspgd");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--features mpi") && err.contains("--shard rows"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn the_binary_does_not_link_mpi() {
    // On Linux, the dynamic section lists the libraries; without the feature no libmpi.
    let Ok(bytes) = std::fs::read(env!("CARGO_BIN_EXE_dspgd")) else {
        return;
    };
    assert!(!bytes.windows(6).any(|w| w == b"libmpi"), "the binary references libmpi without the mpi feature");
}
