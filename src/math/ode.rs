//! Ordinary differential equations dy/dt = f(t, y) over a batch held in one state vector:
//! fixed-step midpoint and classical Runge–Kutta for speed, adaptive Dormand–Prince 5(4)
//! (Hairer, Nørsett & Wanner, Solving ODEs I, II.4 and II.5; torchdiffeq's `dopri5`) with
//! absolute and relative tolerances for accuracy. One step size serves the whole batch, as
//! torchdiffeq's does: the error norm is the RMS over every value.

/// How an ODE is integrated (the spec's form is `nn::SolverSpec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OdeSolver {
    /// Explicit midpoint rule, `steps` equal steps (2 evaluations each).
    Midpoint {
        /// Number of steps.
        steps: usize,
    },
    /// Classical fourth-order Runge–Kutta, `steps` equal steps (4 evaluations each).
    Rk4 {
        /// Number of steps.
        steps: usize,
    },
    /// Adaptive Dormand–Prince 5(4): the step shrinks or grows so that the local error stays
    /// below `atol + rtol·|y|` (6 evaluations a step, the last reused).
    Dopri5 {
        /// Absolute tolerance.
        atol: f64,
        /// Relative tolerance.
        rtol: f64,
    },
}

impl Default for OdeSolver {
    fn default() -> Self {
        OdeSolver::Dopri5 { atol: 1e-5, rtol: 1e-5 }
    }
}

/// What an integration cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OdeStats {
    /// Evaluations of f.
    pub evaluations: usize,
    /// Steps taken (accepted).
    pub steps: usize,
    /// Steps rejected by the error control.
    pub rejected: usize,
}

/// Steps (accepted or not) an adaptive integration may try before it stops with the state it
/// reached (a field that is not finite is never accepted).
const MAX_STEPS: usize = 10_000;

/// Integrates `y` from `t0` to `t1` in place; `f(t, y, dy)` writes dy/dt.
pub fn integrate(solver: OdeSolver, t0: f64, t1: f64, y: &mut [f64], mut f: impl FnMut(f64, &[f64], &mut [f64])) -> OdeStats {
    match solver {
        OdeSolver::Midpoint { steps } => fixed(y, t0, t1, steps.max(1), &mut f, midpoint_step),
        OdeSolver::Rk4 { steps } => fixed(y, t0, t1, steps.max(1), &mut f, rk4_step),
        OdeSolver::Dopri5 { atol, rtol } => dopri5(y, t0, t1, atol, rtol, &mut f),
    }
}

type Step = fn(&mut [f64], f64, f64, &mut dyn FnMut(f64, &[f64], &mut [f64])) -> usize;

fn fixed(y: &mut [f64], t0: f64, t1: f64, steps: usize, f: &mut dyn FnMut(f64, &[f64], &mut [f64]), step: Step) -> OdeStats {
    let h = (t1 - t0) / steps as f64;
    let mut stats = OdeStats::default();
    for i in 0..steps {
        stats.evaluations += step(y, t0 + i as f64 * h, h, f);
        stats.steps += 1;
    }
    stats
}

fn midpoint_step(y: &mut [f64], t: f64, h: f64, f: &mut dyn FnMut(f64, &[f64], &mut [f64])) -> usize {
    let n = y.len();
    let (mut k, mut mid) = (vec![0.0; n], vec![0.0; n]);
    f(t, y, &mut k);
    mid.iter_mut().zip(y.iter().zip(&k)).for_each(|(m, (y, k))| *m = y + 0.5 * h * k);
    f(t + 0.5 * h, &mid, &mut k);
    y.iter_mut().zip(&k).for_each(|(y, k)| *y += h * k);
    2
}

fn rk4_step(y: &mut [f64], t: f64, h: f64, f: &mut dyn FnMut(f64, &[f64], &mut [f64])) -> usize {
    let n = y.len();
    let (mut k, mut acc, mut tmp) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    f(t, y, &mut k);
    // k1 + 2 k2 + 2 k3 + k4, each stage from the one before.
    for (c, weight) in [(0.5, 1.0), (0.5, 2.0), (1.0, 2.0)] {
        acc.iter_mut().zip(&k).for_each(|(a, k)| *a += weight * k);
        tmp.iter_mut().zip(y.iter().zip(&k)).for_each(|(x, (y, k))| *x = y + c * h * k);
        f(t + c * h, &tmp, &mut k);
    }
    acc.iter_mut().zip(&k).for_each(|(a, k)| *a += k);
    y.iter_mut().zip(&acc).for_each(|(y, a)| *y += h / 6.0 * a);
    4
}

// Dormand–Prince 5(4) tableau.
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0],
    [9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0],
    [35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0],
];
/// Fifth-order weights (the last row of A) minus the embedded fourth-order ones.
const E: [f64; 7] = [71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0];

fn dopri5(y: &mut [f64], t0: f64, t1: f64, atol: f64, rtol: f64, f: &mut dyn FnMut(f64, &[f64], &mut [f64])) -> OdeStats {
    let n = y.len();
    let span = t1 - t0;
    let mut stats = OdeStats::default();
    if n == 0 || span == 0.0 {
        return stats;
    }
    let mut k: Vec<Vec<f64>> = vec![vec![0.0; n]; 7];
    f(t0, y, &mut k[0]);
    stats.evaluations += 1;
    let (mut t, mut h) = (t0, span * initial_fraction(y, &k[0], atol, rtol));
    let mut stage = vec![0.0; n];
    while (t1 - t) * span.signum() > 1e-12 * span.abs() && stats.steps + stats.rejected < MAX_STEPS {
        if (t + h - t1) * span.signum() > 0.0 {
            h = t1 - t;
        }
        for s in 1..7 {
            for (i, x) in stage.iter_mut().enumerate() {
                *x = y[i] + h * (0..s).map(|j| A[s][j] * k[j][i]).sum::<f64>();
            }
            f(t + C[s] * h, &stage, &mut k[s]);
        }
        stats.evaluations += 6;
        // The 5th-order solution is `stage` (A's last row are its weights); k[6] is f there.
        let norm = (0..n)
            .map(|i| {
                let err = h * (0..7).map(|j| E[j] * k[j][i]).sum::<f64>();
                let scale = atol + rtol * y[i].abs().max(stage[i].abs());
                (err / scale).powi(2)
            })
            .sum::<f64>()
            / n as f64;
        let norm = norm.sqrt();
        if norm <= 1.0 {
            t += h;
            y.copy_from_slice(&stage);
            k.swap(0, 6);
            stats.steps += 1;
        } else {
            stats.rejected += 1;
        }
        let factor = if norm == 0.0 { 10.0 } else if norm.is_finite() { (0.9 * norm.powf(-0.2)).clamp(0.2, 10.0) } else { 0.2 };
        h *= factor;
    }
    stats
}

/// A first step as a fraction of the span: small where f is large against the tolerance.
fn initial_fraction(y: &[f64], dy: &[f64], atol: f64, rtol: f64) -> f64 {
    let n = y.len() as f64;
    let d0 = (y.iter().map(|v| (v / (atol + rtol * v.abs())).powi(2)).sum::<f64>() / n).sqrt();
    let d1 = (y.iter().zip(dy).map(|(v, d)| (d / (atol + rtol * v.abs())).powi(2)).sum::<f64>() / n).sqrt();
    let h = if d0 < 1e-5 || d1 < 1e-5 { 1e-6 } else { 0.01 * d0 / d1 };
    h.clamp(1e-6, 0.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y' = λy and a rotation, whose solutions are known: RK4's error falls as h⁴, midpoint's
    /// as h², and Dormand–Prince meets its tolerance with far fewer evaluations.
    #[test]
    fn solvers_reach_closed_form_solutions_at_their_orders() {
        let exp = |solver| {
            let mut y = vec![1.0, 2.0];
            let stats = integrate(solver, 0.0, 1.0, &mut y, |_, y, dy| dy.iter_mut().zip(y).for_each(|(d, y)| *d = -1.5 * y));
            ((y[0] - (-1.5f64).exp()).abs().max((y[1] - 2.0 * (-1.5f64).exp()).abs()), stats)
        };
        let (e10, _) = exp(OdeSolver::Rk4 { steps: 10 });
        let (e20, s20) = exp(OdeSolver::Rk4 { steps: 20 });
        assert!((e10 / e20 - 16.0).abs() < 2.0, "RK4 order: {}", e10 / e20);
        assert_eq!(s20.evaluations, 80);
        let (m10, _) = exp(OdeSolver::Midpoint { steps: 10 });
        let (m20, _) = exp(OdeSolver::Midpoint { steps: 20 });
        assert!((m10 / m20 - 4.0).abs() < 0.5, "midpoint order: {}", m10 / m20);
        let (d, ds) = exp(OdeSolver::Dopri5 { atol: 1e-9, rtol: 1e-9 });
        assert!(d < 1e-8, "dopri5 error {d}");
        assert!(ds.evaluations < 400, "{ds:?}");
        // A rotation over a whole turn returns to its start; backwards too.
        for (t0, t1) in [(0.0, 2.0 * std::f64::consts::PI), (2.0 * std::f64::consts::PI, 0.0)] {
            let mut y = vec![1.0, 0.0];
            let s = integrate(OdeSolver::Dopri5 { atol: 1e-8, rtol: 1e-8 }, t0, t1, &mut y, |_, y, dy| {
                dy[0] = -y[1];
                dy[1] = y[0];
            });
            assert!((y[0] - 1.0).abs() < 1e-6 && y[1].abs() < 1e-6, "{y:?} after {s:?}");
        }
    }

    /// A field that depends on t: y' = 2t, y(1) = y(0) + 1, exactly for every solver.
    #[test]
    fn time_dependent_fields_use_the_stage_times() {
        for solver in [OdeSolver::Midpoint { steps: 3 }, OdeSolver::Rk4 { steps: 3 }, OdeSolver::default()] {
            let mut y = vec![0.5];
            integrate(solver, 0.0, 1.0, &mut y, |t, _, dy| dy[0] = 2.0 * t);
            assert!((y[0] - 1.5).abs() < 1e-9, "{solver:?}: {}", y[0]);
        }
    }
}
