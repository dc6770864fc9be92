"""PredictiveDensityDisplay: the conditional density p(y | x) over one feature."""

import numpy as np

from ._utils import (
    _check_matplotlib_support,
    _check_plot_kwargs,
    _FittedMixture,
    _get_axes,
    _linspace,
    _RawRows,
)

__all__ = ["PredictiveDensityDisplay"]

#: Without targets, the vertical range spans the central intervals of this
#: probability along the grid.
_RANGE_COVERAGE = 0.99


class PredictiveDensityDisplay:
    """The predictive density ``p(y | x)`` of a regressor over one feature.

    A heat map of the mixture's conditional density (the density that
    ``score_samples`` evaluates) on a grid of the feature and of the target,
    with the data scattered on top. Where the experts disagree the density
    has several ridges, which a mean and a standard deviation would hide.
    Other features are held fixed (at their median in ``X`` by default).

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    grid : ndarray of shape (n_grid,)
        Values of the plotted feature.
    y_grid : ndarray of shape (n_y,)
        Values of the target.
    density : ndarray of shape (n_y, n_grid)
        ``p(y_grid[i] | X_grid[j])`` at row ``i``, column ``j``.
    feature : int
        Column index of the plotted feature.
    feature_name : str
        Its name (axis label).
    X_grid : ndarray of shape (n_grid, n_features_in), default=None
        The full rows the density was evaluated on.
    x : ndarray of shape (n_samples,), default=None
        The plotted feature of the data.
    y : ndarray of shape (n_samples,), default=None
        The data's target.
    estimator_name : str, default=None
        Name of the estimator (plot title).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.
    mesh_ : matplotlib QuadMesh
        The heat map.
    colorbar_ : matplotlib Colorbar or None
        Its colour bar.
    scatter_ : matplotlib PathCollection or None
        The data.

    See Also
    --------
    ExpertsDisplay : Experts' predictions, the gate and the mixture's mean.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import PredictiveDensityDisplay
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> disp = PredictiveDensityDisplay.from_estimator(
    ...     moe, X, y, grid_resolution=50, y_resolution=40
    ... )
    >>> disp.density.shape
    (40, 50)
    """

    def __init__(
        self,
        *,
        grid,
        y_grid,
        density,
        feature,
        feature_name,
        X_grid=None,
        x=None,
        y=None,
        estimator_name=None,
    ):
        self.grid = grid
        self.y_grid = y_grid
        self.density = density
        self.feature = feature
        self.feature_name = feature_name
        self.X_grid = X_grid
        self.x = x
        self.y = y
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        feature=None,
        grid_resolution=200,
        y_resolution=200,
        eps=0.02,
        fixed_values=None,
        y_range=None,
        ax=None,
        **kwargs,
    ):
        """Compute the predictive density on a grid and plot it.

        Parameters
        ----------
        estimator : fitted mixture-of-experts regressor or Pipeline ending in one
            A :class:`~skmoe.MixtureOfExpertsRegressor` or
            :class:`~skmoe.HierarchicalMixtureOfExpertsRegressor`.
        X : array-like of shape (n_samples, n_features)
            Data that set the grid's range (numeric features).
        y : array-like of shape (n_samples,), default=None
            Their targets, drawn on top; they also set the vertical range.
        feature : int or str, default=None
            The feature on the horizontal axis; default the first. Other
            features are held at ``fixed_values``.
        grid_resolution : int, default=200
            Number of grid points along the feature.
        y_resolution : int, default=200
            Number of grid points along the target.
        eps : float, default=0.02
            Both grids extend this fraction of their range beyond it.
        fixed_values : array-like of shape (n_features,), default=None
            Values of the other features; default the medians of ``X``.
        y_range : tuple of two floats, default=None
            Range of the target axis. Default: the range of ``y``, or
            without ``y``, that of the central 99% intervals along the grid.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : PredictiveDensityDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_plot_kwargs(cls, kwargs)
        fitted = _FittedMixture(estimator, f"{cls.__name__}.from_estimator")
        if not hasattr(fitted.moe, "predict_interval"):
            raise TypeError(
                f"{cls.__name__} draws a regressor's predictive density; "
                f"{fitted.name} has none (for classifiers see ExpertsDisplay)."
            )
        (feature,) = fitted.feature_indices(
            0 if feature is None else feature, n_default=1
        )
        raw = _RawRows(fitted, X, f"{cls.__name__}.from_estimator")
        x_data = raw.numeric(feature)
        y_arr = None if y is None else np.asarray(y, dtype=np.float64).reshape(-1)
        grid = _linspace(x_data, grid_resolution, eps)
        X_grid = raw.grid([feature], [grid], raw.reference(fixed_values))
        rows = fitted.transform(X_grid)
        if y_range is not None:
            lo, hi = (float(v) for v in y_range)
            if not lo < hi:
                raise ValueError(
                    f"y_range must be (low, high) with low < high; got {y_range!r}."
                )
            y_grid = np.linspace(lo, hi, y_resolution)
        elif y_arr is not None:
            y_grid = _linspace(y_arr, y_resolution, eps)
        else:
            bounds = np.asarray(
                fitted.moe.predict_interval(rows, coverage=_RANGE_COVERAGE)
            )
            y_grid = _linspace(bounds.ravel(), y_resolution, eps)
        # Every (target, grid row) pair, target-major: reshapes to (n_y, n_grid).
        index = np.tile(np.arange(grid.size), y_grid.size)
        rows_rep = rows.iloc[index] if hasattr(rows, "iloc") else rows[index]
        log_density = fitted.moe.score_samples(rows_rep, np.repeat(y_grid, grid.size))
        density = np.exp(np.asarray(log_density)).reshape(y_grid.size, grid.size)
        display = cls(
            grid=grid,
            y_grid=y_grid,
            density=density,
            feature=feature,
            feature_name=fitted.feature_name(feature),
            X_grid=X_grid,
            x=x_data if y_arr is not None else None,
            y=y_arr,
            estimator_name=fitted.name,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(
        self,
        ax=None,
        *,
        cmap="Blues",
        colorbar=True,
        plot_data=True,
        scatter_kwargs=None,
        mesh_kwargs=None,
    ):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        cmap : str or Colormap, default='Blues'
            Colormap of the density.
        colorbar : bool, default=True
            Add a colour bar.
        plot_data : bool, default=True
            Draw the data on top.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the data.
        mesh_kwargs : dict, default=None
            Passed to ``ax.pcolormesh`` (e.g. ``norm`` for a logarithmic
            colour scale).

        Returns
        -------
        display : PredictiveDensityDisplay
            With ``ax_``, ``figure_`` and the artists stored.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _get_axes(ax)
        mesh_kwargs = {} if mesh_kwargs is None else dict(mesh_kwargs)
        mesh_kwargs.setdefault("shading", "nearest")
        mesh_kwargs.setdefault("cmap", cmap)
        self.mesh_ = ax.pcolormesh(self.grid, self.y_grid, self.density, **mesh_kwargs)
        self.colorbar_ = None
        if colorbar:
            self.colorbar_ = ax.figure.colorbar(
                self.mesh_, ax=ax, label="predictive density $p(y \\mid x)$"
            )
        self.scatter_ = None
        if plot_data and self.y is not None:
            scatter_kwargs = {} if scatter_kwargs is None else dict(scatter_kwargs)
            scatter_kwargs.setdefault("s", 12)
            scatter_kwargs.setdefault("color", "k")
            scatter_kwargs.setdefault("alpha", 0.6)
            self.scatter_ = ax.scatter(self.x, self.y, **scatter_kwargs)
        ax.set_xlim(self.grid[0], self.grid[-1])
        ax.set_ylim(self.y_grid[0], self.y_grid[-1])
        ax.set_xlabel(self.feature_name)
        ax.set_ylabel("target")
        if self.estimator_name:
            ax.set_title(f"Predictive density of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
