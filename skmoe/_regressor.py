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
from scipy.sparse import issparse
from sklearn.base import RegressorMixin
from sklearn.linear_model import GammaRegressor, LinearRegression, PoissonRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array, column_or_1d

from ._array_api import (
    _float_dtype,
    _is_foreign_array,
    _like,
    _namespace,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._experts import (
    _check_expert_templates,
    _check_multi_output_experts,
    _expert_outputs,
)
from ._likelihood import (
    COVARIANCE_TYPES,
    REGRESSION_LIKELIHOODS,
    MultiOutputGaussianLikelihood,
)
from ._predictive import _RowMixtures, _RowTMixtures, _sample_multivariate
from ._validation import (
    _check_magnitude,
    _dask_blockwise,
    _keeps_float32,
    _validate_data,
)


def _n_target_columns(y):
    """The number of columns of a target (1 for a 1-D one), before
    validation: a 2-D ``y`` of several columns is a multi-output target."""
    shape = getattr(y, "shape", None)
    if shape is None:
        try:
            shape = np.asarray(y).shape
        except (TypeError, ValueError):  # ragged: validation says what is wrong
            return 1
    return 1 if len(shape) < 2 or shape[1] is None else int(shape[1])


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
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A 2-D y is fitted by EM with Gaussian experts (covariance_type).
        tags.target_tags.multi_output = (
            self.likelihood == "gaussian" and getattr(self, "solver", "em") == "em"
        )
        # Only Gaussian experts are fitted on array-API (device) inputs.
        tags.array_api_support = (
            tags.array_api_support and self.likelihood == "gaussian"
        )
        return tags

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

    def _n_targets(self):
        """The number of target columns of a model fitted on a 2-D ``y``
        (its noise covariances say), None for one target."""
        noise = self.__dict__.get("noise_variance_")
        return None if noise is None or noise.ndim < 2 else noise.shape[1]

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
        n_targets = self._n_targets()
        preds = _expert_outputs(self.experts_, X, n_targets=n_targets)
        xp = _xp_of(preds)
        if n_targets is not None:
            # A 2-D target: a range per target column, shape (2, n_targets).
            gate = np.exp(_to_numpy(log_gate))[:, :, None]
            fitted = np.sum(gate * _to_numpy(preds), axis=1)
            kept = _to_numpy(w) > 0
            values = np.concatenate([_to_numpy(y)[kept], fitted[kept]])
            self.target_range_ = _like(
                np.stack([values.min(axis=0), values.max(axis=0)]), X
            )
            return
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
        n_targets = self._n_targets()
        preds = _expert_outputs(
            experts, X, rows=rows, isolate=isolate, n_targets=n_targets
        )
        if not self.clip_predictions:
            return preds
        if n_targets is not None:  # NumPy only: bounds per target
            lo, hi = _to_numpy(self.target_range_)
            return np.clip(preds, lo, hi)
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
        if issparse(y):
            raise ValueError(
                f"{type(self).__name__} needs a dense target y; y is a sparse "
                "matrix. Convert it with y.toarray()."
            )
        y = self._check_numeric_target(y)
        multi = _n_target_columns(y) > 1
        if multi:
            self._check_multi_output_fit(X, y)
        X, y = _validate_data(
            self, X, y, y_numeric=True, multi_output=multi, dtype=_float_dtype(X)
        )
        if multi:
            y = np.asarray(y, dtype=np.float64)
        elif self.warm_start and self._n_targets() is not None:
            self._check_warm_targets(None)
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

    def _check_multi_output_fit(self, X, y):
        """Refuse, before any work, what a fit on a 2-D ``y`` cannot do."""
        if self.likelihood != "gaussian":
            raise ValueError(
                f"A 2-D target y (several targets) is fitted with Gaussian "
                f"experts only; likelihood={self.likelihood!r} models one "
                "target. Use likelihood='gaussian', or fit one model per "
                "target column."
            )
        solver = getattr(self, "solver", "em")
        if solver != "em":
            raise ValueError(
                f"solver={solver!r} fits one target; a 2-D target y (several "
                "targets) is fitted by EM: set solver='em'."
            )
        if getattr(self, "acceleration", None) == "squarem":
            raise ValueError(
                "acceleration='squarem' accelerates mixtures of one target; a "
                "2-D target y (several targets) is fitted by plain EM: set "
                "acceleration=None (or 'auto', which does so)."
            )
        xp, _ = _namespace(X)
        if xp is not np or _is_foreign_array(y):
            raise ValueError(
                "A 2-D target y (several targets) is fitted on NumPy inputs "
                f"only; with array-API inputs ({xp.__name__}) convert X and y "
                "to NumPy arrays first."
            )
        templates = _check_expert_templates(
            self.expert, self.n_experts, self._default_expert(), False
        )
        _check_multi_output_experts(templates)
        if self.warm_start and hasattr(self, "experts_"):
            self._check_warm_targets(np.shape(y)[1])

    def _check_warm_targets(self, n_targets):
        """A warm start continues a model of the same target columns."""
        fitted = self._n_targets()
        if fitted != n_targets:

            def describe(n):
                return "one target" if n is None else f"{n} targets"

            raise ValueError(
                f"warm_start=True but y has {describe(n_targets)} and the "
                f"fitted model {describe(fitted)}: continue with targets of "
                "the same columns, or set warm_start=False to fit a new model."
            )

    def _check_multi_output_target(self, y, n_targets):
        """``y`` of a model fitted on ``n_targets`` columns, as float64."""
        y = check_array(
            y, ensure_2d=False, dtype=np.float64, input_name="y", estimator=self
        )
        if y.ndim != 2 or y.shape[1] != n_targets:
            raise ValueError(
                f"This model was fitted on {n_targets} target "
                f"columns, so y must have shape (n_samples, {n_targets}); got "
                f"shape {y.shape}."
            )
        return y

    def _check_y(self, y, X):
        y = self._check_numeric_target(y)
        xp, device = _namespace(X)
        n_targets = self._n_targets()
        if n_targets is not None:
            y = self._check_multi_output_target(y, n_targets)
            if y.shape[0] != X.shape[0]:
                raise ValueError(
                    f"X has {X.shape[0]} rows but y has {y.shape[0]}: they must match."
                )
            return y
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
            n_targets = self._n_targets()
            if n_targets is not None:
                # The fitted model's covariances say which kind they are.
                kind = "full" if self.noise_variance_.ndim == 3 else "diag"
                return MultiOutputGaussianLikelihood(
                    np.zeros(n_targets), self.min_responsibility, False, kind
                )
            return family(min_responsibility=self.min_responsibility)
        if y.ndim == 2:
            return MultiOutputGaussianLikelihood.for_fit(
                y,
                sample_weight,
                self.variance_floor,
                self.min_responsibility,
                isolate=self.expert_errors == "isolate",
                covariance_type=self.covariance_type,
            )
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
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Mean of the predictive distribution; one column per target for
            a model fitted on a 2-D ``y``.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Its standard deviation (of each target, for a 2-D ``y``); only
            when ``return_std=True``.
        """
        X, weights, preds = self._mixed_outputs(
            X,
            "predict",
            lambda experts, X, rows, isolate: self._bounded_outputs(
                X, rows, experts, isolate
            ),
        )
        xp = _xp_of(preds)
        if preds.ndim == 3:
            # A 2-D target (n, K, n_targets): each weight for every target.
            weights = weights[:, :, None]
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
        predictions : ndarray of shape (n_samples, n_experts) or \
                (n_samples, n_experts, n_targets)
            Expert ``k``'s prediction for row ``i`` is ``predictions[i, k]``
            (a vector of ``n_targets`` values for a model fitted on a 2-D
            ``y``).
        """
        X = self._check_X(X, "predict_experts")  # before experts_: NotFittedError
        return self._bounded_outputs(X)

    # ------------------------------------------------------------------
    # The predictive distribution
    # ------------------------------------------------------------------
    def _predictive_parts(self, X, method):
        """Validated X, the gate's probabilities (n, K) and the experts'
        unclipped means, (n, K) or (n, K, n_targets), on the host."""
        if self.likelihood not in ("gaussian", "student_t"):
            raise ValueError(
                f"{method} computes the predictive distribution of Gaussian "
                "and Student-t experts; this model has "
                f"likelihood={self.likelihood!r}. Use "
                "predict(X, return_std=True) for its mean and spread."
            )
        X = self._check_X(X, method)
        log_gate = self._log_gate(self._get_state(), X)
        means = _expert_outputs(self.experts_, X, n_targets=self._n_targets())
        return X, np.exp(_to_numpy(log_gate)), _to_numpy(means)

    def _predictive(self, X, method):
        """Validated X and the predictive mixture of each of its rows: the
        density :meth:`score_samples` evaluates (every expert weighted by
        the gate, unclipped means, the fitted noise variances). For a model
        of a 2-D target, a list of the marginal mixtures of each target."""
        X, gate, means = self._predictive_parts(X, method)
        if means.ndim == 3:
            variances = self._likelihood().variances(means, self.noise_variance_)
            return X, [
                _RowMixtures(gate, means[:, :, t], np.sqrt(variances[:, :, t]))
                for t in range(means.shape[2])
            ]
        scales = np.sqrt(_to_numpy(self.noise_variance_))
        if self.likelihood == "student_t":
            return X, _RowTMixtures(gate, means, scales, self.df_)
        return X, _RowMixtures(gate, means, scales)

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
            One column per level; a 1-D array when ``q`` is a scalar. For a
            model fitted on a 2-D ``y``, the quantiles of each target's
            marginal distribution (a Gaussian mixture too), shape
            ``(n_samples, n_targets)`` or ``(n_samples, n_targets,
            n_quantiles)``.

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
        if isinstance(mixtures, list):  # per target, (n, n_targets, n_levels)
            out = np.stack([m.quantiles(levels.reshape(-1)) for m in mixtures], 1)
            return _like(out[:, :, 0] if levels.ndim == 0 else out, X)
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
            ``kind='central'``: the lower and upper bounds of each row; for a
            model fitted on a 2-D ``y``, those of each target's marginal
            distribution, shape ``(n_samples, n_targets, 2)`` (each
            interval has probability ``coverage`` for its target alone;
            ``kind='hdr'`` is for one target).
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
        if kind == "hdr" and self._n_targets() is not None:
            raise ValueError(
                "kind='hdr' computes highest-density sets of one target; this "
                f"model was fitted on {self._n_targets()} targets (2-D y), "
                "whose highest-density regions are not unions of intervals. "
                "Use kind='central' for each target's marginal interval, or "
                "sample_y for draws from the joint distribution."
            )
        X, mixtures = self._predictive(X, "predict_interval")
        if kind == "central":
            tail = (1.0 - coverage) / 2
            levels = np.array([tail, 1.0 - tail])
            if isinstance(mixtures, list):
                out = np.stack([m.quantiles(levels) for m in mixtures], 1)
                return _like(out, X)
            return _like(mixtures.quantiles(levels), X)
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
        draws from a Gaussian process). For a model fitted on a 2-D ``y``,
        the target is drawn from the expert's multivariate normal (its
        noise covariance): draws from the joint distribution of the
        targets.

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
        y_samples : ndarray of shape (n_samples_X, n_samples) or \
                (n_samples_X, n_targets, n_samples)
            Row ``i`` holds the draws for ``X[i]``; for a 2-D ``y``,
            ``y_samples[i, :, j]`` is its ``j``-th draw of the targets (the
            shape of ``GaussianProcessRegressor.sample_y``).
        """
        if self._n_targets() is not None:
            X, gate, means = self._predictive_parts(X, "sample_y")
            rng = check_random_state(random_state)
            draws = _sample_multivariate(
                gate, means, _to_numpy(self.noise_variance_), n_samples, rng
            )
            return _like(draws, X)
        X, mixtures = self._predictive(X, "sample_y")
        return _like(mixtures.sample(n_samples, check_random_state(random_state)), X)
