"""ExpertsDisplay: the experts' predictions, the gate and the mixture."""

import numpy as np

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

__all__ = ["ExpertsDisplay"]


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
