//! The dense layer y = act(x W + b) as one custom dfdx operation with its own backward pass.
//!
//! dfdx 0.13 builds a layer from three operations (matmul, a broadcast bias add, ReLU), each
//! with its own allocation and tape entry, and its broadcast backward is a generic index walk;
//! the matmul's backward always computes the input's gradient, even where the input is data
//! that no one differentiates. Here the forward pass is one GEMM onto rows that already hold
//! the bias, with ReLU applied in place; the backward pass masks the output gradient once and
//! runs two GEMMs (filters, and the input only when asked), on rayon's threads.
// A CUDA build runs these layers through dfdx (on_device.rs); the host kernels stay for the
// CPU build and its tests.
#![cfg_attr(feature = "cuda", allow(dead_code, unused_imports))]

use super::gemm::gemm;
use crate::nn::{Dev, Param, T2};
use dfdx::prelude::*;

/// What follows the affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Nothing.
    Identity,
    /// max(0, ·).
    Relu,
}

/// A tensor's values, row-major, by one copy of its storage (dfdx's `as_vec` walks the
/// elements one by one). For the contiguous tensors that ops produce, which is all that reach
/// here: a broadcast tensor's storage is shorter than its shape and panics here instead.
pub(crate) fn host<S: Shape, Tp>(t: &Tensor<S, f32, Dev, Tp>) -> Vec<f32> {
    let mut v = vec![0.0f32; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

/// act(x W + b) for x (rows × n_in), W flat (n_in × n_out, row-major), b (n_out), on x's
/// tape. Gradients reach W and b, and x when `input_grad` (not for data no one
/// differentiates).
pub fn linear<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, b: &Param, n_out: usize, act: Activation, input_grad: bool) -> T2<Tp> {
    linear_sum(vec![Input { x, w, grad: input_grad, mask: None }], &[b], n_out, act)
}

/// One input of [`linear_sum`]: x (rows × n_in), its weight W (n_in × n_out, flat), whether
/// x needs a gradient, and a constant mask M (n_in × n_out, 0 or 1) when the weight is W ⊙ M
/// (MADE's autoregressive layers: W's gradient is masked too).
pub struct Input<'a, Tp> {
    /// The input.
    pub x: T2<Tp>,
    /// Its weight.
    pub w: &'a Param,
    /// Whether x gets a gradient.
    pub grad: bool,
    /// The weight's mask, if any.
    pub mask: Option<&'a [f32]>,
}

#[cfg(feature = "cuda")]
pub use crate::nn::on_device::linear_sum;

/// act(Σᵢ xᵢ Wᵢ + Σⱼ bⱼ) as one operation: the first layer of a network that reads two inputs
/// with a bias each, on the inputs' merged tapes.
#[cfg(not(feature = "cuda"))]
pub fn linear_sum<Tp: Tape<f32, Dev>>(inputs: Vec<Input<'_, Tp>>, biases: &[&Param], n_out: usize, act: Activation) -> T2<Tp> {
    let mut tape = Tp::default();
    let mut parts = Vec::with_capacity(inputs.len());
    let mut rows = 0;
    for Input { x, w, grad, mask } in inputs {
        let (x, t) = x.split_tape();
        tape = tape.merge(t);
        let (r, n_in) = *x.shape();
        assert_eq!(w.shape().num_elements(), n_in * n_out, "linear: weight shape");
        assert!(parts.is_empty() || r == rows, "linear: inputs with different row counts");
        rows = r;
        let mut wv = host(w);
        if let Some(m) = mask {
            assert_eq!(m.len(), wv.len(), "linear: mask shape");
            wv.iter_mut().zip(m).for_each(|(w, m)| *w *= m);
        }
        parts.push((host(&x), wv, x, w.clone(), n_in, grad, mask.map(<[f32]>::to_vec)));
    }
    let mut y = bias_rows(biases, rows, n_out);
    for (xv, wv, _, _, n_in, _, _) in &parts {
        gemm(rows, n_out, *n_in, &mut y, true, (xv, *n_in, 1), (wv, n_out, 1));
    }
    let open = activate(&mut y, act);
    let device = parts[0].2.device().clone();
    let y: T2 = device.tensor_from_vec(y, (rows, n_out));
    if Tp::OWNS_TAPE {
        let y_id = y.clone();
        let b_ids: Vec<Param> = biases.iter().map(|b| (*b).clone()).collect();
        tape.add_backward_op(move |grads| {
            let g: Vec<f32> = match act {
                Activation::Identity => grads.get_or_alloc_mut(&y_id)?.to_vec(),
                Activation::Relu => grads.get_or_alloc_mut(&y_id)?.iter().zip(&open).map(|(g, o)| if *o { *g } else { 0.0 }).collect(),
            };
            for b in &b_ids {
                let gb = grads.get_or_alloc_mut(b)?;
                for row in g.chunks_exact(n_out) {
                    gb.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
            }
            for (xv, wv, x_id, w_id, n_in, grad, mask) in &parts {
                // dW += xᵀ g: xᵀ has element (i, r) = x[r · n_in + i]; masked where W is.
                match mask {
                    None => gemm(*n_in, n_out, rows, grads.get_or_alloc_mut(w_id)?, true, (xv, 1, *n_in), (&g, n_out, 1)),
                    Some(m) => {
                        let mut gw = vec![0.0f32; n_in * n_out];
                        gemm(*n_in, n_out, rows, &mut gw, false, (xv, 1, *n_in), (&g, n_out, 1));
                        let dst = grads.get_or_alloc_mut(w_id)?;
                        dst.iter_mut().zip(gw).zip(m).for_each(|((d, g), m)| *d += g * m);
                    }
                }
                if *grad {
                    // dx += g Wᵀ: Wᵀ has element (o, i) = W[i · n_out + o].
                    gemm(rows, *n_in, n_out, grads.get_or_alloc_mut(x_id)?, true, (&g, n_out, 1), (wv, 1, n_out));
                }
            }
            Ok(())
        });
    }
    y.put_tape(tape)
}

/// `rows` rows, each the biases' sum (0 + b₁ + b₂ … in that order, as a zeroed row would),
/// written once rather than zeroed first.
#[cfg(not(feature = "cuda"))]
fn bias_rows(biases: &[&Param], rows: usize, n_out: usize) -> Vec<f32> {
    let mut bias = vec![0.0f32; n_out];
    for b in biases {
        let b = host(*b);
        assert_eq!(b.len(), n_out, "linear: bias length");
        bias.iter_mut().zip(&b).for_each(|(s, b)| *s += b);
    }
    let mut y = Vec::<f32>::with_capacity(rows * n_out);
    y.spare_capacity_mut()[..rows * n_out].chunks_exact_mut(n_out.max(1)).for_each(|row| {
        row.iter_mut().zip(&bias).for_each(|(d, b)| {
            d.write(*b);
        })
    });
    // SAFETY: the rows of n_out values cover all rows · n_out, each value written above.
    unsafe { y.set_len(rows * n_out) };
    y
}

/// Applies `act` in place; returns where ReLU passed its input (all the backward pass needs),
/// empty for the identity.
#[cfg(not(feature = "cuda"))]
fn activate(y: &mut [f32], act: Activation) -> Vec<bool> {
    match act {
        Activation::Relu => y
            .iter_mut()
            .map(|v| {
                *v = v.max(0.0);
                *v > 0.0
            })
            .collect(),
        Activation::Identity => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each named pair of gradients agrees to 1e-3 (relative).
    fn assert_grads_match(pairs: &[(&str, Vec<f32>, Vec<f32>)]) {
        for (name, p, q) in pairs {
            for (i, (p, q)) in p.iter().zip(q).enumerate() {
                assert!((p - q).abs() < 1e-3 * (1.0 + q.abs()), "gradient {name}[{i}]: {p} vs {q}");
            }
        }
    }

    fn values_of(n: usize, scale: f32, phase: f32) -> Vec<f32> {
        (0..n).map(|i| scale * ((i as f32) * 0.73 + phase).sin()).collect()
    }

    /// The generic dfdx layer: matmul, broadcast bias, ReLU.
    fn generic<Tp: Tape<f32, Dev>>(x: T2<Tp>, w: &Param, b: &Param, n_in: usize, n_out: usize, act: Activation) -> T2<Tp> {
        let rows = x.shape().0;
        let y = x.matmul(w.clone().reshape_like(&(n_in, n_out))) + b.clone().broadcast_like::<_, Axis<0>>(&(rows, n_out));
        match act {
            Activation::Identity => y,
            Activation::Relu => y.relu(),
        }
    }

    /// Forward and every gradient equal the generic layer's; the gradients also equal central
    /// finite differences of Σ y·r.
    #[test]
    fn linear_matches_the_generic_layer_and_finite_differences() {
        let dev = Dev::default();
        for (rows, n_in, n_out, act) in [(5, 3, 4, Activation::Relu), (7, 6, 2, Activation::Identity), (300, 40, 50, Activation::Relu)] {
            let xv = values_of(rows * n_in, 1.0, 0.2);
            let w: Param = dev.tensor_from_vec(values_of(n_in * n_out, 0.5, 1.3), (n_in * n_out,));
            let b: Param = dev.tensor_from_vec(values_of(n_out, 0.3, 2.1), (n_out,));
            let r: T2 = dev.tensor_from_vec(values_of(rows * n_out, 1.0, 0.9), (rows, n_out));
            let x: T2 = dev.tensor_from_vec(xv.clone(), (rows, n_in));
            let ours = linear(x.clone().leaky_traced(), &w, &b, n_out, act, true);
            let theirs = generic(x.clone().leaky_traced(), &w, &b, n_in, n_out, act);
            for (a, c) in ours.as_vec().iter().zip(theirs.as_vec()) {
                assert!((a - c).abs() < 1e-4, "forward {a} vs {c}");
            }
            let g1 = (ours * r.clone()).sum::<(), _>().backward();
            let g2 = (theirs * r.clone()).sum::<(), _>().backward();
            for (name, a, c) in [
                ("x", g1.get(&x).as_vec(), g2.get(&x).as_vec()),
                ("w", g1.get(&w).as_vec(), g2.get(&w).as_vec()),
                ("b", g1.get(&b).as_vec(), g2.get(&b).as_vec()),
            ] {
                for (i, (a, c)) in a.iter().zip(&c).enumerate() {
                    assert!((a - c).abs() < 1e-3 * (1.0 + c.abs()), "{rows}×{n_in}→{n_out} gradient {name}[{i}]: {a} vs {c}");
                }
            }
            // Finite differences away from ReLU's kink: the identity case, small enough to loop.
            if rows > 10 || act == Activation::Relu {
                continue;
            }
            let f = |xv: &[f32]| -> f64 {
                let x: T2 = dev.tensor_from_vec(xv.to_vec(), (rows, n_in));
                linear(x, &w, &b, n_out, act, false).as_vec().iter().zip(r.as_vec()).map(|(a, c)| (*a as f64) * (c as f64)).sum()
            };
            let gx = g1.get(&x).as_vec();
            for i in 0..xv.len() {
                let h = 1e-2f32;
                let (mut p, mut m) = (xv.clone(), xv.clone());
                p[i] += h;
                m[i] -= h;
                let want = (f(&p) - f(&m)) / (2.0 * h as f64);
                assert!((gx[i] as f64 - want).abs() < 2e-3 * (1.0 + want.abs()), "x[{i}]: {} vs finite difference {want}", gx[i]);
            }
        }
    }

    /// Two inputs with a bias each equal the generic relu(x A + a + y B + b), with gradients.
    #[test]
    fn linear_sum_matches_two_generic_layers() {
        let dev = Dev::default();
        let (rows, nx, ny, n_out) = (9, 3, 5, 4);
        let x: T2 = dev.tensor_from_vec(values_of(rows * nx, 1.0, 0.1), (rows, nx));
        let y: T2 = dev.tensor_from_vec(values_of(rows * ny, 1.0, 0.6), (rows, ny));
        let (a, b): (Param, Param) = (
            dev.tensor_from_vec(values_of(nx * n_out, 0.5, 0.3), (nx * n_out,)),
            dev.tensor_from_vec(values_of(ny * n_out, 0.5, 0.8), (ny * n_out,)),
        );
        let (ab, bb): (Param, Param) =
            (dev.tensor_from_vec(values_of(n_out, 0.2, 1.0), (n_out,)), dev.tensor_from_vec(values_of(n_out, 0.2, 2.0), (n_out,)));
        let r: T2 = dev.tensor_from_vec(values_of(rows * n_out, 1.0, 0.4), (rows, n_out));
        let inputs = vec![
            Input { x: x.clone().leaky_traced(), w: &a, grad: true, mask: None },
            Input { x: y.clone().leaky_traced(), w: &b, grad: true, mask: None },
        ];
        let ours = linear_sum(inputs, &[&ab, &bb], n_out, Activation::Relu);
        let theirs = (generic(x.clone().leaky_traced(), &a, &ab, nx, n_out, Activation::Identity)
            + generic(y.clone().leaky_traced(), &b, &bb, ny, n_out, Activation::Identity))
        .relu();
        for (p, q) in ours.as_vec().iter().zip(theirs.as_vec()) {
            assert!((p - q).abs() < 1e-4, "forward {p} vs {q}");
        }
        let g1 = (ours * r.clone()).sum::<(), _>().backward();
        let g2 = (theirs * r).sum::<(), _>().backward();
        assert_grads_match(&[
            ("x", g1.get(&x).as_vec(), g2.get(&x).as_vec()),
            ("y", g1.get(&y).as_vec(), g2.get(&y).as_vec()),
            ("A", g1.get(&a).as_vec(), g2.get(&a).as_vec()),
            ("B", g1.get(&b).as_vec(), g2.get(&b).as_vec()),
            ("a", g1.get(&ab).as_vec(), g2.get(&ab).as_vec()),
            ("b", g1.get(&bb).as_vec(), g2.get(&bb).as_vec()),
        ]);
    }

    /// A masked weight equals the generic x (W ⊙ M) + b, gradients included (W's masked).
    #[test]
    fn a_masked_weight_matches_the_generic_masked_product() {
        let dev = Dev::default();
        let (rows, n_in, n_out) = (6, 4, 5);
        let x: T2 = dev.tensor_from_vec(values_of(rows * n_in, 1.0, 0.3), (rows, n_in));
        let w: Param = dev.tensor_from_vec(values_of(n_in * n_out, 0.5, 0.2), (n_in * n_out,));
        let b: Param = dev.tensor_from_vec(values_of(n_out, 0.2, 1.5), (n_out,));
        let m: Vec<f32> = (0..n_in * n_out).map(|i| ((i * 7) % 3 != 0) as u8 as f32).collect();
        let mt: T2 = dev.tensor_from_vec(m.clone(), (n_in, n_out));
        let r: T2 = dev.tensor_from_vec(values_of(rows * n_out, 1.0, 0.4), (rows, n_out));
        let ours =
            linear_sum(vec![Input { x: x.clone().leaky_traced(), w: &w, grad: true, mask: Some(&m) }], &[&b], n_out, Activation::Identity);
        let wm = w.clone().leaky_traced().reshape_like(&(n_in, n_out)) * mt;
        let theirs = x.clone().leaky_traced().matmul(wm) + b.clone().leaky_traced().broadcast_like::<_, Axis<0>>(&(rows, n_out));
        for (p, q) in ours.as_vec().iter().zip(theirs.as_vec()) {
            assert!((p - q).abs() < 1e-4, "forward {p} vs {q}");
        }
        let g1 = (ours * r.clone()).sum::<(), _>().backward();
        let g2 = (theirs * r).sum::<(), _>().backward();
        assert_grads_match(&[
            ("x", g1.get(&x).as_vec(), g2.get(&x).as_vec()),
            ("w", g1.get(&w).as_vec(), g2.get(&w).as_vec()),
            ("b", g1.get(&b).as_vec(), g2.get(&b).as_vec()),
        ]);
    }

    /// Without `input_grad` the input gets no gradient (none is even allocated). The CPU build's
    /// saving only: dfdx's product on the GPU computes both gradients.
    #[test]
    #[cfg(not(feature = "cuda"))]
    fn linear_skips_the_input_gradient_when_asked() {
        let dev = Dev::default();
        let x: T2 = dev.tensor_from_vec(values_of(12, 1.0, 0.0), (4, 3));
        let w: Param = dev.tensor_from_vec(values_of(6, 1.0, 0.5), (6,));
        let b: Param = dev.tensor_from_vec(vec![0.1, 0.2], (2,));
        let grads = linear(x.clone().leaky_traced(), &w, &b, 2, Activation::Relu, false).sum::<(), _>().backward();
        assert!(grads.get(&w).as_vec().iter().any(|v| *v != 0.0));
        assert!(std::panic::catch_unwind(|| grads.get(&x)).is_err(), "the input has no gradient entry");
    }
}
