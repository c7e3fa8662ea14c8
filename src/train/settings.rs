//! The training section of a spec: batch size, epochs, optimizer, schedule, early stopping,
//! the ELBO's KL ramp, the order of samples and recalibration.

use crate::config::{number, tagged};
use crate::data::Shuffle;
use serde::{Deserialize, Serialize};

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSpec {
    /// Samples per gradient step.
    #[serde(deserialize_with = "number::usize")]
    pub batch_size: usize,
    /// Most epochs to train (early stopping may end sooner).
    #[serde(deserialize_with = "number::usize")]
    pub epochs: usize,
    /// The optimizer.
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule over the epochs: `constant` or `cosine` (to 0 at the last epoch).
    pub lr_schedule: LrSchedule,
    /// Stop when the validation loss has not improved for `patience` epochs; `null` trains every epoch.
    pub early_stopping: Option<EarlyStoppingSpec>,
    /// Weight of the KL term of `elbo` rising linearly from 0 at `from_epoch` to 1 at
    /// `to_epoch` (1-based); `null` keeps it at 1. Only for `loss: elbo`.
    pub kl_ramp: Option<KlRampSpec>,
    /// The order of an epoch's samples: `rows` (default) or `blocks` (for a training split far
    /// larger than memory).
    #[serde(skip_serializing_if = "Shuffle::is_rows")]
    pub shuffle: Shuffle,
    /// After training, recalibrate the posterior's marginals on the validation split so that
    /// its pairs' true parameters rank uniformly among the draws (quantile recalibration,
    /// Kuleshov et al. 2018); applies to draws, not to log q.
    #[serde(skip_serializing_if = "is_false")]
    pub recalibrate: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A linear ramp of the ELBO's KL weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlRampSpec {
    /// Last epoch with weight 0.
    #[serde(deserialize_with = "number::usize")]
    pub from_epoch: usize,
    /// First epoch with weight 1.
    #[serde(deserialize_with = "number::usize")]
    pub to_epoch: usize,
}

impl KlRampSpec {
    /// The KL weight during (1-based) `epoch`.
    pub fn weight(&self, epoch: usize) -> f32 {
        if epoch <= self.from_epoch {
            0.0
        } else if epoch >= self.to_epoch {
            1.0
        } else {
            (epoch - self.from_epoch) as f32 / (self.to_epoch - self.from_epoch) as f32
        }
    }
}

impl Default for TrainingSpec {
    fn default() -> Self {
        TrainingSpec {
            batch_size: 512,
            epochs: 60,
            optimizer: OptimizerSpec::default(),
            lr_schedule: LrSchedule::Cosine,
            early_stopping: Some(EarlyStoppingSpec::default()),
            kl_ramp: None,
            shuffle: Shuffle::Rows,
            recalibrate: false,
        }
    }
}

/// The optimizer, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerSpec {
    /// Adam (Kingma & Ba 2014).
    Adam(AdamSpec),
}

impl<'de> Deserialize<'de> for OptimizerSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (kind, rest) = tagged::split_kind(d, &["adam"])?;
        match kind.as_str() {
            _ => Ok(OptimizerSpec::Adam(tagged::variant(rest)?)),
        }
    }
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec::Adam(AdamSpec::default())
    }
}

/// Adam's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamSpec {
    /// Learning rate.
    #[serde(deserialize_with = "number::f64")]
    pub lr: f64,
    /// Decay of the first moment.
    #[serde(deserialize_with = "number::f64")]
    pub beta1: f64,
    /// Decay of the second moment.
    #[serde(deserialize_with = "number::f64")]
    pub beta2: f64,
    /// Added to the root of the second moment.
    #[serde(deserialize_with = "number::f64")]
    pub eps: f64,
}

impl Default for AdamSpec {
    fn default() -> Self {
        AdamSpec { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// Learning-rate schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The optimizer's learning rate throughout.
    Constant,
    /// Cosine annealing from the optimizer's learning rate to 0 over `epochs`.
    Cosine,
}

/// Early stopping on the validation loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStoppingSpec {
    /// Epochs without improvement before stopping.
    #[serde(deserialize_with = "number::usize")]
    pub patience: usize,
}

impl Default for EarlyStoppingSpec {
    fn default() -> Self {
        EarlyStoppingSpec { patience: 20 }
    }
}
