"""Fused E-step for CuPy arrays: one CUDA kernel, one thread per row.

Why a hand-written kernel: the array-API twin ``_reference._e_step_xp`` is a
chain of whole-array operations (add, isnan, any, where, max, exp, sum, log,
and a ``where`` per kind of special row), each of which is a separate kernel
launch and a separate pass over device memory: well over ten reads and writes
of an (n, K) array.  The E-step does almost no arithmetic per byte, so on a
GPU its time is that memory traffic.  :func:`e_step_cupy` computes everything
for a row in one thread, reading each input once from device memory (a second
read of the row, for rows of more than ``_REG_K`` entries, hits L1/L2) and
writing each output once.

Results equal those of the numba kernel (``_numba._e_step_block``): the same
special rows (NaN, all ``-inf``, ``+inf`` entries), ``exp`` in the array's
dtype, the row sum, its reciprocal and ``log`` in float64 for both dtypes.
CuPy is imported inside the functions, never with skmoe.
"""

import numpy as np

from ._reference import _float_dtype

__all__ = ["e_step_cupy"]

# Rows of at most this many entries are held in registers (fully unrolled
# loops with compile-time indices), so each input is read once; longer rows
# are read twice (online logsumexp, then the output pass).
_REG_K = 8
_THREADS_PER_BLOCK = 256
# Grid-stride loop: enough blocks to fill every SM (8 x 256 = 2048 resident
# threads, the maximum per SM on recent GPUs), no more.
_BLOCKS_PER_SM = 8

# ``{T}``: float or double; ``{EXP}``: expf or exp; ``{INF}``/``{NAN}``: bit
# patterns (NVRTC has no <math.h>, so no INFINITY/NAN macros).  Built without
# --use_fast_math, so inf/NaN comparisons, IEEE division and subnormals keep
# their meaning.
_SOURCE = r"""
#define SKMOE_REG_K {REG_K}

__device__ void skmoe_special_row(
    const {T}* __restrict__ g, const {T}* __restrict__ l, {T}* __restrict__ r,
    {T}* __restrict__ lp, const long long K, const {T} m, const bool has_nan)
{
    const {T} pos_inf = {INF};
    if (has_nan) {  // NaN anywhere: the whole row is NaN (propagated)
        for (long long k = 0; k < K; ++k) r[k] = {NAN};
        *lp = {NAN};
    } else if (m > 0) {  // +inf entries share the responsibility equally
        long long n_inf = 0;
        for (long long k = 0; k < K; ++k) n_inf += (g[k] + l[k] == pos_inf);
        const {T} share = ({T})(1.0 / (double)n_inf);
        for (long long k = 0; k < K; ++k) r[k] = (g[k] + l[k] == pos_inf) ? share : 0;
        *lp = pos_inf;
    } else {  // all -inf: no evidence, flat posterior
        const {T} uniform = ({T})(1.0 / (double)K);
        for (long long k = 0; k < K; ++k) r[k] = uniform;
        *lp = -pos_inf;
    }
}

extern "C" __global__ void skmoe_e_step(
    const {T}* __restrict__ log_gate, const {T}* __restrict__ log_lik,
    {T}* __restrict__ resp, {T}* __restrict__ log_prob,
    const long long n, const long long K)
{
    const {T} pos_inf = {INF};
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride) {
        const {T}* g = log_gate + i * K;
        const {T}* l = log_lik + i * K;
        {T}* r = resp + i * K;
        {T} m = -pos_inf;  // max over the non-NaN entries
        bool has_nan = false;
        double s = 0.0;  // sum of exp(a - m), in [1, K] on ordinary rows
        if (K <= SKMOE_REG_K) {
            {T} e[SKMOE_REG_K];
#pragma unroll
            for (int k = 0; k < SKMOE_REG_K; ++k) {
                if (k < K) {
                    e[k] = g[k] + l[k];
                    has_nan |= (e[k] != e[k]);
                    m = (e[k] > m) ? e[k] : m;
                }
            }
            if (has_nan || m - m != 0) {  // NaN, or the max is +-inf
                skmoe_special_row(g, l, r, log_prob + i, K, m, has_nan);
                continue;
            }
#pragma unroll
            for (int k = 0; k < SKMOE_REG_K; ++k) {
                if (k < K) {
                    e[k] = {EXP}(e[k] - m);
                    s += (double)e[k];
                }
            }
            const double inv = 1.0 / s;
#pragma unroll
            for (int k = 0; k < SKMOE_REG_K; ++k) {
                if (k < K) r[k] = ({T})((double)e[k] * inv);
            }
        } else {
            // Online logsumexp: rescale the running sum when the max grows.
            for (long long k = 0; k < K; ++k) {
                const {T} a = g[k] + l[k];
                if (a != a) {
                    has_nan = true;
                } else if (a > m) {
                    s = s * (double){EXP}(m - a) + 1.0;
                    m = a;
                } else if (a > -pos_inf) {  // -inf entries add nothing
                    s += (double){EXP}(a - m);
                }
            }
            if (has_nan || m - m != 0) {
                skmoe_special_row(g, l, r, log_prob + i, K, m, has_nan);
                continue;
            }
            const double inv = 1.0 / s;
            for (long long k = 0; k < K; ++k) {
                r[k] = ({T})((double){EXP}(g[k] + l[k] - m) * inv);
            }
        }
        log_prob[i] = ({T})((double)m + log(s));
    }
}
"""

_TYPES = {
    "float64": {
        "T": "double",
        "EXP": "exp",
        "INF": "__longlong_as_double(0x7ff0000000000000LL)",
        "NAN": "__longlong_as_double(0x7ff8000000000000LL)",
    },
    "float32": {
        "T": "float",
        "EXP": "expf",
        "INF": "__int_as_float(0x7f800000)",
        "NAN": "__int_as_float(0x7fc00000)",
    },
}

_KERNELS = {}  # dtype name -> cupy.RawKernel, built on first use
_N_SMS = {}  # device id -> number of SMs


def _kernel_source(dtype_name):
    """CUDA source of the E-step kernel for ``"float64"`` or ``"float32"``."""
    source = _SOURCE.replace("{REG_K}", str(_REG_K))
    for key, value in _TYPES[dtype_name].items():
        source = source.replace("{" + key + "}", value)
    return source


def _get_kernel(cupy, dtype_name):
    # RawKernel compiles (NVRTC, cached on disk by CuPy) on its first launch,
    # once per device; building the object here is cheap.
    kernel = _KERNELS.get(dtype_name)
    if kernel is None:
        kernel = cupy.RawKernel(_kernel_source(dtype_name), "skmoe_e_step")
        _KERNELS[dtype_name] = kernel
    return kernel


def _n_blocks(cupy, n):
    device = cupy.cuda.Device()
    n_sms = _N_SMS.get(device.id)
    if n_sms is None:
        n_sms = _N_SMS[device.id] = device.attributes["MultiProcessorCount"]
    needed = -(-n // _THREADS_PER_BLOCK)
    return max(1, min(needed, n_sms * _BLOCKS_PER_SM))


def e_step_cupy(log_gate, log_lik):
    """Fused E-step on CuPy arrays (one CUDA thread per row).

    Same computation and special rows as :func:`skmoe._kernels.e_step`: with
    ``a = log_gate + log_lik``, ``log_prob_i = m_i + log(sum_k exp(a_ik -
    m_i))`` where ``m_i`` is the row max, and ``resp_ik = exp(a_ik - m_i) /
    sum_k exp(a_ik - m_i)``.  A row with a NaN gives NaN, a row of ``-inf``
    gives uniform responsibilities and ``log_prob = -inf``, a row with
    ``+inf`` entries splits the responsibility between them and gives
    ``log_prob = +inf``.

    Parameters
    ----------
    log_gate : cupy.ndarray of shape (n_samples, n_experts)
        Gate log-probabilities ``log g_k(x_i)``.
    log_lik : cupy.ndarray of shape (n_samples, n_experts)
        Per-expert log-likelihoods ``log p_k(y_i | x_i)``.

    Returns
    -------
    resp : cupy.ndarray of shape (n_samples, n_experts)
    log_prob : cupy.ndarray of shape (n_samples,)
        float32 if the inputs promote to float32 (as
        ``_reference._float_dtype``), float64 otherwise; on the inputs'
        device, computed on that device's current stream.  Inputs are never
        modified (they are copied only if not C-contiguous or of another
        dtype).
    """
    import cupy  # noqa: PLC0415 - never imported with skmoe

    if log_gate.ndim != 2 or log_gate.shape != log_lik.shape:
        raise ValueError(
            "log_gate and log_lik must be 2-D arrays of the same shape, got "
            f"{tuple(log_gate.shape)} and {tuple(log_lik.shape)}"
        )
    dtype = _float_dtype(log_gate.dtype, log_lik.dtype)
    n, n_experts = log_gate.shape
    # Allocate and launch on the inputs' device, not whichever is current.
    with log_gate.device:
        log_gate = cupy.ascontiguousarray(log_gate, dtype=dtype)
        log_lik = cupy.ascontiguousarray(log_lik, dtype=dtype)
        resp = cupy.empty((n, n_experts), dtype=dtype)
        if n_experts == 0:  # logsumexp of nothing
            return resp, cupy.full(n, -np.inf, dtype=dtype)
        log_prob = cupy.empty(n, dtype=dtype)
        if n == 0:
            return resp, log_prob
        kernel = _get_kernel(cupy, dtype.name)
        kernel(
            (_n_blocks(cupy, n),),
            (_THREADS_PER_BLOCK,),
            (log_gate, log_lik, resp, log_prob, np.int64(n), np.int64(n_experts)),
        )
    return resp, log_prob
