//! Small dense linear algebra and the multivariate normal, in f64, shared by simulators
//! (closed-form posteriors) and evaluation (KL divergences).

mod linalg;
mod mvnormal;
pub mod stats;

pub use linalg::{cholesky, lower_inverse, Mat};
pub use mvnormal::{kl_gaussian, MvNormal};

/// ln(2π).
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;
