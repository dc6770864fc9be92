"""Helpers shared by several test modules (imported as ``_support``: pytest
puts this folder on ``sys.path``, the tests not being a package)."""

import numpy as np
import pytest
import sklearn

HUGE = {np.float64: 1e300, np.float32: 3e38}

# Gate log-probabilities with huge (finite) logits, whose E-step is exact: the
# responsibilities [1, 0, 0], [.5, .5, 0], [1/3]*3, [1, 0, 0], [0, 1, 0].
HUGE_LOGITS = np.array(
    [
        [1e300, -1e300, 0.0],
        [1e300, 1e300, -1e300],
        [-1e300, -1e300, -1e300],
        [1.7e308, -1.7e308, 0.0],  # a - max overflows to -inf: exp -> 0
        [-1e300, -1e300 + 1e285, -np.inf],
    ]
)


def random_logits(n, K, dtype, seed=0, scale=5.0, special=False):
    """Gate log-probabilities and log-likelihoods for the E-step kernels.

    With ``special=True`` and ``n >= 8``, rows 1-7 are special: all -inf;
    +inf entries; a NaN; all -huge; one +huge entry; -huge and -inf; a single
    -inf entry.
    """
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=scale, size=(n, K))
    log_gate = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    log_lik = rng.normal(loc=-2.0, scale=scale, size=(n, K))
    if special and n >= 8:
        huge = HUGE[dtype]
        log_lik[1] = -np.inf
        log_lik[2, 0] = np.inf
        log_lik[2, K - 1] = np.inf  # the same entry when K == 1
        log_gate[3, 0] = np.inf
        log_gate[3, K // 2] = np.nan  # NaN wins over +inf
        log_gate[4] = -huge
        log_gate[5, 0] = huge
        log_gate[6] = -huge
        log_gate[6, K - 1] = -np.inf
        log_lik[7, 0] = -np.inf
    return log_gate.astype(dtype), log_lik.astype(dtype)


def _dispatch_available():
    try:
        with sklearn.config_context(array_api_dispatch=True):
            return True
    except RuntimeError:  # SciPy was imported without SCIPY_ARRAY_API=1
        return False


NEEDS_DISPATCH = pytest.mark.skipif(
    not _dispatch_available(),
    reason="array_api_dispatch needs SCIPY_ARRAY_API=1 before SciPy is imported",
)


def _array_api_compat_available():
    """Whether skmoe's kernels can read a foreign namespace off its arrays:
    scikit-learn's vendored array_api_compat (>= 1.7) or the standalone one."""
    for module in ("sklearn.externals.array_api_compat", "array_api_compat"):
        try:
            __import__(module)
            return True
        except ImportError:
            continue
    return False


NEEDS_ARRAY_API_COMPAT = pytest.mark.skipif(
    not _array_api_compat_available(),
    reason="needs array_api_compat (vendored in scikit-learn >= 1.7)",
)
