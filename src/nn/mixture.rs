//! A mixture of K full-covariance Gaussians over θ whose weights and components are computed
//! from features h (Chua & Vallisneri, PRL 124 041102, 2020): the head of the `mdn` estimator
//! and of each member of a `deep_ensemble` with `components` > 1.
//!
//! q(x|h) = Σₖ πₖ(h) N(x; μₖ(h), Σₖ(h)),  log q = logsumexp_k [log πₖ + log Nₖ].
//!
//! The log-sum-exp subtracts the per-row maximum (taken as a constant, which leaves the value
//! and its gradient unchanged) so that no exponential overflows.

use super::dense::Dense;
use super::heads::FullGaussianHead;
use super::params::ParamSet;
use super::{Dev, T1, T2};
use crate::math::MvNormal;
use crate::math::SampleRng;
use dfdx::prelude::*;
use rand::Rng;

/// Mixture weights and components from features.
pub struct MixtureHead {
    dev: Dev,
    logits: Dense,
    components: Vec<FullGaussianHead>,
    /// Column k of the K×K identity, to pick a mixture weight.
    pick: Vec<T2>,
}

impl MixtureHead {
    /// K components over d parameters from `n_in` features; parameters named
    /// `{prefix}logits` and `{prefix}component.{k}`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, prefix: &str, n_in: usize, d: usize, k: usize) -> MixtureHead {
        let logits = Dense::new(dev, rng, params, &format!("{prefix}logits"), n_in, k);
        let components = (0..k).map(|i| FullGaussianHead::new(dev, rng, params, &format!("{prefix}component.{i}"), n_in, d)).collect();
        let pick = (0..k)
            .map(|i| {
                let mut v = vec![0.0f32; k];
                v[i] = 1.0;
                dev.tensor_from_vec(v, (k, 1))
            })
            .collect();
        MixtureHead { dev: dev.clone(), logits, components, pick }
    }

    /// log q(θ|h) per row, on the tape of `h`.
    pub fn log_prob<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>, theta: T2) -> T1<Tp> {
        let rows = h.shape().0;
        let (h, tape) = h.split_tape();
        let log_w = self.logits.forward(p, h.clone().put_tape(tape)).log_softmax::<Axis<1>>();
        let (log_w, tape) = log_w.split_tape();
        let mut terms: Vec<T1<Tp>> = Vec::with_capacity(self.components.len());
        let mut tape = Some(tape);
        for (k, comp) in self.components.iter().enumerate() {
            let w = match tape.take() {
                Some(t) => log_w.clone().put_tape(t),
                None => log_w.retaped::<Tp>(),
            };
            let w_k = w.matmul(self.pick[k].clone()).reshape_like(&(rows,));
            terms.push(comp.log_prob(p, h.retaped::<Tp>(), theta.clone()) + w_k);
        }
        // Per-row maximum as a constant shift.
        let values: Vec<Vec<f32>> = terms.iter().map(|t| t.as_vec()).collect();
        let m: Vec<f32> = (0..rows).map(|r| values.iter().map(|v| v[r]).fold(f32::NEG_INFINITY, f32::max)).collect();
        let m: T1 = self.dev.tensor_from_vec(m, (rows,));
        let mut acc: Option<T1<Tp>> = None;
        for t in terms {
            let e = (t - m.clone()).exp();
            acc = Some(match acc {
                None => e,
                Some(a) => a + e,
            });
        }
        acc.expect("at least one component").ln() + m
    }

    /// The mixture of one row of features: weights and components.
    pub fn mixture(&self, p: &ParamSet, h: T2) -> Mixture {
        self.mixtures(p, h).remove(0)
    }

    /// The mixture of every row of features.
    pub fn mixtures(&self, p: &ParamSet, h: T2) -> Vec<Mixture> {
        let rows = h.shape().0;
        let k = self.components.len();
        let weights: Vec<f64> = self.logits.forward(p, h.clone()).softmax::<Axis<1>>().as_vec().into_iter().map(|v| v as f64).collect();
        let mut per_component: Vec<std::vec::IntoIter<MvNormal>> =
            self.components.iter().map(|c| c.normals(p, h.clone()).into_iter()).collect();
        (0..rows)
            .map(|r| Mixture {
                weights: weights[r * k..(r + 1) * k].to_vec(),
                components: per_component.iter_mut().map(|c| c.next().expect("one Gaussian per row")).collect(),
            })
            .collect()
    }
}

/// One mixture of Gaussians, ready to draw from.
pub struct Mixture {
    /// Weights πₖ, summing to one.
    pub weights: Vec<f64>,
    /// The Gaussians.
    pub components: Vec<MvNormal>,
}

impl Mixture {
    /// One draw: a component by its weight, then a draw from it.
    pub fn sample(&self, rng: &mut SampleRng) -> Vec<f64> {
        let u: f64 = rng.gen();
        let mut acc = 0.0;
        let k = self.weights.iter().position(|&p| {
            acc += p;
            u < acc
        });
        self.components[k.unwrap_or(self.weights.len() - 1)].sample(rng)
    }
}
