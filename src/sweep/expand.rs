//! Expanding a sweep into trials: grid × zip × random draws × seeds, in a fixed order.

use super::definition::{Distribution, SweepDefinition};
use crate::math::StreamFamily;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// One trial: the overrides that turn the base spec into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Position in the sweep.
    pub index: usize,
    /// The swept keys and their values, as override text.
    pub params: Vec<(String, String)>,
    /// All overrides, base ones first.
    pub overrides: Vec<String>,
}

/// A value as override text in YAML flow style: `3`, `1e-4`, `[64,64]`, `{kind: adam}`.
pub fn flow(v: &Value) -> String {
    match v {
        Value::Sequence(s) => format!("[{}]", s.iter().map(flow).collect::<Vec<_>>().join(",")),
        Value::Mapping(m) => format!("{{{}}}", m.iter().map(|(k, v)| format!("{}: {}", flow(k), flow(v))).collect::<Vec<_>>().join(", ")),
        Value::Null => "null".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:?}"),
            _ => n.to_string(),
        },
        other => serde_norway::to_string(other).map(|s| s.trim().to_string()).unwrap_or_default(),
    }
}

fn cartesian(axes: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (k, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push((k.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    out
}

/// The trials of a sweep.
pub fn expand(def: &SweepDefinition) -> Vec<Trial> {
    let grid: Vec<(String, Vec<String>)> = def.grid.iter().map(|(k, v)| (k.clone(), v.iter().map(flow).collect())).collect();
    let mut combos = cartesian(&grid);
    if let Some(n) = def.zip.values().next().map(Vec::len) {
        let zipped: Vec<Vec<(String, String)>> = (0..n).map(|i| def.zip.iter().map(|(k, v)| (k.clone(), flow(&v[i]))).collect()).collect();
        combos = combos.into_iter().flat_map(|c| zipped.iter().map(move |z| [c.clone(), z.clone()].concat())).collect();
    }
    if let Some(r) = &def.random {
        let streams = StreamFamily::new(r.seed, "sweep/random");
        let draws: Vec<Vec<(String, String)>> = (0..r.count)
            .map(|i| {
                let mut rng = streams.rng(i as u64);
                r.params
                    .iter()
                    .map(|(k, d)| {
                        let v = match d {
                            Distribution::Uniform([a, b]) => format!("{:?}", a + (b - a) * rng.gen::<f64>()),
                            Distribution::LogUniform([a, b]) => format!("{:?}", (a.ln() + (b.ln() - a.ln()) * rng.gen::<f64>()).exp()),
                            Distribution::IntUniform([a, b]) => rng.gen_range(*a..=*b).to_string(),
                            Distribution::Choice(v) => flow(&v[rng.gen_range(0..v.len())]),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .collect();
        combos = combos.into_iter().flat_map(|c| draws.iter().map(move |d| [c.clone(), d.clone()].concat())).collect();
    }
    if !def.seeds.is_empty() {
        combos = combos
            .into_iter()
            .flat_map(|c| def.seeds.iter().map(move |s| [c.clone(), vec![("seed".to_string(), s.to_string())]].concat()))
            .collect();
    }
    combos
        .into_iter()
        .enumerate()
        .map(|(index, params)| {
            let mut overrides = def.overrides.clone();
            overrides.extend(params.iter().map(|(k, v)| format!("{k}={v}")));
            Trial { index, params, overrides }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::definition::{RandomAxes, SlurmDefaults};
    use std::collections::BTreeMap;

    fn def() -> SweepDefinition {
        SweepDefinition {
            name: "t".into(),
            base: "x.yaml".into(),
            overrides: vec!["dataset.n_train=100".into()],
            grid: BTreeMap::new(),
            zip: BTreeMap::new(),
            random: None,
            seeds: vec![],
            slurm: SlurmDefaults::default(),
        }
    }

    fn v(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn grid_zip_and_seeds_multiply() {
        let mut d = def();
        d.grid.insert("model.latent_dim".into(), vec![v("2"), v("4"), v("8")]);
        d.grid.insert("model.hidden".into(), vec![v("[64, 64]"), v("[128]")]);
        d.zip.insert("training.optimizer.lr".into(), vec![v("1e-3"), v("3e-4")]);
        d.zip.insert("training.batch_size".into(), vec![v("512"), v("256")]);
        d.seeds = vec![1, 2];
        let t = expand(&d);
        assert_eq!(t.len(), 3 * 2 * 2 * 2);
        assert_eq!(
            t[0].overrides,
            [
                "dataset.n_train=100",
                "model.hidden=[64,64]",
                "model.latent_dim=2",
                "training.batch_size=512",
                "training.optimizer.lr=0.001",
                "seed=1"
            ]
        );
        // Zipped keys move together.
        assert!(t.iter().all(|x| x.overrides.contains(&"training.batch_size=512".to_string())
            == x.overrides.contains(&"training.optimizer.lr=0.001".to_string())));
        assert_eq!(t.last().unwrap().index, 23);
    }

    #[test]
    fn random_draws_are_reproducible_and_in_range() {
        let mut d = def();
        let mut params = BTreeMap::new();
        params.insert("training.optimizer.lr".into(), Distribution::LogUniform([1e-4, 1e-2]));
        params.insert("model.latent_dim".into(), Distribution::IntUniform([2, 8]));
        d.random = Some(RandomAxes { count: 5, seed: 3, params });
        let a = expand(&d);
        assert_eq!(a, expand(&d));
        assert_eq!(a.len(), 5);
        for t in &a {
            let lr: f64 = t.params.iter().find(|p| p.0 == "training.optimizer.lr").unwrap().1.parse().unwrap();
            let ld: i64 = t.params.iter().find(|p| p.0 == "model.latent_dim").unwrap().1.parse().unwrap();
            assert!((1e-4..1e-2).contains(&lr) && (2..=8).contains(&ld));
        }
        let mut d2 = d.clone();
        d2.random.as_mut().unwrap().seed = 4;
        assert_ne!(expand(&d2), a);
    }
}
