"""The classifier's logistic experts: skmoe's Newton solver against
scikit-learn's own fit, on scaled and on raw features.

A default ``MixtureOfExpertsClassifier`` (every parameter at its default
but ``random_state=0``) is fitted on ``--rows`` random training rows of a
data set in ``shared/data``, as they are (``raw``) and after a
``StandardScaler`` (``scaled``), twice per units:

- ``skmoe``: as shipped. Its ``LogisticRegression`` experts are refitted
  by ``skmoe._logistic`` (Newton's method on standardised features,
  conjugate gradients preconditioned by the last Hessian, one Newton step
  per EM M-step from the previous solution, the last M-step solved to
  ``tol``);
- ``sklearn``: the same estimator with that solver switched off in this
  process, so that each expert is refitted by its own
  ``LogisticRegression.fit`` (L-BFGS, warm-started) at every M-step, by
  plain EM (SQUAREM, for plain logistic experts only, off with it): the
  code before the change.

Prints, per units and solver, the fit time, EM iterations, training
log-likelihood and accuracy on up to 4,000 held-out rows, then skmoe's
time as a ratio to scikit-learn's on the same units (one process, so the
ratio is comparable). ``--acceleration`` lists the classifier's
``acceleration`` values to fit skmoe's solver with (default: ``auto``, the
estimator's default; ``none`` is plain EM); with ``none`` and another, the
other's time and final objective are printed against plain EM's.

Run::

    python benchmarks/bench_classifier_solver.py --data LetterRecognition \
        --rows 16000 --units scaled
    python benchmarks/bench_classifier_solver.py --data Satellite --rows 2000
    python benchmarks/bench_classifier_solver.py --data Vowel --rows 600
    python benchmarks/bench_classifier_solver.py --data Satellite --solvers skmoe
    python benchmarks/bench_classifier_solver.py --data LetterRecognition \
        --rows 16000 --units scaled --solvers skmoe --acceleration none squarem
"""

import argparse
import contextlib
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

import skmoe._em
import skmoe._experts
import skmoe._logistic
import skmoe._squarem
from skmoe import MixtureOfExpertsClassifier

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(name):
    df = pd.read_csv(DATA / f"{name}.csv")
    target = "lettr" if "lettr" in df.columns else df.columns[-1]
    y = df[target].to_numpy()
    X = df.drop(columns=target).select_dtypes("number").to_numpy(float)
    return X, y


@contextlib.contextmanager
def scikit_learn_fits():
    """Every LogisticRegression expert refitted by its own ``fit``."""
    modules = (skmoe._experts, skmoe._em, skmoe._logistic, skmoe._squarem)
    saved = [m._is_plain_logistic for m in modules]
    for m in modules:
        m._is_plain_logistic = lambda expert: False
    try:
        yield
    finally:
        for m, f in zip(modules, saved, strict=True):
            m._is_plain_logistic = f


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="Satellite")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--units", nargs="+", default=["scaled", "raw"])
    parser.add_argument("--solvers", nargs="+", default=["skmoe", "sklearn"])
    parser.add_argument(
        "--acceleration",
        nargs="+",
        default=["auto"],
        choices=["auto", "none", "squarem"],
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = load(args.data)
    idx = np.random.RandomState(0).permutation(len(y))
    train, test = idx[: args.rows], idx[args.rows : args.rows + 4000]
    scaler = StandardScaler().fit(X[train])
    for units in args.units:
        A = scaler.transform(X) if units == "scaled" else X
        runs = [("skmoe", a) for a in args.acceleration if "skmoe" in args.solvers]
        runs += [("sklearn", "none")] if "sklearn" in args.solvers else []
        times, bounds = {}, {}
        for solver, acceleration in runs:
            context = (
                scikit_learn_fits() if solver == "sklearn" else contextlib.nullcontext()
            )
            model = MixtureOfExpertsClassifier(
                random_state=args.seed,
                acceleration=None if acceleration == "none" else acceleration,
            )
            start = time.perf_counter()
            with context, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(A[train], y[train])
            times[solver, acceleration] = elapsed = time.perf_counter() - start
            bounds[solver, acceleration] = model.lower_bound_
            warned = sorted({type(w.message).__name__ for w in caught})
            # The switched-off solver is not recognised as plain logistic,
            # so its objective leaves the experts' penalty out, as before.
            note = " (no experts' penalty)" if solver == "sklearn" else ""
            print(
                f"{args.data} ({args.rows} rows) {units:6s} {solver:7s} "
                f"acceleration={acceleration}: "
                f"{elapsed:7.1f} s, {model.n_iter_:4d} EM iterations, objective "
                f"{model.lower_bound_:.6f} per row{note}, training log-likelihood "
                f"{model.log_likelihood_:.2f}, held-out accuracy "
                f"{model.score(A[test], y[test]):.4f}, warnings {warned}",
                flush=True,
            )
        first = ("skmoe", args.acceleration[0])
        if {first, ("sklearn", "none")} <= set(times):
            ratio = times[first] / times["sklearn", "none"]
            print(f"  {units}: skmoe / sklearn time = {ratio:.3f}", flush=True)
        for other in ("auto", "squarem"):
            if {("skmoe", "none"), ("skmoe", other)} <= set(times):
                ratio = times["skmoe", other] / times["skmoe", "none"]
                gain = bounds["skmoe", other] - bounds["skmoe", "none"]
                print(
                    f"  {units}: {other} / plain EM time = {ratio:.3f}, "
                    f"objective gain {gain:+.2e} per row",
                    flush=True,
                )


if __name__ == "__main__":
    main()
