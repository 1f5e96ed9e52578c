//! Instruction-set levels: what the CPU offers, detected once, and the
//! zero-sized pulp token that runs a kernel at a given level.

use core::fmt;
use core::str::FromStr;
use std::sync::OnceLock;

/// The name of the environment variable that forces a level (see [`level_from_env`]).
pub const ENV_VAR: &str = "DSPGD_SIMD";

/// A SIMD instruction-set level the kernels can run at.
///
/// The kernels are written once, generic over [`pulp::Simd`]; a level picks
/// the instantiation. Levels are ordered from the most portable to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Plain scalar code (one lane), available everywhere.
    Scalar,
    /// x86-64-v3: AVX2 + FMA, 256-bit vectors (pulp's `V3`).
    V3,
    /// x86-64-v4: AVX-512 (F, BW, CD, DQ, VL), 512-bit vectors (pulp's `V4`).
    V4,
    /// aarch64 NEON, 128-bit vectors (pulp's `Neon`).
    Neon,
}

impl Level {
    /// Every level, in the order [`detect`] prefers them (best first).
    pub const ALL: [Level; 4] = [Level::V4, Level::V3, Level::Neon, Level::Scalar];

    /// The kernel name reported by the backend: `"scalar"`, `"avx2"`,
    /// `"avx512"` or `"neon"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::V3 => "avx2",
            Level::V4 => "avx512",
            Level::Neon => "neon",
        }
    }

    /// True when this CPU (and this build) can run the level.
    ///
    /// ```
    /// use dspgd_simd::Level;
    /// assert!(Level::Scalar.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        Token::new(self).is_some()
    }

    /// The levels this CPU can run, best first (always ends with `Scalar`).
    pub fn available() -> Vec<Level> {
        Level::ALL.into_iter().filter(|l| l.is_available()).collect()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = LevelError;

    /// Parses `scalar`, `v3` / `avx2`, `v4` / `avx512`, `neon`
    /// (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, LevelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "v3" | "avx2" | "x86-v3" => Ok(Level::V3),
            "v4" | "avx512" | "x86-v4" => Ok(Level::V4),
            "neon" => Ok(Level::Neon),
            _ => Err(LevelError::UnknownName { value: s.to_owned() }),
        }
    }
}

/// Why a SIMD level cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LevelError {
    /// The CPU (or the target this crate was built for) lacks the level.
    Unavailable {
        /// The level asked for.
        level: Level,
        /// The best level this CPU supports.
        detected: Level,
    },
    /// A level name (e.g. in `DSPGD_SIMD`) that is not one of the known ones.
    UnknownName {
        /// The text given.
        value: String,
    },
}

impl fmt::Display for LevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelError::Unavailable { level, detected } => write!(
                f,
                "SIMD level {level} ({}) is not available on this CPU/target; the best available level is {detected} \
                 (available: {})",
                level_long_name(*level),
                Level::available().iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
            ),
            LevelError::UnknownName { value } => write!(
                f,
                "unknown SIMD level '{value}' (in {ENV_VAR} or a level name); expected one of scalar, v3 (avx2), v4 (avx512), neon"
            ),
        }
    }
}

impl std::error::Error for LevelError {}

fn level_long_name(level: Level) -> &'static str {
    match level {
        Level::Scalar => "scalar",
        Level::V3 => "x86-64-v3: AVX2 + FMA",
        Level::V4 => "x86-64-v4: AVX-512F/BW/CD/DQ/VL",
        Level::Neon => "aarch64 NEON",
    }
}

/// The best level this CPU supports, detected on the first call and cached.
///
/// ```
/// let level = dspgd_simd::detect();
/// assert!(level.is_available());
/// ```
pub fn detect() -> Level {
    static DETECTED: OnceLock<Level> = OnceLock::new();
    *DETECTED.get_or_init(|| Level::ALL.into_iter().find(|l| l.is_available()).unwrap_or(Level::Scalar))
}

/// The level forced by the environment variable `DSPGD_SIMD`
/// (`scalar`, `v3` / `avx2`, `v4` / `avx512`, `neon`), or `None` when it is
/// unset or empty.
///
/// This only parses the name; [`crate::SimdBackend::with_level`] checks that
/// the CPU has the level.
///
/// # Errors
/// [`LevelError::UnknownName`] when the variable holds anything else
/// (including non-UTF-8 text).
pub fn level_from_env() -> Result<Option<Level>, LevelError> {
    match std::env::var(ENV_VAR) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.parse().map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(LevelError::UnknownName { value: v.to_string_lossy().into_owned() }),
    }
}

/// A proof that a level is available: the pulp token of that level.
/// Tokens are made only through `try_new`, so holding one means the CPU
/// has the instructions (no `unsafe` anywhere).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Token {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    V3(pulp::x86::V3),
    #[cfg(target_arch = "x86_64")]
    V4(pulp::x86::V4),
    #[cfg(target_arch = "aarch64")]
    Neon(pulp::aarch64::Neon),
}

impl Token {
    /// The token of `level`, or `None` when the CPU lacks it.
    pub(crate) fn new(level: Level) -> Option<Token> {
        match level {
            Level::Scalar => Some(Token::Scalar),
            #[cfg(target_arch = "x86_64")]
            Level::V3 => pulp::x86::V3::try_new().map(Token::V3),
            #[cfg(target_arch = "x86_64")]
            Level::V4 => pulp::x86::V4::try_new().map(Token::V4),
            #[cfg(target_arch = "aarch64")]
            Level::Neon => pulp::aarch64::Neon::try_new().map(Token::Neon),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Runs `op` with the SIMD type of this level: the one branch per kernel
    /// call; `vectorize` enters a function compiled with the level's target
    /// features, inside which everything is inlined.
    #[inline(always)]
    pub(crate) fn run<Op: pulp::WithSimd>(self, op: Op) -> Op::Output {
        use pulp::Simd;
        match self {
            Token::Scalar => Simd::vectorize(pulp::Scalar::new(), op),
            #[cfg(target_arch = "x86_64")]
            Token::V3(s) => Simd::vectorize(s, op),
            #[cfg(target_arch = "x86_64")]
            Token::V4(s) => Simd::vectorize(s, op),
            #[cfg(target_arch = "aarch64")]
            Token::Neon(s) => Simd::vectorize(s, op),
        }
    }
}
