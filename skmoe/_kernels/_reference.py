"""Plain NumPy/SciPy and array-API twins of the numba kernels.

``e_step_reference`` and ``gaussian_log_likelihood_reference`` are the test
oracles of :mod:`skmoe._kernels._numba`: straightforward, vectorised and
independent of numba.  ``_e_step_xp`` and ``_gaussian_log_likelihood_xp`` are
the same computations written against the array API standard; they are the
path taken for arrays that are not ``numpy.ndarray`` (CuPy, PyTorch,
array_api_strict, ...).  Nothing here imports CuPy.

Special rows (shared by every E-step implementation), with ``a = log_gate +
log_lik``:

* NaN anywhere in a row: that row's responsibilities and log-probability are
  NaN (the NaN is propagated, never hidden).
* every entry ``-inf`` (no expert gives the target any probability): the
  log-probability is ``-inf`` and the responsibilities are uniform, ``1/K``
  (no evidence, so the posterior equals a flat prior), never NaN.
* some entries ``+inf`` (a degenerate density, e.g. a zero variance): the
  log-probability is ``+inf`` and the responsibility is split equally between
  the ``+inf`` entries, the limit of ``exp(a - logsumexp(a))``.
"""

import math

import numpy as np
from scipy.special import logsumexp, softmax

__all__ = [
    "e_step_reference",
    "gaussian_log_likelihood_reference",
]


def _float_dtype(*arrays):
    """float32 if the arrays promote to float32, else float64 (ints too)."""
    dtype = np.result_type(*arrays)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def e_step_reference(log_gate, log_lik):
    """E-step with NumPy and :func:`scipy.special.logsumexp` (test oracle).

    Parameters
    ----------
    log_gate : array-like of shape (n_samples, n_experts)
        Gate log-probabilities ``log g_k(x_i)``.
    log_lik : array-like of shape (n_samples, n_experts)
        Expert log-likelihoods ``log p_k(y_i | x_i)``.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_experts)
        Responsibilities ``exp(a_ik - logsumexp_k a_ik)`` with
        ``a = log_gate + log_lik`` (computed as :func:`scipy.special.softmax`).
    log_prob : ndarray of shape (n_samples,)
        ``logsumexp_k a_ik``.
    """
    log_gate = np.asarray(log_gate)
    log_lik = np.asarray(log_lik)
    dtype = _float_dtype(log_gate, log_lik)
    a = np.add(log_gate, log_lik, dtype=dtype)
    if a.ndim != 2:
        raise ValueError(f"expected 2-D inputs, got shape {a.shape}")
    n_experts = a.shape[1]
    with np.errstate(all="ignore"):
        log_prob = np.asarray(logsumexp(a, axis=1), dtype=dtype)
        # softmax (max-subtracted, then normalised), not exp(a - log_prob):
        # with a ~ 1e300, log_prob has lost the log(K) and the latter is wrong.
        resp = np.asarray(softmax(a, axis=1), dtype=dtype) if n_experts else a
    nan_rows = np.isnan(a).any(axis=1)
    neg_rows = ~nan_rows & (a == -np.inf).all(axis=1)
    posinf = a == np.inf
    n_posinf = posinf.sum(axis=1)
    pos_rows = ~nan_rows & (n_posinf > 0)
    if n_experts > 0:
        resp[neg_rows] = 1.0 / n_experts
    log_prob[neg_rows] = -np.inf
    resp[pos_rows] = posinf[pos_rows] / n_posinf[pos_rows, None]
    log_prob[pos_rows] = np.inf
    resp[nan_rows] = np.nan
    log_prob[nan_rows] = np.nan
    return resp.astype(dtype, copy=False), log_prob


def gaussian_log_likelihood_reference(y, means, variances):
    """Gaussian log-density of each target under each expert (NumPy twin).

    ``out[i, k] = -0.5 * log(2 * pi * var_k) - (y_i - means_ik)**2 / (2 var_k)``.
    Variances must be positive (callers apply their variance floor): a zero
    or negative variance gives NaN or infinite entries, as the formula does,
    in every implementation alike.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    means : array-like of shape (n_samples, n_experts)
    variances : array-like of shape (n_experts,)

    Returns
    -------
    log_lik : ndarray of shape (n_samples, n_experts)
    """
    y = np.asarray(y)
    means = np.asarray(means)
    variances = np.asarray(variances)
    dtype = _float_dtype(y, means, variances)
    y = y.astype(dtype, copy=False)
    means = means.astype(dtype, copy=False)
    variances = variances.astype(dtype, copy=False)
    with np.errstate(all="ignore"):
        return -0.5 * np.log(2 * np.pi * variances) - (y[:, None] - means) ** 2 / (
            2 * variances
        )


# ---------------------------------------------------------------------------
# array-API twins (for CuPy & co.)
# ---------------------------------------------------------------------------


def _xp_float_dtype(xp, *arrays):
    dtype = xp.result_type(*(a.dtype for a in arrays))
    return xp.float32 if dtype == xp.float32 else xp.float64


def _device(x):
    dev = getattr(x, "device", None)
    return dev() if callable(dev) else dev  # torch-like arrays


def _e_step_xp(log_gate, log_lik, xp):
    """Array-API E-step, same outputs and special rows as the numba kernel."""
    dtype = _xp_float_dtype(xp, log_gate, log_lik)
    if log_gate.ndim != 2 or log_gate.shape != log_lik.shape:
        raise ValueError(
            "log_gate and log_lik must be 2-D arrays of the same shape, got "
            f"{tuple(log_gate.shape)} and {tuple(log_lik.shape)}"
        )
    dev = _device(log_gate)
    n, n_experts = log_gate.shape
    a = xp.astype(log_gate, dtype) + xp.astype(log_lik, dtype)

    def full(value):
        return xp.asarray(value, dtype=dtype, device=dev)

    if n_experts == 0:
        return a, xp.full((n,), -math.inf, dtype=dtype, device=dev)
    zero, one = full(0.0), full(1.0)

    isnan = xp.isnan(a)
    nan_rows = xp.any(isnan, axis=1, keepdims=True)
    a_nonan = xp.where(isnan, full(-math.inf), a)
    m = xp.max(a_nonan, axis=1, keepdims=True)
    ok_rows = xp.isfinite(m) & ~nan_rows
    m_safe = xp.where(ok_rows, m, zero)
    e = xp.exp(xp.where(ok_rows, a, zero) - m_safe)
    s = xp.where(ok_rows, xp.sum(e, axis=1, keepdims=True), one)
    log_prob = m_safe + xp.log(s)
    resp = e / s

    posinf = xp.astype(a == math.inf, dtype)
    n_posinf = xp.sum(posinf, axis=1, keepdims=True)
    pos_rows = (n_posinf > 0) & ~nan_rows
    resp = xp.where(pos_rows, posinf / xp.where(pos_rows, n_posinf, one), resp)
    log_prob = xp.where(pos_rows, full(math.inf), log_prob)
    neg_rows = (m == -math.inf) & ~nan_rows
    resp = xp.where(neg_rows, full(1.0 / n_experts), resp)
    log_prob = xp.where(neg_rows, full(-math.inf), log_prob)
    resp = xp.where(nan_rows, full(math.nan), resp)
    log_prob = xp.where(nan_rows, full(math.nan), log_prob)
    return resp, log_prob[:, 0]


def _gaussian_log_likelihood_xp(y, means, variances, xp):
    """Array-API twin of :func:`gaussian_log_likelihood_reference`."""
    dtype = _xp_float_dtype(xp, y, means, variances)
    y = xp.astype(y, dtype)
    means = xp.astype(means, dtype)
    variances = xp.astype(variances, dtype)
    return -0.5 * xp.log(2 * math.pi * variances) - (y[:, None] - means) ** 2 / (
        2 * variances
    )
