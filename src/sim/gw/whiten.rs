//! Whitening and whitened noise on one detector's segment.
//!
//! d_w = √(2 f_s) · irfft(d̃ / ASD), with d̃ the continuous-normalised Fourier transform
//! (d̃ = Δt · rfft(d)) and numpy's 1/N irfft. For T = 1 s this is VItamin's √(2N) scaling;
//! for any T it makes Σ h_w² the optimal SNR² = 4/T Σ |h̃|²/S. Whitened noise is then white in
//! the bins where the PSD is finite: bilby draws ñ = √S (a + ib) with a, b ~ N(0, √T / 2), so
//! ñ/ASD needs no PSD at all, and DC and Nyquist are zero.

use super::psd::Psd;
use super::waveform::Series;
use crate::math::SampleRng;
use rand::Rng;
use rand_distr::StandardNormal;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner};
use std::sync::Arc;

/// The whitening of one segment length and PSD.
pub struct Whitener {
    n: usize,
    fs: f64,
    duration: f64,
    /// 1/ASD per bin (0 where the PSD is infinite).
    inv_asd: Vec<f64>,
    /// Bins that carry noise: finite PSD, not DC, not Nyquist.
    noisy: Vec<bool>,
    c2r: Arc<dyn ComplexToReal<f64>>,
}

impl std::fmt::Debug for Whitener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Whitener {{ n: {}, fs: {} }}", self.n, self.fs)
    }
}

impl Whitener {
    /// A whitener for `n` samples at `fs` Hz with the noise PSD `psd`.
    pub fn new(n: usize, fs: f64, psd: &Psd) -> Whitener {
        let duration = n as f64 / fs;
        let bins = n / 2 + 1;
        let df = 1.0 / duration;
        let inv_asd: Vec<f64> = (0..bins)
            .map(|k| {
                let s = psd.at(k as f64 * df);
                if s.is_finite() && s > 0.0 {
                    1.0 / s.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let noisy = (0..bins).map(|k| k != 0 && !(n % 2 == 0 && k == bins - 1) && inv_asd[k] > 0.0).collect();
        let c2r = RealFftPlanner::<f64>::new().plan_fft_inverse(n);
        Whitener { n, fs, duration, inv_asd, noisy, c2r }
    }

    /// Number of frequency bins (n/2 + 1).
    pub fn bins(&self) -> usize {
        self.n / 2 + 1
    }

    /// Samples in the segment.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn to_time(&self, mut spec: Vec<Complex<f64>>, out: &mut [f64]) {
        // realfft wants real DC and Nyquist bins.
        spec[0].im = 0.0;
        if self.n % 2 == 0 {
            let last = spec.len() - 1;
            spec[last].im = 0.0;
        }
        let mut buf = self.c2r.make_output_vec();
        self.c2r.process(&mut spec, &mut buf).expect("buffer sizes match the plan");
        // realfft's inverse is unnormalised: divide by n (numpy's irfft), then scale by √(2 f_s).
        let scale = (2.0 * self.fs).sqrt() / self.n as f64;
        for (o, v) in out.iter_mut().zip(buf) {
            *o = v * scale;
        }
    }

    /// Whitened time series of a detector-frame strain h̃(f) (length [`Whitener::bins`]).
    pub fn whiten(&self, strain: &Series, out: &mut [f64]) {
        let spec: Vec<Complex<f64>> = strain.iter().zip(&self.inv_asd).map(|(h, w)| h * *w).collect();
        self.to_time(spec, out);
    }

    /// The whitened frequency series of a strain in bins [lo, hi]: x = (2/√T) h̃/ASD, real parts
    /// into the first half of `out`, imaginary parts into the second. Noise is then N(0, 1) in
    /// each value where the PSD is finite, and Σ x² = 4/T Σ |h̃|²/S, the optimal SNR².
    pub fn whiten_frequency(&self, strain: &Series, lo: usize, hi: usize, out: &mut [f64]) {
        let scale = 2.0 / self.duration.sqrt();
        let (re, im) = out.split_at_mut(hi + 1 - lo);
        for (j, k) in (lo..=hi).enumerate() {
            let x = strain[k] * (self.inv_asd[k] * scale);
            re[j] = x.re;
            im[j] = x.im;
        }
    }

    /// One realisation of whitened frequency-domain noise in bins [lo, hi], laid out as
    /// [`Whitener::whiten_frequency`] lays out a signal (zero where the PSD is infinite).
    pub fn noise_frequency(&self, rng: &mut SampleRng, lo: usize, hi: usize, out: &mut [f64]) {
        let (re, im) = out.split_at_mut(hi + 1 - lo);
        for (j, k) in (lo..=hi).enumerate() {
            let (a, b): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            let on = self.inv_asd[k] > 0.0;
            re[j] = if on { a } else { 0.0 };
            im[j] = if on { b } else { 0.0 };
        }
    }

    /// Optimal SNR² = 4/T Σ |h̃|²/S of a detector-frame strain.
    pub fn snr_squared(&self, strain: &Series) -> f64 {
        4.0 / self.duration * strain.iter().zip(&self.inv_asd).map(|(h, w)| h.norm_sqr() * w * w).sum::<f64>()
    }

    /// One realisation of whitened noise.
    pub fn noise(&self, rng: &mut SampleRng, out: &mut [f64]) {
        let sigma = 0.5 * self.duration.sqrt();
        let spec: Vec<Complex<f64>> = self
            .noisy
            .iter()
            .map(|&on| {
                // Both draws are taken for every bin so that a bin's noise does not depend on the PSD of others.
                let (a, b): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
                if on {
                    Complex::new(a * sigma, b * sigma)
                } else {
                    Complex::new(0.0, 0.0)
                }
            })
            .collect();
        self.to_time(spec, out);
    }
}
