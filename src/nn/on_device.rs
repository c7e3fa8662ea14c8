//! The dense layer, the 1-D convolution and ReLU + max-pooling through dfdx's own operations,
//! for the CUDA device (`--features cuda`).
//!
//! The CPU build runs these as custom operations over host memory (`linear.rs`; `conv1d.rs`,
//! where the convolution, ReLU and pooling are one operation); on a GPU the same maths runs as
//! dfdx's kernels and cuBLAS products, with the same signatures, so no estimator knows which
//! device it trains on. The convolution gathers
//! each output position's window (one index tensor per shape, kept on the device) and makes
//! the whole batch one product; gradients reach the weights, the biases and the input through
//! dfdx's backward passes (the input's also where the CPU build skips it: it is not used).

// The CPU build compiles this module for its tests alone.
#![cfg_attr(not(feature = "cuda"), allow(dead_code))]

use super::kernels::conv1d::ConvShape;
use super::kernels::linear::{Activation, Input};
use super::{Dev, Param, T2};
use dfdx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// act(Σᵢ xᵢ Wᵢ + Σⱼ bⱼ), as [`super::kernels::linear::linear_sum`] on the CPU.
pub fn linear_sum<Tp: Tape<f32, Dev>>(inputs: Vec<Input<'_, Tp>>, biases: &[&Param], n_out: usize, act: Activation) -> T2<Tp> {
    let mut sum: Option<T2<Tp>> = None;
    for Input { x, w, grad: _, mask } in inputs {
        let n_in = x.shape().1;
        assert_eq!(w.shape().num_elements(), n_in * n_out, "linear: weight shape");
        let mut wt: Tensor<(usize,), f32, Dev, Tp> = w.retaped::<Tp>();
        if let Some(m) = mask {
            assert_eq!(m.len(), n_in * n_out, "linear: mask shape");
            wt = wt * w.device().tensor_from_vec(m.to_vec(), (m.len(),));
        }
        let term = x.matmul(wt.reshape_like(&(n_in, n_out)));
        sum = Some(match sum {
            None => term,
            Some(s) => s + term,
        });
    }
    let mut y = sum.expect("linear: at least one input");
    let rows = y.shape().0;
    for b in biases {
        y = y + b.retaped::<Tp>().broadcast_like::<_, Axis<0>>(&(rows, n_out));
    }
    match act {
        Activation::Relu => y.relu(),
        Activation::Identity => y,
    }
}

/// Index tensors already on the device, by what they index: a convolution's windows (true) or
/// a pooling's kept rows (false) of one shape.
type IndexCache = HashMap<(ConvShape, bool), Tensor<(usize,), usize, Dev>>;

thread_local! {
    /// Built once per shape rather than uploaded every step.
    static INDICES: RefCell<IndexCache> = RefCell::new(HashMap::new());
}

fn indices(dev: &Dev, key: (ConvShape, bool), make: impl FnOnce() -> Vec<usize>) -> Tensor<(usize,), usize, Dev> {
    INDICES.with(|c| {
        c.borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let v = make();
                let n = v.len();
                dev.tensor_from_vec(v, (n,))
            })
            .clone()
    })
}

/// The convolution of `x` (batch · len_in, c_in), time-major, as `conv1d` in `conv1d.rs`: the
/// windows gathered into (batch · len_out, kernel · c_in), rows ordered (k, c)
/// as the filters', then one product.
pub fn conv1d<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, bias: &Param, s: ConvShape, _input_grad: bool) -> T2<Tp> {
    let (l_out, win) = (s.len_out(), s.kernel * s.c_in);
    let rows = s.batch * l_out;
    // Window row (b, t, k) reads input row b·L + t·stride + k.
    let idx = indices(x.device(), (s, true), || {
        (0..s.batch).flat_map(|b| (0..l_out).flat_map(move |t| (0..s.kernel).map(move |k| b * s.len_in + t * s.stride + k))).collect()
    });
    let windows: T2<Tp> = x.gather(idx);
    let y = windows.reshape_like(&(rows, win)).matmul(w.retaped::<Tp>().reshape_like(&(win, s.c_out)));
    y + bias.retaped::<Tp>().broadcast_like::<_, Axis<0>>(&(rows, s.c_out))
}

/// The convolution, then ReLU + max-pooling, as [`super::kernels::conv1d::conv1d_relu_pool`] on the CPU.
pub fn conv1d_relu_pool<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, bias: &Param, s: ConvShape, pool: usize, input_grad: bool) -> T2<Tp> {
    relu_max_pool(conv1d(x, w, bias, s, input_grad), s.batch, pool)
}

/// ReLU then max-pooling over `pool` consecutive positions, as `relu_max_pool` in `conv1d.rs`
/// (a remainder shorter than `pool` is dropped).
pub fn relu_max_pool<Tp: Tape<f32, Dev>>(h: T2<Tp>, batch: usize, pool: usize) -> T2<Tp> {
    let (rows, c) = *h.shape();
    let pool = pool.max(1);
    let len = rows / batch.max(1);
    let len_out = len / pool;
    let h = if len_out * pool == len {
        h
    } else {
        let key = ConvShape { batch, len_in: len, c_in: c, c_out: c, kernel: pool, stride: pool };
        let idx = indices(h.device(), (key, false), || (0..batch).flat_map(|b| (0..len_out * pool).map(move |t| b * len + t)).collect());
        h.gather(idx)
    };
    h.relu().reshape_like(&(batch * len_out, pool, c)).max::<(usize, usize), Axis<1>>()
}

#[cfg(test)]
mod tests {
    //! The dfdx formulations against the host kernels of the CPU build (run on whichever
    //! device the build trains on): values and every gradient.
    use super::*;
    use crate::nn::kernels::conv1d::{add_input_grad, filter_grads, forward_values, padded};

    fn values(n: usize, scale: f32, phase: f32) -> Vec<f32> {
        (0..n).map(|i| scale * ((i as f32) * 0.61 + phase).sin()).collect()
    }

    fn close(name: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{name}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{name}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn the_convolution_matches_the_host_kernels() {
        let dev = crate::nn::device().expect("device");
        for stride in [1, 2] {
            let s = ConvShape { batch: 3, len_in: 12, c_in: 3, c_out: 5, kernel: 4, stride };
            let (rows_out, win) = (s.batch * s.len_out(), s.kernel * s.c_in);
            let (x, w, b) = (values(s.batch * s.len_in * s.c_in, 1.0, 0.2), values(win * s.c_out, 0.5, 1.1), values(s.c_out, 0.3, 2.0));
            let r = values(rows_out * s.c_out, 1.0, 0.7);
            let xt: T2 = dev.tensor_from_vec(x.clone(), (s.batch * s.len_in, s.c_in));
            let (wt, bt): (Param, Param) = (dev.tensor_from_vec(w.clone(), (w.len(),)), dev.tensor_from_vec(b.clone(), (b.len(),)));
            let y = conv1d(xt.clone().leaky_traced(), &wt, &bt, s, true);
            close("y", &y.as_vec(), &forward_values(&x, &w, &b, s));
            let grads = (y * dev.tensor_from_vec(r.clone(), (rows_out, s.c_out))).sum::<(), _>().backward();
            let (gw, gb) = filter_grads(&x, &padded(&r, s), s);
            let mut gx = vec![0.0f32; x.len()];
            add_input_grad(&mut gx, &w, &padded(&r, s), s);
            close("dw", &grads.get(&wt).as_vec(), &gw);
            close("db", &grads.get(&bt).as_vec(), &gb);
            close("dx", &grads.get(&xt).as_vec(), &gx);
        }
    }

    #[test]
    fn the_dense_layer_matches_its_definition() {
        let dev = crate::nn::device().expect("device");
        let (rows, n1, n2, n_out) = (4, 3, 2, 5);
        let (x1, x2) = (values(rows * n1, 1.0, 0.1), values(rows * n2, 1.0, 0.9));
        let (w1, w2) = (values(n1 * n_out, 0.7, 0.4), values(n2 * n_out, 0.7, 1.7));
        let mask: Vec<f32> = (0..n1 * n_out).map(|i| (i % 3 != 0) as u8 as f32).collect();
        let (b1, b2) = (values(n_out, 0.2, 0.5), values(n_out, 0.2, 2.5));
        let r = values(rows * n_out, 1.0, 0.3);
        let t2 = |v: &[f32], c: usize| -> T2 { dev.tensor_from_vec(v.to_vec(), (v.len() / c, c)) };
        let p = |v: &[f32]| -> Param { dev.tensor_from_vec(v.to_vec(), (v.len(),)) };
        let (x1t, x2t, w1t, w2t, b1t, b2t) = (t2(&x1, n1), t2(&x2, n2), p(&w1), p(&w2), p(&b1), p(&b2));
        let tape = x1t.clone().leaky_traced();
        let inputs =
            vec![Input { x: tape, w: &w1t, grad: true, mask: Some(&mask) }, Input { x: x2t.retaped(), w: &w2t, grad: true, mask: None }];
        let y = linear_sum(inputs, &[&b1t, &b2t], n_out, Activation::Relu);
        // The definition, on the host: pre-activation, output, and the masked output gradient.
        let mut pre = vec![0.0f32; rows * n_out];
        for i in 0..rows {
            for o in 0..n_out {
                pre[i * n_out + o] = b1[o]
                    + b2[o]
                    + (0..n1).map(|k| x1[i * n1 + k] * w1[k * n_out + o] * mask[k * n_out + o]).sum::<f32>()
                    + (0..n2).map(|k| x2[i * n2 + k] * w2[k * n_out + o]).sum::<f32>();
            }
        }
        close("y", &y.as_vec(), &pre.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
        let grads = (y * t2(&r, n_out)).sum::<(), _>().backward();
        let g: Vec<f32> = pre.iter().zip(&r).map(|(p, r)| if *p > 0.0 { *r } else { 0.0 }).collect();
        let gb: Vec<f32> = (0..n_out).map(|o| (0..rows).map(|i| g[i * n_out + o]).sum()).collect();
        let gw1: Vec<f32> =
            (0..n1 * n_out).map(|j| mask[j] * (0..rows).map(|i| x1[i * n1 + j / n_out] * g[i * n_out + j % n_out]).sum::<f32>()).collect();
        let gx2: Vec<f32> = (0..rows * n2).map(|j| (0..n_out).map(|o| g[(j / n2) * n_out + o] * w2[(j % n2) * n_out + o]).sum()).collect();
        close("db1", &grads.get(&b1t).as_vec(), &gb);
        close("db2", &grads.get(&b2t).as_vec(), &gb);
        close("dw1", &grads.get(&w1t).as_vec(), &gw1);
        close("dx2", &grads.get(&x2t).as_vec(), &gx2);
    }

    #[test]
    fn pooling_drops_the_remainder_and_passes_gradients_to_the_winners() {
        let dev = crate::nn::device().expect("device");
        let (batch, len, c, pool) = (2, 7, 3, 3);
        let x = values(batch * len * c, 1.0, 0.4);
        let xt: T2 = dev.tensor_from_vec(x.clone(), (batch * len, c));
        let y = relu_max_pool(xt.clone().leaky_traced(), batch, pool);
        assert_eq!(*y.shape(), (batch * (len / pool), c));
        let grads = y.sum::<(), _>().backward();
        let (yv, gx) = (relu_max_pool(xt.clone(), batch, pool).as_vec(), grads.get(&xt).as_vec());
        for b in 0..batch {
            for t in 0..len / pool {
                for ch in 0..c {
                    let at = |j: usize| (b * len + t * pool + j) * c + ch;
                    let best = (0..pool).map(|j| x[at(j)].max(0.0)).fold(0.0f32, f32::max);
                    assert_eq!(yv[(b * (len / pool) + t) * c + ch], best);
                    let to_winner: f32 = (0..pool).filter(|&j| x[at(j)] == best && best > 0.0).map(|j| gx[at(j)]).sum();
                    assert_eq!(to_winner, if best > 0.0 { 1.0 } else { 0.0 });
                }
            }
            // The dropped position (t = 6) gets nothing.
            assert!((0..c).all(|ch| gx[(b * len + 6) * c + ch] == 0.0));
        }
    }
}
