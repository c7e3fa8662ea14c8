//! Distribution functions the diagnostics need: the standard normal quantile, binomial
//! quantiles (P-P bands), the Kolmogorov distribution (KS p-values) and Fisher's method.

/// Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] =
        [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] =
        [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let low = 0.02425;
    let x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    x
}

/// Φ(x), the standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The q-quantile of Binomial(n, p): the smallest k with P(K ≤ k) ≥ q.
pub fn binomial_quantile(n: usize, p: f64, q: f64) -> usize {
    if p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    // pmf by the recurrence from k = 0, in logs to survive large n.
    let mut log_pmf = n as f64 * (1.0 - p).ln();
    let mut cdf = 0.0;
    for k in 0..=n {
        cdf += log_pmf.exp();
        if cdf >= q {
            return k;
        }
        log_pmf += ((n - k) as f64 / (k + 1) as f64).ln() + (p / (1.0 - p)).ln();
    }
    n
}

/// Kolmogorov–Smirnov statistic of samples against U(0, 1), and its p-value (the asymptotic
/// Kolmogorov distribution with Stephens' small-sample correction).
pub fn ks_uniform(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut d = 0.0f64;
    for (i, &x) in v.iter().enumerate() {
        let x = x.clamp(0.0, 1.0);
        d = d.max((i + 1) as f64 / n as f64 - x).max(x - i as f64 / n as f64);
    }
    let sn = (n as f64).sqrt();
    (d, kolmogorov_survival((sn + 0.12 + 0.11 / sn) * d))
}

/// P(K > λ) for the Kolmogorov distribution.
pub fn kolmogorov_survival(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut s = 0.0;
    for j in 1..=100 {
        let term = 2.0 * if j % 2 == 1 { 1.0 } else { -1.0 } * (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        s += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    s.clamp(0.0, 1.0)
}

/// Fisher's combined p-value of independent tests: −2 Σ ln pᵢ ~ χ²(2k).
pub fn fisher_combined(p_values: &[f64]) -> f64 {
    let k = p_values.len();
    if k == 0 {
        return f64::NAN;
    }
    let x: f64 = p_values.iter().map(|p| -2.0 * p.max(1e-300).ln()).sum();
    // Survival of χ² with 2k degrees of freedom: e^{−x/2} Σ_{i<k} (x/2)^i / i!.
    let h = x / 2.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..k {
        term *= h / i as f64;
        sum += term;
    }
    ((-h).exp() * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_p_values_match_known_values() {
        // scipy.stats.norm.ppf
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 3e-9);
        assert!((normal_quantile(1e-6) + 4.753424308822899).abs() < 1e-8);
        assert!((normal_cdf(-1.959963984540054) - 0.025).abs() < 1e-8);
        // scipy.stats.binom.ppf(0.025, 100, 0.5) = 40, ppf(0.975, …) = 60
        assert_eq!(binomial_quantile(100, 0.5, 0.025), 40);
        assert_eq!(binomial_quantile(100, 0.5, 0.975), 60);
        // Kolmogorov: P(K > 1.36) ≈ 0.0494
        assert!((kolmogorov_survival(1.36) - 0.049486).abs() < 1e-5);
        // scipy.stats.combine_pvalues([0.01, 0.2, 0.5]) → 0.031766 (Fisher)
        assert!((fisher_combined(&[0.01, 0.2, 0.5]) - 0.031766).abs() < 1e-5, "{}", fisher_combined(&[0.01, 0.2, 0.5]));
    }
}
