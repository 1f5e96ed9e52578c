//! Parsing of spec strings such as `huber:0.5` or `adam:1e-3`.

use core::fmt;

/// A spec string that could not be parsed, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// What was being parsed: `"loss"`, `"preconditioner"`, `"schedule"`, ...
    pub what: &'static str,
    /// The string as given.
    pub spec: String,
    /// What was wrong with it, and what is accepted.
    pub reason: String,
}

impl fmt::Display for SpecError {
    /// One printable line whatever the input: control characters in the
    /// spec (a newline pasted into an argument, found by tests/fuzz.rs) are
    /// shown escaped, e.g. `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("invalid {} '{}': {}", self.what, self.spec, self.reason);
        for c in text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// A spec split into its name and optional parameter.
pub(crate) struct Parts<'a> {
    pub what: &'static str,
    pub spec: &'a str,
    pub name: &'a str,
    pub param: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub fn split(what: &'static str, spec: &'a str) -> Result<Self, SpecError> {
        let s = spec.trim();
        if s.is_empty() {
            return Err(SpecError { what, spec: spec.into(), reason: "the spec is empty".into() });
        }
        let (name, param) = match s.split_once(':') {
            Some((n, p)) => (n.trim(), Some(p.trim())),
            None => (s, None),
        };
        Ok(Self { what, spec, name, param })
    }

    pub fn err(&self, reason: impl Into<String>) -> SpecError {
        SpecError { what: self.what, spec: self.spec.into(), reason: reason.into() }
    }

    /// The name takes no parameter.
    pub fn no_param(&self) -> Result<(), SpecError> {
        match self.param {
            None => Ok(()),
            Some(p) => Err(self.err(format!("'{}' takes no parameter, got ':{p}'", self.name))),
        }
    }

    /// A required finite numeric parameter that must satisfy `ok` (described by `range`).
    pub fn num(&self, symbol: &str, range: &str, ok: impl Fn(f64) -> bool) -> Result<f64, SpecError> {
        let Some(p) = self.param else {
            return Err(self.err(format!("'{}' needs a parameter {symbol} ({range}), e.g. '{}:{}'", self.name, self.name, example(range))));
        };
        self.parse_num(p, symbol, range, ok)
    }

    /// An optional numeric parameter.
    pub fn opt_num(&self, symbol: &str, range: &str, ok: impl Fn(f64) -> bool) -> Result<Option<f64>, SpecError> {
        match self.param {
            None => Ok(None),
            Some(p) => self.parse_num(p, symbol, range, ok).map(Some),
        }
    }

    fn parse_num(&self, p: &str, symbol: &str, range: &str, ok: impl Fn(f64) -> bool) -> Result<f64, SpecError> {
        let v: f64 = p
            .parse()
            .map_err(|_| self.err(format!("parameter {symbol} of '{}' must be a number, got '{p}'", self.name)))?;
        if !v.is_finite() || !ok(v) {
            return Err(self.err(format!("parameter {symbol} of '{}' must be {range}, got {p}", self.name)));
        }
        Ok(v)
    }
}

fn example(range: &str) -> &'static str {
    if range.contains('2') {
        "3"
    } else if range.contains('1') {
        "1.5"
    } else {
        "0.01"
    }
}

/// Formats an f64 parameter so that parsing it back gives the same value,
/// in the shorter of plain and scientific notation (`0.5`, `1e-3`).
pub(crate) fn fmt_param(x: f64) -> String {
    let plain = format!("{x}");
    let sci = format!("{x:e}");
    if sci.len() < plain.len() {
        sci
    } else {
        plain
    }
}
