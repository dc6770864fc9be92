"""Growing and pruning the tree of a hierarchical mixture by a warm start
with another ``depth`` (issue 16, point 2: Waterhouse & Robinson's
constructive HME on skmoe's balanced trees)."""

import copy
import warnings

import numpy as np
import pytest
import sklearn
from _support import NEEDS_DISPATCH
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression

from skmoe import (
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
)
from skmoe._array_api import _DEVICE_SUPPORT
from skmoe._resize import _posterior
from skmoe._tree_resize import _tree_resized_start
from skmoe.datasets import make_hierarchical_regimes, make_piecewise_linear, make_xor


@pytest.fixture(scope="module")
def regimes():
    """Four linear regimes behind a two-level split: a depth-2 HME is the
    true model."""
    return make_hierarchical_regimes(n_samples=600, random_state=0)


def _quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def _fresh_optima(X, y, depth):
    """Log-likelihoods of three fresh fits of ``depth`` (seeds 0 to 2)."""
    return [
        HierarchicalMixtureOfExpertsRegressor(depth=depth, random_state=seed)
        .fit(X, y)
        .log_likelihood_
        for seed in range(3)
    ]


def _check_consistent(est, depth, n_rows):
    """Every fitted attribute describes the same tree of ``depth``."""
    b = est.branching
    n_leaves = b**depth
    n_nodes = (n_leaves - 1) // (b - 1)
    gate = est.gate_
    assert est.n_experts == len(est.experts_) == gate.n_leaves_ == n_leaves
    assert gate.depth == depth and gate.n_nodes_ == len(gate.estimators_) == n_nodes
    assert gate.coef_.shape == (n_nodes, est.n_features_in_, b)
    assert gate.intercept_.shape == (n_nodes, b)
    assert gate.children_.shape == (n_nodes, b)
    assert est.expert_shares_.shape == (n_leaves,)
    assert_allclose(est.expert_shares_.sum(), 1.0)
    if hasattr(est, "noise_variance_"):
        assert est.noise_variance_.shape == (n_leaves,)
    assert np.isfinite(est.log_likelihood_) and np.isfinite(est.lower_bounds_).all()
    assert est.predict_gate_proba(np.zeros((3, est.n_features_in_))).shape == (
        3,
        n_leaves,
    )
    assert sorted(est.predict_node_proba(np.zeros((1, est.n_features_in_)))) == list(
        range(n_nodes)
    )
    assert est.apply(np.zeros((2, est.n_features_in_))).max() < n_leaves


def test_growing_reaches_the_deeper_optimum(regimes):
    X, y = regimes
    est = HierarchicalMixtureOfExpertsRegressor(
        depth=1, warm_start=True, random_state=0
    )
    small = est.fit(X, y).log_likelihood_
    est.set_params(depth=2).fit(X, y)
    _check_consistent(est, 2, X.shape[0])
    fresh = _fresh_optima(X, y, depth=2)
    assert est.log_likelihood_ >= small
    # The best of three fresh depth-2 fits, to 1e-4 nats per row.
    assert est.log_likelihood_ >= max(fresh) - 1e-4 * X.shape[0]
    # The true model: four regimes with noise 0.1.
    assert_allclose(np.sort(est.noise_variance_), 0.01, rtol=0.3)


@pytest.mark.parametrize(
    "seed, depths, branching",
    [(0, (1, 3), 2), (1, (1, 2), 2), (2, (2, 3), 2), (3, (1, 2), 3)],
)
def test_growing_never_lowers_the_log_likelihood(seed, depths, branching):
    X, y = make_piecewise_linear(n_samples=300, noise=0.5, random_state=seed)
    w = np.random.RandomState(seed).uniform(0.5, 2.0, X.shape[0])
    est = HierarchicalMixtureOfExpertsRegressor(
        depth=depths[0], branching=branching, warm_start=True, random_state=seed
    )
    before = _quiet(est.fit, X, y, sample_weight=w).log_likelihood_
    after = _quiet(est.set_params(depth=depths[1]).fit, X, y, sample_weight=w)
    assert after.log_likelihood_ >= before
    _check_consistent(est, depths[1], X.shape[0])


@pytest.mark.parametrize(
    "params, two_targets",
    [
        ({"likelihood": "student_t", "branching": 3}, False),
        ({"covariance_type": "full"}, True),
        ({"covariance_type": "diag"}, True),
    ],
)
def test_growing_and_pruning_other_families(params, two_targets):
    """Each leaf's family parameters (t scale and degrees of freedom, a
    noise covariance per leaf for several targets) follow the leaf into its
    children and back."""
    X, y = make_piecewise_linear(n_samples=300, noise=0.5, random_state=0)
    rng = np.random.default_rng(0)
    if two_targets:
        y = np.column_stack([y, 0.5 * y + rng.normal(0.0, 0.3, y.size)])
    else:
        y = y + 0.3 * rng.standard_t(3, y.size)
    est = HierarchicalMixtureOfExpertsRegressor(
        depth=1, warm_start=True, random_state=0, **params
    )
    before = _quiet(est.fit, X, y).log_likelihood_
    shape = est.noise_variance_.shape[1:]
    _quiet(est.set_params(depth=2).fit, X, y)
    assert est.log_likelihood_ >= before
    n_leaves = est.branching**2
    assert est.noise_variance_.shape == (n_leaves, *shape)
    assert len(est.experts_) == n_leaves
    if "likelihood" in params:
        assert est.df_.shape == (n_leaves,)
    assert est.predict(X[:3]).shape == y[:3].shape
    _quiet(est.set_params(depth=1).fit, X, y)
    assert est.noise_variance_.shape == (est.branching, *shape)
    assert np.isfinite(est.log_likelihood_)


def _start(est, X, y, depth):
    """The resized start of ``est`` (fitted, unit weights) for ``depth``."""
    w = np.ones(X.shape[0])
    lik = est._likelihood(y, w)
    state = copy.deepcopy(est._get_state())
    est = copy.deepcopy(est).set_params(depth=depth)
    return est, _tree_resized_start(est, state, X, y, w, lik)


def test_the_grown_tree_starts_from_the_smaller_model(regimes):
    """The exact-copy start has the fitted model's density; the split start
    has its gate (each leaf's mass shared evenly by its children) and
    children fitted on either side of their leaf's predictions."""
    X, y = regimes
    est = HierarchicalMixtureOfExpertsRegressor(depth=1, random_state=0).fit(X, y)
    deeper, (start, duplicate, floor) = _start(est, X, y, 2)
    assert_allclose(floor, est.score_samples(X, y).sum(), rtol=1e-12)
    assert_allclose(_posterior(deeper, duplicate, X, y)[2], est.score_samples(X, y))
    old_gate = est.predict_gate_proba(X)
    for state in (start, duplicate):
        gate = state["gate"]
        # The new level's gates are even: W = 0, b = 0.
        assert_array_equal(gate.coef_[1:], 0.0)
        assert_array_equal(gate.intercept_[1:], 0.0)
        assert_array_equal(gate.coef_[0], est.gate_.coef_[0])
        assert_allclose(gate.predict_proba(X), np.repeat(old_gate, 2, axis=1) / 2)
    # The split children: new fits, one on each side of their leaf's line.
    resp = est.predict_responsibilities(X, y)
    for leaf in range(2):
        parent = est.experts_[leaf]
        above = y > parent.predict(X)
        for child, side in zip(
            start["experts"][2 * leaf : 2 * leaf + 2], (above, ~above), strict=True
        ):
            by_hand = LinearRegression().fit(X, y, sample_weight=resp[:, leaf] * side)
            assert_allclose(child.coef_, by_hand.coef_, rtol=1e-8)
        assert duplicate["experts"][2 * leaf].coef_.tolist() == parent.coef_.tolist()


def test_pruning_fits_each_subtree_expert_on_its_rows(regimes):
    X, y = regimes
    est = HierarchicalMixtureOfExpertsRegressor(depth=2, random_state=0).fit(X, y)
    shallower, (start, duplicate, floor) = _start(est, X, y, 1)
    assert duplicate is None and floor is None
    gate = start["gate"]
    assert gate.depth == 1 and len(gate.estimators_) == 1
    assert_array_equal(gate.coef_[0], est.gate_.coef_[0])
    assert_array_equal(gate.intercept_[0], est.gate_.intercept_[0])
    resp = est.predict_responsibilities(X, y)
    for leaf in range(2):
        h = resp[:, 2 * leaf : 2 * leaf + 2].sum(axis=1)
        by_hand = LinearRegression().fit(X, y, sample_weight=h)
        assert_allclose(start["experts"][leaf].coef_, by_hand.coef_, rtol=1e-8)
        residual = h @ (y - by_hand.predict(X)) ** 2 / h.sum()
        assert_allclose(start["noise_variance"][leaf], residual, rtol=1e-8)


def test_pruning_reaches_the_shallower_optimum(regimes):
    X, y = regimes
    est = HierarchicalMixtureOfExpertsRegressor(depth=2, random_state=0).fit(X, y)
    est.set_params(depth=1, warm_start=True).fit(X, y)
    _check_consistent(est, 1, X.shape[0])
    fresh = _fresh_optima(X, y, depth=1)
    assert est.log_likelihood_ >= max(fresh) - 1e-4 * X.shape[0]
    # EM continued from the pruned start: its objective never fell.
    assert np.all(np.diff(est.lower_bounds_) >= -1e-10)


def test_growing_and_pruning_a_classifier():
    X, y = make_xor(n_samples=400, random_state=0)
    est = HierarchicalMixtureOfExpertsClassifier(
        depth=1, warm_start=True, random_state=0
    )
    before = est.fit(X, y).log_likelihood_
    est.set_params(depth=3).fit(X, y)
    _check_consistent(est, 3, X.shape[0])
    assert est.log_likelihood_ >= before
    assert est.score(X, y) > 0.95
    est.set_params(depth=2).fit(X, y)
    _check_consistent(est, 2, X.shape[0])
    assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    assert est.score(X, y) > 0.95


def test_another_branching_is_refused_and_the_model_kept(regimes):
    X, y = regimes
    est = HierarchicalMixtureOfExpertsRegressor(
        depth=1, warm_start=True, random_state=0
    )
    est.fit(X, y)
    experts, gate, prediction = est.experts_, est.gate_, est.predict(X)
    with pytest.raises(ValueError, match="changing depth only. Keep branching=2"):
        est.set_params(depth=2, branching=3).fit(X, y)
    assert est.experts_ is experts and est.gate_ is gate
    assert_array_equal(est.predict(X), prediction)


@NEEDS_DISPATCH
@pytest.mark.skipif(not _DEVICE_SUPPORT, reason="needs scikit-learn >= 1.9")
def test_resizing_on_array_api_inputs_is_refused(regimes):
    xps = pytest.importorskip("array_api_strict")
    X, y = regimes
    with sklearn.config_context(array_api_dispatch=True):
        Xx, yx = xps.asarray(X), xps.asarray(y)
        est = HierarchicalMixtureOfExpertsRegressor(
            depth=1, warm_start=True, random_state=0
        )
        _quiet(est.fit, Xx, yx)
        gate = est.gate_
        with pytest.raises(ValueError, match="grows or prunes the tree by EM on NumPy"):
            est.set_params(depth=2).fit(Xx, yx)
    assert est.gate_ is gate and len(est.experts_) == 2
