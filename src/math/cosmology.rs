//! The Planck 2015 cosmology as astropy defines it (`astropy.cosmology.Planck15`, the one
//! bilby's distance priors use): flat ΛCDM with H0 = 67.74 km/s/Mpc, Ωm = 0.3075, a CMB at
//! 2.7255 K, N_eff = 3.046 and neutrino masses (0, 0, 0.06) eV, the massive neutrino's density
//! by astropy's fitting function (Komatsu et al. 2011, eq. 26). Distances in Mpc.

/// Speed of light, km/s.
const C_KM_S: f64 = 299_792.458;

/// Flat ΛCDM with photons and neutrinos, as astropy's `FlatLambdaCDM`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosmology {
    /// Hubble constant, km/s/Mpc.
    pub h0: f64,
    /// Matter density today (cold dark matter and baryons), in units of the critical density.
    pub om0: f64,
    /// CMB temperature today, K.
    pub tcmb0: f64,
    /// Effective number of neutrino species.
    pub neff: f64,
    /// Neutrino masses, eV.
    pub m_nu: [f64; 3],
}

/// astropy's Planck15.
pub const PLANCK15: Cosmology = Cosmology { h0: 67.74, om0: 0.3075, tcmb0: 2.7255, neff: 3.046, m_nu: [0.0, 0.0, 0.06] };

impl Cosmology {
    /// Photon density today: 4σT⁴/c³ over the critical density 3H0²/8πG (astropy's constants).
    fn ogamma0(&self) -> f64 {
        // a_B c² / ρ_crit with h = H0/100: 2.469e-5 h⁻² for T = 2.7255 K, scaled by T⁴.
        const SIGMA_SB: f64 = 5.670_374_419e-8; // W m⁻² K⁻⁴
        const C: f64 = 299_792_458.0; // m/s
        const G: f64 = 6.674_30e-11; // m³ kg⁻¹ s⁻²
        const MPC_M: f64 = 3.085_677_581_491_367e22;
        let h0_si = self.h0 * 1e3 / MPC_M;
        let rho_crit = 3.0 * h0_si * h0_si / (8.0 * std::f64::consts::PI * G);
        let a_b_c2 = 4.0 * SIGMA_SB / C.powi(3);
        a_b_c2 * self.tcmb0.powi(4) / rho_crit
    }

    /// Neutrino density over photon density at redshift z (astropy's `nu_relative_density`).
    fn nu_relative_density(&self, z: f64) -> f64 {
        const PREFAC: f64 = 0.227_107_317_660_239; // 7/8 (4/11)^(4/3)
        const P: f64 = 1.83;
        const INV_P: f64 = 0.546_448_087_431_694; // 1 / P
        const K: f64 = 0.3173;
        // m c² / (k_B T_ν0), T_ν0 = (4/11)^(1/3) T_cmb0.
        const K_B_EV: f64 = 8.617_333_262e-5; // eV/K
        let t_nu0 = 0.713_765_855_503_608_2 * self.tcmb0;
        let massive = self.m_nu.iter().filter(|&&m| m > 0.0).count();
        let massless = (self.m_nu.len() - massive) as f64;
        let rel_mass: f64 = self
            .m_nu
            .iter()
            .filter(|&&m| m > 0.0)
            .map(|&m| {
                let y = m / (K_B_EV * t_nu0) / (1.0 + z);
                (1.0 + (K * y).powf(P)).powf(INV_P)
            })
            .sum::<f64>()
            + massless;
        PREFAC * (self.neff / self.m_nu.len() as f64) * rel_mass
    }

    /// H(z)/H0.
    pub fn efunc(&self, z: f64) -> f64 {
        let og = self.ogamma0();
        let onu0 = og * self.nu_relative_density(0.0);
        let ode0 = 1.0 - self.om0 - og - onu0;
        let zp = 1.0 + z;
        (self.om0 * zp.powi(3) + og * (1.0 + self.nu_relative_density(z)) * zp.powi(4) + ode0).sqrt()
    }

    /// Hubble distance c/H0, Mpc.
    pub fn hubble_distance(&self) -> f64 {
        C_KM_S / self.h0
    }

    /// Comoving distance to redshift z, Mpc: c/H0 ∫₀^z dz'/E(z'), by Gauss–Legendre quadrature
    /// on pieces of width at most 0.05 (relative error far below 1e-10 at these z).
    pub fn comoving_distance(&self, z: f64) -> f64 {
        if z <= 0.0 {
            return 0.0;
        }
        let pieces = (z / 0.05).ceil().max(1.0) as usize;
        let h = z / pieces as f64;
        let sum: f64 = (0..pieces).map(|i| gauss_legendre(|x| 1.0 / self.efunc(x), i as f64 * h, (i + 1) as f64 * h)).sum();
        self.hubble_distance() * sum
    }

    /// Luminosity distance to redshift z, Mpc (flat: (1 + z) times the comoving distance).
    pub fn luminosity_distance(&self, z: f64) -> f64 {
        (1.0 + z) * self.comoving_distance(z)
    }

    /// Differential comoving volume dV_c/dz/dΩ, Mpc³ per unit redshift per steradian.
    pub fn differential_comoving_volume(&self, z: f64) -> f64 {
        let dc = self.comoving_distance(z);
        self.hubble_distance() * dc * dc / self.efunc(z)
    }

    /// The redshift at luminosity distance `d_l` Mpc (bisection on the monotone d_L(z)).
    pub fn z_at_luminosity_distance(&self, d_l: f64) -> f64 {
        let (mut lo, mut hi) = (0.0, 1.0);
        while self.luminosity_distance(hi) < d_l && hi < 1e4 {
            hi *= 2.0;
        }
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if self.luminosity_distance(mid) < d_l {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo < 1e-14 * hi.max(1.0) {
                break;
            }
        }
        0.5 * (lo + hi)
    }
}

/// ∫ₐᵇ f by 8-point Gauss–Legendre.
fn gauss_legendre(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    const X: [f64; 4] = [0.183_434_642_495_649_8, 0.525_532_409_916_329, 0.796_666_477_413_626_7, 0.960_289_856_497_536_3];
    const W: [f64; 4] = [0.362_683_783_378_362, 0.313_706_645_877_887_3, 0.222_381_034_453_374_5, 0.101_228_536_290_376_3];
    let (m, r) = (0.5 * (a + b), 0.5 * (b - a));
    r * X.iter().zip(&W).map(|(&x, &w)| w * (f(m - r * x) + f(m + r * x))).sum::<f64>()
}
