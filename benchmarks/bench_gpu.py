"""Benchmark skmoe on a GPU (CuPy): the fused E-step, and full fits against the CPU.

Two tables, all GPU times taken with CUDA events or after a device
synchronisation, best of ``--repeat`` runs after a warm-up (so the NVRTC
compilation of the kernels is excluded):

1. E-step throughput at n = ``--estep-n`` rows, K = ``--n-experts``, float64
   and float32:

   * ``fused``: ``skmoe._kernels.e_step(log_gate, log_lik)`` on CuPy arrays,
     which dispatches to the fused CUDA kernel of ``skmoe._kernels._cupy``;
   * ``xp twin``: ``_reference._e_step_xp(log_gate, log_lik, xp)`` with the
     array-API namespace of CuPy arrays, the array-API version (one pass over
     memory per operation);
   * ``copy``: ``cupy.copyto(dst, src)`` with ``src`` as large as the two
     inputs, the device's achievable bandwidth (bytes read + written / time).

   Effective bandwidth of an E-step = (read 2 n K + write n K + n) x itemsize
   bytes / time; the target is at least 50% of the copy bandwidth.

2. Full fits (``max_iter=20, tol=0``: a fixed number of EM iterations) of
   ``MixtureOfExpertsRegressor(4, expert=Ridge())`` on
   ``make_moe_regression(n, n_features=20, n_experts=4)`` and
   ``MixtureOfExpertsClassifier(4, expert=LogisticRegression())`` on a
   3-class ``make_classification(n, n_features=20)``, with NumPy inputs (CPU)
   and with CuPy inputs under ``sklearn.config_context(array_api_dispatch=True)``
   (GPU), on the same machine; seconds per fit and per EM iteration, the
   GPU/CPU speed-up (target: at least 10x) and the agreement of the two fits'
   predictions on held-out rows (mean absolute difference).

Without CuPy or a GPU it prints ``no CuPy/GPU: nothing measured`` and exits
with status 0.

Run::

    python benchmarks/bench_gpu.py
    python benchmarks/bench_gpu.py --estep-n 1000000 --fit-n 200000 \
        --fit-n-clf 100000 --json benchmarks/results/gpu.json
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
# scikit-learn's array-API dispatch refuses to run unless SciPy's own array-API
# support is on, which SciPy reads once, when it is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import sklearn  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor  # noqa: E402
from skmoe._array_api import array_namespace  # noqa: E402
from skmoe._kernels import _dispatch, e_step, e_step_reference  # noqa: E402
from skmoe._kernels._reference import _e_step_xp  # noqa: E402
from skmoe.datasets import make_moe_regression  # noqa: E402

NOTHING_MEASURED = "no CuPy/GPU: nothing measured"


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


def import_cupy():
    """CuPy if it imports and sees a usable GPU, else ``(None, reason)``."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        return None, f"CuPy is not installed ({exc})"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None, "no CUDA device"
        cupy.zeros(1).sum().item()  # a context, an allocation and a kernel
    except Exception as exc:  # CUDARuntimeError, driver/toolkit mismatch, ...
        return None, f"CUDA is not usable ({type(exc).__name__}: {exc})"
    return cupy, None


def _cuda_version(v):
    return f"{v // 1000}.{(v % 1000) // 10}"


def machine_info(cupy):
    import numba  # noqa: PLC0415 - only for the report

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"]
    if isinstance(name, bytes):
        name = name.decode()
    return {
        "gpu": name,
        "gpu_memory_GiB": device.mem_info[1] / 2**30,
        "gpu_sms": device.attributes["MultiProcessorCount"],
        "compute_capability": device.compute_capability,
        "cuda_runtime": _cuda_version(cupy.cuda.runtime.runtimeGetVersion()),
        "cuda_driver": _cuda_version(cupy.cuda.runtime.driverGetVersion()),
        "cupy": cupy.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": _dispatch._n_threads(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def gpu_best_time(cupy, repeat, func, *args, warmup=1):
    """Best GPU time of ``func(*args)`` over ``repeat`` runs, by CUDA events (s).

    For functions that only enqueue work on the current stream (kernels,
    copies), so the events bracket exactly that work.
    """
    for _ in range(warmup):
        func(*args)
    cupy.cuda.Device().synchronize()
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    best = float("inf")
    for _ in range(repeat):
        start.record()
        func(*args)
        stop.record()
        stop.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return best


def wall_best_time(func, repeat, sync=None):
    """Best wall-clock time of ``func()`` (s), synchronising the GPU if given."""
    best = float("inf")
    for _ in range(repeat):
        if sync is not None:
            sync()
        t0 = time.perf_counter()
        func()
        if sync is not None:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------
# 1. E-step
# ---------------------------------------------------------------------------


def estep_data(cupy, n, K, dtype, seed=0):
    """Normalised gate log-probabilities and log-likelihoods, on the GPU."""
    rng = cupy.random.default_rng(seed)
    logits = rng.standard_normal((n, K), dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    log_gate = logits - cupy.log(cupy.exp(logits).sum(axis=1, keepdims=True))
    del logits
    log_lik = rng.standard_normal((n, K), dtype=np.float64) * 3.0 - 1.0
    return log_gate.astype(dtype), log_lik.astype(dtype)


def estep_row(cupy, n, K, dtype, repeat, n_check=200_000):
    itemsize = np.dtype(dtype).itemsize
    pool = cupy.get_default_memory_pool()

    # copy bandwidth: one array as large as the two E-step inputs together
    src = cupy.ones(2 * n * K, dtype=dtype)
    dst = cupy.empty_like(src)
    t_copy = gpu_best_time(cupy, repeat, cupy.copyto, dst, src)
    copy_bytes = 2 * src.nbytes
    del src, dst
    pool.free_all_blocks()

    log_gate, log_lik = estep_data(cupy, n, K, dtype)
    resp, log_prob = e_step(log_gate, log_lik)  # compiles the kernel

    # correctness: fused kernel against the NumPy/SciPy oracle on a subset
    m = min(n, n_check)
    ref_resp, ref_log_prob = e_step_reference(
        cupy.asnumpy(log_gate[:m]), cupy.asnumpy(log_lik[:m])
    )
    err = max(
        float(np.max(np.abs(cupy.asnumpy(resp[:m]) - ref_resp))),
        float(
            np.max(
                np.abs(cupy.asnumpy(log_prob[:m]) - ref_log_prob)
                / (1 + np.abs(ref_log_prob))
            )
        ),
    )
    tol = 1e-10 if dtype == np.float64 else 1e-4
    if not err < tol:
        raise AssertionError(f"fused E-step disagrees with the reference: {err:.3g}")
    # the twin gets the namespace that e_step would have given it
    xp = array_namespace(log_gate)
    xp_resp, xp_log_prob = _e_step_xp(log_gate, log_lik, xp)
    err_xp = float(cupy.max(cupy.abs(resp - xp_resp)).item())
    del resp, log_prob, xp_resp, xp_log_prob
    pool.free_all_blocks()

    t_fused = gpu_best_time(cupy, repeat, e_step, log_gate, log_lik)
    t_xp = gpu_best_time(cupy, repeat, _e_step_xp, log_gate, log_lik, xp)
    del log_gate, log_lik
    pool.free_all_blocks()

    estep_bytes = (2 * n * K + n * K + n) * itemsize
    copy_gbps = copy_bytes / t_copy / 1e9
    fused_gbps = estep_bytes / t_fused / 1e9
    return {
        "n": n,
        "K": K,
        "dtype": np.dtype(dtype).name,
        "fused_ms": 1e3 * t_fused,
        "xp_twin_ms": 1e3 * t_xp,
        "copy_ms": 1e3 * t_copy,
        "fused_GBps": fused_gbps,
        "xp_twin_GBps": estep_bytes / t_xp / 1e9,
        "copy_GBps": copy_gbps,
        "fused_over_copy_bandwidth": fused_gbps / copy_gbps,
        "xp_twin_over_fused_time": t_xp / t_fused,
        "max_err_vs_reference": err,
        "max_abs_resp_diff_vs_xp_twin": err_xp,
    }


def print_estep_table(rows):
    print("\nE-step on the GPU (times in ms, best of --repeat; GB/s = bytes read")
    print("+ written / time; copy = cupy.copyto of an array as large as both inputs)")
    print(
        "| n | K | dtype | fused ms | xp twin ms | copy ms | fused GB/s "
        "| copy GB/s | fused / copy | xp twin / fused |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['K']} | {r['dtype']} | {r['fused_ms']:.3f} "
            f"| {r['xp_twin_ms']:.3f} | {r['copy_ms']:.3f} | {r['fused_GBps']:.0f} "
            f"| {r['copy_GBps']:.0f} | {100 * r['fused_over_copy_bandwidth']:.0f}% "
            f"| {r['xp_twin_over_fused_time']:.1f}x |"
        )
    print("(target: fused >= 50% of the copy bandwidth)")


# ---------------------------------------------------------------------------
# 2. Full fits, GPU vs CPU
# ---------------------------------------------------------------------------


def fit_row(cupy, task, n, n_test, repeat, cpu_repeat, warmup_n=10_000):
    if task == "regression":
        X, y = make_moe_regression(
            n + n_test, n_features=20, n_experts=4, random_state=0
        )

        def make():
            return MixtureOfExpertsRegressor(
                n_experts=4,
                expert=Ridge(alpha=1.0),
                max_iter=20,
                tol=0,
                random_state=0,
            )

        def predict(est, X):
            return est.predict(X)

    else:
        X, y = make_classification(
            n + n_test, n_features=20, n_informative=10, n_classes=3, random_state=0
        )

        def make():
            return MixtureOfExpertsClassifier(
                n_experts=4,
                expert=LogisticRegression(),
                max_iter=20,
                tol=0,
                random_state=0,
            )

        def predict(est, X):
            return est.predict_proba(X)

    X_train, y_train, X_test = X[:n], y[:n], X[n:]
    row = {"task": task, "n": n, "n_test": n_test, "d": X.shape[1], "K": 4}

    # CPU (NumPy + numba); the warm-up fit compiles the numba kernels
    make().fit(X_train[:warmup_n], y_train[:warmup_n])
    cpu = make()
    t_cpu = wall_best_time(lambda: cpu.fit(X_train, y_train), cpu_repeat)
    pred_cpu = np.asarray(predict(cpu, X_test))

    # GPU (CuPy under array-API dispatch); the warm-up fit compiles the
    # CUDA kernels and initialises cuBLAS/cuSOLVER
    sync = cupy.cuda.Device().synchronize
    Xg_train, yg_train = cupy.asarray(X_train), cupy.asarray(y_train)
    Xg_test = cupy.asarray(X_test)
    gpu = make()
    try:
        with sklearn.config_context(array_api_dispatch=True):
            make().fit(Xg_train[:warmup_n], yg_train[:warmup_n])
            t_gpu = wall_best_time(lambda: gpu.fit(Xg_train, yg_train), repeat, sync)
            pred_gpu_raw = predict(gpu, Xg_test)
    except Exception as exc:  # report it, and go on with the other fits
        row.update(
            cpu_s_per_fit=t_cpu,
            cpu_n_iter=int(cpu.n_iter_),
            gpu_error=f"{type(exc).__name__}: {exc}",
        )
        return row
    pred_gpu = cupy.asnumpy(pred_gpu_raw)  # .get() for CuPy arrays

    row.update(
        cpu_s_per_fit=t_cpu,
        gpu_s_per_fit=t_gpu,
        cpu_n_iter=int(cpu.n_iter_),
        gpu_n_iter=int(gpu.n_iter_),
        cpu_ms_per_iteration=1e3 * t_cpu / cpu.n_iter_,
        gpu_ms_per_iteration=1e3 * t_gpu / gpu.n_iter_,
        speedup=t_cpu / t_gpu,
        predict_returns_cupy=isinstance(pred_gpu_raw, cupy.ndarray),
        prediction_mean_abs_diff=float(np.mean(np.abs(pred_gpu - pred_cpu))),
        cpu_log_likelihood=float(cpu.log_likelihood_),
        gpu_log_likelihood=float(gpu.log_likelihood_),
    )
    if task == "regression":
        row["y_test_std"] = float(np.std(y[n:]))
    else:
        row["label_agreement"] = float(
            np.mean(pred_gpu.argmax(axis=1) == pred_cpu.argmax(axis=1))
        )
    return row


def print_fit_table(rows):
    print("\nFull fits, 20 EM iterations (GPU: CuPy + array_api_dispatch; CPU: NumPy)")
    print(
        "| task | n | CPU s / fit | GPU s / fit | CPU ms / iter | GPU ms / iter "
        "| speed-up | held-out mean abs diff |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "gpu_error" in r:
            print(
                f"| {r['task']} | {r['n']:,} | {r['cpu_s_per_fit']:.2f} "
                f"| failed: {r['gpu_error']} | | | | |"
            )
            continue
        print(
            f"| {r['task']} | {r['n']:,} | {r['cpu_s_per_fit']:.2f} "
            f"| {r['gpu_s_per_fit']:.2f} | {r['cpu_ms_per_iteration']:.1f} "
            f"| {r['gpu_ms_per_iteration']:.1f} | {r['speedup']:.1f}x "
            f"| {r['prediction_mean_abs_diff']:.2e} |"
        )
    print("(target: speed-up >= 10x; the mean abs diff is of predict for the")
    print(" regressor, of predict_proba for the classifier)")


# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estep-n", type=int, default=10**7)
    parser.add_argument("--n-experts", type=int, default=8)
    parser.add_argument("--fit-n", type=int, default=2_000_000)
    parser.add_argument("--fit-n-clf", type=int, default=500_000)
    parser.add_argument("--n-test", type=int, default=100_000)
    parser.add_argument(
        "--parts", nargs="+", choices=["estep", "fit"], default=["estep", "fit"]
    )
    parser.add_argument("--repeat", type=int, default=5, help="GPU repeats")
    parser.add_argument(
        "--cpu-repeat", type=int, default=1, help="repeats of the (slow) CPU fits"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH")
    args = parser.parse_args(argv)

    cupy, reason = import_cupy()
    if cupy is None:
        print(f"{NOTHING_MEASURED} ({reason})")
        return 0

    meta = machine_info(cupy)
    print(
        f"{meta['gpu']} ({meta['gpu_sms']} SMs, {meta['gpu_memory_GiB']:.0f} GiB), "
        f"CUDA runtime {meta['cuda_runtime']} / driver {meta['cuda_driver']}, "
        f"CuPy {meta['cupy']}, scikit-learn {meta['sklearn']}, NumPy "
        f"{meta['numpy']}, numba {meta['numba']} ({meta['numba_threads']} "
        f"threads), {meta['cpu_count']} CPUs"
    )
    result = {"meta": meta}
    if "estep" in args.parts:
        rows = [
            estep_row(cupy, args.estep_n, args.n_experts, dtype, args.repeat)
            for dtype in (np.float64, np.float32)
        ]
        print_estep_table(rows)
        result["estep"] = rows
    if "fit" in args.parts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            rows = [
                fit_row(cupy, task, n, args.n_test, args.repeat, args.cpu_repeat)
                for task, n in (
                    ("regression", args.fit_n),
                    ("classification", args.fit_n_clf),
                )
            ]
        print_fit_table(rows)
        result["fit"] = rows
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
