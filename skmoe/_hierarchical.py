"""Hierarchical mixtures of experts (Jordan & Jacobs 1994), fitted by EM.

A hierarchical mixture of experts (HME) replaces the single softmax gate of a
flat mixture by a balanced tree of softmax gates: every internal node splits
its input among ``branching`` children and the leaves are the experts. A
leaf's gate probability is the product of the gate probabilities along its
path from the root.

Jordan & Jacobs' EM needs only the posterior probability of each leaf, so the
flat EM driver (:class:`~skmoe._base.BaseMixtureOfExperts`) fits an HME as it
is, given a *tree gate* (:class:`~skmoe._tree_gate.TreeGate`). The estimators
here only say how the tree is built, initialised (``skmoe._hierarchical_init``)
and routed through (:func:`skmoe.inspection.export_text` prints one).
"""

from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseMixtureOfExperts
from ._classifier import _MixtureClassifierMixin
from ._docstrings import _hierarchical_doc, _regressor_doc
from ._gate import SoftmaxGate, _weighted_standardization
from ._hierarchical_init import _hierarchical_labels
from ._regressor import _MixtureRegressorMixin
from ._tree_gate import TreeGate
from ._tree_resize import _tree_resized_start
from ._validation import _keeps_float32

# TreeGate lives in _tree_gate; it stays importable from here, where it was.
__all__ = [
    "HierarchicalMixtureOfExpertsClassifier",
    "HierarchicalMixtureOfExpertsRegressor",
    "TreeGate",
]


# ----------------------------------------------------------------------
# The estimators
# ----------------------------------------------------------------------
#: The hierarchical estimators' own parameters: the shape of the tree, and
#: its own kind of start.
_TREE_PARAMETER_CONSTRAINTS = {
    "depth": [Interval(Integral, 1, None, closed="left")],
    "branching": [Interval(Integral, 2, None, closed="left")],
    "init_params": [
        StrOptions(
            {"small_em", "hierarchical", "kmeans", "random", "random_from_data"}
        ),
        "array-like",
    ],
}


class _HierarchicalMixin:
    """What a tree of gates changes in the base estimator.

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
            fitted = self.gate_.branching
            if fitted != self.branching:
                raise ValueError(
                    f"warm_start=True but the fitted tree has branching={fitted} "
                    f"and the parameters ask for branching={self.branching}: a "
                    "warm start grows or prunes the tree by changing depth only. "
                    f"Keep branching={fitted}, or set warm_start=False to fit a "
                    "new tree."
                )
        return X, y

    def _check_resizable(self, xp):
        """A warm start with another ``depth`` grows or prunes the tree by
        EM on NumPy inputs."""
        if xp is not np:
            raise ValueError(
                f"warm_start=True with depth={self.depth} (the fitted tree has "
                f"depth={self.gate_.depth}) grows or prunes the tree by EM on "
                "NumPy inputs: convert the data to NumPy arrays, or set "
                "warm_start=False to fit a new tree."
            )

    def _resized_start(self, state, X, y, w, lik):
        return _tree_resized_start(self, state, X, y, w, lik)

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

    @_keeps_float32
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


class HierarchicalMixtureOfExpertsRegressor(
    _HierarchicalMixin, _MixtureRegressorMixin, BaseMixtureOfExperts
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
    {likelihood}
    variance_floor : float, default=1e-6
        Lower bound on each expert's noise variance, as a fraction of the
        (weighted) variance of ``y``, and never below the variance of
        rounding to the target's resolution (see the flat regressor).
    clip_predictions : bool, default=True
        Bound each expert's prediction to ``target_range_`` before mixing
        (see the flat regressor).{multi_output}{tail}

    Attributes
    ----------{attrs}{noise_attrs}

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

    _parameter_constraints: dict = {
        **BaseMixtureOfExperts._parameter_constraints,
        **_MixtureRegressorMixin._regressor_parameter_constraints,
        **_TREE_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        depth=2,
        *,
        branching=2,
        expert=None,
        gate=None,
        max_iter=300,
        tol=1e-6,
        n_init=1,
        init_params="hierarchical",
        routing="soft",
        top_k=2,
        fit_top_k=None,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        expert_errors="isolate",
        likelihood="gaussian",
        variance_floor=1e-6,
        clip_predictions=True,
        covariance_type="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
        verbose_interval=10,
        progress_bar=False,
        warm_start=False,
    ):
        self.depth = depth
        self.branching = branching
        self.likelihood = likelihood
        self.variance_floor = variance_floor
        self.clip_predictions = clip_predictions
        self.covariance_type = covariance_type
        super().__init__(
            expert=expert,
            gate=gate,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            fit_top_k=fit_top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            expert_errors=expert_errors,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            verbose_interval=verbose_interval,
            progress_bar=progress_bar,
            warm_start=warm_start,
        )

    @_fit_context(prefer_skip_nested_validation=False)
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
        return self._fit(X, y, sample_weight)


class HierarchicalMixtureOfExpertsClassifier(
    _HierarchicalMixin, _MixtureClassifierMixin, BaseMixtureOfExperts
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

    _parameter_constraints: dict = {
        **BaseMixtureOfExperts._parameter_constraints,
        **_TREE_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        depth=2,
        *,
        branching=2,
        expert=None,
        gate=None,
        max_iter=300,
        tol=1e-6,
        n_init=1,
        init_params="hierarchical",
        routing="soft",
        top_k=2,
        fit_top_k=None,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        expert_errors="isolate",
        n_jobs=None,
        random_state=None,
        verbose=0,
        verbose_interval=10,
        progress_bar=False,
        warm_start=False,
    ):
        self.depth = depth
        self.branching = branching
        super().__init__(
            expert=expert,
            gate=gate,
            max_iter=max_iter,
            tol=tol,
            n_init=n_init,
            init_params=init_params,
            routing=routing,
            top_k=top_k,
            fit_top_k=fit_top_k,
            min_responsibility=min_responsibility,
            min_expert_weight=min_expert_weight,
            expert_errors=expert_errors,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            verbose_interval=verbose_interval,
            progress_bar=progress_bar,
            warm_start=warm_start,
        )

    @_fit_context(prefer_skip_nested_validation=False)
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
        return self._fit(X, y, sample_weight)


HierarchicalMixtureOfExpertsRegressor.__doc__ = _regressor_doc(
    _hierarchical_doc(HierarchicalMixtureOfExpertsRegressor.__doc__, "regressor"),
    leaf=" One per leaf, in tree order.",
)
HierarchicalMixtureOfExpertsClassifier.__doc__ = _hierarchical_doc(
    HierarchicalMixtureOfExpertsClassifier.__doc__, "classifier"
)
