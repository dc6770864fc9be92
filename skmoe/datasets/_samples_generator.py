"""Synthetic data with a known mixture-of-experts ground truth.

Every generator draws from ``check_random_state(random_state)`` (a legacy
:class:`numpy.random.RandomState`, as scikit-learn's ``make_*`` functions), so
the same ``random_state`` gives the same data. With ``return_params=True`` the
generators also return the parameters that produced the data, so that a fitted
model can be compared with the truth.
"""

import numbers

import numpy as np
from scipy.special import softmax
from scipy.stats import norm
from sklearn.utils import check_random_state

__all__ = [
    "make_hierarchical_regimes",
    "make_moe_classification",
    "make_moe_regression",
    "make_piecewise_linear",
    "make_xor",
]


# --------------------------------------------------------------------------
# Argument validation (ValueError with the argument's name and value)
# --------------------------------------------------------------------------
def _check_int(value, name, min_value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < min_value
    ):
        raise ValueError(f"{name} must be an integer >= {min_value}, got {value!r}.")
    return int(value)


def _check_float(value, name, *, low=None, high=None):
    """A finite real number in the closed interval [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}.")
    return value


def _check_vector(value, name, length=None):
    """A 1-D array of finite floats (optionally of a given length)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of numbers, got {value!r}."
        ) from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}.")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got {arr.shape[0]}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers, got {value!r}.")
    return arr


def _check_noise_per_expert(noise, n_experts):
    """A non-negative scalar or one value per expert -> array (n_experts,)."""
    if np.ndim(noise) == 0:
        return np.full(n_experts, _check_float(noise, "noise", low=0.0))
    arr = _check_vector(noise, "noise", n_experts)
    if np.any(arr < 0):
        raise ValueError(f"noise must be >= 0, got {arr.tolist()}.")
    return arr


# --------------------------------------------------------------------------
# Shared pieces of the mixture-of-experts generative model
# --------------------------------------------------------------------------
def _random_rotation(n_features, rng):
    """A random orthogonal (n_features, n_features) matrix (Haar distributed)."""
    q, r = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    return q * np.sign(np.diag(r))


def _gate_centers(n_features, n_experts, rng):
    """Centres whose Voronoi cells split N(0, I) into balanced regions.

    - one expert: the origin;
    - ``n_features == 1``: the normal quantiles ``Phi^-1((k + 1/2) / K)`` in a
      random order (cells of probability close to 1/K);
    - ``n_experts <= n_features + 1``: the vertices of a regular simplex of
      unit radius centred at the origin, randomly rotated;
    - otherwise: ``n_experts`` unit vectors evenly spaced on a circle in a
      random 2-D plane.

    In the last two cases all centres have the same norm and the arrangement
    is symmetric, so each cell holds exactly 1/K of the standard normal mass.
    """
    if n_experts == 1:
        return np.zeros((1, n_features))
    if n_features == 1:
        q = norm.ppf((np.arange(n_experts) + 0.5) / n_experts)
        return rng.permutation(q)[:, np.newaxis]
    rotation = _random_rotation(n_features, rng)
    if n_experts <= n_features + 1:
        # Regular simplex: the rows of I - 1/K, expressed in an orthonormal
        # basis of the (K-1)-dimensional subspace they span.
        vertices = np.eye(n_experts) - 1.0 / n_experts
        u, s, _ = np.linalg.svd(vertices)
        coords = u[:, : n_experts - 1] * s[: n_experts - 1]
    else:
        angles = 2 * np.pi * np.arange(n_experts) / n_experts
        coords = np.column_stack([np.cos(angles), np.sin(angles)])
    coords /= np.linalg.norm(coords, axis=1, keepdims=True)
    return coords @ rotation[: coords.shape[1]]


def _softmax_gate(n_features, n_experts, gate_scale, rng):
    """Gate parameters: logits ``gate_scale * (c_k . x - |c_k|^2 / 2)``.

    As ``gate_scale`` grows the gate tends to the hard Voronoi partition of
    the centres ``c_k`` (nearest centre wins); at 0 it is uniform.
    """
    centers = _gate_centers(n_features, n_experts, rng)
    gate_coef = gate_scale * centers.T
    gate_intercept = -0.5 * gate_scale * np.sum(centers**2, axis=1)
    return gate_coef, gate_intercept


def _sample_categorical(proba, rng):
    """One draw per row from the categorical distributions in ``proba``."""
    u = rng.uniform(size=(proba.shape[0], 1))
    return np.sum(u > np.cumsum(proba, axis=1)[:, :-1], axis=1).astype(np.int64)


# --------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------
def make_moe_regression(
    n_samples=1000,
    *,
    n_features=2,
    n_experts=3,
    noise=0.1,
    gate_scale=3.0,
    random_state=None,
    return_params=False,
):
    """Sample from a mixture of linear-Gaussian experts with a softmax gate.

    This is exactly the generative model of a mixture of experts (Jacobs et
    al. 1991):

    1. ``X ~ N(0, I)``;
    2. gate ``g(x) = softmax(x @ gate_coef + gate_intercept)``;
    3. the expert of each row, ``z ~ Categorical(g(x))``;
    4. ``y = x @ expert_coef[z] + expert_intercept[z] + noise_std[z] * eps``
       with ``eps ~ N(0, 1)``.

    How the parameters are drawn (so that every expert owns a good share of
    the data and the experts are clearly different):

    - Gate: logits ``gate_scale * (c_k . x - |c_k|^2 / 2)``, i.e.
      ``gate_coef[:, k] = gate_scale * c_k`` and
      ``gate_intercept[k] = -gate_scale * |c_k|^2 / 2``, whose hard limit is
      the Voronoi partition of centres ``c_k``. The centres are the vertices
      of a randomly rotated regular simplex of unit radius when
      ``n_experts <= n_features + 1``, else unit vectors evenly spaced on a
      circle in a random plane: each expert's region then holds exactly
      ``1 / n_experts`` of the data on average. With one feature the centres
      are the normal quantiles ``Phi^-1((k + 1/2) / n_experts)`` (shares
      close to ``1 / n_experts``: 0.324, 0.352, 0.324 for three experts at
      the default ``gate_scale``, the middle region the largest).
      ``gate_scale`` sets the sharpness: 0 gives a uniform gate, large values
      a nearly hard partition.
    - Experts: ``expert_coef`` entries are ``N(0, 2^2)``; the intercepts are
      ``3 * (k - (n_experts - 1) / 2)`` for ``k = 0 .. n_experts - 1``, in a
      random order (3 apart, centred on 0).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, >= 1.
    n_features : int, default=2
        Number of features, >= 1.
    n_experts : int, default=3
        Number of experts ``K``, >= 1.
    noise : float or array-like of shape (n_experts,), default=0.1
        Standard deviation of each expert's Gaussian noise, >= 0 (a scalar is
        shared by all experts).
    gate_scale : float, default=3.0
        Sharpness of the gate, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.
    return_params : bool, default=False
        If True, also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The inputs.
    y : ndarray of shape (n_samples,), float64
        The targets.
    params : dict
        Only if ``return_params`` is True:

        - ``gate_coef``: ndarray of shape (n_features, n_experts)
        - ``gate_intercept``: ndarray of shape (n_experts,)
        - ``expert_coef``: ndarray of shape (n_experts, n_features)
        - ``expert_intercept``: ndarray of shape (n_experts,)
        - ``noise_std``: ndarray of shape (n_experts,)
        - ``expert_index``: int64 ndarray of shape (n_samples,), the sampled
          expert of each row.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> X, y, params = make_moe_regression(
    ...     500, n_features=2, n_experts=3, random_state=0, return_params=True
    ... )
    >>> X.shape, y.shape, params["expert_coef"].shape
    ((500, 2), (500,), (3, 2))
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_experts = _check_int(n_experts, "n_experts", 1)
    noise_std = _check_noise_per_expert(noise, n_experts)
    gate_scale = _check_float(gate_scale, "gate_scale", low=0.0)
    rng = check_random_state(random_state)

    gate_coef, gate_intercept = _softmax_gate(n_features, n_experts, gate_scale, rng)
    expert_coef = rng.normal(scale=2.0, size=(n_experts, n_features))
    expert_intercept = rng.permutation(
        3.0 * (np.arange(n_experts) - (n_experts - 1) / 2)
    )

    X = rng.standard_normal((n_samples, n_features))
    gate_proba = softmax(X @ gate_coef + gate_intercept, axis=1)
    expert_index = _sample_categorical(gate_proba, rng)
    eps = rng.standard_normal(n_samples)
    y = (
        np.einsum("ij,ij->i", X, expert_coef[expert_index])
        + expert_intercept[expert_index]
        + noise_std[expert_index] * eps
    )
    if not return_params:
        return X, y
    params = {
        "gate_coef": gate_coef,
        "gate_intercept": gate_intercept,
        "expert_coef": expert_coef,
        "expert_intercept": expert_intercept,
        "noise_std": noise_std,
        "expert_index": expert_index,
    }
    return X, y, params


def make_moe_classification(
    n_samples=1000,
    *,
    n_features=2,
    n_experts=2,
    n_classes=2,
    gate_scale=3.0,
    expert_scale=3.0,
    random_state=None,
    return_params=False,
):
    """Sample from a mixture of multinomial-logistic experts with a softmax gate.

    1. ``X ~ N(0, I)``;
    2. gate ``g(x) = softmax(x @ gate_coef + gate_intercept)``, drawn as in
       :func:`make_moe_regression` (balanced expert regions);
    3. the expert of each row, ``z ~ Categorical(g(x))``;
    4. the label ``y ~ Categorical(softmax(x @ expert_coef[z] +
       expert_intercept[z]))``.

    Each expert's ``expert_coef[k]`` is ``expert_scale`` times standard
    normal draws, centred over the classes (the identifiable form of a
    multinomial logit); ``expert_intercept[k]`` is ``N(0, 0.5^2)`` draws
    centred over the classes. Larger ``expert_scale`` makes each expert's
    class boundaries sharper.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, >= 1.
    n_features : int, default=2
        Number of features, >= 1.
    n_experts : int, default=2
        Number of experts ``K``, >= 1.
    n_classes : int, default=2
        Number of classes, >= 2; labels are ``0 .. n_classes - 1``.
    gate_scale : float, default=3.0
        Sharpness of the gate, >= 0.
    expert_scale : float, default=3.0
        Scale of the experts' coefficients, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.
    return_params : bool, default=False
        If True, also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The inputs.
    y : ndarray of shape (n_samples,), int64
        The class labels.
    params : dict
        Only if ``return_params`` is True:

        - ``gate_coef``: ndarray of shape (n_features, n_experts)
        - ``gate_intercept``: ndarray of shape (n_experts,)
        - ``expert_coef``: ndarray of shape (n_experts, n_features, n_classes)
        - ``expert_intercept``: ndarray of shape (n_experts, n_classes)
        - ``expert_index``: int64 ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skmoe.datasets import make_moe_classification
    >>> X, y = make_moe_classification(300, n_classes=3, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((300, 2), [0, 1, 2])
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_experts = _check_int(n_experts, "n_experts", 1)
    n_classes = _check_int(n_classes, "n_classes", 2)
    gate_scale = _check_float(gate_scale, "gate_scale", low=0.0)
    expert_scale = _check_float(expert_scale, "expert_scale", low=0.0)
    rng = check_random_state(random_state)

    gate_coef, gate_intercept = _softmax_gate(n_features, n_experts, gate_scale, rng)
    expert_coef = rng.standard_normal((n_experts, n_features, n_classes))
    expert_coef -= expert_coef.mean(axis=2, keepdims=True)
    expert_coef *= expert_scale
    expert_intercept = rng.normal(scale=0.5, size=(n_experts, n_classes))
    expert_intercept -= expert_intercept.mean(axis=1, keepdims=True)

    X = rng.standard_normal((n_samples, n_features))
    gate_proba = softmax(X @ gate_coef + gate_intercept, axis=1)
    expert_index = _sample_categorical(gate_proba, rng)
    logits = (
        np.einsum("ij,ijc->ic", X, expert_coef[expert_index])
        + expert_intercept[expert_index]
    )
    y = _sample_categorical(softmax(logits, axis=1), rng)
    if not return_params:
        return X, y
    params = {
        "gate_coef": gate_coef,
        "gate_intercept": gate_intercept,
        "expert_coef": expert_coef,
        "expert_intercept": expert_intercept,
        "expert_index": expert_index,
    }
    return X, y, params


def make_piecewise_linear(
    n_samples=500,
    *,
    breakpoints=(-1.0, 1.0),
    slopes=(1.0, -2.0, 1.5),
    noise=0.1,
    x_range=(-3, 3),
    random_state=None,
    return_params=False,
):
    """Noisy samples of a continuous piecewise-linear function of one input.

    ``x ~ Uniform(x_range)`` and ``y = intercepts[j] + slopes[j] * x +
    noise * eps`` on segment ``j`` (segment 0 is ``x < breakpoints[0]``,
    segment ``j`` is ``breakpoints[j-1] <= x < breakpoints[j]``, the last
    is ``x >= breakpoints[-1]``).

    Intercepts: ``intercepts[0] = 0`` (the first segment's line passes through
    the origin), and each next intercept makes the function continuous at the
    breakpoint between them:
    ``intercepts[j] = intercepts[j-1] + (slopes[j-1] - slopes[j]) *
    breakpoints[j-1]``.

    Parameters
    ----------
    n_samples : int, default=500
        Number of rows, >= 1.
    breakpoints : array-like of shape (n_breakpoints,), default=(-1.0, 1.0)
        Strictly increasing finite breakpoints (may be empty: a single line).
    slopes : array-like of shape (n_breakpoints + 1,), default=(1.0, -2.0, 1.5)
        Slope of each segment.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise, >= 0.
    x_range : tuple of two floats, default=(-3, 3)
        ``(low, high)`` with ``low < high``: the range of ``x``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.
    return_params : bool, default=False
        If True, also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, 1), float64
        The input.
    y : ndarray of shape (n_samples,), float64
        The targets.
    params : dict
        Only if ``return_params`` is True: ``breakpoints`` (n_breakpoints,),
        ``slopes`` and ``intercepts`` (n_breakpoints + 1,), ``noise`` (float)
        and ``segment`` (int64 ndarray of shape (n_samples,), the segment of
        each row).

    Examples
    --------
    >>> from skmoe.datasets import make_piecewise_linear
    >>> X, y, params = make_piecewise_linear(200, random_state=0, return_params=True)
    >>> X.shape, params["intercepts"].tolist()
    ((200, 1), [0.0, -3.0, -6.5])
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    breakpoints = _check_vector(breakpoints, "breakpoints")
    if np.any(np.diff(breakpoints) <= 0):
        raise ValueError(
            f"breakpoints must be strictly increasing, got {breakpoints.tolist()}."
        )
    slopes = _check_vector(slopes, "slopes", len(breakpoints) + 1)
    noise = _check_float(noise, "noise", low=0.0)
    x_range = _check_vector(x_range, "x_range", 2)
    if not x_range[0] < x_range[1]:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range}.")
    rng = check_random_state(random_state)

    intercepts = np.zeros_like(slopes)
    for j in range(1, len(slopes)):
        intercepts[j] = (
            intercepts[j - 1] + (slopes[j - 1] - slopes[j]) * breakpoints[j - 1]
        )

    x = rng.uniform(x_range[0], x_range[1], size=n_samples)
    segment = np.searchsorted(breakpoints, x, side="right").astype(np.int64)
    y = (
        intercepts[segment]
        + slopes[segment] * x
        + noise * rng.standard_normal(n_samples)
    )
    X = x[:, np.newaxis]
    if not return_params:
        return X, y
    params = {
        "breakpoints": breakpoints,
        "slopes": slopes,
        "intercepts": intercepts,
        "noise": noise,
        "segment": segment,
    }
    return X, y, params


def make_xor(n_samples=1000, *, noise=0.0, random_state=None):
    """Two-dimensional XOR classification.

    ``X ~ Uniform([-1, 1]^2)`` and ``y = 1`` where ``x0`` and ``x1`` have the
    same sign (``x0 * x1 > 0``), else 0; then each label is flipped with
    probability ``noise``.

    No single linear (logistic) model does better than chance on it, but a
    mixture of two logistic experts does perfectly (with ``noise=0``): a gate
    that splits on the sign of ``x0``, an expert ``y = [x1 > 0]`` for
    ``x0 > 0`` and an expert ``y = [x1 < 0]`` for ``x0 < 0``, each linear in
    ``x1``. Four experts (one per quadrant, each a constant) also do.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, >= 1.
    noise : float, default=0.0
        Probability of flipping each label, in [0, 0.5].
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
        The inputs.
    y : ndarray of shape (n_samples,), int64
        The labels, 0 or 1.

    Examples
    --------
    >>> from skmoe.datasets import make_xor
    >>> X, y = make_xor(8, random_state=0)
    >>> bool(((X[:, 0] * X[:, 1] > 0) == (y == 1)).all())
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    noise = _check_float(noise, "noise", low=0.0, high=0.5)
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    flip = rng.uniform(size=n_samples) < noise
    y[flip] = 1 - y[flip]
    return X, y


# Regime layout of make_hierarchical_regimes: (x0 side, x1 side) -> regime.
_REGIME_THRESHOLDS = {"x0": 0.0, "x1_left": 0.5, "x1_right": -0.5}
_REGIME_COEF = np.array([[1.0, 2.0], [-1.5, 0.5], [2.0, -1.0], [0.5, -2.0]])
_REGIME_INTERCEPT = np.array([-1.0, 2.0, 1.0, -2.0])


def make_hierarchical_regimes(
    n_samples=1000,
    *,
    n_features=2,
    noise=0.1,
    random_state=None,
    return_params=False,
):
    """Four linear regimes behind a two-level split: ground truth for an HME.

    ``X ~ Uniform([-2, 2]^n_features)``. The first split is on ``x0``, the
    second on ``x1`` with a threshold that depends on the branch:

    ======  ==========================  =================================
    regime  region                      function
    ======  ==========================  =================================
    0       x0 <= 0  and x1 <= 0.5      y = -1 + 1.0 x0 + 2.0 x1
    1       x0 <= 0  and x1 >  0.5      y =  2 - 1.5 x0 + 0.5 x1
    2       x0 >  0  and x1 <= -0.5     y =  1 + 2.0 x0 - 1.0 x1
    3       x0 >  0  and x1 >  -0.5     y = -2 + 0.5 x0 - 2.0 x1
    ======  ==========================  =================================

    plus ``noise * eps``, ``eps ~ N(0, 1)``. Because the second-level
    thresholds differ (0.5 on the left, -0.5 on the right) no single split
    on ``x1`` serves both branches: it is a genuine two-level hierarchy (a
    hierarchical mixture of experts with a root gate on ``x0`` and one gate on
    ``x1`` per branch). Regime shares: 0.3125, 0.1875, 0.1875, 0.3125.
    Features beyond the first two are pure noise (coefficient 0).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, >= 1.
    n_features : int, default=2
        Number of features, >= 2; features 2 onwards do not affect ``y``.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.
    return_params : bool, default=False
        If True, also return the true parameters.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The inputs.
    y : ndarray of shape (n_samples,), float64
        The targets.
    params : dict
        Only if ``return_params`` is True: ``thresholds`` (dict with keys
        ``"x0"``, ``"x1_left"``, ``"x1_right"``), ``coef`` (4, n_features),
        ``intercept`` (4,), ``regime`` (int64 ndarray of shape (n_samples,),
        the true regime of each row) and ``noise`` (float).

    Examples
    --------
    >>> from skmoe.datasets import make_hierarchical_regimes
    >>> X, y, params = make_hierarchical_regimes(
    ...     400, n_features=3, random_state=0, return_params=True
    ... )
    >>> X.shape, params["coef"].shape
    ((400, 3), (4, 3))
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 2)
    noise = _check_float(noise, "noise", low=0.0)
    rng = check_random_state(random_state)

    thresholds = dict(_REGIME_THRESHOLDS)
    coef = np.zeros((4, n_features))
    coef[:, :2] = _REGIME_COEF
    intercept = _REGIME_INTERCEPT.copy()

    X = rng.uniform(-2.0, 2.0, size=(n_samples, n_features))
    right = X[:, 0] > thresholds["x0"]
    x1_threshold = np.where(right, thresholds["x1_right"], thresholds["x1_left"])
    upper = X[:, 1] > x1_threshold
    regime = (2 * right + upper).astype(np.int64)
    y = (
        np.einsum("ij,ij->i", X, coef[regime])
        + intercept[regime]
        + noise * rng.standard_normal(n_samples)
    )
    if not return_params:
        return X, y
    params = {
        "thresholds": thresholds,
        "coef": coef,
        "intercept": intercept,
        "regime": regime,
        "noise": noise,
    }
    return X, y, params
