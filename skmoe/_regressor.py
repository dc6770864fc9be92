"""What the regressors share, flat or hierarchical: Gaussian experts.

The targets (numeric, validated), the likelihood (``GaussianLikelihood``),
the bound on the experts' predictions (``clip_predictions``) and the
predictions themselves: the mixture's mean and standard deviation, and each
expert's own.
"""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import column_or_1d

from ._array_api import (
    _float_dtype,
    _is_foreign_array,
    _like,
    _namespace,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._experts import _expert_outputs
from ._likelihood import GaussianLikelihood
from ._validation import _check_magnitude, _keeps_float32, _validate_data


class _MixtureRegressorMixin(RegressorMixin):
    """Regression with Gaussian experts, for a :class:`BaseMixtureOfExperts`."""

    _regressor_parameter_constraints: dict = {
        "variance_floor": [Interval(Real, 0, None, closed="neither")],
        "clip_predictions": ["boolean"],
    }

    def _default_expert(self):
        return LinearRegression()

    def _record_target_range(self, X, y, w, previous=None):
        """Set ``target_range_``: the range of ``y`` and of the mixture's
        soft predictions on ``X`` over the rows of positive weight ``w``,
        widened to ``previous`` (a range already seen, for ``partial_fit``).

        The fitted values are included so that the mixture's own fit is
        within the bounds (a line through the data may pass beyond the
        extreme targets): they stop extrapolation to new rows, and on the
        training rows clip only experts that the gate barely weighs there.
        """
        log_gate = self._log_gate(self._get_state(), X)
        preds = _expert_outputs(self.experts_, X)
        xp = _xp_of(preds)
        fitted = _to_numpy(xp.sum(xp.exp(log_gate) * preds, axis=1))
        # A row of weight zero is a row absent from the data.
        kept = _to_numpy(w) > 0
        values = np.concatenate([_to_numpy(y)[kept], fitted[kept]])
        lo, hi = float(values.min()), float(values.max())
        if previous is not None:
            lo, hi = min(lo, float(previous[0])), max(hi, float(previous[1]))
        self.target_range_ = _like(np.array([lo, hi]), X)

    def _bounded_outputs(self, X, rows=None, experts=None, isolate=False):
        """Each expert's prediction, clipped to ``target_range_`` when
        ``clip_predictions``."""
        experts = self.experts_ if experts is None else experts
        preds = _expert_outputs(experts, X, rows=rows, isolate=isolate)
        if not self.clip_predictions:
            return preds
        lo, hi = (float(v) for v in _to_numpy(self.target_range_))
        return _xp_of(preds).clip(preds, lo, hi)

    def _check_numeric_target(self, y):
        """``y``, its strings of numbers (``"1.5"``) as floats; other strings
        are refused."""
        if _is_foreign_array(y):
            return y  # arrays of another namespace hold numbers
        y_arr = np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        if y_arr.dtype.kind in "OUS":
            try:
                # scikit-learn converts only object arrays of numbers itself.
                return y_arr.astype(np.float64)
            except (TypeError, ValueError):
                name = type(self).__name__
                raise ValueError(
                    f"{name} needs a numeric target y, but y holds non-numeric "
                    "values (e.g. strings). For class labels use "
                    f"{name.replace('Regressor', 'Classifier')}."
                ) from None
        return y

    def _validate_fit_data(self, X, y):
        y = self._check_numeric_target(y)
        X, y = _validate_data(self, X, y, y_numeric=True, dtype=_float_dtype(X))
        xp, device = _namespace(X)
        if xp is not np:
            y = xp.astype(_to_namespace(y, xp, device), X.dtype)
        _check_magnitude(X, "X")
        _check_magnitude(y, "y")
        return X, y

    def _check_y(self, y, X):
        y = self._check_numeric_target(y)
        xp, device = _namespace(X)
        if xp is np:
            y = column_or_1d(np.asarray(_to_numpy(y), dtype=np.float64), warn=True)
        else:
            y = xp.astype(
                _to_namespace(column_or_1d(y, warn=True), xp, device), X.dtype
            )
        n_samples = X.shape[0]
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} rows but y has {y.shape[0]}: they must match."
            )
        if not bool(_xp_of(y).all(_xp_of(y).isfinite(y))):
            raise ValueError("Input y contains NaN or infinity.")
        return y

    def _likelihood(self, y=None, sample_weight=None):
        if y is None:
            return GaussianLikelihood(min_responsibility=self.min_responsibility)
        return GaussianLikelihood.for_fit(
            y,
            sample_weight,
            self.variance_floor,
            self.min_responsibility,
            isolate=self.expert_errors == "isolate",
        )

    @_keeps_float32
    def predict(self, X, return_std=False):
        """Predict with the mixture (gate-weighted experts, per ``routing``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution
            (the experts' noise and their disagreement included).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
            Mean of the predictive distribution.
        y_std : ndarray of shape (n_samples,)
            Its standard deviation; only when ``return_std=True``.
        """
        X, weights, preds = self._mixed_outputs(
            X,
            "predict",
            lambda experts, X, rows, isolate: self._bounded_outputs(
                X, rows, experts, isolate
            ),
        )
        xp = _xp_of(preds)
        used = weights > 0
        zero = xp.zeros_like(preds)
        preds = xp.where(used, preds, zero)
        mean = xp.sum(weights * preds, axis=1)
        if not return_std:
            return mean
        spread = xp.where(used, (preds - mean[:, None]) ** 2, zero)
        var = xp.sum(weights * (self.noise_variance_ + spread), axis=1)
        return mean, xp.sqrt(var)

    @_keeps_float32
    def predict_experts(self, X):
        """Each expert's prediction for every row (no routing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        predictions : ndarray of shape (n_samples, n_experts)
        """
        X = self._check_X(X, "predict_experts")  # before experts_: NotFittedError
        return self._bounded_outputs(X)
