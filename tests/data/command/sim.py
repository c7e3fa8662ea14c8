#!/usr/bin/env python3
"""A test simulator for the `command` protocol: y = theta + 0.1 * row index, in a MODE that
behaves (ok) or misbehaves (fail, hang, shape, nan). Standard library only."""
import struct
import sys
import time
from pathlib import Path


def write_npy(path, rows, cols):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows) // max(cols, 1), cols)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(rows), *rows))


mode = sys.argv[1]
opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
start, end = int(opts["--start"]), int(opts["--end"])
out = Path(opts["--out"])
if mode == "fail":
    print("loading the detector model", file=sys.stderr)
    print("error: cannot open calibration.dat at row %d" % start, file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    print("waiting for a licence server", file=sys.stderr)
    sys.stderr.flush()
    time.sleep(60)
theta = [0.5 * (i % 7) - 1.0 for i in range(start, end)]
data = []
for t, i in zip(theta, range(start, end)):
    data += [t, t + 0.001 * i]
if mode == "shape":
    data = data[: 2 * (end - start) - 2]
if mode == "nan" and start == 0:
    data[3] = float("nan")
write_npy(out / "theta.npy", theta, 1)
write_npy(out / "data.npy", data, 2)
