//! Named, runtime-shaped parameters: what the optimizer updates and safetensors stores.
//!
//! dfdx 0.13's ready-made layers fix their sizes at compile time; ndelab's sizes come from
//! YAML, so every parameter is a flat `(usize,)` tensor reshaped where it is used.

use super::{Dev, Param};
use dfdx::prelude::*;
use rand::Rng;

/// One parameter tensor with its name and logical shape.
#[derive(Clone, Debug)]
pub struct NamedParam {
    /// Stable name (`trunk.0.weight`), the key in model.safetensors.
    pub name: String,
    /// Logical shape.
    pub shape: Vec<usize>,
    /// The values, flat.
    pub tensor: Param,
    /// False for buffers (batch-norm running statistics): saved with the weights, never
    /// updated by the optimizer.
    pub trainable: bool,
}

/// All parameters of a network, in a fixed order.
#[derive(Clone, Debug, Default)]
pub struct ParamSet {
    /// The parameters.
    pub params: Vec<NamedParam>,
}

impl ParamSet {
    /// Adds a parameter with PyTorch's default Linear initialisation, U(-1/√fan_in, 1/√fan_in).
    pub fn uniform(&mut self, dev: &Dev, rng: &mut impl Rng, name: &str, shape: &[usize], fan_in: usize) -> Param {
        let n: usize = shape.iter().product();
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-bound..bound)).collect();
        self.push(dev, name, shape, v)
    }

    /// Adds a parameter with the given values.
    pub fn push(&mut self, dev: &Dev, name: &str, shape: &[usize], values: Vec<f32>) -> Param {
        let n = values.len();
        let t = dev.tensor_from_vec(values, (n,));
        self.params.push(NamedParam { name: name.to_string(), shape: shape.to_vec(), tensor: t.clone(), trainable: true });
        t
    }

    /// Adds a buffer (not trained) with the given values; returns its index.
    pub fn push_buffer(&mut self, dev: &Dev, name: &str, values: Vec<f32>) -> usize {
        let n = values.len();
        let t = dev.tensor_from_vec(values, (n,));
        self.params.push(NamedParam { name: name.to_string(), shape: vec![n], tensor: t, trainable: false });
        self.params.len() - 1
    }

    /// Total number of trainable scalars.
    pub fn count(&self) -> usize {
        self.params.iter().filter(|p| p.trainable).map(|p| p.tensor.shape().0).sum()
    }

    /// All values, concatenated in order.
    pub fn to_flat(&self) -> Vec<Vec<f32>> {
        self.params.iter().map(|p| p.tensor.as_vec()).collect()
    }

    /// Overwrites every parameter with `values` (same order and sizes).
    pub fn restore(&mut self, values: &[Vec<f32>]) {
        for (p, v) in self.params.iter_mut().zip(values) {
            p.tensor.copy_from(v);
        }
    }
}
