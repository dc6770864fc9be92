"""The fused EM iteration against the generic one (issue 19, point 3).

The default regressor (K = 4 linear experts, Newton gate, on d = 5
features: the data of ``bench_fit.py``, drawn from the model) is fitted in
the same process by

- ``fused``: the default, one pass over the rows per EM iteration plus the
  gate's line search (``skmoe/_em_fused.py``), one Newton step of the gate
  per iteration (generalised EM);
- ``generic, 1 gate step``: the generic M-step and E-step (a dozen passes
  over the data), one Newton step of the gate per M-step: the fused path's
  algorithm, computed the generic way (what every other model runs);
- ``generic, gate solved``: the generic steps with the gate's Newton
  iterations run to convergence at every M-step (the previous default).

For each, at each size: the time per EM iteration (iterations 6 to 25 of
a run from a k-means start, ``tol=0``: the difference of a 25- and a
5-iteration fit, best of ``--repeat``), in ns per row, and its ratio to the
fused one; the EM iterations and wall time to convergence (default
``tol``) from the same start, and the log-likelihood per row reached; and
the wall time of a default fit (small-EM start).

Usage::

    python benchmarks/bench_fused.py [--sizes 10000 100000 1000000] [--repeat 3]
"""

import argparse
import contextlib
import platform
import time
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsRegressor, _em, _gate
from skmoe.datasets import make_moe_regression


@contextlib.contextmanager
def generic_steps(gate_steps=_gate.EM_NEWTON_STEPS):
    """Every EM loop takes the generic M-step and E-step, the gate's
    Newton iterations capped at ``gate_steps`` per M-step."""
    original = _em._FusedStep.for_loop, _gate.EM_NEWTON_STEPS
    _em._FusedStep.for_loop = classmethod(lambda cls, *args: None)
    _gate.EM_NEWTON_STEPS = gate_steps
    try:
        yield
    finally:
        _em._FusedStep.for_loop, _gate.EM_NEWTON_STEPS = original


CONFIGS = {
    "fused (default)": contextlib.nullcontext,
    "generic, 1 gate step": generic_steps,
    "generic, gate solved": lambda: generic_steps(gate_steps=10**6),
}


def kmeans_start(X, y, k):
    Z = np.column_stack([X, y])
    Z = (Z - Z.mean(0)) / Z.std(0)
    labels = KMeans(k, n_init=1, random_state=0).fit(Z).labels_
    return np.eye(k)[labels]


def timed(est, X, y):
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0, est


def measure(X, y, resp, k, repeat):
    """Seconds per EM iteration, ``(wall, fitted)`` to convergence from
    ``resp``, and the wall time of a default fit, of one configuration."""

    def make(**extra):
        return MixtureOfExpertsRegressor(k, **extra)

    def plain(it):
        return make(init_params=resp, max_iter=it, tol=0.0)

    timed(plain(3), X, y)  # compiles the kernels
    per_iter = (
        min(timed(plain(25), X, y)[0] - timed(plain(5), X, y)[0] for _ in range(repeat))
        / 20
    )
    wall, est = min(
        (timed(make(init_params=resp), X, y) for _ in range(repeat)),
        key=lambda r: r[0],
    )
    default = min(timed(make(random_state=0), X, y)[0] for _ in range(repeat))
    return per_iter, wall, est, default


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        f"# {platform.processor() or platform.machine()}, {platform.python_version()}"
    )
    k = 4
    for n in args.sizes:
        X, y = make_moe_regression(n, n_features=5, n_experts=k, random_state=0)[:2]
        resp = kmeans_start(X, y, k)
        print(f"\nn = {n}, d = 5, K = {k}")
        print(
            f"{'':24s}{'ns/row/it':>10s}{'x fused':>9s}{'EM it':>7s}"
            f"{'wall s':>9s}{'loglik/row':>13s}{'default s':>11s}"
        )
        base = None
        for name, context in CONFIGS.items():
            with context():
                per_iter, wall, est, default = measure(X, y, resp, k, args.repeat)
            base = base or per_iter
            print(
                f"{name:24s}{per_iter / n * 1e9:10.0f}{per_iter / base:9.2f}"
                f"{est.n_iter_:7d}{wall:9.3f}{est.log_likelihood_ / n:13.7f}"
                f"{default:11.3f}"
            )


if __name__ == "__main__":
    main()
