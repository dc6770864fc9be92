"""numba kernel of :mod:`._linear` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _normal_equations(XT, y, WT, center):
    # Every innermost loop runs over the rows, contiguous in XT, y and WT,
    # so it vectorises.
    d, n = XT.shape
    n_experts = WT.shape[0]
    wsum = np.zeros(n_experts)
    x_mean = np.zeros((n_experts, d))
    y_mean = np.zeros(n_experts)
    gram = np.empty((n_experts, d, d))
    rhs = np.empty((n_experts, d))
    xc = np.empty((d, n))
    wr = np.empty(n)
    for k in range(n_experts):
        s = 0.0
        for i in range(n):
            s += WT[k, i]
        wsum[k] = s
        if center[k] and s > 0:
            acc = 0.0
            for i in range(n):
                acc += WT[k, i] * y[i]
            y_mean[k] = acc / s
            for a in range(d):
                acc = 0.0
                for i in range(n):
                    acc += WT[k, i] * XT[a, i]
                x_mean[k, a] = acc / s
        ym = y_mean[k]
        for i in range(n):
            wr[i] = WT[k, i] * (y[i] - ym)
        for a in range(d):
            ma = x_mean[k, a]
            for i in range(n):
                xc[a, i] = XT[a, i] - ma
        for a in range(d):
            acc = 0.0
            for i in range(n):
                acc += xc[a, i] * wr[i]
            rhs[k, a] = acc
            for b in range(a + 1):
                acc = 0.0
                for i in range(n):
                    acc += WT[k, i] * xc[a, i] * xc[b, i]
                gram[k, a, b] = acc
                gram[k, b, a] = acc
    return wsum, x_mean, y_mean, gram, rhs
