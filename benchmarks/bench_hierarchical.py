"""Benchmark hierarchical against flat mixtures of experts with as many experts.

For each number of rows ``n`` and of leaves ``L`` (a binary tree of depth
``log2 L`` against a flat mixture of ``L`` experts, linear experts on
:func:`skmoe.datasets.make_hierarchical_regimes` data with 4 features) this
times, with ``time.perf_counter``:

* ``iter``: one EM iteration (the M-step of experts and gates, then the
  E-step), as the mean over ``--iter-repeat`` iterations of a warm-started
  fit (``warm_start=True, max_iter=k, tol=0``) continuing from a model fitted
  by one EM iteration (not timed);
* ``fit``: a full fit from scratch (default initialisation of each estimator:
  ``'hierarchical'`` for the tree, ``'kmeans'`` for the flat mixture) with
  ``max_iter=--max-iter`` and ``tol=--tol``, with its number of iterations
  and final objective.

The flat mixture with many experts is slow (its single softmax gate over
``L`` classes is refitted on all rows every iteration), so by default the
grid is trimmed to keep the run near 3 minutes on a 2-core machine: full fits
only for ``n <= --fit-max-n`` and ``L <= --fit-max-leaves``, and iterations
at ``n > 10^4`` only for ``L <= --max-leaves-large``. ``--full`` lifts both
leaf caps (about 10 minutes on 2 cores); ``--quick`` times ``n = 10^4`` with
2 to 16 leaves only (under a minute).

and prints the absolute times beside the ratios tree / flat measured in the
same run. numba kernels are compiled before timing. BLAS runs on one thread
by default (``--blas-threads``): the gates' and experts' matrices are small,
and on a shared machine BLAS threads waiting for busy cores slowed EM
iterations down by up to 20 times in our measurements.

Run::

    python benchmarks/bench_hierarchical.py            # about 3 minutes
    python benchmarks/bench_hierarchical.py --quick    # under a minute
    python benchmarks/bench_hierarchical.py --full --json results/hme.json
"""

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skmoe import (  # noqa: E402
    DeadExpertWarning,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsRegressor,
)
from skmoe.datasets import make_hierarchical_regimes  # noqa: E402

DEFAULT_SIZES = [10_000, 100_000]
DEFAULT_LEAVES = [2, 4, 8, 16, 32, 64]


def make_models(n_leaves, **params):
    depth = int(round(np.log2(n_leaves)))
    if 2**depth != n_leaves:
        raise ValueError(f"--leaves must be powers of 2; got {n_leaves}.")
    return {
        "flat": MixtureOfExpertsRegressor(n_leaves, **params),
        "tree": HierarchicalMixtureOfExpertsRegressor(depth, **params),
    }


def time_iteration(model, X, y, repeat):
    """Mean seconds per EM iteration of a warm-started fit."""
    model.set_params(max_iter=1, tol=0.0, warm_start=False).fit(X, y)
    model.set_params(max_iter=repeat, warm_start=True)
    start = time.perf_counter()
    model.fit(X, y)
    return (time.perf_counter() - start) / repeat


def time_fit(model, X, y, max_iter, tol):
    model.set_params(max_iter=max_iter, tol=tol, warm_start=False)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, int(model.n_iter_), float(model.lower_bound_)


def warm_up():
    """Compile the numba kernels (and start their threads) before any timing."""
    for n in (200, 100_000):
        X, y = make_hierarchical_regimes(n, n_features=4, random_state=1)
        for model in make_models(2, random_state=0, max_iter=1).values():
            model.fit(X, y)


def run(args):
    rows = []
    for n in args.sizes:
        X, y = make_hierarchical_regimes(n, n_features=4, noise=0.3, random_state=0)
        for n_leaves in args.leaves:
            if n > 10_000 and n_leaves > args.max_leaves_large:
                continue
            full = n <= args.fit_max_n and n_leaves <= args.fit_max_leaves
            record = {"n": n, "leaves": n_leaves, "depth": int(np.log2(n_leaves))}
            for name, model in make_models(n_leaves, random_state=0).items():
                record[f"{name}_iter_s"] = time_iteration(model, X, y, args.iter_repeat)
                if full:
                    t, it, bound = time_fit(model, X, y, args.max_iter, args.tol)
                    record[f"{name}_fit_s"] = t
                    record[f"{name}_n_iter"] = it
                    record[f"{name}_objective"] = bound
            rows.append(record)
            print_row(record, header=len(rows) == 1)
    return rows


def _fmt(value, spec):
    if value is not None:
        return format(value, spec)
    return "-".rjust(int("".join(c for c in spec.split(".")[0] if c.isdigit())))


def print_row(r, header=False):
    if header:
        print(
            f"{'n':>7} {'leaves':>6} {'depth':>5} | {'flat s/it':>9} "
            f"{'tree s/it':>9} {'tree/flat':>9} | {'flat fit s':>10} {'(its)':>5} "
            f"{'tree fit s':>10} {'(its)':>5} {'tree/flat':>9} | "
            f"{'flat obj':>8} {'tree obj':>8}"
        )
    fit = r.get("tree_fit_s")
    ratio_fit = fit / r["flat_fit_s"] if fit is not None else None
    print(
        f"{r['n']:>7} {r['leaves']:>6} {r['depth']:>5} | "
        f"{r['flat_iter_s']:>9.4f} {r['tree_iter_s']:>9.4f} "
        f"{r['tree_iter_s'] / r['flat_iter_s']:>9.2f} | "
        f"{_fmt(r.get('flat_fit_s'), '>10.3f')} {_fmt(r.get('flat_n_iter'), '>5d')} "
        f"{_fmt(fit, '>10.3f')} {_fmt(r.get('tree_n_iter'), '>5d')} "
        f"{_fmt(ratio_fit, '>9.2f')} | "
        f"{_fmt(r.get('flat_objective'), '>8.3f')} "
        f"{_fmt(r.get('tree_objective'), '>8.3f')}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--leaves", type=int, nargs="+", default=None)
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument(
        "--fit-max-n",
        type=int,
        default=10_000,
        help="full fits only for n up to this (default 10000)",
    )
    parser.add_argument(
        "--fit-max-leaves",
        type=int,
        default=16,
        help="full fits only for up to this many leaves (default 16)",
    )
    parser.add_argument(
        "--max-leaves-large",
        type=int,
        default=16,
        help="for n > 10^4, time only up to this many leaves (default 16)",
    )
    parser.add_argument(
        "--full", action="store_true", help="the whole grid (lifts the leaf caps)"
    )
    parser.add_argument(
        "--iter-repeat", type=int, default=1, help="iterations per timing"
    )
    parser.add_argument(
        "--quick", action="store_true", help="n=10^4 and 2 to 16 leaves only"
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads (threadpoolctl; default 1, 0: leave as is)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [10_000] if args.quick else DEFAULT_SIZES
    if args.leaves is None:
        args.leaves = [2, 4, 8, 16] if args.quick else DEFAULT_LEAVES
    if args.full:
        args.fit_max_leaves = args.max_leaves_large = max(args.leaves)

    limiter = None
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.blas_threads, user_api="blas")
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
    except ImportError:  # pragma: no cover
        blas = None

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}; BLAS {blas}"
    )
    print(
        f"# per-iteration: mean over a warm-started fit of {args.iter_repeat} "
        f"iterations (n > 10^4: leaves <= {args.max_leaves_large}); full fit: "
        f"max_iter={args.max_iter}, tol={args.tol}, n <= {args.fit_max_n}, "
        f"leaves <= {args.fit_max_leaves}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DeadExpertWarning)
        warm_up()
        rows = run(args)
    total = time.perf_counter() - start
    print(f"# total {total:.1f} s")
    if limiter is not None:
        limiter.restore_original_limits()
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg()[0],
            "blas": blas,
            "max_iter": args.max_iter,
            "tol": args.tol,
            "iter_repeat": args.iter_repeat,
            "total_s": total,
        }
        args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
        print(f"# wrote {args.json}")


if __name__ == "__main__":
    main()
