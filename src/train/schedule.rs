//! Learning-rate schedules, evaluated per step.

use crate::train::LrSchedule;

/// The learning rate at `step` of `total` steps.
pub fn lr_at(schedule: LrSchedule, base: f64, step: usize, total: usize) -> f64 {
    match schedule {
        LrSchedule::Constant => base,
        LrSchedule::Cosine => {
            let t = step as f64 / total.max(1) as f64;
            0.5 * base * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_goes_from_base_to_zero() {
        assert_eq!(lr_at(LrSchedule::Cosine, 1e-3, 0, 100), 1e-3);
        assert!((lr_at(LrSchedule::Cosine, 1e-3, 50, 100) - 5e-4).abs() < 1e-12);
        assert!(lr_at(LrSchedule::Cosine, 1e-3, 100, 100).abs() < 1e-12);
        assert_eq!(lr_at(LrSchedule::Constant, 1e-3, 77, 100), 1e-3);
    }
}
