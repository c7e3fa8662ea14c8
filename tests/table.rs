//! Paper tables: golden outputs for each format from a small fixed Parquet file
//! (tests/data/table_fixture.parquet: ties for best, a missing metric, a single seed).

use crate::util::*;
use polars::prelude::*;

fn fixture() -> std::path::PathBuf {
    let path = root().join("tests/data/table_fixture.parquet");
    if std::env::var_os("NDELAB_BLESS").is_some() {
        let mut df = df!(
            "model" => ["cvae", "cvae", "cvae", "cvae", "cvae", "gaussian", "gaussian"],
            "model.latent_dim" => [2i64, 2, 4, 4, 8, 0, 0],
            "seed" => [1i64, 2, 1, 2, 1, 1, 2],
            "test_nll" => [Some(4.10), Some(4.12), Some(4.05), Some(4.07), Some(4.06), Some(4.31), Some(4.29)],
            "kl_to_truth" => [Some(0.050), Some(0.052), None, None, Some(0.040), Some(0.081), Some(0.083)],
            "train_s" => [10.0, 11.0, 12.0, 12.5, 13.0, 5.0, 5.5],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
    }
    path
}

fn table(format: &str, extra: &[&str]) -> String {
    let results = TempDir::new("table");
    let out = run(ndelab(results.path())
        .arg("table")
        .arg(fixture())
        .args(["--rows", "model,model.latent_dim", "--metrics", "test_nll,kl_to_truth,train_s", "--format", format])
        .args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn every_format_matches_its_golden_file() {
    for (format, file, extra) in [
        ("md", "table.md", vec![]),
        ("latex", "table.tex", vec!["--caption", "Test NLL of the CVAE by latent_dim", "--label", "tab:cvae_latent"]),
        ("csv", "table.csv", vec![]),
        ("typst", "table.typ", vec!["--caption", "Test NLL by latent_dim"]),
    ] {
        let text = table(format, &extra);
        let golden = root().join("tests/golden").join(file);
        if std::env::var_os("NDELAB_BLESS").is_some() {
            std::fs::write(&golden, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&golden).unwrap(), "{file}");
    }
}

#[test]
fn ties_missing_values_and_single_seeds() {
    let md = table("md", &[]);
    // latent 4 (two seeds, 4.060 ± 0.014) and latent 8 (one seed, 4.060) tie for the best NLL.
    assert!(md.contains("| cvae | 4 | **4.060 ± 0.014** | — |"), "{md}");
    assert!(md.contains("| cvae | 8 | **4.060** | **0.04000** | 13.00 | 1 |"), "{md}");
    assert_eq!(md.matches("**").count() / 2, 4, "{md}");
}

#[test]
fn an_unknown_column_is_named() {
    let results = TempDir::new("table-bad");
    let out = run(ndelab(results.path()).arg("table").arg(fixture()).args(["--metrics", "test_nl"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no column `test_nl`; the files have: kl_to_truth, model, model.latent_dim, seed, test_nll, train_s"),
        "{}",
        stderr(&out)
    );
}

/// The LaTeX output compiles. Ignored by `make test`, so that it never passes without running;
/// `.ci/run` installs pdflatex and runs it (`make test TEST_ARGS=--include-ignored`).
#[test]
#[ignore = "needs pdflatex: apt-get install texlive-latex-recommended, then --include-ignored"]
fn latex_compiles_with_pdflatex() {
    let found = std::process::Command::new("pdflatex").arg("--version").output().is_ok();
    assert!(found, "pdflatex is not installed (apt-get install texlive-latex-recommended)");
    let tmp = TempDir::new("latex");
    let body = table("latex", &["--caption", "c", "--label", "tab:l"]);
    let doc = format!("\\documentclass{{article}}\n\\usepackage{{booktabs}}\n\\begin{{document}}\n{body}\\end{{document}}\n");
    std::fs::write(tmp.path().join("t.tex"), doc).unwrap();
    let out = std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "t.tex"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(tmp.path().join("t.pdf").is_file());
}

/// A glob over run folders reads complete runs only, not the hidden folders of runs in progress
/// or killed (`.KEY.tmp-PID`), whose summaries may be half-written.
#[test]
fn a_glob_skips_the_hidden_folders_of_unfinished_runs() {
    let tmp = TempDir::new("table-hidden");
    for dir in ["runs/a/0123456789abcdef", "runs/a/.fedcba9876543210.tmp-99"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        std::fs::copy(fixture(), tmp.path().join(dir).join("summary.parquet")).unwrap();
    }
    let glob = format!("{}/runs/*/*/summary.parquet", tmp.path().display());
    let out =
        run(ndelab(tmp.path()).arg("table").arg(&glob).args(["--rows", "model", "--metrics", "test_nll", "--agg", "n", "--format", "csv"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // The fixture has 5 cvae rows: once, not twice.
    assert!(text.contains("cvae,") && text.lines().any(|l| l.starts_with("cvae,") && l.ends_with(",5")), "{text}");
}
