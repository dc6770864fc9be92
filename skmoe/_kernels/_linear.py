"""Kernel of the linear experts' M-step: weighted normal equations, all experts at once.

EM refits every ``LinearRegression``/``Ridge`` expert on its own column of
responsibilities. Computing each expert's weighted means, centred Gram matrix
and right-hand side with NumPy costs several (n, d) temporaries per expert;
this kernel reads the features once per pair of columns, features-major, for
all experts, with the exact two-pass centring (means first, then centred
products) that keeps the normal equations accurate when a feature's mean is
large against its spread (a calendar year).
"""

import numpy as np

from . import _dispatch


def weighted_normal_equations(XT, y, WT, center):
    """Weighted means, centred Gram matrices and right-hand sides.

    Parameters
    ----------
    XT : ndarray of shape (n_features, n_samples), float64, C-contiguous
        The features, transposed.
    y : ndarray of shape (n_samples,), float64
    WT : ndarray of shape (n_experts, n_samples), float64, C-contiguous
        One row of non-negative weights per expert.
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
    if not isinstance(XT, np.ndarray):
        # Other array namespaces (CuPy, ...): the twin, a few matrix
        # products per expert on the device.
        return weighted_normal_equations_reference(XT, y, WT, center)
    from ._linear_numba import _normal_equations

    n_experts = WT.shape[0]
    if not _dispatch._use_parallel((XT.shape[1], n_experts), None):
        return _normal_equations(XT, y, WT, center)
    # The experts are independent: one per chunk, in threads (bitwise the
    # same results as one thread).
    parts = _dispatch._map_chunks(
        lambda lo, hi: _normal_equations(XT, y, WT[lo:hi], center[lo:hi]),
        n_experts,
        1,
        _dispatch._n_threads(),
    )
    return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))


def weighted_normal_equations_reference(XT, y, WT, center):
    """Array-API twin of :func:`weighted_normal_equations` (the test oracle)."""
    from .._array_api import _xp_of

    xp = _xp_of(XT)
    X = XT.T
    wsum = xp.sum(WT, axis=1)
    means, y_means, grams, rhss = [], [], [], []
    for k in range(WT.shape[0]):
        w = WT[k, :]
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
