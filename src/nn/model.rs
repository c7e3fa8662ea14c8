//! A trained estimator with the z-scoring of its training data, saved and loaded as
//! `model.safetensors` + `model.json` (the settings that rebuild it).

use super::embedding::{Embedded, Embedding};
use super::registry::BuildContext;
use super::ModelSpec;
use super::{DensityEstimator, Estimator, NnError, ParamSet, Recalibration};
use crate::data::ZScore;
use crate::math::{SampleRng, StreamFamily};
use crate::store::entry::write_synced;
use crate::store::StoreError;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Version of the network code; part of the run key. nn/6: dense layers are one fused
/// operation that adds the bias inside the matrix product, so weights differ in rounding.
/// nn/7: on AVX-512 CPUs, products of at most 16 columns (heads, the convolution's filters)
/// and of a depth under 16 run on ndelab's own kernels, which sum in another order. nn/8: a
/// stride-1 convolution's input gradient is one product (its sums in another order).
#[cfg(not(feature = "cuda"))]
pub const NN_VERSION: &str = "nn/8";
/// The same for a CUDA build, whose kernels round differently (and whose gradients add up
/// in no fixed order): its runs never share a key with the CPU's.
#[cfg(feature = "cuda")]
pub const NN_VERSION: &str = "nn/6+cuda";

/// Builds the estimator a model section names for data of `channels` equal-length series
/// (`data_dim` values in all), initialised from `seed`. Fails when the embedding does not fit
/// the data (a convolution longer than the series).
pub fn build(spec: &ModelSpec, theta_dim: usize, data_dim: usize, channels: usize, seed: u64) -> Result<Estimator, NnError> {
    let dev = super::device()?;
    let mut rng = StreamFamily::new(seed, "init").rng(0);
    let mut params = ParamSet::default();
    let embed = match spec.embedding() {
        Some(e) => Some(Embedding::new(&dev, &mut rng, &mut params, e, data_dim, channels)?),
        None => None,
    };
    let features = embed.as_ref().map_or(data_dim, Embedding::n_out);
    let inner = spec.build_estimator(BuildContext { dev: &dev, rng: &mut rng, params, theta_dim, features });
    Ok(match (embed, inner) {
        (Some(e), Estimator::Density(n)) => Estimator::Density(Box::new(Embedded::new(&dev, e, n, data_dim))),
        (Some(e), Estimator::Point(n)) => Estimator::Point(Box::new(Embedded::new(&dev, e, n, data_dim))),
        (None, inner) => inner,
    })
}

/// What model.json holds: everything needed to rebuild the network before loading weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// Network code version.
    pub nn_version: String,
    /// The model section of the spec.
    pub model: ModelSpec,
    /// Parameter names θ, in column order.
    pub parameters: Vec<String>,
    /// Length of a data vector.
    pub data_dim: usize,
    /// Number of equal-length series in a data vector (detectors), for convolutional embeddings.
    #[serde(default = "one")]
    pub data_channels: usize,
    /// Scaling of θ.
    pub theta_zscore: ZScore,
    /// Scaling of y.
    pub data_zscore: ZScore,
    /// Prior support [lower, upper] of each parameter (null: unbounded); draws outside it are rejected.
    #[serde(default)]
    pub bounds: Vec<[Option<f64>; 2]>,
    /// Period of each parameter that is a full-turn angle (null: not periodic); its draws are
    /// wrapped into [lower, lower + period) instead of rejected.
    #[serde(default)]
    pub periods: Vec<Option<f64>>,
    /// Pairs (a, b) of parameters whose prior holds only θ[a] ≥ θ[b] (m1 ≥ m2); draws that
    /// break the order are outside the prior's support and rejected like those outside the bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ordered: Vec<(usize, usize)>,
    /// The marginals' quantile recalibration fitted after training (`training.recalibrate`),
    /// applied to every draw inside the support; none where it was not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalibration: Option<Recalibration>,
}

impl ModelCard {
    /// Bounds as numbers, ±∞ where unbounded.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        self.bounds.iter().map(|[lo, hi]| (lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY))).collect()
    }

    /// Whether a draw lies in the prior's support: inside `bounds` (from [`ModelCard::bounds`])
    /// and in the order the prior holds.
    pub fn in_support(&self, bounds: &[(f64, f64)], row: &[f64]) -> bool {
        row.iter().zip(bounds).all(|(v, (lo, hi))| *v >= *lo && *v <= *hi) && self.ordered.iter().all(|&(a, b)| row[a] >= row[b])
    }

    /// Stores bounds, infinite ones as null.
    pub fn set_bounds(&mut self, b: &[(f64, f64)]) {
        self.bounds = b.iter().map(|&(lo, hi)| [lo.is_finite().then_some(lo), hi.is_finite().then_some(hi)]).collect();
    }
}

fn one() -> usize {
    1
}

/// An estimator in physical units: z-scoring applied on the way in and out.
pub struct TrainedModel {
    /// The network.
    pub net: Estimator,
    /// Settings that rebuild it.
    pub card: ModelCard,
}

/// A trained density estimator in physical units: what evaluation and sampling use.
#[derive(Clone, Copy)]
pub struct DensityModel<'a> {
    /// The network.
    pub net: &'a dyn DensityEstimator,
    /// Settings and scalings.
    pub card: &'a ModelCard,
}

/// Rows per forward pass when evaluating.
const CHUNK: usize = 4096;
/// Draws per parallel block when sampling.
const SAMPLE_BLOCK: usize = 1024;

/// Applies the data z-scoring to rows `start..end` of `data` (`m` values each).
fn zscore_rows(card: &ModelCard, data: &[f32], start: usize, end: usize) -> Vec<f32> {
    let m = card.data_dim;
    let mut yz = vec![0.0f32; (end - start) * m];
    for r in start..end {
        card.data_zscore.forward_row(&data[r * m..(r + 1) * m], &mut yz[(r - start) * m..(r - start + 1) * m]);
    }
    yz
}

impl DensityModel<'_> {
    /// log q(θ|y) for row-aligned θ (rows × d) and y (rows × m) in physical units.
    pub fn log_prob(&self, theta: &[f64], data: &[f32]) -> Vec<f64> {
        let d = self.card.theta_zscore.dim();
        let rows = theta.len() / d;
        let jac = self.card.theta_zscore.log_scale();
        let mut out = Vec::with_capacity(rows);
        for start in (0..rows).step_by(CHUNK) {
            let end = (start + CHUNK).min(rows);
            let mut tz = vec![0.0f32; (end - start) * d];
            for r in start..end {
                let row: Vec<f32> = theta[r * d..(r + 1) * d].iter().map(|&v| v as f32).collect();
                self.card.theta_zscore.forward_row(&row, &mut tz[(r - start) * d..(r - start + 1) * d]);
            }
            let yz = zscore_rows(self.card, data, start, end);
            out.extend(self.net.log_prob_z(&tz, &yz, end - start).into_iter().map(|l| l - jac));
        }
        out
    }

    /// `n` draws θ ~ q(θ|y) for one y, row-major, in physical units.
    pub fn sample(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let d = self.card.theta_zscore.dim();
        let mut yz = vec![0.0f32; self.card.data_dim];
        self.card.data_zscore.forward_row(data, &mut yz);
        // Blocks of draws in parallel, each from its own stream seeded in order from `rng`, so
        // the draws do not depend on the thread count.
        let blocks: Vec<(usize, u64)> = (0..n).step_by(SAMPLE_BLOCK).map(|s| ((n - s).min(SAMPLE_BLOCK), rng.gen())).collect();
        let z: Vec<Vec<f64>> = blocks
            .into_par_iter()
            .map(|(m, seed)| self.net.sample_z(m, &yz, &mut StreamFamily::new(seed, "sample/block").rng(0)))
            .collect();
        z.iter().flat_map(|b| b.chunks_exact(d)).flat_map(|row| self.card.theta_zscore.inverse_row(row)).collect()
    }

    /// (latent dimension, latent means) of `rows` data vectors in physical units, for latent-variable models.
    pub fn latent(&self, data: &[f32], rows: usize) -> Option<(usize, Vec<f64>)> {
        self.net.latent(&zscore_rows(self.card, data, 0, rows), rows)
    }

    /// `n` posterior draws for one y in physical units: draws of q inside the prior support
    /// ([`DensityModel::sample_within_raw`]), moved by the card's quantile recalibration where
    /// it has one (draws it moves out of the support are dropped, and enough drawn that `n`
    /// remain); returns the draws and the fraction of q's draws kept.
    pub fn sample_within(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> (Vec<f64>, f64) {
        let Some(recal) = &self.card.recalibration else {
            return self.sample_within_raw(n, data, rng);
        };
        let d = self.card.theta_zscore.dim();
        let bounds = self.card.bounds();
        let inside = |row: &[f64]| self.card.in_support(&bounds, row);
        // The map moves a few draws across the prior's edges (its order m1 ≥ m2 above all):
        // draw an eighth more, and more again in the rare case that is not enough.
        let mut extra = n / 8 + 16;
        for _ in 0..8 {
            let (mut draws, acceptance) = self.sample_within_raw(n + extra, data, rng);
            recal.apply(&mut draws, d);
            let kept: Vec<f64> = draws.chunks_exact(d).filter(|r| inside(r)).take(n).flatten().copied().collect();
            if kept.len() == n * d {
                return (kept, acceptance * n as f64 / (n + extra) as f64);
            }
            extra *= 2;
        }
        // Only where the map moves nearly every draw out of the support: q's own draws then.
        self.sample_within_raw(n, data, rng)
    }

    /// `n` draws θ ~ q(θ|y) inside the prior support (draws outside it are rejected and redrawn,
    /// which renormalises q to the support); returns the draws and the fraction accepted.
    pub fn sample_within_raw(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> (Vec<f64>, f64) {
        let d = self.card.theta_zscore.dim();
        let bounds = self.card.bounds();
        let bounded = bounds.len() == d && bounds.iter().any(|(lo, hi)| lo.is_finite() || hi.is_finite());
        if !bounded && self.card.ordered.is_empty() {
            return (self.sample(n, data, rng), 1.0);
        }
        let period = |j: usize| self.card.periods.get(j).copied().flatten();
        let wrap = |row: &mut [f64]| {
            for (j, v) in row.iter_mut().enumerate() {
                if let Some(p) = period(j) {
                    *v = bounds[j].0 + (*v - bounds[j].0).rem_euclid(p);
                }
            }
        };
        let inside = |row: &[f64]| self.card.in_support(&bounds, row);
        let mut out = Vec::with_capacity(n * d);
        // Draws made, draws inside the support, and draws kept (at most n).
        let (mut drawn, mut accepted, mut kept) = (0usize, 0usize, 0usize);
        // Ask for what is missing, scaled by the acceptance so far; give up after 100 rounds.
        for _ in 0..100 {
            if kept >= n {
                break;
            }
            let rate = if drawn == 0 { 1.0 } else { (accepted as f64 / drawn as f64).max(0.01) };
            let want = (((n - kept) as f64 / rate) * 1.1).ceil() as usize + 16;
            let mut batch = self.sample(want, data, rng);
            drawn += want;
            for row in batch.chunks_exact_mut(d) {
                wrap(row);
                let row = &*row;
                if inside(row) {
                    accepted += 1;
                    if kept < n {
                        out.extend_from_slice(row);
                        kept += 1;
                    }
                }
            }
        }
        (out, accepted as f64 / drawn.max(1) as f64)
    }
}

impl TrainedModel {
    /// The density estimator, unless this is a point estimator.
    pub fn density(&self) -> Option<DensityModel<'_>> {
        self.net.density().map(|net| DensityModel { net, card: &self.card })
    }

    /// Point estimates (rows × d, physical units) of a point estimator; `None` for densities.
    pub fn point_estimates(&self, data: &[f32], rows: usize) -> Option<Vec<f64>> {
        let Estimator::Point(net) = &self.net else { return None };
        let d = self.card.theta_zscore.dim();
        let mut out = Vec::with_capacity(rows * d);
        for start in (0..rows).step_by(CHUNK) {
            let end = (start + CHUNK).min(rows);
            let z = net.predict_z(&zscore_rows(&self.card, data, start, end), end - start);
            out.extend(z.chunks_exact(d).flat_map(|row| self.card.theta_zscore.inverse_row(row)));
        }
        Some(out)
    }
    /// Writes model.safetensors (weights, with the card in its metadata) and model.json.
    pub fn save(&self, dir: &Path) -> Result<(), NnError> {
        let st_path = dir.join("model.safetensors");
        let bad = |message: String| NnError::BadModelFile { path: st_path.clone(), message };
        let card = serde_json::to_string_pretty(&self.card).map_err(|e| bad(e.to_string()))?;
        let params = self.net.network().params();
        let values = params.to_flat();
        let bytes: Vec<Vec<u8>> = values.iter().map(|v| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
        let mut views = Vec::new();
        for (p, b) in params.params.iter().zip(&bytes) {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, p.shape.clone(), b).map_err(|e| bad(format!("{e:?}")))?;
            views.push((p.name.clone(), view));
        }
        let meta: HashMap<String, String> = [("ndelab_model".to_string(), card.clone())].into_iter().collect();
        let st = safetensors::tensor::serialize(views, &Some(meta)).map_err(|e| bad(format!("{e:?}")))?;
        for (name, bytes) in [("model.safetensors", st.as_slice()), ("model.json", card.as_bytes())] {
            let path = dir.join(name);
            write_synced(&path, bytes).map_err(|e| match e {
                StoreError::Io { source, .. } => NnError::Write { path, source },
                other => NnError::BadModelFile { path, message: other.to_string() },
            })?;
        }
        Ok(())
    }

    /// Rebuilds the network from the saved card and loads its weights.
    pub fn load(dir: &Path) -> Result<TrainedModel, NnError> {
        let path = dir.join("model.safetensors");
        let bad = |message: String| NnError::BadModelFile { path: path.clone(), message };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a safetensors file ({e:?})")))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("{e:?}")))?;
        let card_text = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("ndelab_model"))
            .ok_or_else(|| bad("no ndelab_model metadata; it was not written by ndelab".into()))?;
        let card: ModelCard = serde_json::from_str(card_text).map_err(|e| bad(format!("model card: {e}")))?;
        if card.recalibration.as_ref().is_some_and(|r| !r.is_valid(card.parameters.len())) {
            return Err(bad("model card: the recalibration does not hold a nondecreasing map from 0 to 1 per parameter".into()));
        }
        let mut net = build(&card.model, card.parameters.len(), card.data_dim, card.data_channels, 0)?;
        let mut values = Vec::new();
        for p in &net.network().params().params {
            let t = st.tensor(&p.name).map_err(|e| bad(format!("{}: {e:?}", p.name)))?;
            if t.shape() != p.shape.as_slice() {
                return Err(bad(format!("{} has shape {:?}, the network expects {:?}", p.name, t.shape(), p.shape)));
            }
            let v: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            // A network with a NaN or inf weight gives NaN densities and draws: never use one.
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "{} holds a non-finite weight ({} at index {i}): the file is damaged or the training diverged; rerun the experiment with --force",
                    p.name, v[i]
                )));
            }
            values.push(v);
        }
        net.network_mut().params_mut().restore(&values);
        Ok(TrainedModel { net, card })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ZScore;

    /// Draws that break the prior's order (θ₀ ≥ θ₁, as m1 ≥ m2) lie outside its support and are
    /// rejected like draws outside the bounds; the acceptance says how many were.
    #[test]
    fn draws_outside_an_order_constraint_are_rejected() {
        let spec = ModelSpec::Gaussian(crate::nn::gaussian::GaussianSpec { hidden: vec![8], embedding: None });
        let net = build(&spec, 2, 1, 1, 3).unwrap();
        let unit = |d: usize| ZScore { mean: vec![0.0; d], std: vec![1.0; d] };
        let card = ModelCard {
            nn_version: NN_VERSION.into(),
            model: spec,
            parameters: vec!["m1".into(), "m2".into()],
            data_dim: 1,
            data_channels: 1,
            theta_zscore: unit(2),
            data_zscore: unit(1),
            bounds: Vec::new(),
            periods: vec![None, None],
            ordered: vec![(0, 1)],
            recalibration: None,
        };
        let model = TrainedModel { net, card };
        let density = model.density().unwrap();
        let mut rng = StreamFamily::new(1, "t").rng(0);
        let (draws, acceptance) = density.sample_within(4000, &[0.3], &mut rng);
        assert_eq!(draws.len(), 8000);
        assert!(draws.chunks_exact(2).all(|r| r[0] >= r[1]), "a draw breaks m1 ≥ m2");
        assert!(acceptance > 0.05 && acceptance < 0.95, "acceptance {acceptance}");
    }
}
