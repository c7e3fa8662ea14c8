//! Checks on values that types cannot express: sizes, ranges, and combinations.

use super::types::Spec;
use crate::config::*;
use crate::data::DatasetSpec;
use crate::eval::Metric;
use crate::nn::{EmbeddingSpec, LossKind, ModelSpec};
use crate::train::OptimizerSpec;

fn embedding(e: &EmbeddingSpec, d: &DatasetSpec) -> Result<(), Violation> {
    match e {
        EmbeddingSpec::Mlp(m) => {
            if let Some(i) = m.hidden.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding", format!("layer {i} has width 0"), Some("every width must be at least 1")));
            }
            widths_fit("model.embedding.hidden", &m.hidden)?;
        }
        EmbeddingSpec::Conv1d(c) => {
            if c.channels.is_empty() {
                return Err(bad(
                    "model.embedding.channels",
                    "is empty",
                    Some("give at least one convolution layer, or use an MLP embedding"),
                ));
            }
            if let Some(i) = c.channels.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding.channels", format!("layer {i} has 0 channels"), None));
            }
            if let Some(i) = c.dense.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding.dense", format!("layer {i} has width 0"), None));
            }
            widths_fit("model.embedding.channels", &c.channels)?;
            widths_fit("model.embedding.dense", &c.dense)?;
            at_most("model.embedding.kernel", c.kernel, MAX_WIDTH)?;
            at_most("model.embedding.stride", c.stride, MAX_WIDTH)?;
            at_most("model.embedding.pool", c.pool, MAX_WIDTH)?;
            at_least("model.embedding.kernel", c.kernel, 1)?;
            at_least("model.embedding.stride", c.stride, 1)?;
            at_least("model.embedding.pool", c.pool, 1)?;
            {
                let (_, len) = d.simulator.data_shape();
                if let Err(why) = c.lengths(len) {
                    return Err(bad(
                        "model.embedding",
                        format!("does not fit series of {len} samples: {why}"),
                        Some("use fewer layers, a smaller kernel, stride or pool, or longer data"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks every value of `spec`; returns the first violation in file order.
pub fn validate(spec: &Spec) -> Result<(), Violation> {
    if !is_folder_name(&spec.name) {
        return Err(bad(
            "name",
            format!("`{}` cannot name a results folder", spec.name),
            Some("use at most 200 letters, digits, `_`, `-` and `.`, not starting with `.`"),
        ));
    }
    validate_dataset(&spec.dataset)?;
    validate_model(spec)?;
    validate_training(spec)?;
    validate_eval(spec)
}

/// The dataset section: sizes, the simulator's own checks, the inferred parameters.
fn validate_dataset(d: &DatasetSpec) -> Result<(), Violation> {
    at_least("dataset.n_train", d.n_train, 1)?;
    at_least("dataset.n_val", d.n_val, 1)?;
    at_least("dataset.n_test", d.n_test, 1)?;
    let rows = d.n_train.checked_add(d.n_val).and_then(|r| r.checked_add(d.n_test));
    if rows.is_none_or(|r| r > MAX_SAMPLES) {
        return Err(bad(
            "dataset.n_train",
            format!("with n_val and n_test makes more than {MAX_SAMPLES} samples, more than any disk holds"),
            Some("a study needs 10^4 to 10^7 simulations"),
        ));
    }
    d.simulator.validate()?;
    let (channels, len) = d.simulator.data_shape();
    if channels.checked_mul(len).is_none_or(|v| v > MAX_DATA_VALUES) {
        return Err(bad(
            "dataset",
            format!("a data row of {channels} x {len} values is more than the {MAX_DATA_VALUES} ndelab trains on"),
            Some("shorten the series or compress the data"),
        ));
    }
    if let Some(mode) = d.noise {
        if !d.simulator.noise_modes().contains(&mode) {
            return Err(bad(
                "dataset.noise",
                format!("`{}` simulators give no noise-free signals, so training noise cannot be fresh", d.simulator.kind()),
                Some("use `noise: fixed` or leave it out"),
            ));
        }
    }
    if let Some(infer) = &d.infer {
        let sampled = d.simulator.sampled_parameters();
        if infer.is_empty() {
            return Err(bad("dataset.infer", "is empty", Some(&format!("name at least one of: {}", sampled.join(", ")))));
        }
        for (i, name) in infer.iter().enumerate() {
            if !sampled.contains(name) {
                let names: Vec<&str> = sampled.iter().map(String::as_str).collect();
                let hint = match super::suggest::nearest(name, &names) {
                    Some(n) => format!("sampled parameters: {}; did you mean `{n}`?", sampled.join(", ")),
                    None => format!("sampled parameters: {} (a fixed parameter cannot be inferred)", sampled.join(", ")),
                };
                return Err(bad("dataset.infer", format!("`{name}` is not a sampled parameter"), Some(&hint)));
            }
            if infer[..i].contains(name) {
                return Err(bad("dataset.infer", format!("`{name}` is listed twice"), None));
            }
        }
    }
    Ok(())
}

/// The loss and the training section.
fn validate_training(spec: &Spec) -> Result<(), Violation> {
    if let Some(loss) = spec.loss {
        let fits = spec.model.loss();
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
    batch_fits(spec)?;
    if spec.dataset.n_train < t.batch_size {
        return Err(bad(
            "training.batch_size",
            format!("is {} but dataset.n_train is only {}", t.batch_size, spec.dataset.n_train),
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
    if let Some(r) = &t.kl_ramp {
        if spec.model.loss() != LossKind::Elbo {
            return Err(bad(
                "training.kl_ramp",
                format!("only applies to loss `elbo`, but model `{}` trains with `{}`", spec.model.kind(), spec.model.loss().as_str()),
                Some("remove training.kl_ramp"),
            ));
        }
        if r.from_epoch >= r.to_epoch {
            return Err(bad("training.kl_ramp", format!("from_epoch ({}) must be before to_epoch ({})", r.from_epoch, r.to_epoch), None));
        }
    }
    if let Some(es) = &t.early_stopping {
        at_least("training.early_stopping.patience", es.patience, 1)?;
    }
    Ok(())
}

/// A batch, and the first layer that reads it, within the memory available: a batch's data
/// with the activations and gradients made from it (about 16 copies), and the first dense
/// layer's weights with their gradients and Adam's moments (16 bytes a weight).
fn batch_fits(spec: &Spec) -> Result<(), Violation> {
    let Some(memory) = crate::config::limits::memory_bytes() else { return Ok(()) };
    let (channels, len) = spec.dataset.simulator.data_shape();
    let values = (channels as u128) * (len as u128);
    let batch = (spec.training.batch_size as u128) * values * 4 * 16;
    if batch > memory as u128 {
        return Err(bad(
            "training.batch_size",
            format!("{} rows of {values} values need about {:.1} GB while training, more than the {:.1} GB of memory here", spec.training.batch_size, batch as f64 / 1e9, memory as f64 / 1e9),
            Some("use a smaller batch"),
        ));
    }
    // The width of the first dense layer that reads the data: an MLP embedding's, or the
    // network's own when there is no embedding (a convolution's filters are small).
    let first = match spec.model.embedding() {
        Some(EmbeddingSpec::Mlp(m)) => m.hidden.first().copied(),
        Some(EmbeddingSpec::Conv1d(_)) => None,
        None => serde_json::to_value(&spec.model).ok().and_then(|v| v.get("hidden")?.get(0)?.as_u64()).map(|w| w as usize),
    };
    if let Some(w) = first {
        let weights = values * (w as u128) * 16;
        if weights > memory as u128 {
            return Err(bad(
                "model.hidden",
                format!("a first layer of {w} units on {values} data values needs {:.1} GB, more than the {:.1} GB of memory here", weights as f64 / 1e9, memory as f64 / 1e9),
                Some("use a narrower first layer, or an embedding (conv1d) in front of the data"),
            ));
        }
    }
    Ok(())
}

/// The eval section, and metrics that need something of the model.
fn validate_eval(spec: &Spec) -> Result<(), Violation> {
    at_least("eval.kl_samples", spec.eval.kl_samples, 1)?;
    at_least("eval.posterior_samples", spec.eval.posterior_samples, 100)?;
    at_least("eval.nested.live", spec.eval.nested.live, 10)?;
    at_least("eval.nested.walks", spec.eval.nested.walks, 1)?;
    positive("eval.nested.dlogz", spec.eval.nested.dlogz)?;
    if spec.eval.metrics.contains(&Metric::Pp) {
        at_least("eval.pp_injections", spec.eval.pp_injections, 10)?;
    }
    if spec.eval.metrics.contains(&Metric::LatentPlot) && !spec.model.has_latent() {
        return Err(bad(
            "eval.metrics",
            format!(
                "`latent_plot` needs a latent-variable model ({}), not `{}`",
                ModelSpec::latent_kinds().join(" or "),
                spec.model.kind()
            ),
            Some("remove latent_plot from eval.metrics"),
        ));
    }
    Ok(())
}

/// The model section: the kind's own checks, its embedding, and metrics that need a density.
fn validate_model(spec: &Spec) -> Result<(), Violation> {
    spec.model.validate()?;
    if let Some(e) = spec.model.embedding() {
        embedding(e, &spec.dataset)?;
    }
    if spec.model.is_point_estimate() && spec.training.recalibrate {
        return Err(bad(
            "training.recalibrate",
            format!("recalibrates posterior draws, and model `{}` gives point estimates", spec.model.kind()),
            Some("remove training.recalibrate"),
        ));
    }
    if spec.model.is_point_estimate() {
        let needs_samples = [(Metric::Pp, "pp"), (Metric::C2st, "c2st"), (Metric::Corner, "corner")];
        if let Some((_, name)) = needs_samples.iter().find(|(m, _)| spec.eval.metrics.contains(m)) {
            return Err(bad(
                "eval.metrics",
                format!("`{name}` needs posterior samples; a regression gives point estimates"),
                Some(&format!("remove {name}; a regression run reports the RMSE of each parameter")),
            ));
        }
    }
    Ok(())
}
