"""Held-out log-likelihood of Gaussian and Student-t experts on real data.

For each data set, ``--splits`` random halvings of the rows (seeds 0, 1,
...): one half fits ``MixtureOfExpertsRegressor(n_experts=K, likelihood=...)``
(linear experts, every other parameter at its default, ``random_state`` the
split's seed) for K in ``--experts``, the other half scores it
(``score_samples``, mean per row). With ``--contaminate f``, a fraction
``f`` of the *training* targets is moved by 5 to 10 standard deviations of
y (up or down at random) and the test rows stay clean: what gross errors in
the training data cost each family on new rows.

Prints, per data set and K, the mean held-out log-likelihood per row of
each family over the splits (with its standard deviation over the splits),
the mean of the per-split differences t - Gaussian, and the mean fit time.

Run::

    python benchmarks/bench_student_t.py                       # a few minutes
    python benchmarks/bench_student_t.py --contaminate 0.05
    python benchmarks/bench_student_t.py --datasets mcycle --splits 3
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import (
    load_abalone,
    load_concrete,
    load_energy,
    load_mcycle,
    load_yacht,
)

DATASETS = {
    "mcycle": load_mcycle,
    "concrete": load_concrete,
    "energy": load_energy,
    "yacht": load_yacht,
    "abalone": load_abalone,
}
FAMILIES = ("gaussian", "student_t")


def _contaminate(y, fraction, rng):
    y = y.copy()
    rows = rng.choice(y.size, int(round(fraction * y.size)), replace=False)
    shift = rng.uniform(5, 10, rows.size) * y.std() * rng.choice([-1, 1], rows.size)
    y[rows] += shift
    return y


def run(datasets, experts, splits, contaminate):
    print(
        f"{'data':<9} {'K':>2} {'gaussian':>17} {'student_t':>17} "
        f"{'t - gauss':>10} {'fit s (g/t)':>12}"
    )
    for name in datasets:
        X, y = DATASETS[name](return_X_y=True)
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        for K in experts:
            scores = {f: [] for f in FAMILIES}
            times = {f: [] for f in FAMILIES}
            for seed in range(splits):
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.5, random_state=seed
                )
                if contaminate:
                    y_tr = _contaminate(y_tr, contaminate, np.random.default_rng(seed))
                for family in FAMILIES:
                    model = MixtureOfExpertsRegressor(
                        n_experts=K, likelihood=family, random_state=seed
                    )
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model.fit(X_tr, y_tr)
                    times[family].append(time.perf_counter() - start)
                    scores[family].append(model.score_samples(X_te, y_te).mean())
            g, t = np.array(scores["gaussian"]), np.array(scores["student_t"])
            print(
                f"{name:<9} {K:>2} {g.mean():>9.3f} ({g.std():.3f}) "
                f"{t.mean():>9.3f} ({t.std():.3f}) {np.mean(t - g):>10.3f} "
                f"{np.mean(times['gaussian']):>5.2f}/{np.mean(times['student_t']):<5.2f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--experts", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--contaminate", type=float, default=0.0)
    args = parser.parse_args()
    run(args.datasets, args.experts, args.splits, args.contaminate)


if __name__ == "__main__":
    main()
