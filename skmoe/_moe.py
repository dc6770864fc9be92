"""The flat mixture-of-experts estimators (Jacobs, Jordan, Nowlan & Hinton 1991).

One softmax gate over ``n_experts`` experts, fitted by EM or by gradient
ascent (``solver``), and streamed by ``partial_fit``. What a regressor or a
classifier is lives in ``_regressor.py`` and ``_classifier.py``, shared with
the hierarchical estimators; the fit itself in ``_base.py``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _gradient
from ._array_api import _like, _to_numpy, _xp_of
from ._base import BaseMixtureOfExperts
from ._classifier import _MixtureClassifierMixin
from ._docstrings import _flat_doc, _regressor_doc
from ._em import em_run
from ._experts import _check_expert_templates, _FailedExpert
from ._regressor import _MixtureRegressorMixin, _n_target_columns
from ._resize import _select
from ._validation import _check_weights


def _check_gaussian(estimator, what):
    """The gradient solvers know the Gaussian (and categorical) likelihood
    only."""
    likelihood = getattr(estimator, "likelihood", "gaussian")
    if likelihood != "gaussian":
        raise ValueError(
            f"{what} fits Gaussian experts only; likelihood={likelihood!r} is "
            "fitted by EM (solver='em', fit)."
        )


class _FlatMixin:
    """What the flat estimators add to the base: ``n_experts`` and the
    choice of solver (EM or gradient fitting, whose parameters are theirs
    alone), and ``partial_fit``."""

    _flat_parameter_constraints: dict = {
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"em", "gradient"})],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "balance_strength": [Interval(Real, 0, None, closed="left")],
        "acceleration": [StrOptions({"auto", "squarem"}), None],
    }

    def _select_solver(self, xp, templates):
        """EM (``_em.em_run``) or gradient fitting (``_gradient.gradient_run``,
        which picks full-batch L-BFGS or minibatches), its inputs checked
        before any work."""
        if self.balance_strength and xp is not np:
            raise ValueError(
                f"balance_strength={self.balance_strength} fits NumPy inputs "
                f"only; with array-API inputs ({xp.__name__}) set "
                "balance_strength=0."
            )
        if self.solver == "em":
            return em_run
        self._check_dense("solver='gradient'")
        if self.balance_strength:
            raise ValueError(
                f"balance_strength={self.balance_strength} is a penalty of EM's "
                "gate M-step: fit with solver='em', or set balance_strength=0."
            )
        _check_gaussian(self, "solver='gradient'")
        if xp is not np:
            raise ValueError(
                "solver='gradient' fits NumPy inputs only; with array-API "
                f"inputs ({xp.__name__}) use solver='em'."
            )
        _gradient.check_solver_support(self, templates)
        return _gradient.gradient_run

    def _check_dense(self, what):
        """``fit_top_k`` (sparse EM) has no gradient counterpart."""
        if self.fit_top_k is not None:
            raise ValueError(
                f"fit_top_k={self.fit_top_k} is sparse EM, which {what} does "
                "not run: fit with solver='em', or set fit_top_k=None."
            )

    def _check_resizable(self, xp):
        """A warm start with another ``n_experts`` grows or shrinks the
        model by EM on NumPy inputs."""
        if self.solver != "em" or xp is not np:
            raise ValueError(
                f"warm_start=True with n_experts={self.n_experts} (the fitted "
                f"model has {len(self.experts_)}) grows or shrinks the mixture "
                "by EM on NumPy inputs: set solver='em', or warm_start=False "
                "to fit a new model."
            )

    def remove_experts(self, experts):
        """Remove experts from the fitted mixture, without refitting.

        The gate's probabilities are renormalised over the experts that
        stay (a softmax over their logits), which is the mixture
        conditioned on not using the removed experts; the other experts
        and their noise variances are unchanged. ``n_experts`` is set to
        the number left, so a warm-started ``fit`` continues EM from the
        smaller model.

        Parameters
        ----------
        experts : int or array-like of int
            Indices (in ``experts_``) of the experts to remove. At least one
            expert must stay.

        Returns
        -------
        self : object
            The estimator, with the experts removed.

        Notes
        -----
        ``expert_shares_`` become the kept experts' training shares,
        renormalised; ``dead_experts_``, ``failed_experts_`` and
        ``reinitialized_experts_`` are renumbered and lose the removed
        experts. ``log_likelihood_``, ``lower_bound_`` and
        ``lower_bounds_`` describe the fit before the removal: they are set
        to NaN (``score`` or ``score_samples`` on data give the new model's).

        Examples
        --------
        >>> from skmoe import MixtureOfExpertsRegressor
        >>> from skmoe.datasets import make_piecewise_linear
        >>> X, y = make_piecewise_linear(n_samples=300, random_state=0)
        >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
        >>> moe.remove_experts([2]).n_experts
        2
        """
        check_is_fitted(self)
        K = len(self.experts_)
        remove = np.unique(np.asarray(experts).ravel())
        if remove.size and not np.issubdtype(remove.dtype, np.integer):
            raise TypeError(
                f"experts must be integer indices into experts_; got {experts!r}."
            )
        if remove.size and (remove.min() < -K or remove.max() >= K):
            raise ValueError(
                f"experts={experts!r} is out of range for a mixture of {K} experts "
                f"(indices 0 to {K - 1})."
            )
        remove = np.unique(remove % K)
        if remove.size >= K:
            raise ValueError(
                f"Removing experts {remove.tolist()} would leave no expert: at "
                "least one must stay."
            )
        keep = np.setdiff1d(np.arange(K), remove)
        position = np.full(K, -1)
        position[keep] = np.arange(keep.size)
        self._set_state(_select(self._get_state(), keep.tolist()))
        shares = _to_numpy(self.expert_shares_)[keep]
        self.expert_shares_ = _like(shares / shares.sum(), self.expert_shares_)
        dead = _to_numpy(self.dead_experts_)
        self.dead_experts_ = _like(
            position[dead[np.isin(dead, keep)]], self.dead_experts_
        )
        self.failed_experts_ = [
            {**record, "expert": int(position[record["expert"]])}
            for record in self.failed_experts_
            if position[record["expert"]] >= 0
        ]
        self.reinitialized_experts_ = [
            (iteration, int(position[k]))
            for iteration, k in self.reinitialized_experts_
            if position[k] >= 0
        ]
        self.log_likelihood_ = self.lower_bound_ = float("nan")
        self.lower_bounds_ = _like(np.array([np.nan]), self.expert_shares_)
        self.n_experts = int(keep.size)
        return self

    def refit_expert(
        self, expert, X, y, sample_weight=None, *, estimator=None, weighting="posterior"
    ):
        """Refit or replace one expert while the others and the gate stay fixed.

        The expert (a new copy of ``estimator`` if given, else of its current
        estimator) is fitted on (X, y) and, for a regressor, its noise
        variance set to its weighted mean squared residual: one expert's
        M-step of EM. To let the whole mixture adapt afterwards, continue EM
        with ``set_params(warm_start=True).fit(X, y)``.

        Parameters
        ----------
        expert : int
            Index of the expert in ``experts_``.
        X : array-like of shape (n_samples, n_features)
            Data for the expert.
        y : array-like of shape (n_samples,)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        estimator : estimator, default=None
            A new (unfitted) estimator to put in the expert's place; by
            default the expert's own is refitted.
        weighting : {"posterior", "uniform"}, default="posterior"
            ``"posterior"``: each row weighs its responsibility for this
            expert under the current mixture (times ``sample_weight``), as in
            EM, so (X, y) can be all the data. ``"uniform"``: every row is
            the expert's (``sample_weight`` only): data meant for it alone.
            A failed expert has no responsibility: replace it with
            ``weighting="uniform"``.

        Returns
        -------
        self : object
            The estimator, with the expert refitted. The other experts, the
            gate and every other fitted attribute are unchanged.
        """
        check_is_fitted(self)
        K = len(self.experts_)
        if not isinstance(expert, Integral) or not -K <= expert < K:
            raise ValueError(
                f"expert={expert!r} must be an integer index into experts_ "
                f"(0 to {K - 1})."
            )
        if weighting not in ("posterior", "uniform"):
            raise ValueError(
                f"weighting={weighting!r} must be 'posterior' or 'uniform'."
            )
        k = int(expert) % K
        X, y = self._check_X_y(X, y, "refit_expert")
        w = _check_weights(sample_weight, X, X.dtype)
        if estimator is None:
            estimator = getattr(self.experts_[k], "estimator", self.experts_[k])
        template = _check_expert_templates(
            estimator, 1, self._default_expert(), self._classifier
        )[0]
        if weighting == "posterior":
            state = self._get_state()
            log_lik = self._likelihood().log_likelihood(state, X, y)
            w = w * self._e_step(state, X, log_lik)[0][:, k]
        if not float(_xp_of(w).sum(w)) > 0:
            raise ValueError(
                f"Expert {k} has no responsibility for these rows (a failed or "
                "dead expert, or rows other experts explain): nothing to fit it "
                "on. Pass weighting='uniform' to fit it on all of them."
            )
        lik = self._likelihood(y, w)
        noise = self._get_state()["noise_variance"]
        # The fitted expert k is the previous iterate of this one-expert
        # M-step (the Student-t family weighs rows by its residuals).
        previous = self.experts_[k]
        one = {
            "experts": [template if isinstance(previous, _FailedExpert) else previous],
            "noise_variance": None if noise is None else noise[k : k + 1],
        }
        lik.m_step([template], X, y, w[:, None], one, None)
        experts = list(self.experts_)
        experts[k] = one["experts"][0]
        state = {**self._get_state(), "experts": experts}
        if noise is not None:
            noise = _xp_of(noise).asarray(noise, copy=True)
            noise[k] = one["noise_variance"][0]
            state["noise_variance"] = noise
        self._set_state(state)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Only EM runs in the inputs' namespace (see the GPU guide).
        tags.array_api_support = tags.array_api_support and self.solver == "em"
        return tags


class MixtureOfExpertsRegressor(
    _FlatMixin, _MixtureRegressorMixin, BaseMixtureOfExperts
):
    r"""Mixture of experts for regression, fitted by EM or gradient ascent.

    Models the conditional density

    .. math:: p(y \mid x) = \sum_k g_k(x)\, \mathcal{N}(y;\, f_k(x),\, \sigma_k^2)

    with a softmax gate ``g`` and experts ``f_k`` that are any scikit-learn
    regressors (Jacobs, Jordan, Nowlan & Hinton, 1991). Each expert has its own
    noise variance ``sigma_k^2``, estimated by maximum likelihood.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------{params}
    {likelihood}
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
        :meth:`score_samples`, use the experts' own predictions.{multi_output}

    Attributes
    ----------{attrs}{noise_attrs}

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
        **_FlatMixin._flat_parameter_constraints,
        **_MixtureRegressorMixin._regressor_parameter_constraints,
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
        acceleration=None,
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        fit_top_k=None,
        balance_strength=0.0,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        expert_errors="isolate",
        likelihood="gaussian",
        variance_floor=1e-6,
        clip_predictions=True,
        covariance_type="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
        verbose_interval=10,
        progress_bar=False,
        warm_start=False,
    ):
        self.n_experts = n_experts
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.balance_strength = balance_strength
        self.acceleration = acceleration
        super().__init__(
            expert=expert,
            gate=gate,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            fit_top_k=fit_top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            expert_errors=expert_errors,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            verbose_interval=verbose_interval,
            progress_bar=progress_bar,
            warm_start=warm_start,
        )
        self.likelihood = likelihood
        self.variance_floor = variance_floor
        self.clip_predictions = clip_predictions
        self.covariance_type = covariance_type

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
        _check_gaussian(self, "partial_fit")
        self._check_dense("partial_fit")
        if _n_target_columns(y) > 1 or self._n_targets() is not None:
            raise ValueError(
                "partial_fit learns one target; a 2-D target y (several "
                "targets) is fitted by fit (EM, in memory)."
            )
        return _gradient.partial_fit(self, X, y, sample_weight)


class MixtureOfExpertsClassifier(
    _FlatMixin, _MixtureClassifierMixin, BaseMixtureOfExperts
):
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

    _parameter_constraints: dict = {
        **BaseMixtureOfExperts._parameter_constraints,
        **_FlatMixin._flat_parameter_constraints,
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
        acceleration="auto",
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        fit_top_k=None,
        balance_strength=0.0,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        expert_errors="isolate",
        n_jobs=None,
        random_state=None,
        verbose=0,
        verbose_interval=10,
        progress_bar=False,
        warm_start=False,
    ):
        self.n_experts = n_experts
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.balance_strength = balance_strength
        self.acceleration = acceleration
        super().__init__(
            expert=expert,
            gate=gate,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            fit_top_k=fit_top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            expert_errors=expert_errors,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            verbose_interval=verbose_interval,
            progress_bar=progress_bar,
            warm_start=warm_start,
        )

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
        self._check_dense("partial_fit")
        return _gradient.partial_fit(self, X, y, sample_weight, classes)


MixtureOfExpertsRegressor.__doc__ = _regressor_doc(
    _flat_doc(MixtureOfExpertsRegressor.__doc__, "regressor"),
    chunks=" (with ``partial_fit``, over every chunk seen)",
)
MixtureOfExpertsClassifier.__doc__ = _flat_doc(
    MixtureOfExpertsClassifier.__doc__, "classifier"
)
