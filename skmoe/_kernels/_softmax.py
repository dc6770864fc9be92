"""Fused loss and gradient of the soft-target softmax cross-entropy (the gate).

One pass over the rows computes the logits, the log-normaliser, the loss and
the gradient, instead of the half-dozen passes over an (n, K) array that the
NumPy expression takes. The kernel is serial: a ``parallel=True`` version
(blocks of rows with partial sums) was never faster on the 2-core development
machine (n x K from 6e5 to 8e6 entries: 0.97x to 3x slower), because L-BFGS
calls it a dozen times per EM iteration and each call wakes the threads.
"""

import numpy as np


def softmax_cross_entropy(X, W, b, weighted_targets, row_mass):
    """Soft-target softmax cross-entropy and its gradient, fused.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64, C-contiguous
    W : ndarray of shape (n_features, n_classes)
    b : ndarray of shape (n_classes,)
    weighted_targets : ndarray of shape (n_samples, n_classes)
        ``t_ik`` times the row weight.
    row_mass : ndarray of shape (n_samples,)
        Row sums of ``weighted_targets``.

    Returns
    -------
    loss : float
        ``sum_i sum_k -t_ik log softmax(x_i W + b)_k``.
    grad : ndarray of shape (n_features + 1, n_classes)
        Gradient with respect to ``W`` (first rows) and ``b`` (last row).
    """
    # numba is imported on first use, so that ``import skmoe`` stays fast.
    from ._softmax_numba import _softmax_xent_serial

    return _softmax_xent_serial(X, W, b, weighted_targets, row_mass)


def softmax_cross_entropy_reference(X, W, b, weighted_targets, row_mass):
    """NumPy twin of :func:`softmax_cross_entropy` (the test oracle)."""
    from scipy.special import log_softmax

    log_p = log_softmax(X @ W + b, axis=1)
    loss = -np.sum(np.where(weighted_targets != 0, weighted_targets * log_p, 0.0))
    g = np.exp(log_p) * row_mass[:, None] - weighted_targets
    return loss, np.vstack([X.T @ g, g.sum(axis=0)])
