//! What a Parquet file claims about itself, checked before the reader believes it.
//!
//! The reader sizes its buffers by the counts in the footer and in each page header before it
//! decodes a value; a flipped bit there (a negative count read as a huge one) asks for terabytes,
//! and a failed allocation aborts the process instead of returning an error. So every count is
//! held against what a file of this size can hold first.

use polars_parquet::parquet::metadata::FileMetadata;
use polars_parquet_format::thrift::protocol::TCompactInputProtocol;
use polars_parquet_format::PageHeader;

/// The most values (or rows) a file of `len` bytes is believed to hold: float columns compress
/// far less than 1024 values per byte.
fn most_values(len: usize) -> usize {
    len.saturating_mul(1024).max(1 << 16)
}

/// Checks the row counts of the footer and every page header of every column chunk.
pub fn check(bytes: &[u8], meta: &FileMetadata) -> Result<(), String> {
    let most = most_values(bytes.len());
    let claimed = meta.row_groups.iter().map(|g| g.num_rows()).chain([meta.num_rows, meta.max_row_group_height]).max().unwrap_or(0);
    if claimed > most {
        return Err(format!("claims {claimed} rows, more than a file of its size can hold; it is corrupt"));
    }
    for (g, group) in meta.row_groups.iter().enumerate() {
        for column in group.parquet_columns() {
            // A flat column has one value per row; a nested one is only bounded by the file.
            let limit = if column.descriptor().descriptor.max_rep_level == 0 { group.num_rows() } else { most };
            let range = column.byte_range();
            let name = column.descriptor().path_in_schema.join(".");
            check_chunk(bytes, range.start, range.end, column.num_values(), limit, most)
                .map_err(|e| format!("row group {g}, column `{name}`: {e}; it is corrupt"))?;
        }
    }
    Ok(())
}

/// Walks the pages of one column chunk (bytes `start..end`) until they hold `total` values.
fn check_chunk(bytes: &[u8], start: u64, end: u64, total: i64, limit: usize, most: usize) -> Result<(), String> {
    let (start, end) = (usize::try_from(start).unwrap_or(usize::MAX), usize::try_from(end).unwrap_or(usize::MAX));
    if start > end || end > bytes.len() {
        return Err(format!("its pages lie at bytes {start}..{end} of a file of {}", bytes.len()));
    }
    let total = usize::try_from(total).map_err(|_| format!("claims {total} values"))?;
    if total > limit {
        return Err(format!("claims {total} values in a row group of {limit} rows"));
    }
    let (mut pos, mut seen) = (start, 0usize);
    while seen < total {
        let mut rest = &bytes[pos..end];
        let before = rest.len();
        let header = PageHeader::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut rest, before))
            .map_err(|e| format!("a page header at byte {pos} cannot be read ({e})"))?;
        let body = usize::try_from(header.compressed_page_size).map_err(|_| "a page of negative size".to_string())?;
        pos += before - rest.len();
        if body > end - pos {
            return Err(format!("a page of {body} bytes at byte {pos} runs past its column's end"));
        }
        pos += body;
        let values = page_values(&header, body, limit, most)?;
        seen = seen.saturating_add(values);
    }
    Ok(())
}

/// The values one page holds (none for a dictionary page), each count it claims checked.
fn page_values(header: &PageHeader, body: usize, limit: usize, most: usize) -> Result<usize, String> {
    let count = |what: &str, n: i32, bound: usize| match usize::try_from(n) {
        Ok(n) if n <= bound => Ok(n),
        _ => Err(format!("a page claims {n} {what} (at most {bound} fit)")),
    };
    count("bytes uncompressed", header.uncompressed_page_size, most)?;
    if let Some(d) = &header.dictionary_page_header {
        count("dictionary entries", d.num_values, most)?;
    }
    if let Some(d) = &header.data_page_header {
        return count("values", d.num_values, limit);
    }
    if let Some(d) = &header.data_page_header_v2 {
        count("rows", d.num_rows, limit)?;
        count("nulls", d.num_nulls, limit)?;
        count("bytes of definition levels", d.definition_levels_byte_length, body)?;
        count("bytes of repetition levels", d.repetition_levels_byte_length, body)?;
        return count("values", d.num_values, limit);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars_parquet_format::thrift::protocol::TCompactOutputProtocol;

    /// A samples file whose first data page header (after the dictionary page) is rewritten by
    /// `edit`, kept the same length so the footer's offsets still hold.
    fn with_data_page(tag: &str, edit: impl Fn(&mut PageHeader)) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("ndelab-parquet-check-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.parquet");
        // What `sample` writes for one observation of 4 draws of (a, b).
        let mut df = polars::prelude::df!("observation" => [0u32; 4], "a" => [0.5f64; 4], "b" => [0.5f64; 4]).unwrap();
        polars::prelude::ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let meta = polars_parquet::parquet::read::read_metadata(&mut std::io::Cursor::new(&bytes)).unwrap();
        let mut start = meta.row_groups[0].parquet_columns()[0].byte_range().start as usize;
        let (mut header, mut old_len);
        loop {
            let mut rest = &bytes[start..];
            header = PageHeader::read_from_in_protocol(&mut TCompactInputProtocol::new(&mut rest, usize::MAX)).unwrap();
            old_len = bytes.len() - start - rest.len();
            if header.dictionary_page_header.is_none() {
                break;
            }
            start += old_len + header.compressed_page_size as usize;
        }
        edit(&mut header);
        let mut new = Vec::new();
        header.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut new)).unwrap();
        assert_eq!(new.len(), old_len, "the edited header must keep its length");
        [&bytes[..start], &new, &bytes[start + old_len..]].concat()
    }

    fn read(tag: &str, bytes: Vec<u8>) -> Result<usize, String> {
        let dir = std::env::temp_dir().join(format!("ndelab-parquet-read-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.parquet");
        std::fs::write(&path, bytes).unwrap();
        let out = crate::store::parquet::read_frame(std::fs::File::open(&path).unwrap()).map(|df| df.height());
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn untouched_file_reads() {
        assert_eq!(read("u", with_data_page("u", |_| {})), Ok(4));
    }

    /// A negative count is read by the reader as a huge one and allocated before any
    /// decoding: the process aborted.
    #[test]
    fn negative_page_count_is_refused_not_allocated() {
        let bytes = with_data_page("n", |h| h.data_page_header.as_mut().unwrap().num_values = -1);
        assert_eq!(
            read("n", bytes),
            Err("row group 0, column `observation`: a page claims -1 values (at most 4 fit); it is corrupt".into())
        );
    }

    #[test]
    fn page_past_its_column_is_refused() {
        let bytes = with_data_page("p", |h| h.compressed_page_size += 1);
        let err = read("p", bytes).unwrap_err();
        assert!(
            err.starts_with("row group 0, column `observation`: a page of ") && err.ends_with("runs past its column's end; it is corrupt"),
            "{err}"
        );
    }
}
