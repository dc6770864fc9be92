"""Choosing the number of experts: MixtureOfExpertsCV."""

import time
from itertools import product
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .inspection._methods import bic as _bic
from .inspection._methods import predict_responsibilities as _responsibilities
from .inspection._methods import score_samples as _score_samples

__all__ = ["MixtureOfExpertsCV"]

_DEFAULT_N_EXPERTS = (1, 2, 3, 4, 5)
_DEFAULT_DEPTH = (1, 2, 3)
_LOWER_IS_BETTER = {"bic": True, "icl": True, "heldout": False}


def _mixture_step(estimator):
    """The mixture in ``estimator`` and the prefix of its parameters."""
    if isinstance(estimator, Pipeline):
        name, step = estimator.steps[-1]
        return step, f"{name}__"
    return estimator, ""


def _is_hierarchical(estimator):
    return "depth" in _mixture_step(estimator)[0].get_params(deep=False)


def _check_grid(values, name, minimum):
    """``values`` as a tuple of ints >= minimum (an int is one candidate)."""
    if isinstance(values, Integral) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(
            f"{name} must be a list of candidate integers, e.g. [1, 2, 3]; got "
            f"{values!r}."
        ) from None
    if not values:
        raise ValueError(f"{name} is empty: give at least one candidate.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Integral) or v < minimum:
            raise ValueError(
                f"Every candidate in {name} must be an integer >= {minimum}; got "
                f"{v!r} in {list(values)}."
            )
    return tuple(sorted(set(int(v) for v in values)))


def _estimator_has(attr):
    """Whether the fitted best estimator (else the template) has ``attr``."""

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
        else:
            getattr(self._template(), attr)
        return True

    return check


def _fit_one(estimator, X, y, sample_weight, train, test, criterion):
    """Fit one candidate and score it: (criterion value, fit time, fitted)."""
    start = time.perf_counter()
    X_fit = X if train is None else _rows(X, train)
    y_fit = y if train is None else y[train]
    fit_params = {}
    if sample_weight is not None:
        w = sample_weight if train is None else sample_weight[train]
        fit_params[f"{_mixture_step(estimator)[1]}sample_weight"] = w
    estimator.fit(X_fit, y_fit, **fit_params)
    fit_time = time.perf_counter() - start
    if criterion == "heldout":
        log_prob = np.asarray(_score_samples(estimator, _rows(X, test), y[test]))
        w = None if sample_weight is None else sample_weight[test]
        return float(np.average(log_prob, weights=w)), fit_time, None
    value = float(_bic(estimator, X, y))
    if criterion == "icl":
        resp = np.asarray(_responsibilities(estimator, X, y), dtype=np.float64)
        entropy = -float(np.sum(resp * np.log(np.clip(resp, 1e-300, None))))
        value += 2.0 * entropy
    return value, fit_time, estimator


def _rows(X, indices):
    return X.iloc[indices] if hasattr(X, "iloc") else X[indices]


class MixtureOfExpertsCV(MetaEstimatorMixin, BaseEstimator):
    """Mixture of experts with the number of experts chosen from the data.

    Fits a mixture-of-experts template once per candidate number of experts
    (for a hierarchical template: per candidate depth and branching), scores
    each candidate by held-out log-likelihood, BIC or ICL, and refits the
    chosen one on all the rows; it then predicts as that fitted mixture.

    The name follows scikit-learn's ``*CV`` estimators
    (:class:`~sklearn.linear_model.LassoCV`,
    :class:`~sklearn.linear_model.ElasticNetCV`): a list of candidates for a
    parameter, the choice in a trailing-underscore attribute
    (``n_experts_``), the refitted model ready to predict. It takes the
    mixture as a parameter, as :class:`~sklearn.model_selection.GridSearchCV`
    does, so that one class serves regressors and classifiers, flat and
    hierarchical mixtures, with every other setting kept from the template.

    Parameters
    ----------
    estimator : mixture of experts or Pipeline ending in one, default=None
        The template, cloned for each fit with its number of experts (or
        depth and branching) set to a candidate. ``None`` means
        :class:`~skmoe.MixtureOfExpertsRegressor` with its defaults.
    n_experts : int or list of int, default=None
        Candidate numbers of experts, each >= 1, for a flat mixture.
        ``None`` means ``[1, 2, 3, 4, 5]``. Not used with a hierarchical
        template.
    depth : int or list of int, default=None
        Candidate depths (>= 1) of a hierarchical template. ``None`` means
        ``[1, 2, 3]``.
    branching : int or list of int, default=None
        Candidate branchings (>= 2) of a hierarchical template; every pair
        of depth and branching is a candidate, with ``branching ** depth``
        experts. ``None`` means the template's own branching.
    criterion : {'heldout', 'bic', 'icl'}, default='heldout'
        How candidates are scored.

        - ``'heldout'``: the mean log-likelihood per row of the rows held out
          by cross-validation, ``score_samples(X_test, y_test).mean()``,
          averaged over folds; higher is better.
        - ``'bic'``: ``-2 log L + p log n`` of the fit on all rows (see
          :meth:`~skmoe.MixtureOfExpertsRegressor.bic`); lower is better.
          Needs experts with a parameter count (linear models, trees).
        - ``'icl'``: the integrated completed likelihood (Biernacki,
          Celeux & Govaert 2000) as a BIC-like quantity,
          ``ICL = BIC + 2 * EN`` with ``EN = -sum_i sum_k h_ik log h_ik >= 0``
          the entropy of the responsibilities ``h_ik`` on the training rows;
          lower is better. It adds to BIC a penalty for experts whose
          regimes overlap, so it favours well separated experts and tends
          to choose fewer than BIC.
    rule : {'one_standard_error', 'best'}, default='one_standard_error'
        How the held-out scores choose (``criterion='heldout'`` only).
        ``'one_standard_error'``: the smallest candidate whose mean score is
        within one standard error (fold standard deviation over the square
        root of the number of folds) of the best mean, which prefers fewer
        experts when more do not help beyond fold noise (Hastie, Tibshirani
        & Friedman, *The Elements of Statistical Learning*, 7.10).
        ``'best'``: the highest mean. BIC and ICL always take their minimum.
    cv : int, cross-validation generator or iterable, default=None
        Folds for ``criterion='heldout'``. ``None`` means 5 folds; an int, that
        many folds. Unlike scikit-learn's default, these folds are
        **shuffled** (:class:`~sklearn.model_selection.KFold`, or
        :class:`~sklearn.model_selection.StratifiedKFold` for a classifier,
        with ``shuffle=True`` and ``random_state``): rows are often sorted
        (by time, by target), and unshuffled folds then score extrapolation,
        not fit. A splitter or an iterable of (train, test) indices is used
        as given.
    n_init : int, default=None
        Restarts of each fit; ``None`` keeps the template's ``n_init``.
    n_jobs : int, default=None
        Fits run in parallel over candidates and folds (joblib). ``None``
        means 1 unless in a :obj:`joblib.parallel_backend` context; ``-1``
        means all processors.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and, when given, every fit (all fits get the
        same seed, so candidates differ only by their number of experts);
        ``None`` keeps the template's ``random_state``. Pass an int for
        reproducible output across multiple function calls.
    verbose : int, default=0
        Verbosity of joblib.

    Attributes
    ----------
    best_estimator_ : estimator
        The chosen candidate fitted on all the rows.
    n_experts_ : int
        Number of experts of the chosen candidate.
    depth_ : int or None
        Depth of the chosen candidate (hierarchical template), else None.
    branching_ : int or None
        Branching of the chosen candidate (hierarchical template), else None.
    best_index_ : int
        Index of the chosen candidate in ``cv_results_``.
    cv_results_ : dict of str to ndarray
        One entry per candidate, in order of increasing number of experts:
        ``'n_experts'``, ``'depth'`` and ``'branching'`` (hierarchical),
        ``'params'`` (the parameters set on the template),
        ``'mean_score'`` (the criterion: the mean over folds for
        ``'heldout'``), ``'std_score'`` (its standard deviation over folds;
        0 for BIC and ICL), ``'split{i}_score'`` (fold ``i``, ``'heldout'``
        only) and ``'mean_fit_time'`` (seconds).
    criterion_lower_is_better_ : bool
        Whether a lower score is better (BIC, ICL) or a higher (held-out).
    n_splits_ : int
        Number of folds (1 for BIC and ICL, fitted on all rows).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has feature
        names that are all strings.

    See Also
    --------
    skmoe.inspection.SelectionDisplay : The criterion against the number of
        experts.
    sklearn.model_selection.GridSearchCV : Search over any parameters.

    Notes
    -----
    The default (held-out log-likelihood, shuffled 5-fold, one-standard-error
    rule) chooses a single expert unless more improve the likelihood of new
    rows beyond fold noise; the log-likelihood judges the whole predictive
    distribution, not only its mean. BIC fits each candidate once (five
    times fewer fits) and is consistent for linear experts, but it needs a
    parameter count and, on data that no finite mixture describes, keeps
    adding experts as ``n`` grows.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsCV
    >>> from skmoe.datasets import load_mcycle
    >>> X, y = load_mcycle(return_X_y=True)
    >>> search = MixtureOfExpertsCV(criterion="bic", n_init=3, random_state=0)
    >>> search.fit(X, y).n_experts_
    4
    >>> search.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "get_params", "set_params"]), None],
        "n_experts": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "depth": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "branching": ["array-like", Interval(Integral, 2, None, closed="left"), None],
        "criterion": [StrOptions({"heldout", "bic", "icl"})],
        "rule": [StrOptions({"one_standard_error", "best"})],
        "cv": ["cv_object"],
        "n_init": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_experts=None,
        depth=None,
        branching=None,
        criterion="heldout",
        rule="one_standard_error",
        cv=None,
        n_init=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_experts = n_experts
        self.depth = depth
        self.branching = branching
        self.criterion = criterion
        self.rule = rule
        self.cv = cv
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _template(self):
        if self.estimator is None:
            from ._moe import MixtureOfExpertsRegressor

            return MixtureOfExpertsRegressor()
        return self.estimator

    def _candidates(self, template):
        """The parameters of each candidate and its number of experts."""
        moe, prefix = _mixture_step(template)
        if _is_hierarchical(template):
            if self.n_experts is not None:
                raise ValueError(
                    f"{type(moe).__name__} is hierarchical: its number of experts "
                    "is branching ** depth. Give candidate depths (depth=) and "
                    "branchings (branching=), not n_experts."
                )
            depths = _check_grid(
                _DEFAULT_DEPTH if self.depth is None else self.depth, "depth", 1
            )
            own = moe.get_params(deep=False)["branching"]
            branchings = _check_grid(
                own if self.branching is None else self.branching, "branching", 2
            )
            grid = [
                ({f"{prefix}depth": d, f"{prefix}branching": b}, b**d, d, b)
                for d, b in product(depths, branchings)
            ]
            grid.sort(key=lambda c: (c[1], c[2]))
            return grid
        if "n_experts" not in moe.get_params(deep=False):
            raise ValueError(
                f"estimator must be a mixture of experts (or a Pipeline ending in "
                f"one) with an n_experts or depth parameter; got "
                f"{type(moe).__name__}."
            )
        if self.depth is not None or self.branching is not None:
            raise ValueError(
                f"depth and branching are candidates for a hierarchical mixture; "
                f"{type(moe).__name__} is flat: give candidates in n_experts."
            )
        ks = _check_grid(
            _DEFAULT_N_EXPERTS if self.n_experts is None else self.n_experts,
            "n_experts",
            1,
        )
        return [({f"{prefix}n_experts": k}, k, None, None) for k in ks]

    def _splitter(self, template):
        if self.cv is None or isinstance(self.cv, Integral):
            n_splits = 5 if self.cv is None else self.cv
            splitter = StratifiedKFold if is_classifier(template) else KFold
            return splitter(n_splits, shuffle=True, random_state=self.random_state)
        return check_cv(self.cv, classifier=is_classifier(template))

    @_fit_context(
        # The template is validated when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None):
        """Score every candidate, choose one and refit it on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to every fit; held-out scores are weighted
            means.

        Returns
        -------
        self : MixtureOfExpertsCV
            The fitted estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        template = self._template()
        candidates = self._candidates(template)
        check_consistent_length(X, y)
        y = np.asarray(y)
        if is_classifier(template):
            check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            check_consistent_length(y, sample_weight)
        if not hasattr(X, "iloc"):
            X = np.asarray(X) if not hasattr(X, "tocsr") else X.tocsr()
        _, prefix = _mixture_step(template)
        common = {}
        if self.n_init is not None:
            common[f"{prefix}n_init"] = self.n_init
        if self.random_state is not None:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            common[f"{prefix}random_state"] = seed

        if self.criterion == "heldout":
            splitter = self._splitter(template)
            splits = list(splitter.split(X, y))
        else:
            splits = [(None, None)]
        parallel = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)
        results = parallel(
            delayed(_fit_one)(
                clone(template).set_params(**common, **params),
                X,
                y,
                sample_weight,
                train,
                test,
                self.criterion,
            )
            for params, *_ in candidates
            for train, test in splits
        )
        n_splits = len(splits)
        scores = np.array([r[0] for r in results]).reshape(len(candidates), -1)
        times = np.array([r[1] for r in results]).reshape(len(candidates), -1)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        if _LOWER_IS_BETTER[self.criterion]:
            scores = np.where(scores == -np.inf, np.inf, scores)
        mean = scores.mean(axis=1)
        std = scores.std(axis=1)
        if self.criterion != "heldout":
            best = int(np.argmin(mean))
        elif not np.isfinite(mean).any():
            raise ValueError(
                "Every candidate's held-out log-likelihood is -inf or NaN: the "
                "mixtures give zero density to held-out targets."
            )
        else:
            top = int(np.argmax(mean))
            best = top
            if self.rule == "one_standard_error":
                threshold = mean[top] - std[top] / np.sqrt(n_splits)
                best = int(np.flatnonzero(mean >= threshold)[0])

        results_ = {
            "n_experts": np.array([c[1] for c in candidates]),
            "params": [
                {k.split("__")[-1]: v for k, v in c[0].items()} for c in candidates
            ],
            "mean_score": mean,
            "std_score": std,
            "mean_fit_time": times.mean(axis=1),
        }
        if candidates[0][2] is not None:
            results_["depth"] = np.array([c[2] for c in candidates])
            results_["branching"] = np.array([c[3] for c in candidates])
        if self.criterion == "heldout":
            for i in range(n_splits):
                results_[f"split{i}_score"] = scores[:, i]

        if self.criterion == "heldout":
            best_estimator = clone(template).set_params(**common, **candidates[best][0])
            fit_params = {}
            if sample_weight is not None:
                fit_params[f"{prefix}sample_weight"] = sample_weight
            best_estimator.fit(X, y, **fit_params)
        else:
            best_estimator = results[best][2]

        self.best_estimator_ = best_estimator
        self.best_index_ = best
        self.n_experts_ = int(candidates[best][1])
        self.depth_ = candidates[best][2]
        self.branching_ = candidates[best][3]
        self.cv_results_ = results_
        self.criterion_lower_is_better_ = _LOWER_IS_BETTER[self.criterion]
        self.n_splits_ = n_splits
        return self

    @property
    def n_features_in_(self):
        """Number of features seen during :meth:`fit`."""
        check_is_fitted(self)
        return self.best_estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Names of features seen during :meth:`fit`."""
        check_is_fitted(self)
        return self.best_estimator_.feature_names_in_

    @property
    def classes_(self):
        """Class labels (for a classifier template)."""
        check_is_fitted(self)
        return self.best_estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        template_tags = self._template().__sklearn_tags__()
        tags.estimator_type = template_tags.estimator_type
        tags.classifier_tags = template_tags.classifier_tags
        tags.regressor_tags = template_tags.regressor_tags
        tags.input_tags.sparse = template_tags.input_tags.sparse
        tags.non_deterministic = template_tags.non_deterministic
        return tags

    def predict(self, X, **kwargs):
        """Predict with the chosen mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        **kwargs : dict
            Passed to the mixture's ``predict`` (e.g. ``return_std=True``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Or the tuple the mixture's ``predict`` returns.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict(X, **kwargs)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the chosen mixture (classifier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the chosen mixture (classifier).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    def score(self, X, y, sample_weight=None):
        """The chosen mixture's ``score``: R^2 (regressor) or accuracy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.best_estimator_.score(X, y, sample_weight=sample_weight)

    def score_samples(self, X, y):
        """Log-likelihood ``log p(y_i | x_i)`` of each row, chosen mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return _score_samples(self.best_estimator_, X, y)

    @available_if(_estimator_has("predict_interval"))
    def predict_interval(self, X, coverage=0.9, kind="central"):
        """Prediction intervals of the chosen mixture (regressor).

        See :meth:`skmoe.MixtureOfExpertsRegressor.predict_interval`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        coverage : float, default=0.9
            Probability of the interval.
        kind : {'central', 'hdr'}, default='central'
            Central interval or highest-density set.

        Returns
        -------
        intervals : ndarray or list
            As the mixture's ``predict_interval``.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_interval(X, coverage=coverage, kind=kind)

    @available_if(_estimator_has("predict_quantiles"))
    def predict_quantiles(self, X, q=0.5):
        """Quantiles of the chosen mixture's predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        q : float or array-like of float, default=0.5
            Levels in (0, 1).

        Returns
        -------
        quantiles : ndarray
            As the mixture's ``predict_quantiles``.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_quantiles(X, q=q)

    @available_if(_estimator_has("sample_y"))
    def sample_y(self, X, n_samples=1, random_state=0):
        """Draws from the chosen mixture's predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Samples.
        n_samples : int, default=1
            Draws per row.
        random_state : int, RandomState instance or None, default=0
            Seed of the draws.

        Returns
        -------
        y_samples : ndarray
            As the mixture's ``sample_y``.
        """
        check_is_fitted(self)
        return self.best_estimator_.sample_y(
            X, n_samples=n_samples, random_state=random_state
        )
