//! The monotonic rational-quadratic spline of Durkan et al. (arXiv:1906.04032), the
//! elementwise transform of the `nsf` and `cvae_flow` couplings.
//!
//! On [−B, B] the spline has K bins with widths, heights and K − 1 interior knot derivatives
//! produced by a network; outside it is the identity (linear tails, boundary derivatives 1).
//! The forward pass runs on the tape for training. Which bin a value falls in does not depend
//! smoothly on the parameters, so it is found on the host and used as a constant one-hot mask;
//! the inverse (for sampling) is solved on the host in f64.

use super::{fork, Dev, T1, T2};
use dfdx::prelude::*;

/// Smallest bin width and height, as a fraction of 2B (keeps every bin resolvable).
const MIN_BIN: f32 = 1e-3;
/// Smallest knot derivative.
const MIN_DERIVATIVE: f32 = 1e-3;

/// Constant matrices that turn unnormalised network outputs into knots.
#[derive(Clone, Debug)]
pub struct SplineShape {
    bins: usize,
    bound: f32,
    /// (K, K+1): cumulative sum with a leading zero, `knots = widths · cumsum`.
    cumsum: T2,
    /// (K−1, K+1): places the interior derivatives between the two boundary ones.
    interior: T2,
    /// (K+1,): 1 at both ends, 0 inside.
    boundary: Tensor<(usize,), f32, Dev>,
}

/// Knot positions, knot values and knot derivatives of one spline per row, each (rows, K+1).
pub struct Knots<Tp: Tape<f32, Dev>> {
    pub x: T2<Tp>,
    pub y: T2<Tp>,
    pub d: T2<Tp>,
}

/// The same knots on the host, row-major (rows × (K+1)).
pub struct HostKnots {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub d: Vec<f32>,
}

fn softplus<Tp: Tape<f32, Dev>>(t: T2<Tp>) -> T2<Tp> {
    // log(1 + eˣ) = max(x, 0) + log(1 + e^{−|x|}), finite for every x.
    let (a, b) = fork(t);
    a.relu() + (b.abs().negate().exp() + 1.0).ln()
}

fn host<S: Shape, Tp: Tape<f32, Dev>>(t: Tensor<S, f32, Dev, Tp>) -> (Vec<f32>, Tensor<S, f32, Dev, Tp>) {
    let (t, tape) = t.split_tape();
    (t.as_vec(), t.put_tape(tape))
}

impl SplineShape {
    /// A spline with `bins` bins on [−bound, bound].
    pub fn new(dev: &Dev, bins: usize, bound: f32) -> SplineShape {
        let k = bins;
        let cumsum: Vec<f32> = (0..k).flat_map(|i| (0..=k).map(move |j| if i < j { 1.0 } else { 0.0 })).collect();
        let interior: Vec<f32> = (0..k - 1).flat_map(|i| (0..=k).map(move |j| if j == i + 1 { 1.0 } else { 0.0 })).collect();
        let boundary: Vec<f32> = (0..=k).map(|j| if j == 0 || j == k { 1.0 } else { 0.0 }).collect();
        SplineShape {
            bins,
            bound,
            cumsum: dev.tensor_from_vec(cumsum, (k, k + 1)),
            interior: dev.tensor_from_vec(interior, (k - 1, k + 1)),
            boundary: dev.tensor_from_vec(boundary, (k + 1,)),
        }
    }

    /// Number of bins K.
    pub fn bins(&self) -> usize {
        self.bins
    }

    fn positions<Tp: Tape<f32, Dev>>(&self, raw: T2<Tp>) -> T2<Tp> {
        let k = self.bins as f32;
        let w = raw.softmax::<Axis<1>>() * (1.0 - MIN_BIN * k) + MIN_BIN;
        w.matmul(self.cumsum.clone()) * (2.0 * self.bound) - self.bound
    }

    /// Knots from unnormalised widths (rows, K), heights (rows, K) and derivatives (rows, K−1).
    pub fn knots<Tp: Tape<f32, Dev>>(&self, widths: T2<Tp>, heights: T2<Tp>, derivs: T2<Tp>) -> Knots<Tp> {
        let rows = widths.shape().0;
        let x = self.positions(widths);
        let y = self.positions(heights);
        let inner = (softplus(derivs) + MIN_DERIVATIVE).matmul(self.interior.clone());
        let d = inner + self.boundary.clone().broadcast_like::<_, Axis<0>>(&(rows, self.bins + 1));
        Knots { x, y, d }
    }

    /// Knots on the host (no tape).
    pub fn host_knots(&self, widths: T2, heights: T2, derivs: T2) -> HostKnots {
        let k = self.knots(widths, heights, derivs);
        HostKnots { x: k.x.as_vec(), y: k.y.as_vec(), d: k.d.as_vec() }
    }

    /// y = s(x) and log |dy/dx| for one value per row, on the tape.
    ///
    /// # Shapes
    /// `x`: (rows,), knots (rows, K+1) → ((rows,), (rows,)).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, x: T1<Tp>, knots: Knots<Tp>) -> (T1<Tp>, T1<Tp>) {
        let dev = x.device().clone();
        let (rows, k1) = (x.shape().0, self.bins + 1);
        let (xv, x) = host(x);
        let (xk_v, xk) = host(knots.x);
        // Bin of each value (host), and whether it lies inside [−B, B].
        let mut lo = vec![0.0f32; rows * k1];
        let mut hi = vec![0.0f32; rows * k1];
        let mut inside = vec![0.0f32; rows];
        for r in 0..rows {
            let v = xv[r];
            let knots_r = &xk_v[r * k1..(r + 1) * k1];
            let b = knots_r[1..self.bins].iter().filter(|&&q| q <= v).count();
            lo[r * k1 + b] = 1.0;
            hi[r * k1 + b + 1] = 1.0;
            inside[r] = if v.abs() < self.bound { 1.0 } else { 0.0 };
        }
        let lo: T2 = dev.tensor_from_vec(lo, (rows, k1));
        let hi: T2 = dev.tensor_from_vec(hi, (rows, k1));
        let inside: T1 = dev.tensor_from_vec(inside, (rows,));
        let pick = |t: T2<Tp>| -> (T1<Tp>, T1<Tp>) {
            let (a, b) = fork(t);
            ((a * lo.clone()).sum::<(usize,), Axis<1>>(), (b * hi.clone()).sum::<(usize,), Axis<1>>())
        };
        let (x_lo, x_hi) = pick(xk);
        let (y_lo, y_hi) = pick(knots.y);
        let (d_lo, d_hi) = pick(knots.d);
        let (x, x_tail) = fork(x);
        let xc = x.clamp(-self.bound, self.bound);

        let (x_lo, x_lo2) = fork(x_lo);
        let (y_lo, y_lo2) = fork(y_lo);
        let (w, w2) = fork(x_hi - x_lo);
        let (h, h2) = fork(y_hi - y_lo);
        let s = h / w;
        let (s, s2) = fork(s);
        let (s2, s3) = fork(s2);
        let (s3, s4) = fork(s3);
        let xi = (xc - x_lo2) / w2;
        let (xi, xi2) = fork(xi);
        let (xi2, xi4) = fork(xi2);
        // ξ(1 − ξ), used three times.
        let (t, t2) = fork(xi.negate() + 1.0);
        let (xi1, xi1b) = fork(xi4 * t);
        let (xi1b, xi1c) = fork(xi1b);
        let (d_lo, d_lo2) = fork(d_lo);
        let (d_lo2, d_lo3) = fork(d_lo2);
        let (d_hi, d_hi2) = fork(d_hi);
        let (xi_sq, xi_sq2) = fork(xi2.square());

        let numer = h2 * (s * xi_sq + d_lo * xi1);
        let denom = s2 + (d_hi + d_lo2 - s3 * 2.0) * xi1b;
        let (denom, denom2) = fork(denom);
        let y = y_lo2 + numer / denom;
        let (s4, s5) = fork(s4);
        let dnum = s4.square() * (d_hi2 * xi_sq2 + s5 * xi1c * 2.0 + d_lo3 * t2.square());
        let log_det = dnum.ln() - denom2.ln() * 2.0;
        let out = y * inside.clone() + x_tail * (inside.clone().negate() + 1.0);
        (out, log_det * inside)
    }

    /// x = s⁻¹(y) on the host, for one value per row with its knots.
    pub fn inverse(&self, y: &[f64], knots: &HostKnots) -> Vec<f64> {
        let k1 = self.bins + 1;
        let bound = self.bound as f64;
        y.iter()
            .enumerate()
            .map(|(r, &v)| {
                if v.abs() >= bound {
                    return v;
                }
                let span = r * k1..(r + 1) * k1;
                let (xk, yk, dk) = (&knots.x[span.clone()], &knots.y[span.clone()], &knots.d[span]);
                let b = yk[1..self.bins].iter().filter(|&&q| q as f64 <= v).count();
                let (x0, y0) = (xk[b] as f64, yk[b] as f64);
                let (w, h) = (xk[b + 1] as f64 - x0, yk[b + 1] as f64 - y0);
                let s = h / w;
                let (d0, d1) = (dk[b] as f64, dk[b + 1] as f64);
                let dy = v - y0;
                let a = h * (s - d0) + dy * (d1 + d0 - 2.0 * s);
                let bq = h * d0 - dy * (d1 + d0 - 2.0 * s);
                let c = -s * dy;
                // The root in [0, 1], written to avoid cancellation (Durkan et al., eq. 29).
                let disc = (bq * bq - 4.0 * a * c).max(0.0);
                let xi = (2.0 * c) / (-bq - disc.sqrt());
                x0 + xi.clamp(0.0, 1.0) * w
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse undoes the forward map, and log |dy/dx| is the log of the numerical slope,
    /// inside the bound and in the identity tails.
    #[test]
    fn inverse_and_log_det_agree_with_the_forward_map() {
        let dev = Dev::default();
        let (k, bound) = (6usize, 3.0f32);
        let spline = SplineShape::new(&dev, k, bound);
        let xs: Vec<f32> = (0..200).map(|i| -4.0 + 8.0 * i as f32 / 199.0).collect();
        let rows = xs.len();
        let raw = |seed: usize, cols: usize| -> T2 {
            dev.tensor_from_vec((0..rows * cols).map(|i| ((i * 7 + seed) % 13) as f32 / 4.0 - 1.5).collect(), (rows, cols))
        };
        let knots = || spline.knots(raw(1, k), raw(2, k), raw(3, k - 1));
        let (y, ld) = spline.forward(dev.tensor_from_vec(xs.clone(), (rows,)), knots());
        let (y, ld) = (y.as_vec(), ld.as_vec());
        let eps = 1e-3f32;
        let (y_hi, _) = spline.forward(dev.tensor_from_vec(xs.iter().map(|x| x + eps).collect(), (rows,)), knots());
        let (y_lo, _) = spline.forward(dev.tensor_from_vec(xs.iter().map(|x| x - eps).collect(), (rows,)), knots());
        let (y_hi, y_lo) = (y_hi.as_vec(), y_lo.as_vec());
        let k = knots();
        let host = HostKnots { x: k.x.as_vec(), y: k.y.as_vec(), d: k.d.as_vec() };
        let back = spline.inverse(&y.iter().map(|&v| v as f64).collect::<Vec<_>>(), &host);
        for i in 0..rows {
            assert!((back[i] - xs[i] as f64).abs() < 1e-4, "x = {}: inverse gives {}", xs[i], back[i]);
            if (xs[i].abs() - bound).abs() > 2.0 * eps {
                let slope = ((y_hi[i] - y_lo[i]) / (2.0 * eps)) as f64;
                assert!((slope.ln() - ld[i] as f64).abs() < 2e-2, "x = {}: log slope {} vs log det {}", xs[i], slope.ln(), ld[i]);
            }
            if xs[i].abs() > bound {
                assert_eq!(y[i], xs[i]);
            }
        }
    }
}
