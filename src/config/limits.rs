//! The sizes a spec may ask for: fixed caps that keep every product of sizes far from
//! overflow, and the memory of this machine (or of its cgroup: a Slurm job's `--mem`, a
//! container's), which decides what is refused and how files are read, never what is computed.

/// The most values one data row may hold (all channels together).
pub const MAX_DATA_VALUES: usize = 1 << 20;

/// The most parameters a simulator may have.
pub const MAX_PARAMETERS: usize = 1024;

/// The most samples a dataset may hold (its three splits together).
pub const MAX_SAMPLES: usize = 1 << 40;

/// The widest layer ndelab builds: far above any posterior network, and small enough that
/// the products of two widths cannot overflow.
pub const MAX_WIDTH: usize = 1 << 20;

/// The longest name: a folder name, with room for the hidden `.NAME.tmp-PID` beside it, within
/// the 255 bytes file systems allow.
pub const MAX_NAME: usize = 200;

/// Bytes of memory this process may fill, or None where it cannot be told.
#[cfg(target_os = "linux")]
pub fn memory_bytes() -> Option<u64> {
    // SAFETY: sysconf only reads system constants.
    let (pages, page) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    let physical = u64::try_from(pages).ok()?.checked_mul(u64::try_from(page).ok()?)?;
    Some(cgroup_limit().map_or(physical, |c| c.min(physical)))
}

/// Bytes of memory this process may fill with file pages: not told off Linux.
#[cfg(not(target_os = "linux"))]
pub fn memory_bytes() -> Option<u64> {
    None
}

/// The memory limit of this process's cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`).
#[cfg(target_os = "linux")]
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    groups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = match controllers {
            "" => format!("/sys/fs/cgroup{path}/memory.max"),
            c if c.split(',').any(|c| c == "memory") => format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
            _ => return None,
        };
        std::fs::read_to_string(file).ok()?.trim().parse::<u64>().ok()
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_limit_is_at_most_the_machines_memory() {
        let limit = super::memory_bytes().expect("Linux tells its memory");
        assert!(limit > 1 << 26, "{limit}");
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let total_kb: u64 = meminfo.lines().next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(limit <= total_kb * 1024 + (1 << 20), "{limit} > {total_kb} kB");
    }
}
