//! Sections chosen by a `kind` key (`model`, `training.optimizer`).
//!
//! serde's internally tagged enums buffer the section and lose the path of any error inside
//! it, so that `model.hidden: lots` would be reported against `model`. These helpers split off
//! `kind` and deserialize the rest with its own path tracking; the inner path travels inside
//! the error message between [`PATH_MARK`]s and is spliced back by the loader.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_norway::{Mapping, Value};

/// Delimits an inner key path inside an error message.
pub const PATH_MARK: char = '\u{1}';

/// Reads a mapping, returning its `kind` and the other entries.
pub fn split_kind<'de, D: Deserializer<'de>>(d: D, kinds: &'static [&'static str]) -> Result<(String, Value), D::Error> {
    let mut map = Mapping::deserialize(d)?;
    let kind = match map.remove("kind") {
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(de::Error::custom(format!(
                "{PATH_MARK}kind{PATH_MARK}expected one of {} as a string, found {}",
                kinds.join(", "),
                match &other {
                    Value::Number(n) => format!("the number {n}"),
                    Value::Bool(b) => format!("`{b}`"),
                    v => kind_of(v).to_string(),
                }
            )))
        }
        None => return Err(de::Error::missing_field("kind")),
    };
    if !kinds.contains(&kind.as_str()) {
        return Err(de::Error::unknown_variant(&kind, kinds));
    }
    Ok((kind, Value::Mapping(map)))
}

/// Deserializes the entries of one variant, keeping the path of an error.
pub fn variant<T: DeserializeOwned, E: de::Error>(rest: Value) -> Result<T, E> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A section inside a section (`model.embedding`) already marked its own path: join them.
        let (inner_path, message) = match inner.strip_prefix(PATH_MARK).and_then(|r| r.split_once(PATH_MARK)) {
            Some((p, m)) => (Some(p.to_string()), m.to_string()),
            None => (None, inner),
        };
        let full = match (path == "." || path.is_empty(), inner_path) {
            (true, None) => return E::custom(message),
            (true, Some(p)) => p,
            (false, None) => path,
            (false, Some(p)) => format!("{path}.{p}"),
        };
        E::custom(format!("{PATH_MARK}{full}{PATH_MARK}{message}"))
    })
}

/// The same error, its key path (if any) put under `key`: for a section read on its own.
pub fn within<E: de::Error>(key: &str, e: E) -> E {
    let text = e.to_string();
    match text.strip_prefix(PATH_MARK).and_then(|r| r.split_once(PATH_MARK)) {
        Some((path, message)) => E::custom(format!("{PATH_MARK}{key}.{path}{PATH_MARK}{message}")),
        None => E::custom(format!("{PATH_MARK}{key}{PATH_MARK}{text}")),
    }
}

/// An error of a section read from a value tree, passed on as the outer deserializer's error
/// (its key path travels inside the message).
pub fn relay<E: de::Error>(e: serde_norway::Error) -> E {
    E::custom(e.to_string())
}

/// What a YAML value is, in words (never its internal form).
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}
