"""Coverage of prediction intervals on held-out rows of real data.

For each data set and model, ``--splits`` random splits of the rows (seeds
0, 1, ...): half to fit the model, a quarter to calibrate the conformal
intervals (``ConformalMixtureRegressor`` over the fitted model, frozen), a
quarter to test. On the test rows, each interval kind's coverage (fraction
of targets inside) and mean length (the total length of a highest-density
set), averaged over the splits, with the standard deviation of the coverage
over the splits.

Interval kinds at ``--coverage`` (default 0.9):

* ``central``: the model's own central interval (``predict_interval``);
* ``hdr``: the model's own highest-density set (``kind='hdr'``);
* ``cqr``: conformalised quantile regression on ``central``;
* ``absolute``: split conformal on ``|y - predict(x)|``.

Models (hyperparameters fixed a priori, not tuned): ``MoE``:
``MixtureOfExpertsRegressor(n_experts=3)``, linear experts; ``HME``:
``HierarchicalMixtureOfExpertsRegressor(depth=2, branching=2)``, four linear
experts. Data: concrete, energy, yacht, abalone (``skmoe.datasets``).

Run::

    python benchmarks/bench_predictive.py                # several minutes
    python benchmarks/bench_predictive.py --splits 3 --datasets yacht
    python benchmarks/bench_predictive.py --json coverage.json
"""

import argparse
import json
import warnings

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from skmoe import HierarchicalMixtureOfExpertsRegressor, MixtureOfExpertsRegressor
from skmoe.conformal import ConformalMixtureRegressor
from skmoe.datasets import load_abalone, load_concrete, load_energy, load_yacht

DATASETS = {
    "concrete": load_concrete,
    "energy": load_energy,
    "yacht": load_yacht,
    "abalone": load_abalone,
}
MODELS = {
    "MoE": lambda seed: MixtureOfExpertsRegressor(n_experts=3, random_state=seed),
    "HME": lambda seed: HierarchicalMixtureOfExpertsRegressor(
        depth=2, branching=2, random_state=seed
    ),
}
KINDS = ("central", "hdr", "cqr", "absolute")


def _covered(y, bounds):
    return (y >= bounds[:, 0]) & (y <= bounds[:, 1])


def one_split(X, y, model, seed, coverage):
    """Coverage and mean length of each interval kind on one split's test rows."""
    X_fit, X_rest, y_fit, y_rest = train_test_split(
        X, y, train_size=0.5, random_state=seed
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, train_size=0.5, random_state=seed
    )
    model.fit(X_fit, y_fit)
    out = {}
    central = model.predict_interval(X_test, coverage=coverage)
    out["central"] = (_covered(y_test, central).mean(), np.diff(central, axis=1).mean())
    sets = model.predict_interval(X_test, coverage=coverage, kind="hdr")
    inside = [
        _covered(np.full(len(s), t), s).any() for t, s in zip(y_test, sets, strict=True)
    ]
    length = [np.diff(s, axis=1).sum() for s in sets]
    out["hdr"] = (np.mean(inside), np.mean(length))
    for method in ("cqr", "absolute"):
        conf = ConformalMixtureRegressor(
            FrozenEstimator(model), coverage=coverage, method=method
        ).fit(X_cal, y_cal)
        bounds = conf.predict_interval(X_test)
        out[method] = (_covered(y_test, bounds).mean(), np.diff(bounds, axis=1).mean())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--coverage", type=float, default=0.9)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # convergence warnings of the a-priori fits
    rows = []
    header = f"{'data':<9} {'model':<5} {'n_test':>6}  " + "  ".join(
        f"{k + ' cov (sd)':>19} {'length':>8}" for k in KINDS
    )
    print(f"coverage asked: {args.coverage}; mean over {args.splits} splits")
    print(header)
    for name in args.datasets:
        X, y = DATASETS[name](return_X_y=True)
        for model_name in args.models:
            results = [
                one_split(X, y, MODELS[model_name](s), s, args.coverage)
                for s in range(args.splits)
            ]
            n_test = len(y) - len(y) // 2 - (len(y) - len(y) // 2) // 2
            row = {"data": name, "model": model_name, "n_test": n_test}
            cells = []
            for kind in KINDS:
                cov = np.array([r[kind][0] for r in results])
                length = np.array([r[kind][1] for r in results])
                row[kind] = {
                    "coverage": float(cov.mean()),
                    "coverage_sd": float(cov.std(ddof=1)) if cov.size > 1 else 0.0,
                    "length": float(length.mean()),
                    "per_split": cov.tolist(),
                }
                cells.append(
                    f"{cov.mean():>10.3f} ({row[kind]['coverage_sd']:.3f})"
                    f" {length.mean():>8.3g}"
                )
            rows.append(row)
            print(f"{name:<9} {model_name:<5} {n_test:>6}  " + "  ".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"coverage": args.coverage, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
