//! Z-scoring: per-column mean and standard deviation from the training split, applied to
//! every split and saved with the model so that new data are scaled the same way.

use serde::{Deserialize, Serialize};

/// Per-column affine scaling z = (v - mean) / std.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 where a column is constant).
    pub std: Vec<f64>,
}

impl ZScore {
    /// Statistics of a row-major `rows × cols` matrix.
    pub fn fit(values: &[f32], cols: usize) -> ZScore {
        let rows = values.len() / cols.max(1);
        let mut mean = vec![0.0f64; cols];
        for row in values.chunks_exact(cols) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows.max(1) as f64);
        let mut var = vec![0.0f64; cols];
        for row in values.chunks_exact(cols) {
            for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = *v as f64 - m;
                *s += d * d;
            }
        }
        let std = var
            .iter()
            .map(|s| {
                let sd = (s / rows.max(1) as f64).sqrt();
                if sd > 1e-12 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        ZScore { mean, std }
    }

    /// Statistics of the data the network will see: for a split with fresh noise, its signals
    /// plus one noise draw each (the first `limit` rows, which is plenty for means and spreads).
    pub fn fit_data(split: &super::Split, noise: Option<super::FreshNoise>, limit: usize) -> ZScore {
        match (split.fresh_noise, noise) {
            (true, Some(noise)) => {
                let rows = split.len().min(limit);
                let cols = split.data.cols;
                let mut values = Vec::with_capacity(rows * cols);
                for i in 0..rows {
                    let mut row: Vec<f64> = split.data_row(i).iter().map(|&v| v as f64).collect();
                    noise.add(0, i, split.len(), &mut row);
                    values.extend(row.iter().map(|&v| v as f32));
                }
                ZScore::fit(&values, cols)
            }
            _ => ZScore::fit(split.data.values(), split.data.cols),
        }
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Scales one row into `out`.
    pub fn forward_row(&self, row: &[f32], out: &mut [f32]) {
        for (j, (o, v)) in out.iter_mut().zip(row).enumerate() {
            *o = ((*v as f64 - self.mean[j]) / self.std[j]) as f32;
        }
    }

    /// Maps a z-scored row back to original units.
    pub fn inverse_row(&self, z: &[f64]) -> Vec<f64> {
        z.iter().enumerate().map(|(j, v)| v * self.std[j] + self.mean[j]).collect()
    }

    /// Σ ln std: the log-Jacobian between densities in z and in original units.
    pub fn log_scale(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_columns() {
        let v = [1.0f32, 10.0, 3.0, 10.0, 5.0, 10.0];
        let z = ZScore::fit(&v, 2);
        assert_eq!(z.mean, vec![3.0, 10.0]);
        assert!((z.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(z.std[1], 1.0, "a constant column is left unscaled");
        let mut out = [0.0f32; 2];
        z.forward_row(&v[4..6], &mut out);
        assert!((z.inverse_row(&[out[0] as f64, out[1] as f64])[0] - 5.0).abs() < 1e-5);
    }
}
