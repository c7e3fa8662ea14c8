#!/usr/bin/env python3
"""bilby's aligned-spin BBH prior as a whole (its prior file, the mass_1/mass_2 constraint
applied by bilby's rejection), for tests/gw_network.rs: the empirical distribution function of
10^6 bilby draws of each parameter at 201 points of its range.

    bench/.venv/bin/python bench/gw_network_prior.py tests/data
"""
import csv
import sys
from pathlib import Path

import numpy as np
import bilby

bilby.core.utils.logger.setLevel("ERROR")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
prior = bilby.gw.prior.BBHPriorDict(str(Path(bilby.gw.prior.__file__).parent / "prior_files" / "aligned_spins_bbh.prior"))
bilby.core.utils.random.seed(5)
n = 1_000_000
draws = prior.sample(n)
names = ["chirp_mass", "mass_ratio", "chi_1", "chi_2", "luminosity_distance", "dec", "ra", "theta_jn", "psi", "phase"]
with open(out / "bilby_bbh_prior_cdf.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["parameter", "x", "empirical_cdf", "draws"])
    for name in names:
        v = np.sort(np.asarray(draws[name]))
        for x in np.linspace(v[0], v[-1], 203)[1:-1]:
            w.writerow([name, repr(float(x)), repr(float(np.searchsorted(v, x, side="right") / n)), n])
print(f"bilby {bilby.__version__}: {n} draws of {len(names)} parameters")
