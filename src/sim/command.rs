//! `command`: an external program as the simulator, in any language.
//!
//! The protocol (docs/command-simulator.md, and examples/simulators/ for a Python example):
//! ndelab runs `[interpreter] program [args...] --seed S --split SPLIT --start A --end B --out DIR`
//! for chunks of rows [A, B) of each split (train, val, test), in parallel. The program writes
//! `DIR/theta.npy` (B − A rows, one column per sampled parameter) and `DIR/data.npy` (B − A rows,
//! `data_dim` columns), float32 or float64. With `theta: ndelab` ndelab draws θ from the spec's
//! priors itself, writes `DIR/theta.npy` first and adds `--theta DIR/theta.npy`: the program
//! then writes only `DIR/data.npy`. Row i's randomness must come from (S, SPLIT, i) alone, so
//! that the data do not depend on how rows are chunked. ndelab caches the result like its own
//! simulators, keyed by the sha256 of the program file and the arguments (not its path), and
//! stops with the chunk and the end of the program's stderr when the program fails, runs past
//! `timeout_s`, or writes the wrong shape, NaN or infinities.

use super::declared::DeclaredBlocks;
use super::prior::{sample_all, to_parameters, validate_parameters, ParameterSpec};
use super::registry::SimulatorConfig;
use super::{Parameter, SimError, Simulator, StreamFamily};
use crate::config::{at_least, bad, positive};
use crate::config::{number, Violation};
use crate::sim::NoiseMode;
use crate::store::leftovers::{kill_group, ProcessGroup, Temporary};
use crate::store::npy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

/// Who draws θ from the prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThetaSource {
    /// ndelab draws θ from `parameters`' priors and passes `--theta FILE`.
    Ndelab,
    /// The program draws θ itself and writes theta.npy.
    Program,
}

/// Settings of the `command` simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandSpec {
    /// The program file (hashed into the dataset key). Relative paths are read from the spec's folder.
    pub program: PathBuf,
    /// What runs it, e.g. `python3` (not hashed; empty: the program is executable itself).
    pub interpreter: String,
    /// Arguments before ndelab's own (part of the dataset key).
    pub args: Vec<String>,
    /// The parameters, in the column order of theta.npy, each with its prior.
    pub parameters: Vec<ParameterSpec>,
    /// Values in one data row.
    #[serde(deserialize_with = "number::usize")]
    pub data_dim: usize,
    /// Equal-length series a data row is made of (for convolutional embeddings).
    #[serde(deserialize_with = "number::usize")]
    pub data_channels: usize,
    /// `ndelab` (default) or `program`: who draws θ from the prior.
    pub theta: ThetaSource,
    /// Rows per run of the program.
    #[serde(deserialize_with = "number::usize")]
    pub chunk: usize,
    /// Seconds one run may take before it is stopped.
    #[serde(deserialize_with = "number::f64")]
    pub timeout_s: f64,
}

impl Default for CommandSpec {
    fn default() -> Self {
        CommandSpec {
            program: PathBuf::new(),
            interpreter: String::new(),
            args: Vec::new(),
            parameters: Vec::new(),
            data_dim: 0,
            data_channels: 1,
            theta: ThetaSource::Ndelab,
            chunk: 10_000,
            timeout_s: 600.0,
        }
    }
}

impl CommandSpec {
    /// sha256 of the program file, hex.
    /// The program's digest (part of the dataset key): where ndelab first opens the program,
    /// so where a missing one is said (validation reads no file).
    fn program_sha256(&self) -> Result<String, SimError> {
        if !self.program.is_file() {
            return Err(SimError::File {
                path: self.program.clone(),
                message: "is not a file; dataset.command.program names the simulator program (relative paths are read from the spec's folder)".into(),
            });
        }
        let bytes =
            std::fs::read(&self.program).map_err(|e| self.failure("setup", format!("cannot read the program: {e}"), String::new()))?;
        Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
    }

    fn failure(&self, chunk: &str, message: String, stderr: String) -> SimError {
        SimError::Program { program: self.program.display().to_string(), chunk: chunk.to_string(), message, stderr }
    }
}

impl SimulatorConfig for CommandSpec {
    const KIND: &'static str = "command";
    const DEFAULT_NOISE: NoiseMode = NoiseMode::Fixed;

    fn resolve_paths(&mut self, base: &Path) -> Vec<String> {
        let mut notes = Vec::new();
        super::registry::resolve_path(&mut self.program, base, "dataset.command.program", &mut notes);
        notes
    }

    fn validate(&self) -> Result<(), Violation> {
        const K: &str = "dataset.command";
        if self.program.as_os_str().is_empty() {
            return Err(bad(&format!("{K}.program"), "is missing", Some("name the simulator program, e.g. examples/simulators/moons.py")));
        }
        validate_parameters(&format!("{K}.parameters"), &self.parameters)?;
        at_least(&format!("{K}.data_dim"), self.data_dim, 1)?;
        at_least(&format!("{K}.data_channels"), self.data_channels, 1)?;
        if self.data_dim % self.data_channels != 0 {
            return Err(bad(
                &format!("{K}.data_channels"),
                format!("{} values do not split into {} channels", self.data_dim, self.data_channels),
                None,
            ));
        }
        at_least(&format!("{K}.chunk"), self.chunk, 1)?;
        positive(&format!("{K}.timeout_s"), self.timeout_s)
    }

    fn sampled_parameters(&self) -> Vec<String> {
        self.parameters.iter().filter(|p| p.prior.is_sampled()).map(|p| p.name.clone()).collect()
    }

    fn data_shape(&self) -> (usize, usize) {
        (self.data_channels, self.data_dim / self.data_channels.max(1))
    }

    fn noise_modes(&self) -> &'static [NoiseMode] {
        &[NoiseMode::Fixed]
    }

    fn key_section(&self) -> Result<Option<serde_json::Value>, SimError> {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["program"] = serde_json::Value::String(format!("sha256:{}", self.program_sha256()?));
        // How the work is cut and how long it may take do not change the data.
        if let Some(m) = v.as_object_mut() {
            m.remove("chunk");
            m.remove("timeout_s");
        }
        Ok(Some(v))
    }

    fn build(&self) -> Result<Box<dyn Simulator>, crate::sim::SimError> {
        let params = to_parameters(&self.parameters);
        Ok(Box::new(CommandSimulator { spec: self.clone(), params }))
    }
}

/// The simulator: runs the program.
#[derive(Debug, Clone)]
pub struct CommandSimulator {
    spec: CommandSpec,
    params: Vec<Parameter>,
}

/// Bytes of a program's stderr kept to show when it fails.
const STDERR_KEPT: usize = 16 * 1024;

/// A program's stderr as text to show: invalid UTF-8 replaced, control characters (terminal
/// escape sequences among them) written as escapes so they cannot act on the user's terminal.
pub(crate) fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A scratch folder removed when dropped (or by the interruption handler).
struct Scratch(PathBuf, #[allow(dead_code)] Temporary);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl CommandSimulator {
    /// θ for rows `start..end` drawn from the priors, each row from its own stream.
    fn draw_theta(&self, seed: u64, split: &str, start: usize, end: usize) -> Vec<f32> {
        let streams = StreamFamily::new(seed, &format!("command/{split}"));
        let mut theta = vec![0.0f64; self.params.len()];
        (start..end)
            .flat_map(|i| {
                sample_all(&self.spec.parameters, &mut streams.rng(i as u64), &mut theta);
                theta.iter().map(|&v| v as f32).collect::<Vec<f32>>()
            })
            .collect()
    }

    /// Runs the program for one chunk, with the timeout; returns its stderr.
    ///
    /// The program runs in a process group of its own, so that at the timeout, and once it has
    /// exited, whatever it started is killed with it: a child left holding stderr open can
    /// neither outlive the chunk nor keep ndelab waiting.
    fn run(&self, chunk: &str, extra: &[String]) -> Result<String, SimError> {
        let s = &self.spec;
        let mut cmd = if s.interpreter.is_empty() {
            Process::new(&s.program)
        } else {
            let mut c = Process::new(&s.interpreter);
            c.arg(&s.program);
            c
        };
        cmd.args(&s.args).args(extra).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            let message = if s.interpreter.is_empty() {
                format!("cannot start it: {e}")
            } else {
                format!(
                    "cannot start its interpreter `{}`: {e}; dataset.command.interpreter must name a program on PATH (or leave it empty for an executable program)",
                    s.interpreter
                )
            };
            s.failure(chunk, message, String::new())
        })?;
        let pid = child.id();
        let stderr = drain_stderr(&mut child);
        let _group = ProcessGroup::register(pid);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed().as_secs_f64() > s.timeout_s => {
                    kill_group(pid);
                    let _ = child.kill();
                    let _ = child.wait();
                    let message = format!("still running after {} s (dataset.command.timeout_s); stopped it", s.timeout_s);
                    return Err(s.failure(chunk, message, stderr(Duration::from_secs(1))));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    kill_group(pid);
                    return Err(s.failure(chunk, format!("cannot wait for it: {e}"), String::new()));
                }
            }
        };
        // Anything it left running would hold stderr open (and keep working for nobody).
        kill_group(pid);
        let stderr = stderr(Duration::from_secs(1));
        if !status.success() {
            return Err(s.failure(chunk, format!("exited with {status}"), stderr));
        }
        Ok(stderr)
    }

    /// Reads `dir/name` as a rows × cols matrix of finite values.
    fn read(&self, chunk: &str, dir: &Path, name: &str, rows: usize, cols: usize, stderr: &str) -> Result<Vec<f32>, SimError> {
        let fail = |m: String| self.spec.failure(chunk, m, stderr.to_string());
        let m = npy::read(&dir.join(name)).map_err(|e| fail(format!("{name}: {e}")))?;
        let (got_rows, got_cols) = if cols == 1 && m.cols == 1 { (m.rows, 1) } else { (m.rows, m.cols) };
        if (got_rows, got_cols) != (rows, cols) {
            return Err(fail(format!("wrote {name} of shape ({got_rows}, {got_cols}); expected ({rows}, {cols})")));
        }
        if let Some(i) = m.values().iter().position(|v| !v.is_finite()) {
            return Err(fail(format!("wrote {} in {name} (row {}, column {})", m.values()[i], i / cols, i % cols)));
        }
        Ok(m.values().to_vec())
    }
}

impl DeclaredBlocks for CommandSimulator {
    const NAME: &'static str = "the command simulator";

    fn version(&self) -> &'static str {
        "command/1"
    }

    fn declared(&self) -> &[ParameterSpec] {
        &self.spec.parameters
    }

    fn sampled(&self) -> &[Parameter] {
        &self.params
    }

    fn data_dim(&self) -> usize {
        self.spec.data_dim
    }

    fn data_channels(&self) -> usize {
        self.spec.data_channels
    }

    fn block(&self, seed: u64, split: &str, _offset: usize, start: usize, end: usize) -> Result<(Vec<f32>, Vec<f32>), SimError> {
        let chunk = format!("{split} rows {start}..{end}");
        let (d, m, rows) = (self.params.len(), self.spec.data_dim, end - start);
        let block = || -> Result<(Vec<f32>, Vec<f32>), SimError> {
            let dir = std::env::temp_dir().join(format!("ndelab-command-{}-{split}-{start}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let registered = Temporary::register(&dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| self.spec.failure(&chunk, format!("cannot make {}: {e}", dir.display()), String::new()))?;
            let scratch = Scratch(dir, registered);
            let mut extra: Vec<String> = vec![
                "--seed".into(),
                seed.to_string(),
                "--split".into(),
                split.into(),
                "--start".into(),
                start.to_string(),
                "--end".into(),
                end.to_string(),
                "--out".into(),
                scratch.0.display().to_string(),
            ];
            let drawn = (self.spec.theta == ThetaSource::Ndelab).then(|| self.draw_theta(seed, split, start, end));
            if let Some(theta) = &drawn {
                let path = scratch.0.join("theta.npy");
                npy::write(&path, rows, d, theta)
                    .map_err(|e| self.spec.failure(&chunk, format!("cannot write {}: {e}", path.display()), String::new()))?;
                extra.extend(["--theta".into(), path.display().to_string()]);
            }
            let stderr = self.run(&chunk, &extra)?;
            let theta = match drawn {
                Some(t) => t,
                None => self.read(&chunk, &scratch.0, "theta.npy", rows, d, &stderr)?,
            };
            let data = self.read(&chunk, &scratch.0, "data.npy", rows, m, &stderr)?;
            Ok((theta, data))
        };
        block()
    }

    fn rows_per_block(&self) -> usize {
        self.spec.chunk
    }
}

/// The end of a child's stderr, read on a thread so that a chatty program cannot fill the pipe
/// and block; what it has read is there to show even when the pipe never closes. The returned
/// function waits up to its argument for the pipe to close (when every process of the group
/// is gone), then gives what was read.
fn drain_stderr(child: &mut std::process::Child) -> impl Fn(Duration) -> String {
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    if let Some(mut pipe) = child.stderr.take() {
        let sink = captured.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut v) = sink.lock() {
                    v.extend_from_slice(&buf[..n]);
                    // Only the end is ever shown.
                    if v.len() > STDERR_KEPT * 2 {
                        let cut = v.len() - STDERR_KEPT;
                        v.drain(..cut);
                    }
                }
            }
            let _ = done_tx.send(());
        });
    } else {
        let _ = done_tx.send(());
    }
    move |wait: Duration| {
        let _ = done_rx.recv_timeout(wait);
        captured.lock().map(|v| printable(&v)).unwrap_or_default()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn simulator(dir: &Path, script: &str, interpreter: &str, timeout_s: f64) -> CommandSimulator {
        let program = dir.join("sim.sh");
        std::fs::write(&program, script).unwrap();
        let spec = CommandSpec { program, interpreter: interpreter.into(), data_dim: 1, timeout_s, ..CommandSpec::default() };
        CommandSimulator { params: to_parameters(&spec.parameters), spec }
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ndelab-command-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A program that exits at once but leaves a child holding its stderr open: the chunk ends
    /// when the program does (the child killed with its group), not when the child would.
    #[test]
    fn a_child_left_holding_stderr_neither_blocks_nor_survives() {
        let dir = scratch("child");
        let pidfile = dir.join("child.pid");
        let script = format!("sleep 30 &\necho $! > {}\necho 'made the data' >&2\nexit 0\n", pidfile.display());
        let sim = simulator(&dir, &script, "sh", 600.0);
        let t = Instant::now();
        let stderr = sim.run("train rows 0..1", &[]).expect("the program succeeded");
        assert!(t.elapsed() < Duration::from_secs(5), "waited {:?} for the child", t.elapsed());
        assert!(stderr.contains("made the data"), "{stderr:?}");
        let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(child, 0) } == 0
            && !std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|s| s.contains(") Z "));
        assert!(!alive, "the program's child {child} outlived it");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The timeout holds even while a grandchild keeps the pipe open, and the stderr shown is
    /// lossy for bad UTF-8 and has its control characters escaped.
    #[test]
    fn the_timeout_holds_and_stderr_is_shown_safely() {
        let dir = scratch("timeout");
        let script = "printf 'bad byte \\377 and \\033[31mred\\033[0m\\n' >&2\n(sleep 30) &\nsleep 30\n";
        let sim = simulator(&dir, script, "sh", 0.5);
        let t = Instant::now();
        let err = sim.run("train rows 0..1", &[]).unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(5), "waited {:?}", t.elapsed());
        assert!(err.contains("still running after 0.5 s"), "{err}");
        assert!(err.contains("bad byte \u{fffd} and \\u{1b}[31mred\\u{1b}[0m"), "{err}");
        assert!(!err.contains('\u{1b}'), "a raw escape reached the message: {err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_interpreter_is_named_as_such() {
        let dir = scratch("interp");
        let sim = simulator(&dir, "exit 0\n", "no-such-interpreter-here", 5.0);
        let err = sim.run("train rows 0..1", &[]).unwrap_err().to_string();
        assert!(err.contains("cannot start its interpreter `no-such-interpreter-here`"), "{err}");
        assert!(err.contains("dataset.command.interpreter must name a program on PATH"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
