//! GPS time to Greenwich mean sidereal time, as LAL's `XLALGreenwichMeanSiderealTime`
//! (and bilby) compute it: leap seconds to UTC, UTC to Julian day, the IAU 1982 polynomial.

use std::f64::consts::PI;

/// GPS seconds of the leap seconds since the GPS epoch (LAL's table).
const LEAP_SECONDS: [i64; 18] = [
    46828800, 78364801, 109900802, 173059203, 252028804, 315187205, 346723206, 393984007, 425520008, 457056009, 504489610, 551750411,
    599184012, 820108813, 914803214, 1025136015, 1119744016, 1167264017,
];

/// Unix time of the GPS epoch, 1980-01-06 00:00:00 UTC.
const GPS_EPOCH_UNIX: i64 = 315_964_800;

/// Julian day of J2000.0.
const EPOCH_J2000_JD: f64 = 2_451_545.0;

/// Leap seconds between GPS and UTC at integer GPS second `gps`.
pub fn leap_seconds(gps: i64) -> i64 {
    LEAP_SECONDS.iter().filter(|&&l| gps >= l).count() as i64
}

/// (year, month, day) of a day count since 1970-01-01 (Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Julian day of integer GPS second `gps` (UTC, to the second), as `XLALConvertCivilTimeToJD`.
pub fn julian_day(gps: i64) -> f64 {
    let unix = gps - leap_seconds(gps) + GPS_EPOCH_UNIX;
    let days = unix.div_euclid(86_400);
    let sec = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // C integer division, as in LAL.
    let jd = 367 * year - 7 * (year + (month + 9) / 12) / 4 + 275 * month / 9 + day + 1_721_014;
    jd as f64 + sec as f64 / 86_400.0 - 0.5
}

/// Greenwich mean sidereal time in radians (not reduced modulo 2π).
pub fn gmst(gps: f64) -> f64 {
    let sec = gps.floor();
    let t_hi = (julian_day(sec as i64) - EPOCH_J2000_JD) / 36_525.0;
    let t_lo = (gps - sec) / (36_525.0 * 86_400.0);
    let t = t_hi + t_lo;
    let mut st = (-6.2e-6 * t + 0.093104) * t * t + 67_310.548_41;
    st += 8_640_184.812_866 * t_lo;
    st += 3_155_760_000.0 * t_lo;
    st += 8_640_184.812_866 * t_hi;
    st += 3_155_760_000.0 * t_hi;
    st * PI / 43_200.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_seconds_and_julian_days() {
        assert_eq!(leap_seconds(1126259642), 17);
        assert_eq!(leap_seconds(1167264017), 18);
        // 2015-09-14 09:53:45 UTC (GPS 1126259642) is JD 2457279.912326...
        assert!((julian_day(1126259642) - 2457279.9123264).abs() < 1e-6, "{}", julian_day(1126259642));
    }
}
