"""MixtureOfExpertsCV with its defaults against one expert and other regressors.

On each UCI regression set of ``/work/shared/data/uci`` (or ``--data``),
shuffled 5-fold cross-validation (``KFold(5, shuffle=True,
random_state=0)``; sets larger than ``--max-rows`` are first subsampled to
that many rows, seed 0), for each model: the held-out R^2 (mean and
standard deviation over the folds), the held-out log-likelihood per row
where the model has a predictive density, and the fit time per fold.

Models (defaults, not tuned; every one after a ``StandardScaler``):

* ``MoE-CV``: ``MixtureOfExpertsCV(random_state=0)``, its defaults: linear
  experts, 1 to 5 of them, chosen by held-out log-likelihood on an inner
  shuffled 5-fold split of each training part, one-standard-error rule;
* ``K=1``: ``MixtureOfExpertsRegressor(n_experts=1)``, the expert alone
  (least squares with a Gaussian noise: a linear model with a density);
* ``Linear``: ``LinearRegression``;
* ``HGB``: ``HistGradientBoostingRegressor(random_state=0)``;
* ``RF``: ``RandomForestRegressor(n_estimators=100, random_state=0)``;
* ``LGBM-linear``: ``lightgbm.LGBMRegressor(linear_tree=True, verbose=-1,
  random_state=0)``, skipped when lightgbm does not import.

The last column compares ``MoE-CV`` with ``K=1`` fold by fold: the mean
paired difference of held-out log-likelihood per row and its standard
error over the folds (std / sqrt(5)).

Run::

    python benchmarks/bench_selection.py                 # several minutes
    python benchmarks/bench_selection.py --datasets yacht concrete
    python benchmarks/bench_selection.py --max-rows 5000 --n-jobs 2
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsCV, MixtureOfExpertsRegressor

DATA = Path("/work/shared/data/uci")
DATASETS = (
    "yacht",
    "energy",
    "concrete",
    "wine-quality-red",
    "power-plant",
    "naval-propulsion-plant",
    "protein-tertiary-structure",
)


def load(root, name, max_rows):
    data = np.loadtxt(root / name / "data.txt")
    features = np.loadtxt(root / name / "index_features.txt", dtype=int, ndmin=1)
    target = int(np.loadtxt(root / name / "index_target.txt"))
    n_total = data.shape[0]
    if n_total > max_rows:
        rows = np.random.default_rng(0).permutation(n_total)[:max_rows]
        data = data[np.sort(rows)]
    return data[:, features], data[:, target], n_total


def models(n_jobs):
    out = {
        "MoE-CV": MixtureOfExpertsCV(random_state=0, n_jobs=n_jobs),
        "K=1": MixtureOfExpertsRegressor(n_experts=1, random_state=0),
        "Linear": LinearRegression(),
        "HGB": HistGradientBoostingRegressor(random_state=0),
        "RF": RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=n_jobs),
    }
    try:
        from lightgbm import LGBMRegressor

        out["LGBM-linear"] = LGBMRegressor(
            linear_tree=True, verbose=-1, random_state=0, n_jobs=1
        )
    except ImportError:
        print("lightgbm does not import: LGBM-linear skipped")
    return {name: make_pipeline(StandardScaler(), m) for name, m in out.items()}


def _log_likelihood(pipe, X, y):
    """Mean held-out log-likelihood per row, or NaN without a density."""
    last = pipe[-1]
    if hasattr(last, "score_samples"):
        return float(np.mean(last.score_samples(pipe[:-1].transform(X), y)))
    return np.nan


def run(name, X, y, n_jobs):
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    rows = {}
    for model_name, model in models(n_jobs).items():
        r2, ll, times, chosen = [], [], [], []
        for train, test in folds:
            pipe = clone(model)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe.fit(X[train], y[train])
            times.append(time.perf_counter() - start)
            r2.append(r2_score(y[test], pipe.predict(X[test])))
            ll.append(_log_likelihood(pipe, X[test], y[test]))
            if hasattr(pipe[-1], "n_experts_"):
                chosen.append(pipe[-1].n_experts_)
        rows[model_name] = {
            "r2": np.array(r2),
            "ll": np.array(ll),
            "time": float(np.mean(times)),
            "chosen": chosen,
        }
        print(
            f"  {name:28s} {model_name:12s} R2 {np.mean(r2):.3f} +- {np.std(r2):.3f}"
            f"  loglik {np.mean(ll):8.3f}  fit {np.mean(times):6.2f} s"
            + (f"  chosen K {chosen}" if chosen else ""),
            flush=True,
        )
    diff = rows["MoE-CV"]["ll"] - rows["K=1"]["ll"]
    rows["_diff"] = (float(diff.mean()), float(diff.std() / np.sqrt(diff.size)))
    diff_r2 = rows["MoE-CV"]["r2"] - rows["K=1"]["r2"]
    rows["_diff_r2"] = (float(diff_r2.mean()), float(diff_r2.std() / np.sqrt(5)))
    return rows


def rst_table(results, sizes):
    names = [m for m in next(iter(results.values())) if not m.startswith("_")]
    header = ["data (rows used / all)"] + names + ["MoE-CV - K=1: loglik, R2"]
    lines = []
    for data_name, rows in results.items():
        cells = [f"{data_name} ({sizes[data_name][0]}/{sizes[data_name][1]})"]
        for m in names:
            r = rows[m]
            cell = f"{r['r2'].mean():.3f} ({r['time']:.2f} s)"
            if np.isfinite(r["ll"]).all():
                cell += f", ll {r['ll'].mean():.2f}"
            cells.append(cell)
        d, se = rows["_diff"]
        d2, se2 = rows["_diff_r2"]
        cells.append(f"{d:+.3f} +- {se:.3f}, {d2:+.3f} +- {se2:.3f}")
        lines.append(cells)
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    out = [
        rule,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        rule,
    ]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines
    ]
    out.append(rule)
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--max-rows", type=int, default=3000)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    results, sizes = {}, {}
    for name in args.datasets:
        X, y, n_total = load(args.data, name, args.max_rows)
        sizes[name] = (X.shape[0], n_total)
        print(f"{name}: {X.shape[0]} of {n_total} rows, {X.shape[1]} features")
        results[name] = run(name, X, y, args.n_jobs)
    print()
    print("R2 mean over 5 shuffled folds (fit time per fold), ll: held-out")
    print("log-likelihood per row; last column: mean paired difference +- SE")
    print(rst_table(results, sizes))


if __name__ == "__main__":
    main()
