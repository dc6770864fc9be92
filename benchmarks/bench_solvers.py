"""Benchmark the solvers: held-out log-likelihood against wall time.

Fits a 3-expert mixture of ``LinearRegression`` experts to
``make_moe_regression`` data (5 features, 3 true experts) with

* ``em``: ``solver="em"`` (the default);
* ``em+warm-up``: EM whose initial responsibilities come from 5 EM
  iterations on 10,000 random rows (``init_params`` takes responsibilities),
  the warm-up both gradient solvers start from (timed with the fit);
* ``gradient``: ``solver="gradient"``, full-batch L-BFGS on the exact
  log-likelihood with analytic gradients;
* ``minibatch``: ``solver="gradient", batch_size=B``, Adam steps on minibatches
  of ``B`` rows,

from k-means responsibilities with the same ``random_state`` (the gradient
solvers and ``em+warm-up`` on at most 10,000 random rows), and records
the parameters after every EM iteration, every L-BFGS iteration and every
quarter epoch of minibatch fitting, with the time since the start of ``fit``.
The recording time is subtracted from the clock, and the held-out mean
log-likelihood of every recorded model is computed afterwards on
``--n-test`` rows that were not trained on.

A solver still running after ``--time-limit`` seconds (default 50) is
stopped at its next recorded point, and its last recorded model is its
result (flagged in the table): this keeps a full run near 5 minutes on a
2-core machine, with no subsampling of the training data.

The table gives, per size and solver: the fit time, the iterations (EM
iterations, L-BFGS iterations or epochs), the final held-out log-likelihood
per row, its gap to the best of all solvers, the time to first come within
1e-3 and 1e-4 nats per row of that best, and each time as a ratio to EM's
measured in the same run.

BLAS is limited to one thread (``--blas-threads``) for every solver: on a
busy 2-core machine, scipy's L-BFGS-B (used by EM's gate and by the
full-batch gradient) runs up to 100x slower with two contending OpenBLAS
threads on its tiny vectors.

``--streaming`` runs instead the streaming comparison of issue 13 on UCI
power-plant (``uci/power-plant`` of the team's data store, by default
``../shared/data`` beside the repository; ``--data-dir`` to change it; the
comparison is skipped with a message when the file is absent): 8000 rows of a
fixed shuffle (``numpy.random.default_rng(0)``) for training, the other 1568
held out, features standardised on the training rows, the raw target (mean
454, standard deviation 17). Each streamed model gets the 40 chunks of 200
training rows in order, 5 times (5 passes); the table gives the held-out R^2
of batch EM (default linear experts), of ``partial_fit`` with the default
experts, with ``SGDRegressor(random_state=0)`` and with
``MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
random_state=0)`` experts, and of one such SGD or MLP model streamed alone.

Run::

    python benchmarks/bench_solvers.py                  # n = 1e5 and 1e6
    python benchmarks/bench_solvers.py --quick          # n = 2e4 and 1e5
    python benchmarks/bench_solvers.py --plot solvers.png --json solvers.json
    python benchmarks/bench_solvers.py --streaming      # power-plant streams
"""

import argparse
import copy
import functools
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skmoe import MixtureOfExpertsRegressor  # noqa: E402
from skmoe._gradient import gradient_run  # noqa: E402
from skmoe._gradient._stream import _Stream  # noqa: E402
from skmoe._kernels import (  # noqa: E402
    e_step,
    gaussian_log_likelihood,
    softmax_cross_entropy,
)
from skmoe.datasets import make_moe_regression  # noqa: E402

SOLVERS = ("em", "em+warm-up", "gradient", "minibatch")
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
WARM_UP_ROWS = 10_000
GAPS = (1e-3, 1e-4)


class TimeLimit(Exception):
    """Raised from a recording hook to stop a fit at the time limit."""


class Clock:
    """Wall clock of one fit that does not count the time spent recording."""

    def __init__(self, limit):
        self.points = []
        self.paused = 0.0
        self.limit = limit
        self.start = time.perf_counter()

    def record(self, get_state):
        t0 = time.perf_counter()
        elapsed = t0 - self.start - self.paused
        self.points.append((elapsed, get_state()))
        self.paused += time.perf_counter() - t0
        if elapsed > self.limit:
            raise TimeLimit

    def now(self):
        return time.perf_counter() - self.start - self.paused


class TracedEM(MixtureOfExpertsRegressor):
    """EM that records the state each iteration starts from (the last one's end)."""

    clock = None

    def _likelihood(self, y=None, sample_weight=None):
        lik = super()._likelihood(y, sample_weight)
        clock, m_step = self.clock, lik.m_step
        if clock is None:
            return lik

        def traced_m_step(experts, X, y, weights, state, n_jobs):
            # Not before the gate's first fit (small-EM's short runs start
            # from an unfitted gate): such a state predicts nothing yet.
            fitted = hasattr(state["gate"], "coef_")
            if fitted and state.get("noise_variance") is not None:
                clock.record(
                    lambda: {
                        "experts": list(state["experts"]),
                        "gate": copy.deepcopy(state["gate"]),
                        "noise_variance": state["noise_variance"].copy(),
                    }
                )
            return m_step(experts, X, y, weights, state, n_jobs)

        lik.m_step = traced_m_step
        return lik


class TracedGradient(MixtureOfExpertsRegressor):
    """``solver="gradient"`` that records the state after every L-BFGS
    iteration, or every ``trace_every`` minibatches (0: every epoch)."""

    clock = None
    trace_every = 0

    def _select_solver(self, xp, templates):
        run = super()._select_solver(xp, templates)
        if self.clock is None or run is not gradient_run:
            return run
        return functools.partial(
            gradient_run, trace=self.clock.record, trace_every=self.trace_every
        )


def warm_up(batch_size):
    """Compile the numba kernels (and start their threads) and run every code path.

    Parallel kernels are not cached on disk: without this, the first solver
    timed would pay several seconds of compilation.
    """
    for n in (1_000, 300_000):
        a = np.zeros((n, 3))
        e_step(a, a)
        gaussian_log_likelihood(np.zeros(n), a, np.ones(3))
        softmax_cross_entropy(
            np.zeros((5, n)), np.zeros((5, 3)), np.zeros(3), np.zeros((3, n)), a[:, 0]
        )
    X, y = make_moe_regression(n_samples=3_000, n_features=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for params in (
            {},
            {"solver": "gradient"},
            {"solver": "gradient", "batch_size": batch_size},
        ):
            MixtureOfExpertsRegressor(3, max_iter=3, random_state=0, **params).fit(X, y)


def held_out_log_likelihood(state, n_features, X_test, y_test):
    model = MixtureOfExpertsRegressor(len(state["experts"]))
    model._set_state(state)
    model.n_features_in_ = n_features
    # score_samples checks the inputs against the namespace of the fit's
    # arrays (expert_shares_), which a bare state does not set.
    model.expert_shares_ = np.full(len(state["experts"]), 1.0 / len(state["experts"]))
    return float(model.score_samples(X_test, y_test).mean())


def em_warm_up(X, y, n_experts, seed):
    """EM's first responsibilities from 5 EM iterations on 10,000 random rows.

    The same warm-up as the gradient solvers' (there done by
    ``skmoe._gradient._stream._warm_up``), with the public API:
    ``init_params`` takes initial responsibilities.
    """
    rng = np.random.RandomState(seed)
    rows = rng.choice(X.shape[0], min(WARM_UP_ROWS, X.shape[0]), replace=False)
    warm = MixtureOfExpertsRegressor(n_experts, max_iter=5, random_state=seed)
    warm.fit(X[rows], y[rows])
    return warm.predict_responsibilities(X, y)


def run_solver(name, X, y, X_test, y_test, n_experts, batch_size, seed, limit):
    clock = Clock(limit)
    prepare = None
    if name in ("em", "em+warm-up"):
        model = TracedEM(n_experts, random_state=seed)
        model.clock = clock
        if name == "em+warm-up":

            def prepare():
                resp = em_warm_up(X, y, n_experts, seed)
                model.set_params(init_params=resp)

    else:
        model = TracedGradient(n_experts, solver="gradient", random_state=seed)
        model.clock = clock
        if name == "minibatch":
            model.set_params(batch_size=batch_size)
            steps = -(-X.shape[0] // batch_size)
            model.trace_every = max(1, steps // 4)
    stopped = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clock.start = time.perf_counter()
            if prepare is not None:
                prepare()
            model.fit(X, y)
            total = clock.now()
    except TimeLimit:
        stopped = True
        total = clock.points[-1][0]
    if not stopped:
        clock.points.append((total, model._get_state()))
    if not stopped:
        n_iter = int(model.n_iter_)
    elif name == "minibatch":  # points every quarter epoch
        n_iter = round(len(clock.points) / 4, 2)
    else:  # one point per iteration, from the end of the first
        n_iter = len(clock.points)
    d = X.shape[1]
    curve = [
        (t, held_out_log_likelihood(state, d, X_test, y_test))
        for t, state in clock.points
    ]
    return {
        "solver": name,
        "time": total,
        "n_iter": n_iter,
        "converged": False if stopped else bool(model.converged_),
        "stopped_at_limit": stopped,
        "held_out": curve[-1][1],
        "curve": curve,
    }


def time_to_gap(curve, target):
    for t, value in curve:
        if value >= target:
            return t
    return float("nan")


def bench_size(n, args):
    X, y = make_moe_regression(
        n_samples=n + args.n_test,
        n_features=5,
        n_experts=3,
        noise=0.3,
        gate_scale=2.0,
        random_state=args.seed,
    )
    X, X_test, y, y_test = X[:n], X[n:], y[:n], y[n:]
    results = [
        run_solver(
            s, X, y, X_test, y_test, 3, args.batch_size, args.seed, args.time_limit
        )
        for s in SOLVERS
    ]
    best = max(max(v for _, v in r["curve"]) for r in results)
    for r in results:
        r["n"] = n
        r["gap"] = best - r["held_out"]
        for gap in GAPS:
            r[f"t_{gap:g}"] = time_to_gap(r["curve"], best - gap)
    return results


def print_table(rows):
    em = {r["n"]: r for r in rows if r["solver"] == "em"}
    header = (
        f"{'n':>9} {'solver':>11} {'time s':>8} {'x EM':>6} {'iters':>6} "
        f"{'held-out ll':>12} {'gap':>9} {'t(1e-3) s':>10} {'x EM':>6} "
        f"{'t(1e-4) s':>10} {'x EM':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        base = em[r["n"]]

        def ratio(key, r=r, base=base):
            return r[key] / base[key] if base[key] > 0 else float("nan")

        print(
            f"{r['n']:>9} {r['solver']:>11} {r['time']:>8.2f} {ratio('time'):>6.2f} "
            f"{r['n_iter']:>6g} {r['held_out']:>12.5f} {r['gap']:>9.1e} "
            f"{r['t_0.001']:>10.2f} {ratio('t_0.001'):>6.2f} "
            f"{r['t_0.0001']:>10.2f} {ratio('t_0.0001'):>6.2f}"
            + ("  (stopped at the time limit)" if r["stopped_at_limit"] else "")
        )
    print(
        "time: fit time (s); iters: EM iterations, L-BFGS iterations or epochs; "
        "gap: best held-out log-lik of all solvers minus this one's final "
        "value; t(g): time to first come within g nats/row of that best; x EM: "
        "ratio to EM's time in the same run (nan: EM never got there)."
    )


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sizes = sorted({r["n"] for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 4.2))
    axes = np.atleast_1d(axes)
    for ax, n in zip(axes, sizes, strict=True):
        group = [r for r in rows if r["n"] == n]
        best = max(max(v for _, v in r["curve"]) for r in group)
        for r in group:
            t, v = np.array(r["curve"]).T
            gap = np.maximum(best - v, 1e-7)
            ax.loglog(np.maximum(t, 1e-3), gap, marker=".", label=r["solver"])
        for g in GAPS:
            ax.axhline(g, color="0.8", lw=0.8, zorder=0)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"n = {n:,} training rows")
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("best held-out log-lik - held-out log-lik (nats/row)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def _mean_one_weights():
    """Patch partial_fit so that each expert's weights have mean one (ablation).

    Over the rows an expert's ``partial_fit`` gets, as if the expert owned
    every row: the alternative to the unrescaled responsibilities that the
    user guide (solvers.rst) measures. Returns a function that undoes it.
    """
    stream = _Stream
    original = stream.partial_fit_externals

    def rescaled(self, X, y, weights):
        passed = weights > self.estimator.min_responsibility
        mean = (weights * passed).sum(axis=0) / np.maximum(passed.sum(axis=0), 1)
        return original(self, X, y, weights / np.where(mean > 0, mean, 1.0))

    stream.partial_fit_externals = rescaled
    return lambda: setattr(stream, "partial_fit_externals", original)


def bench_streaming(data_dir, n_train=8000, chunk=200, n_passes=5):
    """Held-out R^2 of batch EM and of streams on power-plant (module docstring)."""
    folder = Path(data_dir) / "uci" / "power-plant"
    if not (folder / "data.txt").exists():
        print(f"streaming comparison skipped: {folder / 'data.txt'} not found")
        return []
    data = np.loadtxt(folder / "data.txt")
    features = np.loadtxt(folder / "index_features.txt", dtype=int, ndmin=1)
    target = int(np.loadtxt(folder / "index_target.txt", dtype=int))
    order = np.random.default_rng(0).permutation(data.shape[0])
    train, test = order[:n_train], order[n_train:]
    scaler = StandardScaler().fit(data[train][:, features])
    X, X_test = (scaler.transform(data[rows][:, features]) for rows in (train, test))
    y, y_test = data[train, target], data[test, target]

    def stream(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(n_passes):
                for start in range(0, n_train, chunk):
                    stop = start + chunk
                    model.partial_fit(X[start:stop], y[start:stop])
        return model

    def moe(expert=None, n_experts=3):
        return MixtureOfExpertsRegressor(n_experts, expert=expert, random_state=0)

    sgd = SGDRegressor(random_state=0)
    fast = SGDRegressor(learning_rate="constant", eta0=0.05, random_state=0)
    mlp = MLPRegressor(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0
    )
    models = [
        ("batch EM, linear experts", False, lambda: moe().fit(X, y)),
        ("partial_fit, linear experts", False, lambda: stream(moe())),
        ("partial_fit, SGD experts", False, lambda: stream(moe(sgd))),
        ("one SGD streamed", False, lambda: stream(clone(sgd))),
        ("partial_fit, MLP experts", False, lambda: stream(moe(mlp))),
        ("one MLP streamed", False, lambda: stream(clone(mlp))),
        ("partial_fit, SGD experts *", True, lambda: stream(moe(sgd))),
        ("partial_fit, 8 SGD experts", False, lambda: stream(moe(sgd, 8))),
        ("partial_fit, 8 SGD experts *", True, lambda: stream(moe(sgd, 8))),
        ("partial_fit, SGD(0.05) experts", False, lambda: stream(moe(fast))),
        ("partial_fit, SGD(0.05) experts *", True, lambda: stream(moe(fast))),
        ("partial_fit, 8 SGD(0.05) experts", False, lambda: stream(moe(fast, 8))),
        ("partial_fit, 8 SGD(0.05) experts *", True, lambda: stream(moe(fast, 8))),
        ("one SGD(0.05) streamed", False, lambda: stream(clone(fast))),
    ]
    print(
        f"\npower-plant: {n_train} training rows in chunks of {chunk}, "
        f"{n_passes} passes, {y_test.size} held-out rows. SGD: "
        "SGDRegressor(random_state=0); SGD(0.05): the same with "
        "learning_rate='constant', eta0=0.05; MLP: MLPRegressor("
        "hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0); "
        "3 experts unless said; *: sample_weight rescaled to mean one per "
        "expert and minibatch (ablation, not what skmoe does)"
    )
    print(f"  {'model':<38} {'held-out R^2':>12}")
    rows = []
    for name, rescale, make in models:
        undo = _mean_one_weights() if rescale else None
        try:
            r2 = make().score(X_test, y_test)
        finally:
            if undo is not None:
                undo()
        rows.append({"model": name, "r2": r2})
        print(f"  {name:<38} {r2:12.4f}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="n = 2e4 and 1e5")
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=50.0,
        help="stop a solver at its first recorded point after this many seconds",
    )
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--streaming",
        action="store_true",
        help="only the power-plant streaming comparison (module docstring)",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if args.streaming:
        with threadpool_limits(limits=args.blas_threads, user_api="blas"):
            rows = bench_streaming(args.data_dir)
        if args.json is not None and rows:
            args.json.write_text(json.dumps(rows, indent=1))
            print(f"results written to {args.json}")
        return
    sizes = args.sizes or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"BLAS threads {args.blas_threads}, minibatch size {args.batch_size}, "
        f"{args.n_test} held-out rows"
    )
    rows = []
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        warm_up(args.batch_size)
        for n in sizes:
            t0 = time.perf_counter()
            rows.extend(bench_size(n, args))
            print(f"n={n}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    print_table(rows)
    if args.plot is not None:
        plot(rows, args.plot)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
