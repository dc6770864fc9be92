"""Kernel of the linear experts' M-step: weighted normal equations, all experts at once.

EM refits every ``LinearRegression``/``Ridge`` expert on its own column of
responsibilities. Computing each expert's weighted means, centred Gram matrix
and right-hand side with NumPy costs several (n, d) temporaries per expert;
this kernel reads the rows in blocks that stay in cache (two passes over the
data for all experts together, in threads on large problems), with the exact
two-pass centring (means first, then centred products) that keeps the normal
equations accurate when a feature's mean is large against its spread (a
calendar year).
"""

import numpy as np

from . import _dispatch


def weighted_normal_equations(X, y, W, center):
    """Weighted means, centred Gram matrices and right-hand sides.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        The features, as the caller holds them (row-major or not).
    y : ndarray of shape (n_samples,), float64
    W : ndarray of shape (n_samples, n_experts), float64
        One column of non-negative weights per expert.
    center : ndarray of shape (n_experts,), bool
        Whether expert k fits an intercept (then its data are centred by its
        weighted means; otherwise the means are taken as zero).

    Returns
    -------
    wsum : ndarray of shape (n_experts,)
    x_mean : ndarray of shape (n_experts, n_features)
    y_mean : ndarray of shape (n_experts,)
    gram : ndarray of shape (n_experts, n_features, n_features)
        ``sum_i w_ki (x_i - m_k)(x_i - m_k)^T``.
    rhs : ndarray of shape (n_experts, n_features)
        ``sum_i w_ki (x_i - m_k)(y_i - ybar_k)``.
    """
    if not isinstance(X, np.ndarray):
        # Other array namespaces (CuPy, ...): the twin, a few matrix
        # products per expert on the device.
        return weighted_normal_equations_reference(X, y, W, center)
    from ._linear_numba import _centred_products, _weighted_sums

    # Any memory layout: the kernels read the rows block by block.
    X, y, W = (np.asarray(a, dtype=np.float64) for a in (X, y, W))
    n, d = X.shape
    n_experts = W.shape[1]
    # Per row, the products weigh like this many entries of an (n, K) pass.
    entries = n * n_experts * (d + 1) * (d + 2) // 2
    wsum, x_sum, y_sum = _dispatch._sum_chunks(
        lambda lo, hi: _weighted_sums(X, y, W, lo, hi), n, entries
    )
    center = np.asarray(center, dtype=bool) & (wsum > 0)
    safe = np.where(center, wsum, 1.0)
    x_mean = np.where(center[:, None], x_sum / safe[:, None], 0.0)
    y_mean = np.where(center, y_sum / safe, 0.0)
    gram, rhs = _dispatch._sum_chunks(
        lambda lo, hi: _centred_products(X, y, W, x_mean, y_mean, lo, hi), n, entries
    )
    return wsum, x_mean, y_mean, gram, rhs


def weighted_normal_equations_reference(X, y, W, center):
    """Array-API twin of :func:`weighted_normal_equations` (the test oracle)."""
    from .._array_api import _xp_of

    xp = _xp_of(X)
    wsum = xp.sum(W, axis=0)
    means, y_means, grams, rhss = [], [], [], []
    for k in range(W.shape[1]):
        w = W[:, k]
        if center[k]:
            x_mean, y_mean = w @ X / wsum[k], w @ y / wsum[k]
        else:
            x_mean, y_mean = xp.zeros_like(X[0, :]), xp.zeros_like(y[0])
        Xc = X - x_mean
        grams.append((Xc.T * w) @ Xc)
        rhss.append(Xc.T @ (w * (y - y_mean)))
        means.append(x_mean)
        y_means.append(y_mean)
    return wsum, xp.stack(means), xp.stack(y_means), xp.stack(grams), xp.stack(rhss)
