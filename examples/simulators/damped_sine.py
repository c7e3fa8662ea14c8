#!/usr/bin/env python3
"""A simulator for ndelab's `command` protocol: a damped sinusoid in white noise.

    y(t) = A exp(-t / tau) sin(2 pi f t) + n(t),  n ~ N(0, 0.1^2),  t = 0, 1/64, ..., 63/64 s

Parameters (in theta.npy column order): f [Hz] and tau [s]; the amplitude A = 1. Run by ndelab as

    python3 damped_sine.py --seed S --split SPLIT --start A --end B --out DIR [--theta FILE]

With --theta, ndelab has drawn the parameters (rows A..B of the split) and the program writes
only DIR/data.npy; without it, the program draws them from its own prior (f ~ U[2, 10],
tau ~ U[0.1, 1]) and writes DIR/theta.npy too. Row i's randomness comes from (S, SPLIT, i)
alone, so the output does not depend on how ndelab chunks the rows. Standard library only.
"""
import argparse
import math
import random
import struct
import zlib
from pathlib import Path

N = 64
NOISE = 0.1


def write_npy(path, rows):
    """Writes a 2-D float32 array (a list of equal-length lists) as .npy."""
    cols = len(rows[0]) if rows else 0
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for row in rows:
            f.write(struct.pack("<%df" % cols, *row))


def read_npy(path):
    """Reads a 2-D float32 or float64 .npy written by ndelab."""
    data = Path(path).read_bytes()
    hlen = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + hlen].decode("latin1")
    shape = eval(header)["shape"]  # the header is a Python literal
    fmt = "f" if "<f4" in header else "d"
    rows, cols = shape if len(shape) == 2 else (shape[0], 1)
    values = struct.unpack("<%d%s" % (rows * cols, fmt), data[10 + hlen:])
    return [list(values[r * cols:(r + 1) * cols]) for r in range(rows)]


def main():
    ap = argparse.ArgumentParser()
    for name in ("--seed", "--start", "--end"):
        ap.add_argument(name, type=int, required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--theta")
    a = ap.parse_args()
    theta = read_npy(a.theta) if a.theta else None
    drawn, data = [], []
    for k, i in enumerate(range(a.start, a.end)):
        rng = random.Random(zlib.crc32(("%d/%s/%d" % (a.seed, a.split, i)).encode()))
        if theta is None:
            f, tau = rng.uniform(2.0, 10.0), rng.uniform(0.1, 1.0)
            drawn.append([f, tau])
        else:
            f, tau = theta[k]
        data.append([math.exp(-(t / N) / tau) * math.sin(2 * math.pi * f * t / N) + rng.gauss(0.0, NOISE) for t in range(N)])
    if theta is None:
        write_npy(Path(a.out) / "theta.npy", drawn)
    write_npy(Path(a.out) / "data.npy", data)


if __name__ == "__main__":
    main()
