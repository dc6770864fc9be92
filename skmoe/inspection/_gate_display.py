"""GateDisplay: the gate's probabilities over one or two features."""

from numbers import Integral

import numpy as np

from ._utils import (
    _check_matplotlib_support,
    _check_plot_kwargs,
    _expert_colors,
    _FittedMixture,
    _get_axes,
    _linspace,
    _RawRows,
)

__all__ = ["GateDisplay"]

_CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


# Up to this many rows each rug mark is drawn at opacity 0.5; beyond, the
# opacity falls as 1 / n_samples, so that overlapping marks add up to a
# density (a dense region darkens, a sparse one stays faint) instead of
# merging into a solid bar.
_RUG_ROWS = 100


def _rug_alpha(n_samples):
    """Opacity of one rug mark among ``n_samples``."""
    return 0.5 * min(1.0, _RUG_ROWS / max(n_samples, 1))


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
    can be drawn on top: over one feature as a rug whose marks fade as the
    rows grow in number (opacity 0.5 up to 100 rows, then ``50 /
    n_samples``), so that it shows their density. Other features are held
    fixed (by default at the median of a numeric column of ``X``, the most
    frequent value of any other).

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
    X_grid : ndarray or DataFrame of shape (n_points, n_features_in), \
default=None
        The full rows the gate was evaluated on, in the estimator's input
        space (a DataFrame when the estimator was fitted on one).
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
        y=None,
        *,
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
            The grid is built over the columns of ``X`` as the estimator
            takes them (for a pipeline, before its preprocessing steps, which
            are applied to the grid before the gate).
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data that set the grid's range (and are drawn on top), in the
            estimator's input space. The plotted features must be numeric;
            the others may be categorical (for a pipeline that encodes
            them).
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
        fixed_values : array-like of shape (n_features,) or dict, default=None
            Values of the features that are not plotted (entries of the
            plotted features are ignored), or a dict from feature (name or
            index) to value for some of them. Default: the median of a
            numeric column of ``X``, the most frequent value of any other
            (categorical, boolean) column.
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
        rows = _RawRows(fitted, X, f"{cls.__name__}.from_estimator")
        X_data = np.column_stack([rows.numeric(f) for f in features])
        base = rows.reference(fixed_values)
        grid_values = [
            _linspace(X_data[:, i], grid_resolution, eps) for i in range(len(features))
        ]
        X_grid = rows.grid(features, grid_values, base)
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
            X_data=X_data,
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
            Draw the data (``X_data``) on top; over one feature, as a rug
            whose marks fade as the rows grow in number (``scatter_kwargs``'s
            ``alpha`` overrides it).
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
                x = self.X_data[:, 0]
                scatter_kwargs.setdefault("color", "k")
                scatter_kwargs.setdefault("alpha", _rug_alpha(x.size))
                scatter_kwargs.setdefault("marker", "|")
                scatter_kwargs.setdefault("s", 60)
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
