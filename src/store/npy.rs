//! `.npy` files (NumPy's format, version 1.0) of little-endian f32 matrices.
//!
//! Written row block by row block so that a large dataset never has to sit in memory twice;
//! read back whole or checked for shape. `numpy.load` reads them.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

fn header(rows: usize, cols: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic(6) + version(2) + len(2) + dict + padding + '\n' is a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let mut h = Vec::with_capacity(unpadded + pad);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[1, 0]);
    h.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    h
}

/// Writes a `rows × cols` f32 matrix in row blocks.
pub struct NpyWriter {
    out: BufWriter<File>,
    cols: usize,
    remaining: usize,
}

impl NpyWriter {
    /// Creates `path` and writes the header of a `rows × cols` matrix.
    pub fn create(path: &Path, rows: usize, cols: usize) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(&header(rows, cols))?;
        Ok(NpyWriter { out, cols, remaining: rows * cols })
    }

    /// Appends whole rows (row-major).
    pub fn write_rows(&mut self, values: &[f32]) -> io::Result<()> {
        assert!(values.len() % self.cols.max(1) == 0 && values.len() <= self.remaining, "npy: wrong number of values");
        let mut buf = Vec::with_capacity(values.len() * 4);
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        self.out.write_all(&buf)?;
        self.remaining -= values.len();
        Ok(())
    }

    /// Flushes and syncs; fails if fewer rows were written than the header promised.
    pub fn finish(self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::other(format!("npy: {} values missing", self.remaining)));
        }
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Writes a whole matrix.
pub fn write(path: &Path, rows: usize, cols: usize, values: &[f32]) -> io::Result<()> {
    let mut w = NpyWriter::create(path, rows, cols)?;
    w.write_rows(values)?;
    w.finish()
}

/// Whether a header declares float64 values.
fn is_f64(path: &Path) -> io::Result<bool> {
    let mut r = BufReader::new(File::open(path)?);
    let mut pre = [0u8; 10];
    r.read_exact(&mut pre)?;
    let len = u16::from_le_bytes([pre[8], pre[9]]) as usize;
    let mut dict = vec![0u8; len];
    r.read_exact(&mut dict)?;
    Ok(String::from_utf8_lossy(&dict).contains("'<f8'"))
}

fn parse_header(r: &mut impl Read) -> io::Result<(usize, usize, usize)> {
    let mut pre = [0u8; 10];
    r.read_exact(&mut pre)?;
    if &pre[..6] != MAGIC || pre[6] != 1 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a version-1 .npy file"));
    }
    let len = u16::from_le_bytes([pre[8], pre[9]]) as usize;
    let mut dict = vec![0u8; len];
    r.read_exact(&mut dict)?;
    let dict = String::from_utf8_lossy(&dict);
    if !(dict.contains("'descr': '<f4'") || dict.contains("'descr': '<f8'")) || !dict.contains("'fortran_order': False") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected a C-ordered float32 or float64 array, header is {}", dict.trim()),
        ));
    }
    let shape = dict
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "npy header has no shape"))?;
    let dims: Vec<usize> = shape.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(usize::MAX)).collect();
    let (rows, cols) = match dims.as_slice() {
        [n] => (*n, 1),
        [n, m] => (*n, *m),
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("expected a 1-D or 2-D array, shape is ({shape})"))),
    };
    if rows == usize::MAX || cols == usize::MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad shape ({shape})")));
    }
    Ok((rows, cols, 10 + len))
}

#[cfg(not(target_endian = "little"))]
compile_error!("ndelab maps little-endian .npy files into memory and needs a little-endian machine");

/// Where a matrix's values live.
enum Storage {
    Owned(Vec<f32>),
    /// A read-only memory map of the file; values start at `offset` (a multiple of 64).
    Mapped {
        map: memmap2::Mmap,
        offset: usize,
        len: usize,
    },
}

/// A row-major f32 matrix, in memory or mapped from an `.npy` file (so that a 1 GB training set
/// costs page cache, not heap, and is read only where batches touch it).
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    storage: Storage,
}

impl Matrix {
    /// A matrix that owns its values.
    pub fn from_vec(rows: usize, cols: usize, values: Vec<f32>) -> Matrix {
        assert_eq!(values.len(), rows * cols, "matrix size");
        Matrix { rows, cols, storage: Storage::Owned(values) }
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        match &self.storage {
            Storage::Owned(v) => v,
            Storage::Mapped { map, offset, len } => {
                let bytes = &map[*offset..*offset + len * 4];
                // SAFETY: the map is page-aligned and the offset a multiple of 4 (checked where mapped), so the
                // data are 4-byte aligned; f32 has no invalid bit patterns; the machine is little-endian.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), *len) }
            }
        }
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values()[i * self.cols..(i + 1) * self.cols]
    }

    /// Whether the values are mapped from a file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// Bytes of the values.
    pub fn bytes(&self) -> usize {
        self.rows.saturating_mul(self.cols).saturating_mul(4)
    }

    /// Tells the kernel how a mapped matrix will be read: rows in random order (`random`:
    /// read-ahead off, or a row read from a file larger than memory pulls in 128 KiB around
    /// it), or all of it soon (read ahead now). A hint: nothing changes but speed.
    pub fn advise(&self, random: bool) {
        if let Storage::Mapped { map, .. } = &self.storage {
            let advice = if random { memmap2::Advice::Random } else { memmap2::Advice::WillNeed };
            let _ = map.advise(advice);
        }
    }
}

impl Clone for Matrix {
    fn clone(&self) -> Matrix {
        Matrix::from_vec(self.rows, self.cols, self.values().to_vec())
    }
}

impl PartialEq for Matrix {
    fn eq(&self, other: &Matrix) -> bool {
        self.rows == other.rows && self.cols == other.cols && self.values() == other.values()
    }
}

impl std::fmt::Debug for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Matrix {}×{}{}", self.rows, self.cols, if self.is_mapped() { " (mapped)" } else { "" })
    }
}

/// Bytes a `rows × cols` array of `width`-byte values takes after a `header_len`-byte header,
/// or why a header's shape cannot describe a file of `size` bytes (checked arithmetic: a hostile
/// header must not make a slice longer than the file).
fn expected_size(rows: usize, cols: usize, width: usize, header_len: usize, size: usize) -> io::Result<usize> {
    let kind = if width == 8 { "float64" } else { "float32" };
    let want = rows.checked_mul(cols).and_then(|n| n.checked_mul(width)).and_then(|b| b.checked_add(header_len));
    match want {
        Some(w) if w == size => Ok(w),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("truncated or corrupt: the header claims a {rows}×{cols} {kind} array, the file holds {size} bytes"),
        )),
    }
}

/// Reads a whole `.npy` held in memory (a member of an `.npz`), float32 or float64.
pub fn from_bytes(bytes: &[u8]) -> io::Result<Matrix> {
    let (rows, cols, header_len) = parse_header(&mut &bytes[..])?;
    let f64s = String::from_utf8_lossy(&bytes[10..header_len.min(bytes.len())]).contains("'<f8'");
    let width = if f64s { 8 } else { 4 };
    expected_size(rows, cols, width, header_len, bytes.len())?;
    let body = &bytes[header_len..];
    let values = if f64s {
        body.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32).collect()
    } else {
        body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    Ok(Matrix::from_vec(rows, cols, values))
}

/// Opens an f32 matrix as a read-only memory map, checking that the file holds exactly the
/// bytes its header promises.
pub fn read(path: &Path) -> io::Result<Matrix> {
    let file = File::open(path)?;
    let size = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let (rows, cols, header_len) = parse_header(&mut BufReader::new(&file))?;
    if is_f64(path)? {
        // float64 files (from numpy's defaults) are read and narrowed to f32.
        expected_size(rows, cols, 8, header_len, size)?;
        return from_bytes(&std::fs::read(path)?);
    }
    expected_size(rows, cols, 4, header_len, size)?;
    match map_region(&file, header_len, rows, cols)? {
        Some(m) => Ok(m),
        None => from_bytes(&std::fs::read(path)?),
    }
}

/// Maps `rows × cols` little-endian f32 values that start `offset` bytes into `file` (an
/// uncompressed array inside another format, e.g. a contiguous HDF5 dataset), or None when the
/// values are not 4-byte aligned there; an error when the file is too short to hold them.
pub fn map_region(file: &File, offset: usize, rows: usize, cols: usize) -> io::Result<Option<Matrix>> {
    let size = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let end = rows.checked_mul(cols).and_then(|n| n.checked_mul(4)).and_then(|b| b.checked_add(offset));
    if end.is_none_or(|e| e > size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("truncated or corrupt: a {rows}×{cols} float32 array at byte {offset} runs past the file's {size} bytes"),
        ));
    }
    if !offset.is_multiple_of(4) {
        return Ok(None);
    }
    // SAFETY: cache entries are never modified after DONE, and files brought by the user are
    // hashed for the key, not changed while read; a concurrent writer would be a bug elsewhere.
    let map = unsafe { memmap2::Mmap::map(file)? };
    Ok(Some(Matrix { rows, cols, storage: Storage::Mapped { map, offset, len: rows * cols } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An array inside another file is mapped where it lies when 4-byte aligned, left to the
    /// caller to read otherwise, and refused when the file is too short to hold it.
    #[test]
    fn regions_inside_other_files() {
        let dir = std::env::temp_dir().join(format!("ndelab-npy-region-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("blob");
        let vals: Vec<f32> = (0..6).map(|i| i as f32 + 0.5).collect();
        let mut bytes = vec![7u8; 16];
        bytes.extend(vals.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&p, &bytes).unwrap();
        let file = File::open(&p).unwrap();
        let m = map_region(&file, 16, 2, 3).unwrap().unwrap();
        assert!(m.is_mapped());
        assert_eq!(m, Matrix::from_vec(2, 3, vals));
        assert!(map_region(&file, 14, 2, 3).unwrap().is_none());
        assert_eq!(
            map_region(&file, 16, 3, 3).unwrap_err().to_string(),
            "truncated or corrupt: a 3×3 float32 array at byte 16 runs past the file's 40 bytes"
        );
        assert!(map_region(&file, 16, usize::MAX, 3).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn round_trips_and_pads_the_header() {
        let dir = std::env::temp_dir().join(format!("ndelab-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let vals: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        write(&p, 4, 3, &vals).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 48) % 64, 0);
        let m = read(&p).unwrap();
        assert!(m.is_mapped());
        assert_eq!(m, Matrix::from_vec(4, 3, vals));
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        assert_eq!(
            read(&p).unwrap_err().to_string(),
            "truncated or corrupt: the header claims a 4×3 float32 array, the file holds 172 bytes"
        );
        // A hostile header whose shape overflows usize over 24 payload bytes: an error, not a panic.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (461168601842738791, 10), }";
        let mut hostile = b"\x93NUMPY\x01\x00".to_vec();
        let padded = format!("{header}{}\n", " ".repeat(63 - (10 + header.len()) % 64));
        hostile.extend((padded.len() as u16).to_le_bytes());
        hostile.extend(padded.as_bytes());
        hostile.extend([0u8; 24]);
        std::fs::write(&p, &hostile).unwrap();
        let size = hostile.len();
        assert_eq!(
            read(&p).unwrap_err().to_string(),
            format!("truncated or corrupt: the header claims a 461168601842738791×10 float32 array, the file holds {size} bytes")
        );
        assert!(from_bytes(&hostile).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
