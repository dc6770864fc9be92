"""The gate interface (skmoe._gate._BaseGate) that the estimators use."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

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


def _gate_problem(n=3000, seed=0):
    """Soft targets of a true softmax on features in very different units."""
    rng = np.random.RandomState(seed)
    scale = np.array([1.0, 10.0, 100.0, 0.1, 1.0])
    Z = rng.normal(size=(n, 5))
    T = np.exp(Z @ rng.normal(size=(5, 4)))
    T /= T.sum(axis=1, keepdims=True)
    return Z * scale + [0, 0, 1000, 0, 0], T, rng.uniform(0, 2, size=n)


@pytest.mark.parametrize(
    "C, fit_intercept", [(1e4, True), (1.0, True), (np.inf, True), (10.0, False)]
)
def test_newton_and_lbfgs_reach_the_same_optimum(C, fit_intercept):
    X, T, w = _gate_problem()
    fits = [
        SoftmaxGate(
            C, fit_intercept=fit_intercept, solver=solver, tol=1e-10, max_iter=2000
        ).fit(X, T, w)
        for solver in ("newton", "lbfgs")
    ]
    newton, lbfgs = fits
    assert newton.converged_ and lbfgs.converged_
    assert newton.n_iter_ < lbfgs.n_iter_
    assert abs(newton.objective_ - lbfgs.objective_) < 1e-12
    assert newton.objective_ <= lbfgs.objective_ + 1e-15
    # L-BFGS stops a little short of the optimum Newton reaches.
    assert_allclose(newton.predict_proba(X), lbfgs.predict_proba(X), atol=1e-5)
    # The same identifiability convention: intercepts (unpenalised) and,
    # without a penalty, coefficients summing to zero over the classes, from
    # the default start; penalised coefficients sum to zero at the optimum.
    for gate in fits:
        assert abs(gate.intercept_.sum()) <= 1e-8 * np.abs(gate.intercept_).max()
        assert_allclose(gate.coef_.sum(axis=1), 0.0, atol=1e-8)
    assert_allclose(newton.coef_, lbfgs.coef_, rtol=1e-4, atol=1e-6)


def test_newton_optimum_has_zero_gradient():
    # The optimum against the objective itself (not another solver): its
    # gradient on the standardised scale, by the NumPy twin of the kernel.
    from skmoe._kernels import softmax_cross_entropy_reference

    X, T, w = _gate_problem(seed=1)
    gate = SoftmaxGate(C=5.0, solver="newton", tol=1e-12).fit(X, T, w)
    mean = w @ X / w.sum()
    scale = np.sqrt(w @ (X - mean) ** 2 / w.sum())
    W = gate.coef_ * scale[:, None]
    b = gate.intercept_ + mean @ gate.coef_
    Xs = (X - mean) / scale
    TT = np.ascontiguousarray((T * w[:, None]).T)
    _, grad = softmax_cross_entropy_reference(
        np.ascontiguousarray(Xs.T), W, b, TT, TT.sum(axis=0)
    )
    grad[:-1] += W / 5.0
    assert np.max(np.abs(grad)) / w.sum() < 1e-10


def test_newton_steps_never_raise_the_objective():
    # Each capped fit from the previous one (an EM M-step) lowers the
    # objective or leaves it, from a start far from the optimum.
    X, T, w = _gate_problem(seed=2)
    gate = SoftmaxGate(C=1e4, solver="newton", max_iter=1, warm_start=True)
    gate.coef_ = np.full((5, 4), 3.0) * [[1], [-1], [1], [-1], [1]] * [1, -2, 0, 1]
    gate.intercept_ = np.array([5.0, -5.0, 0.0, 0.0])
    # Saturated probabilities: the Hessian nearly vanishes there.
    objectives = []
    with pytest.warns(ConvergenceWarning):
        for _ in range(8):
            gate.fit(X, T, w)
            objectives.append(gate.objective_)
    assert np.all(np.diff(objectives) <= 0)
    assert objectives[-1] < 0.5 * objectives[0]
    # Uncapped, the same start reaches the optimum of a default start.
    final = SoftmaxGate(C=1e4, solver="newton").fit(X, T, w).objective_
    assert abs(gate.set_params(max_iter=200).fit(X, T, w).objective_ - final) < 1e-9


@pytest.mark.parametrize(
    "n_features, n_classes, newton",
    [(5, 4, True), (15, 5, True), (16, 5, False), (63, 2, True), (64, 2, False)],
)
def test_auto_solver_chooses_by_parameter_count(n_features, n_classes, newton):
    gate = SoftmaxGate()
    assert gate._uses_newton(n_features, n_classes) is newton
    assert SoftmaxGate(solver="lbfgs")._uses_newton(n_features, n_classes) is False
    assert SoftmaxGate(solver="newton")._uses_newton(n_features, n_classes) is True


def test_em_is_monotone_with_one_newton_step_per_iteration():
    from skmoe import MixtureOfExpertsRegressor
    from skmoe.datasets import make_piecewise_linear

    X, y = make_piecewise_linear(n_samples=800, noise=0.1, random_state=3)
    moe = MixtureOfExpertsRegressor(
        3,
        gate=SoftmaxGate(solver="newton", max_iter=1),
        min_responsibility=0.0,
        random_state=0,
        max_iter=80,
    ).fit(X, y)
    assert moe.lower_bounds_.size > 5
    assert np.all(np.diff(moe.lower_bounds_) >= -1e-10)
