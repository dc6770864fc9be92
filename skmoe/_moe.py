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

_COMMON_PARAMS_DOC = """
    n_experts : int, default=3
        Number of experts K.
    expert : estimator, list of estimators or None, default=None
        The expert model. One estimator is cloned K times; a list of K
        estimators gives heterogeneous experts (e.g. a linear model beside a
        tree). Every nested ``random_state`` is seeded from ``random_state``.
        Experts are cloned, never fitted in place, and must accept
        ``sample_weight`` in ``fit``: EM fits expert k with the
        responsibilities ``h_ik`` times the sample weights as weights. An
        expert without ``sample_weight`` support raises a ``ValueError``
        before any fitting. ``None`` uses {default_expert}.
        ``LogisticRegression``, ``Lasso`` and
        ``ElasticNet`` experts (convex fits whose ``warm_start`` only sets
        the solver's starting point) start each M-step from the previous
        iteration's solution: the same optimum, in fewer solver iterations.
    gate : SoftmaxGate or None, default=None
        The gate, ``g(x) = softmax(x @ V + b)``; ``None`` uses
        {default_gate}. It is
        refitted every M-step on the responsibilities, warm-started from the
        last iteration.
    solver : {'em', 'gradient'}, default='em'
        How ``fit`` maximises the likelihood. ``'em'``: expectation-
        maximisation, any expert that accepts ``sample_weight``.
        ``'gradient'``: gradient ascent on the log-likelihood (the 1991
        paper's method). With differentiable experts only ({differentiable})
        and ``batch_size='auto'`` it is full-batch L-BFGS over the gate, the
        experts{variances} jointly, with analytic gradients; otherwise it is
        minibatch gradient ascent: Adam steps on the gate (and on the
        differentiable experts), and each other expert's ``partial_fit``
        called with the responsibilities as ``sample_weight``. Any other
        expert raises a ``ValueError`` before fitting. See the user guide's
        "Choosing a solver". :meth:`partial_fit` always takes minibatch
        gradient steps, whatever ``solver``.
    max_iter : int, default=300
        Maximum number of iterations per run: EM iterations
        (``solver='em'``), L-BFGS iterations (full-batch gradient), or epochs
        (passes over the data) of minibatch gradient fitting.
    tol : float, default=1e-6
        EM stops when the objective (average log-likelihood per unit of
        sample weight, minus the gate penalty) changes by less than ``tol``
        between iterations, or has not improved on its best value by more
        than ``tol`` for 10 iterations (the rule for experts, such as trees,
        that do not maximise their weighted likelihood exactly). Full-batch
        gradient fitting stops when an L-BFGS iteration decreases the
        objective by less than ``tol / 100`` (relative; its iterations are
        cheaper and shorter than EM's) or the largest gradient component of
        the objective falls below ``tol``; minibatch fitting stops when the
        objective has not improved on its best value by more than ``tol`` for
        5 epochs, as scikit-learn's SGD estimators do.
    batch_size : int or 'auto', default='auto'
        Minibatch size of gradient fitting (``solver='gradient'`` and
        :meth:`partial_fit`). ``'auto'``: full batch (L-BFGS) in ``fit`` when
        every expert is differentiable, else minibatches of
        ``min(200, n_samples)`` rows, as ``MLPRegressor``. An int always gives
        minibatches (also with differentiable experts). Ignored by EM.
    learning_rate_init : float, default=0.01
        Step size of the Adam updates of minibatch gradient fitting (the gate
        and the differentiable experts, in internally standardised
        coordinates); divided by 5 after every 2 epochs without improvement.
        Experts updated through their own ``partial_fit`` use their own
        learning rate (e.g. ``SGDRegressor(eta0=...)``).
    shuffle : bool, default=True
        Whether minibatch gradient fitting shuffles the rows at every epoch
        (and within each :meth:`partial_fit` chunk), drawing from
        ``random_state``.
    n_init : int, default=1
        Number of EM runs from different initialisations; the run with the
        highest objective is kept. With ``n_jobs``, runs go in parallel.
    init_params : {'small_em', 'kmeans', 'random', 'random_from_data'} or \
array-like, default='small_em'
        Initial responsibilities. ``'small_em'``: the best of nine short EM
        runs (Biernacki, Celeux & Govaert 2003) from k-means, random-row and
        random starts in turn, on at most 2,000 rows (see the user guide's
        "Initialisation and restarts"); it finds optima that a single kind
        of start misses. ``'kmeans'``: weighted k-means (k-means++ seeding)
        on the standardised features{kmeans_extra}; ``'random'``: uniform
        random responsibilities; ``'random_from_data'``: rows are assigned
        to the nearest of K random rows. An array of shape (n_samples,
        n_experts) gives the initial responsibilities directly.
    routing : {'soft', 'hard', 'top_k'}, default='soft'
        How predictions combine the experts. ``'soft'``: all experts, weighted
        by the gate; ``'hard'``: only the most probable expert; ``'top_k'``:
        the ``top_k`` most probable experts with their gate probabilities
        renormalised. Hard and top-k routing evaluate each expert only on the
        rows routed to it.
    top_k : int, default=2
        Number of experts used per row when ``routing='top_k'``.
    min_responsibility : float, default=1e-6
        Rows whose weight for an expert (responsibility times sample weight)
        is at most this value are left out of that expert's fit, which saves
        time and changes the fit negligibly. 0 keeps every row.
    min_expert_weight : 'auto' or float, default='auto'
        An expert whose total responsibility ``sum_i w_i h_ik`` (in rows:
        sample weights are rescaled to average one) falls below this is dead.
        ``'auto'``: one row more than the expert's parameters (coefficients or
        leaves{variance_param}), and at least 2: an expert fitted on fewer
        rows interpolates them and is not to be trusted elsewhere. During EM
        a dead expert is re-initialised on the rows the mixture explains
        worst (each run does this at most ``n_experts`` times), with a
        ``DeadExpertWarning`` and the events recorded in
        ``reinitialized_experts_``; a dead expert in the returned model is
        warned about and listed in ``dead_experts_``. Experts are never
        dropped.
    n_jobs : int or None, default=None
        Parallel jobs (joblib): the restarts when ``n_init > 1``, otherwise
        the K expert fits of each M-step. Any joblib backend can be used with
        ``joblib.parallel_config``.
    random_state : int, RandomState instance or None, default=None
        Controls the initialisation, the restarts and the experts' own
        ``random_state``. Pass an int for reproducible fits.
    verbose : int, default=0
        1 prints a line per run (and per :meth:`partial_fit` call), 2 also a
        line per EM iteration, L-BFGS iteration or epoch.
    warm_start : bool, default=False
        Continue EM from the fitted model on the next ``fit`` (then ``n_init``
        is ignored). ``n_experts`` must stay the same.
"""

_COMMON_ATTRS_DOC = """
    experts_ : list of estimators
        The K fitted experts, in canonical order: by share of the training
        data (``expert_shares_``), largest first.
    gate_ : SoftmaxGate
        The fitted gate; column k of its ``coef_`` belongs to expert k.
    expert_shares_ : ndarray of shape (n_experts,)
        Share of the (weighted) training data each expert is responsible for.
    n_iter_ : int
        Iterations of the best run: EM iterations, L-BFGS iterations or
        epochs (see ``max_iter``); after :meth:`partial_fit`, the number of
        ``partial_fit`` calls.
    converged_ : bool
        Whether the best run met the stopping rule before ``max_iter``.
        Always False after :meth:`partial_fit`, which has no stopping rule.
    lower_bound_ : float
        Best value of the EM objective: the average log-likelihood per unit
        of sample weight minus the gate's L2 penalty divided by the total
        weight. This is the quantity EM never decreases (with experts that
        fit their weighted likelihood exactly). After :meth:`partial_fit`,
        the last call's value in ``lower_bounds_``.
    lower_bounds_ : ndarray of shape (n_iter_,)
        The objective after each iteration (or epoch) of the best run. After
        :meth:`partial_fit`, one value per call: the chunk's progressive
        objective, each minibatch scored before the step that learns from
        it.
    log_likelihood_ : float
        Total (weighted) log-likelihood ``sum_i w_i log p(y_i | x_i)`` of the
        training data at the best iterate. After :meth:`partial_fit`, that
        of the last chunk, each minibatch scored before the step that learns
        from it (:meth:`score_samples` scores a chunk with the final model).
    reinitialized_experts_ : list of (int, int)
        (iteration, expert) pairs at which the best run re-initialised a dead
        expert; indices refer to the order during fitting.
    dead_experts_ : ndarray of int
        Experts of the returned model whose total responsibility is below
        ``min_expert_weight``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
"""


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


_KMEANS_EXTRA = {
    MixtureOfExpertsRegressor: " and the target",
    MixtureOfExpertsClassifier: " and the one-hot labels",
}
_GRADIENT_DOC = {
    MixtureOfExpertsRegressor: (
        "``LinearRegression`` or\n        ``Ridge``",
        " and the noise\n        variances",
    ),
    MixtureOfExpertsClassifier: (
        "``LogisticRegression``\n        with an L2 penalty or none",
        "",
    ),
}
_DEFAULT_GATE_DOC = {
    MixtureOfExpertsRegressor: (
        "``SoftmaxGate()`` (on standardised\n        features, so the fit does "
        "not depend on the features' units, with\n        a penalty ``C=1e4`` "
        "too weak to move the likelihood's optimum\n        visibly; "
        "``SoftmaxGate(C=100)`` smooths more)"
    ),
    MixtureOfExpertsClassifier: (
        "``SoftmaxGate(C=1.0)`` (on\n        standardised features, so the fit "
        "does not depend on the features'\n        units): a smooth gate, "
        "which held out beats a sharp one in log-loss\n        on the vowel, "
        "Satellite and LetterRecognition data (see the user\n        guide's "
        '"The gate")'
    ),
}
_VARIANCE_PARAM_DOC = {
    MixtureOfExpertsRegressor: ", and the noise variance",
    MixtureOfExpertsClassifier: "",
}
_DEFAULT_EXPERT_DOC = {
    MixtureOfExpertsRegressor: "``LinearRegression()``",
    MixtureOfExpertsClassifier: (
        "``LogisticRegression(tol=1e-6,\n        max_iter=1000)``: "
        "scikit-learn's default ``tol=1e-4``\n        leaves the M-steps "
        "inexact enough for EM to stop early, on a\n        flat stretch of "
        "its objective"
    ),
}
for _cls, _extra in _KMEANS_EXTRA.items():
    _params = (
        _COMMON_PARAMS_DOC.replace("{kmeans_extra}", _extra)
        .replace("{variance_param}", _VARIANCE_PARAM_DOC[_cls])
        .replace("{default_gate}", _DEFAULT_GATE_DOC[_cls])
        .replace("{default_expert}", _DEFAULT_EXPERT_DOC[_cls])
        .replace("{differentiable}", _GRADIENT_DOC[_cls][0])
        .replace("{variances}", _GRADIENT_DOC[_cls][1])
    )
    _cls.__doc__ = _cls.__doc__.replace("{params}", _params.rstrip("\n")).replace(
        "{attrs}", _COMMON_ATTRS_DOC.rstrip("\n")
    )
