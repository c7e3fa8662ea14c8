//! A 1-D convolution as a custom dfdx operation with its own backward pass.
//!
//! dfdx 0.13 has no 1-D convolution. With activations laid out time-major, (batch · length,
//! channels), the window of output position t is one contiguous slice of the input, so the
//! convolution of one batch item is a single matrix product whose left factor has overlapping
//! rows (row stride = stride · channels): the windows are never copied out (no im2col); with
//! stride 1 the windows of a whole batch are such a matrix too, so the batch is one product.
//! The products run through `nn::gemm`; the backward pass is three more (filters, bias, input),
//! the filters' per batch item in parallel on rayon's threads; with stride 1 the input's is
//! one product of the whole batch, its left factor the overlapping windows of the output
//! gradient, padded so that a window holds exactly the outputs one input row reached. A layer — convolution, ReLU, max-pooling,
//! vectorised over channels — is one operation, so its largest activations stay on the host.

// A CUDA build runs these layers through dfdx (on_device.rs); the host kernels stay for the
// CPU build and its tests.
#![cfg_attr(feature = "cuda", allow(dead_code, unused_imports))]

use super::gemm::gemm;
use super::linear::host;
use crate::nn::{Dev, Param, T2};
use dfdx::prelude::*;
use rayon::prelude::*;
use std::mem::MaybeUninit;

#[cfg(feature = "cuda")]
pub use crate::nn::on_device::{conv1d, conv1d_relu_pool, relu_max_pool};

/// The shape of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Batch items.
    pub batch: usize,
    /// Input length per item.
    pub len_in: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
}

impl ConvShape {
    /// Output length per item.
    pub fn len_out(&self) -> usize {
        (self.len_in - self.kernel) / self.stride + 1
    }
    fn window(&self) -> usize {
        self.kernel * self.c_in
    }
}

/// The convolution's output as [`forward_values`] gives it, but with each item's L' rows
/// starting every `item_rows` rows (returned). With stride 1 the windows of all items are one
/// matrix with overlapping rows (row r starts at x[r · C]), so the whole batch is one product:
/// B once packed instead of once per item, and rows that straddle two items (the last
/// kernel − 1 of each, which no output uses) cost 2–3% more work. Every output value is the
/// same sum in the same order, bit for bit.
fn forward_rows(x: &[f32], w: &[f32], bias: &[f32], s: ConvShape) -> (Vec<f32>, usize) {
    if s.stride != 1 {
        return (forward_values(x, w, bias, s), s.len_out());
    }
    let rows = s.batch * s.len_in - (s.kernel - 1);
    let n = rows * s.c_out;
    // Each row starts as the bias, written once (not zeroed first).
    assert_eq!(bias.len(), s.c_out, "conv1d: bias length");
    let mut y = Vec::<f32>::with_capacity(n);
    y.spare_capacity_mut()[..n].par_chunks_mut(s.c_out).for_each(|row| {
        row.iter_mut().zip(bias).for_each(|(d, b)| {
            d.write(*b);
        })
    });
    // SAFETY: the rows of c_out values cover all n, each value written above.
    unsafe { y.set_len(n) };
    gemm(rows, s.c_out, s.window(), &mut y, true, (x, s.c_in, 1), (w, s.c_out, 1));
    (y, s.len_in)
}

/// y[b·L' + t, o] = bias[o] + Σ_{k,c} x[b·L + t·s + k, c] · w[k·C + c, o].
pub(in crate::nn) fn forward_values(x: &[f32], w: &[f32], bias: &[f32], s: ConvShape) -> Vec<f32> {
    let (l_out, win) = (s.len_out(), s.window());
    let mut y = vec![0.0f32; s.batch * l_out * s.c_out];
    y.par_chunks_mut(l_out * s.c_out).enumerate().for_each(|(b, yb)| {
        for row in yb.chunks_exact_mut(s.c_out) {
            row.copy_from_slice(bias);
        }
        let xb = &x[b * s.len_in * s.c_in..(b + 1) * s.len_in * s.c_in];
        gemm(l_out, s.c_out, win, yb, true, (xb, s.stride * s.c_in, 1), (w, s.c_out, 1));
    });
    y
}

/// Values in the output gradient (batch · len_out, c_out) as the backward pass lays it out
/// (the padded layout): item b's row t at row b · len_in + kernel − 1 + t, zero elsewhere, in
/// batch · len_in + kernel − 1 rows. With stride 1 the rows from r to r + kernel − 1 then hold exactly the output
/// gradients that input row r reached (in reverse order of the taps), so the input gradient of
/// the whole batch is one product, as the forward pass is.
fn padded_len(s: ConvShape) -> usize {
    (s.batch * s.len_in + s.kernel - 1) * s.c_out
}

/// Item b's output gradient (len_out rows) within the padded layout.
fn item_grad(g: &[f32], b: usize, s: ConvShape) -> &[f32] {
    &g[(b * s.len_in + s.kernel - 1) * s.c_out..][..s.len_out() * s.c_out]
}

/// `g` (batch · len_out, c_out) copied into the padded layout.
#[cfg(test)]
pub(in crate::nn) fn padded(g: &[f32], s: ConvShape) -> Vec<f32> {
    let mut out = vec![0.0f32; padded_len(s)];
    let l = s.len_out() * s.c_out;
    for b in 0..s.batch {
        out[(b * s.len_in + s.kernel - 1) * s.c_out..][..l].copy_from_slice(&g[b * l..][..l]);
    }
    out
}

/// Gradients of the filters (win × c_out) and the bias from the output gradient `g` (padded
/// layout).
pub(in crate::nn) fn filter_grads(x: &[f32], g: &[f32], s: ConvShape) -> (Vec<f32>, Vec<f32>) {
    let (l_out, win) = (s.len_out(), s.window());
    let threads = rayon::current_num_threads().max(1);
    let per = s.batch.div_ceil(threads).max(1);
    let partial: Vec<Vec<f32>> = (0..s.batch)
        .step_by(per)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            let mut gw = vec![0.0f32; win * s.c_out];
            for b in start..(start + per).min(s.batch) {
                let xb = &x[b * s.len_in * s.c_in..(b + 1) * s.len_in * s.c_in];
                // windowsᵀ (win × L'): element (j, t) = xb[t·s·C + j].
                gemm(win, s.c_out, l_out, &mut gw, true, (xb, 1, s.stride * s.c_in), (item_grad(g, b, s), s.c_out, 1));
            }
            gw
        })
        .collect();
    let mut gw = vec![0.0f32; win * s.c_out];
    for p in partial {
        gw.iter_mut().zip(p).for_each(|(a, v)| *a += v);
    }
    let mut gb = vec![0.0f32; s.c_out];
    for b in 0..s.batch {
        for row in item_grad(g, b, s).chunks_exact(s.c_out) {
            gb.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
    }
    (gw, gb)
}

/// Adds the input gradient from `g` (padded layout) into `gx`. Stride 1: one product of the
/// whole batch, gx += G · W′ with G's rows the overlapping windows of `g` (row r: the
/// kernel · c_out values from row r) and W′ the filters with the taps reversed,
/// W′[(j, o), c] = w[(kernel − 1 − j, c), o]. Other strides: each window's gradient g_b · wᵀ,
/// laid back on the (overlapping) input rows it came from.
pub(in crate::nn) fn add_input_grad(gx: &mut [f32], w: &[f32], g: &[f32], s: ConvShape) {
    let (l_out, win) = (s.len_out(), s.window());
    if s.stride == 1 {
        let (k, ci, co) = (s.kernel, s.c_in, s.c_out);
        let mut reversed = vec![0.0f32; k * co * ci];
        for j in 0..k {
            for o in 0..co {
                for c in 0..ci {
                    reversed[(j * co + o) * ci + c] = w[((k - 1 - j) * ci + c) * co + o];
                }
            }
        }
        let rows = s.batch * s.len_in;
        gemm(rows, ci, k * co, &mut gx[..rows * ci], true, (g, co, 1), (&reversed, ci, 1));
        return;
    }
    gx.par_chunks_mut(s.len_in * s.c_in).enumerate().for_each(|(b, gxb)| {
        let gb = item_grad(g, b, s);
        let mut gwin = vec![0.0f32; l_out * win];
        // wᵀ (c_out × win): element (o, j) = w[j·c_out + o].
        gemm(l_out, win, s.c_out, &mut gwin, false, (gb, s.c_out, 1), (w, 1, s.c_out));
        for (t, row) in gwin.chunks_exact(win).enumerate() {
            let at = t * s.stride * s.c_in;
            gxb[at..at + win].iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
    });
}

/// The convolution of `x` (batch · len_in, c_in), time-major, with filters `w` (flat,
/// kernel · c_in × c_out, rows ordered (k, c)) and `bias` (c_out), on `x`'s tape. Gradients
/// reach `w`, `bias`, and `x` when `input_grad` (the first layer's input is data: no need).
///
/// The layers use `conv1d_relu_pool`; this and `relu_max_pool` are its reference in tests.
///
/// # Shapes
/// `x`: (batch · len_in, c_in) → (batch · len_out, c_out).
#[cfg(all(test, not(feature = "cuda")))]
pub fn conv1d<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, bias: &Param, s: ConvShape, input_grad: bool) -> T2<Tp> {
    let (x, mut tape) = x.split_tape();
    let (xv, wv, bv) = (host(&x), host(w), host(bias));
    let y: T2 = x.device().tensor_from_vec(forward_values(&xv, &wv, &bv, s), (s.batch * s.len_out(), s.c_out));
    if Tp::OWNS_TAPE {
        let (y_id, w_id, b_id, x_id) = (y.clone(), w.clone(), bias.clone(), x.clone());
        tape.add_backward_op(move |grads| {
            let g = padded(grads.get_or_alloc_mut(&y_id)?, s);
            let (gw, gb) = filter_grads(&xv, &g, s);
            grads.get_or_alloc_mut(&w_id)?.iter_mut().zip(gw).for_each(|(a, v)| *a += v);
            grads.get_or_alloc_mut(&b_id)?.iter_mut().zip(gb).for_each(|(a, v)| *a += v);
            if input_grad {
                add_input_grad(grads.get_or_alloc_mut(&x_id)?, &wv, &g, s);
            }
            Ok(())
        });
    }
    y.put_tape(tape)
}

/// ReLU then max-pooling over `pool` consecutive positions, fused: (batch · len, c) →
/// (batch · len / pool, c) (a remainder shorter than `pool` is dropped). The gradient goes to
/// the position that won each pool, where it was positive.
#[cfg(all(test, not(feature = "cuda")))]
pub fn relu_max_pool<Tp: Tape<f32, Dev>>(h: T2<Tp>, batch: usize, pool: usize) -> T2<Tp> {
    let (h, mut tape) = h.split_tape();
    let (rows, c) = *h.shape();
    let pool = pool.max(1);
    let len = rows / batch.max(1);
    let len_out = len / pool;
    let (out, winner) = pool_rows(&host(&h), len, batch, len, c, pool);
    let y: T2 = h.device().tensor_from_vec(out, (batch * len_out, c));
    if Tp::OWNS_TAPE {
        let (y_id, h_id) = (y.clone(), h.clone());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&y_id)?.to_vec();
            unpool_values(grads.get_or_alloc_mut(&h_id)?, len, &winner, &g, batch, len, c, pool);
            Ok(())
        });
    }
    y.put_tape(tape)
}

/// ReLU + max-pooling of the host values `h`, `len` rows of `c` values per item, the items
/// `item_rows` rows apart: the pooled values and, for each, the position within its pool that
/// won (u32::MAX: none positive).
fn pool_rows(h: &[f32], item_rows: usize, batch: usize, len: usize, c: usize, pool: usize) -> (Vec<f32>, Vec<u32>) {
    let len_out = len / pool;
    let n = batch * len_out * c;
    // Written once, by pool_window: not zeroed first (the outputs are a layer's activations).
    let (mut out, mut winner) = (Vec::<f32>::with_capacity(n), Vec::<u32>::with_capacity(n));
    let (ou, wu) = (&mut out.spare_capacity_mut()[..n], &mut winner.spare_capacity_mut()[..n]);
    ou.par_chunks_mut(len_out * c).zip(wu.par_chunks_mut(len_out * c)).enumerate().for_each(|(b, (ob, wb))| {
        for (t, (orow, wrow)) in ob.chunks_exact_mut(c).zip(wb.chunks_exact_mut(c)).enumerate() {
            let base = (b * item_rows + t * pool) * c;
            pool_window(&h[base..base + pool * c], c, orow, wrow);
        }
    });
    // SAFETY: the chunks cover all n values of both, and pool_window writes every channel of
    // its row (the vector blocks, then the scalar rest).
    unsafe {
        out.set_len(n);
        winner.set_len(n);
    }
    (out, winner)
}

/// Adds the pooled gradient `g` into `gh` at the winners: `len` rows of `c` values per item,
/// the items `item_rows` rows apart.
#[allow(clippy::too_many_arguments)]
fn unpool_values(gh: &mut [f32], item_rows: usize, winner: &[u32], g: &[f32], batch: usize, len: usize, c: usize, pool: usize) {
    let len_out = len / pool;
    gh[..batch * item_rows * c].par_chunks_mut(item_rows * c).enumerate().for_each(|(b, ghb)| {
        let at = b * len_out * c;
        let rows = winner[at..at + len_out * c].chunks_exact(c).zip(g[at..at + len_out * c].chunks_exact(c));
        for (t, (wrow, grow)) in rows.enumerate() {
            unpool_window(&mut ghb[t * pool * c..(t + 1) * pool * c], c, wrow, grow);
        }
    });
}

/// The convolution (`conv1d`) then ReLU + max-pooling (`relu_max_pool`) as one operation:
/// the convolution's output and its gradient never become dfdx tensors, so the largest
/// activations of a convolutional embedding are neither copied back to the host nor zeroed by
/// dfdx's gradient store. The same values and gradients as the two operations, bit for bit.
///
/// # Shapes
/// `x`: (batch · len_in, c_in) → (batch · (len_out / pool), c_out).
#[cfg(not(feature = "cuda"))]
pub fn conv1d_relu_pool<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, bias: &Param, s: ConvShape, pool: usize, input_grad: bool) -> T2<Tp> {
    let (x, mut tape) = x.split_tape();
    let pool = pool.max(1);
    let (len, c) = (s.len_out(), s.c_out);
    let (xv, wv, bv) = (host(&x), host(w), host(bias));
    let (conv, item_rows) = forward_rows(&xv, &wv, &bv, s);
    let (out, winner) = pool_rows(&conv, item_rows, s.batch, len, c, pool);
    drop(conv);
    let y: T2 = x.device().tensor_from_vec(out, (s.batch * (len / pool), c));
    if Tp::OWNS_TAPE {
        let (y_id, w_id, b_id, x_id) = (y.clone(), w.clone(), bias.clone(), x.clone());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&y_id)?.to_vec();
            // The convolution's gradient, in the padded layout of the backward products.
            let mut gconv = vec![0.0f32; padded_len(s)];
            let first = (s.kernel - 1) * c;
            unpool_values(&mut gconv[first..], s.len_in, &winner, &g, s.batch, len, c, pool);
            let (gw, gb) = filter_grads(&xv, &gconv, s);
            grads.get_or_alloc_mut(&w_id)?.iter_mut().zip(gw).for_each(|(a, v)| *a += v);
            grads.get_or_alloc_mut(&b_id)?.iter_mut().zip(gb).for_each(|(a, v)| *a += v);
            if input_grad {
                add_input_grad(grads.get_or_alloc_mut(&x_id)?, &wv, &gconv, s);
            }
            Ok(())
        });
    }
    y.put_tape(tape)
}

/// ReLU and the maximum over one pool (`window`: `pool` rows of `c` values) into `out` (c
/// values) and `winner` (the row that won each, u32::MAX where none was positive; ties go to
/// the first).
fn pool_window(window: &[f32], c: usize, out: &mut [MaybeUninit<f32>], winner: &mut [MaybeUninit<u32>]) {
    let pool = window.len() / c.max(1);
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if super::gemm::avx512_available() {
        // SAFETY: AVX-512F is present; `window` holds pool · c values and `out`, `winner` c each.
        done = unsafe { pool_window_avx512(window, c, out, winner) };
    }
    for ch in done..c {
        let (mut o, mut w) = (0.0f32, u32::MAX);
        for j in 0..pool {
            let v = window[j * c + ch];
            // Selects, not branches: on activations a branch is a coin toss the CPU mispredicts.
            let take = v > o;
            w = if take { j as u32 } else { w };
            o = if take { v } else { o };
        }
        out[ch].write(o);
        winner[ch].write(w);
    }
}

/// [`pool_window`] for the channels in whole blocks of 16, one 16-lane vector each, the
/// maximum and the winner kept in registers over the pool; returns how many channels it did.
///
/// # Safety
///
/// The CPU must have AVX-512F (`gemm::avx512_available`); `window` must hold a whole number
/// of rows of `c` values and `out` and `winner` at least `c` each: every 16-lane load and
/// store lies inside them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pool_window_avx512(window: &[f32], c: usize, out: &mut [MaybeUninit<f32>], winner: &mut [MaybeUninit<u32>]) -> usize {
    use std::arch::x86_64::*;
    let pool = window.len() / c;
    let full = c - c % 16;
    for ch in (0..full).step_by(16) {
        let mut o = _mm512_setzero_ps();
        let mut w = _mm512_set1_epi32(-1);
        for j in 0..pool {
            let v = _mm512_loadu_ps(window.as_ptr().add(j * c + ch));
            // v > o, false where either is NaN: the scalar comparison's result.
            let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, o);
            o = _mm512_mask_blend_ps(take, o, v);
            w = _mm512_mask_blend_epi32(take, w, _mm512_set1_epi32(j as i32));
        }
        _mm512_storeu_ps(out.as_mut_ptr().add(ch) as *mut f32, o);
        _mm512_storeu_epi32(winner.as_mut_ptr().add(ch) as *mut i32, w);
    }
    full
}

/// The backward of [`pool_window`]: adds each of the `c` output gradients `g` to the row of
/// `window` (`pool` rows of `c`) that won its pool, none where none did.
fn unpool_window(window: &mut [f32], c: usize, winner: &[u32], g: &[f32]) {
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if super::gemm::avx512_available() {
        // SAFETY: AVX-512F is present; `window` holds pool · c values and `winner`, `g` c each.
        done = unsafe { unpool_window_avx512(window, c, winner, g) };
    }
    for ch in done..c {
        if winner[ch] != u32::MAX {
            window[winner[ch] as usize * c + ch] += g[ch];
        }
    }
}

/// [`unpool_window`] for the channels in whole blocks of 16: each row of the pool adds the
/// gradient where it won (a masked add leaves the other lanes as they were); returns how many
/// channels it did.
///
/// # Safety
///
/// The CPU must have AVX-512F (`gemm::avx512_available`); `window` must hold a whole number
/// of rows of `c` values and `winner` and `g` at least `c` each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn unpool_window_avx512(window: &mut [f32], c: usize, winner: &[u32], g: &[f32]) -> usize {
    use std::arch::x86_64::*;
    let pool = window.len() / c;
    let full = c - c % 16;
    for ch in (0..full).step_by(16) {
        let w = _mm512_loadu_epi32(winner.as_ptr().add(ch) as *const i32);
        let gv = _mm512_loadu_ps(g.as_ptr().add(ch));
        for j in 0..pool {
            let won = _mm512_cmpeq_epi32_mask(w, _mm512_set1_epi32(j as i32));
            if won != 0 {
                let at = window.as_mut_ptr().add(j * c + ch);
                _mm512_storeu_ps(at, _mm512_mask_add_ps(_mm512_loadu_ps(at), won, _mm512_loadu_ps(at), gv));
            }
        }
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, scale: f32, phase: f32) -> Vec<f32> {
        (0..n).map(|i| scale * ((i as f32) * 0.61 + phase).sin()).collect()
    }

    /// The sum Σ y·r for fixed random r: its gradients are the op's backward applied to r.
    fn objective(x: &[f32], w: &[f32], b: &[f32], r: &[f32], s: ConvShape) -> f64 {
        forward_values(x, w, b, s).iter().zip(r).map(|(a, c)| (*a as f64) * (*c as f64)).sum()
    }

    /// Forward against a direct loop; every gradient against central finite differences.
    #[test]
    fn forward_and_gradients_match_a_direct_computation_and_finite_differences() {
        for s in [
            ConvShape { batch: 3, len_in: 17, c_in: 2, c_out: 4, kernel: 5, stride: 1 },
            ConvShape { batch: 2, len_in: 20, c_in: 3, c_out: 2, kernel: 4, stride: 3 },
        ] {
            let (l_out, win) = (s.len_out(), s.window());
            let x = values(s.batch * s.len_in * s.c_in, 1.0, 0.3);
            let w = values(win * s.c_out, 0.4, 1.1);
            let b = values(s.c_out, 0.2, 2.0);
            let r = values(s.batch * l_out * s.c_out, 1.0, 0.7);
            let y = forward_values(&x, &w, &b, s);
            for bb in 0..s.batch {
                for t in 0..l_out {
                    for o in 0..s.c_out {
                        let mut direct = b[o] as f64;
                        for k in 0..s.kernel {
                            for c in 0..s.c_in {
                                direct += (x[(bb * s.len_in + t * s.stride + k) * s.c_in + c] * w[(k * s.c_in + c) * s.c_out + o]) as f64;
                            }
                        }
                        let got = y[(bb * l_out + t) * s.c_out + o] as f64;
                        assert!((got - direct).abs() < 1e-5, "{s:?} y[{bb},{t},{o}] = {got}, direct {direct}");
                    }
                }
            }
            let (gw, gb) = filter_grads(&x, &padded(&r, s), s);
            let mut gx = vec![0.0f32; x.len()];
            add_input_grad(&mut gx, &w, &padded(&r, s), s);
            let h = 1e-2f32;
            let fd = |which: usize, i: usize| {
                let (mut xp, mut wp, mut bp) = (x.clone(), w.clone(), b.clone());
                let (mut xm, mut wm, mut bm) = (x.clone(), w.clone(), b.clone());
                match which {
                    0 => {
                        xp[i] += h;
                        xm[i] -= h;
                    }
                    1 => {
                        wp[i] += h;
                        wm[i] -= h;
                    }
                    _ => {
                        bp[i] += h;
                        bm[i] -= h;
                    }
                }
                (objective(&xp, &wp, &bp, &r, s) - objective(&xm, &wm, &bm, &r, s)) / (2.0 * h as f64)
            };
            for (which, grad) in [(0, &gx), (1, &gw), (2, &gb)] {
                for (i, g) in grad.iter().enumerate() {
                    let want = fd(which, i);
                    assert!(
                        (*g as f64 - want).abs() < 2e-3 * (1.0 + want.abs()),
                        "{s:?} gradient {which}[{i}] = {g}, finite difference {want}"
                    );
                }
            }
        }
    }

    /// The fused ReLU + max-pool equals relu then the maximum over each pool, and its gradient
    /// is the finite difference of Σ y·r.
    #[test]
    fn relu_max_pool_matches_its_definition_and_finite_differences() {
        let dev = Dev::default();
        // Three channels (all in the scalar loop), and 37 in pools of 3 (two 16-lane blocks and
        // a scalar rest where the CPU has AVX-512).
        for (batch, len, c, pool) in [(2, 9, 3, 2), (2, 7, 37, 3)] {
            let x = values(batch * len * c, 1.0, 0.4);
            let r = values(batch * (len / pool) * c, 1.0, 1.3);
            let run = |x: &[f32]| relu_max_pool(dev.tensor_from_vec(x.to_vec(), (batch * len, c)), batch, pool).as_vec();
            let y = run(&x);
            for b in 0..batch {
                for t in 0..len / pool {
                    for ch in 0..c {
                        let want = (0..pool).map(|j| x[(b * len + t * pool + j) * c + ch].max(0.0)).fold(0.0f32, f32::max);
                        assert_eq!(y[(b * (len / pool) + t) * c + ch], want);
                    }
                }
            }
            let xt: T2 = dev.tensor_from_vec(x.clone(), (batch * len, c));
            let rt: T2 = dev.tensor_from_vec(r.clone(), (batch * (len / pool), c));
            let out = relu_max_pool(xt.clone().leaky_traced(), batch, pool);
            let grads = (out * rt).sum::<(), _>().backward();
            let g = grads.get(&xt).as_vec();
            let h = 1e-3f32;
            for i in 0..x.len() {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[i] += h;
                m[i] -= h;
                let f = |v: &[f32]| run(v).iter().zip(&r).map(|(a, b)| (a * b) as f64).sum::<f64>();
                let want = (f(&p) - f(&m)) / (2.0 * h as f64);
                assert!((g[i] as f64 - want).abs() < 1e-2, "gradient {i}: {} vs {want}", g[i]);
            }
        }
    }

    /// The fused convolution + ReLU + max-pool gives the values and gradients of the two
    /// operations, bit for bit (a pool remainder dropped, strides 1 and 2).
    #[test]
    fn the_fused_layer_equals_the_convolution_then_the_pooling() {
        let dev = Dev::default();
        for (stride, pool) in [(1, 2), (2, 3)] {
            let s = ConvShape { batch: 3, len_in: 23, c_in: 5, c_out: 19, kernel: 4, stride };
            let (len_out, win) = (s.len_out() / pool, s.kernel * s.c_in);
            let x = values(s.batch * s.len_in * s.c_in, 1.0, 0.3);
            let (w, b) = (values(win * s.c_out, 0.4, 1.2), values(s.c_out, 0.2, 0.5));
            let r = values(s.batch * len_out * s.c_out, 1.0, 2.2);
            let run = |fused: bool| {
                let xt: T2 = dev.tensor_from_vec(x.clone(), (s.batch * s.len_in, s.c_in));
                let (wt, bt): (Param, Param) = (dev.tensor_from_vec(w.clone(), (w.len(),)), dev.tensor_from_vec(b.clone(), (b.len(),)));
                let y = if fused {
                    conv1d_relu_pool(xt.clone().leaky_traced(), &wt, &bt, s, pool, true)
                } else {
                    relu_max_pool(conv1d(xt.clone().leaky_traced(), &wt, &bt, s, true), s.batch, pool)
                };
                let yv = y.as_vec();
                let grads = (y * dev.tensor_from_vec(r.clone(), (s.batch * len_out, s.c_out))).sum::<(), _>().backward();
                (yv, grads.get(&xt).as_vec(), grads.get(&wt).as_vec(), grads.get(&bt).as_vec())
            };
            assert_eq!(run(true), run(false), "stride {stride}, pool {pool}");
        }
    }

    /// The whole-batch product gives every output of the per-item products, bit for bit, for
    /// the shapes of the default embedding (at 16 channels the whole batch runs on the 24 × 16
    /// tile and one item through the `gemm` crate, where the CPU has AVX-512).
    #[test]
    fn the_whole_batch_convolution_equals_the_per_item_one() {
        for (c_in, c_out, kernel) in [(1, 16, 7), (16, 16, 7), (16, 32, 7), (3, 5, 4)] {
            let s = ConvShape { batch: 9, len_in: 61, c_in, c_out, kernel, stride: 1 };
            let x = values(s.batch * s.len_in * c_in, 1.0, 0.3);
            let (w, b) = (values(kernel * c_in * c_out, 0.4, 1.2), values(c_out, 0.2, 0.5));
            let per_item = forward_values(&x, &w, &b, s);
            let (whole, item_rows) = forward_rows(&x, &w, &b, s);
            assert_eq!(item_rows, s.len_in);
            for bb in 0..s.batch {
                let l = s.len_out() * c_out;
                assert_eq!(&whole[bb * item_rows * c_out..][..l], &per_item[bb * l..][..l], "{s:?} item {bb}");
            }
        }
    }
}
