"""Sparse EM (``fit_top_k``) against dense EM with tree experts on real data.

Each M-step of dense EM fits every expert on every row (weighted by its
responsibilities); with ``fit_top_k=k`` an expert is fitted only on the rows
where it is among the row's ``k`` most responsible experts. For K = 8 and 16
``DecisionTreeRegressor(max_depth=4)`` experts, on a random 80% of the rows
(the rest held out), the script prints per fit: the rows the expert fits saw
per EM iteration (summed over experts, in multiples of n), EM iterations,
fit time, time per iteration and the expert fits' share of it (with their
ratios to dense EM of the same K, measured in the same process), and the
held-out log-likelihood per row (with the loss against dense EM). Every fit
starts from the same k-means responsibilities (``init_params='kmeans'``), so
that the rows counted are EM's alone (the default small-EM start runs short
EMs of its own).

Data: ``uci/protein-tertiary-structure`` (45,730 rows, 9 features) of the
team's data store, by default ``../shared/data`` beside the repository
(``--data-dir`` to change it), subsampled to ``--n-rows`` rows (default
10,000); the target and features are standardised. Run::

    python benchmarks/bench_sparse.py                  # a few minutes
    python benchmarks/bench_sparse.py --n-rows 3000 --experts 8
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


class _CountingTree(DecisionTreeRegressor):
    """A tree that counts the rows its fits see and their time (class-wide)."""

    rows = 0
    seconds = 0.0

    def fit(self, X, y, sample_weight=None):
        _CountingTree.rows += X.shape[0]
        start = time.perf_counter()
        super().fit(X, y, sample_weight=sample_weight)
        _CountingTree.seconds += time.perf_counter() - start
        return self


def _load(data_dir, n_rows, seed):
    folder = Path(data_dir) / "uci" / "protein-tertiary-structure"
    data = np.loadtxt(folder / "data.txt")
    rng = np.random.RandomState(seed)
    data = data[rng.permutation(data.shape[0])[:n_rows]]
    # The first column is the target (RMSD), the others the features.
    X, y = data[:, 1:], data[:, 0]
    return X, (y - y.mean()) / y.std()


def _run(X_train, y_train, X_test, y_test, n_experts, fit_top_k, seed):
    _CountingTree.rows, _CountingTree.seconds = 0, 0.0
    model = MixtureOfExpertsRegressor(
        n_experts=n_experts,
        expert=_CountingTree(max_depth=4),
        fit_top_k=fit_top_k,
        init_params="kmeans",
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {
        "rows_per_iter": _CountingTree.rows / model.n_iter_ / X_train.shape[0],
        "n_iter": model.n_iter_,
        "seconds": seconds,
        "per_iter": seconds / model.n_iter_,
        "expert_per_iter": _CountingTree.seconds / model.n_iter_,
        "heldout": float(np.mean(model.score_samples(X_test, y_test))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--n-rows", type=int, default=10_000)
    parser.add_argument("--experts", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--top-k", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = _load(args.data_dir, args.n_rows, args.seed)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=args.seed
    )
    print(
        f"protein, {X_train.shape[0]} training rows, {X_test.shape[0]} held out; "
        "DecisionTreeRegressor(max_depth=4) experts"
    )
    header = (
        f"{'K':>3} {'fit_top_k':>9} {'rows/iter (n)':>13} {'iters':>5} "
        f"{'fit s':>7} {'s/iter':>7} {'ratio':>6} {'experts s/iter':>14} "
        f"{'ratio':>6} {'held-out LL':>11} {'loss':>7}"
    )
    print(header)
    for n_experts in args.experts:
        dense = None
        for top_k in [None, *args.top_k]:
            r = _run(X_train, y_train, X_test, y_test, n_experts, top_k, args.seed)
            dense = dense or r
            print(
                f"{n_experts:>3} {str(top_k):>9} {r['rows_per_iter']:>13.2f} "
                f"{r['n_iter']:>5} {r['seconds']:>7.2f} {r['per_iter']:>7.3f} "
                f"{r['per_iter'] / dense['per_iter']:>6.2f} "
                f"{r['expert_per_iter']:>14.3f} "
                f"{r['expert_per_iter'] / dense['expert_per_iter']:>6.2f} "
                f"{r['heldout']:>11.4f} "
                f"{dense['heldout'] - r['heldout']:>7.4f}"
            )


if __name__ == "__main__":
    main()
