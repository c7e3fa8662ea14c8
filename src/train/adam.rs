//! Adam (Kingma & Ba 2014) over a [`ParamSet`], with the learning rate given per step so that
//! schedules live outside the optimizer.
//!
//! One fused pass per parameter updates both moments and the master weights, reading the
//! gradient where backward left it (no copy; a CUDA build copies it to the host first), in
//! chunks on rayon's threads; the network's tensors then take the new weights in one copy each.

use crate::nn::{Dev, ParamSet};
use crate::train::AdamSpec;
use dfdx::prelude::*;
use rayon::prelude::*;

/// Adam's moments and a master copy of the weights.
pub struct Adam {
    cfg: AdamSpec,
    t: i32,
    w: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

/// A parameter's gradient in host memory: where backward left it on the CPU; copied from the
/// GPU in a CUDA build, where the update runs on the host too (the weights are small beside a
/// batch's activations, and the moments stay where checkpoints read them).
#[cfg(not(feature = "cuda"))]
fn gradient<'a>(grads: &'a mut Gradients<f32, Dev>, t: &crate::nn::Param) -> Option<std::borrow::Cow<'a, [f32]>> {
    grads.get_or_alloc_mut(t).ok().map(|g| std::borrow::Cow::Borrowed(&g[..]))
}

/// A parameter's gradient in host memory (see the CPU build's).
#[cfg(feature = "cuda")]
fn gradient<'a>(grads: &'a mut Gradients<f32, Dev>, t: &crate::nn::Param) -> Option<std::borrow::Cow<'a, [f32]>> {
    grads.get_or_alloc_mut(t).ok()?;
    Some(std::borrow::Cow::Owned(grads.get(t).as_vec()))
}

/// Values per parallel chunk: large enough that a chunk outweighs handing it to a thread.
const CHUNK: usize = 1 << 14;

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

    /// One update with learning rate `lr` from `grads` (a parameter without a gradient, which
    /// the loss did not reach, is left alone).
    pub fn step(&mut self, params: &mut ParamSet, grads: &mut Gradients<f32, Dev>, lr: f64) {
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
            let Some(g) = gradient(grads, &p.tensor) else { continue };
            let g: &[f32] = &g;
            let (w, m, v) = (&mut self.w[i], &mut self.m[i], &mut self.v[i]);
            let update = |((w, m), v): ((&mut [f32], &mut [f32]), &mut [f32]), g: &[f32]| {
                for k in 0..g.len() {
                    m[k] = b1 * m[k] + (1.0 - b1) * g[k];
                    v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
                    w[k] -= step * m[k] / ((v[k] / c2).sqrt() + eps);
                }
            };
            if g.len() > CHUNK {
                w.par_chunks_mut(CHUNK)
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v.par_chunks_mut(CHUNK))
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|(wmv, g)| update(wmv, g));
            } else {
                update(((w, m), v), g);
            }
            p.tensor.copy_from(w);
        }
    }
}
