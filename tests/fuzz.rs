//! Hostile input: seeded mutations of real specs, overrides, .npy files and sample files fed to
//! every reader, for a bounded number of cases (stable Rust, no fuzzing engine). Each reader
//! must answer with an error or a value — never a panic.

use crate::util::root;
use ndelab::sim::StreamFamily;
use rand::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mutations of one input per case: flip, insert, delete, duplicate a span, or splice in a
/// token that readers find interesting.
fn mutate(input: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    const TOKENS: [&[u8]; 12] =
        [b"-1", b"1e309", b"nan", b".inf", b"~", b"[", b"{", b": ", b"\n  ", b"18446744073709551616", b"'<f8'", b"(461168601842738791, 10)"];
    let mut v = input.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        let at = if v.is_empty() { 0 } else { rng.gen_range(0..v.len()) };
        match rng.gen_range(0..5) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.gen_range(0..8),
            1 => v.insert(at, rng.gen()),
            2 if !v.is_empty() => {
                let end = (at + rng.gen_range(1..16)).min(v.len());
                v.drain(at..end);
            }
            3 if !v.is_empty() => {
                let end = (at + rng.gen_range(1..32)).min(v.len());
                let span: Vec<u8> = v[at..end].to_vec();
                v.splice(at..at, span);
            }
            _ => {
                let t = TOKENS[rng.gen_range(0..TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
        }
    }
    v
}

/// Runs `f` on `cases` mutations of each seed input; returns the inputs that panicked.
fn fuzz(name: &str, seeds: &[Vec<u8>], cases: usize, f: impl Fn(&[u8])) -> Vec<String> {
    let mut rng = StreamFamily::new(7, name).rng(0);
    let mut panics = Vec::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..cases {
        let input = mutate(&seeds[i % seeds.len()], &mut rng);
        if catch_unwind(AssertUnwindSafe(|| f(&input))).is_err() {
            panics.push(String::from_utf8_lossy(&input).chars().take(300).collect());
        }
    }
    std::panic::set_hook(hook);
    panics
}

fn files(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn specs_and_overrides_never_panic() {
    let mut seeds = files("experiments", "yaml");
    seeds.extend(files("tests/bad_specs", "yaml"));
    let panics = fuzz("spec", &seeds, 20_000, |b| {
        let _ = ndelab::spec::parse("fuzz.yaml", &String::from_utf8_lossy(b), &[]);
    });
    assert!(panics.is_empty(), "{} of 20000 specs panicked, e.g.:\n{}", panics.len(), panics[0]);
    let overrides: Vec<Vec<u8>> =
        ["training.optimizer.lr=3e-4", "model.hidden=[8,8]", "+dataset.linear_gaussian.noise_std=0.5", "~loss", "dataset.infer=[x0]"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
    let base = std::fs::read_to_string(root().join("experiments/linear_gaussian.yaml")).unwrap();
    let panics = fuzz("override", &overrides, 10_000, |b| {
        let _ = ndelab::spec::parse("fuzz.yaml", &base, &[String::from_utf8_lossy(b).to_string()]);
    });
    assert!(panics.is_empty(), "{} of 10000 overrides panicked, e.g.:\n{}", panics.len(), panics[0]);
}

#[test]
fn npy_and_sample_files_never_panic() {
    let dir = crate::util::TempDir::new("fuzz-files");
    let good = dir.path().join("good.npy");
    ndelab::store::npy::write(&good, 3, 2, &[0.5, 1.0, -2.0, 3.0, 4.5, 0.0]).unwrap();
    let npy = vec![std::fs::read(&good).unwrap()];
    let panics = fuzz("npy", &npy, 10_000, |b| {
        let _ = ndelab::store::npy::from_bytes(b);
    });
    assert!(panics.is_empty(), "{} of 10000 .npy files panicked, e.g.:\n{}", panics.len(), panics[0]);
    // Through the file readers: .npy (mapped), .csv samples and observations.
    let names = vec!["a".to_string(), "b".to_string()];
    let csv = vec![b"a,b\n1,2\n3,4\n".to_vec()];
    for (ext, seeds) in [("npy", &npy), ("csv", &csv)] {
        let path = dir.path().join(format!("f.{ext}"));
        let panics = fuzz(ext, seeds, 1500, |b| {
            std::fs::write(&path, b).unwrap();
            let _ = ndelab::reference::read_samples(&path, &names);
            let _ = ndelab::reference::read_observations(&path, 2);
            let _ = ndelab::store::npy::read(&path);
        });
        assert!(panics.is_empty(), "{} of 1500 .{ext} files panicked, e.g.:\n{}", panics.len(), panics[0]);
    }
}
