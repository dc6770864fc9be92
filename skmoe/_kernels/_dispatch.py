"""Public kernel entry points: validation, allocation and dispatch.

NumPy arrays go to the numba kernels of :mod:`._numba` (one thread below
``PARALLEL_MIN_ENTRIES`` entries, chunks of rows in threads above: see
:func:`_map_chunks`, which the other kernel modules use too); arrays of any
other array-API namespace (PyTorch, array_api_strict, ...) go to the
array-API twins of :mod:`._reference`, except the E-step of CuPy arrays,
which has its own fused CUDA kernel (:mod:`._cupy`).  CuPy is never imported
here: the namespace is read from the inputs.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._array_api import array_namespace
from . import _config
from ._cupy import e_step_cupy
from ._reference import (
    _e_step_xp,
    _float_dtype,
    _gaussian_log_likelihood_xp,
)

__all__ = ["e_step", "gaussian_log_likelihood"]


def _numba_kernels():
    """The numba kernels module, imported on first use.

    Importing numba costs most of a second; deferring it keeps ``import
    skmoe`` fast.  (After the first call this is a ``sys.modules`` lookup.)
    """
    from . import _numba

    return _numba


def _foreign_namespace(*arrays):
    """The array namespace of the inputs; ``numpy`` for the NumPy + numba path.

    NumPy arrays (and lists, scalars: anything array_api_compat does not
    recognise as an array) give ``numpy``.
    """
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np
    try:
        xp = array_namespace(*arrays)
    except TypeError:
        if any(hasattr(a, "__array_namespace__") for a in arrays):
            raise  # e.g. arrays from two different namespaces
        return np
    name = getattr(xp, "__name__", "")
    if name == "numpy" or name.endswith(".numpy"):
        return np
    return xp


def _is_cupy(xp):
    """Whether ``xp`` is CuPy (or array_api_compat's wrapper of it)."""
    return "cupy" in getattr(xp, "__name__", "")


def _use_parallel(shape, parallel):
    """One thread for small problems, several for large ones."""
    if parallel is None:
        return shape[0] * shape[1] >= _config.PARALLEL_MIN_ENTRIES
    return bool(parallel)


# The worker threads, created on first use: (pid, size, executor). A pool
# inherited through fork() has no threads in the child, so a child makes its
# own.
_POOL = (None, 0, None)
_POOL_LOCK = threading.Lock()


def _n_threads():
    """Threads for the kernels on large problems: ``NUMBA_NUM_THREADS`` (all
    cores by default; joblib's workers set it to their share)."""
    import numba

    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _workers(n):
    """A thread pool of at least ``n`` workers, for this process."""
    global _POOL
    with _POOL_LOCK:
        pid, size, pool = _POOL
        if pid != os.getpid() or size < n:
            if pid == os.getpid():
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="skmoe")
            _POOL = (os.getpid(), n, pool)
        return pool


def _map_chunks(fn, n, step, n_threads):
    """``[fn(start, stop) for each chunk of step rows]``, in order, by ``n_threads``.

    The calling thread works too, and the chunks are handed out as threads
    free up, so that a thread descheduled on a busy machine delays the call
    by one chunk, not by a whole share. ``fn`` must release the GIL (a
    ``nogil`` numba kernel) for the threads to run at once.
    """
    starts = range(0, n, step)
    results = [None] * len(starts)
    if n_threads == 1 or len(starts) == 1:
        for j, start in enumerate(starts):
            results[j] = fn(start, min(start + step, n))
        return results
    todo = iter(enumerate(starts))
    lock = threading.Lock()

    def work():
        while True:
            with lock:  # each chunk is taken once
                j, start = next(todo, (None, None))
            if j is None:
                return
            results[j] = fn(start, min(start + step, n))

    pool = _workers(n_threads - 1)
    futures = [pool.submit(work) for _ in range(n_threads - 1)]
    work()
    for future in futures:
        future.result()
    return results


# Rows per chunk of the threaded reductions (a fixed size, so that the order
# of the partial sums, and with it the result, does not depend on the threads).
_CHUNK_ROWS = 16384


def _heavy_chunk_rows(n):
    """Rows per chunk for kernels with a few hundred products per row (the
    gate's Hessian, the fused EM pass): smaller chunks than the others' are
    worth a thread, and from 4,096 rows there are at least four, so that two
    threads share the work evenly (10,000 rows in four, not one). The size
    depends on ``n`` only, so the result does not depend on the threads."""
    return min(4096, max(1024, -(-n // 4)))


def _sum_chunks(fn, n, n_entries, chunk_rows=_CHUNK_ROWS):
    """``fn(0, n)``, or on large problems its sum over chunks, in threads.

    ``fn(lo, hi)`` returns a tuple of partial sums over rows ``lo:hi``
    (floats or arrays). From ``PARALLEL_MIN_ENTRIES`` entries the rows are
    cut into chunks of ``chunk_rows`` (fixed per kernel: smaller for kernels
    that do more per row) and the chunks' tuples added in chunk order, so
    that the result does not depend on the number of threads.
    """
    if n_entries < _config.PARALLEL_MIN_ENTRIES:
        return fn(0, n)
    parts = _map_chunks(fn, n, chunk_rows, _n_threads())
    total = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            total[i] = total[i] + value
    return tuple(total)


def _run_rows(kernel, rows, args, parallel):
    """``kernel(*row_slices, *args)`` over all rows, in threads when ``parallel``.

    ``rows`` are arrays split along their first axis; ``kernel`` is a
    ``nogil`` numba kernel whose rows do not interact, so any split gives
    bitwise the same result (several chunks per thread, see
    :func:`_map_chunks`).
    """
    n = rows[0].shape[0]
    n_threads = _n_threads() if parallel else 1
    if n_threads == 1:
        kernel(*rows, *args)
        return
    _map_chunks(
        lambda start, stop: kernel(*(a[start:stop] for a in rows), *args),
        n,
        -(-n // (4 * n_threads)),
        n_threads,
    )


def e_step(log_gate, log_lik, *, out=None):
    """Responsibilities and per-sample log-likelihood in one fused pass.

    With ``a = log_gate + log_lik``, computes in log-space

    * ``log_prob_i = logsumexp_k a_ik`` (max-subtracted, so values such as
      ``1e300`` and ``-1e300`` are exact), and
    * ``resp_ik = exp(a_ik - log_prob_i)``,

    reading each input once and writing each output once: the rows are taken
    in cache-sized blocks, and each block goes through sum, max, exp,
    normalise and log while it stays in cache (see ``_numba._e_step_block``).
    NumPy arrays use a numba kernel (on chunks of rows in several threads
    once ``n_samples * n_experts >= _config.PARALLEL_MIN_ENTRIES``; the
    results do not depend on the number of threads); CuPy arrays use a fused
    CUDA kernel (:func:`._cupy.e_step_cupy`, one thread per row); other
    array-API arrays use the array-API twin.

    Special rows: a row whose entries are all ``-inf`` (no expert gives the
    target any probability) gets ``log_prob = -inf`` and uniform
    responsibilities ``1/K`` (no evidence, so the posterior equals a flat
    prior), never NaN.  A row with ``+inf`` entries gets ``log_prob = +inf``
    and splits its responsibility equally between them.  NaN in a row is
    propagated: that row's outputs are NaN.

    Parameters
    ----------
    log_gate : array of shape (n_samples, n_experts)
        Gate log-probabilities ``log g_k(x_i)``.
    log_lik : array of shape (n_samples, n_experts)
        Per-expert log-likelihoods ``log p_k(y_i | x_i)`` of each target.
    out : tuple of two ndarrays, optional
        Preallocated ``(resp, log_prob)`` (C-contiguous, the result dtype, not
        overlapping the inputs), NumPy inputs only.  Lets an EM loop reuse
        its buffers instead of allocating (and page-faulting) new ones.

    Returns
    -------
    resp : array of shape (n_samples, n_experts)
    log_prob : array of shape (n_samples,)
        Same namespace as the inputs; float32 only if both inputs are
        float32, float64 otherwise.  Inputs are never modified.
    """
    xp = _foreign_namespace(log_gate, log_lik)
    if xp is not np:
        if out is not None:
            raise ValueError("out is only supported for NumPy inputs")
        if _is_cupy(xp):
            return e_step_cupy(log_gate, log_lik)
        return _e_step_xp(log_gate, log_lik, xp)
    return _e_step_numpy(log_gate, log_lik, out=out)


def _e_step_numpy(log_gate, log_lik, out=None, parallel=None):
    """NumPy/numba E-step; ``parallel`` forces threads on or off (None: by size)."""
    log_gate = np.asarray(log_gate)
    log_lik = np.asarray(log_lik)
    if log_gate.ndim != 2 or log_gate.shape != log_lik.shape:
        raise ValueError(
            "log_gate and log_lik must be 2-D arrays of the same shape, got "
            f"{log_gate.shape} and {log_lik.shape}"
        )
    dtype = _float_dtype(log_gate, log_lik)
    n, n_experts = log_gate.shape
    # Copies only when the layout or dtype requires it.
    log_gate = np.ascontiguousarray(log_gate, dtype=dtype)
    log_lik = np.ascontiguousarray(log_lik, dtype=dtype)
    if out is None:
        resp = np.empty((n, n_experts), dtype=dtype)
        log_prob = np.empty(n, dtype=dtype)
    else:
        resp, log_prob = out
        _check_out(resp, (n, n_experts), dtype, "resp", log_gate, log_lik)
        _check_out(log_prob, (n,), dtype, "log_prob", log_gate, log_lik)
    if n_experts == 0:  # logsumexp of nothing
        log_prob.fill(-np.inf)
        return resp, log_prob
    if n == 0:
        return resp, log_prob
    _run_rows(
        _numba_kernels()._e_step_serial,
        (log_gate, log_lik, resp, log_prob),
        (),
        _use_parallel((n, n_experts), parallel),
    )
    return resp, log_prob


def _check_out(arr, shape, dtype, name, *inputs):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"out {name} must be a numpy.ndarray")
    if arr.shape != shape or arr.dtype != dtype or not arr.flags.c_contiguous:
        raise ValueError(
            f"out {name} must be a C-contiguous {dtype} array of shape {shape}, "
            f"got {arr.dtype} {arr.shape}"
        )
    if not arr.flags.writeable:
        raise ValueError(f"out {name} is read-only")
    if any(np.may_share_memory(arr, x) for x in inputs):
        raise ValueError(f"out {name} must not overlap the inputs")


def gaussian_log_likelihood(y, means, variances):
    """Gaussian log-density of each target under each expert.

    ``out[i, k] = -0.5 * log(2 * pi * var_k) - (y_i - means_ik)**2 / (2 var_k)``

    Variances must be positive (the caller applies its variance floor); a zero
    or negative variance gives NaN/inf entries, as the formula does.

    Parameters
    ----------
    y : array of shape (n_samples,)
        Targets.
    means : array of shape (n_samples, n_experts)
        Each expert's prediction for each sample.
    variances : array of shape (n_experts,)
        Each expert's noise variance.

    Returns
    -------
    log_lik : array of shape (n_samples, n_experts)
        Same namespace as the inputs; float32 only if all inputs are float32.
    """
    xp = _foreign_namespace(y, means, variances)
    if xp is not np:
        return _gaussian_log_likelihood_xp(y, means, variances, xp)
    return _gaussian_log_likelihood_numpy(y, means, variances)


def _gaussian_log_likelihood_numpy(y, means, variances, parallel=None):
    y = np.asarray(y)
    means = np.asarray(means)
    variances = np.asarray(variances)
    if (
        means.ndim != 2
        or y.shape != means.shape[:1]
        or variances.shape != (means.shape[1],)
    ):
        raise ValueError(
            "expected y (n,), means (n, K) and variances (K,), got "
            f"{y.shape}, {means.shape} and {variances.shape}"
        )
    dtype = _float_dtype(y, means, variances)
    y = np.ascontiguousarray(y, dtype=dtype)
    means = np.ascontiguousarray(means, dtype=dtype)
    variances = variances.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_norm = (-0.5 * np.log(2 * np.pi * variances)).astype(dtype)
        half_prec = (0.5 / variances).astype(dtype)
    out = np.empty(means.shape, dtype=dtype)
    if out.size == 0:
        return out
    _run_rows(
        _numba_kernels()._gaussian_serial,
        (y, means, out),
        (log_norm, half_prec),
        _use_parallel(means.shape, parallel),
    )
    return out
