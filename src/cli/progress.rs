//! Progress bars on stderr, drawn with `indicatif`, fed by the library's
//! [`Observer`](dspgd::Observer) (the library itself never prints).
//!
//! A bar is drawn only when stderr is a terminal and the command was not
//! asked to be quiet; otherwise its draw target is hidden and updating it
//! costs next to nothing. A solve's bar appears only once the solve has run
//! for half a second, so quick runs print nothing extra.

use dspgd::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How long a solve runs before its bar appears (seconds).
const SHOW_AFTER: f64 = 0.5;
/// Minimum time between two updates of a solve's bar (seconds).
const UPDATE_EVERY: f64 = 0.05;

/// True when progress may be drawn: stderr is a terminal and not `quiet`.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// The bar of one solve: iteration against the iteration limit, relative
/// residual, iterations per second, and the time left if the solve ran to
/// the limit (an upper bound: it stops earlier when it converges).
#[derive(Debug)]
pub struct SolveBar {
    bar: ProgressBar,
    enabled: bool,
    shown: bool,
    last: f64,
}

impl SolveBar {
    /// A bar for a solve limited to `max_iters` iterations; drawn only when `enabled`.
    pub fn new(enabled: bool, max_iters: usize) -> Self {
        let bar = ProgressBar::with_draw_target(Some(max_iters as u64), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner:.green} iter {pos}/{len} [{bar:28.cyan/blue}] {msg}  ETA ≤ {eta}").map(|s| s.progress_chars("=> "))
        {
            bar.set_style(style);
        }
        Self { bar, enabled, shown: false, last: f64::NEG_INFINITY }
    }

    /// Shows the progress of the solve (throttled).
    pub fn update(&mut self, p: &Progress) {
        if !self.enabled || p.elapsed < SHOW_AFTER || p.elapsed - self.last < UPDATE_EVERY {
            return;
        }
        self.last = p.elapsed;
        if !self.shown {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        let rate = if p.elapsed > 0.0 { p.iteration as f64 / p.elapsed } else { 0.0 };
        self.bar.set_message(format!("rel.res {:.3e}  {rate:.0} it/s", p.rel_residual));
        self.bar.set_position(p.iteration as u64);
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A bar over the solves of an experiment (`demo`, `bias`): solve i of n,
/// with the current case as its message; hidden unless `enabled`.
pub fn cases(enabled: bool, n: usize, prefix: &'static str) -> ProgressBar {
    let target = if enabled { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(n as u64), target).with_prefix(prefix);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:24.cyan/blue}] {pos}/{len} {msg} ({elapsed})").map(|s| s.progress_chars("=> ")) {
        bar.set_style(style);
    }
    bar
}
