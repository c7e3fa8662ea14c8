//! Ground-based interferometers: geometry, antenna patterns and arrival-time delays, in
//! bilby's conventions (which follow LAL's `XLALComputeDetAMResponse` and `XLALArrivalTimeDiff`).

use super::time::gmst;
use std::f64::consts::PI;

const C_SI: f64 = 299_792_458.0;
const EARTH_SEMI_MAJOR: f64 = 6_378_137.0;
const EARTH_SEMI_MINOR: f64 = 6_356_752.314;
const DEG: f64 = PI / 180.0;

/// An L-shaped interferometer.
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    /// Short name (H1, L1, V1).
    pub name: &'static str,
    /// Detector tensor D = ½ (x xᵀ − y yᵀ), Earth-fixed.
    pub tensor: [[f64; 3]; 3],
    /// Vertex position, Earth-fixed, metres.
    pub vertex: [f64; 3],
}

fn arm(lat: f64, lon: f64, tilt: f64, azimuth: f64) -> [f64; 3] {
    let e_lon = [-lon.sin(), lon.cos(), 0.0];
    let e_lat = [-lat.sin() * lon.cos(), -lat.sin() * lon.sin(), lat.cos()];
    let e_h = [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()];
    let mut v = [0.0; 3];
    for i in 0..3 {
        v[i] = tilt.cos() * azimuth.cos() * e_lon[i] + tilt.cos() * azimuth.sin() * e_lat[i] + tilt.sin() * e_h[i];
    }
    v
}

impl Detector {
    /// A detector from its site: latitude and longitude (rad), elevation (m), arm azimuths (rad)
    /// and tilts (rad).
    #[allow(clippy::too_many_arguments)]
    fn from_site(name: &'static str, lat: f64, lon: f64, elevation: f64, x_az: f64, y_az: f64, x_tilt: f64, y_tilt: f64) -> Detector {
        let x = arm(lat, lon, x_tilt, x_az);
        let y = arm(lat, lon, y_tilt, y_az);
        let mut tensor = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                tensor[i][j] = 0.5 * (x[i] * x[j] - y[i] * y[j]);
            }
        }
        let (a, b) = (EARTH_SEMI_MAJOR, EARTH_SEMI_MINOR);
        let r = a * a / (a * a * lat.cos().powi(2) + b * b * lat.sin().powi(2)).sqrt();
        let vertex = [
            (r + elevation) * lat.cos() * lon.cos(),
            (r + elevation) * lat.cos() * lon.sin(),
            ((b / a).powi(2) * r + elevation) * lat.sin(),
        ];
        Detector { name, tensor, vertex }
    }

    /// A detector by name: `H1`, `L1` or `V1` (bilby's site files).
    pub fn by_name(name: &str) -> Option<Detector> {
        Some(match name {
            "H1" => Self::from_site(
                "H1",
                (46.0 + 27.0 / 60.0 + 18.528 / 3600.0) * DEG,
                -(119.0 + 24.0 / 60.0 + 27.5657 / 3600.0) * DEG,
                142.554,
                125.9994 * DEG,
                215.9994 * DEG,
                -6.195e-4,
                1.25e-5,
            ),
            "L1" => Self::from_site(
                "L1",
                (30.0 + 33.0 / 60.0 + 46.4196 / 3600.0) * DEG,
                -(90.0 + 46.0 / 60.0 + 27.2654 / 3600.0) * DEG,
                -6.574,
                197.7165 * DEG,
                287.7165 * DEG,
                -3.121e-4,
                -6.107e-4,
            ),
            "V1" => Self::from_site(
                "V1",
                (43.0 + 37.0 / 60.0 + 53.0921 / 3600.0) * DEG,
                (10.0 + 30.0 / 60.0 + 16.1878 / 3600.0) * DEG,
                51.884,
                70.5674 * DEG,
                160.5674 * DEG,
                0.0,
                0.0,
            ),
            _ => return None,
        })
    }

    /// The detectors ndelab knows.
    pub const NAMES: [&'static str; 3] = ["H1", "L1", "V1"];

    /// (F+, F×) for a source at (ra, dec) with polarisation angle psi at GPS time `gps`.
    pub fn antenna_response(&self, ra: f64, dec: f64, psi: f64, gps: f64) -> (f64, f64) {
        let g = gmst(gps).rem_euclid(2.0 * PI);
        let phi = ra - g;
        let theta = PI / 2.0 - dec;
        let u = [phi.cos() * theta.cos(), theta.cos() * phi.sin(), -theta.sin()];
        let v = [-phi.sin(), phi.cos(), 0.0];
        let mut m = [0.0; 3];
        let mut n = [0.0; 3];
        for i in 0..3 {
            m[i] = -u[i] * psi.sin() - v[i] * psi.cos();
            n[i] = -u[i] * psi.cos() + v[i] * psi.sin();
        }
        let (mut fp, mut fx) = (0.0, 0.0);
        for i in 0..3 {
            for j in 0..3 {
                fp += self.tensor[i][j] * (m[i] * m[j] - n[i] * n[j]);
                fx += self.tensor[i][j] * (m[i] * n[j] + n[i] * m[j]);
            }
        }
        (fp, fx)
    }

    /// Arrival time at the detector minus arrival time at the geocentre, seconds.
    pub fn time_delay_from_geocenter(&self, ra: f64, dec: f64, gps: f64) -> f64 {
        let g = gmst(gps).rem_euclid(2.0 * PI);
        let phi = ra - g;
        let theta = PI / 2.0 - dec;
        let omega = [theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()];
        -(omega[0] * self.vertex[0] + omega[1] * self.vertex[1] + omega[2] * self.vertex[2]) / C_SI
    }
}
