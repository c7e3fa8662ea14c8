//! A dataset in memory: θ and y for the train, validation and test splits.

use crate::store::npy::Matrix;
use serde::{Deserialize, Serialize};

/// The three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitKind {
    /// Training samples.
    Train,
    /// Validation samples (early stopping).
    Val,
    /// Test samples (evaluation).
    Test,
}

impl SplitKind {
    /// All splits in file order.
    pub const ALL: [SplitKind; 3] = [SplitKind::Train, SplitKind::Val, SplitKind::Test];

    /// Name used in file names and random streams.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitKind::Train => "train",
            SplitKind::Val => "val",
            SplitKind::Test => "test",
        }
    }
}

/// θ and y of one split, row-aligned.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Parameters, n × theta_dim.
    pub theta: Matrix,
    /// Data, n × data_dim.
    pub data: Matrix,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.theta.rows
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.theta.rows == 0
    }

    /// θ of sample `i`.
    pub fn theta_row(&self, i: usize) -> &[f32] {
        &self.theta.values[i * self.theta.cols..(i + 1) * self.theta.cols]
    }

    /// y of sample `i`.
    pub fn data_row(&self, i: usize) -> &[f32] {
        &self.data.values[i * self.data.cols..(i + 1) * self.data.cols]
    }
}

/// What a dataset entry says about itself (manifest.json), DINGO-style: settings travel with the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Full dataset key.
    pub key: String,
    /// ndelab version that wrote it.
    pub ndelab_version: String,
    /// Simulator version string.
    pub simulator_version: String,
    /// The resolved dataset section that produced it.
    pub settings: serde_json::Value,
    /// Parameter names, in column order.
    pub parameters: Vec<String>,
    /// Length of a data vector.
    pub data_dim: usize,
    /// Samples per split.
    pub n_train: usize,
    /// Samples per split.
    pub n_val: usize,
    /// Samples per split.
    pub n_test: usize,
}

/// A whole dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Training split.
    pub train: Split,
    /// Validation split.
    pub val: Split,
    /// Test split.
    pub test: Split,
    /// The manifest.
    pub manifest: Manifest,
}

impl Dataset {
    /// The split of that kind.
    pub fn split(&self, kind: SplitKind) -> &Split {
        match kind {
            SplitKind::Train => &self.train,
            SplitKind::Val => &self.val,
            SplitKind::Test => &self.test,
        }
    }
}
