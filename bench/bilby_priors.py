#!/usr/bin/env python3
"""Reference values of bilby's prior families and astropy's Planck15, for tests/priors.rs.

Writes tests/data/bilby_prior_cdf.csv (family, settings, x, bilby's cdf(x), bilby's
ln_prob(x)) and tests/data/planck15_distances.csv (z, astropy's luminosity distance in Mpc
and differential comoving volume in Mpc³/sr). Run with bench/.venv/bin/python (bilby and
astropy installed; bench/run.sh makes the venv):

    bench/.venv/bin/python bench/bilby_priors.py tests/data
"""
import csv
import sys
from pathlib import Path

import numpy as np
import bilby
from astropy.cosmology import Planck15

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
P = bilby.core.prior
G = bilby.gw.prior
families = [
    ("sine", "min=0 max=pi", P.Sine(minimum=0, maximum=np.pi), 0.0, np.pi),
    ("sine", "min=0.3 max=2.5", P.Sine(minimum=0.3, maximum=2.5), 0.3, 2.5),
    ("cosine", "min=-pi/2 max=pi/2", P.Cosine(minimum=-np.pi / 2, maximum=np.pi / 2), -np.pi / 2, np.pi / 2),
    ("power_law", "alpha=2 min=10 max=1000", P.PowerLaw(alpha=2, minimum=10, maximum=1000), 10, 1000),
    ("power_law", "alpha=-1 min=1 max=100", P.PowerLaw(alpha=-1, minimum=1, maximum=100), 1, 100),
    ("power_law", "alpha=-2.35 min=5 max=80", P.PowerLaw(alpha=-2.35, minimum=5, maximum=80), 5, 80),
    ("aligned_spin", "a_max=1", G.AlignedSpin(), -1, 1),
    ("aligned_spin", "a_max=0.8", G.AlignedSpin(a_prior=P.Uniform(0, 0.8)), -0.8, 0.8),
    ("uniform_in_components_chirp_mass", "min=25 max=100", G.UniformInComponentsChirpMass(minimum=25, maximum=100), 25, 100),
    ("uniform_in_components_mass_ratio", "min=0.125 max=1", G.UniformInComponentsMassRatio(minimum=0.125, maximum=1), 0.125, 1),
    ("uniform_comoving_volume", "min=100 max=5000", G.UniformComovingVolume(minimum=100, maximum=5000, name="luminosity_distance"), 100, 5000),
    ("uniform_source_frame", "min=100 max=5000", G.UniformSourceFrame(minimum=100, maximum=5000, name="luminosity_distance"), 100, 5000),
    ("uniform_source_frame", "min=1000 max=3000", G.UniformSourceFrame(minimum=1000, maximum=3000, name="luminosity_distance"), 1000, 3000),
]
with open(out / "bilby_prior_cdf.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["family", "settings", "x", "cdf", "ln_prob"])
    for name, settings, prior, lo, hi in families:
        for x in np.linspace(lo, hi, 203)[1:-1]:
            w.writerow([name, settings, repr(float(x)), repr(float(prior.cdf(x))), repr(float(prior.ln_prob(x)))])
with open(out / "planck15_distances.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["z", "luminosity_distance_mpc", "differential_comoving_volume_mpc3_sr"])
    for z in [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]:
        w.writerow([z, repr(float(Planck15.luminosity_distance(z).value)), repr(float(Planck15.differential_comoving_volume(z).value))])

# The share of bilby's default chirp_mass and mass_ratio priors inside its mass_1, mass_2
# Constraint(5, 100) (what normalises the constrained prior; tests/gw_network.rs): at each chirp
# mass the constraint keeps one interval of q (m1 falls, m2 rises with q).
from scipy import integrate, optimize
mc_prior = G.UniformInComponentsChirpMass(minimum=25, maximum=100)
q_prior = G.UniformInComponentsMassRatio(minimum=0.125, maximum=1)


def first_true(f, lo=0.125, hi=1.0):
    """The first q where the increasing f(q) >= 0, clipped to [lo, hi]."""
    if f(lo) >= 0:
        return lo
    if f(hi) < 0:
        return hi
    return optimize.brentq(f, lo, hi, xtol=1e-14)


def kept(mc):
    m1 = lambda q: mc * (1 + q) ** 0.2 / q ** 0.6
    start = max(first_true(lambda q: 100 - m1(q)), first_true(lambda q: q * m1(q) - 5))
    end = min(first_true(lambda q: q * m1(q) - 100), first_true(lambda q: 5 - m1(q)))
    return max(0.0, float(q_prior.cdf(end) - q_prior.cdf(start)))


share, _ = integrate.quad(lambda mc: mc_prior.prob(mc) * kept(mc), 25, 100, limit=500, epsabs=1e-12, epsrel=1e-12)
print(f"share of the default mass priors inside Constraint(5, 100): {share!r}")
print(f"bilby {bilby.__version__}; wrote {out}/bilby_prior_cdf.csv and {out}/planck15_distances.csv")
