"""EM on Dask against EM in memory: time per iteration and peak memory vs n.

For each n, a mixture of K = 4 linear-Gaussian experts with a softmax gate
(d = 10 features) is written to a Zarr store on disk in blocks of
``--block`` rows. Every configuration then continues EM for ``--iter``
iterations (``tol=0``) from the same start (a model fitted in memory on the
first 20,000 rows) and reports the time per iteration, the time per row
relative to the in-memory path, the log-likelihood per row reached, and the
peak memory of its process tree (client and worker processes: resident set
size sampled every 20 ms, less the size before the data were read):

* ``memory``: the store read into a NumPy array, the ordinary ``fit``;
* ``dask-1``, ``dask-2``: ``dask.array.from_zarr`` on a
  ``distributed.LocalCluster`` of 1 or 2 worker processes (one thread each):
  every pass reads the blocks from disk. The workers are warmed up first
  on 2,000 rows (numba compiles its kernels once per worker process), as
  the in-memory process is by fitting the start.

Each configuration runs in its own process, so their peaks are their own.

Usage::

    python benchmarks/bench_dask.py [--sizes 100000 1000000] [--iter 3] \
        [--block 250000] [--dir /tmp/skmoe-bench-dask]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

D, K = 10, 4


def write_store(path, n, block, seed=0):
    """The mixture's rows, written block by block (never all in memory)."""
    import zarr

    if os.path.exists(os.path.join(path, "done")):
        return
    rng = np.random.RandomState(seed)
    gate = 2.0 * rng.normal(size=(D, K))
    coef = rng.normal(size=(K, D))
    intercept = 3.0 * rng.normal(size=K)
    noise = rng.uniform(0.2, 0.5, size=K)
    root = zarr.open_group(path, mode="w")
    # zarr 3's name, zarr 2's.
    create = getattr(root, "create_array", None) or root.create_dataset
    X_store = create("X", shape=(n, D), chunks=(block, D), dtype="f8")
    y_store = create("y", shape=(n,), chunks=(block,), dtype="f8")
    for start in range(0, n, block):
        stop = min(n, start + block)
        X = rng.normal(size=(stop - start, D))
        logits = X @ gate
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        z = (p.cumsum(axis=1) > rng.uniform(size=(stop - start, 1))).argmax(axis=1)
        y = np.einsum("ij,ij->i", X, coef[z]) + intercept[z]
        y += noise[z] * rng.normal(size=stop - start)
        X_store[start:stop] = X
        y_store[start:stop] = y
    open(os.path.join(path, "done"), "w").close()


class PeakRSS:
    """Peak resident memory of this process and its children, sampled."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process()
        self.peak = self.baseline = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _now(self):
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._now())
            time.sleep(0.02)

    def __enter__(self):
        self.baseline = self.peak = self._now()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())


def run_one(mode, path, n_iter):
    """One configuration, in this process; prints a JSON line."""
    import zarr

    from skmoe import MixtureOfExpertsRegressor

    warnings.simplefilter("ignore")
    root = zarr.open_group(path, mode="r")
    n = root["X"].shape[0]
    start = MixtureOfExpertsRegressor(n_experts=K, random_state=0)
    start.fit(root["X"][:20000], root["y"][:20000])
    start.set_params(warm_start=True, max_iter=n_iter, tol=0.0)
    client = cluster = None
    if mode.startswith("dask"):
        import distributed

        cluster = distributed.LocalCluster(
            n_workers=int(mode.split("-")[1]),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
        # Each worker compiles the numba kernels on its first task: a cost
        # per worker process, not per iteration, paid here on a few rows.
        import dask.array as da

        warm = MixtureOfExpertsRegressor(n_experts=2, max_iter=2, random_state=0)
        chunks = (500, D)
        warm.fit(
            da.from_array(root["X"][:2000], chunks=chunks),
            da.from_array(root["y"][:2000], chunks=500),
        )
    with PeakRSS() as mem:
        if mode == "memory":
            X, y = root["X"][:], root["y"][:]
        else:
            import dask.array as da

            X = da.from_zarr(path, component="X")
            y = da.from_zarr(path, component="y")
        t0 = time.perf_counter()
        start.fit(X, y)
        seconds = time.perf_counter() - t0
    if client is not None:
        client.close()
        cluster.close()
    print(
        json.dumps(
            {
                "mode": mode,
                "n": n,
                "n_iter": int(start.n_iter_),
                "s_per_iter": seconds / start.n_iter_,
                "peak_mb": (mem.peak - mem.baseline) / 2**20,
                "data_mb": n * (D + 1) * 8 / 2**20,
                "log_lik_per_row": start.log_likelihood_ / n,
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--iter", type=int, default=3)
    parser.add_argument("--block", type=int, default=250_000)
    parser.add_argument("--dir", default="/tmp/skmoe-bench-dask")
    parser.add_argument("--modes", nargs="+", default=["memory", "dask-1", "dask-2"])
    parser.add_argument(
        "--run", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run:
        run_one(args.run[0], args.run[1], args.iter)
        return
    rows = []
    for n in args.sizes:
        path = os.path.join(args.dir, f"n{n}.zarr")
        write_store(path, n, args.block)
        for mode in args.modes:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--iter",
                    str(args.iter),
                    "--run",
                    mode,
                    path,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    base = {r["n"]: r for r in rows if r["mode"] == "memory"}
    print(
        f"{'n':>10} {'path':>8} {'s/iter':>8} {'vs memory':>9} {'peak MB':>8} "
        f"{'data MB':>8} {'log-lik/row':>12}"
    )
    for r in rows:
        ratio = (
            r["s_per_iter"] / base[r["n"]]["s_per_iter"] if r["n"] in base else np.nan
        )
        print(
            f"{r['n']:>10} {r['mode']:>8} {r['s_per_iter']:>8.3f} {ratio:>8.1f}x "
            f"{r['peak_mb']:>8.0f} {r['data_mb']:>8.0f} {r['log_lik_per_row']:>12.6f}"
        )


if __name__ == "__main__":
    main()
