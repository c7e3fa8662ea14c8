//! The estimator registry: every `model.kind` ndelab knows.
//!
//! An estimator is one file in src/nn/ that defines its settings (a serde struct with real
//! defaults) and implements [`EstimatorConfig`] for them: its name, loss, validation, whether
//! it has a latent space, how it builds its network and a small example for the tests. One
//! line in the `estimators!` list in src/nn/mod.rs registers it (and declares its module). The
//! spec's list of kinds, its deserialisation, the did-you-mean suggestions, validation and the
//! tests' list of estimators all come from that list, so nothing else names a kind.

use super::params::ParamSet;
use super::{Dev, Estimator};
use crate::math::SampleRng;
use crate::config::Violation;
use crate::nn::{EmbeddingSpec, LossKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// What an estimator builds from: the device, the initialisation stream, the parameter set
/// (already holding the embedding's parameters) and the sizes of θ and of the features.
pub struct BuildContext<'a> {
    /// The device.
    pub dev: &'a Dev,
    /// Initialisation randomness.
    pub rng: &'a mut SampleRng,
    /// Parameters registered so far (the embedding's).
    pub params: ParamSet,
    /// Number of parameters θ.
    pub theta_dim: usize,
    /// Width of the (embedded) data the estimator is conditioned on.
    pub features: usize,
}

/// The settings of one estimator kind: everything the rest of ndelab needs to know about it.
pub trait EstimatorConfig: Clone + Default + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The `model.kind` that selects it.
    const KIND: &'static str;
    /// The loss it trains with (the only one `loss:` may name for it).
    const LOSS: LossKind;
    /// Whether it has a latent space (`latent_plot` draws it).
    const LATENT: bool = false;
    /// Whether it gives a point estimate rather than a density (no samples, P-P or corner plots).
    const POINT_ESTIMATE: bool = false;
    /// The network that embeds y, if any.
    fn embedding(&self) -> Option<&EmbeddingSpec>;
    /// Checks the values serde cannot; keys are named `model.<field>`.
    fn validate(&self) -> Result<(), Violation>;
    /// Builds the network.
    fn build(&self, ctx: BuildContext) -> Estimator;
    /// A small network of this kind, for the tests every estimator must pass.
    fn example() -> Self;
}

/// `kind` followed by the settings' own fields: the form a model section has in YAML.
#[derive(Serialize)]
pub(crate) struct Tagged<'a, C> {
    pub(crate) kind: &'static str,
    #[serde(flatten)]
    pub(crate) config: &'a C,
}

/// Declares the estimators' modules and generates [`ModelSpec`](crate::nn::ModelSpec) and its
/// dispatch from the list of registered estimators (invoked once, in src/nn/mod.rs).
macro_rules! estimators {
    ($($module:ident::$variant:ident($config:ident)),* $(,)?) => {
        $(
            mod $module;
            pub use $module::$config;
        )*

        /// The density estimator, chosen by `kind`: one variant per registered estimator.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ModelSpec {
            $(
                #[doc = concat!("`", stringify!($config), "`")]
                $variant($config),
            )*
        }

        impl ModelSpec {
            /// Every `model.kind`, in registration order.
            pub const KINDS: &'static [&'static str] = &[$(<$config as $crate::nn::EstimatorConfig>::KIND),*];

            /// The spec name of the model kind.
            pub fn kind(&self) -> &'static str {
                match self { $(ModelSpec::$variant(_) => <$config as $crate::nn::EstimatorConfig>::KIND),* }
            }

            /// The loss this kind trains with.
            pub fn loss(&self) -> $crate::nn::LossKind {
                match self { $(ModelSpec::$variant(_) => <$config as $crate::nn::EstimatorConfig>::LOSS),* }
            }

            /// Whether the kind has a latent space.
            pub fn has_latent(&self) -> bool {
                match self { $(ModelSpec::$variant(_) => <$config as $crate::nn::EstimatorConfig>::LATENT),* }
            }

            /// Whether the kind gives point estimates rather than a density.
            pub fn is_point_estimate(&self) -> bool {
                match self { $(ModelSpec::$variant(_) => <$config as $crate::nn::EstimatorConfig>::POINT_ESTIMATE),* }
            }

            /// The network that embeds y, if any.
            pub fn embedding(&self) -> Option<&$crate::nn::EmbeddingSpec> {
                match self { $(ModelSpec::$variant(c) => c.embedding()),* }
            }

            /// The kind's own checks.
            pub fn validate(&self) -> Result<(), $crate::config::Violation> {
                match self { $(ModelSpec::$variant(c) => c.validate()),* }
            }

            /// Builds the estimator (without its embedding).
            pub(crate) fn build_estimator(&self, ctx: $crate::nn::BuildContext) -> $crate::nn::Estimator {
                match self { $(ModelSpec::$variant(c) => c.build(ctx)),* }
            }

            /// A small example of every registered kind.
            pub fn examples() -> Vec<ModelSpec> {
                vec![$(ModelSpec::$variant(<$config as $crate::nn::EstimatorConfig>::example())),*]
            }

            /// The kinds that have a latent space, for messages.
            pub fn latent_kinds() -> Vec<&'static str> {
                let mut v = Vec::new();
                $(if <$config as $crate::nn::EstimatorConfig>::LATENT { v.push(<$config as $crate::nn::EstimatorConfig>::KIND); })*
                v
            }
        }

        impl serde::Serialize for ModelSpec {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(ModelSpec::$variant(c) => $crate::nn::registry::Tagged { kind: <$config as $crate::nn::EstimatorConfig>::KIND, config: c }.serialize(s)),*
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for ModelSpec {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (kind, rest) = $crate::config::tagged::split_kind(d, Self::KINDS)?;
                $(
                    if kind == <$config as $crate::nn::EstimatorConfig>::KIND {
                        return Ok(ModelSpec::$variant($crate::config::tagged::variant(rest)?));
                    }
                )*
                Err(serde::de::Error::unknown_variant(&kind, Self::KINDS))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::nn::ModelSpec;

    /// Every example survives YAML and back, and its kind reads back as itself: a newly
    /// registered estimator cannot be spelt one way in its file and another in specs.
    #[test]
    fn every_kind_round_trips_through_yaml() {
        let examples = ModelSpec::examples();
        assert_eq!(examples.len(), ModelSpec::KINDS.len());
        for (m, kind) in examples.iter().zip(ModelSpec::KINDS) {
            assert_eq!(m.kind(), *kind);
            let text = serde_norway::to_string(m).expect("serialises");
            assert!(text.starts_with(&format!("kind: {kind}\n")), "{text}");
            let back: ModelSpec = serde_norway::from_str(&text).expect("parses");
            assert_eq!(&back, m);
            m.validate().unwrap_or_else(|v| panic!("{kind}: example is invalid: {v:?}"));
        }
    }
}
