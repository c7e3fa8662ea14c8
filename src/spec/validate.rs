//! Checks on values that types cannot express: sizes, ranges, and combinations.

use super::types::*;

/// A value the spec may not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted key path of the value.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

fn bad(key: &str, message: impl Into<String>, help: Option<&str>) -> Violation {
    Violation { key: key.to_string(), message: message.into(), help: help.map(str::to_string) }
}

fn positive(key: &str, v: f64) -> Result<(), Violation> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(key, format!("must be a positive number, got {v}"), None))
    }
}

fn at_least(key: &str, v: usize, min: usize) -> Result<(), Violation> {
    if v >= min {
        Ok(())
    } else {
        Err(bad(key, format!("must be at least {min}, got {v}"), None))
    }
}

/// The loss each model kind trains with, and the ones it accepts.
pub fn loss_for(model: &ModelSpec) -> LossKind {
    match model {
        ModelSpec::Gaussian(_) => LossKind::Nll,
    }
}

/// Checks every value of `spec`; returns the first violation in file order.
pub fn validate(spec: &Spec) -> Result<(), Violation> {
    if spec.name.is_empty()
        || spec.name.starts_with('.')
        || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(bad(
            "name",
            format!("`{}` cannot name a results folder", spec.name),
            Some("use letters, digits, `_`, `-` and `.`, not starting with `.`"),
        ));
    }
    let d = &spec.dataset;
    at_least("dataset.n_train", d.n_train, 1)?;
    at_least("dataset.n_val", d.n_val, 1)?;
    at_least("dataset.n_test", d.n_test, 1)?;
    match d.simulator {
        SimulatorKind::LinearGaussian => {
            let lg = d.linear_gaussian.clone().unwrap_or_default();
            at_least("dataset.linear_gaussian.theta_dim", lg.theta_dim, 1)?;
            at_least("dataset.linear_gaussian.data_dim", lg.data_dim, 1)?;
            if lg.matrix == MatrixKind::Identity && lg.theta_dim != lg.data_dim {
                return Err(bad(
                    "dataset.linear_gaussian.matrix",
                    format!("`identity` needs data_dim = theta_dim, got data_dim {} and theta_dim {}", lg.data_dim, lg.theta_dim),
                    Some("set data_dim equal to theta_dim, or use `matrix: random`"),
                ));
            }
            positive("dataset.linear_gaussian.prior_std", lg.prior_std)?;
            positive("dataset.linear_gaussian.noise_std", lg.noise_std)?;
        }
    }
    match &spec.model {
        ModelSpec::Gaussian(g) => {
            if let Some(i) = g.hidden.iter().position(|&w| w == 0) {
                return Err(bad("model.hidden", format!("layer {i} has width 0"), Some("every hidden width must be at least 1")));
            }
        }
    }
    if let Some(loss) = spec.loss {
        let fits = loss_for(&spec.model);
        if loss != fits {
            return Err(bad(
                "loss",
                format!("`{}` does not fit model `{}`", loss.as_str(), spec.model.kind()),
                Some(&format!("use `loss: {}` or leave `loss` out", fits.as_str())),
            ));
        }
    }
    let t = &spec.training;
    at_least("training.batch_size", t.batch_size, 1)?;
    if d.n_train < t.batch_size {
        return Err(bad(
            "training.batch_size",
            format!("is {} but dataset.n_train is only {}", t.batch_size, d.n_train),
            Some("make n_train at least batch_size"),
        ));
    }
    at_least("training.epochs", t.epochs, 1)?;
    match &t.optimizer {
        OptimizerSpec::Adam(a) => {
            positive("training.optimizer.lr", a.lr)?;
            for (k, b) in [("training.optimizer.beta1", a.beta1), ("training.optimizer.beta2", a.beta2)] {
                if !(0.0..1.0).contains(&b) {
                    return Err(bad(k, format!("must be in [0, 1), got {b}"), None));
                }
            }
            positive("training.optimizer.eps", a.eps)?;
        }
    }
    if let Some(es) = &t.early_stopping {
        at_least("training.early_stopping.patience", es.patience, 1)?;
    }
    at_least("eval.kl_samples", spec.eval.kl_samples, 1)?;
    Ok(())
}
