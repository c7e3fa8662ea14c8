//! The order of an epoch's samples.

use serde::{Deserialize, Serialize};

/// How an epoch's samples are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shuffle {
    /// A fresh permutation of all rows.
    #[default]
    Rows,
    /// The blocks of `BLOCK_ROWS` consecutive rows permuted, and the rows within each block:
    /// a split read from disk is read a block at a time instead of a row at a time. The cache
    /// holds the rows of simulated and `split: shuffled` datasets in random order, so a block
    /// is a random subset of the split.
    Blocks,
}

impl Shuffle {
    /// Rows per block of `blocks`: 8192 rows of 256 float32 values are 8 MiB.
    pub const BLOCK_ROWS: usize = 8192;

    pub(crate) fn is_rows(&self) -> bool {
        *self == Shuffle::Rows
    }
}
