//! The data stage: simulated datasets, built once per dataset key and cached, then served to
//! training as z-scored mini-batches.
//!
//! Reads the dataset section and the simulator; writes `results/cache/datasets/<key>/`.

mod batches;
mod cache;
mod dataset;
mod export;
mod plan;
mod shuffle;
mod zscore;

pub use batches::{Batch, Batches, FreshNoise};
pub use cache::{dataset_recipe, load_or_build, open_cached, read as read_cached, read_test_signals, CacheStatus, DataError};
pub use dataset::{Dataset, Manifest, Split, SplitKind};
pub use export::export_injections;
pub use plan::{DatasetPlan, DatasetSpec};
pub use shuffle::Shuffle;
pub use zscore::ZScore;
