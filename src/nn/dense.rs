//! Dense layers and MLPs with sizes known only at run time.
//!
//! Layers hold indices into a [`ParamSet`], not tensors, so the optimizer can update the
//! set in place and every layer sees the new values.

pub use super::kernels::linear::Activation;
use super::kernels::linear::{linear, linear_sum, Input};
use super::params::ParamSet;
use super::{Dev, T2};
use dfdx::prelude::*;
use rand::Rng;

/// y = x W + b.
#[derive(Clone, Debug)]
pub struct Dense {
    w: usize,
    n_in: usize,
    n_out: usize,
}

impl Dense {
    /// A new layer registered in `params` as `<name>.weight` (n_in × n_out) and `<name>.bias`.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, n_in: usize, n_out: usize) -> Dense {
        let w = params.params.len();
        params.uniform(dev, rng, &format!("{name}.weight"), &[n_in, n_out], n_in);
        params.uniform(dev, rng, &format!("{name}.bias"), &[n_out], n_in);
        Dense { w, n_in, n_out }
    }

    /// Width of the output.
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    /// Width of the input.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// Index of the weight in its [`ParamSet`] (the bias follows it).
    pub fn weight_index(&self) -> usize {
        self.w
    }

    /// act(x (W ⊙ M) + b) with a constant 0/1 mask M (n_in × n_out, flat), for MADE; W's
    /// gradient is masked too.
    pub fn forward_masked<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, mask: &[f32], act: Activation) -> T2<Tp> {
        let input = Input { x, w: &p.params[self.w].tensor, grad: true, mask: Some(mask) };
        linear_sum(vec![input], &[&p.params[self.w + 1].tensor], self.n_out, act)
    }

    /// The weight and bias of this layer as an input of [`linear_sum`].
    pub fn input<'a, Tp>(&self, p: &'a ParamSet, x: T2<Tp>, grad: bool, mask: Option<&'a [f32]>) -> (Input<'a, Tp>, &'a super::Param) {
        (Input { x, w: &p.params[self.w].tensor, grad, mask }, &p.params[self.w + 1].tensor)
    }

    /// y = x W + b.
    ///
    /// # Shapes
    /// `x`: (batch, n_in) → (batch, n_out).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>) -> T2<Tp> {
        self.forward_with(p, x, Activation::Identity, true)
    }

    /// act(x W + b), with the input's gradient only when `input_grad` (raw data needs none).
    ///
    /// # Shapes
    /// `x`: (batch, n_in) → (batch, n_out).
    pub fn forward_with<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, act: Activation, input_grad: bool) -> T2<Tp> {
        debug_assert_eq!(x.shape().1, self.n_in, "Dense: input width");
        linear(x, &p.params[self.w].tensor, &p.params[self.w + 1].tensor, self.n_out, act, input_grad)
    }
}

/// A stack of dense layers, each followed by ReLU: the feature trunk of an estimator.
#[derive(Clone, Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    n_in: usize,
}

impl Mlp {
    /// `n_in → hidden[0] → … → hidden[k-1]`, ReLU after every layer.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, n_in: usize, hidden: &[usize]) -> Mlp {
        let mut layers = Vec::new();
        let mut prev = n_in;
        for (i, &h) in hidden.iter().enumerate() {
            layers.push(Dense::new(dev, rng, params, &format!("{name}.{i}"), prev, h));
            prev = h;
        }
        Mlp { layers, n_in }
    }

    /// Width of the output (the input width when there are no layers).
    pub fn n_out(&self) -> usize {
        self.layers.last().map_or(self.n_in, Dense::n_out)
    }

    /// # Shapes
    /// `x`: (batch, n_in) → (batch, [`Mlp::n_out`]).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>) -> T2<Tp> {
        self.forward_data(p, x, true)
    }

    /// The same, with a gradient for `x` only when `input_grad`: false where `x` is the data,
    /// which no one differentiates (the first layer then skips one matrix product).
    pub fn forward_data<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, mut x: T2<Tp>, input_grad: bool) -> T2<Tp> {
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward_with(p, x, Activation::Relu, input_grad || i > 0);
        }
        x
    }
}

/// An MLP whose first layer takes two inputs, relu(x Wₐ + y W_b + b) — the same as one layer on
/// the concatenation [x, y] without copying — followed by further layers.
#[derive(Clone, Debug)]
pub struct PairMlp {
    a: Dense,
    b: Dense,
    rest: Mlp,
}

impl PairMlp {
    /// `(n_x, n_y) → hidden[0] → … → hidden[k-1]`, ReLU after every layer; `hidden` is not empty.
    pub fn new(dev: &Dev, rng: &mut impl Rng, params: &mut ParamSet, name: &str, n_x: usize, n_y: usize, hidden: &[usize]) -> PairMlp {
        let h0 = hidden[0];
        let a = Dense::new(dev, rng, params, &format!("{name}.0a"), n_x, h0);
        let b = Dense::new(dev, rng, params, &format!("{name}.0b"), n_y, h0);
        let rest = Mlp::new(dev, rng, params, name, h0, &hidden[1..]);
        PairMlp { a, b, rest }
    }

    /// Width of the output.
    pub fn n_out(&self) -> usize {
        self.rest.n_out()
    }

    /// The same as [`PairMlp::forward`] with one `y` row shared by every row of `x`: the `y`
    /// half of the first layer is computed once instead of `batch` times.
    ///
    /// # Shapes
    /// `x`: (batch, n_x), `y`: (1, n_y) → (batch, [`PairMlp::n_out`]).
    pub fn forward_shared_y(&self, p: &ParamSet, x: T2, y: T2) -> T2 {
        let rows = x.shape().0;
        let yb = self.b.forward(p, y);
        let width = yb.shape().1;
        let yb = yb.reshape_like(&(width,)).broadcast_like::<_, Axis<0>>(&(rows, width));
        self.rest.forward(p, (self.a.forward(p, x) + yb).relu())
    }

    /// # Shapes
    /// `x`: (batch, n_x), `y`: (batch, n_y) → (batch, [`PairMlp::n_out`]).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, y: T2<Tp>) -> T2<Tp> {
        self.forward_data(p, x, y, true)
    }

    /// The same, with a gradient for `y` only when `y_grad` (false where `y` is the data).
    pub fn forward_data<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, x: T2<Tp>, y: T2<Tp>, y_grad: bool) -> T2<Tp> {
        let ((xa, ba), (yb, bb)) = (self.a.input(p, x, true, None), self.b.input(p, y, y_grad, None));
        let h = linear_sum(vec![xa, yb], &[ba, bb], self.a.n_out, Activation::Relu);
        self.rest.forward(p, h)
    }
}
