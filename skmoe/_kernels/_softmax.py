"""Kernels of the softmax gate: fused loss/gradient and log-probabilities.

The loss kernel computes, in one pass over blocks of rows, the logits, the
log-normaliser, the loss and the gradient, instead of the half-dozen passes
over an (n, K) array that the NumPy expression takes. It reads the features
and targets *features-major* (``X.T``, ``T.T``, C-contiguous) so that its
inner loops run over rows and vectorise: L-BFGS calls it about ten times per
fit, so the gate makes that one transposed copy per fit.

On large problems (``n_samples * n_classes >= PARALLEL_MIN_ENTRIES``) both
kernels run in threads: the loss over fixed-size chunks of rows whose
partial sums are added in chunk order (:func:`._dispatch._sum_chunks`),
so that the result depends on the data only, not on the number of threads;
the log-probabilities over any split of the rows. Measured on 2 cores
(``d = 5``, ``K = 4``): the loss 1.8x faster from 100,000 rows.
"""

import numpy as np

from . import _dispatch


def softmax_cross_entropy(XT, W, b, weighted_targets_T, row_mass):
    """Soft-target softmax cross-entropy and its gradient, fused.

    Parameters
    ----------
    XT : ndarray of shape (n_features, n_samples), float64, C-contiguous
        The features, transposed.
    W : ndarray of shape (n_features, n_classes)
    b : ndarray of shape (n_classes,)
    weighted_targets_T : ndarray of shape (n_classes, n_samples), C-contiguous
        ``t_ik`` times the row weight, transposed.
    row_mass : ndarray of shape (n_samples,)
        Row sums of the weighted targets.

    Returns
    -------
    loss : float
        ``sum_i sum_k -t_ik log softmax(x_i W + b)_k``.
    grad : ndarray of shape (n_features + 1, n_classes)
        Gradient with respect to ``W`` (first rows) and ``b`` (last row).
    """
    # numba is imported on first use, so that ``import skmoe`` stays fast.
    from ._softmax_numba import _softmax_xent

    args = (XT, W, b, weighted_targets_T, row_mass)
    return _dispatch._sum_chunks(
        lambda lo, hi: _softmax_xent(*args, lo, hi),
        XT.shape[1],
        XT.shape[1] * W.shape[1],
    )


def softmax_cross_entropy_reference(XT, W, b, weighted_targets_T, row_mass):
    """NumPy twin of :func:`softmax_cross_entropy` (the test oracle)."""
    from scipy.special import log_softmax

    X, T = XT.T, weighted_targets_T.T
    log_p = log_softmax(X @ W + b, axis=1)
    loss = -np.sum(np.where(T != 0, T * log_p, 0.0))
    g = np.exp(log_p) * row_mass[:, None] - T
    return loss, np.vstack([X.T @ g, g.sum(axis=0)])


def softmax_cross_entropy_hessian(XT, W, b, weighted_targets_T, row_mass):
    """Soft-target softmax cross-entropy, its gradient and Hessian, in one pass.

    The parameters are ``A = [W; b]`` (``n_features + 1`` rows, the last the
    intercepts), flattened row-major: the Hessian's ``[j, k, j2, l]`` entry is
    the derivative in ``A[j, k]`` and ``A[j2, l]``. For Newton's method on
    the gate (see :func:`skmoe._gate_solvers._newton_numpy`); the inputs are
    those of :func:`softmax_cross_entropy`.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_features + 1, n_classes)
    hess : ndarray of shape (n_features + 1, n_classes, n_features + 1, n_classes)
    """
    from ._softmax_numba import _softmax_xent_hessian

    args = (XT, W, b, weighted_targets_T, row_mass)
    n = XT.shape[1]
    q, k = XT.shape[0] + 1, W.shape[1]
    return _dispatch._sum_chunks(
        lambda lo, hi: _softmax_xent_hessian(*args, lo, hi),
        n,
        # The Hessian's (q k)^2 / 4 products per row weigh like that many
        # entries of the loss.
        n * max(k, q * q * k * k // 4),
        _dispatch._heavy_chunk_rows(n),
    )


def softmax_cross_entropy_hessian_reference(XT, W, b, weighted_targets_T, row_mass):
    """NumPy twin of :func:`softmax_cross_entropy_hessian` (the test oracle)."""
    loss, grad = softmax_cross_entropy_reference(XT, W, b, weighted_targets_T, row_mass)
    X = XT.T
    Xa = np.column_stack([X, np.ones(X.shape[0])])
    P = np.exp(linear_log_softmax_reference(X, W, b))
    k = W.shape[1]
    # sum_i m_i (x_i x_i^T) (x) (diag(p_i) - p_i p_i^T)
    D = P[:, :, None] * np.eye(k) - P[:, :, None] * P[:, None, :]
    hess = np.einsum("i,ij,iJ,ikl->jkJl", row_mass, Xa, Xa, D)
    return loss, grad, hess


def linear_log_softmax(X, W, b):
    """``log_softmax(X @ W + b)`` over rows, in one pass (the gate's log-probabilities).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    W : ndarray of shape (n_features, n_classes)
    b : ndarray of shape (n_classes,)

    Returns
    -------
    log_proba : ndarray of shape (n_samples, n_classes), float64
    """
    from ._softmax_numba import _log_softmax_rows

    X = np.ascontiguousarray(X, dtype=np.float64)
    out = np.empty((X.shape[0], W.shape[1]))
    _dispatch._run_rows(
        _log_softmax_rows,
        (X, out),
        (np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)),
        _dispatch._use_parallel(out.shape, None),
    )
    return out


def linear_log_softmax_reference(X, W, b):
    """NumPy twin of :func:`linear_log_softmax`."""
    from scipy.special import log_softmax

    return log_softmax(X @ W + b, axis=1)
