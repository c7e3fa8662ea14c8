//! Freed memory kept for the next step.
//!
//! A step frees and allocates the same large buffers again (a convolution's activations are
//! megabytes). glibc hands blocks above its mmap threshold back to the kernel when they are
//! freed, so every step then pays page faults, zeroing and TLB shootdowns on every core for
//! memory it just gave back. Raising the threshold and the trim limit keeps such blocks in
//! the heap, where the next step reuses them.
//!
//! That holds for the main heap only. A thread that allocates while another holds the main
//! heap's lock gets an arena of its own, made of 64 MiB mappings that glibc unmaps as soon as
//! one is wholly free, whatever the trim limit: the convolutional model's gradients then
//! faulted in 1.6 million pages an epoch, on some runs and not others (as the threads happened
//! to meet), and its epoch took 10 s instead of 6. One arena for all threads keeps every block
//! in the main heap; the step's few hundred large allocations do not contend for its lock.

/// Keeps freed blocks up to 32 MiB in the heap, and every thread's blocks in the main heap
/// (glibc on Linux; elsewhere nothing to do). Call it before threads start: a thread keeps
/// the arena it first allocated from.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; all values are within glibc's limits.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
