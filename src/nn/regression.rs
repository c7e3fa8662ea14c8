//! The `regression` estimator: a point estimate x̂(y) trained with the mean squared error, as in
//! the "real-time regression" papers (George & Huerta, PRD 97 044039; arXiv:1903.01998).
//!
//! It is not a density: it gives no posterior, no NLL and no samples, and evaluation reports the
//! RMSE of each parameter instead.

use super::dense::{Dense, Mlp};
use super::params::ParamSet;
use super::registry::{BuildContext, EstimatorConfig};
use super::Estimator;
use super::{Dev, LossContext, Network, PointEstimator, T0, T2};
use crate::config::number;
use crate::config::hidden_widths;
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use dfdx::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Settings of the `regression` estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionSpec {
    /// Widths of the hidden layers of the MLP (ReLU).
    #[serde(deserialize_with = "number::vec_usize")]
    pub hidden: Vec<usize>,
    /// Network that embeds the data y before the estimator sees it (MLP or 1-D CNN).
    #[serde(deserialize_with = "crate::nn::embedding_or_none")]
    pub embedding: Option<EmbeddingSpec>,
}

impl Default for RegressionSpec {
    fn default() -> Self {
        RegressionSpec { hidden: vec![64, 64], embedding: None }
    }
}

impl EstimatorConfig for RegressionSpec {
    const KIND: &'static str = "regression";
    const LOSS: LossKind = LossKind::Mse;
    const POINT_ESTIMATE: bool = true;

    fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding.as_ref()
    }

    fn validate(&self) -> Result<(), Violation> {
        hidden_widths(&self.hidden, None)
    }

    fn build(&self, ctx: BuildContext) -> Estimator {
        Estimator::Point(Box::new(RegressionNet::new(ctx.dev, ctx.rng, ctx.params, self, ctx.theta_dim, ctx.features)))
    }

    fn example() -> Self {
        RegressionSpec { hidden: vec![16], embedding: None }
    }
}

/// The network.
pub struct RegressionNet {
    dev: Dev,
    d: usize,
    data_dim: usize,
    trunk: Mlp,
    head: Dense,
    params: ParamSet,
}
thread_safe_on_gpu!(RegressionNet);

impl RegressionNet {
    /// A new network, initialised from `rng`.
    pub fn new(
        dev: &Dev,
        rng: &mut impl Rng,
        mut params: ParamSet,
        spec: &RegressionSpec,
        theta_dim: usize,
        data_dim: usize,
    ) -> RegressionNet {
        let trunk = Mlp::new(dev, rng, &mut params, "trunk", data_dim, &spec.hidden);
        let head = Dense::new(dev, rng, &mut params, "head", trunk.n_out(), theta_dim);
        RegressionNet { dev: dev.clone(), d: theta_dim, data_dim, trunk, head, params }
    }
}

impl Network for RegressionNet {
    estimator_accessors!();

    fn loss(&self, theta: T2, data: T2<OwnedTape<f32, Dev>>, ctx: &mut LossContext) -> T0<OwnedTape<f32, Dev>> {
        let est = self.head.forward(&self.params, self.trunk.forward_data(&self.params, data, ctx.data_grad));
        (est - theta).square().mean::<(), _>()
    }
}

impl PointEstimator for RegressionNet {
    fn predict_z(&self, data: &[f32], rows: usize) -> Vec<f64> {
        let y: T2 = self.dev.tensor_from_vec(data.to_vec(), (rows, self.data_dim));
        self.head.forward(&self.params, self.trunk.forward(&self.params, y)).as_vec().into_iter().map(|v| v as f64).collect()
    }
}
