"""Growing and pruning the tree of a fitted hierarchical mixture.

The start a warm-started ``fit`` of a hierarchical estimator with another
``depth`` continues from (Waterhouse & Robinson's constructive HME, 1995, on
skmoe's balanced trees). Deeper: every leaf becomes a node with an even
gate, its children copies of the leaf's expert each fitted on one part of
the leaf's rows (``_resize._split_weights``). Shallower: every node at the
new depth becomes a leaf, its expert fitted on the rows of its subtree.
"""

import copy

import numpy as np
from sklearn.base import clone

from ._array_api import _to_numpy
from ._experts import _failed_indices
from ._resize import _fit_parts, _posterior, _split_weights


def _grown(estimator, state, X, y, w, lik, resp):
    """``state`` one level deeper. Each leaf ``l`` becomes a node with an
    even gate (:meth:`TreeGate._grown`), and its children ``l * b + c``
    are copies of its expert fitted on the parts of its rows
    (responsibilities ``resp``); with ``resp=None``, or where the rows
    cannot be split (a failed expert, an empty part), exact copies (the
    density is then unchanged)."""
    gate = state["gate"]
    b = gate.branching
    noise = state.get("noise_variance")
    failed = set(_failed_indices(state["experts"]))
    experts, variances = [], []
    for leaf, expert in enumerate(state["experts"]):
        weights = None
        if resp is not None and leaf not in failed:
            weights = _split_weights(expert, resp[:, leaf] * w, X, y, lik, b)
        if weights is None:
            experts += [copy.deepcopy(expert) for _ in range(b)]
            if noise is not None:
                variances.append(np.repeat(np.asarray(noise[leaf])[None], b, axis=0))
            continue
        parts, part_noise = _fit_parts(
            estimator,
            expert,
            None if noise is None else noise[leaf],
            X,
            y,
            weights,
            lik,
        )
        experts += parts
        if noise is not None:
            variances.append(part_noise)
    return {
        "experts": experts,
        "gate": gate._grown(X, w),
        "noise_variance": None if noise is None else np.concatenate(variances),
    }


def _pruned(estimator, state, X, y, w, lik, depth):
    """``state`` cut at ``depth``: each node at that depth becomes a leaf
    whose expert is fitted on the rows of its subtree, weighted by their
    posterior of being in it (the M-step of the pruned tree's expert from
    the deeper tree's E-step), as a new copy of the subtree's most
    responsible working expert; a subtree of failed experts only keeps
    its first. The nodes above are kept."""
    gate = state["gate"]
    width = gate.branching ** (gate.depth - depth)
    n_leaves = gate.branching**depth
    _, resp, _ = _posterior(estimator, state, X, y)
    mass = w @ resp
    mass[_failed_indices(state["experts"])] = -np.inf
    noise = state.get("noise_variance")
    experts, variances, fit, templates = [], [], [], []
    for leaf in range(n_leaves):
        block = slice(leaf * width, (leaf + 1) * width)
        best = leaf * width + int(np.argmax(mass[block]))
        experts.append(copy.deepcopy(state["experts"][best]))
        if noise is not None:
            variances.append(noise[best])
        if np.isfinite(mass[best]):
            fit.append(leaf)
            templates.append(clone(state["experts"][best]))
    start = {
        "experts": experts,
        "gate": gate._pruned(depth),
        "noise_variance": None if noise is None else np.asarray(variances),
    }
    if fit:
        subtree = resp.reshape(resp.shape[0], n_leaves, width).sum(axis=2)
        weights = w[:, None] * subtree[:, fit]
        fitted = {
            "experts": templates,
            "noise_variance": None if noise is None else start["noise_variance"][fit],
        }
        lik.m_step(fitted["experts"], X, y, weights, fitted, estimator.n_jobs)
        for j, leaf in enumerate(fit):
            start["experts"][leaf] = fitted["experts"][j]
            if noise is not None:
                start["noise_variance"][leaf] = fitted["noise_variance"][j]
    return start


def _tree_resized_start(estimator, state, X, y, w, lik):
    """The start of a warm-started ``fit`` whose ``depth`` differs from the
    fitted tree's: ``(start, duplicate, floor)`` as
    :func:`skmoe._resize._resized_start` returns them.

    Deeper: grown one level at a time (:func:`_grown`, every leaf split);
    ``duplicate`` is the grown tree whose children are exact copies of
    their leaf (the fitted model's density) and ``floor`` the fitted
    model's weighted log-likelihood on (X, y). Shallower: :func:`_pruned`,
    with ``duplicate`` and ``floor`` ``None``.
    """
    w = _to_numpy(w)
    depth = estimator.depth
    if depth < state["gate"].depth:
        return _pruned(estimator, state, X, y, w, lik, depth), None, None
    _, resp, log_prob = _posterior(estimator, state, X, y)
    floor = float(w @ log_prob)
    duplicate = state
    for _ in range(depth - state["gate"].depth):
        state = _grown(estimator, state, X, y, w, lik, resp)
        duplicate = _grown(estimator, duplicate, X, y, w, lik, None)
        if state["gate"].depth < depth:
            _, resp, _ = _posterior(estimator, state, X, y)
    return state, duplicate, floor
