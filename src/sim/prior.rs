//! The prior of one parameter — fixed, uniform, normal or log-uniform — as every simulator's
//! settings write it, and the declared parameter lists of simulators ndelab does not know the
//! physics of (an external program, files).

use super::{Parameter, SampleRng};
use crate::math::stats::normal_quantile;
use crate::math::LN_2PI;
use crate::config::bad;
use crate::config::{number, tagged, Violation};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// One parameter: its name and its prior.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// Name used in specs (`dataset.infer`), tables and plots.
    pub name: String,
    /// Its prior: a number fixes it; `{ kind: uniform, min, max }`, `{ kind: normal, mean, std }`
    /// or `{ kind: log_uniform, min, max }`.
    pub prior: Prior,
}

/// A prior over one parameter. In YAML a number fixes it; `{ min, max }` is uniform; other
/// families are named by `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prior {
    /// Fixed to a value: not sampled, not inferred.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on [min, max).
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal N(mean, std²).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// log x uniform on [log min, log max).
    LogUniform {
        /// Lower bound (> 0).
        min: f64,
        /// Upper bound.
        max: f64,
    },
}

impl<'de> Deserialize<'de> for Prior {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Range {
            #[serde(deserialize_with = "number::f64")]
            min: f64,
            #[serde(deserialize_with = "number::f64")]
            max: f64,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Moments {
            #[serde(deserialize_with = "number::f64")]
            mean: f64,
            #[serde(deserialize_with = "number::f64")]
            std: f64,
        }
        let v = serde_norway::Value::deserialize(d)?;
        // A mapping without a kind is a uniform range `{ min, max }` (how gw_bbh's priors are written).
        if v.as_mapping().is_some_and(|m| !m.contains_key("kind")) {
            let r: Range = tagged::variant(v)?;
            return Ok(Prior::Uniform { min: r.min, max: r.max });
        }
        if !v.is_mapping() {
            use serde::de::Error;
            return number::f64(v).map(|value| Prior::Fixed { value }).map_err(|_| {
                D::Error::custom("expected a number (fixed value) or a section with `kind: uniform`, `normal` or `log_uniform`")
            });
        }
        let (kind, rest) =
            tagged::split_kind(v, &["uniform", "normal", "log_uniform", "fixed"]).map_err(|e| tagged::relay::<D::Error>(e))?;
        Ok(match kind.as_str() {
            "normal" => {
                let m: Moments = tagged::variant(rest)?;
                Prior::Normal { mean: m.mean, std: m.std }
            }
            "fixed" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Value {
                    #[serde(deserialize_with = "number::f64")]
                    value: f64,
                }
                Prior::Fixed { value: tagged::variant::<Value, D::Error>(rest)?.value }
            }
            log_or_uniform => {
                let r: Range = tagged::variant(rest)?;
                match log_or_uniform {
                    "log_uniform" => Prior::LogUniform { min: r.min, max: r.max },
                    _ => Prior::Uniform { min: r.min, max: r.max },
                }
            }
        })
    }
}

impl Prior {
    /// Checks the numbers; `key` names the prior in messages.
    pub fn validate(&self, key: &str) -> Result<(), Violation> {
        let finite = |v: f64| v.is_finite();
        match *self {
            Prior::Fixed { value } if finite(value) => Ok(()),
            Prior::Uniform { min, max } if finite(min) && finite(max) && min < max => Ok(()),
            Prior::LogUniform { min, max } if finite(max) && min > 0.0 && min < max => Ok(()),
            Prior::Normal { mean, std } if finite(mean) && finite(std) && std > 0.0 => Ok(()),
            Prior::Fixed { .. } => Err(bad(key, "a fixed value must be finite", None)),
            Prior::Normal { .. } => Err(bad(key, "needs a finite mean and std > 0", None)),
            Prior::LogUniform { .. } => Err(bad(key, "needs 0 < min < max", None)),
            Prior::Uniform { .. } => Err(bad(key, "needs finite min < max", None)),
        }
    }

    /// Whether the parameter is sampled (not fixed).
    pub fn is_sampled(&self) -> bool {
        !matches!(self, Prior::Fixed { .. })
    }

    /// The support [lower, upper] (±∞ where unbounded).
    pub fn bounds(&self) -> (f64, f64) {
        match *self {
            Prior::Fixed { value } => (value, value),
            Prior::Uniform { min, max } | Prior::LogUniform { min, max } => (min, max),
            Prior::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The value at quantile `u` ∈ (0, 1): what nested sampling explores, and how draws are made.
    pub fn transform(&self, u: f64) -> f64 {
        match *self {
            Prior::Fixed { value } => value,
            Prior::Uniform { min, max } => min + (max - min) * u,
            Prior::LogUniform { min, max } => (min.ln() + (max.ln() - min.ln()) * u).exp(),
            Prior::Normal { mean, std } => mean + std * normal_quantile(u),
        }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut SampleRng) -> f64 {
        match *self {
            Prior::Normal { mean, std } => mean + std * rng.sample::<f64, _>(StandardNormal),
            _ => self.transform(rng.gen::<f64>()),
        }
    }

    /// log density at `x` (−∞ outside the support; 0 for a fixed value).
    pub fn log_density(&self, x: f64) -> f64 {
        let (lo, hi) = self.bounds();
        if !(lo..=hi).contains(&x) {
            return f64::NEG_INFINITY;
        }
        match *self {
            Prior::Fixed { .. } => 0.0,
            Prior::Uniform { min, max } => -(max - min).ln(),
            Prior::LogUniform { min, max } => -(x.ln() + (max.ln() - min.ln()).ln()),
            Prior::Normal { mean, std } => -0.5 * ((x - mean) / std).powi(2) - std.ln() - 0.5 * LN_2PI,
        }
    }
}

/// Writes a prior as gw_bbh's section always has: a fixed value as the number, a uniform range
/// as `{ min, max }` (so that the keys of its datasets stay what they were), any other family
/// with its `kind`.
pub fn compact<S: serde::Serializer>(prior: &Prior, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match *prior {
        Prior::Fixed { value } => s.serialize_f64(value),
        Prior::Uniform { min, max } => {
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("min", &min)?;
            map.serialize_entry("max", &max)?;
            map.end()
        }
        _ => prior.serialize(s),
    }
}

/// The sampled (not fixed) parameters of a declared list: θ's columns, in order.
fn sampled(params: &[ParameterSpec]) -> impl Iterator<Item = &ParameterSpec> {
    params.iter().filter(|p| p.prior.is_sampled())
}

/// The simulator parameters (name and prior support) of the sampled declared parameters.
pub fn to_parameters(params: &[ParameterSpec]) -> Vec<Parameter> {
    sampled(params)
        .map(|p| {
            let (lower, upper) = p.prior.bounds();
            Parameter { name: p.name.clone(), lower, upper, period: None }
        })
        .collect()
}

/// Draws θ from the priors of the sampled parameters.
pub fn sample_all(params: &[ParameterSpec], rng: &mut SampleRng, theta: &mut [f64]) {
    for (t, p) in theta.iter_mut().zip(sampled(params)) {
        *t = p.prior.sample(rng);
    }
}

/// θ at the prior quantiles `u` (the prior transform of nested sampling).
pub fn transform_all(params: &[ParameterSpec], u: &[f64], theta: &mut [f64]) {
    for ((t, &v), p) in theta.iter_mut().zip(u).zip(sampled(params)) {
        *t = p.prior.transform(v);
    }
}

/// log π(θ) of independent priors.
pub fn log_density_all(params: &[ParameterSpec], theta: &[f64]) -> f64 {
    theta.iter().zip(sampled(params)).map(|(&t, p)| p.prior.log_density(t)).sum()
}

/// Checks a list of declared parameters: at least one sampled, names unique and non-empty.
pub fn validate_parameters(key: &str, params: &[ParameterSpec]) -> Result<(), Violation> {
    if !params.iter().any(|p| p.prior.is_sampled()) {
        return Err(bad(key, "declares no sampled parameter", Some("give at least one parameter a prior that is not a number")));
    }
    for (i, p) in params.iter().enumerate() {
        if p.name.is_empty() || params[..i].iter().any(|q| q.name == p.name) {
            return Err(bad(key, format!("parameter {i} has an empty or repeated name `{}`", p.name), None));
        }
        p.prior.validate(&format!("{key}[{i}].prior"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::StreamFamily;

    /// Draws follow the density: the mean of each prior's draws matches ∫ x p(x) dx, and the
    /// transform of u = ½ is the median.
    #[test]
    fn draws_transforms_and_densities_agree() {
        let priors = [
            Prior::Uniform { min: -1.0, max: 3.0 },
            Prior::Normal { mean: 2.0, std: 0.5 },
            Prior::LogUniform { min: 0.1, max: 10.0 },
        ];
        let mut rng = StreamFamily::new(1, "t").rng(0);
        for p in priors {
            let n = 200_000;
            let mean: f64 = (0..n).map(|_| p.sample(&mut rng)).sum::<f64>() / n as f64;
            let (lo, hi) = match p.bounds() {
                (lo, hi) if lo.is_finite() => (lo, hi),
                _ => (-10.0, 14.0),
            };
            let m = 200_000;
            let h = (hi - lo) / m as f64;
            let (mut mass, mut first) = (0.0, 0.0);
            for i in 0..m {
                let x = lo + (i as f64 + 0.5) * h;
                let w = p.log_density(x).exp() * h;
                mass += w;
                first += x * w;
            }
            assert!((mass - 1.0).abs() < 1e-3, "{p:?}: ∫p = {mass}");
            assert!((mean - first).abs() < 0.02, "{p:?}: mean of draws {mean}, of the density {first}");
            let median = p.transform(0.5);
            let below: f64 = (0..m).map(|i| lo + (i as f64 + 0.5) * h).filter(|&x| x < median).map(|x| p.log_density(x).exp() * h).sum();
            assert!((below - 0.5).abs() < 1e-3, "{p:?}: P(x < transform(½)) = {below}");
        }
    }
}
