#!/usr/bin/env python3
"""Kill ndelab at random moments and check that nothing is lost and nothing half-written is read.

Five scenarios, taken in turn until --kills kills have landed (a kill lands when the process
was still working): `ndelab run` (simulation, training with checkpoints, evaluation, Parquet and
plots), `ndelab eval` on a finished run (its staging and lock), `ndelab sweep` (two trials
one after the other), and the user-named outputs of `ndelab sample` (Parquet, with importance
sampling's weighted draws and summary beside it) and `ndelab reference` (.npy). Each kill is
SIGKILL at a moment drawn uniformly over the command's uninterrupted duration; one in three
is SIGTERM instead, after which the command must exit 143 and leave no temporary behind. An
output file must be absent or whole after every kill (byte for byte the uninterrupted one's). After every kill, `ndelab cache verify` must find every entry intact and
`ndelab table` must read only complete runs. Each scenario is then rerun until it finishes, and
its results must equal those of an uninterrupted run byte for byte: the weights
(model.safetensors) and the evaluation (eval.parquet). Timings (summary, metrics, provenance)
differ by nature and are not compared.

    python3 scripts/kill_harness.py [--bin target/release/ndelab] [--kills 120] [--seed 1]

Prints one line per scenario round and a summary; exits 1 on the first failure. Python's
standard library only.
"""
import argparse
import glob
import struct
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SPEC = """name: killed
seed: 5
dataset:
  simulator: linear_gaussian
  n_train: 10_000
  n_val: 2_000
  n_test: 400
  linear_gaussian: {{ theta_dim: 3, data_dim: 6 }}
model:
  kind: {kind}
  hidden: [64, 64]
training:
  batch_size: 256
  epochs: 6
  optimizer: {{ kind: adam, lr: 2.0e-3 }}
eval:
  metrics: [test_nll, kl_to_truth, pp, c2st]
  pp_injections: 200
  reference_injections: 2
  posterior_samples: 1000
"""

SWEEP = """name: killed_sweep
base: killed.yaml
grid:
  training.epochs: [3, 5]
seeds: [1]
"""

EVAL_OVERRIDES = ["eval.pp_injections=400", "eval.posterior_samples=1500"]


def write_npy(path, rows, cols, value):
    """A float32 .npy of rows x cols copies of `value` (numpy's format, standard library only)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % (rows * cols), *([value] * (rows * cols))))


def outputs_whole(paths, reference, what):
    """Each output is absent or byte for byte the uninterrupted one."""
    for path, ref in zip(paths, reference):
        if os.path.exists(path):
            with open(path, "rb") as f:
                if f.read() != ref:
                    sys.exit(f"FAIL: {what}: {path} is there but differs from the uninterrupted output (half-written?)")


def temporaries(folder):
    return [n for n in os.listdir(folder) if ".tmp-" in n] if os.path.isdir(folder) else []


def ndelab(binary, results, *args):
    return [binary, "--results", results, *args]


def finish(cmd, env):
    """Runs a command to the end; its exit code and stderr."""
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stderr


def timed(cmd, env):
    start = time.monotonic()
    code, err = finish(cmd, env)
    if code != 0:
        sys.exit(f"FAIL: uninterrupted `{' '.join(cmd)}` exited {code}:\n{err}")
    return time.monotonic() - start


def kill_at(cmd, env, delay, sig=signal.SIGKILL):
    """Starts a command and signals it after `delay` seconds; whether the signal landed, and
    the exit code."""
    # Its own process group, killed whole, as a scheduler kills a job: a sweep's trials with it.
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        p.wait(timeout=delay)
        return False, p.returncode, p.pid
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, sig)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sys.exit(f"FAIL: `{' '.join(cmd)}` did not stop within 60 s of signal {sig}")
        return True, p.returncode, p.pid


def check_consistent(binary, results, env):
    """After a kill: every entry verifies and only complete runs are read."""
    code, err = finish(ndelab(binary, results, "cache", "verify"), env)
    if code != 0:
        sys.exit(f"FAIL: `ndelab cache verify` after a kill exited {code}:\n{err}")
    runs = glob.glob(os.path.join(results, "runs", "*", "*", "summary.parquet"))
    if runs:
        code, err = finish(ndelab(binary, results, "table", os.path.join(results, "runs", "*", "*", "summary.parquet"), "--format", "csv"), env)
        if code != 0:
            sys.exit(f"FAIL: `ndelab table` after a kill exited {code}:\n{err}")
    for summary in runs:
        if not os.path.exists(os.path.join(os.path.dirname(summary), "DONE")):
            sys.exit(f"FAIL: {summary} is visible without DONE")


def artefacts(results, pattern):
    """{relative path: bytes} of the weights and evaluations under results."""
    out = {}
    for name in ("model.safetensors", "eval.parquet"):
        for path in glob.glob(os.path.join(results, pattern, name)):
            with open(path, "rb") as f:
                out[os.path.relpath(path, results)] = f.read()
    return out


def compare(reference, got, what):
    if sorted(reference) != sorted(got):
        sys.exit(f"FAIL: {what}: files {sorted(got)} instead of {sorted(reference)}")
    for k in reference:
        if reference[k] != got[k]:
            sys.exit(f"FAIL: {what}: {k} differs from the uninterrupted run's")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "ndelab"))
    ap.add_argument("--kills", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="run,eval,sweep,sample,reference", help="comma-separated scenarios to take in turn")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="ndelab-kill-")
    env = dict(os.environ, NDELAB_CHECKPOINT_SECONDS="0.2")
    env.pop("NDELAB_RESULTS", None)
    try:
        run_spec = os.path.join(work, "killed.yaml")
        with open(run_spec, "w") as f:
            f.write(SPEC.format(kind="maf"))
        sweep = os.path.join(work, "killed_sweep.yaml")
        with open(sweep, "w") as f:
            f.write(SWEEP)

        # Uninterrupted references and their durations.
        clean = os.path.join(work, "clean")
        t_run = timed(ndelab(args.bin, clean, "run", run_spec), env)
        run_dir = glob.glob(os.path.join(clean, "runs", "killed", "*"))[0]
        ref_run = artefacts(clean, "runs/killed/*")
        t_eval = timed(ndelab(args.bin, clean, "eval", run_dir, *EVAL_OVERRIDES), env)
        ref_eval = artefacts(clean, "runs/killed/*")
        clean_sweep = os.path.join(work, "clean_sweep")
        t_sweep = timed(ndelab(args.bin, clean_sweep, "sweep", sweep, "--jobs", "1"), env)
        ref_sweep = artefacts(clean_sweep, "runs/killed/*")
        if len(ref_sweep) != 4 or len(ref_run) != 2 or len(ref_eval) != 2:
            sys.exit(f"FAIL: the uninterrupted results lack files: {sorted(ref_run)}, {sorted(ref_sweep)}")
        # Outputs the user names: posterior draws for 40 observations, importance-sampled, and
        # the exact reference posterior of the same observations.
        obs = os.path.join(work, "obs.npy")
        write_npy(obs, 40, 6, 0.25)

        def sample_cmd(folder):
            out = os.path.join(folder, "post.parquet")
            cmd = ndelab(args.bin, clean, "sample", run_dir, "--data", obs, "--n", "20000", "--importance", "20000", "--out", out)
            return cmd, [out, os.path.join(folder, "post.weighted.parquet"), os.path.join(folder, "post.importance.json")]

        def reference_cmd(folder):
            out = os.path.join(folder, "ref.npy")
            return ndelab(args.bin, clean, "reference", run_spec, "--data", obs, "--n", "200000", "--out", out), [out]

        outputs = {}
        for kind, make in (("sample", sample_cmd), ("reference", reference_cmd)):
            folder = os.path.join(work, f"clean_{kind}")
            os.makedirs(folder)
            cmd, paths = make(folder)
            duration = timed(cmd, env)
            # The importance summary holds timings; only the draws are compared.
            compared = [p for p in paths if p.endswith((".parquet", ".npy"))]
            refs = []
            for path in compared:
                with open(path, "rb") as f:
                    refs.append(f.read())
            outputs[kind] = (make, duration, refs)
        print(f"uninterrupted: run {t_run:.1f} s, eval {t_eval:.1f} s, sweep {t_sweep:.1f} s, "
              f"sample {outputs['sample'][1]:.1f} s, reference {outputs['reference'][1]:.1f} s")

        landed, rounds, failures = {"run": 0, "eval": 0, "sweep": 0, "sample": 0, "reference": 0}, 0, 0
        scenario = 0
        while sum(landed.values()) < args.kills:
            kinds = args.only.split(",")
            kind = kinds[scenario % len(kinds)]
            scenario += 1
            results = os.path.join(work, f"r{scenario}")
            if kind in ("sample", "reference"):
                make, duration, refs = outputs[kind]
                os.makedirs(results)
                cmd, paths = make(results)
                compared = [p for p in paths if p.endswith((".parquet", ".npy"))]
                kills = 0
                for _ in range(rng.randint(2, 6)):
                    sig = signal.SIGTERM if rng.random() < 1 / 3 else signal.SIGKILL
                    hit, code, pid = kill_at(cmd, env, rng.uniform(0.0, duration), sig)
                    if hit:
                        kills += 1
                        # A SIGKILLed process leaves its temporary (`cache gc` removes it); one
                        # stopped by SIGTERM removes its own.
                        own = [t for t in temporaries(results) if t.endswith(f".tmp-{pid}")]
                        # -15: the signal came before the handler existed (nothing written yet).
                        if sig == signal.SIGTERM and code not in (143, 0, -15):
                            sys.exit(f"FAIL: {kind} exited {code} after SIGTERM, not 143")
                        if sig == signal.SIGTERM and own:
                            sys.exit(f"FAIL: {kind} left {own} after SIGTERM")
                    outputs_whole(compared, refs, f"{kind} round {scenario}")
                code, err = finish(cmd, env)
                if code != 0:
                    sys.exit(f"FAIL: `{' '.join(cmd)}` after {kills} kills exited {code}:\n{err}")
                for path, ref in zip(compared, refs):
                    with open(path, "rb") as f:
                        if f.read() != ref:
                            sys.exit(f"FAIL: {kind} round {scenario}: {path} differs from the uninterrupted output")
                landed[kind] += kills
                rounds += 1
                print(f"round {rounds:>3} {kind:<9} {kills} kills: every output absent or whole, then identical", flush=True)
                shutil.rmtree(results, ignore_errors=True)
                continue
            if kind == "eval":
                # A finished run to evaluate: the same run, uninterrupted.
                finish(ndelab(args.bin, results, "run", run_spec), env)
                target = glob.glob(os.path.join(results, "runs", "killed", "*"))[0]
                cmd, duration = ndelab(args.bin, results, "eval", target, *EVAL_OVERRIDES), t_eval
            elif kind == "run":
                cmd, duration = ndelab(args.bin, results, "run", run_spec), t_run
            else:
                cmd, duration = ndelab(args.bin, results, "sweep", sweep, "--jobs", "1"), t_sweep
            kills = 0
            # Several kills per round, each followed by a consistency check, then a finish.
            for _ in range(rng.randint(2, 6)):
                if kill_at(cmd, env, rng.uniform(0.0, duration))[0]:
                    kills += 1
                    check_consistent(args.bin, results, env)
            code, err = finish(cmd, env)
            if code != 0:
                sys.exit(f"FAIL: `{' '.join(cmd)}` after {kills} kills exited {code}:\n{err}")
            check_consistent(args.bin, results, env)
            if kind == "sweep":
                compare(ref_sweep, artefacts(results, "runs/killed/*"), f"sweep round {scenario}")
            else:
                reference = ref_eval if kind == "eval" else ref_run
                compare(reference, artefacts(results, "runs/killed/*"), f"{kind} round {scenario}")
            landed[kind] += kills
            rounds += 1
            print(f"round {rounds:>3} {kind:<9} {kills} kills: identical to the uninterrupted results", flush=True)
            shutil.rmtree(results, ignore_errors=True)
        total = sum(landed.values())
        print(f"{total} kills survived ({landed['run']} in run, {landed['eval']} in eval, {landed['sweep']} in sweep, "
              f"{landed['sample']} in sample, {landed['reference']} in reference) "
              f"over {rounds} rounds: every result identical to an uninterrupted run's, no corrupt entry, nothing half-written read")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
