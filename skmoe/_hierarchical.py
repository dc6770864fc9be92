"""Hierarchical mixtures of experts (Jordan & Jacobs 1994), fitted by EM.

A hierarchical mixture of experts (HME) replaces the single softmax gate of a
flat mixture by a balanced tree of softmax gates: every internal node splits
its input among ``branching`` children and the leaves are the experts. A
leaf's gate probability is the product of the gate probabilities along its
path from the root.

Jordan & Jacobs' EM needs only the posterior probability of each leaf, so the
flat EM driver (:class:`~skmoe._base.BaseMixtureOfExperts`) fits an HME as it
is, given a *tree gate*: ``TreeGate`` turns leaf posteriors into the
soft targets of every node (the posterior mass under each child) and refits
each node's :class:`~skmoe.SoftmaxGate` weighted by the posterior of reaching
that node. The estimators here only say how the tree is built, initialised
and routed through (:func:`skmoe.inspection.export_text` prints one).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
)

from ._array_api import (
    _float_dtype,
    _namespace,
    _permute_dims,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._gate import (
    SoftmaxGate,
    _BaseGate,
    _GateInputs,
    _log_softmax,
    _original_scale,
    _weighted_standardization,
)
from ._moe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ._validation import _check_weights, _validate_data

__all__ = [
    "HierarchicalMixtureOfExpertsClassifier",
    "HierarchicalMixtureOfExpertsRegressor",
    "TreeGate",
]


# ----------------------------------------------------------------------
# Tree structure (balanced, heap-ordered)
# ----------------------------------------------------------------------
def _level_start(level, branching):
    """Id of the first node of ``level`` (root level 0) in breadth-first order."""
    return (branching**level - 1) // (branching - 1)


def _n_internal(depth, branching):
    return _level_start(depth, branching)


class TreeGate(_BaseGate):
    """A balanced tree of softmax gates: the gate of a hierarchical mixture.

    Every internal node holds a :class:`~skmoe.SoftmaxGate` over its
    ``branching`` children; the ``branching ** depth`` leaves are the experts.
    The probability of leaf ``l`` is the product of the node probabilities on
    the path from the root to ``l``, so its log is the sum of their logs.

    :meth:`fit` is the M-step of Jordan & Jacobs' EM for the gates: given the
    posterior probability ``h_il`` of each leaf for each row, the node ``v`` is
    refitted on the soft targets ``h_i(c) / h_i(v)`` (the posterior mass under
    child ``c`` over the mass under ``v``) with sample weights
    ``w_i * h_i(v)``, the posterior of reaching the node. This maximises
    ``sum_i w_i sum_l h_il log g_l(x_i)`` over all node gates at once, because
    that sum splits into one soft-target cross-entropy per node.

    Nodes are numbered breadth-first: the root is 0 and the children of node
    ``v`` are ``v * branching + 1, ..., v * branching + branching``. Ids from
    ``n_nodes_`` on are leaves: id ``n_nodes_ + l`` is leaf (expert) ``l``, so
    the leaves under a node are a contiguous block, left to right.

    Parameters
    ----------
    depth : int, default=2
        Number of gate levels between the root and the leaves (>= 1). A depth-1
        tree is a single softmax gate: the flat mixture's gate.
    branching : int, default=2
        Number of children of every internal node (>= 2).
    gate : SoftmaxGate or None, default=None
        Template of the node gates (cloned once per node); ``None`` uses
        ``SoftmaxGate()``. If it standardises its inputs, the tree standardises
        them once, with the root's sample weights, and fits every node on the
        same standardised features (``standardize=False`` on the clones), so
        the L2 penalty means the same at every node and does not move between
        EM iterations.
    min_reach : float, default=0.0
        Rows whose posterior probability of reaching a node is at most
        ``min_reach`` are left out of that node's fit (they carry a negligible
        weight there). The root always sees every row.
    warm_start : bool, default=False
        Start every node's L-BFGS from its previous coefficients (the EM
        driver refits the tree every iteration with ``warm_start=True``).

    Attributes
    ----------
    estimators_ : list of SoftmaxGate
        The ``n_nodes_`` fitted node gates, breadth-first. When the template
        standardises, their ``coef_`` refer to the standardised features;
        ``coef_`` and ``intercept_`` below refer to the original ones.
    coef_ : ndarray of shape (n_nodes_, n_features_in_, branching)
        Node gate weights on the original feature scale.
    intercept_ : ndarray of shape (n_nodes_, branching)
        Node gate intercepts on the original feature scale.
    penalty_ : float
        Sum of the node gates' L2 penalties (each ``||W||^2 / (2 C)`` on the
        scale the node was fitted on): the gate term of the EM objective.
    n_nodes_ : int
        Number of internal nodes (gates), ``(branching**depth - 1) /
        (branching - 1)``.
    n_leaves_ : int
        Number of leaves, ``branching ** depth``.
    children_ : ndarray of shape (n_nodes_, branching)
        Node id of each child; ids ``>= n_nodes_`` are leaves.
    node_leaves_ : ndarray of shape (n_nodes_, 2)
        ``[start, stop)`` of the block of leaves under each node.
    leaf_paths_ : ndarray of shape (n_leaves_, depth)
        Branch taken at each level on the way from the root to each leaf.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    See Also
    --------
    SoftmaxGate : The gate of every node.
    HierarchicalMixtureOfExpertsRegressor : A mixture of experts with this gate.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe._hierarchical import TreeGate
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 2))
    >>> posteriors = rng.dirichlet(np.ones(4), size=100)
    >>> tree = TreeGate(depth=2, branching=2).fit(X, posteriors)
    >>> tree.predict_proba(X).shape
    (100, 4)
    >>> sorted(tree.predict_node_proba(X))
    [0, 1, 2]
    """

    _parameter_constraints: dict = {
        "depth": [Interval(Integral, 1, None, closed="left")],
        "branching": [Interval(Integral, 2, None, closed="left")],
        "gate": [SoftmaxGate, None],
        "min_reach": [Interval(Real, 0, 1, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(
        self, depth=2, branching=2, *, gate=None, min_reach=0.0, warm_start=False
    ):
        self.depth = depth
        self.branching = branching
        self.gate = gate
        self.min_reach = min_reach
        self.warm_start = warm_start

    # ------------------------------------------------------------------
    # Structure
    # ------------------------------------------------------------------
    def _set_structure(self):
        d, b = self.depth, self.branching
        self.n_nodes_ = _n_internal(d, b)
        self.n_leaves_ = b**d
        nodes = np.arange(self.n_nodes_)
        self.children_ = nodes[:, None] * b + 1 + np.arange(b)
        level = np.zeros(self.n_nodes_, dtype=np.intp)
        for lev in range(d):
            level[_level_start(lev, b) : _level_start(lev + 1, b)] = lev
        position = nodes - (b**level - 1) // (b - 1)
        width = b ** (d - level)
        self.node_leaves_ = np.column_stack([position * width, (position + 1) * width])
        leaves = np.arange(self.n_leaves_)
        self.leaf_paths_ = np.column_stack(
            [(leaves // b ** (d - 1 - lev)) % b for lev in range(d)]
        ).astype(np.intp)

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, leaf_posteriors, sample_weight=None, check_input=True):
        """Refit every node gate on the leaf posteriors (the EM M-step).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gate inputs.
        leaf_posteriors : array-like of shape (n_samples, branching ** depth)
            Posterior probability of each leaf for each row: non-negative rows
            that sum to one (EM's responsibilities).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; node ``v`` is fitted with weights
            ``sample_weight * h_i(v)``.
        check_input : bool, default=True
            Validate the inputs; ``False`` skips it, for callers that have (as
            :meth:`SoftmaxGate.fit` describes).

        Returns
        -------
        self : TreeGate
            The fitted tree.
        """
        if check_input:
            X, leaf_posteriors, sample_weight = self._check_fit_input(
                X, leaf_posteriors, sample_weight, self.branching**self.depth
            )
        return self._fit_prepared(self._prepare(X, sample_weight), leaf_posteriors)

    def _template(self):
        return SoftmaxGate() if self.gate is None else self.gate

    def _prepare(self, X, sample_weight):
        """The :class:`_GateInputs` of validated ``X`` and ``sample_weight``,
        standardised as the node template says, for :meth:`_fit_prepared`."""
        template = self._template()
        return _GateInputs.prepare(
            X, sample_weight, template.standardize, template.fit_intercept
        )

    def _check_fit_input(self, X, leaf_posteriors, sample_weight, n_leaves):
        X = _validate_data(self, X, dtype=_float_dtype(X))
        post = check_array(leaf_posteriors, dtype=_float_dtype(X))
        if post.shape != (X.shape[0], n_leaves):
            raise ValueError(
                "leaf_posteriors must have shape (n_samples, branching ** depth) = "
                f"{(X.shape[0], n_leaves)}; got {post.shape}."
            )
        xp = _xp_of(post)
        sums = xp.sum(post, axis=1)
        if bool(xp.any(post < 0)) or float(xp.max(xp.abs(sums - 1.0))) > 1e-4:
            raise ValueError(
                "leaf_posteriors must hold non-negative rows that sum to 1."
            )
        sample_weight = _check_weights(sample_weight, X, X.dtype)
        return X, post, sample_weight

    def _fit_prepared(self, inputs, post):
        """``fit(X, post, sample_weight, check_input=False)`` on inputs from
        :meth:`_prepare` (the EM driver prepares them once per run)."""
        Xs, mean, scale = inputs.Xs, inputs.mean, inputs.scale
        xp = _xp_of(Xs)
        n_leaves = self.branching**self.depth
        self.n_features_in_ = Xs.shape[1]
        reuse = (
            self.warm_start
            and hasattr(self, "estimators_")
            and self.coef_.shape == (self.n_nodes_, Xs.shape[1], self.branching)
            and self.n_leaves_ == n_leaves
        )
        if not reuse:
            self._set_structure()
            node_template = clone(self._template()).set_params(
                standardize=False, warm_start=True
            )
            self.estimators_ = [clone(node_template) for _ in range(self.n_nodes_)]
        self._fit_nodes(inputs.as_given(), post)

        # The original-scale coefficients, mapped as SoftmaxGate maps its own.
        coefs, intercepts = zip(
            *(
                _original_scale(node.coef_, node.intercept_, mean, scale)
                for node in self.estimators_
            ),
            strict=True,
        )
        self.coef_ = xp.stack(coefs)
        self.intercept_ = xp.stack(intercepts)
        self.penalty_ = float(sum(node.penalty_ for node in self.estimators_))
        return self

    def _fit_nodes(self, inputs, post):
        Xs, sample_weight = inputs.Xs, inputs.sample_weight
        xp = _xp_of(Xs)
        n, b, d = Xs.shape[0], self.branching, self.depth
        # Posterior mass under every node of each level, leaves upwards.
        mass = [None] * (d + 1)
        mass[d] = post
        for lev in range(d - 1, -1, -1):
            mass[lev] = xp.sum(xp.reshape(mass[lev + 1], (n, b**lev, b)), axis=2)
        threshold = max(self.min_reach, np.finfo(np.float64).tiny)
        for lev in range(d):
            start = _level_start(lev, b)
            for j in range(b**lev):
                node = self.estimators_[start + j]
                children = mass[lev + 1][:, j * b : (j + 1) * b]
                if lev == 0:
                    # Every row reaches the root (its posteriors sum to one): the
                    # root is fitted exactly as a flat gate would be.
                    node._fit_prepared(inputs, children)
                    continue
                reach = mass[lev][:, j]
                keep = xp.nonzero((reach > threshold) & (sample_weight > 0))[0]
                if keep.shape[0] == 0:
                    if not hasattr(node, "coef_"):
                        # A subtree no row reaches: start it at the uniform
                        # split (the optimum of uniform targets is W = 0, b = 0).
                        node.fit(
                            Xs,
                            xp.ones_like(children) / b,
                            sample_weight,
                            check_input=False,
                        )
                    continue
                reach = xp.take(reach, keep, axis=0)
                node.fit(
                    xp.take(Xs, keep, axis=0),
                    xp.take(children, keep, axis=0) / reach[:, None],
                    sample_weight=xp.take(sample_weight, keep, axis=0) * reach,
                    check_input=False,
                )

    def _n_parameters(self):
        """Free parameters: those of every node gate (each node has
        ``(n_features + intercept) * (branching - 1)``)."""
        return sum(node._n_parameters() for node in self.estimators_)

    def _reorder_experts(self, order):
        """Not supported: the leaves' positions are the tree's structure.

        Only the permutations that respect the tree (swapping siblings, or
        whole subtrees) can be carried out by permuting node gates; a
        general order, such as by share, cannot. Hierarchical mixtures keep
        the tree's order (``_canonical_order = False``).
        """
        raise NotImplementedError(
            "TreeGate cannot reorder its leaves: their positions are the tree."
        )

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------
    def _check_X(self, X):
        check_is_fitted(self)
        return _validate_data(self, X, reset=False, dtype=_float_dtype(X))

    def _level_log_proba(self, X, lev):
        """(n, b**lev, b) log-probabilities of the nodes of level ``lev``."""
        xp = _xp_of(X)
        b = self.branching
        start, stop = _level_start(lev, b), _level_start(lev + 1, b)
        m = stop - start
        if m == 1:
            logits = X @ self.coef_[start, ...] + self.intercept_[start, ...]
        else:
            W = xp.reshape(
                _permute_dims(self.coef_[start:stop, ...], (1, 0, 2)),
                (X.shape[1], m * b),
            )
            logits = X @ W + xp.reshape(self.intercept_[start:stop, ...], (m * b,))
        log_p = _log_softmax(xp.reshape(logits, (X.shape[0] * m, b)))
        return xp.reshape(log_p, (X.shape[0], m, b))

    def predict_log_proba(self, X, check_input=True):
        """Log-probability of each leaf: the sum of node log-probabilities on its path.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gate inputs.
        check_input : bool, default=True
            Validate ``X``; ``False`` skips it, for callers that have.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_leaves_)
            Leaf (path) log-probabilities, leaves left to right.
        """
        if check_input:
            X = self._check_X(X)
        xp = _xp_of(X)
        n = X.shape[0]
        log_proba = xp.reshape(self._level_log_proba(X, 0), (n, self.branching))
        for lev in range(1, self.depth):
            node = self._level_log_proba(X, lev)
            log_proba = xp.reshape(log_proba[:, :, None] + node, (n, -1))
        return log_proba

    def predict_proba(self, X):
        """Probability of each leaf (rows sum to one).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gate inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_leaves_)
            Leaf (path) probabilities, leaves left to right.
        """
        log_proba = self.predict_log_proba(X)
        return _xp_of(log_proba).exp(log_proba)

    def predict_node_proba(self, X):
        """Each internal node's gate probabilities over its children.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gate inputs.

        Returns
        -------
        node_proba : dict of int to ndarray of shape (n_samples, branching)
            Node id (breadth-first, root 0) to the probability of each child
            *given* that the row reaches the node; every row sums to one.
        """
        X = self._check_X(X)
        out = {}
        for lev in range(self.depth):
            start = _level_start(lev, self.branching)
            log_proba = self._level_log_proba(X, lev)
            proba = _xp_of(log_proba).exp(log_proba)
            for j in range(proba.shape[1]):
                out[start + j] = proba[:, j, :]
        return out

    def apply(self, X):
        """Leaf reached by following the most probable branch at every node.

        Each node's gate is evaluated only on the rows that reach it, so a
        row costs ``depth`` gate evaluations whatever the number of leaves.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gate inputs.

        Returns
        -------
        leaves : ndarray of shape (n_samples,)
            Leaf (expert) index of each row, in ``[0, n_leaves_)``.
        """
        X = self._check_X(X)
        # Index bookkeeping: on the host, also for device data.
        xp, device = _namespace(X)
        X = _to_numpy(X)
        coef, intercept = _to_numpy(self.coef_), _to_numpy(self.intercept_)
        node = np.zeros(X.shape[0], dtype=np.intp)
        for lev in range(self.depth):
            start = _level_start(lev, self.branching)
            stop = _level_start(lev + 1, self.branching)
            order = np.argsort(node, kind="stable")
            bounds = np.searchsorted(node[order], np.arange(start, stop + 1))
            new = np.empty_like(node)
            for v in range(start, stop):
                rows = order[bounds[v - start] : bounds[v - start + 1]]
                if rows.size == 0:
                    continue
                logits = X[rows] @ coef[v] + intercept[v]
                new[rows] = self.children_[v, np.argmax(logits, axis=1)]
            node = new
        return _to_namespace(node - self.n_nodes_, xp, device)


# ----------------------------------------------------------------------
# Hierarchical initialisation
# ----------------------------------------------------------------------
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


# ----------------------------------------------------------------------
# The estimators
# ----------------------------------------------------------------------
def _hierarchical_constraints(flat, params):
    """The flat estimator's constraints for ``params``, plus the tree's own."""
    constraints = {k: flat[k] for k in params if k in flat}
    constraints["depth"] = [Interval(Integral, 1, None, closed="left")]
    constraints["branching"] = [Interval(Integral, 2, None, closed="left")]
    constraints["init_params"] = [
        StrOptions(
            {"small_em", "hierarchical", "kmeans", "random", "random_from_data"}
        ),
        "array-like",
    ]
    return constraints


def _no_partial_fit(estimator):
    raise AttributeError(
        f"{type(estimator).__name__} has no partial_fit: gradient fitting "
        "supports the flat softmax gate only, and a hierarchical mixture is "
        "fitted by EM. Use fit."
    )


_COMMON_HME_PARAMS = (
    "depth",
    "branching",
    "expert",
    "gate",
    "max_iter",
    "tol",
    "n_init",
    "init_params",
    "routing",
    "top_k",
    "min_responsibility",
    "min_expert_weight",
    "n_jobs",
    "random_state",
    "verbose",
    "warm_start",
    # Unused by EM, but checked like the flat estimators' so that a typo is
    # not accepted silently.
    "solver",
    "batch_size",
    "learning_rate_init",
    "shuffle",
)


class _HierarchicalMixin:
    """What a tree of gates changes in the flat estimators.

    The gate is a :class:`TreeGate` (``_make_gate``); the EM driver's gate
    hooks reach it through the same interface as the flat gate
    (:class:`skmoe._gate._BaseGate`), so only the order of the leaves, the
    initialisation and the tree-specific methods differ here.
    """

    # The tree fixes the order of the leaves: sorting them by share would
    # scramble the sibling structure.
    _canonical_order = False
    _smaller_model = "a smaller tree (depth or branching)"
    _preferred_init = "hierarchical"

    def _describe_n_experts(self):
        return (
            f"The number of leaves, {self.n_experts} (depth={self.depth}, "
            f"branching={self.branching}),"
        )

    @property
    def n_experts(self):
        """Number of leaves (experts), ``branching ** depth``; read-only."""
        return self.branching**self.depth

    def _validate_fit_data(self, X, y):
        X, y = super()._validate_fit_data(X, y)
        self._check_enough_rows(X.shape[0], "samples")
        if self.warm_start and hasattr(self, "gate_"):
            fitted = (self.gate_.depth, self.gate_.branching)
            if fitted != (self.depth, self.branching):
                raise ValueError(
                    "warm_start=True but the fitted tree has depth="
                    f"{fitted[0]} and branching={fitted[1]}, and the parameters "
                    f"ask for depth={self.depth} and branching={self.branching}: "
                    "set warm_start=False to fit a new tree."
                )
        return X, y

    def _make_gate(self):
        template = self.gate
        if template is None and self._default_gate_params:
            template = SoftmaxGate(**self._default_gate_params)
        return TreeGate(
            self.depth,
            self.branching,
            gate=template,
            min_reach=self.min_responsibility,
            warm_start=True,
        )

    _small_em_kinds = ("hierarchical", "kmeans", "random_from_data", "random")

    def _responsibilities_of_kind(self, kind, X, y, sample_weight, lik, rng):
        if kind != "hierarchical":
            return super()._responsibilities_of_kind(
                kind, X, y, sample_weight, lik, rng
            )
        mean, scale = _weighted_standardization(X, sample_weight)
        T = lik.target_columns(y)
        labels = _hierarchical_labels(
            (X - mean) / scale, T, sample_weight, self.depth, self.branching, rng
        )
        resp = np.zeros((X.shape[0], self.n_experts))
        resp[np.arange(X.shape[0]), labels] = 1.0
        return resp

    @available_if(_no_partial_fit)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Not available: a hierarchical mixture is fitted by EM (:meth:`fit`).

        The attribute does not exist (``hasattr(hme, "partial_fit")`` is False),
        and calling it raises ``AttributeError``.
        """

    def predict_node_proba(self, X):
        """Each internal node's gate probabilities over its children.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        node_proba : dict of int to ndarray of shape (n_samples, branching)
            Node id (breadth-first: root 0, children of ``v`` are
            ``v * branching + 1 .. v * branching + branching``) to the
            probability of each child given that the row reaches the node.
            The leaf probabilities (:meth:`predict_gate_proba`) are products
            of these along each path.
        """
        # X first: its check raises NotFittedError before gate_ is looked up.
        X = self._check_X(X, "predict_node_proba")
        return self.gate_.predict_node_proba(X)

    def apply(self, X):
        """Leaf each row is routed to by the most probable branch at every node.

        This is the leaf ``routing='hard'`` uses. It can differ from the argmax
        of :meth:`predict_gate_proba` (the most probable path) when a node is
        nearly undecided.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        leaves : ndarray of shape (n_samples,)
            Leaf (expert) index of each row.
        """
        X = self._check_X(X, "apply")
        return self.gate_.apply(X)


_HME_PARAMS_DOC = """
    depth : int, default=2
        Number of gate levels between the root and the leaves (>= 1). A
        depth-1 tree is the flat mixture with ``branching`` experts.
    branching : int, default=2
        Number of children of every gate (>= 2). The tree has
        ``branching ** depth`` leaves, one expert each.
    expert : estimator, list of estimators or None, default=None
        The expert model. One estimator is cloned for every leaf; a list of
        ``branching ** depth`` estimators gives heterogeneous experts, leaf by
        leaf, left to right. Every nested ``random_state`` is seeded from
        ``random_state``. Experts must accept ``sample_weight`` in ``fit``
        (EM fits leaf l with the posteriors ``h_il`` times the sample
        weights); others raise a ``ValueError`` before any fitting.
        ``None`` uses {default_expert}.
    gate : SoftmaxGate or None, default=None
        Template of every node's gate, cloned once per internal node; ``None``
        uses the flat estimators' default: ``SoftmaxGate()`` (on standardised
        features, with a very weak penalty, ``C=1e4``) for the regressor,
        ``SoftmaxGate(C=1.0)`` for the classifier. The features are
        standardised once for the whole tree, so a penalty
        (``SoftmaxGate(C=...)``) means the same at every node.
    solver : {'em'}, default='em'
        Only EM fits a tree of gates: ``solver='gradient'`` (accepted for
        compatibility with the flat estimators) raises a ``ValueError`` before
        any work. Use the flat estimators for gradient fitting and
        ``partial_fit``.
    max_iter : int, default=300
        Maximum number of EM iterations per run.
    tol : float, default=1e-6
        EM stops when the objective (average log-likelihood per unit of
        sample weight, minus the gates' penalties) changes by less than
        ``tol``, or has not improved by more than ``tol`` for 10 iterations.
    batch_size, learning_rate_init, shuffle : object
        Parameters of gradient fitting in the flat estimators; unused here
        (defaults ``'auto'``, ``0.01`` and ``True``), but validated as there.
    n_init : int, default=1
        Number of EM runs from different initialisations; the best is kept.
    init_params : {'hierarchical', 'small_em', 'kmeans', 'random', \
'random_from_data'} or array-like, default='hierarchical'
        Initial leaf posteriors. ``'hierarchical'``: a model tree, built
        by cutting the rows into ``branching`` intervals of one feature
        (the feature and the equal-weight cuts that minimise the weighted
        residual sum of squares of a linear fit, in each interval, of
        {init_features}), and each interval again, down to the leaves, so
        that sibling leaves start on neighbouring blocks of the data;
        ``'small_em'``: the best of nine short EM runs from the
        hierarchical, k-means, random-row and random starts in turn (see
        the flat estimators); ``'kmeans'``: flat weighted k-means with
        ``branching ** depth`` clusters, leaves in cluster order;
        ``'random'``: uniform random posteriors; ``'random_from_data'``:
        nearest of random rows. An array of shape (n_samples, branching **
        depth) gives them directly.
    routing : {'soft', 'hard', 'top_k'}, default='soft'
        How predictions combine the leaves. ``'soft'``: all leaves weighted by
        their path probabilities; ``'hard'``: the leaf reached by the most
        probable branch at every node (see :meth:`apply`), evaluating only
        that leaf's expert and the ``depth`` gates on the way; ``'top_k'``:
        the ``top_k`` leaves of highest path probability, renormalised.
    top_k : int, default=2
        Number of leaves used per row when ``routing='top_k'``.
    min_responsibility : float, default=1e-6
        Rows whose weight for an expert (posterior times sample weight) is at
        most this value are left out of that expert's fit, and rows whose
        posterior of reaching a node is at most this value are left out of
        that node's gate fit. 0 keeps every row.
    min_expert_weight : 'auto' or float, default='auto'
        A leaf whose total posterior ``sum_i w_i h_il`` (in rows: sample
        weights are rescaled to average one) falls below this is dead;
        ``'auto'``: one row more than the leaf's expert has parameters, and at
        least 2 (see the flat estimators). During EM a dead leaf is
        re-initialised on the rows the mixture explains worst (with a
        ``DeadExpertWarning``, recorded in ``reinitialized_experts_``); a dead
        leaf in the returned model is warned about and listed in
        ``dead_experts_``. Leaves are never
        dropped."""

_HME_TAIL_DOC = """
    n_jobs : int or None, default=None
        Parallel jobs (joblib): the restarts when ``n_init > 1``, otherwise
        the expert fits of each M-step.
    random_state : int, RandomState instance or None, default=None
        Controls the initialisation, the restarts and the experts' own
        ``random_state``.
    verbose : int, default=0
        1 prints a line per run, 2 a line per EM iteration.
    warm_start : bool, default=False
        Continue EM from the fitted model on the next ``fit`` (``n_init`` is
        then ignored); ``depth`` and ``branching`` must stay the same."""

_HME_ATTRS_DOC = """
    experts_ : list of estimators
        The fitted experts, one per leaf, leaves left to right (the order of
        the tree, not sorted by share).
    gate_ : TreeGate
        The fitted tree of gates (``gate_.estimators_`` holds each node's
        :class:`SoftmaxGate`, breadth-first).
    expert_shares_ : ndarray of shape (n_experts,)
        Share of the (weighted) training data each leaf is responsible for.
    n_iter_ : int
        EM iterations of the best run.
    converged_ : bool
        Whether the best run met the stopping rule before ``max_iter``.
    lower_bound_ : float
        Best value of the EM objective (average log-likelihood per unit of
        sample weight minus the gates' L2 penalties over the total weight).
    lower_bounds_ : ndarray of shape (n_iter_,)
        The objective after each EM iteration of the best run; it never
        decreases with experts that fit their weighted likelihood exactly.
    log_likelihood_ : float
        Total weighted training log-likelihood at the best iterate.
    reinitialized_experts_ : list of (int, int)
        (iteration, leaf) pairs at which the best run re-initialised a dead
        leaf.
    dead_experts_ : ndarray of int
        Leaves of the returned model whose total posterior is below
        ``min_expert_weight``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names."""


class HierarchicalMixtureOfExpertsRegressor(
    _HierarchicalMixin, MixtureOfExpertsRegressor
):
    r"""Hierarchical mixture of experts for regression, fitted by EM.

    A balanced tree of softmax gates with an expert at each leaf (Jordan &
    Jacobs, 1994):

    .. math:: p(y \mid x) = \sum_{l} \Big(\prod_{v \to c \,\in\, \mathrm{path}(l)}
              g_{v,c}(x)\Big)\, \mathcal{N}(y;\, f_l(x),\, \sigma_l^2)

    where ``g_v = softmax(x @ V_v + b_v)`` is the gate of internal node ``v``
    and ``f_l`` any scikit-learn regressor with its own noise variance.
    EM fits it with the flat mixture's driver: the E-step gives each leaf's
    posterior, the M-step refits every expert on its posterior and every gate
    on the posterior mass under each of its children, weighted by the
    posterior of reaching it. Everything :class:`MixtureOfExpertsRegressor`
    offers (sample weights, restarts, warm start, routing, dead-expert
    handling, ``n_jobs``) carries over; the experts are the leaves, in tree
    order.

    Read more in the :ref:`User Guide <hierarchical>`.

    Parameters
    ----------{params}
    variance_floor : float, default=1e-6
        Lower bound on each expert's noise variance, as a fraction of the
        (weighted) variance of ``y``, and never below the variance of
        rounding to the target's resolution (see the flat regressor).
    clip_predictions : bool, default=True
        Bound each expert's prediction to ``target_range_`` before mixing
        (see the flat regressor).{tail}

    Attributes
    ----------{attrs}
    noise_variance_ : ndarray of shape (n_experts,)
        Noise variance of each leaf's expert.
    target_range_ : ndarray of shape (2,)
        Smallest and largest value of the training targets and of the
        fitted values; the bounds of ``clip_predictions``.

    See Also
    --------
    MixtureOfExpertsRegressor : The flat mixture (one gate).
    HierarchicalMixtureOfExpertsClassifier : The same model for class labels.
    skmoe.inspection.export_text : A text view of the fitted tree.

    References
    ----------
    M. I. Jordan and R. A. Jacobs. Hierarchical mixtures of experts and the
    EM algorithm. Neural Computation 6(2):181-214, 1994.

    Examples
    --------
    >>> from skmoe import HierarchicalMixtureOfExpertsRegressor
    >>> from skmoe.datasets import make_hierarchical_regimes
    >>> X, y = make_hierarchical_regimes(n_samples=500, random_state=0)
    >>> hme = HierarchicalMixtureOfExpertsRegressor(depth=2, random_state=0)
    >>> hme = hme.fit(X, y)
    >>> hme.n_experts, hme.predict_gate_proba(X[:3]).shape
    (4, (3, 4))
    >>> sorted(hme.predict_node_proba(X[:3]))
    [0, 1, 2]
    """

    _parameter_constraints: dict = _hierarchical_constraints(
        MixtureOfExpertsRegressor._parameter_constraints,
        _COMMON_HME_PARAMS + ("variance_floor", "clip_predictions"),
    )

    def __init__(
        self,
        depth=2,
        *,
        branching=2,
        expert=None,
        gate=None,
        solver="em",
        max_iter=300,
        tol=1e-6,
        batch_size="auto",
        learning_rate_init=0.01,
        shuffle=True,
        n_init=1,
        init_params="hierarchical",
        routing="soft",
        top_k=2,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        variance_floor=1e-6,
        clip_predictions=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.depth = depth
        self.branching = branching
        self.expert = expert
        self.gate = gate
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.n_init = n_init
        self.init_params = init_params
        self.routing = routing
        self.top_k = top_k
        self.min_responsibility = min_responsibility
        self.min_expert_weight = min_expert_weight
        self.variance_floor = variance_floor
        self.clip_predictions = clip_predictions
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit the hierarchical mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; they multiply the posteriors in every M-step
            (experts, noise variances and every node gate) and the log-likelihood.

        Returns
        -------
        self : HierarchicalMixtureOfExpertsRegressor
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)


class HierarchicalMixtureOfExpertsClassifier(
    _HierarchicalMixin, MixtureOfExpertsClassifier
):
    r"""Hierarchical mixture of experts for classification, fitted by EM.

    A balanced tree of softmax gates with a classifier at each leaf (Jordan &
    Jacobs, 1994):

    .. math:: P(y \mid x) = \sum_{l} \Big(\prod_{v \to c \,\in\, \mathrm{path}(l)}
              g_{v,c}(x)\Big)\, P_l(y \mid x)

    with ``P_l`` any scikit-learn classifier's ``predict_proba`` mapped onto
    the global ``classes_``. Fitted by EM with the flat mixture's driver and a
    ``TreeGate``; everything :class:`MixtureOfExpertsClassifier` offers
    carries over.

    Read more in the :ref:`User Guide <hierarchical>`.

    Parameters
    ----------{params}{tail}

    Attributes
    ----------{attrs}
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    See Also
    --------
    MixtureOfExpertsClassifier : The flat mixture (one gate).
    HierarchicalMixtureOfExpertsRegressor : The same model for regression.
    skmoe.inspection.export_text : A text view of the fitted tree.

    References
    ----------
    M. I. Jordan and R. A. Jacobs. Hierarchical mixtures of experts and the
    EM algorithm. Neural Computation 6(2):181-214, 1994.

    Examples
    --------
    >>> from skmoe import HierarchicalMixtureOfExpertsClassifier
    >>> from skmoe.datasets import make_xor
    >>> X, y = make_xor(n_samples=400, random_state=0)
    >>> clf = HierarchicalMixtureOfExpertsClassifier(depth=2, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = _hierarchical_constraints(
        MixtureOfExpertsClassifier._parameter_constraints, _COMMON_HME_PARAMS
    )

    def __init__(
        self,
        depth=2,
        *,
        branching=2,
        expert=None,
        gate=None,
        solver="em",
        max_iter=300,
        tol=1e-6,
        batch_size="auto",
        learning_rate_init=0.01,
        shuffle=True,
        n_init=1,
        init_params="hierarchical",
        routing="soft",
        top_k=2,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.depth = depth
        self.branching = branching
        self.expert = expert
        self.gate = gate
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.n_init = n_init
        self.init_params = init_params
        self.routing = routing
        self.top_k = top_k
        self.min_responsibility = min_responsibility
        self.min_expert_weight = min_expert_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit the hierarchical mixture by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; they multiply the posteriors in every M-step and
            the log-likelihood.

        Returns
        -------
        self : HierarchicalMixtureOfExpertsClassifier
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)


for _cls, _expert, _features in [
    (
        HierarchicalMixtureOfExpertsRegressor,
        "``LinearRegression()``",
        "the target",
    ),
    (
        HierarchicalMixtureOfExpertsClassifier,
        "``LogisticRegression(tol=1e-6, max_iter=1000)``\n        (as for "
        ":class:`MixtureOfExpertsClassifier`)",
        "the class indicators",
    ),
]:
    _cls.__doc__ = (
        _cls.__doc__.replace(
            "{params}",
            _HME_PARAMS_DOC.replace("{default_expert}", _expert).replace(
                "{init_features}", _features
            ),
        )
        .replace("{tail}", _HME_TAIL_DOC)
        .replace("{attrs}", _HME_ATTRS_DOC)
    )
