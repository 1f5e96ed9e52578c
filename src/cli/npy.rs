//! Reading and writing NumPy `.npy` files: the arrays the CLI exchanges.
//!
//! The reader accepts format versions 1.0, 2.0 and 3.0, the float dtypes
//! `f4` and `f8` in either byte order (`<`, `>`, and `=`/`|`/none meaning
//! native), C order and Fortran order, and 1-D or 2-D shapes. Everything
//! else — integer, complex, object or structured dtypes, 0-d or 3-d arrays,
//! a header that does not parse, a file shorter or longer than its header
//! says — is an [`NpyError`] that names the file and what was wrong. The
//! file length is checked against the header *before* any allocation, so a
//! header claiming a huge shape costs nothing.
//!
//! The writer writes format 1.0, little-endian, C order, with the header
//! padded by spaces so that the data starts at a multiple of 64 bytes (as
//! NumPy does).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use dspgd::kernels::huge_pages::vec_with_capacity;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Bytes converted per chunk while reading the data.
const CHUNK: usize = 1 << 16;

/// The element type of an array on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

impl DType {
    /// `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
    fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// The elements of an array, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// float32 elements.
    F32(Vec<f32>),
    /// float64 elements.
    F64(Vec<f64>),
}

/// A 1-D or 2-D float array read from (or to be written to) a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// The shape: one or two dimensions.
    pub shape: Vec<usize>,
    /// The elements in C order (converted from Fortran order when needed).
    pub data: Data,
}

impl Array {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.data {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
        }
    }
    /// The shape as a 2-D (rows, columns) pair: a 1-D array of length n is n×1.
    pub fn dims2(&self) -> (usize, usize) {
        match self.shape[..] {
            [n] => (n, 1),
            [r, c] => (r, c),
            _ => unreachable!("Array holds only 1-D and 2-D shapes"),
        }
    }
}

/// Python-style rendering of a shape: `(3,)`, `(3, 4)`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// A `.npy` file that could not be read or written, naming the file.
#[derive(Debug)]
pub struct NpyError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong.
    pub msg: String,
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.msg)
    }
}

impl std::error::Error for NpyError {}

/// An error about `path`. The message is made one printable line: it can
/// quote header text, which a corrupt file may fill with newlines and other
/// control characters (found by tests/fuzz.rs); those are shown escaped.
fn err(path: &Path, msg: impl Into<String>) -> NpyError {
    let msg: String = msg.into();
    let msg = if msg.contains(char::is_control) {
        msg.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
    } else {
        msg
    };
    NpyError { path: path.to_path_buf(), msg }
}

/// At most `max` characters of `s` (header text quoted in a message: a
/// header can be up to 1 MiB long, a message should stay one short line).
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Byte order of the data on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    dtype: DType,
    endian: Endian,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Reads a 1-D or 2-D `f4`/`f8` array from `path`.
///
/// # Errors
/// An unreadable file, a malformed or unsupported header, or a data size
/// that does not match the header; the message names the file.
pub fn read(path: &Path) -> Result<Array, NpyError> {
    let file = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
    let meta = file.metadata().map_err(|e| err(path, format!("cannot read its metadata: {e}")))?;
    if meta.is_dir() {
        return Err(err(path, "is a directory, not a .npy file"));
    }
    read_from(BufReader::new(file), meta.len(), path)
}

/// Parses the bytes of a whole `.npy` file, exactly as [`read`] reads a
/// file; `name` is only used in error messages. This is the entry point of
/// the fuzz harness (`tests/fuzz.rs`).
///
/// # Errors
/// As [`read`]: a malformed or unsupported header, or a data size that
/// does not match the header.
#[cfg_attr(not(test), allow(dead_code))] // used by the unit tests and tests/fuzz.rs
pub fn parse(bytes: &[u8], name: &Path) -> Result<Array, NpyError> {
    read_from(bytes, bytes.len() as u64, name)
}

/// The reader proper, over `r` which holds exactly `len` bytes.
///
/// Memory: everything it allocates is bounded by a small multiple of `len`
/// (the header is read incrementally, the data size is checked against
/// `len` before the data vector is allocated), so a hostile header cannot
/// make it allocate more than the input justifies.
fn read_from(mut r: impl Read, len: u64, path: &Path) -> Result<Array, NpyError> {
    let (header, data_offset) = read_header(&mut r, path)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| err(path, format!("the shape {} in the header overflows", shape_str(&header.shape))))?;
    let needed = count
        .checked_mul(header.dtype.size())
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(|| err(path, format!("the shape {} in the header is too large", shape_str(&header.shape))))?;
    let available = len.saturating_sub(data_offset);
    if available < needed {
        return Err(err(
            path,
            format!(
                "truncated or corrupt: the header says shape {} of {} ({needed} bytes of data) but the file holds only {available} bytes after the header",
                shape_str(&header.shape),
                header.dtype.name()
            ),
        ));
    }
    if available > needed {
        return Err(err(
            path,
            format!(
                "corrupt: the header says shape {} of {} ({needed} bytes of data) but the file holds {available} bytes after the header",
                shape_str(&header.shape),
                header.dtype.name()
            ),
        ));
    }
    let data = match header.dtype {
        DType::F32 => Data::F32(read_elems(&mut r, path, count, header.endian, f32::from_le_bytes, f32::from_be_bytes, vec_with_capacity(count))?),
        DType::F64 => Data::F64(read_elems(&mut r, path, count, header.endian, f64::from_le_bytes, f64::from_be_bytes, vec_with_capacity(count))?),
    };
    let mut array = Array { shape: header.shape, data };
    if header.fortran_order && array.shape.len() == 2 {
        let (rows, cols) = array.dims2();
        array.data = match array.data {
            Data::F32(v) => Data::F32(fortran_to_c(&v, rows, cols)),
            Data::F64(v) => Data::F64(fortran_to_c(&v, rows, cols)),
        };
    }
    Ok(array)
}

/// The shape and dtype of the array in `path`, from its header alone.
///
/// # Errors
/// An unreadable file or a malformed or unsupported header; the message names the file.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by `--shard rows` (feature `mpi`)
pub fn read_shape(path: &Path) -> Result<(Vec<usize>, DType), NpyError> {
    let file = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
    let (header, _) = read_header(&mut BufReader::new(file), path)?;
    Ok((header.shape, header.dtype))
}

/// Reads only the rows `rows` of a 1-D or 2-D `f4`/`f8` array from `path`
/// (a 1-D array of length n counts as n rows of one element): the block a
/// rank of a row-sharded solve needs. The header is checked as by [`read`];
/// then the reader seeks to the block and reads nothing else: one
/// contiguous range in C order, one range per column in Fortran order. The
/// result is in C order, shape `(rows.len(), d)` (or `(rows.len(),)` for a
/// 1-D array).
///
/// # Errors
/// As [`read`], and a row range beyond the array's rows.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by `--shard rows` (feature `mpi`)
pub fn read_rows(path: &Path, rows: std::ops::Range<usize>) -> Result<Array, NpyError> {
    use std::io::{Seek, SeekFrom};
    let file = File::open(path).map_err(|e| err(path, format!("cannot open: {e}")))?;
    let meta = file.metadata().map_err(|e| err(path, format!("cannot read its metadata: {e}")))?;
    if meta.is_dir() {
        return Err(err(path, "is a directory, not a .npy file"));
    }
    let mut r = BufReader::new(file);
    let (header, data_offset) = read_header(&mut r, path)?;
    let size = header.dtype.size();
    let (n, cols) = match header.shape[..] {
        [n] => (n, 1),
        [n, c] => (n, c),
        _ => unreachable!("parse_header accepts 1-D and 2-D shapes only"),
    };
    let needed = n
        .checked_mul(cols)
        .and_then(|c| c.checked_mul(size))
        .and_then(|b| u64::try_from(b).ok())
        .ok_or_else(|| err(path, format!("the shape {} in the header is too large", shape_str(&header.shape))))?;
    let available = meta.len().saturating_sub(data_offset);
    if available != needed {
        return Err(err(
            path,
            format!(
                "{}: the header says shape {} of {} ({needed} bytes of data) but the file holds {available} bytes after the header",
                if available < needed { "truncated or corrupt" } else { "corrupt" },
                shape_str(&header.shape),
                header.dtype.name()
            ),
        ));
    }
    if rows.start > rows.end || rows.end > n {
        return Err(err(path, format!("rows {}..{} asked for, but the array has {n} rows (shape {})", rows.start, rows.end, shape_str(&header.shape))));
    }
    let m = rows.end - rows.start;
    let mut file = r.into_inner();
    let fortran = header.fortran_order && header.shape.len() == 2 && cols > 1;
    // (offset in elements, count) of each contiguous range to read, in file order.
    let ranges: Vec<(usize, usize)> = if fortran { (0..cols).map(|j| (j * n + rows.start, m)).collect() } else { vec![(rows.start * cols, m * cols)] };
    fn block<T: Copy + Default, const N: usize>(
        file: &mut File,
        path: &Path,
        data_offset: u64,
        ranges: &[(usize, usize)],
        endian: Endian,
        le: fn([u8; N]) -> T,
        be: fn([u8; N]) -> T,
    ) -> Result<Vec<T>, NpyError> {
        let mut out = vec_with_capacity(ranges.iter().map(|r| r.1).sum());
        for &(start, count) in ranges {
            file.seek(SeekFrom::Start(data_offset + (start * N) as u64)).map_err(|e| err(path, format!("cannot seek in the data: {e}")))?;
            out = read_elems(&mut BufReader::new(&mut *file), path, count, endian, le, be, out)?;
        }
        Ok(out)
    }
    let data = match header.dtype {
        DType::F32 => Data::F32(block(&mut file, path, data_offset, &ranges, header.endian, f32::from_le_bytes, f32::from_be_bytes)?),
        DType::F64 => Data::F64(block(&mut file, path, data_offset, &ranges, header.endian, f64::from_le_bytes, f64::from_be_bytes)?),
    };
    let data = if fortran {
        // The block was read column by column: m×cols in Fortran order.
        match data {
            Data::F32(v) => Data::F32(fortran_to_c(&v, m, cols)),
            Data::F64(v) => Data::F64(fortran_to_c(&v, m, cols)),
        }
    } else {
        data
    };
    let shape = if header.shape.len() == 1 { vec![m] } else { vec![m, cols] };
    Ok(Array { shape, data })
}

/// Reads `count` elements and appends them to `out` (allocated by the
/// caller, so that a large array asks for huge pages before it is written).
fn read_elems<T: Copy + Default, const N: usize>(
    r: &mut impl Read,
    path: &Path,
    count: usize,
    endian: Endian,
    le: fn([u8; N]) -> T,
    be: fn([u8; N]) -> T,
    mut out: Vec<T>,
) -> Result<Vec<T>, NpyError> {
    let conv = match endian {
        Endian::Little => le,
        Endian::Big => be,
    };
    // Never larger than the data itself: a 3-element file costs 24 bytes, not a whole chunk.
    let mut buf = vec![0u8; count.min(CHUNK) * N];
    let mut left = count;
    while left > 0 {
        let m = left.min(CHUNK);
        let bytes = &mut buf[..m * N];
        r.read_exact(bytes).map_err(|e| err(path, format!("cannot read the data: {e}")))?;
        out.extend(bytes.chunks_exact(N).map(|c| conv(c.try_into().expect("chunks_exact yields N bytes"))));
        left -= m;
    }
    Ok(out)
}

fn fortran_to_c<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    // No elements, nothing to reorder. Without this, a header claiming shape
    // (18446744073709551615, 0) in Fortran order made the loop below spin
    // over 2^64 empty rows (a hang found by tests/fuzz.rs).
    if v.is_empty() {
        return Vec::new();
    }
    let mut out = vec_with_capacity(v.len());
    for i in 0..rows {
        out.extend((0..cols).map(|j| v[i + j * rows]));
    }
    out
}

/// Reads the magic, version and header dictionary; returns the header and
/// the offset of the data.
fn read_header(r: &mut impl Read, path: &Path) -> Result<(Header, u64), NpyError> {
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(|_| err(path, "not a .npy file: shorter than the 8-byte preamble"))?;
    if &pre[..6] != MAGIC {
        return Err(err(path, "not a .npy file: the magic string \\x93NUMPY is missing"));
    }
    let (major, minor) = (pre[6], pre[7]);
    let (len_bytes, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => return Err(err(path, format!("unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"))),
    };
    let mut lb = [0u8; 4];
    r.read_exact(&mut lb[..len_bytes]).map_err(|_| err(path, "truncated: the header length is missing"))?;
    let header_len = u32::from_le_bytes(lb) as usize;
    if header_len > 1 << 20 {
        return Err(err(path, format!("corrupt header: it claims {header_len} bytes")));
    }
    // Read incrementally (not `vec![0; header_len]`): a short file claiming a
    // 1 MiB header costs what it holds, not what it claims.
    let mut hb = Vec::new();
    r.by_ref().take(header_len as u64).read_to_end(&mut hb).map_err(|e| err(path, format!("cannot read the header: {e}")))?;
    if hb.len() < header_len {
        return Err(err(path, format!("truncated: the header should be {header_len} bytes long")));
    }
    let text = if utf8 { String::from_utf8(hb).map_err(|_| err(path, "corrupt header: not valid UTF-8"))? } else { hb.iter().map(|&b| b as char).collect() };
    let header = parse_header(&text).map_err(|m| err(path, format!("{m} (header: {})", clip(text.trim(), 200))))?;
    Ok((header, (8 + len_bytes + header_len) as u64))
}

/// A value of the header dictionary.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
    Other(String),
}

/// Parses `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    p.ws();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        let value = p.value()?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("descr", v) => return Err(format!("unsupported dtype {}: only float32 and float64 arrays are supported", v.show())),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("fortran_order", v) => return Err(format!("corrupt header: 'fortran_order' must be True or False, got {}", v.show())),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("shape", v) => return Err(format!("corrupt header: 'shape' must be a tuple of integers, got {}", v.show())),
            _ => {} // unknown keys are ignored
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.ws();
        p.expect(b'}')?;
        break;
    }
    p.ws();
    if p.i != p.s.len() {
        return Err("corrupt header: text after the dictionary".into());
    }
    let descr = descr.ok_or("corrupt header: no 'descr' key")?;
    let fortran_order = fortran.ok_or("corrupt header: no 'fortran_order' key")?;
    let shape = shape.ok_or("corrupt header: no 'shape' key")?;
    let (dtype, endian) = parse_descr(&descr)?;
    match shape.len() {
        1 | 2 => {}
        0 => return Err("a 0-d (scalar) array is not supported: expected a 1-D or 2-D array".into()),
        n => return Err(format!("a {n}-d array of shape {} is not supported: expected a 1-D or 2-D array", shape_str(&shape))),
    }
    Ok(Header { dtype, endian, fortran_order, shape })
}

fn parse_descr(descr: &str) -> Result<(DType, Endian), String> {
    let (order, rest) = match descr.as_bytes().first() {
        Some(b'<') => (Some(Endian::Little), &descr[1..]),
        Some(b'>') => (Some(Endian::Big), &descr[1..]),
        Some(b'=') | Some(b'|') => (None, &descr[1..]),
        _ => (None, descr),
    };
    let native = if cfg!(target_endian = "big") { Endian::Big } else { Endian::Little };
    let endian = order.unwrap_or(native);
    let dtype = match rest {
        "f4" | "f" => DType::F32,
        "f8" | "d" => DType::F64,
        _ => {
            let kind = match rest.as_bytes().first() {
                Some(b'i') | Some(b'u') | Some(b'l') | Some(b'q') | Some(b'h') | Some(b'B') => "integer",
                Some(b'b') | Some(b'?') => "boolean",
                Some(b'c') => "complex",
                Some(b'f') | Some(b'e') | Some(b'g') => "float of an unsupported width",
                Some(b'O') => "Python object",
                Some(b'U') | Some(b'S') | Some(b'a') => "string",
                Some(b'V') => "void/structured",
                Some(b'M') | Some(b'm') => "datetime",
                _ => "unknown",
            };
            return Err(format!("unsupported dtype '{}' ({kind}): only float32 ('<f4', '>f4') and float64 ('<f8', '>f8') are supported", clip(descr, 40)));
        }
    };
    Ok((dtype, endian))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("corrupt header: expected '{}' at byte {}", c as char, self.i))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("corrupt header: expected a quoted string at byte {}", self.i)),
        };
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == q {
                let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(s);
            }
            self.i += 1;
        }
        Err("corrupt header: unterminated string".into())
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = vec![];
                loop {
                    self.ws();
                    if self.eat(b')') {
                        break;
                    }
                    let start = self.i;
                    while matches!(self.peek(), Some(b'0'..=b'9')) {
                        self.i += 1;
                    }
                    // Python 2 long literals: (3L, 4L).
                    let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
                    if digits.is_empty() {
                        return Err(format!("corrupt header: expected a non-negative integer in 'shape' at byte {}", self.i));
                    }
                    let v = digits.parse::<usize>().map_err(|_| format!("corrupt header: dimension {} is too large", clip(digits, 40)))?;
                    self.eat(b'L');
                    dims.push(v);
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    self.ws();
                    self.expect(b')')?;
                    break;
                }
                Ok(Value::Tuple(dims))
            }
            _ => {
                // A bare word (True/False) or an unsupported value (a list of
                // fields for a structured dtype, ...): skip to the next
                // top-level ',' or '}'.
                let start = self.i;
                let mut depth = 0i32;
                while let Some(c) = self.peek() {
                    match c {
                        b'[' | b'(' | b'{' => depth += 1,
                        b']' | b')' | b'}' if depth > 0 => depth -= 1,
                        b',' | b'}' if depth == 0 => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                let word = String::from_utf8_lossy(&self.s[start..self.i]).trim().to_string();
                Ok(match word.as_str() {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "" => return Err(format!("corrupt header: missing value at byte {start}")),
                    _ => Value::Other(word),
                })
            }
        }
    }
}

impl Value {
    fn show(&self) -> String {
        match self {
            Value::Str(s) => format!("'{}'", clip(s, 40)),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Tuple(t) => shape_str(t),
            Value::Other(o) => clip(o, 40),
        }
    }
}

/// Encodes an array as a version 1.0 `.npy` file: little-endian, C order,
/// the header padded with spaces to a multiple of 64 bytes.
pub fn encode(array: &Array) -> Vec<u8> {
    let descr = match array.data {
        Data::F32(_) => "<f4",
        Data::F64(_) => "<f8",
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}", shape_str(&array.shape));
    // magic (6) + version (2) + header length (2) + header, ending in '\n'.
    let total = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(' ', total.next_multiple_of(64) - total));
    header.push('\n');
    let len = u16::try_from(header.len()).expect("a 1-D or 2-D header is far below 64 KiB");
    let nbytes = match &array.data {
        Data::F32(v) => v.len() * 4,
        Data::F64(v) => v.len() * 8,
    };
    let mut out = Vec::with_capacity(10 + header.len() + nbytes);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &array.data {
        Data::F32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Data::F64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system temp dir, removed on drop (also
    /// when the test fails: the panic unwinds through the drop).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("dspgd-npy-unit-{}-{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A hand-made file: any version, descr, order, shape and raw data.
    fn raw(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let f = if fortran { "True" } else { "False" };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}");
        let pre = if version == 1 { 10 } else { 12 };
        while (pre + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn read_bytes(name: &str, bytes: &[u8]) -> Result<Array, NpyError> {
        parse(bytes, Path::new(name))
    }

    #[test]
    fn round_trip_f64_and_f32() {
        let a = Array { shape: vec![2, 3], data: Data::F64(vec![1.0, -2.5, 3.0, 4.0, 5.0, f64::MIN_POSITIVE]) };
        let bytes = encode(&a);
        assert_eq!((bytes.len() - 6 * 8) % 64, 0, "the data starts at a multiple of 64");
        assert_eq!(read_bytes("rt64.npy", &bytes).unwrap(), a);
        let b = Array { shape: vec![4], data: Data::F32(vec![1.0, 2.0, -0.5, 1e-30]) };
        let bytes = encode(&b);
        assert_eq!((bytes.len() - 4 * 4) % 64, 0);
        assert_eq!(read_bytes("rt32.npy", &bytes).unwrap(), b);
        let empty = Array { shape: vec![0, 3], data: Data::F64(vec![]) };
        assert_eq!(read_bytes("rt0.npy", &encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn header_matches_numpy() {
        let a = Array { shape: vec![3], data: Data::F64(vec![0.0; 3]) };
        let bytes = encode(&a);
        let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let h = std::str::from_utf8(&bytes[10..10 + hl]).unwrap();
        assert!(h.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"));
        assert!(h.ends_with('\n'));
        assert_eq!((10 + hl) % 64, 0);
    }

    #[test]
    fn both_orders_and_endiannesses() {
        // The 2x3 matrix [[1,2,3],[4,5,6]].
        let c: Vec<f64> = vec![1., 2., 3., 4., 5., 6.];
        let f: Vec<f64> = vec![1., 4., 2., 5., 3., 6.];
        let le = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let be = |v: &[f64]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let want = Array { shape: vec![2, 3], data: Data::F64(c.clone()) };
        for (i, (descr, fortran, data)) in
            [("<f8", false, le(&c)), ("<f8", true, le(&f)), (">f8", false, be(&c)), (">f8", true, be(&f)), ("=f8", false, le(&c))].into_iter().enumerate()
        {
            if descr == "=f8" && cfg!(target_endian = "big") {
                continue;
            }
            for version in [1, 2, 3] {
                let got = read_bytes(&format!("o{i}v{version}.npy"), &raw(version, descr, fortran, "(2, 3)", &data)).unwrap();
                assert_eq!(got, want, "{descr} fortran={fortran} v{version}");
            }
        }
        let c32: Vec<f32> = vec![1., 2., 3., 4., 5., 6.];
        let f32be: Vec<u8> = [1f32, 4., 2., 5., 3., 6.].iter().flat_map(|x| x.to_be_bytes()).collect();
        let got = read_bytes("f32be.npy", &raw(1, ">f4", true, "(2, 3)", &f32be)).unwrap();
        assert_eq!(got, Array { shape: vec![2, 3], data: Data::F32(c32) });
    }

    #[test]
    fn rejects_bad_files_with_the_file_name() {
        let d8 = [0u8; 48];
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("int.npy", raw(1, "<i8", false, "(2, 3)", &d8), "integer"),
            ("complex.npy", raw(1, "<c16", false, "(3,)", &d8), "complex"),
            ("object.npy", raw(1, "|O", false, "(3,)", &d8[..24]), "object"),
            ("half.npy", raw(1, "<f2", false, "(3,)", &d8[..6]), "f2"),
            ("scalar.npy", raw(1, "<f8", false, "()", &d8[..8]), "0-d"),
            ("three.npy", raw(1, "<f8", false, "(1, 2, 3)", &d8), "3-d"),
            ("short.npy", raw(1, "<f8", false, "(2, 3)", &d8[..40]), "truncated"),
            ("long.npy", raw(1, "<f8", false, "(2, 2)", &d8), "corrupt"),
            ("huge.npy", raw(1, "<f8", false, "(100000000, 100000)", &d8), "truncated"),
            ("overflow.npy", raw(1, "<f8", false, "(18446744073709551615, 3)", &d8), "overflows"),
            ("toolarge.npy", raw(1, "<f8", false, "(99999999999999999999999, 3)", &d8), "too large"),
            ("magic.npy", b"PK\x03\x04 a zip file".to_vec(), "magic"),
            ("tiny.npy", b"\x93NUM".to_vec(), "preamble"),
            ("version.npy", raw(9, "<f8", false, "(2, 3)", &d8), "version"),
            (
                "nodict.npy",
                {
                    let mut v = raw(1, "<f8", false, "(2, 3)", &d8);
                    v[10] = b'[';
                    v
                },
                "corrupt header",
            ),
            (
                "struct.npy",
                {
                    let h = "{'descr': [('a', '<f8'), ('b', '<f8')], 'fortran_order': False, 'shape': (3,), }\n";
                    let mut v = MAGIC.to_vec();
                    v.extend_from_slice(&[1, 0]);
                    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
                    v.extend_from_slice(h.as_bytes());
                    v.extend_from_slice(&d8);
                    v
                },
                "unsupported dtype",
            ),
            ("cut_header.npy", raw(1, "<f8", false, "(2, 3)", &[])[..30].to_vec(), "truncated"),
        ];
        for (name, bytes, needle) in cases {
            let e = read_bytes(name, &bytes).expect_err(name);
            let msg = e.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(msg.contains(needle), "{name}: '{msg}' should mention '{needle}'");
        }
    }

    #[test]
    fn empty_arrays_of_any_claimed_size_are_instant() {
        // Fortran order and a huge zero-element shape once hung the reader.
        for (shape, want) in [("(18446744073709551615, 0)", vec![usize::MAX, 0]), ("(0, 18446744073709551615)", vec![0, usize::MAX])] {
            for fortran in [true, false] {
                let a = read_bytes("empty.npy", &raw(1, "<f8", fortran, shape, &[])).unwrap();
                assert_eq!((a.shape.clone(), a.data), (want.clone(), Data::F64(vec![])), "{shape} fortran={fortran}");
            }
        }
    }

    #[test]
    fn read_from_a_file_matches_parse_and_names_the_file() {
        let dir = TempDir::new("files");
        let a = Array { shape: vec![3, 2], data: Data::F32(vec![1.0, -2.0, 3.5, 0.0, -0.0, 7.0]) };
        let bytes = encode(&a);
        let p = dir.0.join("a.npy");
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(read(&p).unwrap(), parse(&bytes, &p).unwrap());
        let cut = dir.0.join("cut.npy");
        std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(read(&cut).unwrap_err().to_string(), parse(&bytes[..bytes.len() - 3], &cut).unwrap_err().to_string());
        let missing = read(&dir.0.join("does-not-exist.npy")).unwrap_err().to_string();
        assert!(missing.contains("does-not-exist.npy") && missing.contains("cannot open"), "{missing}");
        let folder = read(&dir.0).unwrap_err().to_string();
        assert!(folder.contains("is a directory"), "{folder}");
    }
}
