#!/usr/bin/env python3
"""Writes tests/data/c2st_fixture.csv and the accuracies scikit-learn gives on it, computed as
sbibm 1.1.0 computes C2ST (sbibm/metrics/c2st.py): both sets z-scored by the reference's mean
and standard deviation, MLPClassifier(activation="relu", hidden_layer_sizes=(10*dim, 10*dim),
max_iter=10000, solver="adam") with scikit-learn's other defaults (alpha 1e-4, batches of
min(200, n), learning rate 1e-3, stopping when the training loss improves by less than 1e-4 for
10 epochs), 5-fold cross-validated accuracy (KFold, shuffled). The mean over seeds is recorded,
since neither side can reproduce the other's random numbers.

    python3 bench/c2st_sklearn.py        # needs numpy and scikit-learn
"""
import numpy as np
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier

N, DIM, SEEDS = 1000, 2, 5
SHIFTS = [0.0, 0.3, 1.0]


def c2st(x, ref, seed):
    mean, std = ref.mean(0), ref.std(0)
    x, ref = (x - mean) / std, (ref - mean) / std
    data = np.concatenate([x, ref])
    target = np.concatenate([np.ones(len(x)), np.zeros(len(ref))])
    clf = MLPClassifier(activation="relu", hidden_layer_sizes=(10 * DIM, 10 * DIM), max_iter=10000, solver="adam", random_state=seed)
    folds = KFold(n_splits=5, shuffle=True, random_state=seed)
    return cross_val_score(clf, data, target, cv=folds, scoring="accuracy").mean()


rng = np.random.default_rng(20261129)
ref = rng.standard_normal((N, DIM))
rows, lines = [], []
for k, shift in enumerate(SHIFTS):
    x = rng.standard_normal((N, DIM)) + np.array([shift, 0.0])
    acc = np.mean([c2st(x, ref, s) for s in range(SEEDS)])
    lines.append("# shift %.1f: scikit-learn C2ST %.4f (mean over %d seeds)" % (shift, acc, SEEDS))
    rows += [(k, *r) for r in x]
rows += [(-1, *r) for r in ref]
with open("tests/data/c2st_fixture.csv", "w") as f:
    f.write("# made by bench/c2st_sklearn.py (numpy %s, scikit-learn); set -1 is the reference\n" % np.__version__)
    for line in lines:
        f.write(line + "\n")
    f.write("set,a,b\n")
    for r in rows:
        f.write("%d,%.9g,%.9g\n" % r)
print("\n".join(lines))
