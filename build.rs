// Records the compiler version for provenance.json, and the version of the waveform library
// (from Cargo.lock) for the gw_bbh simulator's version string: a new waveformrs may change the
// signals, so it must change the dataset keys.
fn main() {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let waveformrs = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"waveformrs\""))
        .and_then(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = \"")).map(|v| v.trim_end_matches('"').to_string()))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NDELAB_WAVEFORMRS_VERSION={waveformrs}");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NDELAB_RUSTC={version}");
    println!("cargo:rerun-if-changed=build.rs");
    // A CUDA build binds the CUDA libraries' functions when first called, not at start: a
    // newer cuBLAS or NVRTC than the bindings were written for may lack functions ndelab
    // never calls.
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,-z,lazy");
    }
}
