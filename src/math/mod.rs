//! The numerical toolkit every stage shares: small dense linear algebra and the multivariate
//! normal in f64 (closed-form posteriors, KL divergences), statistics, and the per-sample
//! random streams that make every draw a function of (seed, purpose, index).

pub mod cosmology;
pub mod ode;
mod linalg;
mod mvnormal;
mod rng;
pub mod stats;

pub use linalg::{cholesky, lower_inverse, Mat};
pub use mvnormal::{kl_gaussian, MvNormal};
pub use rng::{SampleRng, StreamFamily};

/// ln(2π).
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;
