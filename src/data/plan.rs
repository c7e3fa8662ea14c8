//! The dataset section: as written in a spec ([`DatasetSpec`], the simulator's own settings
//! in the section of its name) and resolved ([`DatasetPlan`], every default decided).

use crate::config::{number, tagged};
use crate::sim::{NoiseMode, SimulatorSpec};
use serde::{Deserialize, Serialize};

/// Which simulator makes the data, and how many samples of each split.
///
/// In YAML the simulator is named by `simulator:` and its settings, all optional, are the
/// section of the same name (`gw_bbh: { detectors: [H1, L1] }`); see [`SimulatorSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    /// The simulator and its settings.
    pub simulator: SimulatorSpec,
    /// Seed of the simulated samples; defaults to the top-level `seed`.
    pub seed: Option<u64>,
    /// Training samples.
    pub n_train: usize,
    /// Validation samples (early stopping, best epoch).
    pub n_val: usize,
    /// Test samples (NLL, KL to the true posterior).
    pub n_test: usize,
    /// Parameters the estimator infers, by name; the others are marginalised. Default: the
    /// simulator's choice (all sampled parameters for `linear_gaussian`; m1, m2, d_L, t0 for
    /// `gw_bbh`, the phase marginalised).
    pub infer: Option<Vec<String>>,
    /// `fixed`: one noise realisation per sample, cached. `fresh`: the noise-free signals are
    /// cached and new noise is drawn every epoch, so the network never sees the same noisy
    /// sample twice (less overfitting at equal simulation cost). Default: the simulator's
    /// choice (fresh for `gw_bbh`, fixed for `linear_gaussian`). Validation and test noise is
    /// always fixed.
    pub noise: Option<NoiseMode>,
}

/// The fields of a dataset section other than the simulator's settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetFields {
    simulator: String,
    #[serde(default, deserialize_with = "opt_u64")]
    seed: Option<u64>,
    #[serde(default = "default_n_train", deserialize_with = "number::usize")]
    n_train: usize,
    #[serde(default = "default_n_val", deserialize_with = "number::usize")]
    n_val: usize,
    #[serde(default = "default_n_test", deserialize_with = "number::usize")]
    n_test: usize,
    #[serde(default)]
    infer: Option<Vec<String>>,
    #[serde(default)]
    noise: Option<NoiseMode>,
}

impl<'de> Deserialize<'de> for DatasetSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_norway::Value;
        let mut map = serde_norway::Mapping::deserialize(d)?;
        // Simulator sections are taken out first; the rest are the common fields.
        let mut sections = Vec::new();
        for kind in SimulatorSpec::KINDS {
            if let Some(v) = map.remove(*kind) {
                sections.push((*kind, v));
            }
        }
        let f: DatasetFields = tagged::variant(Value::Mapping(map))?;
        if !SimulatorSpec::KINDS.contains(&f.simulator.as_str()) {
            let e = D::Error::unknown_variant(&f.simulator, SimulatorSpec::KINDS);
            return Err(tagged::within("simulator", e));
        }
        let mut own = None;
        for (kind, v) in sections {
            if kind != f.simulator {
                return Err(D::Error::custom(format!(
                    "{mark}{kind}{mark}is set but `dataset.simulator` is {}\nremove the section or change the simulator",
                    f.simulator,
                    mark = tagged::PATH_MARK
                )));
            }
            own = Some(v);
        }
        let simulator = SimulatorSpec::from_section(&f.simulator, own)?;
        Ok(DatasetSpec { simulator, seed: f.seed, n_train: f.n_train, n_val: f.n_val, n_test: f.n_test, infer: f.infer, noise: f.noise })
    }
}

impl Serialize for DatasetSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("simulator", self.simulator.kind())?;
        map.serialize_entry("seed", &self.seed)?;
        map.serialize_entry("n_train", &self.n_train)?;
        map.serialize_entry("n_val", &self.n_val)?;
        map.serialize_entry("n_test", &self.n_test)?;
        map.serialize_entry("infer", &self.infer)?;
        map.serialize_entry("noise", &self.noise)?;
        self.simulator.serialize_section(&mut map)?;
        map.end()
    }
}

fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number::u64(d).map(Some)
}

fn default_n_train() -> usize {
    100_000
}
fn default_n_val() -> usize {
    10_000
}
fn default_n_test() -> usize {
    1_000
}

/// The dataset section, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetPlan {
    /// The simulator and its settings.
    pub simulator: SimulatorSpec,
    /// Seed of the simulated samples.
    pub seed: u64,
    /// Training samples.
    pub n_train: usize,
    /// Validation samples.
    pub n_val: usize,
    /// Test samples.
    pub n_test: usize,
    /// The parameters the estimator infers, in order.
    pub infer: Vec<String>,
    /// How training noise is made.
    pub noise: NoiseMode,
}

impl DatasetPlan {
    /// The section with every value written out.
    pub fn to_spec(&self) -> DatasetSpec {
        DatasetSpec {
            simulator: self.simulator.clone(),
            seed: Some(self.seed),
            n_train: self.n_train,
            n_val: self.n_val,
            n_test: self.n_test,
            infer: Some(self.infer.clone()),
            noise: Some(self.noise),
        }
    }
}
