//! The `maf` estimator: a conditional masked autoregressive flow (Papamakarios et al. 2017;
//! Green, Simpson & Gair, arXiv:2002.07656).
//!
//! Each block is a MADE network that maps x to u = (x − μ(x_<i, y)) e^{−α(x_<i, y)}, with the
//! autoregressive structure enforced by masking the weights (weight × constant mask). The order
//! of the parameters is reversed between blocks. With u of the last block standard normal,
//!
//! log q(x|y) = log N(u; 0, I) − Σ_blocks Σᵢ αᵢ,
//!
//! exact and in one pass; sampling inverts the blocks one parameter at a time. The data y (or
//! their embedding, `model.embedding`) enter every MADE as context.

use super::dense::{Activation, Dense};
use super::kernels::linear::linear_sum;
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{fork, DensityEstimator, Dev, LossContext, Network, T0, T1, T2};
use crate::math::LN_2PI;
use crate::math::SampleRng;
use crate::config::number;
use crate::config::{at_least, at_most, hidden_widths};
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// A masked dense layer: y = act(x (W ⊙ M) + b).
#[derive(Debug, Clone)]
struct Masked {
    dense: Dense,
    /// M, flat (n_in × n_out).
    mask: Vec<f32>,
}

impl Masked {
    fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, act: Activation) -> T2<Tp> {
        self.dense.forward_masked(p, x, &self.mask, act)
    }
}

/// One MADE block conditioned on the embedding of y.
#[derive(Debug, Clone)]
struct Made {
    input: Masked,
    context: Dense,
    hidden: Vec<Masked>,
    mean: Masked,
    log_scale: Masked,
}

fn mask(rows: &[usize], cols: &[usize], strict: bool) -> Vec<f32> {
    rows.iter().flat_map(|&r| cols.iter().map(move |&c| if (strict && c > r) || (!strict && c >= r) { 1.0 } else { 0.0 })).collect()
}

impl Made {
    fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, d: usize, context: usize, hidden: &[usize]) -> Made {
        // Degrees: inputs 1..d, hidden units cycle through 1..d−1, outputs 1..d.
        let deg_in: Vec<usize> = (1..=d).collect();
        let hidden_deg = |w: usize| -> Vec<usize> { (0..w).map(|k| if d > 1 { k % (d - 1) + 1 } else { 0 }).collect() };
        let mut prev = deg_in.clone();
        let h0 = hidden[0];
        let d0 = hidden_deg(h0);
        let input = Masked { dense: Dense::new(dev, rng, params, &format!("{name}.input"), d, h0), mask: mask(&prev, &d0, false) };
        let context = Dense::new(dev, rng, params, &format!("{name}.context"), context, h0);
        prev = d0;
        let mut layers = Vec::new();
        for (i, &w) in hidden.iter().enumerate().skip(1) {
            let dg = hidden_deg(w);
            layers.push(Masked {
                dense: Dense::new(dev, rng, params, &format!("{name}.hidden.{i}"), prev.len(), w),
                mask: mask(&prev, &dg, false),
            });
            prev = dg;
        }
        // Output i may see hidden units of degree < i (strictly).
        let out_mask = mask(&prev, &deg_in, true);
        let mean = Masked { dense: Dense::new(dev, rng, params, &format!("{name}.mean"), prev.len(), d), mask: out_mask.clone() };
        let log_scale = Masked { dense: Dense::new(dev, rng, params, &format!("{name}.log_scale"), prev.len(), d), mask: out_mask };
        Made { input, context, hidden: layers, mean, log_scale }
    }

    /// (μ, α) for inputs x and context c.
    fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, c: T2<Tp>) -> (T2<Tp>, T2<Tp>) {
        let ((xi, bi), (ci, bc)) = (self.input.dense.input(p, x, true, Some(&self.input.mask)), self.context.input(p, c, true, None));
        self.forward_from(p, linear_sum(vec![xi, ci], &[bi, bc], self.input.dense.n_out(), Activation::Relu))
    }

    /// (μ, α) given the context's contribution to the first layer (computed once when sampling).
    fn forward_with_context_term<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, term: T2<Tp>) -> (T2<Tp>, T2<Tp>) {
        self.forward_from(p, (self.input.forward(p, x, Activation::Identity) + term).relu())
    }

    /// (μ, α) from the first hidden layer's output.
    fn forward_from<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, mut h: T2<Tp>) -> (T2<Tp>, T2<Tp>) {
        for l in &self.hidden {
            h = l.forward(p, h, Activation::Relu);
        }
        let (h, tape) = h.split_tape();
        let mean = self.mean.forward(p, h.clone().put_tape(tape), Activation::Identity);
        // Bounded α keeps e^α finite early in training.
        let alpha = (self.log_scale.forward(p, h.retaped::<Tp>(), Activation::Identity) * (1.0 / 5.0)).tanh() * 5.0;
        (mean, alpha)
    }
}

/// Batch normalisation as a bijection between blocks (Papamakarios et al. 2017, §3.4):
/// u = (x − m) / √(v + ε) · e^γ + β, with the batch's mean and variance while training and
/// running averages otherwise; log |det| = Σᵢ γᵢ − ½ log(vᵢ + ε).
struct BatchNorm {
    log_gamma: usize,
    beta: usize,
    mean: usize,
    var: usize,
    /// The last training batch's (mean, variance), folded into the buffers after the step.
    pending: Mutex<Option<(Vec<f32>, Vec<f32>)>>,
}

const BN_EPS: f32 = 1e-5;
const BN_MOMENTUM: f32 = 0.05;

impl BatchNorm {
    fn new(dev: &Dev, params: &mut ParamSet, name: &str, d: usize) -> BatchNorm {
        let log_gamma = params.params.len();
        params.push(dev, &format!("{name}.log_gamma"), &[d], vec![0.0; d]);
        let beta = params.params.len();
        params.push(dev, &format!("{name}.beta"), &[d], vec![0.0; d]);
        let mean = params.push_buffer(dev, &format!("{name}.running_mean"), vec![0.0; d]);
        let var = params.push_buffer(dev, &format!("{name}.running_var"), vec![1.0; d]);
        BatchNorm { log_gamma, beta, mean, var, pending: Mutex::new(None) }
    }

    /// (u, log |det| per row).
    fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, training: bool) -> (T2<Tp>, T1<Tp>) {
        let (rows, d) = (x.shape().0, x.shape().1);
        let (centred, var): (T2<Tp>, T1<Tp>) = if training {
            let (x, x2) = fork(x);
            let (mean, tape) = x2.mean::<(usize,), Axis<0>>().split_tape();
            let mean_v = mean.as_vec();
            let (centred, c2) = fork(x - mean.put_tape(tape).broadcast_like::<_, Axis<0>>(&(rows, d)));
            let (var, tape) = c2.square().mean::<(usize,), Axis<0>>().split_tape();
            if let Ok(mut pending) = self.pending.lock() {
                *pending = Some((mean_v, var.as_vec()));
            }
            (centred, var.put_tape(tape))
        } else {
            let mean = p.params[self.mean].tensor.clone();
            let var = p.params[self.var].tensor.clone().retaped::<Tp>();
            (x - mean.broadcast_like::<_, Axis<0>>(&(rows, d)), var)
        };
        let (var, var2) = fork(var + BN_EPS);
        let (log_gamma, lg2) = fork(p.params[self.log_gamma].tensor.clone().retaped::<Tp>());
        let scale = log_gamma.exp() / var.sqrt();
        let u = centred * scale.broadcast_like::<_, Axis<0>>(&(rows, d))
            + p.params[self.beta].tensor.clone().broadcast_like::<_, Axis<0>>(&(rows, d));
        let log_det = (lg2 - var2.ln() * 0.5).sum::<(), _>().broadcast_like::<_, Axis<0>>(&(rows,));
        (u, log_det)
    }

    /// x from u with the running statistics, row-major on the host.
    fn inverse(&self, p: &ParamSet, u: &mut [f32], d: usize) {
        let (lg, b) = (p.params[self.log_gamma].tensor.as_vec(), p.params[self.beta].tensor.as_vec());
        let (m, v) = (p.params[self.mean].tensor.as_vec(), p.params[self.var].tensor.as_vec());
        for row in u.chunks_exact_mut(d) {
            for i in 0..d {
                row[i] = (row[i] - b[i]) * (-lg[i]).exp() * (v[i] + BN_EPS).sqrt() + m[i];
            }
        }
    }

    /// Running averages ← the pending batch statistics.
    fn update(&self, p: &mut ParamSet) {
        let Some((bm, bv)) = self.pending.lock().ok().and_then(|mut g| g.take()) else { return };
        for (idx, batch) in [(self.mean, bm), (self.var, bv)] {
            let mut run = p.params[idx].tensor.as_vec();
            for (r, b) in run.iter_mut().zip(batch) {
                *r += BN_MOMENTUM * (b - *r);
            }
            p.params[idx].tensor.copy_from(&run);
        }
    }
}

/// Settings of the `maf` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MafSpec {
    /// Number of MADE blocks (the parameter order is reversed between them).
    #[serde(deserialize_with = "number::usize")]
    pub blocks: usize,
    /// Hidden widths of each MADE (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Network that embeds y for every block: a list of MLP widths or a `conv1d` section.
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
    /// Batch normalisation between blocks (batch statistics in training, running averages
    /// otherwise; Papamakarios et al. 2017).
    pub batch_norm: bool,
}

impl Default for MafSpec {
    fn default() -> Self {
        MafSpec { blocks: 5, hidden: vec![64, 64], embedding: Some(EmbeddingSpec::mlp(vec![64, 64])), batch_norm: false }
    }
}

impl EstimatorConfig for MafSpec {
    const KIND: &'static str = "maf";
    const LOSS: LossKind = LossKind::Nll;
    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        at_least("model.blocks", self.blocks, 1)?;
        at_most("model.blocks", self.blocks, 256)?;
        hidden_widths(&self.hidden, Some("each MADE block needs at least one hidden layer"))
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Density(Box::new(MafNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        MafSpec { blocks: 3, hidden: vec![16], embedding: Some(EmbeddingSpec::mlp(vec![16])), batch_norm: true }
    }
}

/// The flow.
pub struct MafNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    blocks: Vec<Made>,
    /// Reverses the parameter order between blocks (d × d).
    reverse: T2,
    /// Batch norm after every block but the last (empty unless `batch_norm`).
    norms: Vec<BatchNorm>,
    params: ParamSet,
}
thread_safe_on_gpu!(MafNet);

impl MafNet {
    /// A new flow, initialised from `rng`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, mut params: ParamSet, spec: &MafSpec, theta_dim: usize, data_dim: usize) -> MafNet {
        let c = data_dim;
        let blocks =
            (0..spec.blocks).map(|b| Made::new(dev, rng, &mut params, &format!("block.{b}"), theta_dim, c, &spec.hidden)).collect();
        let norms = if spec.batch_norm {
            (1..spec.blocks).map(|b| BatchNorm::new(dev, &mut params, &format!("norm.{b}"), theta_dim)).collect()
        } else {
            Vec::new()
        };
        let mut rev = vec![0.0f32; theta_dim * theta_dim];
        for i in 0..theta_dim {
            rev[i * theta_dim + (theta_dim - 1 - i)] = 1.0;
        }
        MafNet {
            dev: dev.clone(),
            d: theta_dim,
            data_dim,
            blocks,
            reverse: dev.tensor_from_vec(rev, (theta_dim, theta_dim)),
            norms,
            params,
        }
    }

    /// log q per row, on the tape of `data`.
    fn log_prob_rows<Tp: Tape<f32, Dev>>(&self, theta: T2, data: T2<Tp>, training: bool) -> T1<Tp> {
        let p = &self.params;
        let (c, mut c_next) = fork(data);
        let mut x: T2<Tp> = theta.retaped::<Tp>();
        let mut log_det: Option<T1<Tp>> = None;
        let mut first = Some(c);
        for (b, block) in self.blocks.iter().enumerate() {
            if b > 0 {
                if let Some(norm) = self.norms.get(b - 1) {
                    let (u, ld) = norm.forward(&self.params, x, training);
                    x = u;
                    log_det = Some(match log_det {
                        None => ld.negate(),
                        Some(l) => l - ld,
                    });
                }
                x = x.matmul(self.reverse.clone());
            }
            let ctx = match first.take() {
                Some(c) => c,
                None => {
                    let (a, rest) = fork(c_next);
                    c_next = rest;
                    a
                }
            };
            let (x_in, x_keep) = fork(x);
            let (mean, alpha) = block.forward(p, x_in, ctx);
            let (alpha, alpha2) = fork(alpha);
            x = (x_keep - mean) * alpha.negate().exp();
            let s = alpha2.sum::<(usize,), Axis<1>>();
            log_det = Some(match log_det {
                None => s,
                Some(l) => l + s,
            });
        }
        let quad = x.square().sum::<(usize,), Axis<1>>() * -0.5;
        let base = quad - 0.5 * self.d as f32 * LN_2PI as f32;
        match log_det {
            Some(l) => base - l,
            None => base,
        }
    }
}

impl Network for MafNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        self.log_prob_rows(theta, data, ctx.training).mean::<(), _>().negate()
    }

    fn update_buffers(&mut self) {
        for norm in &self.norms {
            norm.update(&mut self.params);
        }
    }
}

impl DensityEstimator for MafNet {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        let t: T2 = self.dev.tensor_from_vec(theta.to_vec(), (rows, self.d));
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        self.log_prob_rows(t, y, false).as_vec().into_iter().map(|v| v as f64).collect()
    }

    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        let d = self.d;
        let p = &self.params;
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (1, self.data_dim));
        let c: T2 = y;
        // u ~ N(0, I), then invert the blocks from last to first, one parameter at a time.
        let mut x: Vec<f32> = (0..n * d).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
        for (b, block) in self.blocks.iter().enumerate().rev() {
            let u = x.clone();
            let mut cur = vec![0.0f32; n * d];
            // The one observation's context term, computed once and shared by all n rows.
            let term = block.context.forward(p, c.clone());
            let width = term.shape().1;
            let term = term.reshape_like(&(width,)).broadcast_like::<_, Axis<0>>(&(n, width));
            for i in 0..d {
                let xt: T2 = self.dev.tensor_from_vec(cur.clone(), (n, d));
                let (mean, alpha) = block.forward_with_context_term(p, xt, term.clone());
                let (mean, alpha) = (mean.as_vec(), alpha.as_vec());
                for r in 0..n {
                    cur[r * d + i] = u[r * d + i] * alpha[r * d + i].exp() + mean[r * d + i];
                }
            }
            x = cur;
            if b > 0 {
                // Undo the reversal and the batch norm that preceded this block.
                for r in 0..n {
                    x[r * d..(r + 1) * d].reverse();
                }
                if let Some(norm) = self.norms.get(b - 1) {
                    norm.inverse(&self.params, &mut x, d);
                }
            }
        }
        x.into_iter().map(|v| v as f64).collect()
    }
}
