"""Which experts gradient fitting can fit, and how.

An expert is *differentiable* (skmoe computes the gradient of its
log-likelihood: :func:`_differentiable`) or updated through its own
``partial_fit(X, y, sample_weight)``; of the latter, the regression experts
of :func:`_learns_standardized_target` learn a standardised target.
"""

import copy
import inspect

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDRegressor,
)
from sklearn.neural_network import MLPRegressor

from .._experts import _failed_indices
from .._logistic import _logistic_l2

_DIFFERENTIABLE_DOC = (
    "LinearRegression and Ridge (positive=False, a scalar alpha) for "
    "regression; LogisticRegression with an L2 penalty or none (not the "
    "'liblinear' solver, class_weight=None) for classification"
)


def _differentiable(expert, classifier):
    """Whether skmoe computes this expert's log-likelihood gradient itself.

    Recognised by exact type (a subclass may change the model): for
    regression ``LinearRegression`` and ``Ridge`` with ``positive=False`` and
    a scalar ``alpha``; for classification ``LogisticRegression`` with an L2
    penalty or none, ``class_weight=None`` and a solver other than
    ``'liblinear'`` (which penalises the intercept).
    """
    if classifier:
        return (
            type(expert) is LogisticRegression
            and expert.solver != "liblinear"
            and expert.class_weight is None
            and _logistic_l2(expert) is not None
        )
    if type(expert) is LinearRegression:
        return not expert.positive
    if type(expert) is Ridge:
        return not expert.positive and np.size(expert.alpha) == 1
    return False


def _learns_standardized_target(expert):
    """Whether a regression expert updated by ``partial_fit`` learns ``(y - c) / s``.

    ``c`` and ``s`` are the target's mean and scale on the data the stream
    starts from; the written expert is a copy that predicts on the original
    scale (:func:`_rescaled_output`). Why: these experts start from a zero
    output and take stochastic-gradient steps whose size does not adapt to
    the units of ``y``. On a raw target far from zero in units of its spread
    (``y`` of mean 450 and spread 17, say), an expert fitted on its own
    region of ``X``, where ``X`` is not centred, reaches that level mostly
    through its slopes instead of its intercept, and unlearns them only over
    many passes; the soft mixture of such experts predicts wildly outside
    their regions.

    Recognised by exact type (a subclass may change the model), with the
    squared loss (``huber``'s ``epsilon`` and ``poisson`` are tied to the
    units of ``y``). For ``SGDRegressor`` with an L2 penalty or none, the
    map changes nothing but the path: loss and penalty both scale by
    ``s^2``, so the penalised optimum is the same. For ``MLPRegressor`` the
    penalty ``alpha`` acts on the standardised scale, as in a pipeline that
    standardises ``y``.
    """
    if type(expert) is SGDRegressor:
        return expert.loss == "squared_error" and expert.penalty in ("l2", None)
    if type(expert) is MLPRegressor:
        return getattr(expert, "loss", "squared_error") == "squared_error"
    return False


def _rescaled_output(expert, scale, shift):
    """A copy of a fitted expert of :func:`_learns_standardized_target` predicting
    ``scale * expert.predict(X) + shift``; the expert itself is left alone."""
    est = copy.deepcopy(expert)
    if type(est) is MLPRegressor:
        if hasattr(est, "coefs_"):
            # The output layer is affine (identity activation).
            est.coefs_[-1] = est.coefs_[-1] * scale
            est.intercepts_[-1] = est.intercepts_[-1] * scale + shift
        return est
    # SGDRegressor: the coefficients its partial_fit continues from (plain
    # and averaged) too, so the copy is an SGD state on the original scale.
    for name in ("coef_", "_standard_coef", "_average_coef"):
        value = getattr(est, name, None)
        if value is not None:
            setattr(est, name, value * scale)
    for name in ("intercept_", "_standard_intercept", "_average_intercept"):
        value = getattr(est, name, None)
        if value is not None:
            setattr(est, name, value * scale + shift)
    return est


def _accepts_partial_fit_weights(expert):
    partial = getattr(expert, "partial_fit", None)
    if partial is None:
        return False
    try:
        return "sample_weight" in inspect.signature(partial).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def check_solver_support(estimator, templates, *, context="solver='gradient'"):
    """Say how each expert is fitted by gradient; raise before any work if one can't be.

    Parameters
    ----------
    estimator : BaseMixtureOfExperts
    templates : list of estimators
        One unfitted expert per expert slot.
    context : str
        Who asks, for the error messages.

    Returns
    -------
    kinds : list of {'diff', 'partial'}
        ``'diff'``: differentiable expert whose gradient skmoe computes;
        ``'partial'``: an expert updated through its own ``partial_fit``.
    """
    classifier = estimator._classifier
    kinds = []
    for est in templates:
        if _differentiable(est, classifier):
            kinds.append("diff")
        elif _accepts_partial_fit_weights(est):
            kinds.append("partial")
        else:
            name = type(est).__name__
            has_partial = hasattr(est, "partial_fit")
            why = (
                "has partial_fit but it does not accept sample_weight"
                if has_partial
                else "is not differentiable by skmoe and has no partial_fit"
            )
            raise ValueError(
                f"{context} cannot fit the expert {name}: it {why}. Gradient "
                f"fitting computes the gradient of {_DIFFERENTIABLE_DOC}, and "
                "updates any other expert through partial_fit(X, y, "
                "sample_weight) (SGDRegressor, SGDClassifier(loss='log_loss'), "
                "MLPRegressor, MLPClassifier, ...). Use solver='em' with fit, "
                "or an expert with partial_fit."
            )
    return kinds


def _continued_templates(experts, context):
    """Templates for continuing a fitted model by gradient steps: clones of
    its experts. A model with a failed expert (``failed_experts_``) cannot be
    continued: gradient fitting has no failed-expert slot."""
    failed = _failed_indices(experts)
    if failed.size:
        raise ValueError(
            f"{context} cannot continue a model with failed experts (indices "
            f"{failed.tolist()}, see failed_experts_): fit a new model with "
            "fit, with working experts."
        )
    return [clone(expert) for expert in experts]
