//! `ndelab compare`: two files of posterior samples of the same parameters, side by side.

use super::{BadRequest, Error};
use crate::ui;
use crate::eval::compare_samples;
use crate::reference::read_samples;
use std::path::Path;

/// Draws a side at most for the kNN KL and the classifier (their cost).
const CAP: usize = 5000;

/// Prints the JS divergence of each marginal, its median, the kNN symmetric KL and C2ST
/// between the samples in `a` and the reference samples in `b`.
pub fn compare_files(a: &Path, b: &Path, parameters: &[String], seed: u64) -> Result<(), Error> {
    let (sa, sb) = (read_samples(a, parameters)?, read_samples(b, parameters)?);
    let d = parameters.len();
    let (na, nb) = (sa.len() / d, sb.len() / d);
    if na < 10 || nb < 10 {
        return Err(BadRequest::TooFewSamples { a: a.to_path_buf(), na, b: b.to_path_buf(), nb }.into());
    }
    let c = compare_samples(&sa, &sb, d, CAP, seed);
    ui::answer(format!("{:<12} {:>10}", "parameter", "JS (nats)"));
    for (name, v) in parameters.iter().zip(&c.js) {
        ui::answer(format!("{name:<12} {v:>10.5}"));
    }
    ui::answer(format!("median JS {:.5} nats ({na} vs {nb} samples)", c.median_js));
    ui::answer(format!("kNN symmetric KL {:.4} nats, C2ST {:.4} ({} vs {} samples)", c.knn_kl, c.c2st, c.n, c.n));
    Ok(())
}
