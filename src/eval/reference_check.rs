//! The reference posteriors are right: on problems with an exact answer a classifier cannot
//! tell the built-in nested sampler's draws from exact ones. Here, not in reference/, because
//! the check is evaluation's C2ST.

#[cfg(test)]
mod tests {
    use super::super::c2st;
    use crate::math::StreamFamily;
    use crate::reference;
    use crate::sim::{LinearGaussian, LinearGaussianSpec, Simulator};
    use rand::Rng;

    /// The nested sampler draws the closed-form posterior of a 5-parameter linear Gaussian
    /// problem: a classifier cannot tell its samples from exact ones, and log Z is right.
    #[test]
    fn nested_sampling_recovers_the_analytic_posterior_and_evidence() {
        let sim = LinearGaussian::new(&LinearGaussianSpec { theta_dim: 5, data_dim: 10, ..Default::default() });
        let mut rng = StreamFamily::new(4, "t").rng(0);
        let mut theta = vec![0.0; 5];
        sim.sample_prior(&mut rng, &mut theta);
        let mut y = vec![0.0; 10];
        sim.simulate(&theta, &mut rng, &mut y).expect("linear model");
        let keep: Vec<usize> = (0..5).collect();
        let n = 3000;
        let settings = reference::NestedSettings { live: 1000, walks: 40, dlogz: 0.05 };
        let got = reference::nested(&sim, &y, &keep, n, settings, 1, 0).expect("has a likelihood");
        let want = reference::exact(&sim, &y, &keep, n, 1, 0).expect("closed form");
        let score = c2st(&got.samples, &want.samples, 5, 3);
        assert!(score <= 0.53, "C2ST against exact samples: {score}");
        // log Z = log N(y; 0, A Aᵀ σ_π² + σ² I), in closed form.
        let (log_z, err) = got.log_z.expect("nested gives log Z");
        let truth = sim.log_evidence(&y);
        assert!((log_z - truth).abs() < 4.0 * err.max(0.02), "log Z {log_z} ± {err}, exact {truth}");
    }

    /// On a bimodal posterior (the benchmark's two moons, observation 1) the nested sampler
    /// agrees with rejection sampling from the prior under the same exact likelihood.
    #[test]
    fn nested_sampling_matches_rejection_on_the_two_moons() {
        use crate::sim::SimulatorConfig;
        let sim = crate::sim::TwoMoonsSpec::default().build().unwrap();
        let (_, y) = sim.observations()[0].clone();
        let n = 3000;
        let settings = reference::NestedSettings { live: 1000, walks: 40, dlogz: 0.05 };
        let got = reference::nested(sim.as_ref(), &y, &[0, 1], n, settings, 1, 0).expect("has a likelihood");
        // Rejection: L ≤ max N(r) / (π r) near r = 0.1 − 0.01² / 0.1; bound it by N's peak / (π · 0.05).
        let bound = -(0.01 * (2.0 * std::f64::consts::PI).sqrt()).ln() - (std::f64::consts::PI * 0.05).ln();
        let mut rng = StreamFamily::new(9, "t/reject").rng(0);
        let mut want = Vec::with_capacity(2 * n);
        let mut theta = [0.0; 2];
        while want.len() < 2 * n {
            sim.sample_prior(&mut rng, &mut theta);
            let l = sim.log_likelihood(&theta, &y).expect("exact");
            assert!(l <= bound, "the rejection bound {bound} is below log L {l}");
            if rng.gen::<f64>().ln() < l - bound {
                want.extend_from_slice(&theta);
            }
        }
        let score = c2st(&got.samples, &want, 2, 3);
        assert!(score <= 0.53, "C2ST against rejection samples: {score}");
    }
}
