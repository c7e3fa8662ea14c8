//! HDF5 datasets for the `files` simulator (cargo feature `hdf5`, which links the system's
//! libhdf5).
//!
//! A dataset is named by its path in the file (`array: y_data` or `array: train/theta`); with no
//! name, the file's only dataset is read. Its first axis is the sample; the others are flattened
//! into a row (a VItamin `(N, detectors, samples)` array gives rows of detectors × samples,
//! channel-major, as `data_channels` expects). A contiguous, uncompressed little-endian float32
//! dataset is memory-mapped where it lies in the file, so it may be far larger than memory;
//! chunked or compressed ones, and other number types, are read whole and converted to float32
//! (`h5repack -l CONTI` makes a dataset contiguous).

use crate::store::npy::{self, Matrix};
use hdf5_metno as h5;
use std::path::Path;

/// Reads dataset `name` (or the only one) of the HDF5 file at `path` as a float32 matrix.
pub fn read(path: &Path, name: Option<&str>) -> Result<Matrix, String> {
    let file = h5::File::open(path).map_err(|e| format!("not a readable HDF5 file ({e})"))?;
    let names = dataset_names(&file.as_group().map_err(|e| e.to_string())?, "");
    let name = match (name, names.as_slice()) {
        (Some(n), _) => n.trim_start_matches('/').to_string(),
        (None, [only]) => only.clone(),
        (None, _) => return Err(format!("holds {} datasets ({}); name one with `array:`", names.len(), names.join(", "))),
    };
    let ds = file.dataset(&name).map_err(|_| format!("has no dataset `{name}` (datasets: {})", names.join(", ")))?;
    let shape = ds.shape();
    let rows = shape.first().copied().unwrap_or(1);
    let cols = shape
        .iter()
        .skip(1)
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("dataset `{name}`: shape {shape:?} too large"))?;
    let dtype = ds.dtype().map_err(|e| format!("dataset `{name}`: {e}"))?;
    let numeric = matches!(
        dtype.to_descriptor(),
        Ok(h5::types::TypeDescriptor::Float(_) | h5::types::TypeDescriptor::Integer(_) | h5::types::TypeDescriptor::Unsigned(_))
    );
    if !numeric {
        return Err(format!("dataset `{name}` does not hold numbers"));
    }
    let plain_f32 = matches!(dtype.to_descriptor(), Ok(h5::types::TypeDescriptor::Float(h5::types::FloatSize::U4)))
        && dtype.byte_order() == h5::datatype::ByteOrder::LittleEndian;
    if let (true, Some(offset), true) = (plain_f32, ds.offset(), ds.filters().is_empty()) {
        let offset = usize::try_from(offset).map_err(|_| format!("dataset `{name}`: offset {offset} past any file"))?;
        let raw = std::fs::File::open(path).map_err(|e| e.to_string())?;
        if let Some(m) = npy::map_region(&raw, offset, rows, cols).map_err(|e| format!("dataset `{name}`: {e}"))? {
            return Ok(m);
        }
    }
    // A hostile file can claim any shape; the library allocates it before reading. Compressed
    // data are bounded as Parquet's are: far less than 1024 values per byte of file.
    let file_len = std::fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0);
    let most = file_len.saturating_mul(1024).max(1 << 16);
    if rows.saturating_mul(cols) > most {
        return Err(format!("dataset `{name}` claims {rows}×{cols} values, more than a file of {file_len} bytes can hold; it is corrupt"));
    }
    let values: Vec<f32> = ds.read_raw::<f32>().map_err(|e| format!("dataset `{name}` cannot be read as float32 ({e})"))?;
    if values.len() != rows.saturating_mul(cols) {
        return Err(format!("dataset `{name}`: read {} values, its shape {shape:?} holds {}", values.len(), rows.saturating_mul(cols)));
    }
    Ok(Matrix::from_vec(rows, cols, values))
}

/// Paths of every dataset under `group`, depth first, in name order, at most `DEPTH` groups
/// down (links can make a group its own descendant).
fn dataset_names(group: &h5::Group, prefix: &str) -> Vec<String> {
    const DEPTH: usize = 16;
    let mut out = Vec::new();
    for member in group.member_names().unwrap_or_default() {
        let path = format!("{prefix}{member}");
        if group.dataset(&member).is_ok() {
            out.push(path);
        } else if let Ok(g) = group.group(&member) {
            if prefix.matches('/').count() < DEPTH {
                out.extend(dataset_names(&g, &format!("{path}/")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ndelab-hdf5-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A contiguous float32 array is mapped from the file; a chunked, deflated float64 one is
    /// read whole and narrowed; trailing axes are flattened into the row.
    #[test]
    fn contiguous_float32_is_mapped_and_others_are_read() {
        let d = dir("layouts");
        let path = d.join("set.h5");
        let values: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 2.0).collect();
        let f = h5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((4, 2, 3)).create("y").unwrap().write_raw(&values).unwrap();
        let wide: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        f.create_group("g")
            .unwrap()
            .new_dataset::<f64>()
            .shape((8, 3))
            .chunk((2, 3))
            .deflate(3)
            .create("x")
            .unwrap()
            .write_raw(&wide)
            .unwrap();
        drop(f);
        let y = read(&path, Some("y")).unwrap();
        assert!(y.is_mapped());
        assert_eq!(y, Matrix::from_vec(4, 6, values.clone()));
        let x = read(&path, Some("/g/x")).unwrap();
        assert!(!x.is_mapped());
        assert_eq!(x, Matrix::from_vec(8, 3, values));
        assert_eq!(read(&path, None).unwrap_err(), "holds 2 datasets (g/x, y); name one with `array:`");
        assert_eq!(read(&path, Some("theta")).unwrap_err(), "has no dataset `theta` (datasets: g/x, y)");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A group linked into itself is listed to a bounded depth, not followed forever.
    #[test]
    fn a_group_linked_into_itself_is_listed_to_a_bounded_depth() {
        let d = dir("cycle");
        let path = d.join("set.h5");
        let f = h5::File::create(&path).unwrap();
        let g = f.create_group("g").unwrap();
        g.new_dataset::<f32>().shape((2, 1)).create("x").unwrap().write_raw(&[1.0f32, 2.0]).unwrap();
        g.link_hard("/g", "again").unwrap();
        drop((g, f));
        let err = read(&path, None).unwrap_err();
        assert!(err.starts_with("holds 16 datasets (g/again/again/") && err.contains(", g/again/x, g/x);"), "{err}");
        assert_eq!(read(&path, Some("g/x")).unwrap(), Matrix::from_vec(2, 1, vec![1.0, 2.0]));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A file cut short inside a mapped dataset, and a file that is not HDF5: errors, no panic.
    #[test]
    fn truncated_and_foreign_files_are_refused() {
        let d = dir("bad");
        let path = d.join("set.h5");
        let f = h5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((100, 4)).create("y").unwrap().write_raw(&[1.5f32; 400]).unwrap();
        drop(f);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 800]).unwrap();
        let err = read(&path, None).unwrap_err();
        assert!(err.starts_with("not a readable HDF5 file") || err.contains("runs past the file's"), "{err}");
        // A chunked dataset never written claims any shape in a file of a few kB.
        let f = h5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((1_000_000_000, 1000)).chunk((1000, 1000)).create("huge").unwrap();
        drop(f);
        let err = read(&path, None).unwrap_err();
        assert!(err.starts_with("dataset `huge` claims 1000000000×1000 values, more than a file of "), "{err}");
        std::fs::write(&path, b"theta,x\n1,2\n").unwrap();
        assert!(read(&path, None).unwrap_err().starts_with("not a readable HDF5 file ("));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
