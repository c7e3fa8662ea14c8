//! The prior of one parameter — fixed, uniform, normal or log-uniform — as every simulator's
//! settings write it, and the declared parameter lists of simulators ndelab does not know the
//! physics of (an external program, files).

use super::distance_prior::{DistanceTable, Volume};
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
    /// Its prior: a number fixes it; `{ min, max }` is uniform; `{ kind: normal, mean, std }`,
    /// `{ kind: log_uniform, min, max }` and bilby's families (`sine`, `cosine`, `power_law`,
    /// `aligned_spin`, `uniform_in_components_chirp_mass`, `uniform_in_components_mass_ratio`,
    /// `uniform_comoving_volume`, `uniform_source_frame`) are named by `kind`.
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
    /// p(x) ∝ sin x on [min, max] ⊆ [0, π] (bilby's `Sine`: an inclination or a polar angle
    /// isotropic on the sphere).
    Sine {
        /// Lower bound (default 0).
        min: f64,
        /// Upper bound (default π).
        max: f64,
    },
    /// p(x) ∝ cos x on [min, max] ⊆ [−π/2, π/2] (bilby's `Cosine`: a declination isotropic on
    /// the sky).
    Cosine {
        /// Lower bound (default −π/2).
        min: f64,
        /// Upper bound (default π/2).
        max: f64,
    },
    /// p(x) ∝ x^alpha on [min, max] (bilby's `PowerLaw`; alpha = −1 is log-uniform).
    PowerLaw {
        /// The exponent.
        alpha: f64,
        /// Lower bound (> 0).
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// The aligned spin component χ = a cos θ of a spin of magnitude a ~ U[0, a_max] and
    /// isotropic direction: p(χ) = −ln(|χ|/a_max) / (2 a_max) on [−a_max, a_max] (bilby's
    /// `AlignedSpin` with its default magnitude and direction priors).
    AlignedSpin {
        /// Largest spin magnitude (default 1).
        a_max: f64,
    },
    /// A chirp mass whose component masses are uniform: p ∝ M_c on [min, max] (bilby's
    /// `UniformInComponentsChirpMass`).
    UniformInComponentsChirpMass {
        /// Lower bound (> 0).
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// A mass ratio q = m2/m1 ≤ 1 whose component masses are uniform:
    /// p ∝ (1 + q)^(2/5) / q^(6/5) on [min, max] (bilby's `UniformInComponentsMassRatio`).
    UniformInComponentsMassRatio {
        /// Lower bound (> 0).
        min: f64,
        /// Upper bound (at most 1).
        max: f64,
    },
    /// A luminosity distance in Mpc uniform in comoving volume under Planck15 (bilby's
    /// `UniformComovingVolume`).
    UniformComovingVolume {
        /// Lower bound, Mpc.
        min: f64,
        /// Upper bound, Mpc.
        max: f64,
    },
    /// A luminosity distance in Mpc uniform in comoving volume and source-frame time under
    /// Planck15: p ∝ dV_c/dd_L / (1 + z) (bilby's `UniformSourceFrame`).
    UniformSourceFrame {
        /// Lower bound, Mpc.
        min: f64,
        /// Upper bound, Mpc.
        max: f64,
    },
}

/// The prior families' names as a spec writes them after `kind:`.
pub const PRIOR_KINDS: &[&str] = &[
    "uniform",
    "normal",
    "log_uniform",
    "fixed",
    "sine",
    "cosine",
    "power_law",
    "aligned_spin",
    "uniform_in_components_chirp_mass",
    "uniform_in_components_mass_ratio",
    "uniform_comoving_volume",
    "uniform_source_frame",
];

/// `{ min, max }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    #[serde(deserialize_with = "number::f64")]
    min: f64,
    #[serde(deserialize_with = "number::f64")]
    max: f64,
}

/// `{ mean, std }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Moments {
    #[serde(deserialize_with = "number::f64")]
    mean: f64,
    #[serde(deserialize_with = "number::f64")]
    std: f64,
}

impl<'de> Deserialize<'de> for Prior {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_norway::Value::deserialize(d)?;
        // A mapping without a kind is a uniform range `{ min, max }` (how gw_bbh's priors are written).
        if v.as_mapping().is_some_and(|m| !m.contains_key("kind")) {
            let r: Range = tagged::variant(v)?;
            return Ok(Prior::Uniform { min: r.min, max: r.max });
        }
        if !v.is_mapping() {
            use serde::de::Error;
            return number::f64(v).map(|value| Prior::Fixed { value }).map_err(|_| {
                D::Error::custom(format!("expected a number (fixed value), `{{ min, max }}` (uniform) or a section with a `kind`: one of {}", PRIOR_KINDS.join(", ")))
            });
        }
        let (kind, rest) = tagged::split_kind(v, PRIOR_KINDS).map_err(|e| tagged::relay::<D::Error>(e))?;
        Prior::of_kind::<D::Error>(&kind, rest)
    }
}

impl Prior {
    /// The prior of family `kind` from the rest of its section.
    fn of_kind<E: serde::de::Error>(kind: &str, rest: serde_norway::Value) -> Result<Prior, E> {
        Ok(match kind {
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
                Prior::Fixed { value: tagged::variant::<Value, E>(rest)?.value }
            }
            "sine" | "cosine" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Angle {
                    #[serde(default, deserialize_with = "number::opt_f64")]
                    min: Option<f64>,
                    #[serde(default, deserialize_with = "number::opt_f64")]
                    max: Option<f64>,
                }
                let a: Angle = tagged::variant(rest)?;
                use std::f64::consts::{FRAC_PI_2, PI};
                match kind {
                    "sine" => Prior::Sine { min: a.min.unwrap_or(0.0), max: a.max.unwrap_or(PI) },
                    _ => Prior::Cosine { min: a.min.unwrap_or(-FRAC_PI_2), max: a.max.unwrap_or(FRAC_PI_2) },
                }
            }
            "power_law" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Power {
                    #[serde(deserialize_with = "number::f64")]
                    alpha: f64,
                    #[serde(deserialize_with = "number::f64")]
                    min: f64,
                    #[serde(deserialize_with = "number::f64")]
                    max: f64,
                }
                let r: Power = tagged::variant(rest)?;
                Prior::PowerLaw { alpha: r.alpha, min: r.min, max: r.max }
            }
            "aligned_spin" => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Spin {
                    #[serde(default, deserialize_with = "number::opt_f64")]
                    a_max: Option<f64>,
                }
                Prior::AlignedSpin { a_max: tagged::variant::<Spin, E>(rest)?.a_max.unwrap_or(1.0) }
            }
            range => {
                let r: Range = tagged::variant(rest)?;
                match range {
                    "log_uniform" => Prior::LogUniform { min: r.min, max: r.max },
                    "uniform_comoving_volume" => Prior::UniformComovingVolume { min: r.min, max: r.max },
                    "uniform_source_frame" => Prior::UniformSourceFrame { min: r.min, max: r.max },
                    "uniform_in_components_chirp_mass" => Prior::UniformInComponentsChirpMass { min: r.min, max: r.max },
                    "uniform_in_components_mass_ratio" => Prior::UniformInComponentsMassRatio { min: r.min, max: r.max },
                    _ => Prior::Uniform { min: r.min, max: r.max },
                }
            }
        })
    }
}

impl Prior {
    /// Checks the numbers; `key` names the prior in messages.
    pub fn validate(&self, key: &str) -> Result<(), Violation> {
        use std::f64::consts::{FRAC_PI_2, PI};
        let finite = |v: f64| v.is_finite();
        let range = |min: f64, max: f64| finite(min) && finite(max) && min < max;
        // A cosmological distance table reaches z ≈ 50 at most (d_L ≈ 5·10⁵ Mpc).
        let distance = |min: f64, max: f64| range(min, max) && min > 0.0 && max <= 5e5;
        match *self {
            Prior::Fixed { value } if finite(value) => Ok(()),
            Prior::Uniform { min, max } if range(min, max) => Ok(()),
            Prior::LogUniform { min, max } if range(min, max) && min > 0.0 => Ok(()),
            Prior::Normal { mean, std } if finite(mean) && finite(std) && std > 0.0 => Ok(()),
            Prior::Sine { min, max } if range(min, max) && min >= 0.0 && max <= PI => Ok(()),
            Prior::Cosine { min, max } if range(min, max) && min >= -FRAC_PI_2 && max <= FRAC_PI_2 => Ok(()),
            Prior::PowerLaw { alpha, min, max } if finite(alpha) && range(min, max) && min > 0.0 => Ok(()),
            Prior::AlignedSpin { a_max } if finite(a_max) && a_max > 0.0 && a_max <= 1.0 => Ok(()),
            Prior::UniformInComponentsChirpMass { min, max } if range(min, max) && min > 0.0 => Ok(()),
            Prior::UniformInComponentsMassRatio { min, max } if range(min, max) && min > 0.0 && max <= 1.0 => Ok(()),
            Prior::UniformComovingVolume { min, max } | Prior::UniformSourceFrame { min, max } if distance(min, max) => Ok(()),
            Prior::Fixed { .. } => Err(bad(key, "a fixed value must be finite", None)),
            Prior::Normal { .. } => Err(bad(key, "needs a finite mean and std > 0", None)),
            Prior::LogUniform { .. } => Err(bad(key, "needs 0 < min < max", None)),
            Prior::Uniform { .. } => Err(bad(key, "needs finite min < max", None)),
            Prior::Sine { .. } => Err(bad(key, "needs 0 <= min < max <= π", None)),
            Prior::Cosine { .. } => Err(bad(key, "needs −π/2 <= min < max <= π/2", None)),
            Prior::PowerLaw { .. } => Err(bad(key, "needs a finite alpha and 0 < min < max", None)),
            Prior::AlignedSpin { .. } => Err(bad(key, "needs 0 < a_max <= 1", None)),
            Prior::UniformInComponentsChirpMass { .. } => Err(bad(key, "needs 0 < min < max (solar masses)", None)),
            Prior::UniformInComponentsMassRatio { .. } => Err(bad(key, "needs 0 < min < max <= 1", None)),
            Prior::UniformComovingVolume { .. } | Prior::UniformSourceFrame { .. } => {
                Err(bad(key, "needs 0 < min < max <= 500000 (Mpc)", Some("luminosity distances are in Mpc")))
            }
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
            Prior::Uniform { min, max }
            | Prior::LogUniform { min, max }
            | Prior::Sine { min, max }
            | Prior::Cosine { min, max }
            | Prior::PowerLaw { min, max, .. }
            | Prior::UniformInComponentsChirpMass { min, max }
            | Prior::UniformInComponentsMassRatio { min, max }
            | Prior::UniformComovingVolume { min, max }
            | Prior::UniformSourceFrame { min, max } => (min, max),
            Prior::AlignedSpin { a_max } => (-a_max, a_max),
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
            Prior::Sine { min, max } => (min.cos() - u * (min.cos() - max.cos())).clamp(-1.0, 1.0).acos(),
            Prior::Cosine { min, max } => (min.sin() + u * (max.sin() - min.sin())).clamp(-1.0, 1.0).asin(),
            Prior::PowerLaw { alpha, min, max } if (alpha + 1.0).abs() < 1e-12 => (min.ln() + (max.ln() - min.ln()) * u).exp(),
            Prior::PowerLaw { alpha, min, max } => {
                let k = alpha + 1.0;
                (min.powf(k) + u * (max.powf(k) - min.powf(k))).powf(1.0 / k)
            }
            Prior::AlignedSpin { a_max } => aligned_spin_quantile(u, a_max),
            Prior::UniformInComponentsChirpMass { min, max } => (min * min + u * (max * max - min * min)).sqrt(),
            Prior::UniformInComponentsMassRatio { min, max } => mass_ratio_quantile(u, min, max),
            Prior::UniformComovingVolume { min, max } => DistanceTable::get(Volume::Comoving, min, max).transform(u),
            Prior::UniformSourceFrame { min, max } => DistanceTable::get(Volume::SourceFrame, min, max).transform(u),
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
            Prior::Sine { min, max } => (x.sin() / (min.cos() - max.cos())).ln(),
            Prior::Cosine { min, max } => (x.cos() / (max.sin() - min.sin())).ln(),
            Prior::PowerLaw { alpha, min, max } if (alpha + 1.0).abs() < 1e-12 => -(x.ln() + (max.ln() - min.ln()).ln()),
            Prior::PowerLaw { alpha, min, max } => {
                let k = alpha + 1.0;
                alpha * x.ln() + (k / (max.powf(k) - min.powf(k))).abs().ln()
            }
            Prior::AlignedSpin { a_max } => (-(x.abs() / a_max).ln() / (2.0 * a_max)).ln(),
            Prior::UniformInComponentsChirpMass { min, max } => (2.0 * x / (max * max - min * min)).ln(),
            Prior::UniformInComponentsMassRatio { min, max } => {
                0.4 * (1.0 + x).ln() - 1.2 * x.ln() - (mass_ratio_integral(max) - mass_ratio_integral(min)).ln()
            }
            Prior::UniformComovingVolume { min, max } => DistanceTable::get(Volume::Comoving, min, max).log_density(x),
            Prior::UniformSourceFrame { min, max } => DistanceTable::get(Volume::SourceFrame, min, max).log_density(x),
        }
    }
}

/// ∫ (1 + q)^(2/5) q^(−6/5) dq = −5 q^(−1/5) ₂F₁(−2/5, −1/5; 4/5; −q), evaluated after Pfaff's
/// transformation as −5 q^(−1/5) (1 + q)^(2/5) ₂F₁(−2/5, 1; 4/5; q/(1 + q)), whose series in
/// q/(1 + q) ≤ ½ converges geometrically.
fn mass_ratio_integral(q: f64) -> f64 {
    let w = q / (1.0 + q);
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 0..200 {
        let n = n as f64;
        term *= (-0.4 + n) / (0.8 + n) * w;
        sum += term;
        if term.abs() < 1e-17 * sum.abs() {
            break;
        }
    }
    -5.0 * q.powf(-0.2) * (1.0 + q).powf(0.4) * sum
}

/// The inverse of the mass-ratio prior's distribution function, by bisection.
fn mass_ratio_quantile(u: f64, min: f64, max: f64) -> f64 {
    let (i_min, i_max) = (mass_ratio_integral(min), mass_ratio_integral(max));
    let target = i_min + u.clamp(0.0, 1.0) * (i_max - i_min);
    let (mut lo, mut hi) = (min, max);
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if mass_ratio_integral(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The inverse of the aligned-spin prior's distribution function
/// F(χ) = ½ + sign(χ) (|χ| / 2a)(1 − ln(|χ| / a)), by bisection on its monotone half.
fn aligned_spin_quantile(u: f64, a_max: f64) -> f64 {
    let half = |x: f64| if x <= 0.0 { 0.0 } else { x / (2.0 * a_max) * (1.0 - (x / a_max).ln()) };
    let target = (u - 0.5).abs();
    let (mut lo, mut hi) = (0.0, a_max);
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if half(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (0.5 * (lo + hi)).copysign(u - 0.5)
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
            Prior::Sine { min: 0.3, max: 2.5 },
            Prior::Cosine { min: -1.0, max: 1.5 },
            Prior::PowerLaw { alpha: 2.0, min: 10.0, max: 100.0 },
            Prior::PowerLaw { alpha: -1.0, min: 1.0, max: 100.0 },
            Prior::AlignedSpin { a_max: 0.9 },
            Prior::UniformInComponentsChirpMass { min: 25.0, max: 100.0 },
            Prior::UniformInComponentsMassRatio { min: 0.125, max: 1.0 },
            Prior::UniformSourceFrame { min: 100.0, max: 5000.0 },
            Prior::UniformComovingVolume { min: 1000.0, max: 3000.0 },
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
            let scale = (hi - lo).abs().max(1.0);
            assert!((mean - first).abs() < 0.005 * scale, "{p:?}: mean of draws {mean}, of the density {first}");
            let median = p.transform(0.5);
            let below: f64 = (0..m).map(|i| lo + (i as f64 + 0.5) * h).filter(|&x| x < median).map(|x| p.log_density(x).exp() * h).sum();
            assert!((below - 0.5).abs() < 1e-3, "{p:?}: P(x < transform(½)) = {below}");
        }
    }
}
