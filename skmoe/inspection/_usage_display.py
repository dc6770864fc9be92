"""ExpertUsageDisplay: how much of the data each expert handles."""

import numpy as np

from ._usage import expert_usage
from ._utils import (
    _check_matplotlib_support,
    _check_plot_kwargs,
    _expert_colors,
    _FittedMixture,
    _get_axes,
)

__all__ = ["ExpertUsageDisplay"]


class ExpertUsageDisplay:
    """How much of the data each expert handles, as a bar chart.

    Up to four bars per expert: the share of rows of ``X`` routed to it by
    hard routing (its gate probability is the largest), its mean gate
    probability on ``X`` (its share under soft routing), its mean
    responsibility on ``(X, y)`` (given ``y``: its share of the posterior)
    and its share of the training data's responsibility
    (``expert_shares_``).

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    routed_shares : ndarray of shape (n_experts,) or None
        Share of the (weighted) rows of ``X`` whose most probable expert is k.
    gate_shares : ndarray of shape (n_experts,) or None
        Mean (weighted) gate probability of each expert on ``X``.
    responsibility_shares : ndarray of shape (n_experts,) or None
        Mean (weighted) responsibility of each expert on ``(X, y)``.
    training_shares : ndarray of shape (n_experts,) or None
        ``expert_shares_`` of the fitted estimator.
    counts : ndarray of shape (n_experts,) or None
        Number (total weight) of rows of ``X`` routed to each expert.
    coefficient_of_variation : float or None
        Imbalance of the gate shares on ``X``: their standard deviation over
        their mean, 0 when the experts share the work evenly (see
        :func:`expert_usage`).
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
        responsibility_shares=None,
        training_shares=None,
        counts=None,
        coefficient_of_variation=None,
        estimator_name=None,
    ):
        self.routed_shares = routed_shares
        self.gate_shares = gate_shares
        self.responsibility_shares = responsibility_shares
        self.training_shares = training_shares
        self.counts = counts
        self.coefficient_of_variation = coefficient_of_variation
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(
        cls, estimator, X=None, y=None, *, sample_weight=None, ax=None, **kwargs
    ):
        """Compute the experts' shares and plot them.

        Parameters
        ----------
        estimator : fitted mixture of experts or Pipeline ending in one
        X : array-like of shape (n_samples, n_features), default=None
            Rows to route. Without ``X`` only the training shares
            (``expert_shares_``) are shown.
        y : array-like of shape (n_samples,), default=None
            Targets of ``X``: adds each expert's mean responsibility on
            ``(X, y)`` (``predict_responsibilities``).
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
        if y is not None and X is None:
            raise ValueError("y was given without X: give X with it.")
        training = getattr(fitted.moe, "expert_shares_", None)
        routed = gate_shares = counts = responsibility = cv = None
        if X is not None:
            usage = expert_usage(estimator, X, y, sample_weight=sample_weight, top_k=1)
            table = usage.table
            routed = table["routed_share"].to_numpy()
            gate_shares = table["gate_share"].to_numpy()
            counts = table["counts"].to_numpy()
            cv = usage.coefficient_of_variation
            if y is not None:
                responsibility = table["responsibility_share"].to_numpy()
        elif training is None:
            raise ValueError("Give X: the estimator has no expert_shares_ to show.")
        display = cls(
            routed_shares=routed,
            gate_shares=gate_shares,
            responsibility_shares=responsibility,
            training_shares=None if training is None else np.asarray(training),
            counts=counts,
            coefficient_of_variation=cv,
            estimator_name=fitted.name,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(
        self,
        ax=None,
        *,
        show=("routed", "gate", "responsibility", "training"),
        annotate=True,
    ):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        show : str or tuple of {'routed', 'gate', 'responsibility', \
'training'}, default=('routed', 'gate', 'responsibility', 'training')
            Series to draw (those that were computed): hard-routed share,
            mean gate probability, mean responsibility on ``(X, y)``,
            training responsibility share.
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
            "responsibility": (
                "responsibility on (X, y)",
                self.responsibility_shares,
                "xx",
            ),
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
            title = f"Expert usage of {self.estimator_name}"
            if self.coefficient_of_variation is not None:
                title += f" (imbalance CV {self.coefficient_of_variation:.2f})"
            ax.set_title(title)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
