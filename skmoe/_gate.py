"""The softmax gate: multinomial logistic regression fitted on soft targets."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._kernels import linear_log_softmax, softmax_cross_entropy

__all__ = ["SoftmaxGate"]


def _weighted_standardization(X, sample_weight):
    """Weighted mean and scale of each column (scale 1 for constant columns).

    Weighted so that integer weights and repeated rows give the same gate.
    """
    wsum = sample_weight.sum()
    mean = sample_weight @ X / wsum
    var = sample_weight @ (X - mean) ** 2 / wsum
    scale = np.sqrt(var)
    # A constant column carries no information; scale 1 keeps it harmless.
    scale[scale <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
    return mean, scale


def _log_softmax(z):
    """Row-wise log-softmax (faster than scipy's for the few columns of a gate)."""
    z = z - z.max(axis=1, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


class _SoftTargetLoss:
    """Penalised soft-target cross-entropy with its gradient, for L-BFGS.

    Minimises, over ``W`` (n_features, K) and ``b`` (K,),

        (sum_i w_i sum_k t_ik (-log softmax(x_i W + b)_k) + ||W||^2 / (2 C)) / sum_i w_i

    The division by the total weight keeps the scale of the objective (and so
    the meaning of the solver tolerance) independent of the number of rows.
    """

    def __init__(self, X, targets, sample_weight, C, fit_intercept):
        # Features-major copies: the kernel vectorises over rows.
        self.XT = np.ascontiguousarray(X.T, dtype=np.float64)
        self.weighted_targets_T = np.ascontiguousarray(
            targets.T * sample_weight, dtype=np.float64
        )
        self.row_mass = self.weighted_targets_T.sum(axis=0)
        self.wsum = sample_weight.sum()
        self.l2 = 0.0 if np.isinf(C) else 1.0 / C
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.n_classes = targets.shape[1]

    def unpack(self, params):
        d, k = self.n_features, self.n_classes
        W = params[: d * k].reshape(d, k)
        b = params[d * k :] if self.fit_intercept else np.zeros(k, dtype=params.dtype)
        return W, b

    def loss_gradient(self, params):
        W, b = self.unpack(params)
        loss, grad = softmax_cross_entropy(
            self.XT, W, b, self.weighted_targets_T, self.row_mass
        )
        loss += 0.5 * self.l2 * np.vdot(W, W)
        grad[:-1] += self.l2 * W
        flat = grad.ravel() if self.fit_intercept else grad[:-1].ravel()
        return loss / self.wsum, flat / self.wsum

    def penalty(self, W):
        return 0.5 * self.l2 * np.sum(W * W)


class SoftmaxGate(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression that also accepts soft targets.

    The gate of a mixture of experts: ``g(x) = softmax(x @ coef_ + intercept_)``.
    It is fitted by L-BFGS with an analytic gradient on the L2-penalised
    cross-entropy between the targets and the predicted probabilities. Targets
    are either class labels (as for :class:`~sklearn.linear_model.LogisticRegression`)
    or a matrix of *soft* targets, one probability vector per row (the
    responsibilities of an EM M-step).

    Parameters
    ----------
    C : float, default=100.0
        Inverse of the L2 penalty strength, as in ``LogisticRegression``: the
        objective is ``C * sum_i w_i CE_i + ||coef||^2 / 2``. The default is a
        weak penalty (on standardised features): it keeps the gate finite when
        the experts' regions separate perfectly, which is common, while gates
        can still switch sharply (a strong penalty such as ``C=1`` blurs the
        boundaries between experts on small data). ``np.inf`` turns the
        penalty off (then separable targets have no finite optimum).
    fit_intercept : bool, default=True
        Whether to fit an intercept per class (never penalised).
    standardize : bool, default=True
        Fit on internally standardised features (weighted mean 0, variance 1)
        and map the coefficients back to the original scale. This makes the
        fit independent of the scale of the features (a calendar year does not
        slow the solver down) and applies the penalty on the standardised
        scale. ``coef_`` and ``intercept_`` always refer to the original
        features.
    max_iter : int, default=200
        Maximum number of L-BFGS iterations per call to ``fit``.
    tol : float, default=1e-6
        L-BFGS stops when the largest gradient component of the objective
        divided by the total sample weight is below ``tol``.
    warm_start : bool, default=False
        Start L-BFGS from the previous ``coef_`` and ``intercept_`` (the EM
        driver does this between iterations).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``arange(n_classes)`` when fitted on soft targets.
    coef_ : ndarray of shape (n_features_in_, n_classes)
        Gate weights on the original feature scale.
    intercept_ : ndarray of shape (n_classes,)
        Gate intercepts on the original feature scale.
    n_iter_ : int
        L-BFGS iterations of the last fit.
    converged_ : bool
        Whether the last fit met ``tol`` within ``max_iter``.
    objective_ : float
        Final value of the penalised objective divided by the total weight.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    Notes
    -----
    The coefficients are those of a full (over-parametrised) softmax with one
    column per class, as in scikit-learn's multinomial ``LogisticRegression``;
    the penalty makes them unique. With ``standardize=False`` the fit equals a
    ``LogisticRegression(C=C)`` fitted on the rows repeated once per class with
    ``sample_weight * targets[:, k]`` as weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import SoftmaxGate
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> soft = np.array([[0.9, 0.1], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]])
    >>> gate = SoftmaxGate().fit(X, soft)
    >>> gate.predict_proba(X).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, np.inf, closed="right")],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        C=100.0,
        *,
        fit_intercept=True,
        standardize=True,
        max_iter=200,
        tol=1e-6,
        warm_start=False,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the gate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or soft targets: non-negative rows that sum to one (a
            single float column of ones is the trivial one-class soft target).
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; a soft-target row ``t_i`` with weight ``w_i`` counts as
            ``w_i * t_ik`` observations of class ``k``.
        check_input : bool, default=True
            Validate the inputs. ``False`` skips every check, as the
            ``check_input`` of scikit-learn's trees does: only for callers
            that have validated them (the EM driver, at every iteration):
            ``X`` a finite float64 ndarray with the fitted number of columns,
            ``y`` a float64 ndarray of soft targets whose rows sum to one,
            ``sample_weight`` a float64 ndarray.

        Returns
        -------
        self : SoftmaxGate
            The fitted gate.
        """
        if not check_input:
            if not hasattr(self, "n_features_in_"):
                self.n_features_in_ = X.shape[1]
            return self._fit_validated(X, y, sample_weight, np.arange(y.shape[1]))
        y_arr = np.asarray(y) if not hasattr(y, "iloc") else y.to_numpy()
        # A single column of ones is the soft target of a one-expert mixture,
        # not a column vector of labels.
        soft = y_arr.ndim == 2 and (
            y_arr.shape[1] > 1
            or (y_arr.dtype.kind == "f" and y_arr.size > 0 and np.all(y_arr == 1.0))
        )
        if soft:
            X, targets = validate_data(
                self, X, y, multi_output=True, y_numeric=True, dtype=np.float64
            )
            targets = self._check_soft_targets(targets)
            classes = np.arange(targets.shape[1])
        else:
            X, y = validate_data(self, X, y, dtype=np.float64)
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
            classes, y_idx = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(
                    "SoftmaxGate needs samples of at least 2 classes in the data, "
                    f"but the data contain only one class: {classes[0]!r}."
                )
            targets = np.zeros((y_idx.size, classes.size))
            targets[np.arange(y_idx.size), y_idx] = 1.0
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if sample_weight.sum() <= 0:
            raise ValueError(
                "The sample weights sum to zero: give at least one row a "
                "positive weight."
            )
        return self._fit_validated(X, targets, sample_weight, classes)

    def _fit_validated(self, X, targets, sample_weight, classes):
        reuse = (
            self.warm_start
            and hasattr(self, "coef_")
            and self.coef_.shape == (X.shape[1], classes.size)
        )
        init = (self.coef_, self.intercept_) if reuse else None
        self.classes_ = classes
        self._fit_soft_targets(X, targets, sample_weight, init)
        return self

    @staticmethod
    def _check_soft_targets(targets):
        if np.any(targets < 0):
            raise ValueError(
                "Soft targets must be non-negative probabilities; got negative "
                "entries. Pass class labels as a 1-D array instead."
            )
        row_sums = targets.sum(axis=1)
        if not np.allclose(row_sums, 1.0, rtol=0, atol=1e-4):
            raise ValueError(
                "Each row of soft targets must sum to 1 (a probability vector); "
                f"row sums range from {row_sums.min():.6g} to {row_sums.max():.6g}."
            )
        return targets / row_sums[:, None]

    def _fit_soft_targets(self, X, targets, sample_weight, init):
        if self.standardize:
            mean, scale = _weighted_standardization(X, sample_weight)
            Xs = (X - mean) / scale
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
            Xs = X
        loss = _SoftTargetLoss(Xs, targets, sample_weight, self.C, self.fit_intercept)
        d, k = X.shape[1], targets.shape[1]
        if init is None:
            params = np.zeros(d * k + (k if self.fit_intercept else 0))
        else:
            # Map the raw-scale coefficients into the standardised space.
            W = init[0] * scale[:, None]
            b = init[1] + mean @ init[0]
            params = np.concatenate([W.ravel(), b] if self.fit_intercept else [W])
        result = minimize(
            loss.loss_gradient,
            params,
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": self.max_iter,
                "gtol": self.tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        W, b = loss.unpack(result.x)
        self.coef_ = W / scale[:, None]
        self.intercept_ = b - mean @ self.coef_
        self.n_iter_ = int(result.nit)
        self.converged_ = bool(result.status == 0)
        self.objective_ = float(result.fun)
        self.penalty_ = float(loss.penalty(W))
        if result.status == 1:
            warnings.warn(
                f"SoftmaxGate's L-BFGS did not converge in max_iter={self.max_iter} "
                "iterations: increase max_iter, or decrease C.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def decision_function(self, X):
        """Gate logits ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        logits : ndarray of shape (n_samples, n_classes)
            For two classes, the 1-D difference of the two logits, as
            scikit-learn classifiers return.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.coef_ + self.intercept_

    def predict_log_proba(self, X, check_input=True):
        """Log of the gate probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        check_input : bool, default=True
            Validate ``X``; ``False`` (for callers that have: ``X`` a finite
            float64 ndarray with the fitted number of columns) skips it.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), float64
        """
        if check_input:
            check_is_fitted(self)
            X = validate_data(self, X, reset=False, dtype=np.float64)
        return linear_log_softmax(X, self.coef_, self.intercept_)

    def predict_proba(self, X):
        """Gate probabilities (rows sum to one).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
