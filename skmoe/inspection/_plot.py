"""Displays of fitted mixtures of experts, in scikit-learn's ``*Display`` style."""

from numbers import Integral

import numpy as np

from .._validation import _check_weights
from ._utils import (
    _as_float_array,
    _check_matplotlib_support,
    _check_plot_kwargs,
    _expert_colors,
    _FittedMixture,
    _get_axes,
    _grid_rows,
    _linspace,
)

__all__ = ["ExpertUsageDisplay", "ExpertsDisplay", "GateDisplay"]

_CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def _expert_legend_handles(colors, kind="patch"):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if kind == "patch":
        return [Patch(color=c, label=f"expert {k}") for k, c in enumerate(colors)]
    return [
        Line2D([], [], color=c, lw=2.5, label=f"expert {k}")
        for k, c in enumerate(colors)
    ]


class GateDisplay:
    """Gate probabilities ``g_k(x)`` over one or two features.

    Over one feature, one curve per expert; over two, the regions where each
    expert is the most probable (coloured by expert, more opaque where the
    gate is surer), or one expert's probability as filled contours. The data
    can be drawn on top. Other features are held fixed (at their median in
    ``X`` by default).

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    grid_values : list of ndarray
        One 1-D array per plotted feature: the grid along that feature.
    gate_proba : ndarray of shape (n_points, n_experts)
        Gate probabilities on the grid, ``n_points = prod(len(v) for v in
        grid_values)``, in meshgrid order (the first feature varies fastest).
    features : list of int
        Column indices of the plotted features (one or two).
    feature_names : list of str
        Names of the plotted features (axis labels).
    X_grid : ndarray of shape (n_points, n_features_in), default=None
        The full rows the gate was evaluated on.
    X_data : ndarray of shape (n_samples, len(features)), default=None
        The plotted features of the data to draw on top.
    y_data : ndarray of shape (n_samples,), default=None
        Class labels of the data (markers per class), for classifiers.
    estimator_name : str, default=None
        Name of the estimator (plot title).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.
    surface_ : matplotlib artist or None
        The image (``kind='regions'``) or contour set (``kind='contour'``).
    lines_ : list of matplotlib Line2D
        The gate curves (one feature).
    scatter_ : matplotlib PathCollection or list or None
        The data drawn on top.

    See Also
    --------
    ExpertsDisplay : Experts' predictions and the mixture on one feature.
    ExpertUsageDisplay : How much of the data each expert handles.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmoe import MixtureOfExpertsClassifier
    >>> from skmoe.datasets import make_xor
    >>> from skmoe.inspection import GateDisplay
    >>> X, y = make_xor(n_samples=200, random_state=0)
    >>> clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    >>> disp = GateDisplay.from_estimator(clf, X, y=y, grid_resolution=20)
    >>> disp.gate_proba.shape
    (400, 2)
    """

    def __init__(
        self,
        *,
        grid_values,
        gate_proba,
        features,
        feature_names,
        X_grid=None,
        X_data=None,
        y_data=None,
        estimator_name=None,
    ):
        self.grid_values = grid_values
        self.gate_proba = gate_proba
        self.features = features
        self.feature_names = feature_names
        self.X_grid = X_grid
        self.X_data = X_data
        self.y_data = y_data
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        y=None,
        features=None,
        grid_resolution=100,
        eps=0.05,
        fixed_values=None,
        kind="auto",
        expert=0,
        plot_data=True,
        ax=None,
        **kwargs,
    ):
        """Compute the gate probabilities on a grid and plot them.

        Parameters
        ----------
        estimator : fitted mixture of experts or Pipeline ending in one
            The preprocessing steps of a pipeline are applied to the grid
            before the gate.
        X : array-like of shape (n_samples, n_features)
            Data that set the grid's range (and are drawn on top), in the
            estimator's input space. Numeric features only.
        y : array-like of shape (n_samples,), default=None
            Class labels, drawn as one marker per class over two features
            (classifiers only).
        features : int, str or list of them, default=None
            One or two features to plot (indices, or names when the estimator
            was fitted on a DataFrame). Default: the first one or two.
        grid_resolution : int, default=100
            Grid points along each plotted feature.
        eps : float, default=0.05
            The grid extends this fraction of each feature's range beyond the
            data.
        fixed_values : array-like of shape (n_features,), default=None
            Values of the features that are not plotted (entries of the
            plotted features are ignored). Default: the medians of ``X``.
        kind : {'auto', 'curves', 'regions', 'contour'}, default='auto'
            ``'curves'`` for one feature; ``'regions'`` (argmax expert) or
            ``'contour'`` (one expert's probability) for two. ``'auto'``:
            curves or regions.
        expert : int, default=0
            The expert whose probability ``kind='contour'`` draws.
        plot_data : bool, default=True
            Draw the data on top.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : GateDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_plot_kwargs(cls, kwargs)
        fitted = _FittedMixture(estimator, f"{cls.__name__}.from_estimator")
        features = fitted.feature_indices(features, n_default=2)
        if len(features) not in (1, 2):
            raise ValueError(
                f"GateDisplay plots one or two features; got {len(features)}."
            )
        cls._check_kind(kind, expert, len(features), len(fitted.moe.experts_))
        X_arr = _as_float_array(X)
        if X_arr.shape[1] != fitted.n_features_in_:
            raise ValueError(
                f"X has {X_arr.shape[1]} features, but the estimator expects "
                f"{fitted.n_features_in_}."
            )
        grid_values = [_linspace(X_arr[:, f], grid_resolution, eps) for f in features]
        X_grid = _grid_rows(X_arr, features, grid_values, fixed_values)
        gate_proba = fitted.gate_proba(X_grid)
        y_data = None
        if y is not None and fitted.is_classifier:
            y_data = np.asarray(y)
        display = cls(
            grid_values=grid_values,
            gate_proba=gate_proba,
            features=features,
            feature_names=[fitted.feature_name(f) for f in features],
            X_grid=X_grid,
            X_data=X_arr[:, features],
            y_data=y_data,
            estimator_name=fitted.name,
        )
        return display.plot(
            ax=ax, kind=kind, expert=expert, plot_data=plot_data, **kwargs
        )

    @staticmethod
    def _check_kind(kind, expert, n_dims, n_experts):
        """The kind to draw (``'auto'`` resolved); checks ``expert`` for it."""
        if kind == "auto":
            kind = "curves" if n_dims == 1 else "regions"
        valid = ("curves",) if n_dims == 1 else ("regions", "contour")
        if kind not in valid:
            raise ValueError(
                f"kind={kind!r} is not available over {n_dims} feature(s); "
                f"use one of {valid}."
            )
        if kind == "contour" and not (
            isinstance(expert, Integral)
            and not isinstance(expert, bool)
            and 0 <= expert < n_experts
        ):
            raise ValueError(
                f"expert must be an integer in [0, {n_experts - 1}] (the expert "
                f"whose probability kind='contour' draws); got {expert!r}."
            )
        return kind

    def plot(
        self,
        ax=None,
        *,
        kind="auto",
        expert=0,
        plot_data=True,
        cmap="viridis",
        legend=True,
        scatter_kwargs=None,
    ):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        kind : {'auto', 'curves', 'regions', 'contour'}, default='auto'
            See :meth:`from_estimator`.
        expert : int, default=0
            The expert drawn by ``kind='contour'``.
        plot_data : bool, default=True
            Draw the data (``X_data``) on top.
        cmap : str or Colormap, default='viridis'
            Colormap of ``kind='contour'``.
        legend : bool, default=True
            Add a legend of the experts' colours.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the data.

        Returns
        -------
        display : GateDisplay
            With ``ax_``, ``figure_`` and the artists stored.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        n_dims = len(self.grid_values)
        n_experts = self.gate_proba.shape[1]
        kind = self._check_kind(kind, expert, n_dims, n_experts)
        ax = _get_axes(ax)
        colors = _expert_colors(n_experts)
        scatter_kwargs = {} if scatter_kwargs is None else dict(scatter_kwargs)
        self.lines_, self.surface_, self.scatter_ = [], None, None

        if n_dims == 1:
            grid = self.grid_values[0]
            for k in range(n_experts):
                (line,) = ax.plot(
                    grid,
                    self.gate_proba[:, k],
                    color=colors[k],
                    lw=2,
                    label=f"expert {k}",
                )
                self.lines_.append(line)
            if plot_data and self.X_data is not None:
                scatter_kwargs.setdefault("color", "k")
                scatter_kwargs.setdefault("alpha", 0.5)
                scatter_kwargs.setdefault("marker", "|")
                scatter_kwargs.setdefault("s", 60)
                x = self.X_data[:, 0]
                self.scatter_ = ax.scatter(x, np.zeros_like(x), **scatter_kwargs)
            ax.set_ylim(-0.05, 1.05)
            ax.set_xlabel(self.feature_names[0])
            ax.set_ylabel("gate probability $g_k(x)$")
            if legend:
                ax.legend(loc="best")
        else:
            x0, x1 = self.grid_values
            proba = self.gate_proba.reshape(x1.size, x0.size, n_experts)
            if kind == "regions":
                best = proba.argmax(axis=2)
                top = proba.max(axis=2)
                certainty = (
                    (top - 1.0 / n_experts) / (1.0 - 1.0 / n_experts)
                    if n_experts > 1
                    else np.ones_like(top)
                )
                rgba = colors[best]
                rgba[..., 3] = 0.15 + 0.65 * np.clip(certainty, 0.0, 1.0)
                self.surface_ = ax.imshow(
                    rgba,
                    origin="lower",
                    extent=(x0[0], x0[-1], x1[0], x1[-1]),
                    aspect="auto",
                    interpolation="nearest",
                )
                if legend:
                    ax.legend(handles=_expert_legend_handles(colors), loc="best")
            else:
                xx0, xx1 = np.meshgrid(x0, x1)
                self.surface_ = ax.contourf(
                    xx0,
                    xx1,
                    proba[..., expert],
                    levels=np.linspace(0.0, 1.0, 11),
                    cmap=cmap,
                    vmin=0.0,
                    vmax=1.0,
                )
                ax.contour(
                    xx0,
                    xx1,
                    proba[..., expert],
                    levels=[0.5],
                    colors="w",
                    linestyles="--",
                    linewidths=1.0,
                )
                ax.figure.colorbar(
                    self.surface_, ax=ax, label=f"gate probability of expert {expert}"
                )
            if plot_data and self.X_data is not None:
                self.scatter_ = self._scatter_2d(ax, scatter_kwargs)
            ax.set_xlim(x0[0], x0[-1])
            ax.set_ylim(x1[0], x1[-1])
            ax.set_xlabel(self.feature_names[0])
            ax.set_ylabel(self.feature_names[1])
        if self.estimator_name:
            ax.set_title(f"Gate of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _scatter_2d(self, ax, scatter_kwargs):
        scatter_kwargs.setdefault("s", 18)
        scatter_kwargs.setdefault("edgecolor", "k")
        scatter_kwargs.setdefault("linewidth", 0.6)
        scatter_kwargs.setdefault("facecolor", "white")
        x0, x1 = self.X_data[:, 0], self.X_data[:, 1]
        classes = None if self.y_data is None else np.unique(self.y_data)
        if classes is None or classes.size > len(_CLASS_MARKERS):
            return ax.scatter(x0, x1, **scatter_kwargs)
        artists = []
        for c, label in enumerate(classes):
            mask = self.y_data == label
            kwargs = {"marker": _CLASS_MARKERS[c], "label": f"class {label}"}
            kwargs.update(scatter_kwargs)
            artists.append(ax.scatter(x0[mask], x1[mask], **kwargs))
        return artists


class ExpertsDisplay:
    """Experts' predictions, the gate and the mixture over one feature.

    The classic mixture-of-experts picture (e.g. the motorcycle data): each
    expert's prediction curve over a grid, drawn thick (or opaque) where the
    gate gives it weight and dotted elsewhere; the data coloured by the expert
    most responsible for each row (``predict_responsibilities``); and, for a
    regressor, the mixture's predictive mean with a +- 2 standard deviation
    band (``predict(X, return_std=True)``). For a classifier the curves are
    the probabilities of one class.

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    grid : ndarray of shape (n_grid,)
        Values of the plotted feature.
    expert_predictions : ndarray of shape (n_grid, n_experts)
        Each expert's prediction on the grid (for a classifier, its
        probability of ``class_of_interest``).
    gate_proba : ndarray of shape (n_grid, n_experts)
        Gate probabilities on the grid.
    mean : ndarray of shape (n_grid,)
        The mixture's prediction on the grid (for a classifier, its
        probability of ``class_of_interest``).
    std : ndarray of shape (n_grid,) or None
        Predictive standard deviation on the grid (regressors).
    feature : int
        Column index of the plotted feature.
    feature_name : str
        Its name (axis label).
    X_grid : ndarray of shape (n_grid, n_features_in), default=None
        The full rows the estimator was evaluated on.
    x : ndarray of shape (n_samples,), default=None
        The plotted feature of the data.
    y : ndarray of shape (n_samples,), default=None
        The data's target (for a classifier, 1.0 where it equals
        ``class_of_interest``, else 0.0).
    responsibilities : ndarray of shape (n_samples, n_experts), default=None
        Posterior probability of each expert for each row.
    class_of_interest : object, default=None
        The class whose probabilities are drawn (classifiers).
    estimator_name : str, default=None
        Name of the estimator (plot title).

    Attributes
    ----------
    assignment : ndarray of shape (n_samples,) or None
        The most responsible expert of each row (argmax of
        ``responsibilities``).
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.
    expert_lines_ : list of matplotlib LineCollection
        The gate-weighted expert curves.
    mean_line_ : matplotlib Line2D
        The mixture's prediction.
    band_ : matplotlib PolyCollection or None
        The +- 2 std band.
    scatter_ : matplotlib PathCollection or None
        The data.

    See Also
    --------
    GateDisplay : The gate alone, over one or two features.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import ExpertsDisplay
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> disp = ExpertsDisplay.from_estimator(moe, X, y, grid_resolution=50)
    >>> disp.expert_predictions.shape
    (50, 3)
    """

    def __init__(
        self,
        *,
        grid,
        expert_predictions,
        gate_proba,
        mean,
        std,
        feature,
        feature_name,
        X_grid=None,
        x=None,
        y=None,
        responsibilities=None,
        class_of_interest=None,
        estimator_name=None,
    ):
        self.grid = grid
        self.expert_predictions = expert_predictions
        self.gate_proba = gate_proba
        self.mean = mean
        self.std = std
        self.feature = feature
        self.feature_name = feature_name
        self.X_grid = X_grid
        self.x = x
        self.y = y
        self.responsibilities = responsibilities
        self.class_of_interest = class_of_interest
        self.estimator_name = estimator_name

    @property
    def assignment(self):
        if self.responsibilities is None:
            return None
        return np.argmax(self.responsibilities, axis=1)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        feature=None,
        grid_resolution=200,
        eps=0.02,
        fixed_values=None,
        class_of_interest=None,
        ax=None,
        **kwargs,
    ):
        """Compute the experts, gate and mixture on a grid and plot them.

        Parameters
        ----------
        estimator : fitted mixture of experts or Pipeline ending in one
            A regressor or classifier.
        X : array-like of shape (n_samples, n_features)
            Data that set the grid's range and are drawn (numeric features).
        y : array-like of shape (n_samples,), default=None
            Their targets. With ``y`` the rows are drawn coloured by their
            most responsible expert; without, they are not drawn.
        feature : int or str, default=None
            The feature on the horizontal axis; default the first. Other
            features are held at ``fixed_values``.
        grid_resolution : int, default=200
            Number of grid points.
        eps : float, default=0.02
            The grid extends this fraction of the feature's range beyond the
            data.
        fixed_values : array-like of shape (n_features,), default=None
            Values of the other features; default the medians of ``X``.
        class_of_interest : object, default=None
            For a classifier, the class whose probabilities are drawn;
            default the last of ``classes_``.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ExpertsDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_plot_kwargs(cls, kwargs)
        fitted = _FittedMixture(estimator, f"{cls.__name__}.from_estimator")
        (feature,) = fitted.feature_indices(
            0 if feature is None else feature, n_default=1
        )
        X_arr = _as_float_array(X)
        if X_arr.shape[1] != fitted.n_features_in_:
            raise ValueError(
                f"X has {X_arr.shape[1]} features, but the estimator expects "
                f"{fitted.n_features_in_}."
            )
        grid = _linspace(X_arr[:, feature], grid_resolution, eps)
        X_grid = _grid_rows(X_arr, [feature], [grid], fixed_values)
        gate_proba = fitted.gate_proba(X_grid)
        if fitted.is_classifier:
            classes = fitted.moe.classes_
            if class_of_interest is None:
                class_of_interest = classes[-1]
            column = np.flatnonzero(classes == class_of_interest)
            if column.size == 0:
                raise ValueError(
                    f"class_of_interest={class_of_interest!r} is not one of the "
                    f"classes {classes.tolist()}."
                )
            column = int(column[0])
            expert_predictions = fitted.experts_proba(X_grid)[:, :, column]
            mean, std = fitted.predict_proba(X_grid)[:, column], None
        else:
            class_of_interest = None
            expert_predictions = fitted.experts(X_grid)
            mean, std = fitted.predict(X_grid, return_std=True)
        responsibilities, y_plot = None, None
        if y is not None:
            y_arr = np.asarray(y)
            responsibilities = fitted.responsibilities(X, y_arr)
            if fitted.is_classifier:
                y_plot = (y_arr == class_of_interest).astype(np.float64)
            else:
                y_plot = y_arr.astype(np.float64)
        display = cls(
            grid=grid,
            expert_predictions=expert_predictions,
            gate_proba=gate_proba,
            mean=mean,
            std=std,
            feature=feature,
            feature_name=fitted.feature_name(feature),
            X_grid=X_grid,
            x=X_arr[:, feature],
            y=y_plot,
            responsibilities=responsibilities,
            class_of_interest=class_of_interest,
            estimator_name=fitted.name,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(
        self,
        ax=None,
        *,
        encode="linewidth",
        max_linewidth=6.0,
        show_band=True,
        plot_data=True,
        legend=True,
        scatter_kwargs=None,
    ):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        encode : {'linewidth', 'alpha'}, default='linewidth'
            How an expert's curve shows its gate probability: its line width
            (up to ``max_linewidth``) or its opacity.
        max_linewidth : float, default=6.0
            Line width where the gate probability is 1.
        show_band : bool, default=True
            Draw the mixture's mean +- 2 std band (regressors).
        plot_data : bool, default=True
            Draw the data, coloured by their most responsible expert.
        legend : bool, default=True
            Add a legend.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the data.

        Returns
        -------
        display : ExpertsDisplay
            With ``ax_``, ``figure_`` and the artists stored.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.collections import LineCollection
        from matplotlib.lines import Line2D

        if encode not in ("linewidth", "alpha"):
            raise ValueError(f"encode must be 'linewidth' or 'alpha'; got {encode!r}.")
        ax = _get_axes(ax)
        grid = self.grid
        n_experts = self.expert_predictions.shape[1]
        colors = _expert_colors(n_experts)
        self.band_, self.scatter_ = None, None
        if show_band and self.std is not None:
            self.band_ = ax.fill_between(
                grid,
                self.mean - 2 * self.std,
                self.mean + 2 * self.std,
                color="0.6",
                alpha=0.25,
                lw=0,
                label="mixture mean $\\pm$ 2 std",
            )
        if plot_data and self.y is not None:
            scatter_kwargs = {} if scatter_kwargs is None else dict(scatter_kwargs)
            scatter_kwargs.setdefault("s", 16)
            scatter_kwargs.setdefault("edgecolor", "k")
            scatter_kwargs.setdefault("linewidth", 0.3)
            scatter_kwargs.setdefault("zorder", 3)
            c = colors[self.assignment] if self.responsibilities is not None else "0.3"
            y = self.y
            if self.class_of_interest is not None:  # spread 0/1 labels apart
                rng = np.random.RandomState(0)
                y = y + rng.uniform(-0.03, 0.03, size=y.shape)
            self.scatter_ = ax.scatter(self.x, y, c=c, **scatter_kwargs)
        self.expert_lines_ = []
        handles = []
        for k in range(n_experts):
            pred, weight = self.expert_predictions[:, k], self.gate_proba[:, k]
            ax.plot(grid, pred, color=colors[k], lw=0.8, ls=":", alpha=0.8)
            points = np.column_stack([grid, pred])
            segments = np.stack([points[:-1], points[1:]], axis=1)
            seg_weight = 0.5 * (weight[:-1] + weight[1:])
            if encode == "linewidth":
                collection = LineCollection(
                    segments, colors=[colors[k]], linewidths=max_linewidth * seg_weight
                )
            else:
                seg_colors = np.tile(colors[k], (seg_weight.size, 1))
                seg_colors[:, 3] = seg_weight
                collection = LineCollection(segments, colors=seg_colors, linewidths=3.0)
            collection.set_capstyle("round")
            ax.add_collection(collection)
            self.expert_lines_.append(collection)
            handles.append(Line2D([], [], color=colors[k], lw=3, label=f"expert {k}"))
        (self.mean_line_,) = ax.plot(
            grid, self.mean, color="k", lw=1.5, label="mixture"
        )
        handles.append(self.mean_line_)
        if self.band_ is not None:
            handles.append(self.band_)
        self._set_ylim(ax, show_band and self.std is not None, plot_data)
        ax.set_xlabel(self.feature_name)
        if self.class_of_interest is None:
            ax.set_ylabel("prediction")
        else:
            ax.set_ylabel(f"P(y = {self.class_of_interest!r})")
        if legend:
            ax.legend(handles=handles, loc="best", fontsize="small")
        if self.estimator_name:
            ax.set_title(f"Experts of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _set_ylim(self, ax, band, data):
        """Fit the vertical axis to what matters, not to extrapolated experts.

        The dotted parts of an expert's line (where its gate probability is
        small) can run far outside the data; the limits cover the data, the
        mixture (and its band) and the experts where the gate gives them
        weight.
        """
        parts = [self.mean, self.expert_predictions[self.gate_proba > 0.1]]
        if band:
            parts += [self.mean - 2 * self.std, self.mean + 2 * self.std]
        if data and self.y is not None:
            parts.append(self.y)
        values = np.concatenate([np.ravel(p) for p in parts])
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_ylim(lo - pad, hi + pad)


class ExpertUsageDisplay:
    """How much of the data each expert handles, as a bar chart.

    Up to three bars per expert: the share of rows of ``X`` routed to it by
    hard routing (its gate probability is the largest), its mean gate
    probability on ``X`` (its share under soft routing), and its share of
    the training data's responsibility (``expert_shares_``).

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    routed_shares : ndarray of shape (n_experts,) or None
        Share of the (weighted) rows of ``X`` whose most probable expert is k.
    gate_shares : ndarray of shape (n_experts,) or None
        Mean (weighted) gate probability of each expert on ``X``.
    training_shares : ndarray of shape (n_experts,) or None
        ``expert_shares_`` of the fitted estimator.
    counts : ndarray of shape (n_experts,) or None
        Number (total weight) of rows of ``X`` routed to each expert.
    estimator_name : str, default=None
        Name of the estimator (plot title).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.
    bars_ : dict of str to matplotlib BarContainer
        The bars of each series drawn.

    See Also
    --------
    GateDisplay : Where in feature space each expert is in charge.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import ExpertUsageDisplay
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> disp = ExpertUsageDisplay.from_estimator(moe, X)
    >>> float(disp.routed_shares.sum())
    1.0
    """

    def __init__(
        self,
        *,
        routed_shares=None,
        gate_shares=None,
        training_shares=None,
        counts=None,
        estimator_name=None,
    ):
        self.routed_shares = routed_shares
        self.gate_shares = gate_shares
        self.training_shares = training_shares
        self.counts = counts
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls, estimator, X=None, *, sample_weight=None, ax=None, **kwargs
    ):
        """Compute the experts' shares and plot them.

        Parameters
        ----------
        estimator : fitted mixture of experts or Pipeline ending in one
        X : array-like of shape (n_samples, n_features), default=None
            Rows to route. Without ``X`` only the training shares
            (``expert_shares_``) are shown.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights for the shares on ``X``.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ExpertUsageDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_plot_kwargs(cls, kwargs)
        fitted = _FittedMixture(estimator, f"{cls.__name__}.from_estimator")
        training = getattr(fitted.moe, "expert_shares_", None)
        routed = gate_shares = counts = None
        if X is not None:
            gate = fitted.gate_proba(X)
            n_experts = gate.shape[1]
            weight = _check_weights(sample_weight, gate, np.float64)
            counts = np.bincount(
                np.argmax(gate, axis=1), weights=weight, minlength=n_experts
            )
            routed = counts / weight.sum()
            gate_shares = weight @ gate / weight.sum()
        elif training is None:
            raise ValueError("Give X: the estimator has no expert_shares_ to show.")
        display = cls(
            routed_shares=routed,
            gate_shares=gate_shares,
            training_shares=None if training is None else np.asarray(training),
            counts=counts,
            estimator_name=fitted.name,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, show=("routed", "gate", "training"), annotate=True):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        show : str or tuple of {'routed', 'gate', 'training'}, \
default=('routed', 'gate', 'training')
            Series to draw (those that were computed): hard-routed share,
            mean gate probability, training responsibility share.
        annotate : bool, default=True
            Write each bar's percentage above it.

        Returns
        -------
        display : ExpertUsageDisplay
            With ``ax_``, ``figure_`` and ``bars_`` stored.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.patches import Patch

        labels = {
            "routed": ("rows routed (hard)", self.routed_shares, None),
            "gate": ("mean gate probability", self.gate_shares, "//"),
            "training": ("training responsibility", self.training_shares, ".."),
        }
        if isinstance(show, str):
            show = (show,)
        unknown = set(show) - set(labels)
        if unknown:
            raise ValueError(f"Unknown series {sorted(unknown)}; use {sorted(labels)}.")
        series = [(key, *labels[key]) for key in show if labels[key][1] is not None]
        if not series:
            raise ValueError("None of the requested series was computed.")
        ax = _get_axes(ax)
        n_experts = series[0][2].size
        colors = _expert_colors(n_experts)
        width = 0.8 / len(series)
        positions = np.arange(n_experts)
        self.bars_ = {}
        handles = []
        for j, (key, label, values, hatch) in enumerate(series):
            offset = (j - (len(series) - 1) / 2) * width
            bars = ax.bar(
                positions + offset,
                values,
                width=width,
                color=colors,
                alpha=1.0 if hatch is None else 0.55,
                hatch=hatch,
                edgecolor="k",
                linewidth=0.6,
                label=label,
            )
            if annotate:
                ax.bar_label(
                    bars, labels=[f"{v:.0%}" for v in values], fontsize="x-small"
                )
            self.bars_[key] = bars
            handles.append(
                Patch(
                    facecolor="0.85" if hatch else "0.5",
                    hatch=hatch,
                    edgecolor="k",
                    label=label,
                )
            )
        ax.set_xticks(positions, [f"expert {k}" for k in range(n_experts)])
        ax.set_ylabel("share")
        top = max(float(np.max(values)) for _, _, values, _ in series)
        ax.set_ylim(0, top * 1.15 + 0.03)
        if len(series) > 1:
            ax.legend(handles=handles, loc="best", fontsize="small")
        if self.estimator_name:
            ax.set_title(f"Expert usage of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
