"""SelectionDisplay: the selection criterion against the number of experts."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._utils import _check_matplotlib_support, _check_plot_kwargs, _get_axes

__all__ = ["SelectionDisplay"]

_CRITERION_LABELS = {
    "heldout": "held-out log-likelihood per row (higher is better)",
    "bic": "BIC (lower is better)",
    "icl": "ICL (lower is better)",
}


class SelectionDisplay:
    """The criterion of each candidate against its number of experts.

    One point per candidate of a fitted
    :class:`~skmoe.MixtureOfExpertsCV`, with error bars of one fold
    standard deviation for the held-out log-likelihood, and the chosen
    candidate marked.

    Create it with :meth:`from_estimator`; :meth:`plot` draws it.

    Parameters
    ----------
    n_experts : ndarray of shape (n_candidates,)
        Number of experts of each candidate.
    scores : ndarray of shape (n_candidates,)
        The criterion of each candidate (mean over folds for held-out).
    scores_std : ndarray of shape (n_candidates,) or None
        Its standard deviation over folds (None or zeros: no error bars).
    chosen_index : int
        Index of the chosen candidate.
    criterion : {'heldout', 'bic', 'icl'}
        Name of the criterion (axis label).
    labels : list of str, default=None
        Tick label of each candidate (e.g. ``'d=2, b=2'`` for a hierarchical
        candidate); None labels the ticks by number of experts.
    estimator_name : str, default=None
        Name of the estimator (plot title).

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes of the plot.
    figure_ : matplotlib Figure
        Figure of the plot.
    line_ : matplotlib ErrorbarContainer
        The criterion curve with its error bars.
    chosen_ : matplotlib Line2D
        The marker of the chosen candidate.

    See Also
    --------
    skmoe.MixtureOfExpertsCV : Computes the criterion and chooses.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmoe import MixtureOfExpertsCV
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import SelectionDisplay
    >>> X, y = load_mcycle(return_X_y=True)
    >>> search = MixtureOfExpertsCV(criterion="bic", random_state=0).fit(X, y)
    >>> disp = SelectionDisplay.from_estimator(search)
    >>> disp.n_experts.tolist()
    [1, 2, 3, 4, 5]
    """

    def __init__(
        self,
        *,
        n_experts,
        scores,
        scores_std,
        chosen_index,
        criterion,
        labels=None,
        estimator_name=None,
    ):
        self.n_experts = n_experts
        self.scores = scores
        self.scores_std = scores_std
        self.chosen_index = chosen_index
        self.criterion = criterion
        self.labels = labels
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, **kwargs):
        """Read the candidates' scores from a fitted search and plot them.

        Parameters
        ----------
        estimator : fitted MixtureOfExpertsCV
            The search whose ``cv_results_`` to draw.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SelectionDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        _check_plot_kwargs(cls, kwargs)
        if not hasattr(estimator, "cv_results_") or not hasattr(
            estimator, "criterion_lower_is_better_"
        ):
            check_is_fitted(estimator)
            raise TypeError(
                f"{cls.__name__}.from_estimator expects a fitted "
                f"MixtureOfExpertsCV; got {type(estimator).__name__}."
            )
        results = estimator.cv_results_
        labels = None
        if "depth" in results:
            labels = [
                f"d={d}, b={b}"
                for d, b in zip(results["depth"], results["branching"], strict=True)
            ]
        display = cls(
            n_experts=np.asarray(results["n_experts"]),
            scores=np.asarray(results["mean_score"]),
            scores_std=np.asarray(results["std_score"]),
            chosen_index=int(estimator.best_index_),
            criterion=estimator.criterion,
            labels=labels,
            estimator_name=type(estimator.best_estimator_).__name__,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, errorbar_kw=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        errorbar_kw : dict, default=None
            Keyword arguments of matplotlib's ``errorbar`` for the curve.

        Returns
        -------
        display : SelectionDisplay
            With ``ax_``, ``figure_``, ``line_`` and ``chosen_`` stored.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _get_axes(ax)
        # Hierarchical candidates may share a number of experts: one position
        # per candidate then, labelled by depth and branching.
        x = (
            np.asarray(self.n_experts)
            if self.labels is None
            else np.arange(len(self.scores))
        )
        yerr = None
        if self.scores_std is not None and np.any(np.asarray(self.scores_std) > 0):
            yerr = self.scores_std
        kw = {"fmt": "o-", "capsize": 3, "label": "criterion"}
        kw.update(errorbar_kw or {})
        self.line_ = ax.errorbar(x, self.scores, yerr=yerr, **kw)
        i = self.chosen_index
        (self.chosen_,) = ax.plot(
            [x[i]],
            [self.scores[i]],
            marker="*",
            markersize=16,
            color="C3",
            linestyle="none",
            label=f"chosen: {int(self.n_experts[i])} experts",
        )
        ax.set_xticks(x, self.labels if self.labels is not None else x)
        ax.set_xlabel("candidate" if self.labels is not None else "number of experts")
        ax.set_ylabel(_CRITERION_LABELS.get(self.criterion, str(self.criterion)))
        ax.legend(loc="best", fontsize="small")
        if self.estimator_name:
            ax.set_title(f"Choosing the experts of {self.estimator_name}")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
