"""The gate interface (skmoe._gate._BaseGate) that the estimators use."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skmoe import HierarchicalMixtureOfExpertsRegressor, SoftmaxGate
from skmoe._gate import _BaseGate
from skmoe._tree_gate import TreeGate
from skmoe.datasets import make_hierarchical_regimes


def _soft_targets(n_samples, n_classes, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 3))
    logits = X @ rng.normal(size=(3, n_classes))
    targets = np.exp(logits - logits.max(axis=1, keepdims=True))
    return X, targets / targets.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("gate", [SoftmaxGate(), TreeGate()], ids=["softmax", "tree"])
def test_both_gates_implement_the_interface(gate):
    assert isinstance(gate, _BaseGate)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [1, 2, 4])
def test_softmax_gate_parameter_count(fit_intercept, n_classes):
    X, targets = _soft_targets(50, n_classes)
    gate = SoftmaxGate(fit_intercept=fit_intercept).fit(X, targets)
    n_features = X.shape[1]
    assert gate._n_parameters() == (n_features + fit_intercept) * (n_classes - 1)


def test_softmax_gate_parameter_count_after_label_fit():
    X, _ = _soft_targets(60, 3)
    y = np.repeat(["a", "b", "c"], 20)
    assert SoftmaxGate().fit(X, y)._n_parameters() == (3 + 1) * (3 - 1)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("depth, branching", [(1, 2), (2, 2), (2, 3), (3, 2)])
def test_tree_gate_parameter_count(depth, branching, fit_intercept):
    X, post = _soft_targets(80, branching**depth)
    gate = SoftmaxGate(fit_intercept=fit_intercept)
    tree = TreeGate(depth, branching, gate=gate).fit(X, post)
    n_nodes = (branching**depth - 1) // (branching - 1)
    expected = n_nodes * (X.shape[1] + fit_intercept) * (branching - 1)
    assert tree._n_parameters() == expected


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mixture_counts_its_gate_through_the_interface():
    X, y = make_hierarchical_regimes(300, noise=0.3, random_state=0)
    hme = HierarchicalMixtureOfExpertsRegressor(2, max_iter=5, random_state=0)
    hme.fit(X, y)
    assert hme._n_gate_parameters(hme.gate_) == hme.gate_._n_parameters() == 9


@pytest.mark.parametrize("n_classes", [2, 4])
def test_reordered_softmax_gate_permutes_its_probabilities(n_classes):
    X, targets = _soft_targets(100, n_classes)
    gate = SoftmaxGate().fit(X, targets)
    before = gate.predict_proba(X)
    coef, intercept = gate.coef_.copy(), gate.intercept_.copy()
    order = np.roll(np.arange(n_classes), 1)
    assert gate._reorder_experts(order) is gate
    assert_array_equal(gate.coef_, coef[:, order])
    assert_array_equal(gate.intercept_, intercept[order])
    after = gate.predict_proba(X)
    if n_classes == 2:
        # Two terms sum to the same normaliser in either order.
        assert_array_equal(after, before[:, order])
    else:
        # The softmax's normaliser is summed in the new order.
        assert_allclose(after, before[:, order], rtol=1e-15, atol=0)
    assert_array_equal(gate.apply(X), np.argmax(after, axis=1))


def test_tree_gate_does_not_reorder_its_leaves():
    X, post = _soft_targets(40, 4)
    tree = TreeGate(depth=2).fit(X, post)
    with pytest.raises(NotImplementedError, match="leaves"):
        tree._reorder_experts([1, 0, 2, 3])


def test_softmax_gate_apply_is_the_most_probable_class():
    X, targets = _soft_targets(200, 3)
    gate = SoftmaxGate().fit(X, targets)
    leaves = gate.apply(X)
    assert leaves.dtype.kind == "i"
    assert_array_equal(leaves, np.argmax(gate.predict_proba(X), axis=1))


def test_tree_gate_apply_follows_the_branches():
    X, post = _soft_targets(200, 4)
    tree = TreeGate(depth=2).fit(X, post)
    node = tree.predict_node_proba(X)
    first = np.argmax(node[0], axis=1)
    second = np.where(
        first == 0, np.argmax(node[1], axis=1), np.argmax(node[2], axis=1)
    )
    assert_array_equal(tree.apply(X), 2 * first + second)


def test_penalty_continuation_is_a_flat_gate_option():
    # EM's penalty continuation uses _penalty_C/_set_penalty_C where a gate
    # has them; a tree is fitted with its own penalty throughout.
    gate = SoftmaxGate(C=10.0)
    assert gate._penalty_C() == 10.0
    assert gate._set_penalty_C(3.0) is gate and gate.C == 3.0
    assert not hasattr(TreeGate(), "_penalty_C")
