"""The estimators' ``partial_fit``: one pass of minibatch steps per chunk."""

import copy
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._array_api import _check_fitted_namespace, _namespace
from .._base import _restored_on_error
from .._experts import _check_expert_templates
from .._run import _Run
from .._validation import _check_weights, _validate_data
from ._model import _classes_of
from ._stream import _Stream
from ._support import _continued_templates, check_solver_support


def _validate_partial_fit(estimator, X, y, classes, first):
    """Validate one chunk; on the first call also set the classes."""
    if not first:
        X = _validate_data(estimator, X, reset=False, dtype=np.float64)
        y = estimator._check_y(y, X)
        if estimator._classifier and classes is not None:
            given = np.unique(classes)
            if not np.array_equal(given, estimator.classes_):
                raise ValueError(
                    f"classes={given.tolist()} is not the same as the classes the "
                    f"model was fitted on, {estimator.classes_.tolist()} (the first "
                    "partial_fit call's classes, or those of fit)."
                )
        return X, y
    if not estimator._classifier:
        return estimator._validate_fit_data(X, y)
    if classes is None:
        raise ValueError(
            "classes must be passed on the first call to partial_fit: the "
            "mixture's experts need every class from the start (e.g. "
            "classes=np.unique(y_all))."
        )
    return estimator._validate_fit_data(X, y, classes=classes)


def partial_fit(estimator, X, y, sample_weight=None, classes=None):
    """One pass of minibatch gradient steps over a chunk (X, y), atomically.

    If the call raises, the estimator is left as it was: its fitted
    attributes and its streaming state (which a pass changes in place, so a
    copy of it is kept for the call).
    """
    keep = None
    stream = getattr(estimator, "_stream", None)
    if stream is not None:
        # The fitted experts are shared with the stream, not copied: they
        # are replaced, never changed, by a pass.
        experts = getattr(estimator, "experts_", [])
        memo = {id(e): e for e in experts}
        memo[id(experts)] = experts
        keep = {"_stream": copy.deepcopy(stream, memo)}
    with _restored_on_error(estimator, keep):
        return _partial_fit(estimator, X, y, sample_weight, classes)


def _partial_fit(estimator, X, y, sample_weight=None, classes=None):
    """One pass of minibatch gradient steps over a chunk (X, y).

    The first call (on an unfitted estimator) initialises the model on its
    chunk, like ``fit`` initialises on all the data (``init_params``, then one
    M-step: an exact one for differentiable experts and the gate, one
    ``partial_fit`` call for the others), then makes the pass. After ``fit``,
    the first call continues from the fitted parameters with a fresh
    optimiser state.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,) or None
    classes : array-like of shape (n_classes,) or None
        Classification only; required on the first call.

    Returns
    -------
    estimator
    """
    fitted = hasattr(estimator, "experts_")
    if not estimator._classifier and classes is not None:
        raise TypeError("classes is only used by classifiers.")
    if fitted and len(estimator.experts_) != estimator.n_experts:
        raise ValueError(
            f"partial_fit continues the fitted model, which has "
            f"{len(estimator.experts_)} experts, but n_experts="
            f"{estimator.n_experts}: call fit to fit a new model with "
            f"{estimator.n_experts} experts."
        )
    xp, _ = _namespace(X)
    if xp is not np:
        raise ValueError(
            f"partial_fit takes NumPy inputs only; with array-API inputs "
            f"({xp.__name__}) use fit."
        )
    if fitted:
        _check_fitted_namespace(
            X, estimator, attribute="expert_shares_", method="partial_fit"
        )
    X, y = _validate_partial_fit(estimator, X, y, classes, first=not fitted)
    w = _check_weights(
        sample_weight, X, np.float64, "The sample weights of this partial_fit chunk"
    )
    stream = getattr(estimator, "_stream", None)
    stale = stream is None or stream.experts is not getattr(estimator, "experts_", None)
    if fitted:
        # Continue from the fitted experts, in their (canonical) order.
        templates = _continued_templates(estimator.experts_, "partial_fit")
    else:
        templates = _check_expert_templates(
            estimator.expert,
            estimator.n_experts,
            estimator._default_expert(),
            estimator._classifier,
        )
    kinds = check_solver_support(estimator, templates, context="partial_fit")
    classes = _classes_of(estimator)
    if not fitted:
        n_positive = int(np.count_nonzero(w > 0))
        if estimator.n_experts > n_positive:
            raise ValueError(
                f"n_experts={estimator.n_experts} must be at most the number of "
                f"rows with positive weight in the first partial_fit chunk "
                f"(n_samples={n_positive}): the model is initialised on it. Pass "
                "a larger first chunk."
            )
        init_resp = estimator._check_init_responsibilities(X)
    if stale:
        rng = check_random_state(estimator.random_state)
        stream = _Stream(estimator, templates, kinds, rng, X.shape[1], classes)
        # Weights in row units, as fit's (see BaseMixtureOfExperts._fit): the
        # unit of the stream's first chunk holds for the chunks after it, so
        # the chunks keep their relative weights.
        stream.weight_unit = float(w.sum()) / int(np.count_nonzero(w > 0))
    # The stream reads the estimator's parameters during the call only: kept
    # between calls, the reference would be a cycle (estimator -> _stream ->
    # estimator) that skops cannot save.
    stream.estimator = estimator
    w = w / stream.weight_unit
    m = stream.model
    t = stream.targets(y)
    if not fitted:
        m.x_scaler.update(X, w)
        if not estimator._classifier:
            m.y_scaler.update(y[:, None], w)
        # The initialisation may run EM on the chunk (init_params='small_em').
        lik = estimator._likelihood(y, w)
        resp = estimator._initial_responsibilities(
            X, y, w, lik, init_resp, stream.rng, proxy_experts="partial" in kinds
        )
        stream.init_from_resp(X, y, w, resp)
    elif stale:
        # Continue from a fitted model (EM, L-BFGS or minibatch fit).
        m.x_scaler.update(X, w)
        if not estimator._classifier:
            m.y_scaler.update(y[:, None], w)
        m.set_from_state(copy.deepcopy(estimator._get_state()), classes)
        Xs, ts = m.standardize(X, t)
        stream.seen = float(w.sum())
        stream.resp_mass = estimator.expert_shares_ * stream.seen
        if not estimator._classifier:
            stream.exact_variances(X, Xs, ts, y, w)
    else:
        m.update_scalers(X, y, w)
        stream.seen += float(w.sum())
    Xs, ts = m.standardize(X, t)
    with warnings.catch_warnings():
        # An expert's partial_fit makes one pass per call by design.
        warnings.simplefilter("ignore", ConvergenceWarning)
        chunk_loglik = stream.one_pass(X, Xs, ts, y, w, stream.seen)
    stream.n_calls += 1
    bound = (chunk_loglik - m.em_penalty(m.W, m.log_var_std())) / float(w.sum())
    stream.history.append(bound)
    record = _Run(
        state=stream.write(stream.n_calls, False),
        lower_bound=bound,
        log_likelihood=chunk_loglik,
        history=list(stream.history),
        n_iter=stream.n_calls,
        converged=False,
        unit="partial_fit calls",
    )
    previous = getattr(estimator, "target_range_", None) if fitted else None
    # The bookkeeping of fit (shares over every chunk seen so far).
    estimator._record_fit(
        record,
        X,
        y,
        w,
        estimator._likelihood(),
        stream.resp_mass,
        stream.weight_unit,
        previous_range=previous,
    )
    stream.estimator = None
    estimator._stream = stream
    if estimator.verbose:
        print(
            f"partial_fit call {stream.n_calls}: {X.shape[0]} rows, progressive "
            f"objective {bound:.6f} (log-likelihood {chunk_loglik:.6g})"
        )
    return estimator
