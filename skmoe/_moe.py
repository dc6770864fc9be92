"""The flat mixture-of-experts estimators (Jacobs, Jordan, Nowlan & Hinton 1991)."""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from . import _gradient
from ._array_api import (
    _argmax_labels,
    _float_dtype,
    _is_foreign_array,
    _like,
    _namespace,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._base import BaseMixtureOfExperts
from ._docstrings import _flat_doc
from ._experts import _expert_outputs
from ._likelihood import CategoricalLikelihood, GaussianLikelihood
from ._validation import _validate_data

# The default classifier expert solves its M-steps to tol=1e-6, not
# scikit-learn's 1e-4: with 1e-4 an expert's weighted fit moves so little
# between iterations that EM's objective changes by less than its own tol
# and EM stops on a flat stretch (vowel data, random_state=1: 33 iterations
# to -0.5245 nats/row, where exact M-steps reach -0.5132 in 127). With warm
# starts (see _experts._WARM_START_ATTRIBUTES) the cost is about that of
# the old from-scratch fits with tol=1e-4.
_DEFAULT_LOGISTIC = {"tol": 1e-6, "max_iter": 1000}


class MixtureOfExpertsRegressor(RegressorMixin, BaseMixtureOfExperts):
    r"""Mixture of experts for regression, fitted by EM or gradient ascent.

    Models the conditional density

    .. math:: p(y \mid x) = \sum_k g_k(x)\, \mathcal{N}(y;\, f_k(x),\, \sigma_k^2)

    with a softmax gate ``g`` and experts ``f_k`` that are any scikit-learn
    regressors (Jacobs, Jordan, Nowlan & Hinton, 1991). Each expert has its own
    noise variance ``sigma_k^2``, estimated by maximum likelihood.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------{params}
    variance_floor : float, default=1e-6
        Lower bound on each expert's noise variance, as a fraction of the
        (weighted) variance of ``y``. It keeps an expert that fits a few rows
        exactly from collapsing to zero variance and infinite likelihood. The
        floor is never below ``delta**2 / 12``, where ``delta`` is the
        smallest gap between distinct values of ``y``: the variance of
        rounding to the target's resolution (so integer scores cannot be
        fitted by experts that each take one value with zero variance).
    clip_predictions : bool, default=True
        Bound each expert's prediction to ``target_range_`` (the range of the
        training targets and of the mixture's fitted values) before mixing,
        in :meth:`predict` and :meth:`predict_experts`. An expert fitted to
        one region extrapolates linearly into others; when the gate sends a
        new row to it anyway, an unbounded prediction can be off by orders of
        magnitude. Set to False to let linear experts extrapolate
        beyond the training targets. The fit, and the density of
        :meth:`score_samples`, use the experts' own predictions.

    Attributes
    ----------{attrs}
    noise_variance_ : ndarray of shape (n_experts,)
        Noise variance ``sigma_k^2`` of each expert.
    target_range_ : ndarray of shape (2,)
        Smallest and largest value of the training targets and of the
        mixture's predictions on the training rows (with ``partial_fit``,
        over every chunk seen); the bounds of ``clip_predictions``.

    See Also
    --------
    MixtureOfExpertsClassifier : The same model for class labels.
    SoftmaxGate : The gate.

    References
    ----------
    R. A. Jacobs, M. I. Jordan, S. J. Nowlan and G. E. Hinton. Adaptive
    mixtures of local experts. Neural Computation 3(1):79-87, 1991.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_piecewise_linear
    >>> X, y = make_piecewise_linear(n_samples=300, random_state=0)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> moe.predict(X[:2]).shape
    (2,)
    >>> mean, std = moe.predict(X[:2], return_std=True)
    """

    _parameter_constraints: dict = {
        **BaseMixtureOfExperts._parameter_constraints,
        "variance_floor": [Interval(Real, 0, None, closed="neither")],
        "clip_predictions": ["boolean"],
    }

    def __init__(
        self,
        n_experts=3,
        *,
        expert=None,
        gate=None,
        solver="em",
        max_iter=300,
        tol=1e-6,
        batch_size="auto",
        learning_rate_init=0.01,
        shuffle=True,
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        variance_floor=1e-6,
        clip_predictions=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            n_experts,
            expert=expert,
            gate=gate,
            solver=solver,
            max_iter=max_iter,
            tol=tol,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            shuffle=shuffle,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.variance_floor = variance_floor
        self.clip_predictions = clip_predictions

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
        log_gate = self._gate_log_proba(self.gate_, X)
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

    def _bounded_outputs(self, X, rows=None):
        """Each expert's prediction, clipped to ``target_range_`` when
        ``clip_predictions``."""
        preds = _expert_outputs(self.experts_, X, rows=rows)
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
        if xp is not None:
            y = xp.astype(_to_namespace(y, xp, device), X.dtype)
        return X, y

    def _check_y(self, y, X):
        y = self._check_numeric_target(y)
        xp, device = _namespace(X)
        if xp is None:
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
            y, sample_weight, self.variance_floor, self.min_responsibility
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture: by EM, or by gradient ascent with ``solver='gradient'``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; they multiply the responsibilities in every M-step
            (experts, noise variances and gate) and the log-likelihood.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @available_if(_gradient.has_flat_gate)
    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the mixture with one pass of minibatch gradient steps over a chunk.

        For data that arrive in chunks or do not fit in memory. The first call
        initialises the model on its chunk (``init_params``, an M-step and a
        few EM iterations); every call then makes one pass over the chunk in
        minibatches of ``batch_size`` rows: the E-step of the minibatch, an
        Adam step on the gate (and on ``LinearRegression``/``Ridge``
        experts), the ``partial_fit`` of every other expert with the
        responsibilities times ``sample_weight`` as its sample weights, and
        running averages of the noise variances. Works whatever ``solver``;
        after ``fit`` it continues from the fitted model. Experts must be
        ``LinearRegression``, ``Ridge`` or have ``partial_fit(X, y,
        sample_weight)`` (``SGDRegressor``, ``MLPRegressor``, ...).
        ``SGDRegressor`` (squared loss, L2 penalty or none) and
        ``MLPRegressor`` (squared loss) experts of a new model learn the
        target standardised by the first chunk's mean and standard
        deviation; ``experts_`` predict on the scale of ``y`` (see
        "Choosing a solver" in the user guide).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,)
            Its target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        self : MixtureOfExpertsRegressor
            The updated estimator.
        """
        return _gradient.partial_fit(self, X, y, sample_weight)

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
        X, weights, rows = self._mixing(X, "predict")
        preds = self._bounded_outputs(X, rows=rows)
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


class MixtureOfExpertsClassifier(ClassifierMixin, BaseMixtureOfExperts):
    r"""Mixture of experts for classification, fitted by EM or gradient ascent.

    Models

    .. math:: P(y \mid x) = \sum_k g_k(x)\, P_k(y \mid x)

    with a softmax gate ``g`` and experts ``P_k`` given by any scikit-learn
    classifier's ``predict_proba``, mapped onto the global ``classes_``.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------{params}

    Attributes
    ----------{attrs}
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    Notes
    -----
    An expert that never saw a class in its weighted data gives that class
    probability 0. When the likelihood is computed, probabilities of the
    observed class are floored at ``skmoe._experts.PROBA_FLOOR`` (1e-10), so
    one such expert cannot make a row impossible for the whole mixture.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsClassifier
    >>> from skmoe.datasets import make_xor
    >>> X, y = make_xor(n_samples=400, random_state=0)
    >>> clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _classifier = True

    def __init__(
        self,
        n_experts=3,
        *,
        expert=None,
        gate=None,
        solver="em",
        max_iter=300,
        tol=1e-6,
        batch_size="auto",
        learning_rate_init=0.01,
        shuffle=True,
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            n_experts,
            expert=expert,
            gate=gate,
            solver=solver,
            max_iter=max_iter,
            tol=tol,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            shuffle=shuffle,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )

    # A smooth gate by default: held out, a sharp one costs log-loss on the
    # vowel data (new speakers) and Satellite, and C=1 beats one logistic
    # regression on those and on LetterRecognition (figures in the user
    # guide's "The gate"). A classifier has no likelihood optimum to protect
    # from the penalty the way the regressor's noise variances do.
    _default_gate_params = {"C": 1.0}

    def _default_expert(self):
        return LogisticRegression(**_DEFAULT_LOGISTIC)

    def _validate_fit_data(self, X, y, classes=None):
        """Validate (X, y) and set ``classes_``: the labels of ``y``, or the
        given ``classes`` (``partial_fit``), which must hold every label of y."""
        X, y = _validate_data(self, X, y, dtype=_float_dtype(X))
        y = column_or_1d(_to_numpy(y), warn=True)
        check_classification_targets(y)
        present = np.unique(y)
        classes = present if classes is None else np.unique(classes)
        if classes.size < 2:
            where = "the data contain" if classes is present else "classes holds"
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, "
                f"but {where} only one class: {classes.tolist()}."
            )
        unknown = np.setdiff1d(present, classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels that are not in classes: {unknown.tolist()}."
            )
        self.classes_ = classes
        return X, self._labels_like(y, X)

    @staticmethod
    def _labels_like(y, X):
        """Host labels ``y`` moved to the namespace of ``X`` (device fits)."""
        xp, device = _namespace(X)
        if xp is None:
            return y
        if y.dtype.kind not in "biuf":
            raise ValueError(
                "With array-API inputs the class labels must be numbers (they "
                "live on the device with X); encode string labels first, e.g. "
                "with sklearn.preprocessing.LabelEncoder."
            )
        return _to_namespace(y, xp, device)

    def _check_y(self, y, X):
        y = column_or_1d(_to_numpy(y), warn=True)
        n_samples = X.shape[0]
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} rows but y has {y.shape[0]}: they must match."
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not seen during fit: {unknown.tolist()}."
            )
        return self._labels_like(y, X)

    def _likelihood(self, y=None, sample_weight=None):
        return CategoricalLikelihood(self.classes_, y, self.min_responsibility)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the mixture: by EM, or by gradient ascent with ``solver='gradient'``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; they multiply the responsibilities in every M-step
            and the log-likelihood.

        Returns
        -------
        self : MixtureOfExpertsClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @available_if(_gradient.has_flat_gate)
    @_fit_context(prefer_skip_nested_validation=False)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the mixture with one pass of minibatch gradient steps over a chunk.

        For data that arrive in chunks or do not fit in memory. The first call
        needs ``classes`` and initialises the model on its chunk
        (``init_params``, an M-step and a few EM iterations); every call then
        makes one pass over the chunk in minibatches of ``batch_size`` rows:
        the E-step of the minibatch, an Adam step on the gate (and on
        ``LogisticRegression`` experts), and the ``partial_fit`` of every
        other expert with the responsibilities times ``sample_weight`` as its
        sample weights. Works whatever ``solver``; after ``fit`` it continues
        from the fitted model.
        Experts must be ``LogisticRegression`` (L2 or no penalty) or have
        ``partial_fit(X, y, sample_weight, classes)`` and ``predict_proba``
        (``SGDClassifier(loss='log_loss')``, ``MLPClassifier``, ...).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,)
            Its class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole stream. Required on the first call (a
            ``ValueError`` otherwise), optional later (it must then be the
            same).

        Returns
        -------
        self : MixtureOfExpertsClassifier
            The updated estimator.
        """
        return _gradient.partial_fit(self, X, y, sample_weight, classes)

    def predict_proba(self, X):
        """Class probabilities of the mixture (per ``routing``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._predict_proba(X, "predict_proba")

    def _predict_proba(self, X, method):
        X, weights, rows = self._mixing(X, method)
        proba = _expert_outputs(self.experts_, X, self.classes_, rows=rows)
        if isinstance(proba, np.ndarray):
            return np.einsum("nk,nkc->nc", weights, proba)
        return _xp_of(proba).sum(weights[:, :, None] * proba, axis=1)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._predict_proba(X, "predict_log_proba")
        with np.errstate(divide="ignore"):
            return _xp_of(proba).log(proba)

    def predict(self, X):
        """Most probable class under the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        proba = self._predict_proba(X, "predict")  # checks that it is fitted
        return _argmax_labels(self.classes_, proba, axis=1)

    def predict_experts_proba(self, X):
        """Each expert's class probabilities for every row (no routing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_experts, n_classes)
        """
        X = self._check_X(X, "predict_experts_proba")
        return _expert_outputs(self.experts_, X, self.classes_)

    def predict_experts(self, X):
        """Each expert's predicted class for every row (no routing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples, n_experts)
        """
        proba = self.predict_experts_proba(X)  # checks that it is fitted
        return _argmax_labels(self.classes_, proba, axis=2)


MixtureOfExpertsRegressor.__doc__ = _flat_doc(
    MixtureOfExpertsRegressor.__doc__, "regressor"
)
MixtureOfExpertsClassifier.__doc__ = _flat_doc(
    MixtureOfExpertsClassifier.__doc__, "classifier"
)
