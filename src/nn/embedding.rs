//! Networks that embed the data y before an estimator sees it: an MLP, or a 1-D convolutional
//! front-end over the detectors' whitened time series (Gabbard et al.'s networks), and
//! [`Embedded`], which puts one in front of any estimator.
//!
//! dfdx 0.13 has no 1-D convolution and its 2-D one needs square kernels, so the convolution
//! is ndelab's own operation ([`super::conv1d`]): matrix products over the overlapping windows
//! of the time-major activations (with stride 1, one for the whole batch), fused with ReLU and
//! max-pooling into one layer with its own backward pass.

use super::kernels::conv1d::{conv1d_relu_pool, ConvShape};
use super::dense::{Dense, Mlp};
use super::params::ParamSet;
use super::NnError;
use super::{DensityEstimator, Dev, LossContext, Network, PointEstimator, T0, T2};
use crate::config::{number, tagged};
use crate::math::SampleRng;
use serde::{Deserialize, Serialize};
use dfdx::prelude::*;
use rand::Rng;

/// One convolution + ReLU + max-pooling layer over (batch · length, channels) activations.
#[derive(Clone, Debug)]
struct ConvLayer {
    filters: Dense,
    c_in: usize,
    kernel: usize,
    stride: usize,
    pool: usize,
    len_in: usize,
    len_conv: usize,
    len_out: usize,
}

impl ConvLayer {
    fn shape(&self, batch: usize, c_out: usize) -> ConvShape {
        let s = ConvShape { batch, len_in: self.len_in, c_in: self.c_in, c_out, kernel: self.kernel, stride: self.stride };
        debug_assert_eq!(s.len_out(), self.len_conv);
        s
    }

    /// # Shapes
    /// `h`: (batch · len_in, c_in) → (batch · len_out, c_out).
    fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, h: T2<Tp>, batch: usize) -> T2<Tp> {
        let (w, b) = (&p.params[self.filters.weight_index()].tensor, &p.params[self.filters.weight_index() + 1].tensor);
        conv1d_relu_pool(h, w, b, self.shape(batch, self.filters.n_out()), self.pool, true)
    }

    /// The first layer, whose input is the data (batch, channels · length), channel-major: laid
    /// out time-major on the host (the data need no gradient).
    fn forward_data<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, data: T2<Tp>) -> T2<Tp> {
        let batch = data.shape().0;
        let (data, tape) = data.split_tape();
        let v = data.as_vec();
        let (c, len) = (self.c_in, self.len_in);
        let mut x = vec![0.0f32; batch * len * c];
        for b in 0..batch {
            for ch in 0..c {
                for t in 0..len {
                    x[(b * len + t) * c + ch] = v[b * c * len + ch * len + t];
                }
            }
        }
        let x: T2<Tp> = data.device().tensor_from_vec(x, (batch * len, c)).put_tape(tape);
        let (w, b) = (&p.params[self.filters.weight_index()].tensor, &p.params[self.filters.weight_index() + 1].tensor);
        conv1d_relu_pool(x, w, b, self.shape(batch, self.filters.n_out()), self.pool, false)
    }
}

/// The convolutional front-end followed by dense layers.
#[derive(Clone, Debug)]
pub struct ConvNet {
    layers: Vec<ConvLayer>,
    dense: Mlp,
}

/// An embedding network.
#[derive(Clone, Debug)]
pub enum Embedding {
    /// Dense layers.
    Mlp(Mlp),
    /// Convolutions, then dense layers.
    Conv(ConvNet),
}

impl Embedding {
    /// Builds the network a spec names, for data of `channels` series of equal length,
    /// registered in `params` as `embedding.*`. Fails when the series are too short.
    pub fn new(
        dev: &Dev,
        rng: &mut impl Rng,
        params: &mut ParamSet,
        spec: &EmbeddingSpec,
        data_dim: usize,
        channels: usize,
    ) -> Result<Embedding, NnError> {
        match spec {
            EmbeddingSpec::Mlp(m) => Ok(Embedding::Mlp(Mlp::new(dev, rng, params, "embedding", data_dim, &m.hidden))),
            EmbeddingSpec::Conv1d(c) => {
                let channels = channels.max(1);
                if data_dim % channels != 0 {
                    return Err(NnError::EmbeddingDoesNotFit(format!("{data_dim} data values do not split into {channels} channels")));
                }
                let lengths = c.lengths(data_dim / channels).map_err(|e| NnError::EmbeddingDoesNotFit(e.to_string()))?;
                let mut layers = Vec::new();
                let mut c_in = channels;
                for (i, (&c_out, &(len_in, len_conv, len_out))) in c.channels.iter().zip(&lengths).enumerate() {
                    let filters = Dense::new(dev, rng, params, &format!("embedding.conv.{i}"), c.kernel * c_in, c_out);
                    layers.push(ConvLayer { filters, c_in, kernel: c.kernel, stride: c.stride, pool: c.pool, len_in, len_conv, len_out });
                    c_in = c_out;
                }
                let flat = lengths.last().map_or(data_dim, |l| l.2 * c_in);
                let dense = Mlp::new(dev, rng, params, "embedding.dense", flat, &c.dense);
                Ok(Embedding::Conv(ConvNet { layers, dense }))
            }
        }
    }

    /// Width of the features.
    pub fn n_out(&self) -> usize {
        match self {
            Embedding::Mlp(m) => m.n_out(),
            Embedding::Conv(c) => c.dense.n_out(),
        }
    }

    /// # Shapes
    /// `data`: (batch, data_dim) → (batch, [`Embedding::n_out`]).
    pub fn forward<Tp: Tape<f32, Dev>>(&self, p: &ParamSet, data: T2<Tp>) -> T2<Tp> {
        match self {
            Embedding::Mlp(m) => m.forward_data(p, data, false),
            Embedding::Conv(net) => {
                let batch = data.shape().0;
                let mut h = net.layers[0].forward_data(p, data);
                for l in &net.layers[1..] {
                    h = l.forward(p, h, batch);
                }
                let last = &net.layers[net.layers.len() - 1];
                let width = last.len_out * h.shape().1;
                net.dense.forward(p, h.reshape_like(&(batch, width)))
            }
        }
    }
}

/// An estimator that sees embedded data: the embedding's weights live in the estimator's
/// parameter set and train with it.
pub struct Embedded<N: ?Sized> {
    embed: Embedding,
    inner: Box<N>,
    data_dim: usize,
    dev: Dev,
}

// SAFETY: as for the networks (`thread_safe_on_gpu!`): only the CUDA stream inside dfdx's
// device is not marked Send + Sync, and the driver lets any thread use it.
#[cfg(feature = "cuda")]
unsafe impl<N: ?Sized + Send> Send for Embedded<N> {}
// SAFETY: as above.
#[cfg(feature = "cuda")]
unsafe impl<N: ?Sized + Sync> Sync for Embedded<N> {}

impl<N: Network + ?Sized> Embedded<N> {
    /// `inner` was built on features of width `embed.n_out()`, with the embedding's parameters
    /// already in its set.
    pub fn new(dev: &Dev, embed: Embedding, inner: Box<N>, data_dim: usize) -> Embedded<N> {
        Embedded { embed, inner, data_dim, dev: dev.clone() }
    }

    fn features(&self, data: &[f32], rows: usize) -> Vec<f32> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        self.embed.forward(self.inner.params(), y).as_vec()
    }
}

impl<N: Network + ?Sized> Network for Embedded<N> {
    fn theta_dim(&self) -> usize {
        self.inner.theta_dim()
    }
    fn data_dim(&self) -> usize {
        self.data_dim
    }
    fn params(&self) -> &ParamSet {
        self.inner.params()
    }
    fn params_mut(&mut self) -> &mut ParamSet {
        self.inner.params_mut()
    }
    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let features = self.embed.forward(self.inner.params(), data);
        let raw = std::mem::replace(&mut ctx.data_grad, true);
        let loss = self.inner.loss(theta, features, ctx);
        ctx.data_grad = raw;
        loss
    }
    fn update_buffers(&mut self) {
        self.inner.update_buffers()
    }
}

impl DensityEstimator for Embedded<dyn DensityEstimator> {
    fn log_prob_z(&self, theta: &[f32], data: &[f32], rows: usize) -> Vec<f64> {
        self.inner.log_prob_z(theta, &self.features(data, rows), rows)
    }
    fn sample_z(&self, n: usize, data: &[f32], rng: &mut SampleRng) -> Vec<f64> {
        self.inner.sample_z(n, &self.features(data, 1), rng)
    }
    fn latent(&self, data: &[f32], rows: usize) -> Option<(usize, Vec<f64>)> {
        self.inner.latent(&self.features(data, rows), rows)
    }
    fn fits_after_training(&self) -> bool {
        self.inner.fits_after_training()
    }
    fn fit_after_training(&mut self, theta: &[f32], data: &[f32], rows: usize) -> Option<String> {
        // The features a chunk at a time: a convolution's activations for every row at once
        // would be large.
        let mut features = Vec::new();
        for start in (0..rows).step_by(4096) {
            let end = (start + 4096).min(rows);
            features.extend(self.features(&data[start * self.data_dim..end * self.data_dim], end - start));
        }
        self.inner.fit_after_training(theta, &features, rows)
    }
}

impl PointEstimator for Embedded<dyn PointEstimator> {
    fn predict_z(&self, data: &[f32], rows: usize) -> Vec<f64> {
        self.inner.predict_z(&self.features(data, rows), rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Conv1dSpec;

    /// A direct convolution over (channels × length) data with the layer's filters, ReLU and
    /// max-pooling, for checking the gather + matmul form.
    fn naive_layer(p: &ParamSet, l: &ConvLayer, x: &[f32], c_out: usize) -> Vec<f32> {
        let w = p.params[l.filters.weight_index()].tensor.as_vec();
        let b = p.params[l.filters.weight_index() + 1].tensor.as_vec();
        let mut conv = vec![0.0f32; c_out * l.len_conv];
        for o in 0..c_out {
            for t in 0..l.len_conv {
                let mut s = b[o];
                for k in 0..l.kernel {
                    for c in 0..l.c_in {
                        // Window row order is (k, c), matching the im2col layout.
                        s += x[c * l.len_in + t * l.stride + k] * w[(k * l.c_in + c) * c_out + o];
                    }
                }
                conv[o * l.len_conv + t] = s.max(0.0);
            }
        }
        let mut out = vec![0.0f32; c_out * l.len_out];
        for o in 0..c_out {
            for t in 0..l.len_out {
                out[o * l.len_out + t] = (0..l.pool).map(|j| conv[o * l.len_conv + t * l.pool + j]).fold(f32::MIN, f32::max);
            }
        }
        out
    }

    #[test]
    fn convolutions_match_a_direct_computation() {
        let dev = Dev::default();
        let mut rng = crate::math::StreamFamily::new(3, "t").rng(0);
        let mut params = ParamSet::default();
        let spec = Conv1dSpec { channels: vec![3, 4], kernel: 3, stride: 2, pool: 2, dense: vec![] };
        let (channels, len, batch) = (2, 40, 3);
        let e = Embedding::new(&dev, &mut rng, &mut params, &EmbeddingSpec::Conv1d(spec), channels * len, channels).expect("fits");
        let data: Vec<f32> = (0..batch * channels * len).map(|i| (i * 37 % 101) as f32 / 50.0 - 1.0).collect();
        let got = e.forward(&params, dev.tensor_from_vec(data.clone(), (batch, channels * len))).as_vec();
        let Embedding::Conv(net) = &e else { panic!("not a conv net") };
        let width = got.len() / batch;
        for b in 0..batch {
            let mut x = data[b * channels * len..(b + 1) * channels * len].to_vec();
            for (l, &c_out) in net.layers.iter().zip(&[3usize, 4]) {
                x = naive_layer(&params, l, &x, c_out);
            }
            // The network's flat features are position-major, channel-minor.
            let last = &net.layers[1];
            for t in 0..last.len_out {
                for c in 0..4 {
                    let (a, n) = (got[b * width + t * 4 + c], x[c * last.len_out + t]);
                    assert!((a - n).abs() < 1e-5, "item {b} position {t} channel {c}: {a} vs {n}");
                }
            }
        }
    }
}

/// The network that embeds the data y: an MLP, or a 1-D convolutional front-end over the
/// detectors' whitened time series (one input channel per detector) followed by an MLP.
///
/// A bare list `[256, 256]` is short for `{ kind: mlp, hidden: [256, 256] }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmbeddingSpec {
    /// Dense layers with ReLU.
    Mlp(MlpEmbeddingSpec),
    /// Convolution + ReLU + max-pooling layers, then dense layers (Gabbard et al.'s front-end).
    Conv1d(Conv1dSpec),
}

impl EmbeddingSpec {
    /// An MLP embedding with these hidden widths.
    pub fn mlp(hidden: Vec<usize>) -> EmbeddingSpec {
        EmbeddingSpec::Mlp(MlpEmbeddingSpec { hidden })
    }
}

impl<'de> Deserialize<'de> for EmbeddingSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_norway::Value::deserialize(d)?;
        if let serde_norway::Value::Sequence(_) = value {
            let hidden = number::vec_usize(value).map_err(|e| D::Error::custom(e.to_string()))?;
            return Ok(EmbeddingSpec::mlp(hidden));
        }
        if !matches!(value, serde_norway::Value::Mapping(_)) {
            return Err(D::Error::custom(format!(
                "expected a list of MLP widths such as [256, 256], a section with `kind: conv1d` (or `kind: mlp`), or none; found {}",
                serde_norway::to_string(&value).unwrap_or_default().trim()
            )));
        }
        let (kind, rest) = tagged::split_kind(value, &["mlp", "conv1d"]).map_err(|e| D::Error::custom(e.to_string()))?;
        match kind.as_str() {
            "conv1d" => Ok(EmbeddingSpec::Conv1d(tagged::variant(rest)?)),
            _ => Ok(EmbeddingSpec::Mlp(tagged::variant(rest)?)),
        }
    }
}

/// An `embedding` value: a network, or `null` / `none` for none.
pub fn embedding_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<EmbeddingSpec>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(d)?;
    match &value {
        serde_norway::Value::Null => Ok(None),
        serde_norway::Value::String(s) if s == "none" => Ok(None),
        _ => EmbeddingSpec::deserialize(value).map(Some).map_err(|e| D::Error::custom(e.to_string())),
    }
}

/// Settings of an MLP embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpEmbeddingSpec {
    /// Widths of the dense layers (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
}

/// Settings of a 1-D convolutional embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Conv1dSpec {
    /// Output channels of each convolution layer.
    #[serde(deserialize_with = "number::vec_usize")]
    pub channels: Vec<usize>,
    /// Kernel size of every convolution.
    #[serde(deserialize_with = "number::usize")]
    pub kernel: usize,
    /// Stride of every convolution.
    #[serde(deserialize_with = "number::usize")]
    pub stride: usize,
    /// Max-pooling size after every convolution (1: none).
    #[serde(deserialize_with = "number::usize")]
    pub pool: usize,
    /// Dense layers after the convolutions (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub dense: Vec<usize>,
}

impl Conv1dSpec {
    /// (input, convolved, pooled) length of each layer over `len` samples, or why the
    /// data are too short for it.
    pub fn lengths(&self, len: usize) -> Result<Vec<(usize, usize, usize)>, ConvDoesNotFit> {
        let mut out = Vec::new();
        let mut l = len;
        for layer in 0..self.channels.len() {
            if l < self.kernel {
                return Err(ConvDoesNotFit::Kernel { layer, len: l, kernel: self.kernel });
            }
            let conv = (l - self.kernel) / self.stride.max(1) + 1;
            let pooled = conv / self.pool.max(1);
            if pooled == 0 {
                return Err(ConvDoesNotFit::Pool { layer, len: conv, pool: self.pool });
            }
            out.push((l, conv, pooled));
            l = pooled;
        }
        Ok(out)
    }
}

/// Why a convolution stack does not fit series of a given length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvDoesNotFit {
    /// A layer's input is shorter than the kernel.
    #[error("layer {layer} gets {len} samples, fewer than the kernel size {kernel}")]
    Kernel {
        /// The layer.
        layer: usize,
        /// Samples it gets.
        len: usize,
        /// The kernel size.
        kernel: usize,
    },
    /// A layer's convolution is shorter than the pooling.
    #[error("layer {layer} makes {len} samples, fewer than the pooling size {pool}")]
    Pool {
        /// The layer.
        layer: usize,
        /// Samples it makes.
        len: usize,
        /// The pooling size.
        pool: usize,
    },
}

impl Default for Conv1dSpec {
    fn default() -> Self {
        Conv1dSpec { channels: vec![16, 16, 32], kernel: 7, stride: 1, pool: 2, dense: vec![128] }
    }
}
