"""The classifier's logistic experts: L-BFGS against Newton's method, on
scaled and on raw features.

``MixtureOfExpertsClassifier`` (every parameter at its default but the
expert) is fitted with ``LogisticRegression(tol=1e-6, max_iter=1000)``
experts whose solver is ``"lbfgs"`` or ``"newton-cholesky"`` (the default
expert takes Newton's solver when ``(n_features + 1) * n_outputs <= 256``),
on ``--rows`` random training rows of a data set in ``shared/data``, as
they are (``raw``) and after a ``StandardScaler`` (``scaled``). Prints, per
solver and units, the fit time, EM iterations, training log-likelihood and
accuracy on up to 2,000 held-out rows, then each solver's time as a ratio
to L-BFGS's on the same units (one process, so the ratios are comparable).

Run::

    python benchmarks/bench_classifier_solver.py --data Satellite --rows 2000
    python benchmarks/bench_classifier_solver.py --data Vowel --rows 600
    python benchmarks/bench_classifier_solver.py --data Satellite --units scaled
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(name):
    df = pd.read_csv(DATA / f"{name}.csv")
    target = "lettr" if "lettr" in df.columns else df.columns[-1]
    y = df[target].to_numpy()
    X = df.drop(columns=target).select_dtypes("number").to_numpy(float)
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="Satellite")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--units", nargs="+", default=["scaled", "raw"])
    parser.add_argument("--solvers", nargs="+", default=["newton-cholesky", "lbfgs"])
    args = parser.parse_args()
    X, y = load(args.data)
    idx = np.random.RandomState(0).permutation(len(y))
    train, test = idx[: args.rows], idx[args.rows : args.rows + 2000]
    scaler = StandardScaler().fit(X[train])
    times = {}
    for units in args.units:
        A = scaler.transform(X) if units == "scaled" else X
        for solver in args.solvers:
            expert = LogisticRegression(solver=solver, tol=1e-6, max_iter=1000)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = MixtureOfExpertsClassifier(expert=expert, random_state=0)
                model.fit(A[train], y[train])
            times[units, solver] = elapsed = time.perf_counter() - start
            print(
                f"{args.data} {units:6s} {solver:15s}: {elapsed:7.1f} s, "
                f"{model.n_iter_:4d} EM iterations, training log-likelihood "
                f"{model.log_likelihood_:.2f}, held-out accuracy "
                f"{model.score(A[test], y[test]):.4f}",
                flush=True,
            )
        if "lbfgs" in args.solvers:
            for solver in args.solvers:
                ratio = times[units, solver] / times[units, "lbfgs"]
                print(f"  {units}: {solver} / lbfgs time = {ratio:.2f}")


if __name__ == "__main__":
    main()
