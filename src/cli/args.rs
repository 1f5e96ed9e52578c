//! The command line, declared with clap: `solve`, `info`, `demo`, `bias`.
//!
//! Spec strings (`--precond`, `--loss`, `--lr`, `--schedule`, `--backend`,
//! `--path`) are taken as text here and parsed with the library's `FromStr`
//! implementations by the commands, so that the error names the argument and
//! carries the library's explanation of what is accepted.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0    converged (solve), success (other commands)
  1    any other failure
  2    bad input or usage: unreadable or malformed file, shape mismatch,
       bad spec string, unwritable output path (no output file is written)
  3    stopped without converging: at --max-iters, or stalled (the line
       search found no step that lowers the loss); W and the report are written
  4    diverged: the report is written, W only with --keep-last
  130  interrupted by Ctrl-C: the last iterate and the report are written
       (a second Ctrl-C exits at once without writing)";

/// Dual space preconditioned gradient descent for overparameterized linear
/// problems XW = Y.
///
/// Without a command, runs `dspgd demo`.
#[derive(Debug, Parser)]
#[command(name = "dspgd", version, about, long_about, after_long_help = EXIT_CODES, after_help = "Exit codes: 0 converged, 2 bad input, 3 not converged (max iterations or stalled), 4 diverged, 130 interrupted, 1 other (see --help).")]
pub struct Cli {
    /// The command (default: demo).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Solve XW = Y from .npy files by DSPGD and write W (and a JSON report).
    #[command(after_long_help = EXIT_CODES)]
    Solve(Box<SolveArgs>),
    /// Print the version, compiled-in backends, CPU features and build facts.
    Info(InfoArgs),
    /// Solve a built-in Gaussian problem with several preconditioners and
    /// print where each lands relative to the minimum-distance interpolator.
    Demo(DemoArgs),
    /// Iterations per second of each compiled backend on the benchmark
    /// protocol's shapes, beside this machine's streaming-read and gemm limits.
    Bench(Box<super::bench::BenchArgs>),
    /// The implicit-bias experiment: where the limit W∞(η) lands, against
    /// the step size η, for one K and an isotropic control.
    #[command(after_long_help = BIAS_HELP)]
    Bias(BiasArgs),
}

const BIAS_HELP: &str = "\
For each step size η of the grid, the K of --precond and the control K
are each solved from W0 = 0 to --tol with the constant step η, and the
limit W∞(η) is compared with W_GD, the interpolator nearest W0:
  rho               ‖W∞ − W0‖/‖W_GD − W0‖ (1 when W∞ = W_GD, > 1 otherwise)
  dist_to_wgd       ‖W∞(η) − W_GD‖/‖W_GD − W0‖
  dist_to_eta_min   ‖W∞(η) − W∞(η_min)‖/‖W_GD − W0‖, η_min the smallest η of the grid
The default grid is 0.05, 0.1, 0.2, 0.4, 0.8 times each K's stability bound
1/(L_K·β·‖X‖₂²) (--fracs); --lrs gives absolute step sizes instead, the
same for both K.

Exit codes: 0 every solve converged, 3 some did not (the files are still
written), 2 bad input or usage, 1 other.";

/// The element type of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

/// `dspgd solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    /// X, the data (n×d): a 2-D .npy file of f32 or f64, C or Fortran order, either byte order.
    #[arg(long, value_name = "X.npy")]
    pub x: PathBuf,
    /// Y, the labels (n×k): 2-D, or 1-D for k = 1 (then W is written 1-D).
    #[arg(long, value_name = "Y.npy")]
    pub y: PathBuf,
    /// W0, the starting point (d×k; 1-D for k = 1). Default: zeros.
    #[arg(long, value_name = "W0.npy")]
    pub w0: Option<PathBuf>,
    /// Where to write W (d×k, or (d,) when Y is 1-D), in the run's dtype.
    #[arg(long, value_name = "W.npy")]
    pub out: PathBuf,
    /// The preconditioner ∇K: gd, clip:τ, ngd, ngd:ε, power:p, spectral, spectral:ε, sign, adam:ε, eclip:τ, lp:p.
    #[arg(long, value_name = "SPEC", default_value = "gd")]
    pub precond: String,
    /// The loss ℓ: squared, huber:δ, logcosh, lp:p.
    #[arg(long, value_name = "SPEC", default_value = "squared")]
    pub loss: String,
    /// The step size: auto, line-search or a constant η > 0.
    /// Default: auto for smooth K and loss, line-search otherwise.
    #[arg(long, value_name = "auto|line-search|FLOAT", allow_hyphen_values = true)]
    pub lr: Option<String>,
    /// Decay of a constant or auto step: const, invsqrt, inv, geom:γ.
    #[arg(long, value_name = "const|invsqrt|inv|geom:G", default_value = "const")]
    pub schedule: String,
    /// Stop when ‖XW − Y‖ ≤ tol·‖Y‖. Default: 1e-10 in f64, 1e-5 in f32.
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    pub tol: Option<f64>,
    /// Iteration limit; reaching it exits with code 3 (W and the report are written).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_iters: usize,
    /// The kernel backend: auto, reference, faer (the DSPGD_BACKEND variable overrides auto).
    #[arg(long, value_name = "auto|reference|faer", default_value = "auto")]
    pub backend: String,
    /// The solution path: auto, primal (any K) or gram (isotropic and right-invariant K).
    #[arg(long, value_name = "auto|primal|gram", default_value = "auto")]
    pub path: String,
    /// Kernel threads (0 = all cores).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// The run's element type. Default: X's; Y and W0 are converted to it.
    #[arg(long, value_enum)]
    pub dtype: Option<DTypeArg>,
    /// Write a JSON report of the run here (also on divergence).
    #[arg(long, value_name = "REPORT.json")]
    pub report: Option<PathBuf>,
    /// No summary and no progress on stderr (warnings and errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// On divergence, write the last finite iterate to --out anyway.
    #[arg(long)]
    pub keep_last: bool,
    /// Row-sharded solve under `mpirun -np P` (a build with `--features mpi`):
    /// each rank reads only its block of rows of X and Y, one allreduce per
    /// iteration sums the gradient, rank 0 writes W and the report (the primal path).
    #[arg(long, value_enum, value_name = "rows")]
    pub shard: Option<ShardArg>,
}

/// How `--shard` splits the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShardArg {
    /// Contiguous blocks of rows of X and Y, one per MPI rank (as equal as possible).
    Rows,
}

/// `dspgd info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `dspgd demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Samples (rows of X).
    #[arg(long, default_value_t = 200)]
    pub n: usize,
    /// Features (columns of X).
    #[arg(long, default_value_t = 2000)]
    pub d: usize,
    /// Outputs (columns of Y).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Seed of the Gaussian problem.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Iteration limit of each solve.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub max_iters: usize,
    /// Kernel threads (0 = all cores).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Also write demo.json (the table and residual histories) and demo.svg
    /// (residual against iteration for each K) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// `dspgd bias`.
#[derive(Debug, Args)]
pub struct BiasArgs {
    /// Samples (rows of X).
    #[arg(long, default_value_t = 200)]
    pub n: usize,
    /// Features (columns of X).
    #[arg(long, default_value_t = 2000)]
    pub d: usize,
    /// Outputs (columns of Y).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// The preconditioner under study; it must be smooth (finite L_K): the
    /// experiment runs constant steps.
    #[arg(long, value_name = "SPEC", default_value = "adam:0.1")]
    pub precond: String,
    /// The control: an isotropic (or right-invariant) K, whose limit is W_GD at every η.
    #[arg(long, value_name = "SPEC", default_value = "gd")]
    pub control: String,
    /// Absolute step sizes, comma-separated (e.g. 0.001,0.002,0.005), used for both K.
    #[arg(long, value_name = "LIST", conflicts_with = "fracs")]
    pub lrs: Option<String>,
    /// Step sizes as fractions of each K's stability bound 1/(L_K·β·‖X‖₂²), comma-separated.
    #[arg(long, value_name = "LIST", default_value = "0.05,0.1,0.2,0.4,0.8")]
    pub fracs: String,
    /// Seed of the Gaussian problem.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop each solve when ‖XW − Y‖ ≤ tol·‖Y‖.
    #[arg(long, value_name = "F", default_value_t = 1e-10)]
    pub tol: f64,
    /// Iteration limit of each solve.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub max_iters: usize,
    /// Kernel threads (0 = all cores).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,
    /// Write bias.csv, bias.json and bias.svg (ρ and ‖W∞ − W_GD‖ against η) into this folder.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self { n: 200, d: 2000, k: 4, seed: 1, max_iters: 20_000, threads: 1, out_dir: None }
    }
}
