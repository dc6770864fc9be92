"""Shared helpers of the inspection displays and the text summary."""

import inspect
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
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

    def __init__(self, estimator, caller_name, host_only=True):
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
        if host_only and _is_foreign_array(getattr(moe, "expert_shares_", None)):
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

    def moe_feature_names(self):
        """Names of the features the mixture itself sees (after preprocessing).

        The mixture's ``feature_names_in_``; else, for a pipeline, its
        preprocessing's ``get_feature_names_out()``; else the pipeline's (or
        the mixture's) input names; else ``x0, x1, ...``.
        """
        names = getattr(self.moe, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        n_features = self.moe.n_features_in_
        if self.pre is not None:
            try:
                names = self.pre.get_feature_names_out()
                if len(names) == n_features:
                    return [str(n) for n in names]
            except (AttributeError, TypeError, ValueError):
                pass
        elif self.feature_names_in_ is not None:
            return [str(n) for n in self.feature_names_in_]
        return [f"x{j}" for j in range(n_features)]

    def preprocessing_line(self, refers_to):
        """A line naming the pipeline's preprocessing steps (None without)."""
        if self.pre is None:
            return None
        steps = ", ".join(type(step).__name__ for _, step in self.pre.steps)
        return f"  preprocessing: {steps} ({refers_to} the features after it)"

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


def _python_scalar(value):
    """A numpy scalar as the Python value it holds (``np.int64(1)`` -> ``1``),
    so that labels print as the user wrote them."""
    return value.item() if isinstance(value, np.generic) else value


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


def _is_numeric(column):
    """Whether a column can carry a plotting grid (bool counts as categorical)."""
    return pd.api.types.is_numeric_dtype(
        column.dtype
    ) and not pd.api.types.is_bool_dtype(column.dtype)


class _RawRows:
    """The user's ``X``, column by column in its own types, and rows like it.

    Grids and slices are built in the space the user reads: the columns of
    ``X`` as given to the estimator (for a pipeline, before its preprocessing
    steps), so a pipeline whose first steps encode a categorical column works.
    The rows built here are handed to the estimator in the form it was fitted
    on: a DataFrame when it knows feature names, else an array.
    """

    def __init__(self, fitted, X, caller_name):
        self.caller_name = caller_name
        self.fitted = fitted
        is_frame = hasattr(X, "iloc") and hasattr(X, "columns")
        if is_frame:
            frame = X
        else:
            values = np.asarray(X)
            if values.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (n_samples, n_features); got shape {values.shape}."
                )
            # An object array (mixed columns) holds numbers as objects: type
            # them so that numeric columns can carry a grid.
            frame = pd.DataFrame(values).infer_objects()
            if fitted.feature_names_in_ is not None and (
                frame.shape[1] == fitted.feature_names_in_.size
            ):
                frame.columns = fitted.feature_names_in_
        if frame.shape[1] != fitted.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but the estimator expects "
                f"{fitted.n_features_in_}."
            )
        if frame.shape[0] == 0:
            raise ValueError(f"{caller_name} needs at least one row of X.")
        self.frame = frame.reset_index(drop=True)
        # A DataFrame for an estimator fitted on one (its encoders may pick
        # columns by name); an array otherwise, as it was fitted.
        self.as_frame = fitted.feature_names_in_ is not None

    @property
    def n_samples(self):
        return self.frame.shape[0]

    def numeric(self, feature):
        """Values of a plotted feature, as floats; it must be numeric."""
        column = self.frame.iloc[:, feature]
        if not _is_numeric(column):
            raise ValueError(
                f"{self.caller_name} draws feature "
                f"{self.fitted.feature_name(feature)!r} on a numeric axis, but "
                f"its values are of type {column.dtype} (categorical): plot a "
                "numeric feature. Categorical features are held at their most "
                "frequent value (or at fixed_values)."
            )
        return column.to_numpy(dtype=np.float64)

    def reference(self, fixed_values):
        """A value per feature for the features that are held fixed.

        The median of a numeric column, the most frequent value of any other
        column, overridden by ``fixed_values`` (an array-like of one value per
        feature, or a dict from feature name or index to value).
        """
        n_features = self.frame.shape[1]
        if isinstance(fixed_values, dict):
            given = dict(
                zip(
                    self.fitted.feature_indices(
                        list(fixed_values), n_default=n_features
                    ),
                    fixed_values.values(),
                    strict=True,
                )
            )
        elif fixed_values is not None:
            values = np.asarray(fixed_values, dtype=object)
            if values.ndim == 0:
                values = np.full(n_features, values.item(), dtype=object)
            if values.shape != (n_features,):
                raise ValueError(
                    f"fixed_values must hold one value per feature, shape "
                    f"({n_features},), or be a dict from feature to value; got "
                    f"shape {values.shape}."
                )
            given = dict(enumerate(values))
        else:
            given = {}
        base = []
        for j in range(n_features):
            column = self.frame.iloc[:, j]
            if j in given:
                base.append(given[j])
            elif _is_numeric(column):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all NaN
                    base.append(float(np.nanmedian(column.to_numpy(np.float64))))
            else:
                mode = column.mode(dropna=True)
                base.append(mode.iloc[0] if mode.size else column.iloc[0])
        return base

    def _output(self, frame):
        return frame if self.as_frame else frame.to_numpy()

    @property
    def data(self):
        """``X`` itself, in the form the estimator was fitted on."""
        return self._output(self.frame)

    def grid(self, features, grid_values, base):
        """Rows over a grid of ``features``, the others held at ``base``.

        The features on the grid vary in meshgrid order (the first feature
        varies fastest).

        Returns
        -------
        X_grid : ndarray or DataFrame of shape (n_points, n_features)
        """
        mesh = np.meshgrid(*grid_values)  # first feature along columns
        n_points = mesh[0].size
        grid = dict(zip(features, (m.ravel() for m in mesh), strict=True))
        data = {}
        for j, (_, column) in enumerate(self.frame.items()):
            if j in grid:
                data[j] = grid[j]
            elif _is_numeric(column):
                data[j] = np.full(n_points, base[j], dtype=np.float64)
            else:  # keeps the column's type (a pandas category, a string)
                data[j] = pd.Series([base[j]] * n_points, dtype=column.dtype)
        frame = pd.DataFrame(data)
        frame.columns = self.frame.columns
        return self._output(frame)

    def with_feature(self, feature, values):
        """The rows of ``X`` repeated once per value, ``feature`` set to it.

        Returns
        -------
        X_rep : ndarray or DataFrame of shape (len(values) * n_samples, n_features)
            Block ``m`` (rows ``m * n_samples`` to ``(m + 1) * n_samples``)
            is ``X`` with the feature set to ``values[m]``.
        """
        n = self.n_samples
        frame = self.frame.iloc[np.tile(np.arange(n), len(values))]
        frame = frame.reset_index(drop=True)
        frame.isetitem(feature, np.repeat(np.asarray(values, dtype=np.float64), n))
        return self._output(frame)


def _linspace(values, grid_resolution, eps):
    """``grid_resolution`` points over the range of ``values``, widened by ``eps``."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = eps * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.5
    return np.linspace(lo - pad, hi + pad, grid_resolution)
