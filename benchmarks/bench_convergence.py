"""Do the default estimators converge on real tables, and how far from the
optimum of their own run does the default stopping rule stop?

For each UCI regression set (``/work/shared/data/uci``, or the copies in
``skmoe.datasets`` and ``benchmarks/data``) and Satellite: the default
``MixtureOfExpertsRegressor`` (``MixtureOfExpertsClassifier`` on Satellite)
fitted on all rows, raw features as a user would pass them: iterations,
converged, the warnings raised, the per-row log-likelihood; then the same fit
(same ``random_state``, hence the same start) with ``tol=1e-8`` and
``max_iter=5000``: how many nats (total, over the rows) the default stops
short of where that run ends, and the iterations it took.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_convergence.py [names...]``
(``--rows N`` subsamples every set to at most N rows, seeded).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

UCI = Path("/work/shared/data/uci")
SHARED = Path("/work/shared/data")
REGRESSION = [
    "concrete",
    "energy",
    "yacht",
    "wine-quality-red",
    "power-plant",
    "naval-propulsion-plant",
    "protein-tertiary-structure",
]


def load_uci(name):
    folder = UCI / name
    data = np.loadtxt(folder / "data.txt")
    features = np.loadtxt(folder / "index_features.txt", dtype=int)
    target = int(np.loadtxt(folder / "index_target.txt"))
    return data[:, features], data[:, target]


def load_satellite():
    frame = pd.read_csv(SHARED / "Satellite.csv")
    return frame.drop(columns="classes").to_numpy(float), frame["classes"].to_numpy()


def fit(make, X, y, **params):
    est = make(random_state=0, **params)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    seconds = time.perf_counter() - t0
    names = sorted({w.category.__name__ for w in caught})
    return est, seconds, names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", default=REGRESSION + ["satellite"])
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    header = (
        f"{'set':28s} {'rows':>6s} {'iter':>5s} {'conv':>5s} {'warned':24s} "
        f"{'loglik/row':>11s} {'tight iter':>10s} {'tight/row':>10s} "
        f"{'short (nats)':>12s} {'s':>6s}"
    )
    print(header)
    for name in args.names:
        if name == "satellite":
            X, y = load_satellite()
            make = MixtureOfExpertsClassifier
        else:
            X, y = load_uci(name)
            make = MixtureOfExpertsRegressor
        if args.rows and X.shape[0] > args.rows:
            rows = np.random.RandomState(0).choice(X.shape[0], args.rows, replace=False)
            X, y = X[rows], y[rows]
        est, seconds, names = fit(make, X, y)
        tight, _, _ = fit(make, X, y, tol=1e-8, max_iter=5000)
        n = X.shape[0]
        short = tight.log_likelihood_ - est.log_likelihood_
        print(
            f"{name:28s} {n:6d} {est.n_iter_:5d} {str(est.converged_):>5s} "
            f"{','.join(names) or '-':24s} {est.log_likelihood_ / n:11.5f} "
            f"{tight.n_iter_:10d} {tight.log_likelihood_ / n:10.5f} "
            f"{short:12.3f} {seconds:6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
