"""Time to the optimum: the gate's solver and SQUAREM acceleration.

A mixture of K = 4 linear experts on d = 5 features (data drawn from the
model, ``make_moe_regression``) is fitted to convergence (the default
``tol=1e-6``) from the same k-means start by

- plain EM with the L-BFGS gate (the previous default),
- plain EM with the Newton gate (the default),
- EM with the Newton gate and SQUAREM,

at n = 10**4 and 10**5, on well-separated experts (the data of
``bench_fit.py``) and on overlapping ones, in the same process.
For each it prints the EM
iterations (``n_iter_``; with SQUAREM one iteration is a cycle), the EM
steps (gate fits: M-steps), the wall time, the log-likelihood per row
reached and its distance to the best of the three; then the ratios to plain
EM with L-BFGS. A last column fits each with the default start (small-EM)
for the wall time of a default fit. Each fit is timed ``--repeat`` times
(best kept).

Usage::

    python benchmarks/bench_accel.py [--sizes 10000 100000] [--repeat 3]
"""

import argparse
import platform
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor, SoftmaxGate
from skmoe.datasets import make_moe_regression

CONFIGS = {
    "EM, L-BFGS gate": {"gate": SoftmaxGate(solver="lbfgs"), "acceleration": None},
    "EM, Newton gate": {"gate": SoftmaxGate(solver="newton"), "acceleration": None},
    "SQUAREM, Newton gate": {
        "gate": SoftmaxGate(solver="newton"),
        "acceleration": "squarem",
    },
}


DATA = {
    # The data of bench_fit.py (and of issue 19's figures): well separated.
    "separated": {},
    # Overlapping experts, where plain EM converges slowly.
    "overlapping": {"noise": 1.0, "gate_scale": 1.0},
}


def data(n, kind, seed=0):
    return make_moe_regression(
        n, n_features=5, n_experts=4, random_state=seed, **DATA[kind]
    )[:2]


class _Counter:
    """Counts the gate fits (one per EM step) while installed."""

    def __init__(self):
        self.calls = 0
        self._original = SoftmaxGate._fit_prepared

    def __enter__(self):
        counter = self

        def counting(gate, inputs, targets):
            counter.calls += 1
            return counter._original(gate, inputs, targets)

        SoftmaxGate._fit_prepared = counting
        return self

    def __exit__(self, *exc):
        SoftmaxGate._fit_prepared = self._original


def fit(X, y, params, init_params, repeat):
    best = np.inf
    for _ in range(repeat):
        est = MixtureOfExpertsRegressor(
            4, init_params=init_params, random_state=0, **params
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with _Counter() as counter:
                t0 = time.perf_counter()
                est.fit(X, y)
                best = min(best, time.perf_counter() - t0)
    return est, best, counter.calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {machine}, python {platform.python_version()}")
    for kind, n in ((kind, n) for kind in DATA for n in args.sizes):
        X, y = data(n, kind)
        rows = {}
        for name, params in CONFIGS.items():
            est, seconds, steps = fit(X, y, params, "kmeans", args.repeat)
            _, default_seconds, _ = fit(X, y, params, "small_em", 1)
            rows[name] = (
                est.n_iter_,
                steps,
                seconds,
                est.log_likelihood_ / n,
                est.converged_,
                default_seconds,
            )
        top = max(r[3] for r in rows.values())
        base = rows["EM, L-BFGS gate"]
        print(f"\n{kind} data, n = {n}, d = 5, K = 4 (k-means start, tol = 1e-6)")
        print(
            f"{'':22s} {'iter':>5s} {'EM steps':>8s} {'time s':>8s} "
            f"{'loglik/row':>12s} {'below best':>10s} {'time x':>7s} "
            f"{'steps x':>7s} {'default fit s':>13s}"
        )
        for name, (it, steps, sec, ll, conv, dsec) in rows.items():
            print(
                f"{name:22s} {it:5d} {steps:8d} {sec:8.3f} {ll:12.7f} "
                f"{top - ll:10.2e} {base[2] / sec:7.2f} {base[1] / steps:7.2f} "
                f"{dsec:13.3f}{'' if conv else '  (not converged)'}"
            )


if __name__ == "__main__":
    main()
