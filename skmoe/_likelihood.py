"""The experts' likelihoods: how a target is distributed given an expert.

One class per family. A likelihood is made for one fit from the training
targets (the data-dependent constants, such as the variance floor, live in
it, not on the estimator), and at prediction time from the fitted model. It
fits the experts in an M-step, estimates its own parameters (the noise
variances), scores rows under each expert, and counts those parameters.
EM (``_base``), the gradient solvers and the estimators' ``score_samples``
all ask it; adding a family (Student-t, Poisson) is one new class here and
an estimator that makes it.

``state`` is the dict of a model in the making: ``"experts"`` (fitted
estimators), ``"gate"`` and ``"noise_variance"`` (Gaussian only).
"""

import numpy as np

from ._array_api import _namespace, _to_namespace, _to_numpy, _xp_of
from ._experts import PROBA_FLOOR, _expert_outputs, _fit_experts, _output_or_zeros
from ._kernels import gaussian_log_likelihood
from ._validation import _MIN_MAGNITUDE


def _rounding_variance(y, sample_weight):
    """``delta**2 / 12``, where ``delta`` is the smallest gap between distinct
    target values (of rows with positive weight): the variance that rounding
    to that resolution adds (Sheppard's correction).

    A target recorded to a resolution (integer scores, say) has no density
    below it: an expert that takes the rows of one value would otherwise
    shrink its variance to the floor and its likelihood without bound (on
    the red-wine quality scores, every expert of a mixture did). For a
    continuous target the gaps, and so this floor, are negligible.
    """
    values = np.unique(_to_numpy(y)[_to_numpy(sample_weight) > 0])
    gaps = np.diff(values)
    gaps = gaps[gaps > 0]
    return float(gaps.min()) ** 2 / 12 if gaps.size else 0.0


class GaussianLikelihood:
    """``y ~ N(f_k(x), sigma_k^2)``: regression experts with their own noise
    variances.

    Parameters
    ----------
    variance_floor : float, default=0.0
        Absolute lower bound on every noise variance (see :meth:`for_fit`).
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    """

    classifier = False

    def __init__(self, variance_floor=0.0, min_responsibility=0.0, isolate=False):
        self.variance_floor = variance_floor
        self.min_responsibility = min_responsibility
        self.isolate = isolate

    @classmethod
    def for_fit(
        cls, y, sample_weight, relative_floor, min_responsibility, isolate=False
    ):
        """The likelihood of one fit: its variance floor is ``relative_floor``
        times the weighted variance of ``y``, and never below the variance
        of rounding ``y`` to its resolution (:func:`_rounding_variance`)."""
        wsum = float(_xp_of(sample_weight).sum(sample_weight))
        mean = float(sample_weight @ y) / wsum
        var_y = float(sample_weight @ (y - mean) ** 2) / wsum
        # A constant target still needs a positive floor.
        # Relative to the target's own scale: a target in units of 1e-150
        # has variances near 1e-300, which an absolute floor would swamp.
        tiny = max(np.finfo(np.float64).eps * mean * mean, _MIN_MAGNITUDE**2)
        floor = max(
            relative_floor * max(var_y, tiny), _rounding_variance(y, sample_weight)
        )
        return cls(floor, min_responsibility, isolate)

    def n_extra_parameters(self, n_experts):
        """Free parameters beyond the gate's and the experts': the variances."""
        return n_experts

    def target_columns(self, y):
        """The target as columns, for the starts that cluster on it: y."""
        return np.asarray(y, dtype=np.float64)[:, None]

    def init_features(self, X, y):
        """Features on which a k-means start clusters the rows: X and y."""
        return np.column_stack([X, self.target_columns(y)])

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """Fit the experts on ``weights`` (n, K) and their noise variances;
        update ``state``. Returns the (n, K) log-likelihood of each row under
        each refitted expert."""
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, False, n_jobs, self.isolate
        )
        # With isolate, an expert whose outputs are invalid fails here.
        preds = _expert_outputs(fitted, X, isolate=self.isolate)
        xp = _xp_of(preds)
        mass = xp.sum(weights, axis=0)
        sq = weights * (y[:, None] - preds) ** 2
        previous = state.get("noise_variance")
        # An expert without data (mass 0) keeps its variance (0/0 is masked).
        safe_mass = xp.where(mass > 0, mass, xp.ones_like(mass))
        var = xp.sum(sq, axis=0) / safe_mass
        if previous is not None:
            var = xp.where(mass > 0, var, previous)
        var = xp.where(xp.isnan(var), xp.zeros_like(var), var)
        var = xp.maximum(var, xp.full_like(var, self.variance_floor))
        state["experts"] = fitted
        state["noise_variance"] = var
        return gaussian_log_likelihood(y, preds, var)

    def log_likelihood(self, state, X, y):
        """(n, K) log-density of ``y`` under each expert of ``state``."""
        preds = _expert_outputs(state["experts"], X)
        return gaussian_log_likelihood(y, preds, state["noise_variance"])


class CategoricalLikelihood:
    """``y ~ Categorical(p_k(x))``: classification experts; the probability
    of the observed class is floored at ``PROBA_FLOOR``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        The sorted class labels.
    y : array-like of shape (n_samples,), default=None
        The training labels, whose columns in ``classes`` are looked up once
        for the whole fit.
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    """

    classifier = True

    def __init__(self, classes, y=None, min_responsibility=0.0, isolate=False):
        self.classes = classes
        self.min_responsibility = min_responsibility
        self.isolate = isolate
        self._y = y
        self._y_index = None if y is None else self._lookup(y)

    def _lookup(self, y):
        idx = np.searchsorted(self.classes, _to_numpy(y))
        if isinstance(y, np.ndarray):
            return idx
        xp, device = _namespace(y)
        return _to_namespace(idx, xp, device)

    def index(self, y):
        """Column of each row's label in ``classes`` (in the namespace of y)."""
        if y is self._y and self._y_index is not None:
            return self._y_index
        return self._lookup(y)

    def n_extra_parameters(self, n_experts):
        return 0

    def target_columns(self, y):
        """The labels, one-hot, for the starts that cluster on them."""
        onehot = np.zeros((y.shape[0], self.classes.size))
        onehot[np.arange(y.shape[0]), _to_numpy(self.index(y))] = 1.0
        return onehot

    def init_features(self, X, y):
        """X and the labels, one-hot: a start that already separates the
        classes where the features alone do not."""
        return np.column_stack([X, self.target_columns(y)])

    def _observed_log_proba(self, experts, X, y):
        idx = self.index(y)[:, None]
        xp = _xp_of(X)
        cols = []
        for k in range(len(experts)):
            # A failed expert's zeros are masked with its gate column.
            proba = _output_or_zeros(experts, k, X, self.classes, self.isolate)
            p = xp.take_along_axis(proba, idx, axis=1)[:, 0]
            cols.append(xp.log(xp.maximum(p, xp.full_like(p, PROBA_FLOOR))))
        return xp.stack(cols, axis=1)

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """Fit the experts on ``weights`` (n, K); update ``state``. Returns
        the (n, K) log-probability of each row's label under each expert."""
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, True, n_jobs, self.isolate
        )
        state["experts"] = fitted
        return self._observed_log_proba(fitted, X, y)

    def log_likelihood(self, state, X, y):
        """(n, K) log-probability of ``y`` under each expert of ``state``."""
        return self._observed_log_proba(state["experts"], X, y)
