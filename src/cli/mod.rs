//! The `dspgd` command-line program (DESIGN.md, "CLI contract"): the front
//! layer over the library. It reads and writes `.npy` files ([`npy`]),
//! writes outputs atomically ([`atomic`]), solves ([`solve`]) and stops
//! cleanly on Ctrl-C ([`interrupt`]), shows progress bars ([`progress`]),
//! reports ([`report`]), describes the build and the machine ([`info`]),
//! runs a built-in demonstration ([`demo`]) and the implicit-bias
//! experiment ([`bias`]), and draws their plots ([`plot`]).
//!
//! Every failure ends as one line `error: ...` on stderr and an exit code:
//! 0 converged, 1 other failure, 2 bad input or usage, 3 not converged
//! (max iterations or stalled), 4 diverged, 130 interrupted.

pub mod args;
pub mod atomic;
pub mod bias;
pub mod bench;
pub mod demo;
pub mod info;
pub mod interrupt;
pub mod npy;
pub mod plot;
pub mod progress;
pub mod report;
pub mod shard;
pub mod solve;

use clap::Parser;
use std::fmt;
use std::process::ExitCode;

/// Exit code: converged / success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any other failure.
pub const EXIT_OTHER: u8 = 1;
/// Exit code: bad input or usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: stopped at max_iters or stalled (W and the report written).
pub const EXIT_NOT_CONVERGED: u8 = 3;
/// Exit code: diverged.
pub const EXIT_DIVERGED: u8 = 4;
/// Exit code: interrupted.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Fail {
    /// The process exit code.
    pub code: u8,
    /// The one-line message (without the `error: ` prefix).
    pub msg: String,
}

impl Fail {
    /// Bad input or usage (exit 2).
    pub fn usage(msg: impl Into<String>) -> Self {
        Self { code: EXIT_USAGE, msg: msg.into() }
    }
    /// Any other failure (exit 1).
    pub fn other(msg: impl Into<String>) -> Self {
        Self { code: EXIT_OTHER, msg: msg.into() }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Fail {}

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        // clap prints usage errors (exit 2) and --help/--version (exit 0) itself.
        Err(e) => e.exit(),
    };
    let outcome = match cli.command {
        None => demo::run(&args::DemoArgs::default()),
        Some(args::Command::Demo(a)) => demo::run(&a),
        Some(args::Command::Bench(a)) => bench::run(&a),
        Some(args::Command::Info(a)) => info::run(&a),
        Some(args::Command::Solve(a)) => solve::run(&a),
        Some(args::Command::Bias(a)) => bias::run(&a),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.downcast_ref::<Fail>().map_or(EXIT_OTHER, |f| f.code);
            // One line: the context chain joined by ": ".
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}
