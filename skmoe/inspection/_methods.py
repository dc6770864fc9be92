"""The mixture's own methods, for a mixture or a Pipeline that ends in one.

A :class:`~sklearn.pipeline.Pipeline` forwards ``predict``,
``predict_proba``, ``score`` and the like to its last step, but not the
methods only a mixture of experts has (``predict_gate_proba``, ``bic``, ...).
These functions apply the pipeline's preprocessing steps to ``X`` and call
the method on the mixture: ``f(pipe, X)`` equals
``pipe[-1].f(pipe[:-1].transform(X))``, and ``f(moe, X)`` equals ``moe.f(X)``.
"""

from sklearn.utils._param_validation import validate_params

from ._utils import _FittedMixture

__all__ = [
    "aic",
    "bic",
    "predict_experts",
    "predict_experts_proba",
    "predict_gate_proba",
    "predict_responsibilities",
    "score_samples",
]

_X = {"estimator": "no_validation", "X": ["array-like", "sparse matrix"]}
_XY = {**_X, "y": ["array-like"]}


def _call(method, estimator, X, *args):
    """``method`` of the mixture in ``estimator``, on ``X`` preprocessed."""
    fitted = _FittedMixture(estimator, method, host_only=False)
    if not hasattr(fitted.moe, method):
        hint = "; use predict_experts" if method == "predict_experts_proba" else ""
        raise TypeError(f"{fitted.name} has no {method}{hint}.")
    Z = X if fitted.pre is None else fitted.pre.transform(X)
    return getattr(fitted.moe, method)(Z, *args)


@validate_params(_X, prefer_skip_nested_validation=True)
def predict_gate_proba(estimator, X):
    """Gate probabilities ``g_k(x)`` of each expert, through a pipeline.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them (for a pipeline, before its
        preprocessing).

    Returns
    -------
    gate_proba : ndarray of shape (n_samples, n_experts)
        Rows sum to one.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import predict_gate_proba
    >>> X, y = load_mcycle(return_X_y=True)
    >>> pipe = make_pipeline(
    ...     StandardScaler(), MixtureOfExpertsRegressor(n_experts=3, random_state=0)
    ... ).fit(X, y)
    >>> predict_gate_proba(pipe, X).shape
    (133, 3)
    """
    return _call("predict_gate_proba", estimator, X)


@validate_params(_X, prefer_skip_nested_validation=True)
def predict_experts(estimator, X):
    """Each expert's prediction for every row (no routing), through a pipeline.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.

    Returns
    -------
    predictions : ndarray of shape (n_samples, n_experts)
        Predicted values (regressor) or class labels (classifier).
    """
    return _call("predict_experts", estimator, X)


@validate_params(_X, prefer_skip_nested_validation=True)
def predict_experts_proba(estimator, X):
    """Each expert's class probabilities for every row, through a pipeline.

    Parameters
    ----------
    estimator : fitted mixture-of-experts classifier or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_experts, n_classes)
    """
    return _call("predict_experts_proba", estimator, X)


@validate_params(_XY, prefer_skip_nested_validation=True)
def predict_responsibilities(estimator, X, y):
    """Posterior probability of each expert given the target, through a pipeline.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.
    y : array-like of shape (n_samples,)
        Their targets.

    Returns
    -------
    responsibilities : ndarray of shape (n_samples, n_experts)
    """
    return _call("predict_responsibilities", estimator, X, y)


@validate_params(_XY, prefer_skip_nested_validation=True)
def score_samples(estimator, X, y):
    """Log-likelihood ``log p(y_i | x_i)`` of each row, through a pipeline.

    ``Pipeline.score_samples`` passes no ``y``, which a mixture of experts
    (a model of ``y`` given ``x``) needs.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.
    y : array-like of shape (n_samples,)
        Their targets.

    Returns
    -------
    log_prob : ndarray of shape (n_samples,)
    """
    return _call("score_samples", estimator, X, y)


@validate_params(_XY, prefer_skip_nested_validation=True)
def bic(estimator, X, y):
    """Bayesian information criterion on (X, y), through a pipeline.

    The parameters counted are the mixture's: those the preprocessing steps
    learnt (a scaler's means) are not, so compare pipelines that share their
    preprocessing.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.
    y : array-like of shape (n_samples,)
        Their targets.

    Returns
    -------
    bic : float
        Lower is better.
    """
    return _call("bic", estimator, X, y)


@validate_params(_XY, prefer_skip_nested_validation=True)
def aic(estimator, X, y):
    """Akaike information criterion on (X, y), through a pipeline.

    Parameters are counted as in :func:`bic`.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, ``X`` goes through its preprocessing steps first.
    X : array-like of shape (n_samples, n_features)
        Rows as the estimator takes them.
    y : array-like of shape (n_samples,)
        Their targets.

    Returns
    -------
    aic : float
        Lower is better.
    """
    return _call("aic", estimator, X, y)
