//! How the continuous-time estimators integrate their ODE: the `solver:` section of a model.
//!
//! Adaptive Dormand–Prince with absolute and relative tolerances is the default (accurate
//! densities for test NLL, KL and importance weights); fixed-step midpoint and RK4 trade
//! accuracy for a known cost, for sampling at scale.

use crate::config::number;
use crate::config::{at_least, at_most, bad, Violation};
use crate::math::ode::OdeSolver;
use serde::{Deserialize, Serialize};

/// The ODE solver, as a spec writes it: `{ kind: dopri5, atol: 1e-5, rtol: 1e-5 }`,
/// `{ kind: rk4, steps: 50 }` or `{ kind: midpoint, steps: 100 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SolverSpec {
    /// Explicit midpoint rule with `steps` equal steps (2 network evaluations each).
    Midpoint {
        /// Number of steps.
        #[serde(deserialize_with = "number::usize")]
        steps: usize,
    },
    /// Classical fourth-order Runge–Kutta with `steps` equal steps (4 evaluations each).
    Rk4 {
        /// Number of steps.
        #[serde(deserialize_with = "number::usize")]
        steps: usize,
    },
    /// Adaptive Dormand–Prince 5(4): steps keep the local error below `atol + rtol·|y|`.
    Dopri5 {
        /// Absolute tolerance.
        #[serde(deserialize_with = "number::f64")]
        atol: f64,
        /// Relative tolerance.
        #[serde(deserialize_with = "number::f64")]
        rtol: f64,
    },
}

impl Default for SolverSpec {
    fn default() -> Self {
        SolverSpec::Dopri5 { atol: 1e-5, rtol: 1e-5 }
    }
}

/// Most fixed steps a spec may ask for (each is a pass of the network over every row).
const MAX_FIXED_STEPS: usize = 100_000;

impl SolverSpec {
    /// The solver math::ode runs.
    pub fn solver(self) -> OdeSolver {
        match self {
            SolverSpec::Midpoint { steps } => OdeSolver::Midpoint { steps },
            SolverSpec::Rk4 { steps } => OdeSolver::Rk4 { steps },
            SolverSpec::Dopri5 { atol, rtol } => OdeSolver::Dopri5 { atol, rtol },
        }
    }

    /// Steps in range, tolerances finite and in (0, 1).
    pub fn validate(&self, key: &str) -> Result<(), Violation> {
        match *self {
            SolverSpec::Midpoint { steps } | SolverSpec::Rk4 { steps } => {
                at_least(&format!("{key}.steps"), steps, 1)?;
                at_most(&format!("{key}.steps"), steps, MAX_FIXED_STEPS)
            }
            SolverSpec::Dopri5 { atol, rtol } => {
                for (name, v) in [("atol", atol), ("rtol", rtol)] {
                    if !(v.is_finite() && v > 0.0 && v < 1.0) {
                        return Err(bad(&format!("{key}.{name}"), format!("must be a tolerance in (0, 1), got {v}"), Some("1e-5 gives densities accurate to about 1e-4 nats")));
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three forms parse as written in specs (physicists' numbers included) and the
    /// checks name the key.
    #[test]
    fn solvers_parse_and_validate() {
        let s: SolverSpec = serde_norway::from_str("kind: dopri5\natol: 1e-6\nrtol: 1e-4").unwrap();
        assert_eq!(s, SolverSpec::Dopri5 { atol: 1e-6, rtol: 1e-4 });
        let s: SolverSpec = serde_norway::from_str("kind: rk4\nsteps: 1_000").unwrap();
        assert_eq!(s.solver(), OdeSolver::Rk4 { steps: 1000 });
        assert!(serde_norway::from_str::<SolverSpec>("kind: rk4\natol: 1").is_err());
        let v = SolverSpec::Midpoint { steps: 0 }.validate("model.solver").unwrap_err();
        assert_eq!((v.key.as_str(), v.message.as_str()), ("model.solver.steps", "must be at least 1, got 0"));
        let v = SolverSpec::Dopri5 { atol: 1e-5, rtol: 0.0 }.validate("model.solver").unwrap_err();
        assert_eq!(v.key, "model.solver.rtol");
        assert!(SolverSpec::default().validate("model.solver").is_ok());
    }
}
