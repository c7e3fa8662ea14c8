//! The network of the continuous-time estimators: a field v(t, θ, y) over the parameters, as
//! DINGO builds it for flow matching (Dax et al., arXiv:2305.17161, appendix): (θ, t, y) enter
//! a first layer, then residual blocks, each `h + (W₂ silu(W₁ silu(h))) ⊙ σ(G [y, τ(t)])`, whose
//! units are gated by the data and the time; a last layer maps to the field. The time enters
//! as τ(t) = (t, sin 2πkt, cos 2πkt) for k = 1..K.
//!
//! Training runs through dfdx with gradients. Evaluation (the ODE's hundreds of passes) runs on
//! the host with the weights copied out once, and can carry forward-mode tangents: one per
//! parameter direction, through the same matrix products, so that the divergence ∇_θ·v needed
//! for exact log densities costs d extra rows per row rather than d backward passes. The gates
//! do not depend on θ, so tangents only pass the products, the SiLUs and the gating.

use super::dense::{Activation, Dense};
use super::kernels::gemm::gemm;
use super::kernels::linear::{host, linear_sum};
use super::params::ParamSet;
use super::{fork, Dev, T2};
use dfdx::prelude::*;
use rand::Rng;
use rayon::prelude::*;

/// One residual block: two layers and the gate; a projection of the skip when the width changes.
#[derive(Clone, Debug)]
struct Block {
    first: Dense,
    second: Dense,
    gate_data: Dense,
    gate_time: Dense,
    skip: Option<Dense>,
}

/// The field's layers (indices into the estimator's parameters).
#[derive(Clone, Debug)]
pub struct VectorField {
    d: usize,
    features: usize,
    frequencies: usize,
    input: [Dense; 3],
    blocks: Vec<Block>,
    out: Dense,
}

/// Width of τ(t) for `frequencies` frequencies.
pub fn time_width(frequencies: usize) -> usize {
    1 + 2 * frequencies
}

/// τ(t) = (t, sin 2πkt, cos 2πkt), k = 1..K, appended to `out`.
pub fn time_features(t: f32, frequencies: usize, out: &mut Vec<f32>) {
    out.push(t);
    for k in 1..=frequencies {
        let a = std::f32::consts::TAU * k as f32 * t;
        out.push(a.sin());
        out.push(a.cos());
    }
}

fn silu<Tp: Tape<f32, Dev>>(x: T2<Tp>) -> T2<Tp> {
    let (a, b) = fork(x);
    a * b.sigmoid()
}

impl VectorField {
    /// A field over `d` parameters, conditioned on `features` data features, with residual
    /// blocks of widths `hidden` (not empty), registered in `params` under `name`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, d: usize, features: usize, hidden: &[usize], frequencies: usize) -> VectorField {
        let nt = time_width(frequencies);
        let w0 = hidden[0];
        let input = [
            Dense::new(dev, rng, params, &format!("{name}.in.theta"), d, w0),
            Dense::new(dev, rng, params, &format!("{name}.in.time"), nt, w0),
            Dense::new(dev, rng, params, &format!("{name}.in.data"), features, w0),
        ];
        let mut blocks = Vec::with_capacity(hidden.len());
        let mut prev = w0;
        for (i, &w) in hidden.iter().enumerate() {
            let n = format!("{name}.block{i}");
            blocks.push(Block {
                first: Dense::new(dev, rng, params, &format!("{n}.first"), prev, w),
                second: Dense::new(dev, rng, params, &format!("{n}.second"), w, w),
                gate_data: Dense::new(dev, rng, params, &format!("{n}.gate.data"), features, w),
                gate_time: Dense::new(dev, rng, params, &format!("{n}.gate.time"), nt, w),
                skip: (w != prev).then(|| Dense::new(dev, rng, params, &format!("{n}.skip"), prev, w)),
            });
            prev = w;
        }
        let out = Dense::new(dev, rng, params, &format!("{name}.out"), prev, d);
        VectorField { d, features, frequencies, input, blocks, out }
    }

    /// Width of τ(t).
    pub fn time_width(&self) -> usize {
        time_width(self.frequencies)
    }

    /// τ(t) of every row of `t`, row-major (rows × [`VectorField::time_width`]).
    pub fn time_rows(&self, t: &[f32]) -> Vec<f32> {
        let mut v = Vec::with_capacity(t.len() * self.time_width());
        t.iter().for_each(|&t| time_features(t, self.frequencies, &mut v));
        v
    }

    /// The field on a tape, for training: gradients reach every weight, and the data when
    /// `data_grad`.
    ///
    /// # Shapes
    /// `theta`: (rows, d), `time`: (rows, time_width) from [`VectorField::time_rows`],
    /// `data`: (rows, features) → (rows, d).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, theta: T2, time: T2, data: T2<Tp>, data_grad: bool) -> T2<Tp> {
        let [it, itime, iy] = &self.input;
        // The first use carries the data's tape (the embedding's backward); later uses start
        // empty tapes whose gradients meet on the same tensor.
        let (y, mut data) = fork(data);
        let (a, ab) = it.input(p, theta.retaped::<Tp>(), false, None);
        let (b, bb) = itime.input(p, time.clone().retaped::<Tp>(), false, None);
        let (c, cb) = iy.input(p, y, data_grad, None);
        let mut h = linear_sum(vec![a, b, c], &[ab, bb, cb], self.blocks[0].first.n_in(), Activation::Identity);
        for blk in &self.blocks {
            let (rest, y) = fork(data);
            data = rest;
            let w = blk.second.n_out();
            let (gy, gyb) = blk.gate_data.input(p, y, data_grad, None);
            let (gt, gtb) = blk.gate_time.input(p, time.clone().retaped::<Tp>(), false, None);
            let gate = linear_sum(vec![gy, gt], &[gyb, gtb], w, Activation::Identity).sigmoid();
            let (h_skip, h_in) = fork(h);
            let u = blk.first.forward(p, silu(h_in));
            let u = blk.second.forward(p, silu(u));
            let skip = match &blk.skip {
                Some(s) => s.forward(p, h_skip),
                None => h_skip,
            };
            h = skip + u * gate;
        }
        self.out.forward(p, silu(h))
    }

    /// The weights on the host, for evaluation.
    pub fn host(&self, p: &ParamSet) -> HostField {
        let w = |l: &Dense| host(&p.params[l.weight_index()].tensor);
        let b = |l: &Dense| host(&p.params[l.weight_index() + 1].tensor);
        let sum = |x: Vec<f32>, y: Vec<f32>| x.iter().zip(&y).map(|(a, b)| a + b).collect::<Vec<f32>>();
        let [it, itime, iy] = &self.input;
        let blocks = self
            .blocks
            .iter()
            .map(|k| HostBlock {
                w_in: k.first.n_in(),
                w: k.second.n_out(),
                first: (w(&k.first), b(&k.first)),
                second: (w(&k.second), b(&k.second)),
                gate_data: w(&k.gate_data),
                gate_time: w(&k.gate_time),
                gate_bias: sum(b(&k.gate_data), b(&k.gate_time)),
                skip: k.skip.as_ref().map(|s| (w(s), b(s))),
            })
            .collect();
        HostField {
            d: self.d,
            features: self.features,
            frequencies: self.frequencies,
            w0: it.n_out(),
            theta: w(it),
            time: w(itime),
            data: w(iy),
            bias: sum(sum(b(it), b(itime)), b(iy)),
            blocks,
            out: (w(&self.out), b(&self.out)),
        }
    }
}

struct HostBlock {
    w_in: usize,
    w: usize,
    first: (Vec<f32>, Vec<f32>),
    second: (Vec<f32>, Vec<f32>),
    gate_data: Vec<f32>,
    gate_time: Vec<f32>,
    gate_bias: Vec<f32>,
    skip: Option<(Vec<f32>, Vec<f32>)>,
}

/// The field's weights, copied out of the tensors for the ODE's many passes.
pub struct HostField {
    d: usize,
    features: usize,
    frequencies: usize,
    w0: usize,
    theta: Vec<f32>,
    time: Vec<f32>,
    data: Vec<f32>,
    bias: Vec<f32>,
    blocks: Vec<HostBlock>,
    out: (Vec<f32>, Vec<f32>),
}

/// What the data contribute to the first layer and to each gate: fixed along a whole ODE
/// solve, so computed once. One row per data row, or one row shared by every row.
pub struct DataTerms {
    rows: usize,
    input: Vec<f32>,
    gates: Vec<Vec<f32>>,
}

impl DataTerms {
    fn row(&self, r: usize) -> usize {
        if self.rows == 1 {
            0
        } else {
            r
        }
    }
}

/// x W (+ b in every row) for x (rows × n_in), W (n_in × n_out).
fn affine(x: &[f32], rows: usize, n_in: usize, w: &[f32], b: Option<&[f32]>, n_out: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; rows * n_out];
    if let Some(b) = b {
        y.chunks_exact_mut(n_out.max(1)).for_each(|row| row.copy_from_slice(b));
    }
    gemm(rows, n_out, n_in, &mut y, true, (x, n_in, 1), (w, n_out, 1));
    y
}

#[inline(always)]
/// eˣ without a call into libm, so that loops over it vectorise: 2ᵏ · p(r) with |r| ≤ ln 2 / 2
/// and p the degree-6 Taylor polynomial (relative error below 2e-7, as f32's rounding).
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - k * 0.693_145_75 - k * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// silu(h) and, with tangents, each row's d tangents times silu'(h).
fn silu_with_tangents(h: &[f32], tangents: &[f32], width: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut a = vec![0.0f32; h.len()];
    if tangents.is_empty() {
        a.iter_mut().zip(h).for_each(|(a, &x)| *a = x * sigmoid(x));
        return (a, Vec::new());
    }
    let mut slope = vec![0.0f32; h.len()];
    a.iter_mut().zip(slope.iter_mut()).zip(h).for_each(|((a, g), &x)| {
        let s = sigmoid(x);
        *a = x * s;
        *g = s * (1.0 + x * (1.0 - s));
    });
    let mut da = tangents.to_vec();
    for (chunk, sr) in da.chunks_exact_mut(width * d).zip(slope.chunks_exact(width)) {
        for t in chunk.chunks_exact_mut(width) {
            t.iter_mut().zip(sr).for_each(|(t, s)| *t *= s);
        }
    }
    (a, da)
}

impl HostField {
    /// The data's terms for `rows` rows of features (1 row: shared by every row of θ).
    pub fn data_terms(&self, data: &[f32], rows: usize) -> DataTerms {
        let f = self.features;
        DataTerms {
            rows,
            input: affine(data, rows, f, &self.data, None, self.w0),
            gates: self.blocks.iter().map(|b| affine(data, rows, f, &b.gate_data, None, b.w)).collect(),
        }
    }

    /// v(t, θ, y) for `rows` rows of θ, and with `divergence` also ∇_θ·v per row, in blocks of
    /// rows on rayon's threads (the element-wise work is as large as the products').
    pub fn eval(&self, t: f32, theta: &[f32], rows: usize, terms: &DataTerms, divergence: bool) -> (Vec<f32>, Vec<f32>) {
        const BLOCK: usize = 64;
        let d = self.d;
        let parts: Vec<(Vec<f32>, Vec<f32>)> = theta[..rows * d]
            .par_chunks(BLOCK * d)
            .enumerate()
            .map(|(i, x)| self.eval_block(t, x, x.len() / d.max(1), i * BLOCK, terms, divergence))
            .collect();
        let (mut v, mut div) = (Vec::with_capacity(rows * d), Vec::with_capacity(if divergence { rows } else { 0 }));
        for (a, b) in parts {
            v.extend(a);
            div.extend(b);
        }
        (v, div)
    }

    /// [`HostField::eval`] of rows `first..first + rows`.
    fn eval_block(&self, t: f32, theta: &[f32], rows: usize, first: usize, terms: &DataTerms, divergence: bool) -> (Vec<f32>, Vec<f32>) {
        let d = self.d;
        let mut tau = Vec::with_capacity(time_width(self.frequencies));
        time_features(t, self.frequencies, &mut tau);
        let nt = tau.len();
        // The first layer: θ W_θ + y W_y + τ W_τ + b.
        let shared = affine(&tau, 1, nt, &self.time, Some(&self.bias), self.w0);
        let mut h = Vec::with_capacity(rows * self.w0);
        for r in 0..rows {
            let y = &terms.input[terms.row(first + r) * self.w0..][..self.w0];
            h.extend(y.iter().zip(&shared).map(|(a, b)| a + b));
        }
        gemm(rows, self.w0, d, &mut h, true, (theta, d, 1), (&self.theta, self.w0, 1));
        // ∂h/∂θ_j is row j of W_θ, for every row.
        let mut dh: Vec<f32> = if divergence { self.theta.iter().copied().cycle().take(rows * d * self.w0).collect() } else { Vec::new() };
        for (blk, gate_rows) in self.blocks.iter().zip(&terms.gates) {
            let w = blk.w;
            let gt = affine(&tau, 1, nt, &blk.gate_time, Some(&blk.gate_bias), w);
            let mut gate = vec![0.0f32; rows * w];
            for (r, g) in gate.chunks_exact_mut(w).enumerate() {
                let y = &gate_rows[terms.row(first + r) * w..][..w];
                g.iter_mut().zip(y).zip(&gt).for_each(|((g, a), b)| *g = sigmoid(a + b));
            }
            let (a, da) = silu_with_tangents(&h, &dh, blk.w_in, d);
            let u = affine(&a, rows, blk.w_in, &blk.first.0, Some(&blk.first.1), w);
            let du = if divergence { affine(&da, rows * d, blk.w_in, &blk.first.0, None, w) } else { Vec::new() };
            let (s, ds) = silu_with_tangents(&u, &du, w, d);
            let z = affine(&s, rows, w, &blk.second.0, Some(&blk.second.1), w);
            let dz = if divergence { affine(&ds, rows * d, w, &blk.second.0, None, w) } else { Vec::new() };
            let (mut nh, mut ndh) = match &blk.skip {
                Some((sw, sb)) => (
                    affine(&h, rows, blk.w_in, sw, Some(sb), w),
                    if divergence { affine(&dh, rows * d, blk.w_in, sw, None, w) } else { Vec::new() },
                ),
                None => (h, dh),
            };
            for r in 0..rows {
                let g = &gate[r * w..][..w];
                nh[r * w..][..w].iter_mut().zip(&z[r * w..][..w]).zip(g).for_each(|((h, z), g)| *h += z * g);
                if divergence {
                    for j in 0..d {
                        let at = (r * d + j) * w;
                        ndh[at..at + w].iter_mut().zip(&dz[at..at + w]).zip(g).for_each(|((h, z), g)| *h += z * g);
                    }
                }
            }
            h = nh;
            dh = ndh;
        }
        let width = self.blocks.last().map_or(self.w0, |b| b.w);
        let (a, da) = silu_with_tangents(&h, &dh, width, d);
        let v = affine(&a, rows, width, &self.out.0, Some(&self.out.1), d);
        let div = if divergence {
            let dv = affine(&da, rows * d, width, &self.out.0, None, d);
            (0..rows).map(|r| (0..d).map(|j| dv[(r * d + j) * d + j]).sum()).collect()
        } else {
            Vec::new()
        };
        (v, div)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    fn field(widths: &[usize]) -> (VectorField, ParamSet) {
        let dev = Dev::default();
        let mut rng = StreamFamily::new(3, "t").rng(0);
        let mut params = ParamSet::default();
        let f = VectorField::new(&dev, &mut rng, &mut params, "field", 3, 4, widths, 2);
        (f, params)
    }

    /// The host pass equals the tape pass, and its divergence equals central finite
    /// differences of the field, with and without a width change between blocks.
    #[test]
    fn host_pass_matches_the_tape_and_its_divergence_finite_differences() {
        let dev = Dev::default();
        for widths in [vec![8, 8], vec![6, 10, 5]] {
            let (f, params) = field(&widths);
            let rows = 5;
            let theta: Vec<f32> = (0..rows * 3).map(|i| (i as f32 * 0.61).sin()).collect();
            let data: Vec<f32> = (0..rows * 4).map(|i| (i as f32 * 0.27).cos()).collect();
            let t = 0.37f32;
            let time = f.time_rows(&vec![t; rows]);
            let tape = f.forward(
                &params,
                dev.tensor_from_vec(theta.clone(), (rows, 3)),
                dev.tensor_from_vec(time, (rows, f.time_width())),
                dev.tensor_from_vec(data.clone(), (rows, 4)),
                false,
            );
            let hf = f.host(&params);
            let terms = hf.data_terms(&data, rows);
            let (v, div) = hf.eval(t, &theta, rows, &terms, true);
            for (a, b) in v.iter().zip(tape.as_vec()) {
                assert!((a - b).abs() < 1e-5, "{widths:?}: host {a} vs tape {b}");
            }
            let h = 1e-3f32;
            for r in 0..rows {
                let mut fd = 0.0f64;
                for j in 0..3 {
                    let (mut p, mut m) = (theta.clone(), theta.clone());
                    p[r * 3 + j] += h;
                    m[r * 3 + j] -= h;
                    let vp = hf.eval(t, &p, rows, &terms, false).0;
                    let vm = hf.eval(t, &m, rows, &terms, false).0;
                    fd += (vp[r * 3 + j] - vm[r * 3 + j]) as f64 / (2.0 * h as f64);
                }
                assert!((div[r] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()), "{widths:?} row {r}: divergence {} vs {fd}", div[r]);
            }
            // One data row shared by every row gives the same field as that row repeated.
            let shared = hf.data_terms(&data[..4], 1);
            let repeated: Vec<f32> = data[..4].iter().copied().cycle().take(rows * 4).collect();
            let a = hf.eval(t, &theta, rows, &shared, true);
            let b = hf.eval(t, &theta, rows, &hf.data_terms(&repeated, rows), true);
            for (p, q) in a.0.iter().chain(&a.1).zip(b.0.iter().chain(&b.1)) {
                assert!((p - q).abs() < 1e-6, "shared {p} vs repeated {q}");
            }
        }
    }

    /// The vectorisable exponential is libm's to f32 precision over the range the gates see.
    #[test]
    fn the_fast_exponential_is_accurate() {
        let worst = (-8000..=8000)
            .map(|i| i as f32 * 0.01)
            .map(|x| ((exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs())
            .fold(0.0f64, f64::max);
        assert!(worst < 5e-7, "relative error {worst:e}");
        assert!(sigmoid(-200.0) < 1e-37);
        assert_eq!(sigmoid(200.0), 1.0);
    }

    /// Gradients reach every weight and, when asked, the data.
    #[test]
    fn gradients_reach_every_weight_and_the_data() {
        let dev = Dev::default();
        let (f, params) = field(&[6, 7]);
        let rows = 4;
        let theta: T2 = dev.tensor_from_vec((0..rows * 3).map(|i| (i as f32 * 0.3).sin()).collect(), (rows, 3));
        let time: T2 = dev.tensor_from_vec(f.time_rows(&[0.1, 0.5, 0.7, 0.9]), (rows, f.time_width()));
        let data: T2 = dev.tensor_from_vec((0..rows * 4).map(|i| (i as f32 * 0.2).cos()).collect(), (rows, 4));
        let v = f.forward(&params, theta, time, data.clone().leaky_traced(), true);
        let grads = v.square().sum::<(), _>().backward();
        for p in &params.params {
            assert!(grads.get(&p.tensor).as_vec().iter().any(|g| *g != 0.0), "no gradient for {}", p.name);
        }
        assert!(grads.get(&data).as_vec().iter().all(|g| g.is_finite() && *g != 0.0));
    }
}
