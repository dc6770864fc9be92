"""Benchmark the fused E-step against its memory floor and a NumPy/SciPy version.

For each number of rows ``n`` (and ``K`` experts) this times, best of
``--repeat`` runs with ``time.perf_counter``:

* ``floor``: ``np.add(log_gate, log_lik, out=buf)``, which reads the same two
  (n, K) inputs and writes one (n, K) output once: the memory traffic no
  E-step can avoid;
* ``e_step``: ``skmoe._kernels.e_step(log_gate, log_lik, out=(resp, log_prob))``
  into preallocated buffers, as an EM loop reuses them (same conditions as the
  floor), compiled beforehand so compilation is excluded;
* ``serial``: the same call forced onto one thread (like the floor), to
  separate the kernel's own cost from the threading;
* ``e_step+alloc``: the same call allocating fresh outputs (its default), which
  adds the kernel's page-zeroing of the new output pages;
* ``reference``: ``e_step_reference`` (``scipy.special.logsumexp`` and
  ``softmax``), a plain NumPy/SciPy implementation;
* ``exp``: skmoe's vectorised ``exp`` alone over the same ``n * K`` entries
  (one thread, one input read, one output written): the transcendental work
  no E-step avoids, a compute floor beside the memory floor.  Where ``exp``
  is more than twice ``floor`` (data in cache) no kernel, even one spreading
  the exponentials perfectly over both cores, can be within 2x of the floor.

and prints n, K, the times in ms, ``e_step / floor``, ``reference / e_step``
and the effective bandwidth (bytes read + written, divided by the time).

Run::

    python benchmarks/bench_estep.py
    python benchmarks/bench_estep.py --sizes 100000 1000000 --dtype float32 \
        --json benchmarks/results/estep.json
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skmoe._kernels import (  # noqa: E402
    _config,
    _dispatch,
    e_step,
    e_step_reference,
)
from skmoe._kernels._numba import _exp_nonpos_array  # noqa: E402

DEFAULT_SIZES = [10_000, 100_000, 1_000_000, 2_000_000]


def best_time(func, repeat):
    """Best wall-clock time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def make_data(n, K, dtype, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, K))
    logits -= logits.max(axis=1, keepdims=True)
    log_gate = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    log_lik = rng.normal(-1.0, 3.0, size=(n, K))
    return log_gate.astype(dtype), log_lik.astype(dtype)


def warm_up(K, dtype):
    """Compile the kernels for this dtype and start the threads."""
    for n in (16, _config.PARALLEL_MIN_ENTRIES // K + 1):
        log_gate, log_lik = make_data(n, K, dtype, seed=1)
        e_step(log_gate, log_lik)
    _exp_nonpos_array(log_gate.ravel(), np.empty(log_gate.size, dtype=dtype))


def bench_one(n, K, dtype, repeat):
    log_gate, log_lik = make_data(n, K, dtype)
    resp = np.empty((n, K), dtype=dtype)
    log_prob = np.empty(n, dtype=dtype)
    floor_out = np.empty((n, K), dtype=dtype)
    itemsize = np.dtype(dtype).itemsize

    # touch every output page once so that no timing includes first faults
    np.add(log_gate, log_lik, out=floor_out)
    e_step(log_gate, log_lik, out=(resp, log_prob))
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    err = max(
        float(np.max(np.abs(resp - ref_resp))),
        float(np.max(np.abs(log_prob - ref_log_prob) / (1 + np.abs(ref_log_prob)))),
    )
    if not err < tol:
        raise AssertionError(f"e_step disagrees with the reference: {err:.3g}")

    t_floor = best_time(lambda: np.add(log_gate, log_lik, out=floor_out), repeat)
    t_estep = best_time(lambda: e_step(log_gate, log_lik, out=(resp, log_prob)), repeat)
    t_serial = best_time(
        lambda: _dispatch._e_step_numpy(
            log_gate, log_lik, out=(resp, log_prob), parallel=False
        ),
        repeat,
    )
    t_alloc = best_time(lambda: e_step(log_gate, log_lik), repeat)
    exp_in = log_gate.ravel()  # log-probabilities: the exp's domain, x <= 0
    exp_out = np.empty_like(exp_in)
    _exp_nonpos_array(exp_in, exp_out)
    t_exp = best_time(lambda: _exp_nonpos_array(exp_in, exp_out), repeat)
    # the reference is 10-50x slower: fewer repeats keep the default run short
    t_ref = best_time(lambda: e_step_reference(log_gate, log_lik), min(repeat, 3))

    bytes_floor = 3 * n * K * itemsize
    bytes_estep = 3 * n * K * itemsize + n * itemsize
    return {
        "n": n,
        "K": K,
        "dtype": np.dtype(dtype).name,
        "kernel": "threads" if n * K >= _config.PARALLEL_MIN_ENTRIES else "serial",
        "floor_ms": 1e3 * t_floor,
        "e_step_ms": 1e3 * t_estep,
        "e_step_serial_ms": 1e3 * t_serial,
        "e_step_alloc_ms": 1e3 * t_alloc,
        "reference_ms": 1e3 * t_ref,
        "exp_only_ms": 1e3 * t_exp,
        "exp_only_over_floor": t_exp / t_floor,
        "e_step_over_floor": t_estep / t_floor,
        "serial_over_floor": t_serial / t_floor,
        "reference_over_e_step": t_ref / t_estep,
        "e_step_GBps": bytes_estep / t_estep / 1e9,
        "floor_GBps": bytes_floor / t_floor / 1e9,
        "max_abs_err_vs_reference": err,
    }


def print_table(rows):
    header = (
        f"{'n':>9} {'K':>3} {'kernel':>8} {'floor':>8} {'e_step':>8} "
        f"{'serial':>8} {'+alloc':>8} {'reference':>10} {'exp':>8} {'e/floor':>8} "
        f"{'ser/fl':>7} {'exp/fl':>7} {'ref/e':>7} {'e GB/s':>7} {'fl GB/s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['n']:>9} {r['K']:>3} {r['kernel']:>8} {r['floor_ms']:>8.3f} "
            f"{r['e_step_ms']:>8.3f} {r['e_step_serial_ms']:>8.3f} "
            f"{r['e_step_alloc_ms']:>8.3f} {r['reference_ms']:>10.3f} "
            f"{r['exp_only_ms']:>8.3f} "
            f"{r['e_step_over_floor']:>7.2f}x {r['serial_over_floor']:>6.2f}x "
            f"{r['exp_only_over_floor']:>6.2f}x "
            f"{r['reference_over_e_step']:>6.1f}x {r['e_step_GBps']:>7.2f} "
            f"{r['floor_GBps']:>7.2f}"
        )
    print("(times in ms, best of --repeat; e_step and serial write into")
    print(" preallocated outputs, +alloc allocates fresh ones; kernel = what e_step")
    print(" dispatched to; exp = the exponentials alone, one thread;")
    print(" GB/s = bytes read + written / time)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    parser.add_argument("--n-experts", type=int, default=8)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args(argv)

    import numba  # noqa: PLC0415 - only for the report

    dtype = np.dtype(args.dtype).type
    t0 = time.perf_counter()
    warm_up(args.n_experts, dtype)
    compile_s = time.perf_counter() - t0
    meta = {
        "numba": numba.__version__,
        "numpy": np.__version__,
        "kernel_threads": _dispatch._n_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "parallel_min_entries": _config.PARALLEL_MIN_ENTRIES,
        "load_avg_before": os.getloadavg(),
        "warm_up_compile_s": compile_s,
    }
    print(
        f"numba {meta['numba']}, {meta['kernel_threads']} kernel threads, "
        f"{meta['cpu_count']} CPUs, "
        f"dtype {args.dtype}, threads from n*K >= "
        f"{meta['parallel_min_entries']}, "
        f"warm-up (compile) {compile_s:.1f} s, "
        f"load average {meta['load_avg_before'][0]:.2f}"
    )
    rows = [bench_one(n, args.n_experts, dtype, args.repeat) for n in args.sizes]
    meta["load_avg_after"] = os.getloadavg()
    print_table(rows)
    print(f"load average after: {meta['load_avg_after'][0]:.2f}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
