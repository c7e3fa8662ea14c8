"""Training from files far larger than memory, for `make bench` (`bench/run.sh large`).

Writes θ (rows × 4) and y (rows × 256) as float32 .npy files — by default 10^7 rows, a 10.2 GB
data file — from a known linear model (θ ~ U(-1, 1)^4, y = A θ + 0.1 ε), then runs
`ndelab run` on them (`dataset.simulator: files`, a full-covariance Gaussian estimator, one
epoch) inside a memory cgroup whose limit is well below the file's size, so that the page cache
cannot hold the data either. It samples the process's resident anonymous memory (what was
allocated, not file pages mapped in) every 0.2 s and prints one Markdown table:

    bench/.venv/bin/python bench/large_files.py --bin target/release/ndelab [--rows 10_000_000]
        [--memory-limit-gb 4] [--dir /path/with/25GB/free]

The disk needs room for the files and the dataset cache's copy of their rows (about 21 GB at
10^7 rows). Without a writable cgroup (v1 or v2, which needs root) it runs unlimited and says so.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

THETA_DIM, DATA_DIM = 4, 256


def write_files(folder, rows, chunk=250_000):
    """θ and y as .npy, written in chunks through a memory map (never whole in memory)."""
    rng = np.random.default_rng(20261130)
    a = rng.normal(0.0, 1.0 / np.sqrt(THETA_DIM), size=(THETA_DIM, DATA_DIM)).astype(np.float32)
    theta = np.lib.format.open_memmap(os.path.join(folder, "theta.npy"), "w+", np.float32, (rows, THETA_DIM))
    data = np.lib.format.open_memmap(os.path.join(folder, "data.npy"), "w+", np.float32, (rows, DATA_DIM))
    for start in range(0, rows, chunk):
        end = min(rows, start + chunk)
        t = rng.uniform(-1.0, 1.0, size=(end - start, THETA_DIM)).astype(np.float32)
        theta[start:end] = t
        data[start:end] = t @ a + 0.1 * rng.standard_normal((end - start, DATA_DIM), dtype=np.float32)
    theta.flush()
    data.flush()
    del theta, data


def spec_text(folder, rows):
    n_val = n_test = min(100_000, rows // 20)
    n_train = rows - n_val - n_test
    priors = "\n".join(f"      - {{ name: t{i}, prior: {{ kind: uniform, min: -1, max: 1 }} }}" for i in range(THETA_DIM))
    return f"""name: large_files
seed: 1
dataset:
  simulator: files
  n_train: {n_train}
  n_val: {n_val}
  n_test: {n_test}
  files:
    theta: {{ path: {folder}/theta.npy }}
    data: {{ path: {folder}/data.npy }}
    data_dim: {DATA_DIM}
    parameters:
{priors}
model:
  kind: gaussian
  hidden: [256, 256]
loss: nll
training:
  batch_size: 512
  epochs: 1
  optimizer: {{ kind: adam, lr: 1.0e-3 }}
  shuffle: blocks         # the split is read a block of 8192 rows at a time
eval:
  metrics: [test_nll]
"""


def memory_cgroup(limit_bytes):
    """A fresh memory cgroup limited to `limit_bytes`: (path of its procs file, cleanup), or None."""
    name = f"ndelab-bench-{os.getpid()}"
    for base, limit_file in (("/sys/fs/cgroup/memory", "memory.limit_in_bytes"), ("/sys/fs/cgroup", "memory.max")):
        path = os.path.join(base, name)
        try:
            os.mkdir(path)
            with open(os.path.join(path, limit_file), "w") as f:
                f.write(str(limit_bytes))
            return os.path.join(path, "cgroup.procs"), lambda p=path: os.rmdir(p)
        except OSError:
            try:
                os.rmdir(path)
            except OSError:
                pass
    return None


def rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/ndelab")
    ap.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--memory-limit-gb", type=float, default=4.0)
    ap.add_argument("--dir", default=None, help="where the files and results go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the files and results")
    args = ap.parse_args()
    folder = args.dir or tempfile.mkdtemp(prefix="ndelab-large-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    os.makedirs(folder, exist_ok=True)
    need = args.rows * (THETA_DIM + DATA_DIM) * 4 * (1.1 if args.dir and os.path.exists(os.path.join(folder, "data.npy")) else 2.1)
    free = shutil.disk_usage(folder).free
    if free < need:
        sys.exit(f"error: {folder} has {free / 1e9:.1f} GB free; {args.rows} rows need about {need / 1e9:.1f} GB; choose --dir or fewer --rows")
    t0 = time.time()
    sizes = [(os.path.join(folder, f), args.rows * c * 4 + 128) for f, c in (("theta.npy", THETA_DIM), ("data.npy", DATA_DIM))]
    if all(os.path.exists(p) and os.path.getsize(p) == size for p, size in sizes):
        write_s = None  # files of this size from an earlier run in --dir
    else:
        write_files(folder, args.rows)
        write_s = time.time() - t0
    data_gb = os.path.getsize(os.path.join(folder, "data.npy")) / 1e9
    spec = os.path.join(folder, "large_files.yaml")
    with open(spec, "w") as f:
        f.write(spec_text(folder, args.rows))
    # Cold start: the files just written are dropped from the page cache where the kernel allows.
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
    except OSError:
        pass
    group = memory_cgroup(int(args.memory_limit_gb * 2**30))
    enter = (lambda: open(group[0], "w").write(str(os.getpid()))) if group else None
    results = os.path.join(folder, "results")
    shutil.rmtree(results, ignore_errors=True)
    t0 = time.time()
    proc = subprocess.Popen([args.bin, "--results", results, "run", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=enter)
    peak = [0]
    log = []

    def watch():
        while proc.poll() is None:
            peak[0] = max(peak[0], rss_anon_kb(proc.pid))
            time.sleep(0.2)

    def drain():
        for line in proc.stderr:
            log.append((time.time() - t0, line.rstrip()))

    threads = [threading.Thread(target=watch), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    out = proc.stdout.read()
    proc.wait()
    for t in threads:
        t.join()
    wall = time.time() - t0
    if group:
        group[1]()
    if proc.returncode != 0:
        sys.exit("error: ndelab run failed:\n" + "\n".join(line for _, line in log[-20:]))
    run_dir = out.strip().splitlines()[-1]
    import pyarrow.parquet as pq

    summary = pq.read_table(os.path.join(run_dir, "summary.parquet")).to_pylist()[0]
    build = {}
    for entry in os.listdir(os.path.join(results, "cache", "datasets")):
        p = os.path.join(results, "cache", "datasets", entry, "build.json")
        if os.path.exists(p):
            build = json.load(open(p))
    steps = summary["n_train"] // 512
    limit = f"{args.memory_limit_gb:g} GiB (cgroup)" if group else "none (no writable cgroup)"
    print(f"| rows | data file | memory limit | write files | dataset cache | training (1 epoch) | steps/s | eval | peak anonymous memory | test NLL |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.rows:,} × {DATA_DIM} | {data_gb:.1f} GB | {limit} | {'reused' if write_s is None else f'{write_s:.0f} s'} | {summary['simulate_s']:.0f} s "
        f"| {summary['train_s']:.0f} s | {steps / summary['train_s']:.0f} | {summary['eval_s']:.0f} s | {peak[0] / 2**20:.2f} GiB "
        f"| {summary['test_nll']:.3f} |"
    )
    print(f"\nwall {wall:.0f} s; dataset build {json.dumps(build)}; last lines:")
    for when, line in log[-4:]:
        print(f"  {when:7.1f} s  {line}")
    if not args.keep and not args.dir:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
