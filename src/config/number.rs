//! Numbers written the way physicists write them: `1e-4`, `1_000_000`, `2.5E3`.
//!
//! YAML 1.2 reads `1_000_000` as a string and some parsers read `1e-4` as one too. These
//! deserializers accept a number, or a plain string that is a number once the underscores
//! between digits are dropped, and reject anything else with serde's usual message.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    Some(t.replace('_', ""))
}

struct UintVisitor;

impl<'de> Visitor<'de> for UintVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        // `1e6` is a float to YAML but an exact integer to the reader.
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53) {
            Ok(v as u64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        if let Some(c) = clean(v) {
            if let Ok(n) = c.parse::<u64>() {
                return Ok(n);
            }
            if let Ok(f) = c.parse::<f64>() {
                return self.visit_f64(f);
            }
            if c.starts_with('-') && c[1..].chars().all(|ch| ch.is_ascii_digit()) {
                return Err(E::invalid_value(de::Unexpected::Str(v), &self));
            }
        }
        Err(E::invalid_type(de::Unexpected::Str(v), &self))
    }
}

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match clean(v).and_then(|c| c.parse::<f64>().ok()) {
            Some(f) if !f.is_nan() => Ok(f),
            _ => Err(E::invalid_type(de::Unexpected::Str(v), &self)),
        }
    }
}

/// A `u64` written as a YAML integer, `1e6`, or `1_000_000`.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(UintVisitor)
}

/// A `usize` written as a YAML integer, `1e6`, or `1_000_000`.
pub fn usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v = d.deserialize_any(UintVisitor)?;
    usize::try_from(v).map_err(|_| de::Error::custom(format!("{v} is too large")))
}

/// An `f64` written as a YAML number, `1e-4`, or `1_000.5`.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(FloatVisitor)
}

/// An optional number: `null` (or absent, with `#[serde(default)]`) is none.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = serde_norway::Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    f64(v).map(Some).map_err(de::Error::custom)
}

/// A list of `usize`, each written in any of the forms [`usize`] accepts.
pub fn vec_usize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    struct Seq;
    impl<'de> Visitor<'de> for Seq {
        type Value = Vec<usize>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of non-negative integers")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<usize>, A::Error> {
            #[derive(serde::Deserialize)]
            struct Item(#[serde(deserialize_with = "usize")] usize);
            let mut out = Vec::new();
            while let Some(Item(v)) = seq.next_element()? {
                out.push(v);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "u64")]
        n: u64,
        #[serde(deserialize_with = "f64")]
        lr: f64,
    }

    fn parse(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn underscores_and_exponents_are_numbers() {
        let t = parse(r#"{"n": "1_000_000", "lr": "3e-4"}"#).unwrap();
        assert_eq!(t.n, 1_000_000);
        assert_eq!(t.lr, 3e-4);
        let t = parse(r#"{"n": 1e6, "lr": 1}"#).unwrap();
        assert_eq!(t.n, 1_000_000);
        assert_eq!(t.lr, 1.0);
    }

    #[test]
    fn junk_is_rejected() {
        assert!(parse(r#"{"n": "1__0", "lr": 1}"#).is_err());
        assert!(parse(r#"{"n": 1.5, "lr": 1}"#).is_err());
        assert!(parse(r#"{"n": -3, "lr": 1}"#).is_err());
        assert!(parse(r#"{"n": 3, "lr": "fast"}"#).is_err());
    }
}
