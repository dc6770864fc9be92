"""The hierarchical initialisation: recursive model-tree splits of the rows.

``init_params='hierarchical'`` of the hierarchical mixtures: each node's
rows are cut into ``branching`` intervals of one feature, where linear fits
within the intervals leave the smallest residual sum of squares, and each
interval again, down to the leaves (:func:`_hierarchical_labels`).
"""

import numpy as np


def _balanced_split(Z, weight, n_groups, min_rows):
    """Split rows into ``n_groups`` blocks of equal weight along the weighted
    first principal axis (blocks of equal numbers of positive-weight rows if
    that leaves a block fewer than ``min_rows`` of them). The fall-back when a
    node is too small for the split search.
    """
    positive = np.flatnonzero(weight > 0)
    w = weight[positive]
    mean = w @ Z[positive] / w.sum()
    centred = (Z[positive] - mean) * np.sqrt(w)[:, None]
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])  # a fixed sign
    proj = (Z - mean) @ axis
    order = positive[np.argsort(proj[positive], kind="stable")]
    cum = np.cumsum(weight[order])
    targets = cum[-1] * np.arange(1, n_groups) / n_groups
    ends = np.searchsorted(cum, targets, side="left") + 1
    bounds = np.concatenate([[0], ends, [order.size]])
    if np.any(np.diff(bounds) < min_rows):
        bounds = np.linspace(0, order.size, n_groups + 1).round().astype(np.intp)
    labels = np.empty(Z.shape[0], dtype=np.intp)
    for g in range(n_groups):
        labels[order[bounds[g] : bounds[g + 1]]] = g
    zero = np.flatnonzero(weight <= 0)
    if zero.size:
        edges = proj[order[bounds[1:-1] - 1]]
        labels[zero] = np.searchsorted(edges, proj[zero])
    return labels


#: Blocks of equal weight along a feature between which a node's split may cut
#: (per branch: more branches get finer blocks).
_BLOCKS_PER_BRANCH = 5
#: Rows a node's split search looks at (a random subset of larger nodes).
_MAX_SPLIT_ROWS = 2000


def _segment_sse(gram, cross, yy, ridge):
    """Weighted residual sum of squares of a least-squares fit from its sums."""
    p = gram.shape[0]
    scale = np.trace(gram) / p
    reg = gram + ridge * max(scale, np.finfo(np.float64).tiny) * np.eye(p)
    try:
        coef = np.linalg.solve(reg, cross)
    except np.linalg.LinAlgError:
        coef = np.linalg.lstsq(reg, cross, rcond=None)[0]
    return yy - np.vdot(cross, coef)


def _best_cuts(A, T, w, x, n_groups, min_rows, rng):
    """Best cut of one feature into ``n_groups`` consecutive segments.

    The sampled rows are ordered by ``x`` and grouped into blocks of equal
    weight (block edges jittered by ``rng``); a dynamic programme over the
    blocks picks the ``n_groups`` segments whose least-squares fits of ``T``
    on ``A`` leave the smallest weighted residual sum of squares. Returns
    (sse, thresholds): a row goes to segment ``searchsorted(thresholds, x)``.
    """
    n_blocks = _BLOCKS_PER_BRANCH * n_groups
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    fractions = (np.arange(1, n_blocks) + rng.uniform(-0.4, 0.4, n_blocks - 1)) / (
        n_blocks
    )
    edges = np.searchsorted(cum, fractions * cum[-1], side="left")
    edges = np.clip(edges, 0, x.size - 1)
    thresholds = np.unique(x[order][edges])
    if thresholds.size and thresholds[-1] >= x.max():
        thresholds = thresholds[:-1]
    if thresholds.size < n_groups - 1:
        return np.inf, None
    block = np.searchsorted(thresholds, x, side="left")
    nb = thresholds.size + 1
    p = A.shape[1]
    Aw = A * w[:, None]
    gram = np.zeros((nb + 1, p, p))
    cross = np.zeros((nb + 1, p, T.shape[1]))
    yy = np.zeros(nb + 1)
    count = np.zeros(nb + 1)
    for k in range(nb):
        rows = block == k
        gram[k + 1] = Aw[rows].T @ A[rows]
        cross[k + 1] = Aw[rows].T @ T[rows]
        yy[k + 1] = np.vdot(w[rows, None] * T[rows], T[rows])
        count[k + 1] = rows.sum()
    gram, cross, yy, count = (np.cumsum(a, axis=0) for a in (gram, cross, yy, count))

    sse = np.full((nb + 1, nb + 1), np.inf)
    for i in range(nb):
        for k in range(i + 1, nb + 1):
            if count[k] - count[i] >= min_rows:
                sse[i, k] = _segment_sse(
                    gram[k] - gram[i], cross[k] - cross[i], yy[k] - yy[i], 1e-8
                )
    # cost[s, k]: best s segments covering blocks [0, k).
    cost = np.full((n_groups + 1, nb + 1), np.inf)
    back = np.zeros((n_groups + 1, nb + 1), dtype=np.intp)
    cost[0, 0] = 0.0
    for s in range(1, n_groups + 1):
        for k in range(s, nb + 1):
            totals = cost[s - 1, :k] + sse[:k, k]
            i = int(np.argmin(totals))
            cost[s, k], back[s, k] = totals[i], i
    if not np.isfinite(cost[n_groups, nb]):
        return np.inf, None
    cuts, k = [], nb
    for s in range(n_groups, 1, -1):
        k = back[s, k]
        cuts.append(thresholds[k - 1])
    return cost[n_groups, nb], np.array(cuts[::-1])


def _split_node(X, T, weight, n_groups, min_rows, rng):
    """Labels in ``[0, n_groups)`` for one node's rows (a model-tree split)."""
    positive = np.flatnonzero(weight > 0)
    if positive.size < _BLOCKS_PER_BRANCH * n_groups * min_rows:
        return _balanced_split(X, weight, n_groups, min_rows)
    sample = positive
    if sample.size > _MAX_SPLIT_ROWS:
        sample = np.sort(rng.choice(positive, _MAX_SPLIT_ROWS, replace=False))
    A = np.column_stack([X[sample], np.ones(sample.size)])
    scaled_min = max(1, int(np.ceil(min_rows * sample.size / positive.size)))
    best_sse, best = np.inf, None
    for j in range(X.shape[1]):
        sse, cuts = _best_cuts(
            A, T[sample], weight[sample], X[sample, j], n_groups, scaled_min, rng
        )
        if sse < best_sse:
            best_sse, best = sse, (j, cuts)
    if best is None:
        return _balanced_split(X, weight, n_groups, min_rows)
    j, cuts = best
    labels = np.searchsorted(cuts, X[:, j], side="left")
    if np.bincount(labels[positive], minlength=n_groups).min() < min_rows:
        return _balanced_split(X, weight, n_groups, min_rows)
    return labels


def _hierarchical_labels(X, T, weight, depth, branching, rng):
    """Leaf of each row from recursive model-tree splits.

    Each node's rows are cut into ``branching`` groups along one feature, at
    the cuts (between blocks of equal weight) that minimise the weighted
    residual sum of squares of a least-squares linear fit of ``T`` (the target,
    or class indicators) within each group; then each group is split again,
    down to the leaves. A cut of one feature into consecutive intervals is a
    partition a softmax gate can represent, and sibling leaves start on
    neighbouring regions, as the tree's gates assume. Every leaf receives at
    least one row of positive weight (a node too small to search is split into
    equal blocks along its first principal axis).
    """
    labels = np.zeros(X.shape[0], dtype=np.intp)

    def split(rows, level, offset):
        if level == depth:
            labels[rows] = offset
            return
        below = branching ** (depth - level - 1)
        child = _split_node(X[rows], T[rows], weight[rows], branching, below, rng)
        for c in range(branching):
            split(rows[child == c], level + 1, offset + c * below)

    split(np.arange(X.shape[0]), 0, 0)
    return labels
