//! The training stage: mini-batch Adam on z-scored data, a learning-rate schedule, validation
//! loss every epoch, early stopping that keeps the best epoch's weights, and a guard that stops
//! at the first non-finite loss.
//!
//! Reads a dataset and an estimator; writes nothing (the pipeline saves what it returns).

mod adam;
pub mod bench;
pub mod checkpoint;
mod allocator;
mod schedule;
mod settings;

pub use adam::Adam;
pub use checkpoint::Checkpointing;
pub use allocator::keep_freed_memory;
pub use schedule::lr_at;
pub use settings::{AdamSpec, EarlyStoppingSpec, KlRampSpec, LrSchedule, OptimizerSpec, TrainingSpec};

use crate::data::{Batch, Batches, Dataset, FreshNoise, ZScore};
use crate::nn::{Dev, LossContext, Network, T2};
use crate::data::Shuffle;
use crate::ui;
use checkpoint::{Progress, State, Timer};
use dfdx::prelude::*;
use std::time::Instant;

/// Version of the training code; part of the run key.
pub const TRAIN_VERSION: &str = "train/1";

/// Failures of training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error("training diverged: the {what} loss became {value} at epoch {epoch}, step {step}; lower training.optimizer.lr (now {lr:e}) or check the data for NaN or inf")]
    NonFinite {
        /// `training` or `validation`.
        what: &'static str,
        /// The value seen.
        value: f32,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The base learning rate.
        lr: f64,
    },
    /// The data hold NaN or infinite values.
    #[error("the {split} split holds a non-finite value ({what}, row {row}); the simulator produced NaN or inf")]
    BadData {
        /// Which split.
        split: &'static str,
        /// `theta` or `data`.
        what: &'static str,
        /// Row index.
        row: usize,
    },
}

/// One epoch's record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub val_loss: f64,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// What training returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// One record per epoch run.
    pub history: Vec<EpochRecord>,
    /// Epoch whose weights were kept (lowest validation loss).
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_val_loss: f64,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
}

fn check_finite(ds: &Dataset) -> Result<(), TrainError> {
    for (split, s) in [("train", &ds.train), ("val", &ds.val), ("test", &ds.test)] {
        for (what, m) in [("theta", &s.theta), ("data", &s.data)] {
            if let Some(i) = m.values().iter().position(|v| !v.is_finite()) {
                return Err(TrainError::BadData { split, what, row: i / m.cols.max(1) });
            }
        }
    }
    Ok(())
}

/// Mean loss over a split (KL weight 1, fixed randomness), without gradients kept.
/// A hint when a training split mapped from disk is larger than memory and read a row at a
/// time: each epoch then reads it from disk in random order, one page per row.
fn larger_than_memory(train: &crate::data::Split, shuffle: Shuffle) -> Option<String> {
    let bytes = (train.theta.bytes() + train.data.bytes()) as u64;
    let memory = crate::config::limits::memory_bytes()?;
    (shuffle == Shuffle::Rows && train.data.is_mapped() && bytes > memory).then(|| {
        format!(
            "note: the training split ({:.1} GB) is larger than the memory available ({:.1} GB), so each epoch reads it from disk \
             row by row; `training.shuffle: blocks` reads it in blocks of {} rows",
            bytes as f64 / 1e9,
            memory as f64 / 1e9,
            Shuffle::BLOCK_ROWS
        )
    })
}

fn mean_loss(net: &dyn Network, dev: &Dev, batches: Batches, seed: u64) -> f64 {
    let (d, m) = (net.theta_dim(), net.data_dim());
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (i, b) in batches.enumerate() {
        let theta: T2 = dev.tensor_from_vec(b.theta, (b.rows, d));
        let data: T2 = dev.tensor_from_vec(b.data, (b.rows, m));
        let mut ctx = LossContext::seeded(seed ^ 0x5eed_0f_7a1, i as u64, 1.0);
        let l = net.loss(theta, data.leaky_traced(), &mut ctx).array();
        sum += l as f64 * b.rows as f64;
        n += b.rows;
    }
    sum / n.max(1) as f64
}

/// One epoch's gradient steps.
struct EpochRun<'a> {
    net: &'a mut dyn Network,
    adam: &'a mut Adam,
    dev: &'a Dev,
    spec: &'a TrainingSpec,
    seed: u64,
    total: usize,
    bar: &'a indicatif::ProgressBar,
    /// Where training stands: the epoch, the batches done, the steps.
    progress: &'a mut Progress,
    /// The best epoch's weights, for checkpoints.
    best: &'a [Vec<f32>],
    /// Checkpoints within the epoch, when due.
    saver: Option<(&'a Checkpointing, &'a mut Timer)>,
}

impl EpochRun<'_> {
    /// Steps through `batches` from the batch `progress` is at; returns the mean training loss
    /// and the last learning rate. Stops at the first non-finite loss.
    fn steps(&mut self, batches: &mut dyn Iterator<Item = Batch>) -> Result<(f64, f64), TrainError> {
        let OptimizerSpec::Adam(adam_cfg) = &self.spec.optimizer;
        let epoch = self.progress.epoch;
        let mut lr = adam_cfg.lr;
        for b in batches {
            let step = self.progress.step;
            lr = lr_at(self.spec.lr_schedule, adam_cfg.lr, step, self.total);
            let kl_weight = self.spec.kl_ramp.as_ref().map_or(1.0, |r| r.weight(epoch));
            let ctx = LossContext::seeded(self.seed, step as u64, kl_weight).training();
            let rows = b.rows;
            let value = match gradient_step(&mut *self.net, self.adam, self.dev, b, ctx, lr) {
                Ok(v) => v,
                Err(value) => {
                    self.bar.abandon();
                    let at = self.progress.batches_done + 1;
                    return Err(TrainError::NonFinite { what: "training", value, epoch, step: at, lr: adam_cfg.lr });
                }
            };
            self.progress.loss_sum += value as f64 * rows as f64;
            self.progress.rows += rows;
            self.progress.batches_done += 1;
            self.progress.step += 1;
            self.bar.inc(1);
            if let Some((c, timer)) = self.saver.as_mut() {
                if timer.due() {
                    save(c, self.progress, &*self.net, self.adam, self.best);
                }
            }
        }
        Ok((self.progress.loss_sum / self.progress.rows.max(1) as f64, lr))
    }
}

/// Runs `f` on one of rayon's worker threads, so that a step's serial parts and its parallel
/// products share the `--threads` threads: run from the main thread, the workers that wait
/// for the next parallel product spin beside it, three busy threads on two cores.
pub fn on_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// One gradient step on batch `b`: the loss, its gradients, Adam's update at rate `lr`.
/// Returns the loss, or `Err(loss)` (nothing updated) where it is not finite.
pub(crate) fn gradient_step(
    net: &mut dyn Network,
    adam: &mut Adam,
    dev: &Dev,
    b: Batch,
    mut ctx: LossContext,
    lr: f64,
) -> Result<f32, f32> {
    let (d, m) = (net.theta_dim(), net.data_dim());
    let theta: T2 = dev.tensor_from_vec(b.theta, (b.rows, d));
    let data: T2 = dev.tensor_from_vec(b.data, (b.rows, m));
    let loss = net.loss(theta, data.leaky_traced(), &mut ctx);
    let value = loss.array();
    if !value.is_finite() {
        return Err(value);
    }
    let mut grads = loss.backward();
    adam.step(net.params_mut(), &mut grads, lr);
    net.update_buffers();
    Ok(value)
}

/// Records an epoch and says so; ends training after the last epoch or when early stopping
/// says so, and otherwise moves `progress` to the next epoch.
fn end_epoch(progress: &mut Progress, spec: &TrainingSpec, bar: &indicatif::ProgressBar, record: EpochRecord, improved: bool) {
    let EpochRecord { epoch, train_loss, val_loss, lr, seconds } = record;
    let mark = if improved { " *" } else { "  " };
    let line = format!("epoch {epoch:>3}/{}  train {train_loss:>9.5}  val {val_loss:>9.5}{mark}  lr {lr:.2e}  {seconds:.2} s", spec.epochs);
    ui::log(Some(bar), &line);
    progress.history.push(record);
    if let Some(es) = &spec.early_stopping {
        if epoch - progress.best_epoch >= es.patience {
            let why = format!("early stopping: no improvement for {} epochs; keeping epoch {}", es.patience, progress.best_epoch);
            ui::log(Some(bar), &why);
            progress.stopped_early = true;
        }
    }
    progress.finished = progress.stopped_early || epoch == spec.epochs;
    if !progress.finished {
        (progress.epoch, progress.batches_done, progress.loss_sum, progress.rows) = (epoch + 1, 0, 0.0, 0);
    }
}

/// Runs `f` over `batches` made on a thread of their own, up to two ahead of the step that
/// uses them: gathering, z-scoring and fresh noise then overlap the step instead of
/// preceding it. The batches and their order are the same.
fn prefetched<R>(batches: Batches, f: impl FnOnce(&mut dyn Iterator<Item = Batch>) -> R) -> R {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        s.spawn(move || {
            for b in batches {
                // The receiver is gone when training stopped early (a non-finite loss).
                if tx.send(b).is_err() {
                    break;
                }
            }
        });
        f(&mut rx.into_iter())
    })
}

/// Writes a checkpoint; a failure to write one is reported and training goes on.
fn save(c: &Checkpointing, progress: &Progress, net: &dyn Network, adam: &Adam, best: &[Vec<f32>]) {
    let (t, m, v) = adam.moments();
    let state = State {
        progress: Progress { adam_t: t, ..progress.clone() },
        params: net.params().to_flat(),
        m: m.to_vec(),
        v: v.to_vec(),
        best: best.to_vec(),
    };
    if let Err(e) = state.save(&c.path) {
        crate::ui::warning!("could not write the training checkpoint: {e}");
    }
}

/// The checkpoint to resume from, restored into `net` and `adam`, with the best weights;
/// none (training starts over) where there is none or it cannot be used.
fn resume(c: &Checkpointing, net: &mut dyn Network, adam: &mut Adam) -> Option<(Progress, Vec<Vec<f32>>)> {
    let shapes: Vec<usize> = net.params().params.iter().map(|p| p.tensor.shape().num_elements()).collect();
    match State::load(&c.path, &c.key, &shapes) {
        Ok(Some(s)) => {
            net.params_mut().restore(&s.params);
            adam.restore(s.progress.adam_t, s.params, s.m, s.v);
            let p = &s.progress;
            let at = if p.finished { "finished training".to_string() } else { format!("epoch {}, batch {}", p.epoch, p.batches_done + 1) };
            crate::ui::note!("resuming from the checkpoint of an interrupted run: {at}");
            Some((s.progress, s.best))
        }
        Ok(None) => None,
        Err(why) => {
            crate::ui::warning!("ignoring the checkpoint {} ({why}); training from the start", c.path.display());
            None
        }
    }
}

/// Trains `net` on `ds` (θ and y scaled by `theta_z` and `data_z`) as `spec` says; `noise`
/// adds fresh noise to a training split that holds noise-free signals. With `checkpoint`,
/// training resumes from the run's checkpoint if there is one and keeps it up to date.
#[allow(clippy::too_many_arguments)]
pub fn train(
    net: &mut dyn Network,
    ds: &Dataset,
    theta_z: &ZScore,
    data_z: &ZScore,
    spec: &TrainingSpec,
    seed: u64,
    noise: Option<FreshNoise>,
    checkpoint: Option<&Checkpointing>,
) -> Result<TrainOutcome, TrainError> {
    allocator::keep_freed_memory();
    on_workers(|| {
        check_finite(ds)?;
        let dev = Dev::default();
        let OptimizerSpec::Adam(adam_cfg) = &spec.optimizer;
        let mut adam = Adam::new(adam_cfg, net.params());
        let (mut progress, mut best) = match checkpoint.and_then(|c| resume(c, net, &mut adam)) {
            Some(r) => r,
            None => (Progress::start(checkpoint.map_or("", |c| c.key.as_str())), net.params().to_flat()),
        };
        let steps_per_epoch = ds.train.len().div_ceil(spec.batch_size);
        let total = steps_per_epoch * spec.epochs;
        let bar = ui::bar(total as u64, "training");
        bar.set_position(progress.step as u64);
        if let Some(note) = larger_than_memory(&ds.train, spec.shuffle) {
            ui::log(Some(&bar), &note);
        }
        let mut timer = checkpoint.map(|c| Timer::new(c.every));
        while !progress.finished && progress.epoch <= spec.epochs {
            let epoch = progress.epoch;
            let start = Instant::now();
            let batches = Batches::new(&ds.train, spec.batch_size, Some((seed, epoch as u64, spec.shuffle)), theta_z, data_z, noise)
                .skip_batches(progress.batches_done);
            let saver = checkpoint.zip(timer.as_mut());
            let mut run = EpochRun {
                net: &mut *net,
                adam: &mut adam,
                dev: &dev,
                spec,
                seed,
                total,
                bar: &bar,
                progress: &mut progress,
                best: &best,
                saver,
            };
            let (train_loss, lr) = prefetched(batches, |it| run.steps(it))?;
            let val_loss = mean_loss(net, &dev, Batches::new(&ds.val, 4096, None, theta_z, data_z, None), seed);
            if !val_loss.is_finite() {
                bar.abandon();
                return Err(TrainError::NonFinite {
                    what: "validation",
                    value: val_loss as f32,
                    epoch,
                    step: steps_per_epoch,
                    lr: adam_cfg.lr,
                });
            }
            let seconds = start.elapsed().as_secs_f64();
            let improved = progress.best_val.is_none_or(|b| val_loss < b);
            if improved {
                (progress.best_val, progress.best_epoch, best) = (Some(val_loss), epoch, net.params().to_flat());
            }
            end_epoch(&mut progress, spec, &bar, EpochRecord { epoch, train_loss, val_loss, lr, seconds }, improved);
            if let Some(c) = checkpoint {
                save(c, &progress, net, &adam, &best);
            }
        }
        bar.finish_and_clear();
        net.params_mut().restore(&best);
        Ok(TrainOutcome {
            history: progress.history,
            best_epoch: progress.best_epoch,
            best_val_loss: progress.best_val.unwrap_or(f64::INFINITY),
            stopped_early: progress.stopped_early,
        })
    })
}
