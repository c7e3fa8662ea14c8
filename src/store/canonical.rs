//! Canonical JSON: the one byte string a typed section hashes to.
//!
//! Keys sorted, no whitespace, floats in shortest round-trip form (`1e-4`, `0.5`, `3.0`),
//! `-0.0` folded to `0.0`, NaN and infinities rejected. Two specs that mean the same thing
//! (key order, `1e-3` vs `0.001`, `1_000` vs `1000`) give the same bytes.

use serde::Serialize;
use serde_norway::Value;

/// A section that has no canonical form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    /// A number is NaN or infinite.
    #[error("{0} cannot be part of a key: numbers must be finite")]
    NotFinite(f64),
    /// The section could not be serialised.
    #[error("cannot serialise the section: {0}")]
    Serialise(String),
}

/// Canonical JSON of any serialisable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, KeyError> {
    let v = serde_norway::to_value(value).map_err(|e| KeyError::Serialise(e.to_string()))?;
    let mut out = String::new();
    write(&v, &mut out)?;
    Ok(out)
}

fn write(v: &Value, out: &mut String) -> Result<(), KeyError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() {
                    return Err(KeyError::NotFinite(f));
                }
                let f = if f == 0.0 { 0.0 } else { f };
                // Debug formatting is Rust's shortest round-trip representation.
                out.push_str(&format!("{f:?}"));
            }
        }
        Value::String(s) => out.push_str(&serde_json::to_string(s).map_err(|e| KeyError::Serialise(e.to_string()))?),
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Mapping(m) => {
            let mut entries: Vec<(String, &Value)> = Vec::with_capacity(m.len());
            for (k, val) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => {
                        let mut s = String::new();
                        write(other, &mut s)?;
                        s
                    }
                };
                entries.push((key, val));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).map_err(|e| KeyError::Serialise(e.to_string()))?);
                out.push(':');
                write(val, out)?;
            }
            out.push('}');
        }
        Value::Tagged(t) => write(&t.value, out)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn sorts_keys_and_prints_shortest_floats() {
        let mut m = HashMap::new();
        m.insert("b", 1e-4);
        m.insert("a", -0.0);
        m.insert("c", 3.0);
        assert_eq!(canonical_json(&m).unwrap(), r#"{"a":0.0,"b":0.0001,"c":3.0}"#);
        assert_eq!(canonical_json(&vec![1e-300, 0.1 + 0.2]).unwrap(), "[1e-300,0.30000000000000004]");
    }

    #[test]
    fn rejects_nan() {
        assert!(canonical_json(&vec![f64::NAN]).unwrap_err().to_string().contains("finite"));
        assert!(canonical_json(&vec![f64::INFINITY]).is_err());
    }
}
