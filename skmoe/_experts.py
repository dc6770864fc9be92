"""Experts: checking, cloning and seeding, weighted fits, likelihoods, routing."""

import copy
import numbers

import numpy as np
from joblib import Parallel, delayed
from scipy import linalg
from sklearn.base import clone, is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    _routing_enabled,
    get_routing_for_object,
)
from sklearn.utils.validation import has_fit_parameter

from ._array_api import (
    _like,
    _supports_array_api,
    _take,
    _to_numpy,
    _xp_of,
)
from ._kernels import weighted_normal_equations
from ._logistic import (
    _is_plain_logistic,
    em_newton_cap,
    fit_logistic,
    logistic_proba,
)

#: Floor on an expert's probability of the observed class. Keeps the
#: log-likelihood finite when an expert gives a class probability 0 (a tree
#: leaf, or a class the expert never saw in its weighted data).
PROBA_FLOOR = 1e-10

_MAX_SEED = np.iinfo(np.int32).max

#: Weight, relative to the largest, of the other classes' rows for a
#: classifier expert whose responsibilities fall on one class only.
_SINGLE_CLASS_WEIGHT = 1e-9


def _consumes_sample_weight(estimator):
    """Whether ``estimator.fit`` takes ``sample_weight``.

    With metadata routing enabled, a meta-estimator passes it on only to the
    sub-estimators that request it. Otherwise what counts is ``fit``'s
    signature: meta-estimators such as ``BaggingRegressor`` or
    ``CalibratedClassifierCV`` take ``sample_weight`` themselves, a Pipeline
    does not. A plain estimator receives it from EM directly, not routed, so
    its requests do not matter.
    """
    if _routing_enabled() and _is_router(estimator):
        return get_routing_for_object(estimator).consumes("fit", ("sample_weight",))
    if isinstance(estimator, TransformedTargetRegressor):
        # fit(X, y, **fit_params) hands them to its regressor as they are.
        inner = estimator.regressor
        return _consumes_sample_weight(LinearRegression() if inner is None else inner)
    return has_fit_parameter(estimator, "sample_weight")


def _is_router(estimator):
    """Whether ``estimator`` routes metadata to sub-estimators (a Pipeline)."""
    try:
        return isinstance(get_routing_for_object(estimator), MetadataRouter)
    except NotImplementedError:  # e.g. AdaBoost: no routing at all
        return False


def _check_expert_templates(expert, n_experts, default, classifier):
    """Validate the ``expert`` parameter and return one template per expert.

    Raises before any fitting: wrong list length, missing methods, a classifier
    given to a regressor (or the reverse), no ``sample_weight`` support.
    """
    if expert is None:
        templates = [default] * n_experts
    elif isinstance(expert, (list, tuple)):
        if len(expert) != n_experts:
            raise ValueError(
                f"expert is a list of {len(expert)} estimators but n_experts="
                f"{n_experts}: give one estimator per expert, or a single "
                "estimator to use for all of them."
            )
        templates = list(expert)
    else:
        templates = [expert] * n_experts

    needed = ("fit", "predict_proba") if classifier else ("fit", "predict")
    kind = "classifier" if classifier else "regressor"
    for est in templates:
        name = type(est).__name__
        missing = [m for m in needed if not hasattr(est, m)]
        if missing or not hasattr(est, "get_params"):
            raise TypeError(
                f"Each expert must be a scikit-learn {kind} with "
                f"{' and '.join(needed)}; {name} lacks "
                f"{', '.join(missing) or 'get_params'}."
            )
        if not classifier and is_classifier(est):
            raise TypeError(
                f"The expert {name} is a classifier; MixtureOfExpertsRegressor "
                "needs regressors. Use MixtureOfExpertsClassifier for class labels."
            )
        estimator_type = get_tags(est).estimator_type
        if estimator_type in ("clusterer", "outlier_detector"):
            # Their predict returns cluster or inlier labels, which a mixture
            # would silently treat as target values or class scores.
            raise TypeError(
                f"The expert {name} is a {estimator_type.replace('_', ' ')}, "
                f"not a {kind}: a mixture of experts needs {kind}s as experts."
            )
        if not _consumes_sample_weight(est):
            if _is_router(est):
                # Pipelines (and meta-estimators under metadata routing) pass
                # sample_weight on only to the steps that request it.
                hint = (
                    f" {name} passes sample_weight on only with metadata "
                    "routing: fit inside sklearn.config_context("
                    "enable_metadata_routing=True), and call "
                    "set_fit_request(sample_weight=True) on each step that "
                    "should use it (False on the other steps that accept it)."
                )
            else:
                hint = (
                    " Use an expert that does (linear models, trees, random "
                    "forests, gradient boosting, ...)."
                )
            raise ValueError(
                f"The expert {name} does not accept sample_weight in fit, which EM "
                f"needs to fit each expert on its responsibilities.{hint}"
            )
    return templates


def _check_multi_output_experts(templates):
    """Refuse, before any fitting, an expert that cannot fit a 2-D target
    (by its ``multi_output`` tag)."""
    for est in templates:
        if not get_tags(est).target_tags.multi_output:
            name = type(est).__name__
            raise ValueError(
                f"The expert {name} does not fit a 2-D target y (several "
                "targets; its multi_output tag is False). Use an expert that "
                "does (LinearRegression, Ridge, DecisionTreeRegressor, "
                "RandomForestRegressor, KNeighborsRegressor, ...), or wrap it "
                f"in sklearn.multioutput.MultiOutputRegressor({name}(...)), "
                "which fits one per target."
            )


def _make_experts(templates, random_state):
    """Clone each template and seed every nested ``random_state`` from the RNG."""
    rng = check_random_state(random_state)
    experts = []
    for template in templates:
        est = clone(template)
        to_set = {
            key: rng.randint(_MAX_SEED)
            for key in sorted(est.get_params(deep=True))
            if key == "random_state" or key.endswith("__random_state")
        }
        if to_set:
            est.set_params(**to_set)
        experts.append(est)
    return experts


# Experts whose loss is convex and whose ``warm_start`` only sets the
# solver's starting point, to the fitted attributes listed: refitting one
# from the previous EM iteration's solution reaches the same optimum (within
# the solver's tolerance) in a fraction of the iterations (the default
# classifier expert took about 90% of a fit, its L-BFGS hitting max_iter=100
# from scratch at every iteration). Not ensembles: their warm_start *adds*
# members.
_WARM_START_ATTRIBUTES = {
    LogisticRegression: ("coef_", "intercept_"),
    Lasso: ("coef_",),
    ElasticNet: ("coef_",),
}


def _start_from(est, previous, y):
    """Start ``est`` (a fresh clone) from ``previous``'s solution when that is
    safe: same type in the allowlist, fitted, on the same classes. Returns
    whether it did (then ``est.warm_start`` is True for its next fit)."""
    names = _WARM_START_ATTRIBUTES.get(type(est))
    if names is None or not all(hasattr(previous, name) for name in names):
        return False
    if hasattr(previous, "classes_") and not np.array_equal(
        _to_numpy(previous.classes_), np.unique(_to_numpy(y))
    ):
        return False  # another class set: the coefficients have another shape
    est.set_params(warm_start=True)
    for name in names:
        setattr(est, name, copy.copy(getattr(previous, name)))
    return True


class _FailedExpert:
    """An expert taken out of the mixture because it failed
    (``expert_errors="isolate"``): its slot in ``experts_``.

    It is never refitted; the mixture masks its gate column (its gate
    probability is 0 and the others are renormalised), so its outputs,
    zeros, never count.

    Attributes
    ----------
    estimator : estimator
        The expert that failed (its template, or its last fitted state).
    error : BaseException
        What it raised, or the error describing its invalid outputs.
    iteration, run : int or None
        Where it failed (EM iteration and restart), once known.
    """

    def __init__(self, estimator, error):
        self.estimator = estimator
        self.error = error
        self.iteration = None
        self.run = None

    def __repr__(self):
        return f"FailedExpert({self.estimator!r}, error={self.error!r})"

    def describe(self, index):
        """One line for warnings: which expert, what and where."""
        where = ""
        if self.iteration is not None:
            run = "small-EM" if self.run is None else f"run {self.run}"
            where = f" in EM iteration {self.iteration} of {run}"
        return (
            f"expert {index} ({self.estimator!r}) failed{where}: "
            f"{type(self.error).__name__}: {self.error}"
        )


def _failed_indices(experts):
    """Indices of the experts that failed (``_FailedExpert`` slots)."""
    return np.array(
        [k for k, e in enumerate(experts) if isinstance(e, _FailedExpert)],
        dtype=np.intp,
    )


def _fit_one(
    expert,
    X,
    y,
    weight,
    min_responsibility,
    classifier,
    newton_cap=None,
    classes=None,
):
    """Fit a clone of ``expert`` with ``sample_weight=weight``.

    Rows whose weight is below ``min_responsibility`` are left out (they would
    change the fit by a negligible amount and cost time), unless that would
    leave a classifier with fewer than two classes; a classifier whose
    positive weights fall on a single class gets every row, the others at a
    negligible weight (``_SINGLE_CLASS_WEIGHT``). Convex experts (see
    ``_WARM_START_ATTRIBUTES``) start from ``expert``'s fitted solution;
    plain logistic experts are fitted by :func:`skmoe._logistic.fit_logistic`
    (``newton_cap``: its Newton steps inside EM). ``classes``: the labels,
    when ``y`` holds columns of it.
    """
    plain_logistic = _is_plain_logistic(expert)
    est = _unfitted_copy(expert) if plain_logistic else clone(expert)
    if not _on_device(est, X):
        # scikit-learn fits this expert on NumPy arrays only: move its inputs.
        X, y, weight = _to_numpy(X), _to_numpy(y), _to_numpy(weight)
    if isinstance(weight, np.ndarray):
        # A column of the (n, K) weights is strided; libsvm (SVR, SVC)
        # refuses non-contiguous sample weights.
        weight = np.ascontiguousarray(weight)
    xp = _xp_of(X)
    keep = weight > min_responsibility
    if not bool(xp.any(keep)):
        # An expert left with no data (dead, about to be re-initialised):
        # every row at one weight, rather than a fit on no rows, which
        # scikit-learn refuses.
        keep = weight > 0
        if not bool(xp.any(keep)):
            keep, weight = xp.ones_like(keep), xp.ones_like(weight)
    if classifier and _n_distinct(y[keep]) < 2:
        keep = weight > 0
        if _n_distinct(y[keep]) < 2:
            # All the expert's weight is on one class (a k-means cluster of
            # one class, say). LogisticRegression would fit zero-weight rows
            # of the other classes, but SVC and gradient boosting drop them
            # and refuse single-class data: those rows get a weight too
            # small to matter, _SINGLE_CLASS_WEIGHT of the largest.
            keep = xp.ones_like(keep)
            tiny = _SINGLE_CLASS_WEIGHT * float(xp.max(weight))
            weight = xp.maximum(weight, xp.full_like(weight, tiny))
    if not bool(xp.all(keep)):
        X, y, weight = X[keep], y[keep], weight[keep]
    if classifier and isinstance(X, np.ndarray) and plain_logistic:
        return fit_logistic(est, X, y, weight, expert, newton_cap, classes)
    if classes is not None:
        y = classes[y]
    if _start_from(est, expert, y):
        # The fitted expert keeps the user's warm_start, not EM's: the one
        # ``expert`` (fitted the same way, or the template) carries.
        fitted = _checked_fit(est, X, y, weight)
        return fitted.set_params(warm_start=expert.warm_start)
    return _checked_fit(est, X, y, weight)


def _checked_fit(est, X, y, weight):
    """``est.fit(X, y, sample_weight=weight)``, which must return ``est``."""
    fitted = est.fit(X, y, sample_weight=weight)
    if fitted is not est:
        raise TypeError(
            f"The expert {type(est).__name__}'s fit returned {fitted!r}, not "
            "the estimator itself: scikit-learn estimators' fit must return "
            "self."
        )
    return fitted


def _n_distinct(values):
    if isinstance(values, np.ndarray):  # NumPy < 2 has no unique_values
        return np.unique(values).size
    return _xp_of(values).unique_values(values).shape[0]


def _on_device(expert, X):
    """Whether ``expert`` fits and predicts in the namespace of ``X``.

    NumPy data: always. Device data: the experts scikit-learn supports there
    (its ``array_api_support`` tag) and the linear experts EM solves itself.
    """
    return (
        isinstance(X, np.ndarray)
        or _is_plain_linear(expert)
        or _supports_array_api(expert)
    )


def _is_plain_linear(expert):
    """Whether the expert is a LinearRegression or Ridge that EM may fit directly.

    Their weighted least-squares fit has a closed form that needs a d x d
    solve per expert; scikit-learn's ``fit`` adds input validation and copies
    that cost several times more at every EM iteration.
    """
    if type(expert) is LinearRegression:
        return not expert.positive
    if type(expert) is Ridge:
        return (
            not expert.positive
            and np.ndim(expert.alpha) == 0
            and expert.solver in ("auto", "cholesky")
        )
    return False


def _fit_linear_experts(experts, X, y, weights):
    """Weighted least squares (ridge) with an unpenalised intercept, per expert.

    Expert k is fitted on ``weights[:, k]``. Returns clones of ``experts``
    with the attributes their own ``fit`` sets, and the same solution:
    centring by the weighted means, then the normal equations (or ``lstsq``
    when they are singular or ill-conditioned). The normal equations of all
    experts come from one kernel pass over the data.
    """
    center = np.array([e.fit_intercept for e in experts])
    # The (d, d) systems are solved on the host, also for device data.
    moments = (_to_numpy(a) for a in weighted_normal_equations(X, y, weights, center))
    _, x_mean, y_mean, gram, rhs = moments
    lstsq = _lstsq_on_rows(X, y, lambda k: weights[:, k], x_mean, y_mean)
    fitted = _linear_experts_from_moments(
        experts, x_mean, y_mean, gram, rhs, X.shape[0], lstsq
    )
    for est in fitted:
        est.coef_ = _like(est.coef_, X)
    return fitted


def _lstsq_on_rows(X, y, weight, x_mean, y_mean):
    """``lstsq(k, alpha, unit)`` for :func:`_linear_experts_from_moments`:
    expert k's coefficients by least squares on its weighted, centred rows
    (``weight(k)`` its weights), in the column units ``unit``."""

    def lstsq(k, alpha, unit):
        root = np.sqrt(_to_numpy(weight(k)))
        A = (_to_numpy(X) - x_mean[k]) * root[:, None]
        b = (_to_numpy(y) - y_mean[k]) * root
        if alpha > 0:
            A = np.vstack([A, np.sqrt(alpha) * np.eye(X.shape[1])])
            b = np.concatenate([b, np.zeros(X.shape[1])])
        return (
            linalg.lstsq(
                A / unit,
                b,
                cond=max(A.shape) * np.finfo(float).eps,
                check_finite=False,
            )[0]
            / unit
        )

    return lstsq


def _linear_experts_from_moments(experts, x_mean, y_mean, gram, rhs, n_rows, lstsq):
    """Fitted clones of the LinearRegression or Ridge ``experts`` from their
    weighted moments (:func:`weighted_normal_equations`: the weighted means
    (K, d) and (K,), the centred Gram matrices (K, d, d) and right-hand sides
    (K, d)), with the attributes their own ``fit`` sets.

    ``lstsq(k, alpha, unit)``: expert k's coefficients when its normal
    equations are singular or ill-conditioned, from the data (least squares
    on the weighted rows, :func:`_lstsq_on_rows`, in the column units
    ``unit``); the Dask path, which has only the moments, solves them by
    least squares instead. The experts' small systems are solved together
    (NumPy's batched LAPACK calls: at every EM iteration, one call per
    expert and per decomposition cost more than the solves).
    """
    n_experts, n_features = rhs.shape
    alpha = np.array([float(e.alpha) if type(e) is Ridge else 0.0 for e in experts])
    gram_reg = gram + alpha[:, None, None] * np.eye(n_features)
    # Solved in units where every column has the same spread (Jacobi
    # scaling), so that a feature's unit (a standard deviation of 1e-15
    # or 1e15) changes neither the solution nor the singularity test;
    # the solution itself is the same as on the original scale.
    unit = np.sqrt(np.diagonal(gram_reg, axis1=1, axis2=2)).copy()
    unit[~(unit > 0)] = 1.0
    scaled = gram_reg / unit[:, :, None] / unit[:, None, :]
    eig = np.linalg.eigvalsh(scaled)
    # The normal equations square the condition number: past 1e10 (1e5
    # for the data) fall back to lstsq on the weighted data, as sklearn does.
    solvable = eig[:, 0] > 1e-10 * eig[:, -1]
    coef = np.empty((n_experts, n_features))
    if solvable.any():
        rhs_scaled = (rhs / unit)[solvable][:, :, None]
        coef[solvable] = (
            np.linalg.solve(scaled[solvable], rhs_scaled)[:, :, 0] / unit[solvable]
        )
    for k in np.flatnonzero(~solvable):
        coef[k] = lstsq(k, alpha[k], unit[k])
    # As scikit-learn's: those of the centred data, in their units.
    singular = np.sqrt(np.clip(np.linalg.eigvalsh(gram_reg), 0, None))[:, ::-1]
    fitted = []
    for k, expert in enumerate(experts):
        est = _unfitted_copy(expert)
        est.coef_ = coef[k]
        est.intercept_ = (
            float(y_mean[k] - x_mean[k] @ coef[k]) if expert.fit_intercept else 0.0
        )
        est.n_features_in_ = n_features
        if type(expert) is LinearRegression:
            est.singular_ = singular[k]
            est.rank_ = int(
                np.sum(
                    singular[k]
                    > singular[k, 0] * max(n_rows, n_features) * np.finfo(float).eps
                )
            )
        else:
            est.n_iter_ = None
            est.solver_ = "cholesky"
        fitted.append(est)
    return fitted


def _residual_squares(coef, gram, rhs, syy):
    """An expert's weighted sum of squared residuals from its centred
    moments (:func:`weighted_normal_equations`, and ``syy`` the target's
    centred sum of squares) at the coefficients ``coef``."""
    return syy - 2 * coef @ rhs + coef @ gram @ coef


def _unfitted_copy(expert):
    """``clone(expert)`` for a LinearRegression, Ridge or plain
    LogisticRegression (no ``class_weight``): their parameters are scalars,
    so a shallow copy without the fitted attributes is a clone,
    at a tenth of the cost (the linear experts are refitted at every EM
    iteration)."""
    est = object.__new__(type(expert))
    est.__dict__.update(
        (a, v) for a, v in vars(expert).items() if not a.endswith("_") or a[0] == "_"
    )
    return est


def _fit_experts(
    experts,
    X,
    y,
    weights,
    min_responsibility,
    classifier,
    n_jobs,
    isolate=False,
    classes=None,
):
    """Fit expert k on ``weights[:, k]``; returns new fitted estimators.

    ``X`` must be a float64 ndarray (the driver validates it) and carry no
    feature names, so the fitted experts carry none either. With
    ``isolate``, an expert whose fit raises becomes a :class:`_FailedExpert`
    instead of raising; a failed expert stays failed. ``classes``: the
    labels, when ``y`` holds each row's column in it (NumPy codes).
    """
    # Read here, in the caller's thread: the fits may run in others.
    newton_cap = em_newton_cap()
    n_experts = len(experts)
    fitted = [None] * n_experts
    generic, linear = [], []
    xp = _xp_of(weights)
    for k, est in enumerate(experts):
        if isinstance(est, _FailedExpert):
            fitted[k] = est
        elif float(xp.sum(weights[:, k])) <= 0 and hasattr(est, "n_features_in_"):
            fitted[k] = est  # no data: keep the previous fit (generalised EM)
        elif not classifier and y.ndim == 1 and _is_plain_linear(est):
            # The direct solve is for one target; a 2-D target goes to the
            # expert's own fit.
            linear.append(k)
        else:
            generic.append(k)
    if linear:
        # Every expert linear (the default): no copy of the weights.
        group_weights = (
            weights if len(linear) == n_experts else _take(weights, linear, axis=1)
        )
        group = _fit_linear_experts([experts[k] for k in linear], X, y, group_weights)
        for k, est in zip(linear, group, strict=True):
            fitted[k] = est
    if n_jobs in (None, 1) or len(generic) <= 1:
        results = [
            _fit_expert(
                k,
                isolate,
                experts[k],
                X,
                y,
                weights[:, k],
                min_responsibility,
                classifier,
                newton_cap,
                classes,
            )
            for k in generic
        ]
    else:
        results = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_fit_expert)(
                k,
                isolate,
                experts[k],
                X,
                y,
                weights[:, k],
                min_responsibility,
                classifier,
                newton_cap,
                classes,
            )
            for k in generic
        )
    for k, est in zip(generic, results, strict=True):
        fitted[k] = est
    return fitted


def _fit_expert(k, isolate, expert, *args):
    """:func:`_fit_one` for expert ``k``; an error says which expert raised,
    or, with ``isolate``, makes it a :class:`_FailedExpert`."""
    try:
        return _fit_one(expert, *args)
    except Exception as err:
        if isolate:
            return _FailedExpert(expert, err)
        err.add_note(f"Raised while fitting expert {k} of the mixture: {expert!r}.")
        raise


def _class_columns(expert, classes):
    """Columns of the global ``classes`` that the expert's ``classes_`` map to."""
    return np.searchsorted(classes, _to_numpy(expert.classes_))


def _predict(expert, X, method, n_targets=None):
    """``expert.<method>(X)`` in the namespace of ``X``, checked.

    An expert fitted on the host (device data it cannot take) predicts on a
    NumPy copy and its output goes back to the device. Host outputs must be
    one finite value per row (``predict``; ``n_targets`` values for a 2-D
    target) or one row of probabilities per row (``predict_proba``):
    anything else would be broadcast or spread silently through the mixture.
    """
    if isinstance(X, np.ndarray) or not _on_device(expert, X):
        out = np.asarray(getattr(expert, method)(_to_numpy(X)), dtype=np.float64)
        _check_output(out, expert, method, X.shape[0], n_targets)
        return _like(out, X)
    return getattr(expert, method)(X)


#: How far from 1 an expert's probability rows may sum (rounding only).
_PROBA_SUM_TOL = 1e-6


def _check_output(out, expert, method, n_rows, n_targets=None):
    """Raise a ValueError naming ``expert`` if its ``method`` output ``out``
    is not what the mixture needs."""
    name = type(expert).__name__
    if method == "predict_proba":
        expected = (n_rows, len(expert.classes_))
        what = "one probability per class and row"
    elif n_targets is not None:
        expected = (n_rows, n_targets)
        what = f"one prediction per row and target ({n_targets} targets)"
    else:
        expected = (n_rows,)
        what = "one prediction per row"
    if out.shape != expected:
        raise ValueError(
            f"The expert {name}'s {method} returned an array of shape "
            f"{out.shape} for {n_rows} rows; the mixture needs {what}, shape "
            f"{expected}."
        )
    finite = np.isfinite(out)
    if not finite.all():
        bad = int(np.count_nonzero(~finite.all(axis=1) if out.ndim == 2 else ~finite))
        raise ValueError(
            f"The expert {name}'s {method} returned NaN or infinite values on "
            f"{bad} of {n_rows} rows (from finite inputs). Check the expert on "
            "its own (its fit may have diverged), or use another expert."
        )
    if method == "predict_proba" and n_rows:
        sums = out.sum(axis=1)
        if out.min() < 0 or np.abs(sums - 1.0).max() > _PROBA_SUM_TOL:
            raise ValueError(
                f"The expert {name}'s predict_proba returned rows that are not "
                f"probabilities (smallest entry {out.min():.3g}, row sums from "
                f"{sums.min():.6g} to {sums.max():.6g}); each row must be "
                "non-negative and sum to 1."
            )


def _expert_proba(expert, X, classes):
    """An expert's ``predict_proba`` mapped onto the global classes."""
    if (
        isinstance(X, np.ndarray)
        and _is_plain_logistic(expert)
        and hasattr(expert, "coef_")
    ):
        proba = logistic_proba(expert, X)
    else:
        proba = _predict(expert, X, "predict_proba")
    cols = _class_columns(expert, classes)
    if isinstance(proba, np.ndarray):
        full = np.zeros((X.shape[0], classes.size))
        full[:, cols] = proba
        return full
    if np.array_equal(cols, np.arange(classes.size)):
        return proba
    # A class the expert never saw has probability 0 (column by column: the
    # array API has no fancy-index assignment).
    xp = _xp_of(proba)
    zero = xp.zeros_like(proba[:, 0])
    where = dict(zip(cols.tolist(), range(cols.size), strict=True))
    return xp.stack(
        [proba[:, where[c]] if c in where else zero for c in range(classes.size)],
        axis=1,
    )


def _expert_output(expert, X, classes, n_targets=None):
    """One expert's output on ``X``: predictions (n,), (n, n_targets) for a
    2-D target, or probabilities (n, C)."""
    if classes is not None:
        return _expert_proba(expert, X, classes)
    if n_targets is None and _is_plain_linear(expert) and np.ndim(expert.coef_) == 1:
        # The same product as ``predict``, without its per-call checks
        # (X is validated by the caller), which cost 6x the product itself
        # at every EM iteration.
        return X @ expert.coef_ + expert.intercept_
    return _predict(expert, X, "predict", n_targets)


def _expert_outputs(experts, X, classes=None, rows=None, isolate=False, n_targets=None):
    """Per-expert outputs: predictions (n, K), (n, K, n_targets) for a 2-D
    target (``n_targets`` given), or class probabilities (n, K, C).

    With ``rows`` (a list of index arrays, one per expert), expert k is only
    evaluated on ``X[rows[k]]``; other entries are NaN (regression) or 0.
    Device data: soft routing stacks the outputs on the device; routed
    outputs are placed on the host (the array API has no scatter) and moved
    back. A :class:`_FailedExpert`'s outputs are zeros (its gate column is
    masked). With ``isolate`` (a list, changed in place), an expert whose
    outputs raise becomes a ``_FailedExpert`` in ``experts``.
    """
    if rows is None and not isinstance(X, np.ndarray):
        return _xp_of(X).stack(
            [
                _output_or_zeros(experts, k, X, classes, isolate, n_targets)
                for k in range(len(experts))
            ],
            axis=1,
        )
    n, n_experts = X.shape[0], len(experts)
    if classes is None:
        shape = (n, n_experts) if n_targets is None else (n, n_experts, n_targets)
        out = np.full(shape, np.nan)
    else:
        out = np.zeros((n, n_experts, classes.size))
    for k in range(n_experts):
        if rows is None:
            out[:, k] = _to_numpy(
                _output_or_zeros(experts, k, X, classes, isolate, n_targets)
            )
        elif rows[k].size:
            Xk = _take(X, rows[k], axis=0)
            out[rows[k], k] = _to_numpy(
                _output_or_zeros(experts, k, Xk, classes, isolate, n_targets)
            )
    return _like(out, X)


def _output_or_zeros(experts, k, X, classes, isolate, n_targets=None):
    """Expert ``k``'s output, zeros for a failed expert (or one that fails
    here, with ``isolate``)."""
    est = experts[k]
    if not isinstance(est, _FailedExpert):
        try:
            return _expert_output(est, X, classes, n_targets)
        except Exception as err:
            if not isolate:
                raise
            experts[k] = _FailedExpert(est, err)
    xp = _xp_of(X)
    if classes is not None:
        shape = (X.shape[0], classes.size)
    else:
        shape = (X.shape[0],) if n_targets is None else (X.shape[0], n_targets)
    return xp.zeros(shape, dtype=X.dtype)


def _routing_weights(gate_proba, routing, top_k):
    """Mixing weights (n, K) after routing, and the rows each expert must see.

    ``soft`` keeps the gate probabilities; ``hard`` puts all weight on the most
    probable expert; ``top_k`` keeps the k most probable, renormalised.
    """
    n, n_experts = gate_proba.shape
    if routing == "soft":
        return gate_proba, None
    k = 1 if routing == "hard" else min(top_k, n_experts)
    if k == 1:
        chosen = np.argmax(gate_proba, axis=1)[:, None]
    else:
        chosen = np.argpartition(-gate_proba, k - 1, axis=1)[:, :k]
    weights = np.zeros_like(gate_proba)
    rows_idx = np.arange(n)[:, None]
    weights[rows_idx, chosen] = gate_proba[rows_idx, chosen]
    # The chosen set holds the largest gate probability, which is at least 1/K,
    # so the total is positive.
    weights /= weights.sum(axis=1, keepdims=True)
    rows = [np.flatnonzero((chosen == j).any(axis=1)) for j in range(n_experts)]
    return weights, rows


def _n_expert_parameters(expert):
    """Number of free parameters of a fitted expert, for BIC/AIC.

    Linear models: the size of ``coef_`` and ``intercept_``. Trees: one value
    per leaf and output (an approximation that ignores the split choices).
    Other experts raise, because no count is defined for them.
    """
    if isinstance(expert, _FailedExpert):
        return 0  # out of the mixture: no parameter of p(y | x)
    if hasattr(expert, "steps"):
        # A Pipeline: its transformers reparametrise the inputs; the free
        # parameters of p(y | x) are those of the final estimator.
        return _n_expert_parameters(expert.steps[-1][1])
    if hasattr(expert, "coef_"):
        intercept = getattr(expert, "intercept_", 0.0)
        return int(np.size(expert.coef_) + np.size(intercept))
    if hasattr(expert, "tree_"):
        # One value per leaf and target (regression), or C - 1 free
        # probabilities per leaf (classification).
        n_classes = expert.tree_.value.shape[-1]
        per_leaf = expert.tree_.n_outputs * max(n_classes - 1, 1)
        return int(expert.tree_.n_leaves * per_leaf)
    if hasattr(expert, "n_leaves_") and isinstance(expert.n_leaves_, numbers.Integral):
        return int(expert.n_leaves_)
    raise ValueError(
        f"No parameter count is defined for an expert of type "
        f"{type(expert).__name__}; bic and aic support linear and tree experts."
    )
