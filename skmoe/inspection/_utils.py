"""Shared helpers of the inspection displays and the text summary."""

import inspect
from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._array_api import _MOVE_TO_NUMPY, _is_foreign_array


def _check_matplotlib_support(caller_name):
    """Raise an ImportError that says how to install matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib, which is not installed. Install "
            "it with `pip install skmoe[plot]` (or `pip install matplotlib`)."
        ) from exc


def _get_axes(ax):
    """``ax``, or the axes of a new figure when ``ax`` is None."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _expert_colors(n_experts):
    """One RGBA colour per expert, the same in every display (tab10/tab20)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"] if n_experts <= 10 else colormaps["tab20"]
    return np.array([cmap(k % cmap.N) for k in range(n_experts)])


class _FittedMixture:
    """A fitted mixture of experts, possibly the last step of a Pipeline.

    Gives the displays one interface: the preprocessing steps of a pipeline
    (e.g. a ``StandardScaler``) are applied before the mixture's own
    ``predict_gate_proba``, ``predict_experts``, ... are called.
    """

    def __init__(self, estimator, caller_name):
        if isinstance(estimator, Pipeline):
            moe = estimator.steps[-1][1]
            pre = estimator[:-1] if len(estimator.steps) > 1 else None
        else:
            moe, pre = estimator, None
        if not hasattr(moe, "predict_gate_proba") or not hasattr(moe, "experts_"):
            check_is_fitted(moe)
            raise TypeError(
                f"{caller_name} expects a fitted mixture of experts (such as "
                "MixtureOfExpertsRegressor) or a Pipeline that ends in one; got "
                f"{type(moe).__name__}."
            )
        check_is_fitted(moe)
        if _is_foreign_array(getattr(moe, "expert_shares_", None)):
            raise ValueError(
                f"{caller_name} works on the host: {type(moe).__name__} was "
                f"fitted on device arrays; {_MOVE_TO_NUMPY}."
            )
        self.estimator = estimator
        self.moe = moe
        self.pre = pre
        self.name = type(moe).__name__
        self.is_classifier = is_classifier(moe)
        self.n_features_in_ = estimator.n_features_in_
        names = getattr(estimator, "feature_names_in_", None)
        self.feature_names_in_ = None if names is None else np.asarray(names)

    def feature_name(self, index):
        if self.feature_names_in_ is not None:
            return str(self.feature_names_in_[index])
        return f"x{index}"

    def feature_indices(self, features, n_default):
        """Resolve ``features`` (ints or names) to a list of column indices."""
        n = self.n_features_in_
        if features is None:
            return list(range(min(n, n_default)))
        if isinstance(features, (str, Integral)):
            features = [features]
        indices = []
        for feature in features:
            if isinstance(feature, str):
                if self.feature_names_in_ is None:
                    raise ValueError(
                        f"Feature {feature!r} given by name, but the estimator was "
                        "not fitted on data with feature names: use column indices."
                    )
                match = np.flatnonzero(self.feature_names_in_ == feature)
                if match.size == 0:
                    raise ValueError(
                        f"Feature {feature!r} is not one of the estimator's "
                        f"features {self.feature_names_in_.tolist()}."
                    )
                indices.append(int(match[0]))
            elif isinstance(feature, Integral) and 0 <= feature < n:
                indices.append(int(feature))
            else:
                raise ValueError(
                    f"Feature index {feature!r} is out of range for an estimator "
                    f"with {n} features."
                )
        return indices

    def _input(self, X):
        """Rows as the estimator expects them (a DataFrame when it knows names)."""
        if self.feature_names_in_ is not None and not hasattr(X, "columns"):
            import pandas as pd

            X = pd.DataFrame(X, columns=self.feature_names_in_)
        return X

    def transform(self, X):
        """``X`` through the pipeline's preprocessing steps (if any)."""
        X = self._input(X)
        return X if self.pre is None else self.pre.transform(X)

    def gate_proba(self, X):
        return self.moe.predict_gate_proba(self.transform(X))

    def responsibilities(self, X, y):
        return self.moe.predict_responsibilities(self.transform(X), y)

    def experts(self, X):
        return self.moe.predict_experts(self.transform(X))

    def experts_proba(self, X):
        return self.moe.predict_experts_proba(self.transform(X))

    def predict(self, X, return_std=False):
        if return_std:
            return self.moe.predict(self.transform(X), return_std=True)
        return self.moe.predict(self.transform(X))

    def predict_proba(self, X):
        return self.moe.predict_proba(self.transform(X))


def _check_plot_kwargs(cls, kwargs):
    """Refuse, before any computing, keyword arguments that ``from_estimator``
    would pass on to ``cls.plot`` but that ``plot`` does not take."""
    accepted = set(inspect.signature(cls.plot).parameters) - {"self", "ax"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise TypeError(
            f"{cls.__name__}.from_estimator() got unexpected keyword argument(s) "
            f"{unknown}; besides its own, it takes those of plot(): "
            f"{sorted(accepted)}."
        )


def _as_float_array(X, name="X"):
    """Numeric 2-D array of ``X`` (a DataFrame's values), for grids and plots."""
    values = X.to_numpy() if hasattr(X, "to_numpy") else X
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must hold numeric features to build a plotting grid; encode "
            "categorical columns first (or use a Pipeline whose first steps do)."
        ) from None
    if values.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got {values.shape}."
        )
    return values


def _grid_rows(X, features, grid_values, fixed_values):
    """Rows of the full feature space for a grid over ``features``.

    The features on the grid vary (meshgrid order: the first feature varies
    fastest); every other feature is held at its value in ``fixed_values``
    (default: its median in ``X``).

    Returns
    -------
    X_grid : ndarray of shape (n_points, n_features)
    """
    n_features = X.shape[1]
    if fixed_values is None:
        base = np.median(X, axis=0)
    else:
        base = np.broadcast_to(
            np.asarray(fixed_values, dtype=np.float64), (n_features,)
        )
        base = base.copy()
    mesh = np.meshgrid(*grid_values)  # first feature along columns
    n_points = mesh[0].size
    X_grid = np.tile(base, (n_points, 1))
    for feature, values in zip(features, mesh, strict=True):
        X_grid[:, feature] = values.ravel()
    return X_grid


def _linspace(values, grid_resolution, eps):
    """``grid_resolution`` points over the range of ``values``, widened by ``eps``."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = eps * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.5
    return np.linspace(lo - pad, hi + pad, grid_resolution)
