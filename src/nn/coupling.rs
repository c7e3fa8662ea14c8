//! A conditional normalizing flow of rational-quadratic spline couplings (Durkan et al. 2019;
//! Green & Gair, arXiv:2008.03312): the body of the `nsf` estimator and of both flows of
//! `cvae_flow`.
//!
//! Each coupling leaves one half of the values unchanged and moves the other half through
//! monotonic splines whose knots a network computes from the unchanged half and the context;
//! the halves swap between couplings. With u the output of the last coupling and standard
//! normal base,
//!
//! log q(x|c) = log N(u; 0, I) + Σ log |∂u/∂x|,
//!
//! exact in one pass; the inverse is one pass too (a coupling is inverted given its unchanged
//! half), so sampling costs the same as evaluating.

use super::dense::{Dense, Mlp};
use super::params::ParamSet;
use super::spline::SplineShape;
use super::{fork, Dev, T1, T2};
use crate::math::LN_2PI;
use dfdx::prelude::*;
use rand::Rng;

/// The network that computes the spline parameters of one coupling.
#[derive(Clone, Debug)]
struct Conditioner {
    /// From the unchanged half (absent when there is none, for one-dimensional x).
    from_x: Option<Dense>,
    from_context: Dense,
    trunk: Mlp,
    widths: Dense,
    heights: Dense,
    derivs: Dense,
}

#[derive(Clone, Debug)]
struct Coupling {
    /// d × |kept| and d × |changed| selection matrices (and their transposes, to put x back).
    keep: Option<(T2, T2)>,
    change: (T2, T2),
    n_change: usize,
    change_idx: Vec<usize>,
    net: Conditioner,
}

/// A stack of spline couplings over `d` values, conditioned on a context vector.
#[derive(Clone, Debug)]
pub struct SplineFlow {
    d: usize,
    spline: SplineShape,
    couplings: Vec<Coupling>,
}

fn selection(dev: &Dev, d: usize, idx: &[usize]) -> (T2, T2) {
    let mut m = vec![0.0f32; d * idx.len()];
    let mut t = vec![0.0f32; d * idx.len()];
    for (j, &i) in idx.iter().enumerate() {
        m[i * idx.len() + j] = 1.0;
        t[j * d + i] = 1.0;
    }
    (dev.tensor_from_vec(m, (d, idx.len())), dev.tensor_from_vec(t, (idx.len(), d)))
}

impl Conditioner {
    fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x_keep: Option<T2<Tp>>, ctx: T2<Tp>) -> (T2<Tp>, T2<Tp>, T2<Tp>) {
        let term = self.from_context.forward(p, ctx);
        self.forward_with_term(p, x_keep, term)
    }

    /// The same, given the context's contribution to the first layer.
    fn forward_with_term<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x_keep: Option<T2<Tp>>, term: T2<Tp>) -> (T2<Tp>, T2<Tp>, T2<Tp>) {
        let mut h = term;
        if let (Some(layer), Some(x)) = (&self.from_x, x_keep) {
            h = h + layer.forward(p, x);
        }
        let h = self.trunk.forward(p, h.relu());
        let (h, tape) = h.split_tape();
        let w = self.widths.forward(p, h.clone().put_tape(tape));
        let ht = self.heights.forward(p, h.clone().retaped::<Tp>());
        let dv = self.derivs.forward(p, h.retaped::<Tp>());
        (w, ht, dv)
    }
}

impl SplineFlow {
    /// A flow of `blocks` couplings over `d` values with a context of width `context`,
    /// registered in `params` as `<name>.<block>.*`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dev: &Dev,
        rng: &mut impl Rng,
        params: &mut ParamSet,
        name: &str,
        d: usize,
        context: usize,
        hidden: &[usize],
        blocks: usize,
        bins: usize,
        bound: f64,
    ) -> SplineFlow {
        let spline = SplineShape::new(dev, bins, bound as f32);
        let h0 = hidden[0];
        let couplings = (0..blocks)
            .map(|b| {
                // Alternate which half moves; with one value, it moves every time.
                let half = d / 2;
                let (keep, change): (Vec<usize>, Vec<usize>) = if d == 1 {
                    (vec![], vec![0])
                } else if b % 2 == 0 {
                    ((0..half).collect(), (half..d).collect())
                } else {
                    ((d - half..d).collect(), (0..d - half).collect())
                };
                let nm = format!("{name}.{b}");
                let from_x = (!keep.is_empty()).then(|| Dense::new(dev, rng, params, &format!("{nm}.x"), keep.len(), h0));
                let from_context = Dense::new(dev, rng, params, &format!("{nm}.context"), context, h0);
                let trunk = Mlp::new(dev, rng, params, &format!("{nm}.hidden"), h0, &hidden[1..]);
                let n_out = trunk.n_out();
                let nc = change.len();
                let widths = Dense::new(dev, rng, params, &format!("{nm}.widths"), n_out, nc * bins);
                let heights = Dense::new(dev, rng, params, &format!("{nm}.heights"), n_out, nc * bins);
                let derivs = Dense::new(dev, rng, params, &format!("{nm}.derivatives"), n_out, nc * (bins - 1));
                Coupling {
                    keep: (!keep.is_empty()).then(|| selection(dev, d, &keep)),
                    change: selection(dev, d, &change),
                    n_change: nc,
                    change_idx: change.clone(),
                    net: Conditioner { from_x, from_context, trunk, widths, heights, derivs },
                }
            })
            .collect();
        SplineFlow { d, spline, couplings }
    }

    /// log q(x|c) per row, on the tape.
    ///
    /// # Shapes
    /// `x`: (rows, d), `ctx`: (rows, context) → (rows,).
    pub fn log_prob<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, ctx: T2<Tp>) -> T1<Tp> {
        let rows = x.shape().0;
        let k = self.spline.bins();
        let mut x = x;
        let mut ctx = ctx;
        let mut log_det: Option<T1<Tp>> = None;
        for c in &self.couplings {
            let (c_now, c_rest) = fork(ctx);
            ctx = c_rest;
            let (x_a, x_b) = fork(x);
            let (x_a, x_keep_out) = fork(x_a);
            // x_a carries the tape so far: it is always used, through `kept` or as a zero term.
            let (kept, unused) = match &c.keep {
                Some((m, _)) => (Some(x_a.matmul(m.clone())), None),
                None => (None, Some(x_a)),
            };
            let (w, h, dv) = c.net.forward(p, kept, c_now);
            let nc = c.n_change;
            let knots =
                self.spline.knots(w.reshape_like(&(rows * nc, k)), h.reshape_like(&(rows * nc, k)), dv.reshape_like(&(rows * nc, k - 1)));
            let moved = x_b.matmul(c.change.0.clone()).reshape_like(&(rows * nc,));
            let (y, ld) = self.spline.forward(moved, knots);
            let y = y.reshape_like(&(rows, nc)).matmul(c.change.1.clone());
            x = match (&c.keep, unused) {
                (Some((m, mt)), _) => x_keep_out.matmul(m.clone()).matmul(mt.clone()) + y,
                (None, Some(u)) => y + u * 0.0,
                (None, None) => y,
            };
            let ld = ld.reshape_like(&(rows, nc)).sum::<(usize,), Axis<1>>();
            log_det = Some(match log_det {
                None => ld,
                Some(l) => l + ld,
            });
        }
        let _ = ctx;
        let base = x.square().sum::<(usize,), Axis<1>>() * -0.5 - 0.5 * self.d as f32 * LN_2PI as f32;
        match log_det {
            Some(l) => base + l,
            None => base,
        }
    }

    /// Maps base draws u (rows × d, row-major) to x, with one context row per draw.
    pub fn inverse(&self, p: &ParamSet, u: Vec<f64>, ctx: &T2) -> Vec<f64> {
        self.inverse_with(p, u, ctx.shape().0, ctx.device(), |c: &Coupling| c.net.from_context.forward(p, ctx.clone()))
    }

    /// The same for draws that all share one context row (1 × context): its contribution to
    /// each conditioner is computed once instead of once per draw.
    pub fn inverse_shared(&self, p: &ParamSet, u: Vec<f64>, ctx: &T2) -> Vec<f64> {
        let rows = u.len() / self.d;
        self.inverse_with(p, u, rows, ctx.device(), |c: &Coupling| {
            let term = c.net.from_context.forward(p, ctx.clone());
            let w = term.shape().1;
            // Materialised: a broadcast view would be read with stride 0 by every later op.
            let v = term.as_vec();
            ctx.device().tensor_from_vec(v.iter().copied().cycle().take(rows * w).collect(), (rows, w))
        })
    }

    fn inverse_with(&self, p: &ParamSet, u: Vec<f64>, rows: usize, dev: &Dev, term: impl Fn(&Coupling) -> T2) -> Vec<f64> {
        let dev = dev.clone();
        let (d, k) = (self.d, self.spline.bins());
        let mut x = u;
        for c in self.couplings.iter().rev() {
            let kept = c.keep.as_ref().map(|(m, _)| {
                let xt: T2 = dev.tensor_from_vec(x.iter().map(|&v| v as f32).collect(), (rows, d));
                xt.matmul(m.clone())
            });
            let (w, h, dv) = c.net.forward_with_term(p, kept, term(c));
            let nc = c.n_change;
            let knots = self.spline.host_knots(
                w.reshape_like(&(rows * nc, k)),
                h.reshape_like(&(rows * nc, k)),
                dv.reshape_like(&(rows * nc, k - 1)),
            );
            let idx = &c.change_idx;
            let moved: Vec<f64> = (0..rows).flat_map(|r| idx.iter().map(|&i| x[r * d + i]).collect::<Vec<_>>()).collect();
            let back = self.spline.inverse(&moved, &knots);
            for r in 0..rows {
                for (j, &i) in idx.iter().enumerate() {
                    x[r * d + i] = back[r * nc + j];
                }
            }
        }
        x
    }
}
