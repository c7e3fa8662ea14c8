//! Mini-batches: a fresh permutation of the training split per epoch, drawn from
//! (seed, epoch), z-scored as rows are gathered.

use super::{Split, ZScore};
use crate::sim::StreamFamily;
use rand::Rng;

/// The batches of one epoch.
pub struct Batches<'a> {
    split: &'a Split,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
    theta_z: &'a ZScore,
    data_z: &'a ZScore,
}

/// One z-scored batch, row-major.
pub struct Batch {
    /// Rows in the batch.
    pub rows: usize,
    /// θ, rows × theta_dim.
    pub theta: Vec<f32>,
    /// y, rows × data_dim.
    pub data: Vec<f32>,
}

impl<'a> Batches<'a> {
    /// Shuffled batches of `split` for `epoch`; `shuffle_seed = None` keeps the order (evaluation).
    pub fn new(split: &'a Split, batch_size: usize, shuffle: Option<(u64, u64)>, theta_z: &'a ZScore, data_z: &'a ZScore) -> Self {
        let n = split.len();
        let mut order: Vec<usize> = (0..n).collect();
        if let Some((seed, epoch)) = shuffle {
            let mut rng = StreamFamily::new(seed, "shuffle").rng(epoch);
            for i in (1..n).rev() {
                let j = rng.gen_range(0..=i);
                order.swap(i, j);
            }
        }
        Batches { split, order, batch_size, pos: 0, theta_z, data_z }
    }

    /// Number of batches in the epoch.
    pub fn count(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }
}

impl Iterator for Batches<'_> {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let idx = &self.order[self.pos..end];
        self.pos = end;
        let (dt, dd) = (self.split.theta.cols, self.split.data.cols);
        let mut theta = vec![0.0f32; idx.len() * dt];
        let mut data = vec![0.0f32; idx.len() * dd];
        for (r, &i) in idx.iter().enumerate() {
            self.theta_z.forward_row(self.split.theta_row(i), &mut theta[r * dt..(r + 1) * dt]);
            self.data_z.forward_row(self.split.data_row(i), &mut data[r * dd..(r + 1) * dd]);
        }
        Some(Batch { rows: idx.len(), theta, data })
    }
}
