"""numba kernels of :mod:`._linear` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS

# Rows per block: a block's transposed features and weights stay in L1.
_BLOCK = 256


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _transpose_block(X, W, start, m, xb, wb):
    """Rows ``start:start+m`` of ``X`` and ``W`` into the features-major
    scratch ``xb`` (d, _BLOCK) and ``wb`` (K, _BLOCK): the caller's
    row-major arrays are read as they are, without a transposed copy of the
    whole data, and every later loop runs over the rows of the block, which
    vectorises."""
    for i in range(m):
        for a in range(X.shape[1]):
            xb[a, i] = X[start + i, a]
        for k in range(W.shape[1]):
            wb[k, i] = W[start + i, k]


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _weighted_sums(X, y, W, lo, hi):
    """Per expert, over rows ``lo:hi``: the total weight, and the weighted
    sums of the features and of the target."""
    d, n_experts = X.shape[1], W.shape[1]
    wsum = np.zeros(n_experts)
    x_sum = np.zeros((n_experts, d))
    y_sum = np.zeros(n_experts)
    xb = np.empty((d, _BLOCK))
    wb = np.empty((n_experts, _BLOCK))
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        _transpose_block(X, W, start, m, xb, wb)
        yb = y[start : start + m]
        for k in range(n_experts):
            wk = wb[k]
            s = 0.0
            sy = 0.0
            for i in range(m):
                s += wk[i]
                sy += wk[i] * yb[i]
            wsum[k] += s
            y_sum[k] += sy
            for a in range(d):
                xa = xb[a]
                acc = 0.0
                for i in range(m):
                    acc += wk[i] * xa[i]
                x_sum[k, a] += acc
    return wsum, x_sum, y_sum


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _centred_products(X, y, W, x_mean, y_mean, lo, hi):
    """Per expert, over rows ``lo:hi``: the weighted Gram matrix and
    right-hand side of the data centred by the expert's means."""
    d, n_experts = X.shape[1], W.shape[1]
    gram = np.zeros((n_experts, d, d))
    rhs = np.zeros((n_experts, d))
    xb = np.empty((d, _BLOCK))
    wb = np.empty((n_experts, _BLOCK))
    xc = np.empty((d, _BLOCK))
    wr = np.empty(_BLOCK)
    wx = np.empty(_BLOCK)
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        _transpose_block(X, W, start, m, xb, wb)
        yb = y[start : start + m]
        for k in range(n_experts):
            wk = wb[k]
            ym = y_mean[k]
            for i in range(m):
                wr[i] = wk[i] * (yb[i] - ym)
            for a in range(d):
                ma = x_mean[k, a]
                xa = xb[a]
                ca = xc[a]
                for i in range(m):
                    ca[i] = xa[i] - ma
            for a in range(d):
                ca = xc[a]
                acc = 0.0
                for i in range(m):
                    acc += ca[i] * wr[i]
                    wx[i] = wk[i] * ca[i]
                rhs[k, a] += acc
                for b in range(a + 1):
                    cb = xc[b]
                    acc = 0.0
                    for i in range(m):
                        acc += wx[i] * cb[i]
                    gram[k, a, b] += acc
    for k in range(n_experts):
        for a in range(d):
            for b in range(a):
                gram[k, b, a] = gram[k, a, b]
    return gram, rhs
