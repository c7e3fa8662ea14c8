//! Content keys: sha256 over what produced an artifact.
//!
//! A key hashes the key-scheme version, the stage name and version, the canonical JSON of the
//! resolved section, and the keys of upstream artifacts. Names, paths and thread counts are
//! never part of it; the git commit goes into provenance.json instead.

use super::canonical::{canonical_json, KeyError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// Version of the key scheme itself; bump it when this file changes what it hashes.
pub const KEY_SCHEME: &str = "ndelab-key/1";

/// A content key: the full sha256, shown by its first 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentKey(String);

impl ContentKey {
    /// The full 64-digit hex digest.
    pub fn full(&self) -> &str {
        &self.0
    }

    /// The 16-digit prefix used for folder names.
    pub fn short(&self) -> &str {
        &self.0[..16]
    }
}

impl fmt::Display for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything that goes into one key, kept so that `ndelab key explain` can print it.
#[derive(Debug, Clone)]
pub struct KeyRecipe {
    /// Stage name, e.g. `dataset` or `run`.
    pub stage: String,
    /// Stage version string; bumped when the stage's output would change.
    pub version: String,
    /// Canonical JSON of the resolved section.
    pub canonical: String,
    /// Keys of upstream artifacts, with their names.
    pub upstream: Vec<(String, ContentKey)>,
}

impl KeyRecipe {
    /// A recipe for `section` of stage `stage` at version `version`.
    pub fn new<T: Serialize>(stage: &str, version: &str, section: &T) -> Result<Self, KeyError> {
        Ok(KeyRecipe { stage: stage.into(), version: version.into(), canonical: canonical_json(section)?, upstream: Vec::new() })
    }

    /// Adds an upstream key.
    pub fn with_upstream(mut self, name: &str, key: &ContentKey) -> Self {
        self.upstream.push((name.to_string(), key.clone()));
        self
    }

    /// The key: each ingredient is length-prefixed so that no two recipes share bytes.
    pub fn key(&self) -> ContentKey {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(KEY_SCHEME);
        field(&self.stage);
        field(&self.version);
        field(&self.canonical);
        for (name, k) in &self.upstream {
            field(name);
            field(k.full());
        }
        ContentKey(hex(&h.finalize()))
    }

    /// Lines for `ndelab key explain`: each ingredient and its own hash.
    pub fn explain(&self) -> String {
        let mut s = format!("{} key {}\n", self.stage, self.key().full());
        s.push_str(&format!("  key scheme     {:<24} sha256 {}\n", KEY_SCHEME, &sha256_hex(KEY_SCHEME.as_bytes())[..16]));
        s.push_str(&format!("  stage version  {:<24} sha256 {}\n", self.version, &sha256_hex(self.version.as_bytes())[..16]));
        s.push_str(&format!("  section        sha256 {}\n    {}\n", &sha256_hex(self.canonical.as_bytes())[..16], self.canonical));
        for (name, k) in &self.upstream {
            s.push_str(&format!("  upstream {:<14} {}\n", name, k.full()));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ingredient_changes_the_key() {
        let base = KeyRecipe::new("dataset", "1", &vec![1, 2]).unwrap();
        let k = base.key();
        assert_eq!(k, KeyRecipe::new("dataset", "1", &vec![1, 2]).unwrap().key());
        assert_ne!(k, KeyRecipe::new("dataset", "2", &vec![1, 2]).unwrap().key());
        assert_ne!(k, KeyRecipe::new("run", "1", &vec![1, 2]).unwrap().key());
        assert_ne!(k, KeyRecipe::new("dataset", "1", &vec![1, 3]).unwrap().key());
        assert_ne!(k, base.clone().with_upstream("dataset", &k).key());
        assert_eq!(k.short().len(), 16);
    }
}
