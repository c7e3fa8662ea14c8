//! Command-line overrides in Hydra's grammar: `training.optimizer.lr=3e-4`,
//! `dataset.n_train=20_000`, `+eval.kl_samples=512`, `~dataset.seed`.

/// An override that cannot be applied: its text and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OverrideError(pub String);

use serde_norway::{Mapping, Value};

/// One `key.path=value` from the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The text as typed.
    pub text: String,
    /// Dotted key path, split.
    pub path: Vec<String>,
    /// New value, or `None` to delete the key (`~key`).
    pub value: Option<Value>,
}

impl Override {
    /// Parses `a.b=value`, `+a.b=value` or `~a.b`.
    pub fn parse(text: &str) -> Result<Override, OverrideError> {
        let (delete, body) = match text.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix("++").or_else(|| text.strip_prefix('+')).unwrap_or(text)),
        };
        let (key, raw) = if delete {
            (body.split('=').next().unwrap_or(""), None)
        } else {
            match body.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => return Err(OverrideError(format!("override `{text}` has no `=`: write it as key.path=value"))),
            }
        };
        let path: Vec<String> = key.split('.').map(str::to_string).collect();
        if path.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
            return Err(OverrideError(format!("override `{text}`: `{key}` is not a key path like training.optimizer.lr")));
        }
        let value = match raw {
            None => None,
            Some(raw) => {
                if has_top_level_comma(raw) {
                    return Err(OverrideError(format!(
                        "override `{text}` is a comma list, which makes a sweep; `ndelab run` takes one value per key"
                    )));
                }
                let v: Value = if raw.trim().is_empty() {
                    Value::String(String::new())
                } else {
                    serde_norway::from_str(raw).map_err(|e| OverrideError(format!("override `{text}`: value is not YAML: {e}")))?
                };
                Some(v)
            }
        };
        Ok(Override { text: text.to_string(), path, value })
    }

    /// Whether an override's value is a comma list (`2,4,8`), which makes a sweep.
    pub fn is_comma_list(raw: &str) -> bool {
        has_top_level_comma(raw)
    }

    /// Applies the override to a spec's value tree, creating parent mappings as needed.
    pub fn apply(&self, root: &mut Value) -> Result<(), OverrideError> {
        let mut node = root;
        let (last, parents) = self.path.split_last().expect("path is never empty");
        for (depth, key) in parents.iter().enumerate() {
            let map = as_mapping(node, &self.path[..depth], &self.text)?;
            let k = Value::String(key.clone());
            if !map.contains_key(&k) {
                if self.value.is_none() {
                    return Ok(());
                }
                map.insert(k.clone(), Value::Mapping(Mapping::new()));
            }
            node = map.get_mut(&k).expect("inserted above");
        }
        let map = as_mapping(node, parents, &self.text)?;
        let k = Value::String(last.clone());
        match &self.value {
            Some(v) => {
                map.insert(k, v.clone());
            }
            None => {
                map.remove(&k);
            }
        }
        Ok(())
    }
}

fn as_mapping<'a>(node: &'a mut Value, path: &[String], text: &str) -> Result<&'a mut Mapping, OverrideError> {
    if node.is_null() {
        *node = Value::Mapping(Mapping::new());
    }
    match node {
        Value::Mapping(m) => Ok(m),
        _ => Err(OverrideError(format!("override `{text}`: `{}` is not a mapping, so it has no keys to set", path.join(".")))),
    }
}

fn has_top_level_comma(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_values_and_creates_parents() {
        let mut v: Value = serde_norway::from_str("training:\n  batch_size: 3\n").unwrap();
        Override::parse("training.optimizer.lr=3e-4").unwrap().apply(&mut v).unwrap();
        Override::parse("model.hidden=[64,64]").unwrap().apply(&mut v).unwrap();
        let lr = &v["training"]["optimizer"]["lr"];
        assert_eq!(lr.as_f64(), Some(3e-4));
        assert_eq!(v["model"]["hidden"].as_sequence().map(|s| s.len()), Some(2));
        Override::parse("~training.batch_size").unwrap().apply(&mut v).unwrap();
        assert!(v["training"].get("batch_size").is_none());
    }

    #[test]
    fn rejects_malformed_overrides() {
        assert!(Override::parse("training.lr").unwrap_err().0.contains("has no `=`"));
        assert!(Override::parse("model.latent_dim=2,8").unwrap_err().0.contains("comma list"));
        assert!(Override::parse("a..b=1").unwrap_err().0.contains("not a key path"));
    }
}
