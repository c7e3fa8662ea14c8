#!/usr/bin/env python3
"""Can any member of a family of densities pass the P-P test on a spec's test injections?

Fits, to each injection's posterior draws from a trained run that passes the test (a flow),
the closest member of a family, and ranks the injection's true parameters under draws of
that member (kept inside the prior's support, as `ndelab` keeps every estimator's draws).
The result bounds what an estimator of that family can reach however well it is trained:
a deep ensemble of Gaussian regressions, say, on the GW benchmark's masses.

Families: `gaussian` (the moments, which is what maximum likelihood over the training set
converges to), `truncated` (the Gaussian renormalised to the prior's support, by maximum
likelihood with a Monte Carlo normaliser), `mixture-K` (K full-covariance Gaussians, EM).

    bench/.venv/bin/python bench/gaussian_family_pp.py --bin target/release/ndelab \
        --run results/runs/gw_nsf_1m/e34cf10b5dca0b0f --spec experiments/gw_nsf_1m.yaml \
        --families gaussian,truncated,mixture-4,mixture-8
    # needs numpy and scipy; scikit-learn for mixture-K
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
from scipy import optimize, stats


def ks_and_fisher(ranks):
    ks = [stats.kstest(ranks[:, j], "uniform").pvalue for j in range(ranks.shape[1])]
    fisher = stats.combine_pvalues(ks, method="fisher").pvalue
    return ks, fisher


class Support:
    """The prior's box and its order constraints (first >= second)."""

    def __init__(self, names, bounds, orders):
        self.lo = np.array([bounds[n][0] for n in names])
        self.hi = np.array([bounds[n][1] for n in names])
        self.orders = [(names.index(a), names.index(b)) for a, b in orders]

    def inside(self, x):
        ok = np.all((x >= self.lo) & (x <= self.hi), axis=1)
        for a, b in self.orders:
            ok &= x[:, a] >= x[:, b]
        return ok


def fit_gaussian(draws, _support, _rng):
    return draws.mean(0), np.linalg.cholesky(np.cov(draws.T)), None


def fit_truncated(draws, support, rng, n_mc=4000, sharpness=50.0):
    """Maximum likelihood of the Gaussian renormalised to the support; the normaliser is a Monte
    Carlo mean of a smooth indicator over fixed standard-normal points."""
    shift, scale = draws.mean(0), draws.std(0)
    x = (draws - shift) / scale
    lo, hi = (support.lo - shift) / scale, (support.hi - shift) / scale
    dim = x.shape[1]
    tril = np.tril_indices(dim)
    z = rng.standard_normal((n_mc, dim))

    def unpack(p):
        mu, lower = p[:dim], np.zeros((dim, dim))
        lower[tril] = p[dim:]
        lower[np.diag_indices(dim)] = np.exp(lower[np.diag_indices(dim)])
        return mu, lower

    def margins(y):
        cols = [y - lo, hi - y]
        for a, b in support.orders:
            cols.append(((y[:, a] * scale[a] + shift[a]) - (y[:, b] * scale[b] + shift[b]))[:, None] / scale[[a, b]].mean())
        return np.concatenate(cols, axis=1)

    def nll(p):
        mu, lower = unpack(p)
        w = np.linalg.solve(lower, (x - mu).T)
        log_n = -0.5 * (w**2).sum(0).mean() - np.log(np.diag(lower)).sum()
        inside = np.exp(-np.logaddexp(0, -sharpness * margins(mu + z @ lower.T)).sum(1)).mean()
        return -(log_n - np.log(inside + 1e-300))

    l0 = np.linalg.cholesky(np.cov(x.T))
    p0 = np.concatenate([x.mean(0), np.where(np.eye(dim, dtype=bool), np.log(np.abs(l0) + 1e-12), l0)[tril]])
    mu, lower = unpack(optimize.minimize(nll, p0, method="L-BFGS-B", options={"maxiter": 300}).x)
    return shift + scale * mu, scale[:, None] * lower, None


def fit_mixture(k):
    from sklearn.mixture import GaussianMixture

    def fit(draws, _support, _rng):
        shift, scale = draws.mean(0), draws.std(0)
        gm = GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-6).fit((draws - shift) / scale)
        return shift, scale, gm

    return fit


def draw(fitted, n, rng):
    a, b, gm = fitted
    if gm is None:
        return a + rng.standard_normal((n, len(a))) @ b.T
    # sklearn returns the draws grouped by component: shuffle before any are cut off.
    return a + b * rng.permutation(gm.sample(n)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/ndelab")
    ap.add_argument("--run", required=True, help="a trained run whose posteriors pass the P-P test")
    ap.add_argument("--spec", required=True, help="its spec (for the test injections)")
    ap.add_argument("--families", default="gaussian,truncated")
    ap.add_argument("--draws", type=int, default=4000, help="posterior draws per injection")
    ap.add_argument("--injections", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.bin, "export-injections", "--out", tmp, args.spec], check=True, stdout=subprocess.DEVNULL)
        meta = json.load(open(os.path.join(tmp, "injections.json")))
        theta = np.load(os.path.join(tmp, "theta.npy"))[: args.injections]
        data = np.load(os.path.join(tmp, "data.npy"))[: args.injections]
        np.save(os.path.join(tmp, "obs.npy"), data)
        out = os.path.join(tmp, "draws.npy")
        subprocess.run([args.bin, "sample", args.run, "--data", os.path.join(tmp, "obs.npy"), "--n", str(args.draws), "--out", out], check=True)
        draws = np.load(out).astype(float).reshape(len(theta), args.draws, -1)
    settings = meta["settings"]
    names = settings["infer"]
    priors = settings[settings["simulator"]]["priors"]
    bounds = {n: (priors[n]["min"], priors[n]["max"]) for n in names}
    # gw_bbh's prior orders the masses (m1 >= m2), as the run's model card says.
    orders = [("m1", "m2")] if {"m1", "m2"} <= set(names) else []
    support = Support(names, bounds, orders)
    truth = theta[:, [meta["parameters"].index(n) for n in names]]
    rng = np.random.default_rng(0)
    print(f"{len(truth)} injections, {args.draws} draws each from {args.run}")
    print(f"{'family':<12}" + "".join(f"{'KS p ' + n:>12}" for n in names) + f"{'Fisher p':>12}")
    for family in args.families.split(","):
        fit = {"gaussian": fit_gaussian, "truncated": fit_truncated}.get(family) or fit_mixture(int(family.split("-")[1]))
        ranks = []
        for i in range(len(truth)):
            s = draws[i][support.inside(draws[i])]
            fitted = fit(s, support, rng)
            g = draw(fitted, 4 * args.draws, rng)
            g = g[support.inside(g)][: args.draws]
            ranks.append((g < truth[i]).mean(0))
        ks, fisher = ks_and_fisher(np.array(ranks))
        print(f"{family:<12}" + "".join(f"{p:>12.2g}" for p in ks) + f"{fisher:>12.2g}")
    ks, fisher = ks_and_fisher(np.array([(draws[i] < truth[i]).mean(0) for i in range(len(truth))]))
    print(f"{'(the run)':<12}" + "".join(f"{p:>12.2g}" for p in ks) + f"{fisher:>12.2g}")


if __name__ == "__main__":
    main()
