"""Kernel of the fused EM pass of linear Gaussian experts under a softmax gate.

One EM iteration of the default regressor reads the rows in the E-step (the
gate's and the experts' densities, the posteriors), in the experts' M-step
(their weighted normal equations) and in the gate's (the Newton step's
loss, gradient and Hessian); done apart, those are a dozen passes over
(n, K) and (n, d) arrays per iteration. This kernel does them in one pass
over blocks of rows that stay in cache, in threads on large problems, with
partial sums added in chunk order (:func:`._dispatch._sum_chunks`), so that
the result does not depend on the number of threads.
"""

import numpy as np

from . import _dispatch


def linear_gaussian_pass(XT, y, w, B, a, variances, W, b, shift):
    """The E-step and the M-step's sums of a linear Gaussian mixture, fused.

    Expert ``k`` predicts ``x @ B[:, k] + a[k]`` with noise variance
    ``variances[k]``; the gate's probabilities are ``softmax(x @ W + b)``.

    Parameters
    ----------
    XT : ndarray of shape (n_features, n_samples), float64, C-contiguous
        The features, transposed.
    y : ndarray of shape (n_samples,)
    w : ndarray of shape (n_samples,)
        Row weights.
    B : ndarray of shape (n_features, n_experts)
    a : ndarray of shape (n_experts,)
    variances : ndarray of shape (n_experts,), positive
    W : ndarray of shape (n_features, n_experts)
    b : ndarray of shape (n_experts,)
    shift : ndarray of shape (n_experts, n_features + 1)
        The point about which each expert's moments of ``(x, y)`` are taken
        (near its weighted means, for accuracy).

    Returns
    -------
    weighted_resp_T : ndarray of shape (n_experts, n_samples)
        ``w_i`` times the posterior of expert ``k`` for row ``i``.
    log_prob : ndarray of shape (n_samples,)
        Each row's log-likelihood under the mixture.
    total : float
        ``sum_i w_i log_prob_i``.
    gate_loss, gate_grad, gate_hess
        The gate's soft-target cross-entropy on the weighted posteriors,
        its (n_features + 1, K) gradient and (n_features + 1, K,
        n_features + 1, K) Hessian at ``(W, b)``, unpenalised and
        unnormalised (as :func:`softmax_cross_entropy_hessian`).
    mass : ndarray of shape (n_experts,)
        The posteriors' weighted sums.
    first, second : ndarrays of shapes (n_experts, n_features + 1) and
        (n_experts, n_features + 1, n_features + 1)
        Each expert's posterior-weighted sums of ``v_i = (x_i, y_i) -
        shift[k]`` and of ``v_i v_i^T``.
    """
    from ._fused_numba import _linear_gaussian_pass

    d, n = XT.shape
    n_experts = W.shape[1]
    variances = np.asarray(variances, dtype=np.float64)
    log_norm = -0.5 * np.log(2 * np.pi * variances)
    half_prec = 0.5 / variances
    RT = np.empty((n_experts, n))
    log_prob = np.empty(n)
    args = (
        XT,
        np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(w, dtype=np.float64),
        np.ascontiguousarray(B, dtype=np.float64),
        np.asarray(a, dtype=np.float64),
        log_norm,
        half_prec,
        np.ascontiguousarray(W, dtype=np.float64),
        np.asarray(b, dtype=np.float64),
        np.ascontiguousarray(shift, dtype=np.float64),
        RT,
        log_prob,
    )
    q = d + 1
    total, gate_loss, grad, hess, mass, first, second = _dispatch._sum_chunks(
        lambda lo, hi: _linear_gaussian_pass(*args, lo, hi),
        n,
        # Per row, the products weigh like this many entries of an (n, K) pass.
        n * max(n_experts, q * q * n_experts * n_experts // 4),
        _dispatch._heavy_chunk_rows(n),
    )
    return RT, log_prob, total, gate_loss, grad, hess, mass, first, second


def linear_gaussian_pass_reference(XT, y, w, B, a, variances, W, b, shift):
    """NumPy twin of :func:`linear_gaussian_pass` (the test oracle)."""
    from scipy.special import log_softmax, logsumexp

    from ._softmax import softmax_cross_entropy_hessian_reference

    X = XT.T
    log_gate = log_softmax(X @ W + b, axis=1)
    means = X @ B + a
    log_lik = -0.5 * np.log(2 * np.pi * variances) - (y[:, None] - means) ** 2 / (
        2 * variances
    )
    joint = log_gate + log_lik
    log_prob = logsumexp(joint, axis=1)
    weighted = np.exp(joint - log_prob[:, None]) * w[:, None]
    gate_loss, grad, hess = softmax_cross_entropy_hessian_reference(
        XT, W, b, weighted.T, weighted.sum(axis=1)
    )
    V = np.column_stack([X, y])
    first, second = [], []
    for k in range(W.shape[1]):
        Vk = V - shift[k]
        first.append(weighted[:, k] @ Vk)
        second.append((Vk.T * weighted[:, k]) @ Vk)
    return (
        np.ascontiguousarray(weighted.T),
        log_prob,
        float(w @ log_prob),
        gate_loss,
        grad,
        hess,
        weighted.sum(axis=0),
        np.array(first),
        np.array(second),
    )
