"""ExpertsDisplay: the experts' predictions, the gate and the mixture."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._utils import (
    _check_matplotlib_support,
    _check_plot_kwargs,
    _expert_colors,
    _FittedMixture,
    _get_axes,
    _linspace,
    _python_scalar,
    _RawRows,
)

__all__ = ["ExpertsDisplay"]

_KINDS = ("average", "individual", "both", "slice")

# Rows per call to the estimator when averaging over the data: the grid values
# are taken a few at a time so that memory stays bounded for large X.
_CHUNK_ROWS = 1 << 16


def _check_subsample(subsample):
    if isinstance(subsample, bool):
        pass
    elif isinstance(subsample, Integral):
        if subsample >= 1:
            return
    elif isinstance(subsample, Real) and 0 < subsample <= 1:
        return
    raise ValueError(
        "subsample must be an int >= 1 (the number of rows drawn as "
        "individual lines) or a float in (0, 1] (their fraction); got "
        f"{subsample!r}."
    )


def _subsample_rows(n_samples, subsample, random_state):
    """Sorted indices of the rows drawn as individual lines."""
    if isinstance(subsample, Integral):
        size = min(n_samples, int(subsample))
    else:
        size = max(1, int(subsample * n_samples))
    if size >= n_samples:
        return np.arange(n_samples)
    rng = check_random_state(random_state)
    return np.sort(rng.choice(n_samples, size=size, replace=False))


def _evaluate(fitted, X_rows, column):
    """Gate probabilities, expert predictions, mixture mean and std on rows.

    ``column`` is the class of interest's column for a classifier (whose
    std is None), None for a regressor.
    """
    Z = fitted.transform(X_rows)
    moe = fitted.moe
    gate_proba = moe.predict_gate_proba(Z)
    if column is not None:
        experts = moe.predict_experts_proba(Z)[:, :, column]
        return gate_proba, experts, moe.predict_proba(Z)[:, column], None
    mean, std = moe.predict(Z, return_std=True)
    return gate_proba, moe.predict_experts(Z), mean, std


def _partial_dependence(fitted, rows, feature, grid, column, individual_rows):
    """Averages over the rows of X, and individual lines, along ``grid``.

    At each grid value every row gets ``feature`` set to it. The averages
    are those of the gate probabilities, of each expert's prediction and of
    the mixture's mean; the std is that of the mixture of the rows'
    predictive distributions (law of total variance), so the band says how
    widely the target spreads at that value over the data's other features.

    Returns
    -------
    average : tuple of (gate_proba, expert_predictions, mean, std)
        Arrays of shape (n_grid, n_experts), (n_grid, n_experts),
        (n_grid,), (n_grid,) or None.
    individual : tuple of (gate_proba, expert_predictions, mean) or None
        For the rows ``individual_rows``: arrays of shape
        (n_rows, n_grid, n_experts), (n_rows, n_grid, n_experts),
        (n_rows, n_grid).
    """
    n = rows.n_samples
    step = max(1, _CHUNK_ROWS // n)
    average, individual = [[], [], [], []], [[], [], []]
    for start in range(0, grid.size, step):
        values = grid[start : start + step]
        outputs = _evaluate(fitted, rows.with_feature(feature, values), column)
        # Block m of the rows is X with the feature at values[m].
        gate, experts, mean, std = (
            None if a is None else a.reshape(values.size, n, *a.shape[1:])
            for a in outputs
        )
        mean_avg = mean.mean(axis=1)
        average[0].append(gate.mean(axis=1))
        average[1].append(experts.mean(axis=1))
        average[2].append(mean_avg)
        if std is not None:
            spread = std**2 + (mean - mean_avg[:, None]) ** 2
            average[3].append(np.sqrt(spread.mean(axis=1)))
        if individual_rows is not None:
            for part, a in zip(individual, (gate, experts, mean), strict=True):
                part.append(a[:, individual_rows])
    average = tuple(np.concatenate(a) if a else None for a in average)
    if individual_rows is None:
        return average, None
    # (n_grid, n_rows, ...) -> (n_rows, n_grid, ...)
    individual = tuple(np.swapaxes(np.concatenate(a), 0, 1) for a in individual)
    return average, individual


class ExpertsDisplay:
    """Experts' predictions, the gate and the mixture over one feature.

    The classic mixture-of-experts picture (e.g. the motorcycle data): each
    expert's prediction curve over a grid, drawn thick (or opaque) where the
    gate gives it weight and dotted elsewhere; the data coloured by the expert
    most responsible for each row (``predict_responsibilities``); and, for a
    regressor, the mixture's predictive mean with a +- 2 standard deviation
    band (``predict(X, return_std=True)``). For a classifier the curves are
    the probabilities of one class.

    With more than one feature, the curves can be averages over the rows of
    the data with the plotted feature set to each grid value (partial
    dependence, ``kind='average'``), one line per row (``kind='individual'``,
    ICE curves), both (the default), or a slice with the other features held
    fixed (``kind='slice'``). With one feature all four agree.

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    grid : ndarray of shape (n_grid,)
        Values of the plotted feature.
    expert_predictions : ndarray of shape (n_grid, n_experts)
        Each expert's prediction on the grid (for a classifier, its
        probability of ``class_of_interest``), averaged over the data's rows
        unless ``kind='slice'``.
    gate_proba : ndarray of shape (n_grid, n_experts)
        Gate probabilities on the grid (averaged likewise).
    mean : ndarray of shape (n_grid,)
        The mixture's prediction on the grid (for a classifier, its
        probability of ``class_of_interest``), averaged likewise.
    std : ndarray of shape (n_grid,) or None
        Predictive standard deviation on the grid (regressors). Averaged
        over rows, it is that of the mixture of the rows' predictive
        distributions: the spread of the target at each grid value over the
        data's other features.
    feature : int
        Column index of the plotted feature.
    feature_name : str
        Its name (axis label).
    kind : {'slice', 'average', 'individual', 'both'}, default='slice'
        What the arrays are (see :meth:`from_estimator`) and what
        :meth:`plot` draws: ``'individual'`` and ``'both'`` draw the
        ``individual_*`` lines.
    X_grid : ndarray or DataFrame of shape (n_grid, n_features_in), \
default=None
        ``kind='slice'``: the rows the estimator was evaluated on, in its
        input space (a DataFrame when the estimator was fitted on one).
    x : ndarray of shape (n_samples,), default=None
        The plotted feature of the data.
    y : ndarray of shape (n_samples,), default=None
        The data's target (for a classifier, 1.0 where it equals
        ``class_of_interest``, else 0.0).
    responsibilities : ndarray of shape (n_samples, n_experts), default=None
        Posterior probability of each expert for each row.
    individual_expert_predictions : ndarray of shape \
(n_lines, n_grid, n_experts), default=None
        Each expert's prediction along the grid for each row in
        ``individual_rows``.
    individual_gate_proba : ndarray of shape (n_lines, n_grid, n_experts), \
default=None
        The gate probabilities along the grid for those rows.
    individual_mean : ndarray of shape (n_lines, n_grid), default=None
        The mixture's prediction along the grid for those rows.
    individual_rows : ndarray of shape (n_lines,), default=None
        Indices of the rows of ``X`` drawn as individual lines.
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
        The gate-weighted expert curves (empty for ``kind='individual'``).
    mean_line_ : matplotlib Line2D or None
        The mixture's prediction (None for ``kind='individual'``).
    individual_lines_ : list of matplotlib LineCollection
        Per expert, its individual lines, each segment as opaque as the
        gate's probability of the expert for that row (empty unless
        ``kind`` is ``'individual'`` or ``'both'``).
    individual_mean_lines_ : matplotlib LineCollection or None
        The mixture's individual lines.
    band_ : matplotlib PolyCollection or None
        The +- 2 std band.
    scatter_ : matplotlib PathCollection or None
        The data.

    See Also
    --------
    GateDisplay : The gate alone, over one or two features.
    sklearn.inspection.PartialDependenceDisplay : Partial dependence and ICE
        curves of any estimator.

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
        kind="slice",
        X_grid=None,
        x=None,
        y=None,
        responsibilities=None,
        individual_expert_predictions=None,
        individual_gate_proba=None,
        individual_mean=None,
        individual_rows=None,
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
        self.kind = kind
        self.X_grid = X_grid
        self.x = x
        self.y = y
        self.responsibilities = responsibilities
        self.individual_expert_predictions = individual_expert_predictions
        self.individual_gate_proba = individual_gate_proba
        self.individual_mean = individual_mean
        self.individual_rows = individual_rows
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
        kind="auto",
        subsample=100,
        random_state=None,
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
            A regressor or classifier. The grid runs over a column of ``X``
            as the estimator takes it (for a pipeline, before its
            preprocessing steps).
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data that set the grid's range, whose rows are averaged over
            (``kind`` other than ``'slice'``), and which are drawn. The
            plotted feature must be numeric; the others may be categorical
            (for a pipeline that encodes them).
        y : array-like of shape (n_samples,), default=None
            Their targets. With ``y`` the rows are drawn coloured by their
            most responsible expert; without, they are not drawn.
        feature : int or str, default=None
            The feature on the horizontal axis; default the first.
        kind : {'auto', 'average', 'individual', 'both', 'slice'}, \
default='auto'
            What is drawn against the feature, as in
            :class:`sklearn.inspection.PartialDependenceDisplay`:

            - ``'average'``: partial dependence. At each grid value ``v``,
              every row of ``X`` gets the feature set to ``v`` and each
              expert's prediction, the gate probabilities and the mixture's
              prediction are averaged over the rows.
            - ``'individual'``: one line per row (ICE curves) of each expert,
              opaque where the gate gives it that row, and of the mixture,
              for ``subsample`` rows.
            - ``'both'``: the averages drawn over the individual lines.
            - ``'slice'``: the other features held at ``fixed_values`` (by
              default the median of each numeric column, the most frequent
              value of any other). Fast, but when features interact or are
              correlated a slice can show a model unlike the one that
              predicts on the data (experts near 0.5 for a classifier that
              is sure of every row).
            - ``'auto'``: ``'slice'`` when ``fixed_values`` is given or the
              estimator has one feature (where all kinds agree and a slice
              is the cheapest), else ``'both'``: an average alone
              can hide as much as a slice (on XOR, each expert averages to
              0.5 along the feature the gate splits on, while on every row
              it is near 0 or 1).
        subsample : int or float, default=100
            Rows drawn as individual lines (``kind='individual'`` or
            ``'both'``): at most this many, or this fraction of the rows
            when a float in (0, 1]. The averages use all rows.
        random_state : int, RandomState instance or None, default=None
            Picks the ``subsample`` rows.
        grid_resolution : int, default=200
            Number of grid points.
        eps : float, default=0.02
            The grid extends this fraction of the feature's range beyond the
            data.
        fixed_values : array-like of shape (n_features,) or dict, default=None
            ``kind='slice'`` only: values of the other features, or a dict
            from feature (name or index) to value for some of them.
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
        caller = f"{cls.__name__}.from_estimator"
        _check_matplotlib_support(caller)
        _check_plot_kwargs(cls, kwargs)
        if kind not in ("auto", *_KINDS):
            raise ValueError(f"kind must be one of {('auto', *_KINDS)}; got {kind!r}.")
        if fixed_values is not None and kind not in ("slice", "auto"):
            raise ValueError(
                f"fixed_values holds the other features fixed, which only "
                f"kind='slice' does; kind={kind!r} averages over the rows of X. "
                "Pass kind='slice' with fixed_values, or leave fixed_values out."
            )
        _check_subsample(subsample)
        fitted = _FittedMixture(estimator, caller)
        if kind == "auto":
            one = fixed_values is not None or fitted.n_features_in_ == 1
            kind = "slice" if one else "both"
        (feature,) = fitted.feature_indices(
            0 if feature is None else feature, n_default=1
        )
        column = None
        if fitted.is_classifier:
            classes = fitted.moe.classes_
            if class_of_interest is None:
                class_of_interest = classes[-1]
            match = np.flatnonzero(classes == class_of_interest)
            if match.size == 0:
                raise ValueError(
                    f"class_of_interest={class_of_interest!r} is not one of the "
                    f"classes {classes.tolist()}."
                )
            column = int(match[0])
            class_of_interest = _python_scalar(classes[column])
        else:
            class_of_interest = None
        rows = _RawRows(fitted, X, caller)
        x = rows.numeric(feature)
        base = rows.reference(fixed_values) if kind == "slice" else None
        grid = _linspace(x, grid_resolution, eps)
        X_grid, individual_rows = None, None
        individual = (None, None, None)
        if kind == "slice":
            X_grid = rows.grid([feature], [grid], base)
            gate_proba, expert_predictions, mean, std = _evaluate(
                fitted, X_grid, column
            )
        else:
            if kind != "average":
                individual_rows = _subsample_rows(
                    rows.n_samples, subsample, random_state
                )
            average, lines = _partial_dependence(
                fitted, rows, feature, grid, column, individual_rows
            )
            gate_proba, expert_predictions, mean, std = average
            if lines is not None:
                individual = lines
        responsibilities, y_plot = None, None
        if y is not None:
            y_arr = np.asarray(y)
            responsibilities = fitted.responsibilities(rows.data, y_arr)
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
            kind=kind,
            X_grid=X_grid,
            x=x,
            y=y_plot,
            responsibilities=responsibilities,
            individual_expert_predictions=individual[1],
            individual_gate_proba=individual[0],
            individual_mean=individual[2],
            individual_rows=individual_rows,
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
        individual_alpha=None,
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
            Draw the mixture's mean +- 2 std band (regressors; not with
            ``kind='individual'``).
        plot_data : bool, default=True
            Draw the data, coloured by their most responsible expert.
        legend : bool, default=True
            Add a legend.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the data.
        individual_alpha : float, default=None
            Opacity of an individual line where the gate gives its expert
            probability 1 (it is scaled by the gate's probability along the
            line). Default ``min(0.8, 20 / n_lines)``, so that many lines
            show where they crowd.

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
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}; got {self.kind!r}.")
        draw_individual = self.kind in ("individual", "both")
        if draw_individual and self.individual_expert_predictions is None:
            raise ValueError(
                f"kind={self.kind!r} draws individual lines, but the display has "
                "none: build it with ExpertsDisplay.from_estimator(..., "
                f"kind={self.kind!r})."
            )
        draw_average = self.kind != "individual"
        ax = _get_axes(ax)
        grid = self.grid
        n_experts = self.expert_predictions.shape[1]
        colors = _expert_colors(n_experts)
        self.band_, self.scatter_, self.mean_line_ = None, None, None
        self.expert_lines_, self.individual_lines_ = [], []
        self.individual_mean_lines_ = None
        show_band = show_band and draw_average and self.std is not None
        if show_band:
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
        handles = []
        if draw_individual:
            n_lines = self.individual_mean.shape[0]
            alpha = (
                min(0.8, 20.0 / n_lines)
                if individual_alpha is None
                else float(individual_alpha)
            )
            for k in range(n_experts):
                segments, weight = _segments(
                    grid,
                    self.individual_expert_predictions[:, :, k],
                    self.individual_gate_proba[:, :, k],
                )
                seg_colors = np.tile(colors[k], (weight.size, 1))
                seg_colors[:, 3] = alpha * weight
                collection = LineCollection(
                    segments, colors=seg_colors, linewidths=0.8, zorder=1
                )
                ax.add_collection(collection)
                self.individual_lines_.append(collection)
            segments, _ = _segments(grid, self.individual_mean, None)
            self.individual_mean_lines_ = LineCollection(
                segments, colors=[(0, 0, 0, 0.5 * alpha)], linewidths=0.5, zorder=1
            )
            ax.add_collection(self.individual_mean_lines_)
        for k in range(n_experts):
            handles.append(Line2D([], [], color=colors[k], lw=3, label=f"expert {k}"))
            if not draw_average:
                continue
            pred, weight = self.expert_predictions[:, k], self.gate_proba[:, k]
            ax.plot(grid, pred, color=colors[k], lw=0.8, ls=":", alpha=0.8)
            segments, seg_weight = _segments(grid, pred[None], weight[None])
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
        if draw_average:
            (self.mean_line_,) = ax.plot(
                grid, self.mean, color="k", lw=1.5, label="mixture"
            )
            handles.append(self.mean_line_)
        else:
            handles.append(Line2D([], [], color="k", lw=0.8, label="mixture"))
        if self.band_ is not None:
            handles.append(self.band_)
        self._set_ylim(ax, show_band, plot_data, draw_average, draw_individual)
        ax.set_xlim(grid[0], grid[-1])
        ax.set_xlabel(self.feature_name)
        what = (
            "prediction"
            if self.class_of_interest is None
            else f"P(y = {self.class_of_interest})"
        )
        if self.kind == "slice" and getattr(self.X_grid, "shape", (0, 2))[1] == 1:
            ax.set_ylabel(what)  # no other feature to hold fixed
        else:
            ax.set_ylabel(_YLABELS[self.kind].format(what))
        if legend:
            ax.legend(handles=handles, loc="best", fontsize="small")
        if self.estimator_name:
            ax.set_title(f"Experts of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _set_ylim(self, ax, band, data, average, individual):
        """Fit the vertical axis to what matters, not to extrapolated experts.

        The dotted parts of an expert's line (where its gate probability is
        small) can run far outside the data; the limits cover the data, the
        mixture (and its band) and the experts where the gate gives them
        weight.
        """
        parts = []
        if average:
            parts += [self.mean, self.expert_predictions[self.gate_proba > 0.1]]
        if individual:
            weighted = self.individual_gate_proba > 0.1
            parts += [
                self.individual_mean,
                self.individual_expert_predictions[weighted],
            ]
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


_YLABELS = {
    "slice": "{} (other features fixed)",
    "average": "{}, averaged over the data",
    "individual": "{}, one line per row",
    "both": "{}: per row and averaged",
}


def _segments(grid, values, weight):
    """Line segments of curves over ``grid``, and each segment's weight.

    ``values`` and ``weight`` (or None) have shape (n_curves, n_grid); a
    segment's weight is the mean of its two ends'.

    Returns
    -------
    segments : ndarray of shape (n_curves * (n_grid - 1), 2, 2)
    seg_weight : ndarray of shape (n_curves * (n_grid - 1),) or None
    """
    n_curves = values.shape[0]
    x = np.broadcast_to(grid, values.shape)
    points = np.stack([x, values], axis=-1)  # (n_curves, n_grid, 2)
    segments = np.stack([points[:, :-1], points[:, 1:]], axis=2).reshape(-1, 2, 2)
    if weight is None:
        return segments, None
    seg_weight = 0.5 * (weight[:, :-1] + weight[:, 1:])
    return segments, seg_weight.reshape(n_curves * (grid.size - 1))
