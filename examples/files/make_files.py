#!/usr/bin/env python3
"""Writes the training files of experiments/files_example.yaml: what a simulation campaign of
your own would leave behind, for ndelab's `files` simulator to train on.

    y(t) = exp(-(t - t0)^2 / (2 w^2)) sin(2 pi f (t - t0)) + n(t),  w = 0.1 s,  n ~ N(0, 0.2^2),
    t = 0, 1/64, ..., 63/64 s

theta.npy holds one row (f [Hz], t0 [s]) per sample, f ~ U[4, 12] and t0 ~ U[0.3, 0.7] (the
priors the spec declares); data.npy the 64 noisy values. Standard library only:

    python3 examples/files/make_files.py examples/files/data [--rows 22500] [--seed 1]

The same seed gives the same bytes; the files are rewritten only when missing or different in
size, so that `make experiment NAME=files_example` reuses its cached dataset.
"""
import argparse
import math
import random
import struct
from pathlib import Path

N = 64
WIDTH = 0.1
NOISE = 0.2


def npy_bytes(rows):
    """A 2-D float32 array (a list of equal-length lists) as .npy bytes."""
    cols = len(rows[0]) if rows else 0
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    body = b"".join(struct.pack("<%df" % cols, *row) for row in rows)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + body


def write_if_changed(path, data):
    """Writes `data` to `path` through a temporary beside it, unless it already holds them."""
    if path.exists() and path.read_bytes() == data:
        return False
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="folder for theta.npy and data.npy")
    ap.add_argument("--rows", type=int, default=22_500, help="samples (n_train + n_val + n_test)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    theta, data = [], []
    for _ in range(a.rows):
        f, t0 = rng.uniform(4.0, 12.0), rng.uniform(0.3, 0.7)
        theta.append([f, t0])
        data.append([
            math.exp(-((t / N - t0) ** 2) / (2 * WIDTH**2)) * math.sin(2 * math.pi * f * (t / N - t0)) + rng.gauss(0.0, NOISE)
            for t in range(N)
        ])
    a.out.mkdir(parents=True, exist_ok=True)
    wrote = [name for name, rows in (("theta.npy", theta), ("data.npy", data)) if write_if_changed(a.out / name, npy_bytes(rows))]
    print("%s: %s" % (a.out, ("wrote " + ", ".join(wrote)) if wrote else "up to date"))


if __name__ == "__main__":
    main()
