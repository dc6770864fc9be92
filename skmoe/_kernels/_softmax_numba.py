"""numba kernel of :mod:`._softmax` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS
from ._numba import _exp_nonpos


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _block(X, W, b, T, mass, start, stop, grad, z, e):
    n_features, n_classes = W.shape
    loss = 0.0
    for i in range(start, stop):
        top = -np.inf
        for k in range(n_classes):
            acc = b[k]
            for j in range(n_features):
                acc += X[i, j] * W[j, k]
            z[k] = acc
            top = max(top, acc)
        total = 0.0
        for k in range(n_classes):
            e[k] = _exp_nonpos(z[k] - top)
            total += e[k]
        # -sum_k t_k log p_k = m log(norm) - sum_k t_k z_k, with m = sum_k t_k
        row = mass[i] * (np.log(total) + top)
        scale = mass[i] / total
        for k in range(n_classes):
            row -= T[i, k] * z[k]
            g = scale * e[k] - T[i, k]
            for j in range(n_features):
                grad[j, k] += X[i, j] * g
            grad[n_features, k] += g
        loss += row
    return loss


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True)
def _softmax_xent_serial(X, W, b, T, mass):
    n_features, n_classes = W.shape
    grad = np.zeros((n_features + 1, n_classes))
    z = np.empty(n_classes)
    e = np.empty(n_classes)
    loss = _block(X, W, b, T, mass, 0, X.shape[0], grad, z, e)
    return loss, grad
