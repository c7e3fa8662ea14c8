"""Training speed of every estimator kind against PyTorch (zuko for the flows), for `make bench`.

For each row, `ndelab bench train SPEC` and `bench/train_torch.py --model M` time gradient steps
per second of the same architecture on synthetic batches of 512, at 1 and at 2 threads,
alternating the two tools, three runs each. The f32 GEMM rate of the machine (torch.mm,
MKL) is measured in the same run, and each ndelab step's floating-point operations (counted
on the PyTorch twin) give the share of that peak a training step reaches.

    bench/.venv/bin/python bench/train_table.py --bin target/release/ndelab [--runs 3] [--steps 150]

With `--device cuda` the binary is a CUDA build (`cargo build --release --features cuda`), the
twins run on the same GPU, and the GEMM peak is the GPU's f32 rate (TF32 off on both sides).

prints a Markdown table and writes bench/results.parquet (one row per measurement, with the
machine it ran on).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

CONV = "model.embedding={kind: conv1d, channels: [16, 16, 32], kernel: 7, pool: 2, dense: [256]}"
# (row label, ndelab spec, ndelab overrides, PyTorch twin or None)
ROWS = [
    ("regression", "experiments/gw_regression.yaml", [], "regression"),
    ("regression + conv1d (deep filtering)", "experiments/gw_regression_conv.yaml", [], "regression_conv"),
    ("gaussian", "experiments/gw_gaussian.yaml", [], "gaussian"),
    ("gaussian + conv1d {16,16,32; k 7}", "experiments/gw_gaussian.yaml", [CONV], "gaussian_conv"),
    ("mdn (4 components)", "experiments/gw_mdn.yaml", [], "mdn"),
    ("deep_ensemble (5 members)", "experiments/gw_deep_ensemble.yaml", [], "deep_ensemble"),
    ("cvae_2d (latent 2)", "experiments/cvae_2d.yaml", [], "cvae_2d"),
    ("cvae (latent 8)", "experiments/gw_cvae.yaml", [], "cvae"),
    ("maf (zuko)", "experiments/gw_maf.yaml", [], "maf"),
    ("nsf (zuko)", "experiments/gw_nsf.yaml", [], "nsf"),
    ("cvae_flow", "experiments/gw_cvae_flow.yaml", [], None),
]
HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


DEVICE = "cpu"


def ndelab(bin_, spec, overrides, threads, steps):
    return run_json([bin_, "--threads", str(threads), "bench", "train", spec, *overrides, "--steps", str(steps)])


def torch_peer(model, threads, steps):
    return run_json([sys.executable, os.path.join(HERE, "train_torch.py"), "--model", model, "--threads", str(threads), "--steps", str(steps),
                     "--device", DEVICE])


def gemm_peak(threads):
    return run_json([sys.executable, os.path.join(HERE, "train_torch.py"), "--model", "-", "--gemm", "--threads", str(threads),
                     "--device", DEVICE])["gemm_flops_per_s"]


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    import torch

    gpu = torch.cuda.get_device_name(0) if DEVICE == "cuda" else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "system": platform.platform(), "torch": torch.__version__, "ndelab_commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def spread(values):
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="", help="comma-separated row labels' first words to run")
    ap.add_argument("--out", default=os.path.join(HERE, "results.parquet"))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda: a CUDA build against PyTorch on the same GPU")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    threads = [int(t) for t in args.threads.split(",")]
    rows = [r for r in ROWS if not args.only or r[0].split()[0] in args.only.split(",")]
    info = machine()
    peaks = {t: max(gemm_peak(t) for _ in range(3)) for t in threads}
    records = []
    on = f"{info['gpu']} (host: {info['cpu']}, {info['cores']} cores)" if info["gpu"] else f"{info['cpu']}, {info['cores']} cores"
    print(f"training steps per second, batch 512, synthetic batches; {on}; peer {info['torch']} (zuko for maf, nsf)")
    size = "8192², TF32 off" if DEVICE == "cuda" else "1024²"
    print(f"f32 GEMM peak (torch.mm {size}, best of 3): " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {peaks[t] / 1e9:.0f} GFLOP/s" for t in threads))
    print()
    print("| model | threads | ndelab steps/s, median (min–max) | PyTorch steps/s | ndelab / PyTorch | ndelab share of GEMM peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, spec, overrides, twin in rows:
        for t in threads:
            ours, theirs, flops = [], [], None
            for _ in range(args.runs):
                ours.append(ndelab(args.bin, spec, overrides, t, args.steps)["steps_per_s"])
                if twin:
                    p = torch_peer(twin, t, args.steps)
                    theirs.append(p["steps_per_s"])
                    flops = p["flops_per_step"]
            ratio = statistics.median(ours) / statistics.median(theirs) if theirs else None
            share = flops * statistics.median(ours) / peaks[t] if flops else None
            print(f"| {label} | {t} | {spread(ours)} | {spread(theirs) if theirs else 'no peer'} | "
                  f"{f'{ratio:.2f}x' if ratio else '–'} | {f'{100 * share:.0f}%' if share else '–'} |", flush=True)
            for i, v in enumerate(ours):
                records.append({"model": label, "tool": "ndelab", "device": DEVICE, "threads": t, "run": i, "steps_per_s": v, "flops_per_step": flops, "gemm_peak": peaks[t]})
            for i, v in enumerate(theirs):
                records.append({"model": label, "tool": info["torch"], "device": DEVICE, "threads": t, "run": i, "steps_per_s": v, "flops_per_step": flops, "gemm_peak": peaks[t]})
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{**r, **info} for r in records])
    pq.write_table(table, args.out)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
