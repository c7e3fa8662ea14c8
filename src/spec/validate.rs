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
        ModelSpec::Gaussian(_) | ModelSpec::Mdn(_) | ModelSpec::Maf(_) | ModelSpec::Nsf(_) => LossKind::Nll,
        ModelSpec::Cvae(_) | ModelSpec::CvaeFlow(_) => LossKind::Elbo,
        ModelSpec::Regression(_) => LossKind::Mse,
    }
}

/// Channels and length of each series of the data a dataset section makes, where known
/// without building the simulator.
fn data_shape(d: &DatasetSpec) -> Option<(usize, usize)> {
    match d.simulator {
        SimulatorKind::GwBbh => {
            let g = d.gw_bbh.clone().unwrap_or_default();
            Some((g.detectors.len().max(1), (g.sampling_frequency * g.duration).round() as usize))
        }
        SimulatorKind::LinearGaussian => Some((1, d.linear_gaussian.clone().unwrap_or_default().data_dim)),
    }
}

fn embedding(e: &EmbeddingSpec, d: &DatasetSpec) -> Result<(), Violation> {
    match e {
        EmbeddingSpec::Mlp(m) => {
            if let Some(i) = m.hidden.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding", format!("layer {i} has width 0"), Some("every width must be at least 1")));
            }
        }
        EmbeddingSpec::Conv1d(c) => {
            if c.channels.is_empty() {
                return Err(bad("model.embedding.channels", "is empty", Some("give at least one convolution layer, or use an MLP embedding")));
            }
            if let Some(i) = c.channels.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding.channels", format!("layer {i} has 0 channels"), None));
            }
            if let Some(i) = c.dense.iter().position(|&w| w == 0) {
                return Err(bad("model.embedding.dense", format!("layer {i} has width 0"), None));
            }
            at_least("model.embedding.kernel", c.kernel, 1)?;
            at_least("model.embedding.stride", c.stride, 1)?;
            at_least("model.embedding.pool", c.pool, 1)?;
            if let Some((_, len)) = data_shape(d) {
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
    if d.simulator != SimulatorKind::LinearGaussian && d.linear_gaussian.is_some() {
        return Err(bad(
            "dataset.linear_gaussian",
            format!("is set but `dataset.simulator` is {}", d.simulator.as_str()),
            Some("remove the section or change the simulator"),
        ));
    }
    if d.simulator != SimulatorKind::GwBbh && d.gw_bbh.is_some() {
        return Err(bad(
            "dataset.gw_bbh",
            format!("is set but `dataset.simulator` is {}", d.simulator.as_str()),
            Some("remove the section or change the simulator"),
        ));
    }
    match d.simulator {
        SimulatorKind::GwBbh => validate_gw(&d.gw_bbh.clone().unwrap_or_default())?,
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
    if let Some(infer) = &d.infer {
        let sampled = d.sampled_parameters();
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
    let hidden = match &spec.model {
        ModelSpec::Gaussian(g) => &g.hidden,
        ModelSpec::Regression(r) => {
            if let Some(m) = spec.eval.metrics.iter().find(|m| matches!(m, Metric::Pp | Metric::C2st)) {
                let name = if *m == Metric::Pp { "pp" } else { "c2st" };
                return Err(bad(
                    "eval.metrics",
                    format!("`{name}` needs posterior samples; a regression gives point estimates"),
                    Some("remove it; a regression run reports the RMSE of each parameter"),
                ));
            }
            if spec.eval.metrics.contains(&Metric::Corner) {
                return Err(bad(
                    "eval.metrics",
                    "`corner` needs posterior samples; a regression gives point estimates",
                    Some("remove corner; a regression run reports the RMSE of each parameter"),
                ));
            }
            &r.hidden
        }
        ModelSpec::Mdn(m) => {
            at_least("model.components", m.components, 1)?;
            &m.hidden
        }
        ModelSpec::Cvae(c) => {
            at_least("model.latent_dim", c.latent_dim, 1)?;
            at_least("model.is_samples", c.is_samples, 1)?;
            if c.hidden.is_empty() {
                return Err(bad("model.hidden", "is empty", Some("the CVAE's networks need at least one hidden layer")));
            }
            &c.hidden
        }
        ModelSpec::Maf(m) => {
            at_least("model.blocks", m.blocks, 1)?;
            if m.hidden.is_empty() {
                return Err(bad("model.hidden", "is empty", Some("each MADE block needs at least one hidden layer")));
            }
            &m.hidden
        }
        ModelSpec::Nsf(m) => {
            at_least("model.blocks", m.blocks, 1)?;
            at_least("model.bins", m.bins, 2)?;
            positive("model.tail_bound", m.tail_bound)?;
            if m.hidden.is_empty() {
                return Err(bad("model.hidden", "is empty", Some("each coupling's network needs at least one hidden layer")));
            }
            &m.hidden
        }
        ModelSpec::CvaeFlow(c) => {
            at_least("model.latent_dim", c.latent_dim, 1)?;
            at_least("model.blocks", c.blocks, 1)?;
            at_least("model.bins", c.bins, 2)?;
            at_least("model.is_samples", c.is_samples, 1)?;
            if c.hidden.is_empty() {
                return Err(bad("model.hidden", "is empty", Some("the encoder and the flows need at least one hidden layer")));
            }
            &c.hidden
        }
    };
    if let Some(e) = spec.model.embedding() {
        embedding(e, &spec.dataset)?;
    }
    if let Some(i) = hidden.iter().position(|&w| w == 0) {
        return Err(bad("model.hidden", format!("layer {i} has width 0"), Some("every hidden width must be at least 1")));
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
    if let Some(r) = &t.kl_ramp {
        if loss_for(&spec.model) != LossKind::Elbo {
            return Err(bad(
                "training.kl_ramp",
                format!("only applies to loss `elbo`, but model `{}` trains with `{}`", spec.model.kind(), loss_for(&spec.model).as_str()),
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
    at_least("eval.kl_samples", spec.eval.kl_samples, 1)?;
    at_least("eval.posterior_samples", spec.eval.posterior_samples, 100)?;
    if spec.eval.metrics.contains(&Metric::Pp) {
        at_least("eval.pp_injections", spec.eval.pp_injections, 10)?;
    }
    if spec.eval.metrics.contains(&Metric::LatentPlot) && !matches!(spec.model, ModelSpec::Cvae(_) | ModelSpec::CvaeFlow(_)) {
        return Err(bad(
            "eval.metrics",
            format!("`latent_plot` needs a latent-variable model (cvae), not `{}`", spec.model.kind()),
            Some("remove latent_plot from eval.metrics"),
        ));
    }
    Ok(())
}

fn validate_gw(g: &GwBbhSpec) -> Result<(), Violation> {
    const K: &str = "dataset.gw_bbh";
    if g.detectors.is_empty() {
        return Err(bad(&format!("{K}.detectors"), "is empty", Some("name at least one of H1, L1, V1")));
    }
    for (i, det) in g.detectors.iter().enumerate() {
        if !["H1", "L1", "V1"].contains(&det.as_str()) {
            return Err(bad(&format!("{K}.detectors"), format!("unknown detector `{det}`"), Some("expected one of: H1, L1, V1")));
        }
        if g.detectors[..i].contains(det) {
            return Err(bad(&format!("{K}.detectors"), format!("`{det}` is listed twice"), None));
        }
    }
    positive(&format!("{K}.sampling_frequency"), g.sampling_frequency)?;
    positive(&format!("{K}.duration"), g.duration)?;
    let n = g.sampling_frequency * g.duration;
    if (n - n.round()).abs() > 1e-9 || n.round() < 16.0 || n.round() as u64 % 2 != 0 {
        return Err(bad(
            &format!("{K}.duration"),
            format!("sampling_frequency × duration must be an even whole number of at least 16 samples, got {n}"),
            None,
        ));
    }
    positive(&format!("{K}.f_min"), g.f_min)?;
    positive(&format!("{K}.f_ref"), g.f_ref)?;
    if g.f_min >= g.sampling_frequency / 2.0 {
        return Err(bad(
            &format!("{K}.f_min"),
            format!("{} Hz is not below the Nyquist frequency {} Hz", g.f_min, g.sampling_frequency / 2.0),
            None,
        ));
    }
    if !g.reference_time.is_finite() || g.reference_time < 0.0 {
        return Err(bad(&format!("{K}.reference_time"), format!("must be a GPS time, got {}", g.reference_time), None));
    }
    if !(g.min_test_snr >= 0.0 && g.min_test_snr.is_finite()) {
        return Err(bad(&format!("{K}.min_test_snr"), format!("must be 0 or more, got {}", g.min_test_snr), None));
    }
    for (name, prior) in g.priors.named() {
        let key = format!("{K}.priors.{name}");
        let (lo, hi) = match prior {
            Prior::Fixed(v) => (v, v),
            Prior::Uniform { min, max } => {
                if !(min < max) || !min.is_finite() || !max.is_finite() {
                    return Err(bad(&key, format!("needs min < max, got min {min} and max {max}"), None));
                }
                (min, max)
            }
        };
        let ok = match name {
            "m1" | "m2" => lo > 0.0,
            "d_L" => lo > 0.0,
            "t0" => lo > -g.duration / 2.0 && hi < g.duration / 2.0,
            _ => lo.is_finite() && hi.is_finite(),
        };
        if !ok {
            let why = match name {
                "m1" | "m2" => "masses must be positive (solar masses)".to_string(),
                "d_L" => "the distance must be positive (Mpc)".to_string(),
                "t0" => format!("the merger must fall inside the segment: t0 in (−{0}, {0}) s", g.duration / 2.0),
                _ => "must be finite".to_string(),
            };
            return Err(bad(&key, why, None));
        }
    }
    Ok(())
}
