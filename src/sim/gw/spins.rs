//! From the spin parameters samplers use (bilby's names: θ_JN, φ_JL, tilt_1, tilt_2, φ_12,
//! a_1, a_2, defined at f_ref in the frame of the total angular momentum J) to what waveform
//! models take: the inclination of the orbital angular momentum L and the Cartesian spins in
//! the frame where L is along z, as LALSimulation's
//! `XLALSimInspiralTransformPrecessingNewInitialConditions` computes them (|L| Newtonian with
//! its 1PN point-particle correction; checked against it in tests/waveforms.rs).

use std::f64::consts::{FRAC_PI_2, PI};

/// LAL's solar mass in seconds, G M☉ / c³.
const MTSUN_SI: f64 = 4.925_490_947_641_267e-6;

/// The spins of a binary as a sampler writes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpinAngles {
    /// Angle between J and the line of sight, rad.
    pub theta_jn: f64,
    /// Azimuth of L about J, rad.
    pub phi_jl: f64,
    /// Angle between each spin and L, rad.
    pub tilt_1: f64,
    /// Angle between the second spin and L, rad.
    pub tilt_2: f64,
    /// Azimuth between the two spins about L, rad.
    pub phi_12: f64,
    /// Dimensionless spin magnitudes.
    pub a_1: f64,
    /// Magnitude of the second spin.
    pub a_2: f64,
}

/// The inclination of L and the two spin vectors in the waveform frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveformSpins {
    /// Angle between L and the line of sight, rad.
    pub inclination: f64,
    /// First spin (x, y, z), z along L.
    pub spin_1: [f64; 3],
    /// Second spin.
    pub spin_2: [f64; 3],
}

type Vec3 = [f64; 3];

/// Rotation about z by `a`.
fn rot_z(a: f64, v: Vec3) -> Vec3 {
    let (s, c) = a.sin_cos();
    [v[0] * c - v[1] * s, v[0] * s + v[1] * c, v[2]]
}

/// Rotation about y by `a`.
fn rot_y(a: f64, v: Vec3) -> Vec3 {
    let (s, c) = a.sin_cos();
    [v[0] * c + v[2] * s, v[1], -v[0] * s + v[2] * c]
}

/// LALSimulation's transformation for masses `m1`, `m2` (solar masses, detector frame), the
/// reference frequency `f_ref` (Hz) and the orbital phase `phase` (rad) at it.
pub fn waveform_spins(s: &SpinAngles, m1: f64, m2: f64, f_ref: f64, phase: f64) -> WaveformSpins {
    // Spins along L (or none): L and J are parallel, nothing to rotate.
    let aligned = |a: f64, tilt: f64| a == 0.0 || tilt == 0.0 || tilt == PI;
    if aligned(s.a_1, s.tilt_1) && aligned(s.a_2, s.tilt_2) {
        return WaveformSpins {
            inclination: s.theta_jn,
            spin_1: [0.0, 0.0, s.a_1 * s.tilt_1.cos()],
            spin_2: [0.0, 0.0, s.a_2 * s.tilt_2.cos()],
        };
    }
    let m = m1 + m2;
    let eta = m1 * m2 / (m * m);
    let v0 = (PI * m * MTSUN_SI * f_ref).cbrt();
    let l_mag = m * m * eta / v0 * (1.0 + v0 * v0 * (1.5 + eta / 6.0));
    // The frame of L: spin 1 at azimuth `phase`, spin 2 φ_12 further.
    let unit = |tilt: f64, azimuth: f64| [tilt.sin() * azimuth.cos(), tilt.sin() * azimuth.sin(), tilt.cos()];
    let mut l: Vec3 = [0.0, 0.0, 1.0];
    let mut s1 = unit(s.tilt_1, phase);
    let mut s2 = unit(s.tilt_2, phase + s.phi_12);
    let j: Vec3 = std::array::from_fn(|i| l[i] * l_mag + m1 * m1 * s.a_1 * s1[i] + m2 * m2 * s.a_2 * s2[i]);
    let j_norm = (j[0] * j[0] + j[1] * j[1] + j[2] * j[2]).sqrt();
    let (theta_0, phi_0) = ((j[2] / j_norm).acos(), j[1].atan2(j[0]));
    // J onto z, then L to azimuth φ_JL about it.
    for v in [&mut l, &mut s1, &mut s2] {
        *v = rot_z(s.phi_jl - PI, rot_y(-theta_0, rot_z(-phi_0, *v)));
    }
    let mut n: Vec3 = [0.0, s.theta_jn.sin(), s.theta_jn.cos()];
    let inclination = (n[0] * l[0] + n[1] * l[1] + n[2] * l[2]).clamp(-1.0, 1.0).acos();
    // Back to L along z, with the line of sight in the plane LALSimulation expects.
    let (theta_lj, phi_l) = (l[2].clamp(-1.0, 1.0).acos(), l[1].atan2(l[0]));
    for v in [&mut s1, &mut s2, &mut n] {
        *v = rot_y(-theta_lj, rot_z(-phi_l, *v));
    }
    let phi_n = n[1].atan2(n[0]);
    let turn = FRAC_PI_2 - phi_n - phase;
    let (s1, s2) = (rot_z(turn, s1), rot_z(turn, s2));
    WaveformSpins {
        inclination,
        spin_1: [s.a_1 * s1[0], s.a_1 * s1[1], s.a_1 * s1[2]],
        spin_2: [s.a_2 * s2[0], s.a_2 * s2[1], s.a_2 * s2[2]],
    }
}
