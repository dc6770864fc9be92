"""How the work is shared among the experts: the usage report."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .._validation import _check_weights
from ._utils import _FittedMixture


def expert_usage(estimator, X, y=None, *, sample_weight=None, top_k=2):
    """How much of the data each expert handles, and how unevenly.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
    X : array-like of shape (n_samples, n_features)
        Rows to route (for a pipeline, as the pipeline takes them).
    y : array-like of shape (n_samples,), default=None
        Their targets: adds each expert's share of the responsibilities
        (its posterior share given ``y``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.
    top_k : int, default=2
        The ``k`` of the top-k column (at most the number of experts).

    Returns
    -------
    usage : :class:`~sklearn.utils.Bunch`
        ``table``, a DataFrame with one row per expert and the columns

        - ``gate_share``: mean gate probability (the share of the work under
          soft routing);
        - ``routed_share``: share of the rows whose most probable expert it
          is (hard routing);
        - ``top_k_share``: share of the (row, expert) pairs of top-k routing
          that are its: the rows where it is among the ``top_k`` most
          probable experts, divided by ``top_k``;
        - ``responsibility_share`` (with ``y``): mean responsibility;

        each summing to 1 over the experts, and ``counts``, the (weighted)
        number of rows routed to it. ``coefficient_of_variation``: standard
        deviation over mean of the gate shares, 0 when perfectly balanced;
        ``normalized_entropy``: entropy of the average gate divided by
        ``log(n_experts)``, 1 when perfectly balanced (for one expert, 1).

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import expert_usage
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> usage = expert_usage(moe, X, y)
    >>> float(usage.table["gate_share"].sum())
    1.0
    """
    fitted = _FittedMixture(estimator, "expert_usage", host_only=True)
    gate = np.asarray(fitted.gate_proba(X), dtype=np.float64)
    n, n_experts = gate.shape
    if not (isinstance(top_k, int | np.integer) and 1 <= top_k <= n_experts):
        raise ValueError(
            f"top_k={top_k!r} must be an integer from 1 to the number of "
            f"experts, {n_experts}."
        )
    weight = _check_weights(sample_weight, gate, np.float64)
    total = float(weight.sum())
    gate_share = weight @ gate / total
    counts = np.bincount(np.argmax(gate, axis=1), weights=weight, minlength=n_experts)
    top = np.argsort(-gate, axis=1, kind="stable")[:, :top_k]
    in_top = np.zeros_like(gate)
    in_top[np.arange(n)[:, None], top] = 1.0
    table = {
        "gate_share": gate_share,
        "routed_share": counts / total,
        "top_k_share": weight @ in_top / (total * top_k),
        "counts": counts,
    }
    if y is not None:
        resp = np.asarray(fitted.responsibilities(X, y), dtype=np.float64)
        table["responsibility_share"] = weight @ resp / total
    mean = gate_share.mean()
    positive = gate_share[gate_share > 0]
    entropy = float(-(positive * np.log(positive)).sum())
    return Bunch(
        table=pd.DataFrame(table, index=pd.RangeIndex(n_experts, name="expert")),
        coefficient_of_variation=float(gate_share.std() / mean),
        normalized_entropy=entropy / np.log(n_experts) if n_experts > 1 else 1.0,
        top_k=top_k,
    )
