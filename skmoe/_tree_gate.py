"""The tree gate of a hierarchical mixture: a balanced tree of softmax gates.

Jordan & Jacobs' EM needs only the posterior probability of each leaf, so
the flat EM driver fits a hierarchical mixture given a gate that turns leaf
posteriors into the soft targets of every node (the posterior mass under
each child) and refits each node's :class:`~skmoe.SoftmaxGate` weighted by
the posterior of reaching that node: :class:`TreeGate`.
"""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import Interval
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
)
from ._validation import _check_weights, _validate_data

__all__ = ["TreeGate"]


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
            node_template = self._node_template()
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

    def _node_template(self):
        """The unfitted gate of every node: the template, fitted on the
        tree's standardised features."""
        return clone(self._template()).set_params(standardize=False, warm_start=True)

    def _with_depth(self, depth, estimators, coef, intercept):
        """A fitted tree of ``depth`` with these node gates (breadth-first)
        and original-scale coefficients; the other fitted attributes are
        this tree's."""
        tree = clone(self).set_params(depth=depth)
        tree._set_structure()
        tree.estimators_ = estimators
        tree.coef_, tree.intercept_ = coef, intercept
        tree.penalty_ = float(sum(node.penalty_ for node in estimators))
        tree.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            tree.feature_names_in_ = self.feature_names_in_
        return tree

    def _grown(self, X, sample_weight):
        """This tree one level deeper: every leaf becomes a node whose gate
        sends each row to its children with equal probability (``W = 0,
        b = 0``, the fit of uniform targets on the fitted ``X`` and
        ``sample_weight``), so the new leaf ``l * branching + c`` has the
        probability of old leaf ``l`` over ``branching``. The old nodes are
        copies, their ids unchanged. NumPy inputs only."""
        check_is_fitted(self)
        b = self.branching
        inputs = self._prepare(X, sample_weight).as_given()
        uniform = np.full((inputs.Xs.shape[0], b), 1.0 / b)
        even = self._node_template()
        even.n_features_in_ = inputs.Xs.shape[1]
        even._fit_prepared(inputs, uniform)
        return self._with_depth(
            self.depth + 1,
            [copy.deepcopy(node) for node in self.estimators_]
            + [copy.deepcopy(even) for _ in range(self.n_leaves_)],
            np.concatenate([self.coef_, np.zeros((self.n_leaves_, *even.coef_.shape))]),
            np.concatenate([self.intercept_, np.zeros((self.n_leaves_, b))]),
        )

    def _pruned(self, depth):
        """This tree cut at ``depth``: the nodes of the levels below become
        leaves; the nodes above are kept (copies)."""
        check_is_fitted(self)
        n_nodes = _n_internal(depth, self.branching)
        return self._with_depth(
            depth,
            [copy.deepcopy(node) for node in self.estimators_[:n_nodes]],
            self.coef_[:n_nodes, ...],
            self.intercept_[:n_nodes, ...],
        )

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
