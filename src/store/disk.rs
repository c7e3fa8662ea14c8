//! Free space on the file system that holds a folder: checked before a dataset is written, so
//! that a spec asking for more than fits stops at once with the figures instead of filling
//! the disk.

use std::path::Path;

/// Bytes an unprivileged process may still write on the file system of `dir`, or None where
/// it cannot be told.
#[cfg(unix)]
pub fn available_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes only into the struct we pass; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    (st.f_bavail as u64).checked_mul(st.f_frsize as u64)
}

/// Bytes an unprivileged process may still write: not told off Unix.
#[cfg(not(unix))]
pub fn available_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn the_temporary_folder_has_some_space_and_a_missing_one_none() {
        let free = super::available_bytes(&std::env::temp_dir()).expect("statvfs answers");
        assert!(free > 0);
        assert_eq!(super::available_bytes(std::path::Path::new("/no/such/folder/here")), None);
    }
}
