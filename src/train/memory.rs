//! Freed memory kept for the next step.
//!
//! A step frees and allocates the same large buffers again (a convolution's activations are
//! megabytes). glibc hands blocks above its mmap threshold back to the kernel when they are
//! freed, so every step then pays page faults, zeroing and TLB shootdowns on every core for
//! memory it just gave back. Raising the threshold and the trim limit keeps such blocks in
//! the heap, where the next step reuses them.

/// Keeps freed blocks up to 32 MiB in the heap (glibc on Linux; elsewhere nothing to do).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; both values are within glibc's limits.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
