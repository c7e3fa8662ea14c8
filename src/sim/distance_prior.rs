//! The luminosity-distance priors of bilby that follow the volume of the universe under
//! Planck15: `UniformComovingVolume` (p(d_L) ∝ dV_c/dd_L) and `UniformSourceFrame` (the same
//! with merger rates uniform in the source frame, so one power of 1 + z of time dilation
//! less). Each is tabulated once per range on a fine grid in redshift.

use crate::math::cosmology::PLANCK15;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// Which volume prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Volume {
    /// p(z) ∝ dV_c/dz.
    Comoving,
    /// p(z) ∝ dV_c/dz / (1 + z).
    SourceFrame,
}

/// Redshift intervals of a table.
const INTERVALS: usize = 4096;

/// A volume prior on [d_min, d_max] Mpc, tabulated at equal steps in redshift.
#[derive(Debug)]
pub struct DistanceTable {
    z: Vec<f64>,
    d_l: Vec<f64>,
    /// Derivative dd_L/dz at each z.
    slope: Vec<f64>,
    /// Unnormalised density in z at each z.
    weight: Vec<f64>,
    /// Cumulative probability at each z (0 at the first, 1 at the last).
    cdf: Vec<f64>,
    /// ∫ weight dz over the range.
    norm: f64,
}

impl DistanceTable {
    fn new(volume: Volume, d_min: f64, d_max: f64) -> DistanceTable {
        let c = PLANCK15;
        let (z0, z1) = (c.z_at_luminosity_distance(d_min), c.z_at_luminosity_distance(d_max));
        let h = (z1 - z0) / INTERVALS as f64;
        let z: Vec<f64> = (0..=INTERVALS).map(|i| z0 + i as f64 * h).collect();
        // Comoving distance along the grid: one integral from 0 to z0, then piece by piece.
        let mut d_c = Vec::with_capacity(z.len());
        d_c.push(c.comoving_distance(z0));
        for w in z.windows(2) {
            let piece = c.hubble_distance() * simpson(|x| 1.0 / c.efunc(x), w[0], w[1]);
            d_c.push(d_c[d_c.len() - 1] + piece);
        }
        let d_l: Vec<f64> = z.iter().zip(&d_c).map(|(z, dc)| (1.0 + z) * dc).collect();
        let slope: Vec<f64> = z.iter().zip(&d_c).map(|(&z, dc)| dc + (1.0 + z) * c.hubble_distance() / c.efunc(z)).collect();
        let weight: Vec<f64> = z
            .iter()
            .zip(&d_c)
            .map(|(&z, dc)| {
                let dvdz = c.hubble_distance() * dc * dc / c.efunc(z);
                match volume {
                    Volume::Comoving => dvdz,
                    Volume::SourceFrame => dvdz / (1.0 + z),
                }
            })
            .collect();
        let mut cdf = Vec::with_capacity(z.len());
        cdf.push(0.0);
        for i in 1..z.len() {
            cdf.push(cdf[i - 1] + 0.5 * (weight[i - 1] + weight[i]) * h);
        }
        let norm = cdf[INTERVALS];
        cdf.iter_mut().for_each(|v| *v /= norm);
        DistanceTable { z, d_l, slope, weight, cdf, norm }
    }

    /// The table of `volume` on [d_min, d_max], made once per process.
    pub fn get(volume: Volume, d_min: f64, d_max: f64) -> Arc<DistanceTable> {
        type Key = (Volume, u64, u64);
        static TABLES: LazyLock<RwLock<HashMap<Key, Arc<DistanceTable>>>> = LazyLock::new(Default::default);
        let key = (volume, d_min.to_bits(), d_max.to_bits());
        if let Some(t) = TABLES.read().ok().and_then(|m| m.get(&key).cloned()) {
            return t;
        }
        let table = Arc::new(DistanceTable::new(volume, d_min, d_max));
        if let Ok(mut m) = TABLES.write() {
            return m.entry(key).or_insert(table).clone();
        }
        table
    }

    /// The luminosity distance at cumulative probability `u` ∈ [0, 1].
    pub fn transform(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let i = self.cdf.partition_point(|&c| c < u).clamp(1, INTERVALS);
        // Within the interval the density is close to linear in z: solve the quadratic CDF.
        let (c0, c1) = (self.cdf[i - 1], self.cdf[i]);
        let (w0, w1) = (self.weight[i - 1] / self.norm, self.weight[i] / self.norm);
        let h = self.z[i] - self.z[i - 1];
        let target = u - c0;
        let slope = (w1 - w0) / h;
        let t = if slope.abs() < 1e-300 || c1 <= c0 {
            target / w0.max(1e-300)
        } else {
            // w0 t + slope t²/2 = target
            let disc = (w0 * w0 + 2.0 * slope * target).max(0.0);
            2.0 * target / (w0 + disc.sqrt())
        };
        let t = t.clamp(0.0, h);
        self.d_l_at(i, t)
    }

    /// d_L at z[i−1] + t, by cubic Hermite interpolation with the tabulated slopes.
    fn d_l_at(&self, i: usize, t: f64) -> f64 {
        let h = self.z[i] - self.z[i - 1];
        let s = t / h;
        let (y0, y1, m0, m1) = (self.d_l[i - 1], self.d_l[i], self.slope[i - 1] * h, self.slope[i] * h);
        let (s2, s3) = (s * s, s * s * s);
        (2.0 * s3 - 3.0 * s2 + 1.0) * y0 + (s3 - 2.0 * s2 + s) * m0 + (-2.0 * s3 + 3.0 * s2) * y1 + (s3 - s2) * m1
    }

    /// log p(d_L), −∞ outside the range.
    pub fn log_density(&self, d_l: f64) -> f64 {
        let (lo, hi) = (self.d_l[0], self.d_l[INTERVALS]);
        if !(lo..=hi).contains(&d_l) {
            return f64::NEG_INFINITY;
        }
        let i = self.d_l.partition_point(|&d| d < d_l).clamp(1, INTERVALS);
        // Newton steps on d_L(z) from the linear guess.
        let h = self.z[i] - self.z[i - 1];
        let mut t = h * (d_l - self.d_l[i - 1]) / (self.d_l[i] - self.d_l[i - 1]);
        for _ in 0..3 {
            let s = t / h;
            let slope = (1.0 - s) * self.slope[i - 1] + s * self.slope[i];
            t = (t - (self.d_l_at(i, t) - d_l) / slope).clamp(0.0, h);
        }
        let s = t / h;
        let weight = (1.0 - s) * self.weight[i - 1] + s * self.weight[i];
        let slope = (1.0 - s) * self.slope[i - 1] + s * self.slope[i];
        (weight / self.norm / slope).ln()
    }
}

/// ∫ₐᵇ f by Simpson's rule on one interval (the grid is fine: its error is far below 1e-10).
fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    (b - a) / 6.0 * (f(a) + 4.0 * f(0.5 * (a + b)) + f(b))
}
