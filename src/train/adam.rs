//! Adam (Kingma & Ba 2014) over a [`ParamSet`], with the learning rate given per step so that
//! schedules live outside the optimizer.

use crate::nn::{Dev, ParamSet};
use crate::spec::AdamSpec;
use dfdx::prelude::*;

/// Adam's moments and a master copy of the weights.
pub struct Adam {
    cfg: AdamSpec,
    t: i32,
    w: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Fresh state for `params`.
    pub fn new(cfg: &AdamSpec, params: &ParamSet) -> Adam {
        let w = params.to_flat();
        let zeros: Vec<Vec<f32>> = w.iter().map(|p| vec![0.0; p.len()]).collect();
        Adam { cfg: cfg.clone(), t: 0, w, m: zeros.clone(), v: zeros }
    }

    /// Steps taken, first and second moments: what a checkpoint keeps.
    pub fn moments(&self) -> (i32, &[Vec<f32>], &[Vec<f32>]) {
        (self.t, &self.m, &self.v)
    }

    /// Resumes from a checkpoint: step count, the weights now, and the moments.
    pub fn restore(&mut self, t: i32, w: Vec<Vec<f32>>, m: Vec<Vec<f32>>, v: Vec<Vec<f32>>) {
        (self.t, self.w, self.m, self.v) = (t, w, m, v);
    }

    /// One update with learning rate `lr` from `grads`.
    pub fn step(&mut self, params: &mut ParamSet, grads: &Gradients<f32, Dev>, lr: f64) {
        self.t += 1;
        let (b1, b2) = (self.cfg.beta1 as f32, self.cfg.beta2 as f32);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        let step = lr as f32 / c1;
        let eps = self.cfg.eps as f32;
        for (i, p) in params.params.iter_mut().enumerate() {
            if !p.trainable {
                continue;
            }
            let g = grads.get(&p.tensor).as_vec();
            let (w, m, v) = (&mut self.w[i], &mut self.m[i], &mut self.v[i]);
            for k in 0..g.len() {
                m[k] = b1 * m[k] + (1.0 - b1) * g[k];
                v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
                w[k] -= step * m[k] / ((v[k] / c2).sqrt() + eps);
            }
            p.tensor.copy_from(w);
        }
    }
}
