//! The simulator registry: every `dataset.simulator` ndelab knows.
//!
//! A simulator is one file (or folder) in src/sim/ that defines its settings — the section
//! `dataset.<kind>` of a spec, a serde struct with real defaults — and implements
//! [`SimulatorConfig`] for them: its name, validation, parameter names, default training
//! noise, data shape and how it builds the [`Simulator`]. One line in the `simulators!` list in
//! src/sim/mod.rs registers it (and declares its module); the spec's list of simulators, the parsing of its section, did-you-mean
//! suggestions and validation come from that list.

use super::Simulator;
use crate::config::Violation;
use crate::sim::NoiseMode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::path::Path;

/// The settings of one simulator: everything the rest of ndelab needs to know about it.
pub trait SimulatorConfig: Clone + Default + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The `dataset.simulator` value that selects it, and the name of its settings section.
    const KIND: &'static str;
    /// How training noise is made when `dataset.noise` is unset.
    const DEFAULT_NOISE: NoiseMode;
    /// Checks the values serde cannot; keys are named `dataset.<kind>.<field>`.
    fn validate(&self) -> Result<(), Violation>;
    /// Names of the parameters the prior samples (the columns of a dataset's θ), in order.
    fn sampled_parameters(&self) -> Vec<String>;
    /// The parameters inferred when `dataset.infer` is unset.
    fn default_infer(&self) -> Vec<String> {
        self.sampled_parameters()
    }
    /// (channels, samples per channel) of a data vector: the series a convolutional embedding sees.
    fn data_shape(&self) -> (usize, usize);
    /// Builds the simulator; fails where a file it reads (a user's noise curve) cannot be used.
    fn build(&self) -> Result<Box<dyn Simulator>, super::SimError>;
    /// The training-noise modes it supports (`fresh` needs noise-free signals and a noise model).
    fn noise_modes(&self) -> &'static [NoiseMode] {
        &[NoiseMode::Fixed, NoiseMode::Fresh]
    }
    /// What its part of the dataset key hashes, where that is not the settings as written:
    /// files named in the settings enter by the sha256 of their contents, not their paths.
    /// `None`: the settings themselves.
    fn key_section(&self) -> Result<Option<serde_json::Value>, super::SimError> {
        Ok(None)
    }
    /// Makes the relative paths of files it names relative to `base` (the spec's folder);
    /// returns a note for each found only from the working folder, kept as it was.
    fn resolve_paths(&mut self, _base: &Path) -> Vec<String> {
        Vec::new()
    }
    /// What another tool needs to read exported test injections (conventions, fixed values),
    /// written into the export's manifest under the simulator's name.
    fn export_conventions(&self) -> Option<serde_json::Value> {
        None
    }
    /// Text files another tool needs beside exported injections (noise curves), by name.
    fn export_files(&self) -> Result<Vec<(String, String)>, super::SimError> {
        Ok(Vec::new())
    }
}

/// Resolves `path` (the value of `key`) against `base`, the spec's folder: an absolute path
/// stays; a relative one becomes `base/path`, unless only the working folder holds it (then it
/// stays as written, with a note saying so).
pub fn resolve_path(path: &mut std::path::PathBuf, base: &Path, key: &str, notes: &mut Vec<String>) {
    if path.as_os_str().is_empty() || path.is_absolute() {
        return;
    }
    let from_spec = base.join(&*path);
    if !from_spec.exists() && path.exists() {
        notes.push(format!(
            "note: {key}: `{}` is not in the spec's folder ({}) but in the working folder, and is read from there; \
             relative paths are read from the spec's folder",
            path.display(),
            base.display()
        ));
        return;
    }
    *path = from_spec;
}

/// Declares the simulators' modules and generates [`SimulatorSpec`](crate::sim::SimulatorSpec) and
/// its dispatch from the list of registered simulators (invoked once, in src/sim/mod.rs).
macro_rules! simulators {
    ($($module:ident::$variant:ident($config:ident)),* $(,)?) => {
        $(
            pub mod $module;
            pub use $module::$config;
        )*

        /// A simulator with its settings, chosen by `dataset.simulator`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum SimulatorSpec {
            $(
                #[doc = concat!("`", stringify!($config), "`")]
                $variant($config),
            )*
        }

        impl SimulatorSpec {
            /// Every `dataset.simulator`, in registration order.
            pub const KINDS: &'static [&'static str] = &[$(<$config as $crate::sim::SimulatorConfig>::KIND),*];

            /// The spec name of the simulator.
            pub fn kind(&self) -> &'static str {
                match self { $(SimulatorSpec::$variant(_) => <$config as $crate::sim::SimulatorConfig>::KIND),* }
            }

            /// Training noise when `dataset.noise` is unset.
            pub fn default_noise(&self) -> $crate::sim::NoiseMode {
                match self { $(SimulatorSpec::$variant(_) => <$config as $crate::sim::SimulatorConfig>::DEFAULT_NOISE),* }
            }

            /// Resolves the relative paths of the files it names against the spec's folder.
            pub fn resolve_paths(&mut self, base: &std::path::Path) -> Vec<String> {
                match self { $(SimulatorSpec::$variant(c) => c.resolve_paths(base)),* }
            }

            /// The simulator's own checks.
            pub fn validate(&self) -> Result<(), $crate::config::Violation> {
                match self { $(SimulatorSpec::$variant(c) => c.validate()),* }
            }

            /// Names of the sampled parameters, in order.
            pub fn sampled_parameters(&self) -> Vec<String> {
                match self { $(SimulatorSpec::$variant(c) => c.sampled_parameters()),* }
            }

            /// The parameters inferred when `dataset.infer` is unset.
            pub fn default_infer(&self) -> Vec<String> {
                match self { $(SimulatorSpec::$variant(c) => c.default_infer()),* }
            }

            /// (channels, samples per channel) of a data vector.
            pub fn data_shape(&self) -> (usize, usize) {
                match self { $(SimulatorSpec::$variant(c) => c.data_shape()),* }
            }

            /// The training-noise modes the simulator supports.
            pub fn noise_modes(&self) -> &'static [$crate::sim::NoiseMode] {
                match self { $(SimulatorSpec::$variant(c) => c.noise_modes()),* }
            }

            /// The simulator's part of the dataset key, where it is not its settings.
            pub fn key_section(&self) -> Result<Option<serde_json::Value>, $crate::sim::SimError> {
                match self { $(SimulatorSpec::$variant(c) => c.key_section()),* }
            }

            /// Conventions of exported injections, if the simulator has any.
            pub fn export_conventions(&self) -> Option<serde_json::Value> {
                match self { $(SimulatorSpec::$variant(c) => c.export_conventions()),* }
            }

            /// Text files to write beside exported injections.
            pub fn export_files(&self) -> Result<Vec<(String, String)>, $crate::sim::SimError> {
                match self { $(SimulatorSpec::$variant(c) => c.export_files()),* }
            }

            /// Builds the simulator; fails where a file it reads cannot be used.
            pub fn build(&self) -> Result<Box<dyn $crate::sim::Simulator>, $crate::sim::SimError> {
                match self { $(SimulatorSpec::$variant(c) => c.build()),* }
            }

            /// The simulator `kind` with the settings of section `dataset.<kind>` (defaults
            /// where the section is absent).
            pub fn from_section<E: serde::de::Error>(kind: &str, section: Option<serde_norway::Value>) -> Result<SimulatorSpec, E> {
                $(
                    if kind == <$config as $crate::sim::SimulatorConfig>::KIND {
                        let config = match section {
                            Some(v) => $crate::config::tagged::variant(v).map_err(|e: E| $crate::config::tagged::within(kind, e))?,
                            None => <$config>::default(),
                        };
                        return Ok(SimulatorSpec::$variant(config));
                    }
                )*
                Err(E::unknown_variant(kind, Self::KINDS))
            }

            /// Writes `<kind>: <settings>` into a map being serialised.
            pub fn serialize_section<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
                match self { $(SimulatorSpec::$variant(c) => map.serialize_entry(<$config as $crate::sim::SimulatorConfig>::KIND, c)),* }
            }
        }
    };
}
