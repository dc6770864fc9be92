"""What the regressors share, flat or hierarchical.

The targets (numeric, validated), the likelihood (``likelihood``: Gaussian,
Student-t, Poisson or gamma experts, ``_likelihood.py``),
the bound on the experts' predictions (``clip_predictions``) and the
predictions themselves: the mixture's mean and standard deviation, each
expert's own, and the whole predictive distribution (quantiles, intervals,
draws; its numerics are in ``_predictive.py``).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.linear_model import GammaRegressor, LinearRegression, PoissonRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
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
from ._likelihood import REGRESSION_LIKELIHOODS
from ._predictive import _RowMixtures, _RowTMixtures
from ._validation import (
    _check_magnitude,
    _dask_blockwise,
    _keeps_float32,
    _validate_data,
)


def _parameter_names(family):
    """The fitted attributes of a family's per-expert parameters: one name
    per column of the state's ``"noise_variance"`` (none, or a 1-D array
    for a single one)."""
    names = family.parameter
    if names is None:
        return ()
    return (names,) if isinstance(names, str) else tuple(names)


class _MixtureRegressorMixin(RegressorMixin):
    """Regression experts (of the ``likelihood`` family), for a
    :class:`BaseMixtureOfExperts`."""

    _regressor_parameter_constraints: dict = {
        "likelihood": [StrOptions(set(REGRESSION_LIKELIHOODS))],
        "variance_floor": [Interval(Real, 0, None, closed="neither")],
        "clip_predictions": ["boolean"],
    }

    def _default_expert(self):
        if self.likelihood == "poisson":
            return PoissonRegressor(alpha=0.0)
        if self.likelihood == "gamma":
            return GammaRegressor(alpha=0.0)
        return LinearRegression()

    def _get_state(self):
        state = super()._get_state()
        names = _parameter_names(REGRESSION_LIKELIHOODS[self.likelihood])
        values = [getattr(self, name, None) for name in names]
        if not values or any(v is None for v in values):
            state["noise_variance"] = None
        elif len(values) == 1:
            state["noise_variance"] = values[0]
        else:  # one column per attribute (NumPy-only families)
            state["noise_variance"] = np.column_stack(values)
        return state

    def _set_state(self, state):
        # Only the family's own parameter attributes: none left from a fit
        # with another likelihood.
        for family in REGRESSION_LIKELIHOODS.values():
            for name in _parameter_names(family):
                self.__dict__.pop(name, None)
        super()._set_state({**state, "noise_variance": None})
        names = _parameter_names(REGRESSION_LIKELIHOODS[self.likelihood])
        parameter = state.get("noise_variance")
        if not names or parameter is None:
            return
        if len(names) == 1:
            setattr(self, names[0], parameter)
        else:
            for j, name in enumerate(names):
                setattr(self, name, np.array(parameter[:, j]))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Only Gaussian experts are fitted on array-API (device) inputs.
        tags.array_api_support = (
            tags.array_api_support and self.likelihood == "gaussian"
        )
        return tags

    def _check_warm_state(self):
        """The fitted model must hold the parameters of ``likelihood``'s
        family, and no other family's: EM continues from them."""
        names = set(_parameter_names(REGRESSION_LIKELIHOODS[self.likelihood]))
        others = {
            name
            for family in REGRESSION_LIKELIHOODS.values()
            for name in _parameter_names(family)
        } - names
        held = {name for name in names | others if hasattr(self, name)}
        if held != names:
            raise ValueError(
                "warm_start=True but the fitted model was fitted with another "
                f"likelihood than likelihood={self.likelihood!r} (it holds "
                f"{sorted(held) or 'no noise parameter'}, this family needs "
                f"{sorted(names) or 'none'}): set warm_start=False to fit a "
                "new model, or set likelihood back."
            )

    def _noise_parameter(self):
        """The fitted per-expert parameter of the likelihood (or None)."""
        return self._get_state()["noise_variance"]

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
        if self.likelihood != "gaussian" and xp is not np:
            raise ValueError(
                f"likelihood={self.likelihood!r} fits NumPy inputs only; "
                f"with array-API inputs ({xp.__name__}) use "
                "likelihood='gaussian'."
            )
        REGRESSION_LIKELIHOODS[self.likelihood].check_target(y)
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
        REGRESSION_LIKELIHOODS[self.likelihood].check_target(y)
        return y

    def _likelihood(self, y=None, sample_weight=None):
        family = REGRESSION_LIKELIHOODS[self.likelihood]
        if y is None:
            return family(min_responsibility=self.min_responsibility)
        return family.for_fit(
            y,
            sample_weight,
            self.variance_floor,
            self.min_responsibility,
            isolate=self.expert_errors == "isolate",
        )

    @_dask_blockwise
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
        noise = self._likelihood().variances(preds, self._noise_parameter())
        # An expert left out adds nothing, even an infinite variance (a
        # Student-t expert with at most 2 degrees of freedom).
        var = xp.sum(xp.where(used, weights * (noise + spread), zero), axis=1)
        return mean, xp.sqrt(var)

    @_dask_blockwise
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

    # ------------------------------------------------------------------
    # The predictive distribution
    # ------------------------------------------------------------------
    def _predictive(self, X, method):
        """Validated X and the predictive mixture of each of its rows: the
        density :meth:`score_samples` evaluates (every expert weighted by
        the gate, unclipped means, the fitted noise variances)."""
        if self.likelihood not in ("gaussian", "student_t"):
            raise ValueError(
                f"{method} computes the predictive distribution of Gaussian "
                "and Student-t experts; this model has "
                f"likelihood={self.likelihood!r}. Use "
                "predict(X, return_std=True) for its mean and spread."
            )
        X = self._check_X(X, method)
        log_gate = self._log_gate(self._get_state(), X)
        parts = (
            np.exp(_to_numpy(log_gate)),
            _to_numpy(_expert_outputs(self.experts_, X)),
            np.sqrt(_to_numpy(self.noise_variance_)),
        )
        if self.likelihood == "student_t":
            return X, _RowTMixtures(*parts, self.df_)
        return X, _RowMixtures(*parts)

    @_keeps_float32
    @validate_params(
        {"X": ["array-like"], "q": ["array-like", Real]},
        prefer_skip_nested_validation=True,
    )
    def predict_quantiles(self, X, q=0.5):
        """Quantiles of the predictive distribution.

        The predictive distribution at ``x`` is the Gaussian mixture
        ``p(y | x) = sum_k g_k(x) N(y; f_k(x), sigma_k^2)`` (with
        ``likelihood="student_t"``, the mixture of the experts' t
        distributions ``t_{nu_k}(y; f_k(x), sigma_k^2)``): the density that
        :meth:`score_samples` evaluates. It weighs every expert by the gate
        and uses the experts' own predictions, whatever ``routing`` and
        ``clip_predictions`` say (they act on :meth:`predict` only).

        Each quantile is found by bisection on the mixture's distribution
        function, inside the range of the experts' own quantiles. It is
        exact within ``1e-9`` times the smallest noise standard deviation
        (t scale ``sigma_k``) among the experts the gate weighs at that row
        (or within the float64 resolution of the value, where that is
        coarser).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        q : float or array-like of shape (n_quantiles,), default=0.5
            Probability levels, each strictly between 0 and 1. The default
            gives the predictive medians.

        Returns
        -------
        quantiles : ndarray of shape (n_samples,) or (n_samples, n_quantiles)
            One column per level; a 1-D array when ``q`` is a scalar.

        See Also
        --------
        predict_interval : Central and highest-density prediction intervals.
        sample_y : Draws from the predictive distribution.
        """
        levels = np.asarray(q, dtype=np.float64)
        if levels.ndim > 1 or not np.all((levels > 0) & (levels < 1)):
            raise ValueError(
                "q must be a probability level or a 1-D array of them, each "
                f"strictly between 0 and 1 (the 0 and 1 quantiles of a "
                f"mixture are infinite); got {q!r}."
            )
        X, mixtures = self._predictive(X, "predict_quantiles")
        out = mixtures.quantiles(levels.reshape(-1))
        return _like(out[:, 0] if levels.ndim == 0 else out, X)

    @_keeps_float32
    @validate_params(
        {
            "X": ["array-like"],
            "coverage": [Interval(Real, 0, 1, closed="neither")],
            "kind": [StrOptions({"central", "hdr"})],
        },
        prefer_skip_nested_validation=True,
    )
    def predict_interval(self, X, coverage=0.9, kind="central"):
        """Prediction intervals of the predictive distribution.

        The predictive distribution is the Gaussian (or Student-t) mixture
        that :meth:`predict_quantiles` describes (the density of
        :meth:`score_samples`). Where it is multimodal, its highest-density
        set can be a union of disjoint intervals, shorter than the central
        interval of the same probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        coverage : float, default=0.9
            Probability of the interval (or set), strictly between 0 and 1.
        kind : {'central', 'hdr'}, default='central'
            ``'central'``: from the ``(1 - coverage) / 2`` to the
            ``(1 + coverage) / 2`` quantile (exact as in
            :meth:`predict_quantiles`). ``'hdr'``: the highest-density set
            ``{y : p(y | x) >= c}``, with the threshold ``c`` found by
            regula falsi (Illinois) so that the set's probability (by the
            mixture's exact distribution function) is within ``1e-9`` above
            ``coverage``; its endpoints are exact within the tolerance of
            :meth:`predict_quantiles`. The density's local maxima and minima
            are first located on a grid of 65 points per expert over
            ``f_k(x) +- 8 sigma_k`` (for t experts, at the expert's
            quantiles of the same probabilities, reaching further into its
            heavier tails) and refined; between them the density is
            monotone, so each endpoint is found in its grid cell and no piece
            of the set, nor gap between pieces, is missed (short of a
            maximum and a minimum within one grid step, ``sigma_k / 4``, of
            each other: a negligible ripple).

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2) or list of ndarray
            ``kind='central'``: the lower and upper bounds of each row.
            ``kind='hdr'``: a list with one array of shape
            ``(n_intervals_i, 2)`` per row, its disjoint intervals
            ``[lower, upper]`` in increasing order; the set's total length
            is ``np.diff(intervals[i], axis=1).sum()``.

        See Also
        --------
        predict_quantiles : Quantiles of the predictive distribution.
        skmoe.conformal.ConformalMixtureRegressor : Intervals with
            finite-sample coverage, calibrated on held-out rows.
        """
        X, mixtures = self._predictive(X, "predict_interval")
        if kind == "central":
            tail = (1.0 - coverage) / 2
            return _like(mixtures.quantiles(np.array([tail, 1.0 - tail])), X)
        return [_like(s, X) for s in mixtures.highest_density_sets(coverage)]

    @_keeps_float32
    @validate_params(
        {
            "X": ["array-like"],
            "n_samples": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw targets from the predictive distribution.

        For each row and draw, an expert is drawn with the gate's
        probabilities, then a target from that expert's Gaussian (or t
        distribution, ``likelihood="student_t"``): a draw
        from the mixture that :meth:`predict_quantiles` describes (as
        :meth:`sklearn.gaussian_process.GaussianProcessRegressor.sample_y`
        draws from a Gaussian process).

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Samples.
        n_samples : int, default=1
            Number of draws per row.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws. Pass an int for reproducible output across
            multiple function calls.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples)
            Row ``i`` holds the draws for ``X[i]``.
        """
        X, mixtures = self._predictive(X, "sample_y")
        return _like(mixtures.sample(n_samples, check_random_state(random_state)), X)
