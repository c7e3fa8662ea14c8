//! Hostile input: seeded mutations of real specs, overrides, .npy files and sample files fed to
//! every reader, for a bounded number of cases (stable Rust, no fuzzing engine). Each reader
//! must answer with an error or a value — never a panic.

use crate::util::root;
use ndelab::math::StreamFamily;
use rand::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Mutations of one input per case: flip, insert, delete, duplicate a span, or splice in a
/// token that readers find interesting.
fn mutate(input: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    const TOKENS: [&[u8]; 12] = [
        b"-1",
        b"1e309",
        b"nan",
        b".inf",
        b"~",
        b"[",
        b"{",
        b": ",
        b"\n  ",
        b"18446744073709551616",
        b"'<f8'",
        b"(461168601842738791, 10)",
    ];
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
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(&input))) {
            let why = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panics.push(format!("{why}: {}", String::from_utf8_lossy(&input).chars().take(300).collect::<String>()));
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

/// A run folder, a dataset entry, a sweep file, a training checkpoint, an .npz and a Parquet
/// sample file, each mutated byte-wise and handed to its reader: model.safetensors and
/// model.json (`TrainedModel::load`), summary.parquet and eval.parquet (the table and
/// Parquet readers), SHA256SUMS (`entry::verify`), the dataset's manifest.json and arrays
/// (`data::cache::read`), sweep YAML, checkpoints, .npz and .parquet arrays.
#[test]
fn stored_files_never_panic() {
    use crate::util::{ndelab, run, small_spec, TempDir};
    let tmp = TempDir::new("fuzz-stored");
    let spec = small_spec(tmp.path(), "fz", 600, 1, "  metrics: [test_nll, pp]\n  pp_injections: 20\n  posterior_samples: 100\n");
    let results = tmp.path().join("results");
    let out = run(ndelab(&results).arg("run").arg(&spec));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let only = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .unwrap()
    };
    let run_dir = only(results.join("runs/fz"));
    let dataset = only(results.join("cache/datasets"));
    // Each case rewrites one file, calls its reader, and puts the original back.
    let mut total = 0;
    let mut check = |file: std::path::PathBuf, cases: usize, read: &dyn Fn()| {
        let original = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        // Seeded by the file's name, so CI runs the same cases every time; FUZZ_SALT=<anything>
        // draws other cases, to fuzz further by hand.
        let panics = fuzz(&format!("{name}{}", std::env::var("FUZZ_SALT").unwrap_or_default()), &[original.clone()], cases, |b| {
            std::fs::write(&file, b).unwrap();
            read();
        });
        std::fs::write(&file, &original).unwrap();
        assert!(panics.is_empty(), "{} of {cases} mutations of {name} panicked, e.g. {}", panics.len(), panics[0]);
        total += cases;
    };
    let load_model = || drop(ndelab::nn::TrainedModel::load(&run_dir));
    check(run_dir.join("model.safetensors"), 400, &load_model);
    check(run_dir.join("model.json"), 300, &load_model);
    let summary = run_dir.join("summary.parquet");
    check(summary.clone(), 300, &|| drop(ndelab::report::table::read_records(std::slice::from_ref(&summary))));
    let eval = run_dir.join("eval.parquet");
    check(eval.clone(), 300, &|| drop(ndelab::report::read_parquet(&eval)));
    check(run_dir.join("SHA256SUMS"), 300, &|| drop(ndelab::store::entry::verify(&run_dir)));
    check(dataset.join("manifest.json"), 300, &|| drop(ndelab::data::read_cached(&dataset)));
    check(dataset.join("data_test.npy"), 300, &|| drop(ndelab::data::read_cached(&dataset)));
    let sweep = tmp.path().join("sweep.yaml");
    std::fs::write(
        &sweep,
        "name: s\nbase: fz.yaml\noverrides: [training.epochs=2]\ngrid:\n  model.hidden: [[8], [16, 16]]\nseeds: [1, 2]\n",
    )
    .unwrap();
    check(sweep.clone(), 1000, &|| drop(ndelab::sweep::SweepDefinition::load(&sweep)));
    // A checkpoint as training writes it.
    use ndelab::train::checkpoint::{Progress, State};
    let ckpt = tmp.path().join("c.checkpoint");
    let t = |x: f32| vec![vec![x; 5], vec![x; 3]];
    State { progress: Progress::start("k"), params: t(1.0), m: t(0.0), v: t(0.0), best: t(1.0) }.save(&ckpt).unwrap();
    check(ckpt.clone(), 500, &|| drop(State::load(&ckpt, "k", &[5, 3])));
    // An .npz of two arrays and a Parquet file of samples.
    let npz = tmp.path().join("set.npz");
    {
        use std::io::Write;
        let one = tmp.path().join("one.npy");
        ndelab::store::npy::write(&one, 4, 3, &[0.5f32; 12]).unwrap();
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&npz).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for name in ["theta.npy", "data.npy"] {
            zip.start_file(name, opts).unwrap();
            zip.write_all(&std::fs::read(&one).unwrap()).unwrap();
        }
        zip.finish().unwrap();
    }
    let source = ndelab::sim::files::ArraySource { path: npz.clone(), array: Some("data".into()), columns: Vec::new() };
    check(npz.clone(), 500, &|| drop(source.load()));
    let names: Vec<String> = ["x0", "x1", "x2"].iter().map(|s| s.to_string()).collect();
    let parquet = tmp.path().join("samples.parquet");
    ndelab::report::write_samples(&parquet, &names, &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 2).unwrap();
    check(parquet.clone(), 300, &|| drop(ndelab::reference::read_samples(&parquet, &names)));
    assert!(total >= 4000);
}

/// Numeric leaves of a resolved spec, as override paths: `a.b` for a number, `a.b[]` for a
/// list of numbers.
fn numeric_paths(v: &serde_norway::Value, prefix: &str, out: &mut Vec<String>) {
    use serde_norway::Value;
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    let path = if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
                    numeric_paths(v, &path, out);
                }
            }
        }
        Value::Number(_) => out.push(prefix.to_string()),
        Value::Sequence(s) if !s.is_empty() && s.iter().all(Value::is_number) => out.push(format!("{prefix}[]")),
        _ => {}
    }
}

/// Every numeric field of the shipped specs (one per estimator and simulator) overridden with
/// values nothing can hold or that make no sense: `validate` and, where it accepts them, one
/// training step (`bench train`, which builds the network and a batch) end in 0, 1 or 2, never
/// a panic (101) or an abort (134).
#[test]
fn extreme_numbers_in_every_numeric_field_end_in_a_message() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_ndelab");
    let specs = [
        "linear_gaussian", "cvae_2d", "gw_nsf", "gw_cvae_conv", "gw_deep_ensemble", "gw_maf", "gw_mdn", "gw_cvae_flow", "gw_regression",
        "ringdown_nsf", "sbi_two_moons",
    ];
    let values = ["18446744073709551615", "8589934592", "-1", "1e308"];
    let mut cases = Vec::new();
    for name in specs {
        let spec = root().join("experiments").join(format!("{name}.yaml"));
        let out = Command::new(bin).current_dir(root()).arg("validate").arg(&spec).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let resolved: serde_norway::Value = serde_norway::from_slice(&out.stdout).unwrap();
        let mut paths = Vec::new();
        numeric_paths(&resolved, "", &mut paths);
        assert!(paths.len() >= 8, "{name}: only {paths:?}");
        for p in &paths {
            for v in values {
                let o = match p.strip_suffix("[]") {
                    Some(list) => format!("{list}=[{v}]"),
                    None => format!("{p}={v}"),
                };
                cases.push((spec.clone(), o));
            }
        }
    }
    let results = std::env::temp_dir().join(format!("ndelab-fuzz-extreme-{}", std::process::id()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let bad = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((spec, o)) = cases.get(i) else { break };
                let run = |args: &[&str]| {
                    Command::new(bin).current_dir(root()).arg("--results").arg(&results).arg("--threads").arg("1").args(args).output().unwrap()
                };
                let spec = spec.to_string_lossy();
                let mut outs = vec![run(&["validate", &spec, o])];
                // The allocating sizes go on to build the network and a batch.
                if outs[0].status.success() && !o.ends_with("=-1") && !o.ends_with("=1e308") {
                    outs.push(run(&["bench", "train", &spec, o, "--warmup", "0", "--steps", "1"]));
                }
                for out in outs {
                    let err = String::from_utf8_lossy(&out.stderr);
                    if !matches!(out.status.code(), Some(0..=2)) || err.contains("panicked") {
                        bad.lock().unwrap().push(format!("{spec} {o}: exit {:?}: {}", out.status.code(), err.lines().last().unwrap_or("")));
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&results);
    let bad = bad.into_inner().unwrap();
    assert!(bad.is_empty(), "{} of {} cases ended otherwise:\n{}", bad.len(), cases.len(), bad.join("\n"));
    assert!(cases.len() >= 1000, "{}", cases.len());
}

/// Sweep files whose counts and ranges take extreme values (`random.count`, seeds, int ranges,
/// log-uniform bounds): `sweep --dry-run` ends in 0, 1 or 2, never a panic or an abort.
#[test]
fn sweep_files_with_extreme_numbers_end_in_a_message() {
    use crate::util::{ndelab, run, small_spec, TempDir};
    let tmp = TempDir::new("fuzz-sweep-extreme");
    small_spec(tmp.path(), "base", 2_000, 1, "");
    let results = tmp.path().join("results");
    let values = ["18446744073709551615", "18446744073709551616", "8589934592", "-1", "0", "1e308", "-1e308", ".nan"];
    let templates = [
        "random: {{ count: {v}, seed: 0, params: {{ training.optimizer.lr: {{ log_uniform: [1e-4, 1e-2] }} }} }}",
        "random: {{ count: 2, seed: {v}, params: {{ training.optimizer.lr: {{ uniform: [1e-4, 1e-2] }} }} }}",
        "random: {{ count: 2, seed: 0, params: {{ training.epochs: {{ int_uniform: [1, {v}] }} }} }}",
        "random: {{ count: 2, seed: 0, params: {{ training.optimizer.lr: {{ log_uniform: [{v}, 1e-2] }} }} }}",
        "seeds: [{v}]",
        "grid: {{ training.epochs: [{v}] }}",
        "zip: {{ model.hidden: [[{v}]], training.batch_size: [{v}] }}",
    ];
    let mut bad = Vec::new();
    let mut cases = 0;
    for t in templates {
        for v in values {
            let body = t.replace("{v}", v).replace("{{", "{").replace("}}", "}");
            let file = tmp.path().join("s.yaml");
            std::fs::write(&file, format!("name: s\nbase: base.yaml\n{body}\n")).unwrap();
            let out = run(ndelab(&results).arg("sweep").arg(&file).arg("--dry-run"));
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            if !matches!(out.status.code(), Some(0..=2)) || err.contains("panicked") {
                bad.push(format!("{body}: exit {:?}: {}", out.status.code(), err.lines().last().unwrap_or("")));
            }
            cases += 1;
        }
    }
    assert!(bad.is_empty(), "{} of {cases} sweep files ended otherwise:\n{}", bad.len(), bad.join("\n"));
}
