"""A text view of a fitted (hierarchical) mixture of experts: :func:`export_text`."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from .._array_api import _to_numpy
from .._experts import _FailedExpert
from .._likelihood import noise_std
from .._tree_gate import TreeGate
from ._utils import _FittedMixture

__all__ = ["export_text"]


def _fmt(value, decimals):
    return f"{value:.{decimals}f}"


def _coef_text(coef, names, decimals, max_coef):
    items = [f"{names[j]}={_fmt(c, decimals)}" for j, c in enumerate(coef[:max_coef])]
    if coef.size > max_coef:
        items.append(f"... ({coef.size - max_coef} more)")
    return "[" + ", ".join(items) + "]"


def _expert_text(expert, names, decimals, max_coef):
    """One-line (or, for multiclass linear experts, multi-line) summary."""
    if isinstance(expert, _FailedExpert):
        return [
            f"failed {type(expert.estimator).__name__}, out of the mixture "
            "(see failed_experts_)"
        ]
    name = type(expert).__name__
    if hasattr(expert, "coef_"):
        coef = np.atleast_2d(np.asarray(expert.coef_, dtype=float))
        intercept = np.atleast_1d(
            np.asarray(getattr(expert, "intercept_", 0.0), dtype=float)
        )
        if intercept.size < coef.shape[0]:
            intercept = np.resize(intercept, coef.shape[0])
        if coef.shape[0] == 1:
            return [
                f"{name}: intercept={_fmt(intercept[0], decimals)}, "
                f"coef={_coef_text(coef[0], names, decimals, max_coef)}"
            ]
        labels = getattr(expert, "classes_", range(coef.shape[0]))
        # Rows of classes, or of the targets of a 2-D y.
        row_kind = "class" if hasattr(expert, "classes_") else "target"
        lines = [f"{name}: {coef.shape[0]} x {coef.shape[1]} coefficients"]
        for label, row, b in zip(labels, coef, intercept, strict=False):
            lines.append(
                f"  {row_kind} {label}: intercept={_fmt(b, decimals)}, "
                f"coef={_coef_text(row, names, decimals, max_coef)}"
            )
        return lines
    if hasattr(expert, "tree_"):
        return [
            f"{name}: {expert.tree_.n_leaves} leaves, depth {expert.tree_.max_depth}"
        ]
    return [name]


@validate_params(
    {
        "estimator": "no_validation",
        "feature_names": ["array-like", None],
        "decimals": [Interval(Integral, 0, None, closed="left")],
        "max_coef": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def export_text(estimator, *, feature_names=None, decimals=3, max_coef=10):
    """A text view of a fitted (hierarchical) mixture of experts.

    In the spirit of :func:`sklearn.tree.export_text`: one line per node of
    the gate tree with its size (features in, branches out) and the share of
    the training data under it, one line per leaf with its share and a
    summary of its expert (intercept and coefficients of a linear expert, the
    size of a tree, otherwise the type) and, for regression, the noise
    standard deviation (for Student-t experts, the t scale and degrees of
    freedom). A flat mixture prints as a tree of depth 1.

    Shares are the posterior mass of the (weighted) training data,
    ``expert_shares_``; a node's share is the sum over the leaves under it.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        A fitted :class:`~skmoe.HierarchicalMixtureOfExpertsRegressor`,
        :class:`~skmoe.HierarchicalMixtureOfExpertsClassifier`,
        :class:`~skmoe.MixtureOfExpertsRegressor` or
        :class:`~skmoe.MixtureOfExpertsClassifier`, or a
        :class:`~sklearn.pipeline.Pipeline` whose last step is one. For a
        pipeline, the coefficients refer to the features the mixture sees
        (the output of the preprocessing steps).
    feature_names : list of str or None, default=None
        Names of the features the mixture sees, one per feature of the
        mixture (``n_features_in_`` of the pipeline's last step). By default
        the names :func:`summary` uses: the mixture's ``feature_names_in_``
        if fitted on a DataFrame, else for a pipeline its preprocessing's
        ``get_feature_names_out()``, else ``x0, x1, ...``.
    decimals : int, default=3
        Number of decimals of shares, coefficients and noise deviations.
    max_coef : int, default=10
        Coefficients shown per expert; the rest are counted.

    Returns
    -------
    report : str
        The text, one line per node, leaf and (multiclass) expert class.

    Examples
    --------
    >>> from skmoe import HierarchicalMixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_hierarchical_regimes
    >>> from skmoe.inspection import export_text
    >>> X, y = make_hierarchical_regimes(n_samples=500, random_state=0)
    >>> hme = HierarchicalMixtureOfExpertsRegressor(random_state=0).fit(X, y)
    >>> print(export_text(hme, decimals=1))  # doctest: +SKIP
    """
    fitted = _FittedMixture(estimator, "export_text", host_only=False)
    estimator = fitted.moe
    n_features = estimator.n_features_in_
    if feature_names is None:
        names = fitted.moe_feature_names()
    else:
        names = list(feature_names)
        if len(names) != n_features:
            raise ValueError(
                f"feature_names has {len(names)} names but the mixture was "
                f"fitted on {n_features} features."
            )
    names = [str(n) for n in names]
    shares = _to_numpy(estimator.expert_shares_)
    noise = getattr(estimator, "noise_variance_", None)
    df = getattr(estimator, "df_", None)
    gate = estimator.gate_
    if isinstance(gate, TreeGate):
        depth, branching, n_nodes = gate.depth, gate.branching, gate.n_nodes_
    else:  # a flat gate is a tree of depth 1
        depth, branching, n_nodes = 1, len(estimator.experts_), 1
    n_leaves = len(estimator.experts_)
    header = (
        f"{type(estimator).__name__}: depth {depth}, branching {branching}, "
        f"{n_leaves} leaves, {n_nodes} gate(s) of {n_features} features -> "
        f"{branching} branches"
    )
    lines = [header]
    if fitted.pre is not None:
        lines.append(fitted.preprocessing_line("coefficients refer to"))

    def leaf_lines(leaf, indent):
        prefix = "|   " * indent + "|--- "
        text = f"leaf {leaf} (share {_fmt(shares[leaf], decimals)})"
        summary = _expert_text(estimator.experts_[leaf], names, decimals, max_coef)
        text += " " + summary[0]
        if noise is not None and df is not None:  # Student-t experts
            text += (
                f", t scale={_fmt(np.sqrt(noise[leaf]), decimals)}"
                f", df={_fmt(df[leaf], decimals)}"
            )
        elif noise is not None:
            std = np.atleast_1d(noise_std(noise[leaf]))  # one per target
            text += f", noise std={', '.join(_fmt(s, decimals) for s in std)}"
        lines.append(prefix + text)
        pad = "|   " * (indent + 1) + "     "
        lines.extend(pad + extra.strip() for extra in summary[1:])

    def node_lines(node, indent, start, stop):
        prefix = "|   " * indent + "|--- "
        share = shares[start:stop].sum()
        lines.append(
            f"{prefix}node {node} (share {_fmt(share, decimals)}) gate: "
            f"{n_features} features -> {branching} branches"
        )
        width = (stop - start) // branching
        for c in range(branching):
            child = node * branching + 1 + c
            lo, hi = start + c * width, start + (c + 1) * width
            if child >= n_nodes:
                leaf_lines(child - n_nodes, indent + 1)
            else:
                node_lines(child, indent + 1, lo, hi)

    node_lines(0, 0, 0, n_leaves)
    return "\n".join(lines)
