//! Mini-batches: a fresh permutation of the training split per epoch (of its rows, or of
//! blocks of rows and the rows within each), drawn from (seed, epoch), z-scored as rows are gathered; with fresh noise, each (epoch, sample) gets
//! its own noise realisation from the stream (seed, epoch · n + sample).

use super::{Split, ZScore};
use crate::math::StreamFamily;
use crate::sim::Simulator;
use crate::data::Shuffle;
use rand::Rng;
use rayon::prelude::*;

/// Where fresh training noise comes from.
#[derive(Clone, Copy)]
pub struct FreshNoise<'a> {
    sim: &'a dyn Simulator,
    /// Derived once: building a stream family hashes, and this runs for every row of every batch.
    streams: StreamFamily,
}

impl<'a> FreshNoise<'a> {
    /// Noise from `sim`'s noise model, drawn from streams of the training `seed`.
    pub fn new(sim: &'a dyn Simulator, seed: u64) -> FreshNoise<'a> {
        FreshNoise { sim, streams: StreamFamily::new(seed, "train-noise") }
    }

    /// Adds the noise of (epoch, sample) to a noise-free row; epochs count from 1, and epoch 0
    /// is the draw used to fit the z-scoring.
    pub fn add(&self, epoch: u64, sample: usize, n: usize, row: &mut [f64]) {
        let mut rng = self.streams.rng(epoch * n as u64 + sample as u64);
        let mut noise = vec![0.0; row.len()];
        self.sim.sample_noise(&mut rng, &mut noise);
        row.iter_mut().zip(noise).for_each(|(r, e)| *r += e);
    }
}

/// The batches of one epoch.
pub struct Batches<'a> {
    split: &'a Split,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
    epoch: u64,
    theta_z: &'a ZScore,
    data_z: &'a ZScore,
    noise: Option<FreshNoise<'a>>,
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
    /// Batches of `split`; `shuffle = Some((seed, epoch, how))` orders them for that epoch.
    /// A split with [`Split::fresh_noise`] needs `noise`.
    pub fn new(
        split: &'a Split,
        batch_size: usize,
        shuffle: Option<(u64, u64, Shuffle)>,
        theta_z: &'a ZScore,
        data_z: &'a ZScore,
        noise: Option<FreshNoise<'a>>,
    ) -> Self {
        let n = split.len();
        let order = match shuffle {
            Some((seed, epoch, how)) => epoch_order(n, seed, epoch, how),
            None => (0..n).collect(),
        };
        assert!(!split.fresh_noise || noise.is_some(), "a split with fresh noise needs a noise source");
        Batches { split, order, batch_size, pos: 0, epoch: shuffle.map_or(0, |s| s.1), theta_z, data_z, noise }
    }
}

/// The order of `n` rows in `epoch`, from the stream (seed, epoch).
fn epoch_order(n: usize, seed: u64, epoch: u64, how: Shuffle) -> Vec<usize> {
    let mut rng = StreamFamily::new(seed, "shuffle").rng(epoch);
    let mut permute = |v: &mut [usize]| {
        for i in (1..v.len()).rev() {
            let j = rng.gen_range(0..=i);
            v.swap(i, j);
        }
    };
    match how {
        Shuffle::Rows => {
            let mut order: Vec<usize> = (0..n).collect();
            permute(&mut order);
            order
        }
        Shuffle::Blocks => {
            let mut blocks: Vec<usize> = (0..n.div_ceil(Shuffle::BLOCK_ROWS)).collect();
            permute(&mut blocks);
            let mut order = Vec::with_capacity(n);
            for b in blocks {
                let start = order.len();
                order.extend(b * Shuffle::BLOCK_ROWS..((b + 1) * Shuffle::BLOCK_ROWS).min(n));
                permute(&mut order[start..]);
            }
            order
        }
    }
}

impl Batches<'_> {
    /// The same batches without the first `k` (where a resumed epoch starts).
    pub fn skip_batches(mut self, k: usize) -> Self {
        self.pos = k.saturating_mul(self.batch_size).min(self.order.len());
        self
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
        }
        match (self.split.fresh_noise, self.noise) {
            (true, Some(noise)) => {
                let (epoch, n) = (self.epoch, self.split.len());
                data.par_chunks_mut(dd).zip(idx.par_iter()).for_each(|(out, &i)| {
                    let mut row: Vec<f64> = self.split.data_row(i).iter().map(|&v| v as f64).collect();
                    noise.add(epoch, i, n, &mut row);
                    let row32: Vec<f32> = row.iter().map(|&v| v as f32).collect();
                    self.data_z.forward_row(&row32, out);
                });
            }
            _ => {
                for (r, &i) in idx.iter().enumerate() {
                    self.data_z.forward_row(self.split.data_row(i), &mut data[r * dd..(r + 1) * dd]);
                }
            }
        }
        Some(Batch { rows: idx.len(), theta, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both orders visit every row once; `blocks` keeps each block of BLOCK_ROWS rows together
    /// (in a permuted block order, rows permuted within), and both differ from epoch to epoch.
    #[test]
    fn block_order_keeps_blocks_together_and_visits_every_row() {
        let n = 9 * Shuffle::BLOCK_ROWS + 100;
        for how in [Shuffle::Rows, Shuffle::Blocks] {
            let order = epoch_order(n, 7, 1, how);
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{how:?}");
            assert_ne!(order, epoch_order(n, 7, 2, how), "{how:?}");
            assert_eq!(order, epoch_order(n, 7, 1, how), "{how:?}");
        }
        let order = epoch_order(n, 7, 1, Shuffle::Blocks);
        let mut start = 0;
        let mut blocks = Vec::new();
        while start < n {
            let block = order[start] / Shuffle::BLOCK_ROWS;
            let len = if block == 9 { 100 } else { Shuffle::BLOCK_ROWS };
            assert!(order[start..start + len].iter().all(|&r| r / Shuffle::BLOCK_ROWS == block), "block {block} is split");
            assert!(order[start..start + len].windows(2).any(|w| w[1] != w[0] + 1), "rows within block {block} are permuted");
            blocks.push(block);
            start += len;
        }
        assert_ne!(blocks, (0..10).collect::<Vec<_>>(), "the blocks are permuted");
    }
}
