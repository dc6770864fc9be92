"""Load balancing: imbalance against held-out log-likelihood as the strength grows.

For each ``balance_strength`` the script fits
``MixtureOfExpertsRegressor(n_experts=K, balance_strength=s)`` (linear
experts, defaults otherwise) on the training folds of a shuffled K-fold
split of a real data set and prints, averaged over the folds: the
coefficient of variation of the experts' gate shares on the training rows
(0 is perfectly balanced; :func:`skmoe.inspection.expert_usage`), the
smallest expert's share, the training log-likelihood per row and the
held-out log-likelihood per row (features and target standardised on the
training rows, so that the figures read the same on every data set).

Data: concrete, energy, abalone (``skmoe.datasets``). Run::

    python benchmarks/bench_balance.py                      # about a minute
    python benchmarks/bench_balance.py --datasets concrete --experts 6
"""

import argparse
import warnings

import numpy as np
from sklearn.model_selection import KFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_abalone, load_concrete, load_energy
from skmoe.inspection import expert_usage

DATASETS = {"concrete": load_concrete, "energy": load_energy, "abalone": load_abalone}
STRENGTHS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def _numeric(loader):
    X, y = loader(return_X_y=True, as_frame=True)
    categorical = X.select_dtypes(exclude="number").columns
    if len(categorical):
        onehot = OneHotEncoder(sparse_output=False).fit(X[categorical])
        coded = onehot.transform(X[categorical])
        X = np.column_stack([X.drop(columns=categorical).to_numpy(), coded])
    return np.asarray(X, dtype=float), np.asarray(y, dtype=float)


def _fold(X, y, train, test, n_experts, strength, seed):
    scaler = StandardScaler().fit(X[train])
    Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
    mean, std = y[train].mean(), y[train].std()
    ytr, yte = (y[train] - mean) / std, (y[test] - mean) / std
    model = MixtureOfExpertsRegressor(
        n_experts=n_experts, balance_strength=strength, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xtr, ytr)
    usage = expert_usage(model, Xtr)
    return (
        usage.coefficient_of_variation,
        usage.table["gate_share"].min(),
        model.log_likelihood_ / len(train),
        float(np.mean(model.score_samples(Xte, yte))),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--strengths", type=float, nargs="+", default=STRENGTHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folds = KFold(args.folds, shuffle=True, random_state=args.seed)
    print(f"K = {args.experts} linear experts, {args.folds}-fold shuffled CV")
    print(
        f"{'data':>9} {'strength':>8} {'CV shares':>9} {'min share':>9} "
        f"{'train LL/row':>12} {'held-out LL/row':>15}"
    )
    for name in args.datasets:
        X, y = _numeric(DATASETS[name])
        for strength in args.strengths:
            rows = np.array(
                [
                    _fold(X, y, tr, te, args.experts, strength, args.seed)
                    for tr, te in folds.split(X)
                ]
            )
            cv, smallest, train_ll, test_ll = rows.mean(axis=0)
            print(
                f"{name:>9} {strength:>8g} {cv:>9.3f} {smallest:>9.3f} "
                f"{train_ll:>12.4f} {test_ll:>15.4f}"
            )


if __name__ == "__main__":
    main()
