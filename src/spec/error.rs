//! The one error type of the spec stage: a message about a place in a spec file.

use std::fmt;

/// A problem with a spec: where it is (file, line, column, key path), what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file as the user named it.
    pub file: String,
    /// 1-based line and column of the offending key or value, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong, naming the key path.
    pub message: String,
    /// Lines that say what would be valid or how to fix it.
    pub help: Vec<String>,
}

impl SpecError {
    pub(crate) fn new(file: &str, message: impl Into<String>) -> Self {
        SpecError { file: file.to_string(), location: None, message: message.into(), help: Vec::new() }
    }

    pub(crate) fn at(mut self, location: Option<(usize, usize)>) -> Self {
        self.location = location;
        self
    }

    pub(crate) fn help(mut self, line: impl Into<String>) -> Self {
        self.help.push(line.into());
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        for h in &self.help {
            write!(f, "\n  {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}
