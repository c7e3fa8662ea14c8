#!/usr/bin/env python3
"""Reference polarisations from LALSimulation (the lalsuite wheel) for tests/waveforms.rs:
IMRPhenomXAS with aligned spins and IMRPhenomXPHM with precessing spins and higher modes, at
20 parameter points each spread over a BBH prior, on f = 0, 4, ..., 512 Hz
from f_min = 20 Hz. XPHM is called with multibanding off (PhenomXHMThresholdMband =
PhenomXPHMThresholdMband = 0), which waveformrs does not implement, and LAL's default
precession version.

    bench/.venv/bin/python bench/lal_waveforms.py tests/data

Writes tests/data/lal_waveforms.csv: one row per (approximant, point, frequency bin) with the
point's parameters in tests/data/lal_waveform_points.csv; and tests/data/lal_precessing_spins.csv:
SimInspiralTransformPrecessingNewInitialConditions at 100 points (bilby's spin angles in, the
inclination and Cartesian spins out).
"""
import csv
import sys
from pathlib import Path

import numpy as np
import lal
import lalsimulation as ls

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
rng = np.random.default_rng(2026)
df, f_min, f_max, f_ref = 4.0, 20.0, 512.0, 20.0


def points(precessing):
    pts = []
    for _ in range(20):
        mc = rng.uniform(15, 60)
        q = rng.uniform(0.25, 1.0)
        m1 = mc * (1 + q) ** 0.2 / q ** 0.6
        m2 = q * m1
        if precessing:
            s1 = rng.uniform(0, 0.99) * _unit()
            s2 = rng.uniform(0, 0.99) * _unit()
        else:
            s1 = np.array([0, 0, rng.uniform(-0.99, 0.99)])
            s2 = np.array([0, 0, rng.uniform(-0.99, 0.99)])
        pts.append(dict(m1=m1, m2=m2, s1=s1, s2=s2, d=rng.uniform(200, 3000), iota=np.arccos(rng.uniform(-1, 1)), phase=rng.uniform(0, 2 * np.pi)))
    return pts


def _unit():
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


rows, meta = [], []
for approx, precessing in [("IMRPhenomXAS", False), ("IMRPhenomXPHM", True)]:
    for i, p in enumerate(points(precessing)):
        params = lal.CreateDict()
        if approx == "IMRPhenomXPHM":
            ls.SimInspiralWaveformParamsInsertPhenomXHMThresholdMband(params, 0)
            ls.SimInspiralWaveformParamsInsertPhenomXPHMThresholdMband(params, 0)
        hp, hc = ls.SimInspiralChooseFDWaveform(
            p["m1"] * lal.MSUN_SI, p["m2"] * lal.MSUN_SI, *p["s1"], *p["s2"], p["d"] * 1e6 * lal.PC_SI, p["iota"], p["phase"],
            0.0, 0.0, 0.0, df, f_min, f_max, f_ref, params, ls.GetApproximantFromString(approx))
        meta.append([approx, i, p["m1"], p["m2"], *p["s1"], *p["s2"], p["d"], p["iota"], p["phase"]])
        n = int(f_max / df) + 1
        for k in range(int(f_min / df), min(n, hp.data.length)):
            rows.append([approx, i, k, hp.data.data[k].real, hp.data.data[k].imag, hc.data.data[k].real, hc.data.data[k].imag])
with open(out / "lal_waveform_points.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["approximant", "point", "m1", "m2", "s1x", "s1y", "s1z", "s2x", "s2y", "s2z", "d_l", "iota", "phase"])
    w.writerows([[a, i] + [repr(float(v)) for v in rest] for a, i, *rest in meta])
with open(out / "lal_waveforms.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["approximant", "point", "bin", "hp_re", "hp_im", "hc_re", "hc_im"])
    w.writerows([[a, i, k] + ["%.10e" % v for v in rest] for a, i, k, *rest in rows])
with open(out / "lal_precessing_spins.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["theta_jn", "phi_jl", "tilt_1", "tilt_2", "phi_12", "a_1", "a_2", "m1", "m2", "f_ref", "phase",
                "iota", "s1x", "s1y", "s1z", "s2x", "s2y", "s2z"])
    for _ in range(100):
        inp = [np.arccos(rng.uniform(-1, 1)), rng.uniform(0, 2 * np.pi), np.arccos(rng.uniform(-1, 1)), np.arccos(rng.uniform(-1, 1)),
               rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.99), rng.uniform(0, 0.99), rng.uniform(10, 80), rng.uniform(5, 60),
               rng.choice([20.0, 50.0]), rng.uniform(0, 2 * np.pi)]
        m1, m2 = max(inp[7], inp[8]), min(inp[7], inp[8])
        inp[7], inp[8] = m1, m2
        res = ls.SimInspiralTransformPrecessingNewInitialConditions(*inp[:7], m1 * lal.MSUN_SI, m2 * lal.MSUN_SI, inp[9], inp[10])
        w.writerow([repr(float(v)) for v in inp] + [repr(float(v)) for v in res])
print(f"lalsimulation {ls.__version__}: {len(meta)} points, {len(rows)} bins, 100 spin transformations")
