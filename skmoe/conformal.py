"""Split-conformal prediction intervals with finite-sample coverage.

A mixture's own intervals (``predict_interval``) are as good as its fitted
density: right on average where the model is right. Conformal prediction
(Vovk, Gammerman & Shafer 2005; Lei et al. 2018) widens or narrows them by
an amount measured on held-out rows, so that on new rows exchangeable with
those, they cover the target with probability at least ``coverage``,
whatever the model.
"""

import math
import warnings
from numbers import Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._regressor import _n_target_columns

__all__ = ["ConformalMixtureRegressor"]


def _interval_model(estimator):
    """The step of ``estimator`` with ``predict_interval`` (itself, or the
    last step of a Pipeline), or None."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator if hasattr(estimator, "predict_interval") else None


def _central_interval(estimator, X, coverage):
    """The fitted ``estimator``'s central interval of ``coverage`` on X,
    (n, 2); a Pipeline's preprocessing steps are applied first."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    if isinstance(estimator, Pipeline):
        X = estimator[:-1].transform(X) if len(estimator.steps) > 1 else X
        estimator = estimator.steps[-1][1]
    return np.asarray(estimator.predict_interval(X, coverage=coverage))


class ConformalMixtureRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Prediction intervals calibrated on held-out rows (split conformal).

    :meth:`fit` divides the rows in two: the estimator is fitted on one
    part, and on the other (the calibration rows) each row's conformity
    score says how far its target falls outside the estimator's interval.
    The intervals of :meth:`predict_interval` are the estimator's,
    widened (or narrowed) by the ``ceil((n + 1) coverage) / n`` empirical
    quantile of the ``n`` calibration scores. On a new row exchangeable
    with the calibration rows, the interval then holds the target with
    probability at least ``coverage`` (and, for continuous targets, at most
    ``coverage + 1 / (n + 1)``), whatever the estimator: the guarantee is
    over the draw of the calibration and test rows, not per row.

    Parameters
    ----------
    estimator : regressor
        The model whose intervals are calibrated. A
        :class:`~skmoe.MixtureOfExpertsRegressor` or
        :class:`~skmoe.HierarchicalMixtureOfExpertsRegressor` (or a Pipeline
        ending in one) for ``method='cqr'``; any regressor for
        ``method='absolute'``. It is cloned and fitted on the training part,
        except a :class:`sklearn.frozen.FrozenEstimator`, which is used as
        it is, every row of ``fit`` then calibrating it.
    coverage : float, default=0.9
        Probability that an interval holds the target, in (0, 1).
    method : {'cqr', 'absolute'}, default='cqr'
        The conformity score. ``'cqr'``, conformalised quantile regression
        (Romano, Patterson & Candès 2019): ``max(lo - y, y - hi)``, with
        ``[lo, hi]`` the estimator's central interval of ``coverage``
        (``predict_interval``); the intervals keep the mixture's shape (wide
        where its predictive distribution is wide) and are shifted
        outwards or inwards by one amount. ``'absolute'``: ``|y - f(x)|``
        with ``f`` the estimator's ``predict``; intervals of one width.
    calibration_size : float, default=0.25
        Fraction of the rows of :meth:`fit` held out for calibration
        (rounded up), in (0, 1). Ignored for a ``FrozenEstimator``.
    random_state : int, RandomState instance or None, default=None
        Seed of the split into training and calibration rows. Pass an int
        for reproducible output across multiple function calls.

    Attributes
    ----------
    estimator_ : regressor
        The fitted estimator.
    conformity_scores_ : ndarray of shape (n_calibration,)
        The calibration rows' scores.
    conformity_quantile_ : float
        The amount by which intervals are widened: the
        ``ceil((n_calibration + 1) coverage)``-th smallest score, or
        ``inf`` when there are too few calibration rows for ``coverage``
        (fewer than ``coverage / (1 - coverage)``).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has feature
        names that are all strings.

    See Also
    --------
    skmoe.MixtureOfExpertsRegressor.predict_interval : The model's own
        intervals, from its predictive distribution.

    Notes
    -----
    The calibration rows are not used to fit the estimator. To calibrate an
    estimator fitted beforehand on other rows, wrap it in
    :class:`~sklearn.frozen.FrozenEstimator` and pass the calibration rows
    to :meth:`fit`.

    References
    ----------
    Y. Romano, E. Patterson and E. Candès, "Conformalized quantile
    regression", NeurIPS 2019.

    J. Lei, M. G'Sell, A. Rinaldo, R. J. Tibshirani and L. Wasserman,
    "Distribution-free predictive inference for regression", JASA 2018.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.conformal import ConformalMixtureRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0)
    >>> conf = ConformalMixtureRegressor(moe, coverage=0.9, random_state=0)
    >>> conf.fit(X, y).predict_interval(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"cqr", "absolute"})],
        "calibration_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        coverage=0.9,
        method="cqr",
        calibration_size=0.25,
        random_state=None,
    ):
        self.estimator = estimator
        self.coverage = coverage
        self.method = method
        self.calibration_size = calibration_size
        self.random_state = random_state

    @_fit_context(
        # The estimator is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit the estimator on part of the rows and calibrate on the rest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training and calibration rows.
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self : ConformalMixtureRegressor
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        check_consistent_length(X, y)
        n_targets = _n_target_columns(y)
        if n_targets > 1:
            raise ValueError(
                f"{type(self).__name__} calibrates intervals of one target; y "
                f"has {n_targets} columns. Calibrate one per target column."
            )
        if self.method == "cqr" and _interval_model(self.estimator) is None:
            raise ValueError(
                "method='cqr' calibrates the estimator's own intervals and needs "
                "an estimator with predict_interval (a MixtureOfExpertsRegressor "
                "or HierarchicalMixtureOfExpertsRegressor, or a Pipeline ending "
                f"in one); {type(self.estimator).__name__} has none. Use "
                "method='absolute' for other regressors."
            )
        if isinstance(self.estimator, FrozenEstimator):
            estimator, X_cal, y_cal = self.estimator, X, y
        else:
            X_fit, X_cal, y_fit, y_cal = train_test_split(
                X,
                y,
                test_size=self.calibration_size,
                random_state=self.random_state,
            )
            estimator = clone(self.estimator).fit(X_fit, y_fit)
        y_cal = np.asarray(y_cal, dtype=np.float64).reshape(-1)
        scores = self._scores(estimator, X_cal, y_cal)
        n_cal = scores.shape[0]
        rank = math.ceil((n_cal + 1) * self.coverage)
        if rank > n_cal:
            warnings.warn(
                f"{n_cal} calibration rows are too few for coverage="
                f"{self.coverage}: the intervals are infinite. Calibrate on at "
                f"least {math.ceil(self.coverage / (1 - self.coverage))} rows "
                "(a larger calibration_size, more rows, or a lower coverage).",
                UserWarning,
                stacklevel=2,
            )
            quantile = np.inf
        else:
            quantile = float(np.partition(scores, rank - 1)[rank - 1])
        self.estimator_ = estimator
        self.conformity_scores_ = scores
        self.conformity_quantile_ = quantile
        return self

    def _scores(self, estimator, X, y):
        if self.method == "cqr":
            bounds = _central_interval(estimator, X, self.coverage)
            return np.maximum(bounds[:, 0] - y, y - bounds[:, 1])
        return np.abs(y - np.asarray(estimator.predict(X)).reshape(-1))

    @property
    def n_features_in_(self):
        """Number of features seen during :meth:`fit`."""
        check_is_fitted(self)
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Names of features seen during :meth:`fit`."""
        check_is_fitted(self)
        return self.estimator_.feature_names_in_

    def predict(self, X):
        """The estimator's point predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def predict_interval(self, X):
        """Intervals that hold the target with probability ``coverage``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2)
            Lower and upper bound of each row's interval (``-inf`` and
            ``inf`` when there were too few calibration rows).
        """
        check_is_fitted(self)
        q = self.conformity_quantile_
        if self.method == "cqr":
            bounds = _central_interval(self.estimator_, X, self.coverage)
        else:
            pred = np.asarray(self.estimator_.predict(X), dtype=np.float64)
            bounds = np.column_stack([pred, pred])
        return bounds + np.array([-q, q])
