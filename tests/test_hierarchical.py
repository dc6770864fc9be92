"""Tests of the hierarchical mixtures of experts and their tree gate."""

import re
import warnings
from itertools import permutations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    DeadExpertWarning,
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe._gate import _weighted_standardization
from skmoe._hierarchical_init import _hierarchical_labels
from skmoe._tree_gate import TreeGate
from skmoe.datasets import (
    make_hierarchical_regimes,
    make_moe_classification,
    make_piecewise_linear,
    make_xor,
)
from skmoe.inspection import export_text


@pytest.fixture(scope="module")
def regimes():
    """Training and held-out data from the two-level regime generator."""
    train = make_hierarchical_regimes(
        1000, noise=0.2, random_state=0, return_params=True
    )
    test = make_hierarchical_regimes(
        2000, noise=0.2, random_state=1, return_params=True
    )
    return train, test


def _best_permutation(leaf, regime, n_leaves):
    """Map from fitted leaf to true regime that maximises the agreement."""
    return np.array(
        max(
            permutations(range(n_leaves)),
            key=lambda p: np.mean(np.asarray(p)[leaf] == regime),
        )
    )


# ----------------------------------------------------------------------
# The tree gate
# ----------------------------------------------------------------------
def test_tree_gate_structure():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    tree = TreeGate(depth=2, branching=3).fit(X, rng.dirichlet(np.ones(9), size=60))
    assert tree.n_nodes_ == 4 and tree.n_leaves_ == 9
    assert_array_equal(tree.children_, [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]])
    assert_array_equal(tree.node_leaves_, [[0, 9], [0, 3], [3, 6], [6, 9]])
    assert_array_equal(tree.leaf_paths_[5], [1, 2])
    assert tree.coef_.shape == (4, 2, 3) and tree.intercept_.shape == (4, 3)
    assert len(tree.estimators_) == 4


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tree_gate_depth_one_is_the_softmax_gate(fit_intercept):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, 0.0]
    resp = rng.dirichlet(np.ones(3), size=200)
    sw = rng.uniform(0.5, 2.0, size=200)
    gate = SoftmaxGate(C=3.0, fit_intercept=fit_intercept)
    flat = clone(gate).fit(X, resp, sample_weight=sw)
    tree = TreeGate(depth=1, branching=3, gate=gate)
    tree.fit(X, resp, sample_weight=sw)
    if not fit_intercept:
        assert_array_equal(tree.intercept_, np.zeros((1, 3)))
    assert_allclose(tree.coef_[0], flat.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(tree.intercept_[0], flat.intercept_, rtol=1e-10, atol=1e-12)
    assert_allclose(tree.penalty_, flat.penalty_, rtol=1e-10)
    assert_allclose(
        tree.predict_log_proba(X), flat.predict_log_proba(X), rtol=1e-10, atol=1e-12
    )


def test_tree_gate_nodes_fit_the_posterior_mass_under_each_child():
    """Node v is a SoftmaxGate on targets h(c)/h(v) weighted by w h(v)."""
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 2))
    post = rng.dirichlet(np.ones(4) * 0.5, size=300)
    sw = rng.uniform(0.5, 2.0, size=300)
    template = SoftmaxGate(C=10.0, tol=1e-10)
    tree = TreeGate(depth=2, branching=2, gate=template).fit(X, post, sample_weight=sw)
    mean, scale = _weighted_standardization(X, sw)
    Xs = (X - mean) / scale
    node_gate = SoftmaxGate(C=10.0, tol=1e-10, standardize=False)
    blocks = {
        0: [post[:, :2].sum(1), post[:, 2:].sum(1)],
        1: post[:, :2].T,
        2: post[:, 2:].T,
    }
    for node, children in blocks.items():
        children = np.column_stack(children)
        reach = children.sum(axis=1)
        ref = clone(node_gate).fit(
            Xs, children / reach[:, None], sample_weight=sw * reach
        )
        assert_allclose(tree.estimators_[node].coef_, ref.coef_, atol=1e-6)
        assert_allclose(tree.estimators_[node].intercept_, ref.intercept_, atol=1e-6)
    assert_allclose(tree.penalty_, sum(g.penalty_ for g in tree.estimators_))
    # Leaf log-probabilities are sums of node log-probabilities along paths.
    nodes = tree.predict_node_proba(X)
    assert sorted(nodes) == [0, 1, 2]
    for proba in nodes.values():
        assert proba.shape == (300, 2)
        assert_allclose(proba.sum(axis=1), 1.0)
    expected = np.column_stack(
        [nodes[0][:, a] * nodes[1 + a][:, c] for a in range(2) for c in range(2)]
    )
    assert_allclose(tree.predict_proba(X), expected, rtol=1e-12)


def _expected_log_gate(params, tree, Xs, post, sw, C):
    """sum_i w_i sum_l h_il log g_l(x_i) - penalties, for a parameter vector."""
    d, b = Xs.shape[1], tree.branching
    size = (d + 1) * b
    log_leaf = np.zeros((Xs.shape[0], 1))
    penalty = 0.0
    for lev in range(tree.depth):
        start = (b**lev - 1) // (b - 1)
        parts = []
        for j in range(b**lev):
            p = params[(start + j) * size : (start + j + 1) * size]
            W, c = p[: d * b].reshape(d, b), p[d * b :]
            z = Xs @ W + c
            z -= z.max(axis=1, keepdims=True)
            z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
            parts.append(log_leaf[:, j : j + 1] + z)
            penalty += 0.5 / C * np.sum(W * W)
        log_leaf = np.hstack(parts)
    return sw @ (post * log_leaf).sum(axis=1) - penalty


def test_tree_gate_fit_maximises_the_expected_complete_log_likelihood():
    """The per-node fits jointly maximise the EM objective of the gates."""
    rng = np.random.RandomState(2)
    X = rng.normal(size=(150, 2))
    post = rng.dirichlet(np.ones(4), size=150)
    sw = rng.uniform(0.5, 2.0, size=150)
    C = 5.0
    tree = TreeGate(depth=2, gate=SoftmaxGate(C=C, tol=1e-10)).fit(
        X, post, sample_weight=sw
    )
    mean, scale = _weighted_standardization(X, sw)
    Xs = (X - mean) / scale
    fitted = np.concatenate(
        [np.concatenate([g.coef_.ravel(), g.intercept_]) for g in tree.estimators_]
    )
    at_fit = _expected_log_gate(fitted, tree, Xs, post, sw, C)
    assert_allclose(
        at_fit, sw @ (post * tree.predict_log_proba(X)).sum(1) - tree.penalty_
    )
    result = minimize(
        lambda p: -_expected_log_gate(p, tree, Xs, post, sw, C),
        np.zeros_like(fitted),
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000},
    )
    assert -result.fun <= at_fit + 1e-6
    assert at_fit - (-result.fun) < 1e-6


def test_tree_gate_rejects_bad_posteriors():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="shape"):
        TreeGate(depth=2).fit(X, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        TreeGate(depth=1).fit(X, np.full((3, 2), 0.2))
    with pytest.raises(InvalidParameterError, match="branching"):
        TreeGate(branching=1).fit(X, np.full((3, 2), 0.5))


def test_tree_gate_keeps_unreached_subtrees_uniform():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 2))
    post = np.zeros((50, 4))
    post[:, :2] = rng.dirichlet(np.ones(2), size=50)  # nothing under node 2
    tree = TreeGate(depth=2).fit(X, post)
    assert_allclose(tree.coef_[2], 0.0)
    assert_allclose(tree.predict_node_proba(X)[2], 0.5)


# ----------------------------------------------------------------------
# A depth-1 HME is the flat mixture
# ----------------------------------------------------------------------
@pytest.mark.parametrize("branching", [2, 3])
def test_depth_one_regressor_is_the_flat_mixture(branching):
    X, y = make_piecewise_linear(n_samples=400, random_state=0)
    init = np.random.RandomState(branching).dirichlet(np.ones(branching), size=400)
    # C=100: a flat gate penalised more weakly runs EM in two phases (penalty
    # continuation), a tree of gates in one (see the user guide's EM page).
    kwargs = dict(
        init_params=init,
        random_state=0,
        min_responsibility=0.0,
        gate=SoftmaxGate(C=100.0),
    )
    flat = MixtureOfExpertsRegressor(branching, **kwargs).fit(X, y)
    hme = HierarchicalMixtureOfExpertsRegressor(1, branching=branching, **kwargs)
    hme.fit(X, y)
    assert hme.n_iter_ == flat.n_iter_
    assert_allclose(hme.lower_bounds_, flat.lower_bounds_, rtol=1e-8, atol=1e-10)
    assert_allclose(hme.log_likelihood_, flat.log_likelihood_, rtol=1e-8)
    assert_allclose(hme.predict(X), flat.predict(X), rtol=1e-8, atol=1e-8)
    assert_allclose(hme.score_samples(X, y), flat.score_samples(X, y), atol=1e-8)
    # The flat mixture sorts its experts by share; the tree keeps its order.
    order = np.argsort(-hme.expert_shares_, kind="stable")
    assert_allclose(hme.expert_shares_[order], flat.expert_shares_, atol=1e-8)
    assert_allclose(
        hme.predict_gate_proba(X)[:, order], flat.predict_gate_proba(X), atol=1e-8
    )


def test_depth_one_classifier_is_the_flat_mixture():
    X, y = make_xor(n_samples=400, random_state=0)
    init = np.random.RandomState(0).dirichlet(np.ones(2), size=400)
    # Plain EM in both (the hierarchical estimators are never accelerated).
    flat = MixtureOfExpertsClassifier(
        2, init_params=init, acceleration=None, random_state=0
    ).fit(X, y)
    hme = HierarchicalMixtureOfExpertsClassifier(1, init_params=init, random_state=0)
    hme.fit(X, y)
    assert hme.n_iter_ == flat.n_iter_
    assert_allclose(hme.lower_bounds_, flat.lower_bounds_, rtol=1e-8, atol=1e-10)
    assert_allclose(hme.predict_proba(X), flat.predict_proba(X), atol=1e-8)


# ----------------------------------------------------------------------
# EM
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "depth, branching, init",
    [
        (2, 2, "hierarchical"),
        (2, 2, "random"),
        (3, 2, "hierarchical"),
        (2, 3, "kmeans"),
    ],
)
def test_objective_never_decreases_with_linear_leaves(depth, branching, init):
    X, y = make_hierarchical_regimes(800, noise=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        hme = HierarchicalMixtureOfExpertsRegressor(
            depth,
            branching=branching,
            init_params=init,
            min_responsibility=0.0,
            min_expert_weight=0.0,
            max_iter=60,
            random_state=0,
        ).fit(X, y)
    assert hme.lower_bounds_.size > 3
    steps = np.diff(hme.lower_bounds_)
    assert np.all(steps >= -1e-9), steps.min()


def test_classifier_objective_never_decreases():
    X, y = make_moe_classification(n_samples=800, n_classes=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = HierarchicalMixtureOfExpertsClassifier(
            2,
            min_responsibility=0.0,
            min_expert_weight=0.0,
            max_iter=40,
            random_state=0,
        ).fit(X, y)
    assert clf.lower_bounds_.size > 3
    assert np.all(np.diff(clf.lower_bounds_) >= -1e-7)


def test_sample_weight_equals_repetition():
    X, y = make_hierarchical_regimes(200, noise=0.3, random_state=0)
    sw = np.random.RandomState(0).randint(0, 4, size=200)
    init = np.random.RandomState(1).dirichlet(np.ones(4), size=200)
    est = HierarchicalMixtureOfExpertsRegressor(
        2, min_responsibility=0.0, max_iter=30, random_state=0, tol=1e-8
    )
    # Weights are in row units (rescaled to average one over the rows of
    # positive weight): the gate penalty of the repeated rows is matched by a
    # C scaled by the average weight. (C=10: no penalty continuation, whose
    # first phase is in row units too.)
    gate = SoftmaxGate(C=10.0 * sw.sum() / np.count_nonzero(sw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = clone(est).set_params(init_params=init, gate=gate)
        weighted.fit(X, y, sample_weight=sw)
        repeated = clone(est).set_params(
            init_params=np.repeat(init, sw, axis=0), gate=SoftmaxGate(C=10.0)
        )
        repeated.fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    assert weighted.n_iter_ == repeated.n_iter_
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-6)
    assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-5, atol=1e-6)


def test_warm_start_equals_a_longer_fit():
    X, y = make_hierarchical_regimes(600, noise=0.3, random_state=0)
    kwargs = dict(random_state=0, tol=0.0, min_responsibility=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        long = HierarchicalMixtureOfExpertsRegressor(2, max_iter=8, **kwargs).fit(X, y)
        warm = HierarchicalMixtureOfExpertsRegressor(
            2, max_iter=4, warm_start=True, **kwargs
        )
        warm.fit(X, y)
        warm.fit(X, y)
    assert_allclose(warm.lower_bound_, long.lower_bound_, rtol=1e-7)
    assert_allclose(warm.predict(X), long.predict(X), rtol=1e-6, atol=1e-8)
    warm.set_params(depth=1, branching=4)  # same number of leaves, other tree
    with pytest.raises(ValueError, match="warm_start=True but the fitted tree"):
        warm.fit(X, y)


def test_n_init_in_parallel_matches_sequential():
    X, y = make_hierarchical_regimes(200, noise=0.3, random_state=0)
    kwargs = dict(init_params="random", n_init=2, random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seq = HierarchicalMixtureOfExpertsRegressor(2, **kwargs).fit(X, y)
        par = HierarchicalMixtureOfExpertsRegressor(2, n_jobs=2, **kwargs).fit(X, y)
    assert_allclose(par.lower_bound_, seq.lower_bound_)
    assert_allclose(par.predict(X), seq.predict(X))


def test_dead_leaf_is_reinitialised_and_reported():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 1))
    y = 2 * X[:, 0] + 0.1 * rng.normal(size=80)
    init = np.zeros((80, 4))
    init[:, 0] = 1.0
    init[:2, 0], init[:2, 3] = 0.0, 1.0
    init[2:4, 0], init[2:4, 1] = 0.0, 1.0
    init[4:6, 0], init[4:6, 2] = 0.0, 1.0
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        hme = HierarchicalMixtureOfExpertsRegressor(
            2, init_params=init, min_expert_weight=5.0, random_state=0
        ).fit(X, y)
    assert len(hme.experts_) == 4
    # The three leaves that start on two rows each die at the first
    # iteration and are re-initialised (reported); one that stays dead is
    # also warned about, one that recovers is not (as for flat mixtures).
    assert sorted(k for _, k in hme.reinitialized_experts_) == [1, 2, 3]
    warned = any(issubclass(w.category, DeadExpertWarning) for w in record)
    assert warned == bool(hme.dead_experts_.size)


# ----------------------------------------------------------------------
# Learning the two-level regimes
# ----------------------------------------------------------------------
def test_recovers_the_hierarchical_regimes(regimes):
    (X, y, truth), (Xt, yt, truth_t) = regimes
    hme = HierarchicalMixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    perm = _best_permutation(hme.apply(X), truth["regime"], 4)
    assert np.mean(perm[hme.apply(X)] == truth["regime"]) > 0.99
    assert np.mean(perm[hme.apply(Xt)] == truth_t["regime"]) > 0.99
    # The root splits on x0 (the two sides hold regimes {0, 1} and {2, 3}).
    assert set(perm[:2]) in ({0, 1}, {2, 3})
    fitted = np.argsort(perm)  # fitted leaf of each true regime
    coef = np.array([hme.experts_[k].coef_ for k in fitted])
    intercept = np.array([hme.experts_[k].intercept_ for k in fitted])
    assert_allclose(coef, truth["coef"], atol=0.1)
    assert_allclose(intercept, truth["intercept"], atol=0.15)
    assert_allclose(np.sqrt(hme.noise_variance_), 0.2, rtol=0.1)
    # Held out, the tree beats the flat mixture with as many experts, whose
    # single softmax cannot draw branch-dependent thresholds: 0.157 against
    # 0.137 nats per row (restarts do not help the flat mixture).
    flat = MixtureOfExpertsRegressor(4, n_init=3, random_state=0).fit(X, y)
    hme_ll, flat_ll = (
        hme.score_samples(Xt, yt).mean(),
        flat.score_samples(Xt, yt).mean(),
    )
    assert hme_ll > 0.15
    assert flat_ll < 0.14
    assert hme_ll - flat_ll > 0.015
    assert hme.score(Xt, yt) > flat.score(Xt, yt)


def test_hierarchical_init_beats_random_starts():
    """Why ``init_params='hierarchical'`` is the default.

    On the regime data the likelihood has a global optimum (the true four
    regimes, objective 0.873) and a local one (0.768) where one gate splits on
    the wrong feature. The model-tree initialisation starts every run next to
    the global optimum and converges in a few iterations; random posteriors
    reach it in about half of the runs, and take several times as many
    iterations.
    """
    X, y = make_hierarchical_regimes(1000, noise=0.1, random_state=0)
    fits = {
        init: [
            HierarchicalMixtureOfExpertsRegressor(
                2, init_params=init, random_state=seed
            ).fit(X, y)
            for seed in range(5)
        ]
        for init in ("hierarchical", "random")
    }
    bounds = {k: np.array([f.lower_bound_ for f in v]) for k, v in fits.items()}
    iters = {k: np.mean([f.n_iter_ for f in v]) for k, v in fits.items()}
    assert np.all(bounds["hierarchical"] > 0.86)
    assert np.sum(bounds["random"] < 0.8) >= 2
    assert bounds["hierarchical"].mean() > bounds["random"].mean() + 0.03
    assert iters["hierarchical"] * 2 < iters["random"]


def test_hierarchical_init_gives_every_leaf_a_row():
    rng = np.random.RandomState(0)
    for n, depth, branching in [(8, 3, 2), (9, 2, 3), (40, 3, 2), (500, 3, 3)]:
        X = rng.normal(size=(n, 2))
        T = rng.normal(size=(n, 1))
        w = np.ones(n)
        if n > 20:
            w[rng.rand(n) < 0.3] = 0.0  # zero-weight rows go anywhere
        labels = _hierarchical_labels(X, T, w, depth, branching, rng)
        counts = np.bincount(labels[w > 0], minlength=branching**depth)
        assert counts.size == branching**depth and counts.min() >= 1


def test_classifier_learns_xor_with_a_two_level_tree():
    X, y = make_xor(n_samples=800, random_state=0)
    Xt, yt = make_xor(n_samples=800, random_state=1)
    clf = HierarchicalMixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    assert clf.score(Xt, yt) > 0.97
    resp = clf.predict_responsibilities(X, y)
    assert resp.shape == (800, 4)
    assert_allclose(resp.sum(axis=1), 1.0)


# ----------------------------------------------------------------------
# Inspection and routing
# ----------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::skmoe.DeadExpertWarning")  # 9 leaves, 4 regimes
def test_node_and_leaf_probabilities(regimes):
    (X, y, _), _ = regimes
    hme = HierarchicalMixtureOfExpertsRegressor(2, branching=3, random_state=0)
    hme.fit(X[:600], y[:600])
    nodes = hme.predict_node_proba(X[:50])
    assert sorted(nodes) == [0, 1, 2, 3]
    leaf = hme.predict_gate_proba(X[:50])
    expected = np.column_stack(
        [nodes[0][:, a] * nodes[1 + a][:, c] for a in range(3) for c in range(3)]
    )
    assert_allclose(leaf, expected, rtol=1e-10)
    # apply() descends the most probable branch at every node.
    first = nodes[0].argmax(axis=1)
    second = np.array([nodes[1 + a][i].argmax() for i, a in enumerate(first)])
    assert_array_equal(hme.apply(X[:50]), 3 * first + second)
    resp = hme.predict_responsibilities(X[:600], y[:600])
    assert resp.shape == (600, 9)
    assert_allclose(resp.mean(axis=0), hme.expert_shares_, rtol=1e-6, atol=1e-12)


class _RecordingRegressor(LinearRegression):
    """A linear regressor that records how many rows each predict call saw."""

    def predict(self, X):
        self.__dict__.setdefault("seen_rows_", []).append(len(X))
        return super().predict(X)


@pytest.mark.parametrize("routing, top_k", [("hard", 1), ("top_k", 2)])
def test_hard_and_top_k_routing_evaluate_only_the_chosen_leaves(
    regimes, routing, top_k
):
    (X, y, _), (Xt, _, _) = regimes
    hme = HierarchicalMixtureOfExpertsRegressor(
        2, expert=_RecordingRegressor(), routing=routing, top_k=top_k, random_state=0
    ).fit(X, y)
    Xt = Xt[:300]
    for e in hme.experts_:
        e.seen_rows_ = []
    pred = hme.predict(Xt)
    gate = hme.predict_gate_proba(Xt)
    if routing == "hard":
        chosen = hme.apply(Xt)[:, None]  # the most probable branch at each node
    else:
        chosen = np.argsort(-gate, axis=1)[:, :top_k]  # by path probability
    expected_rows = [(chosen == k).any(axis=1).sum() for k in range(4)]
    seen = [sum(e.seen_rows_) for e in hme.experts_]
    assert seen == expected_rows
    assert sum(seen) == top_k * len(Xt)
    all_preds = hme.predict_experts(Xt)
    w = np.zeros_like(gate)
    np.put_along_axis(w, chosen, np.take_along_axis(gate, chosen, 1), 1)
    w /= w.sum(axis=1, keepdims=True)
    assert_allclose(pred, (w * all_preds).sum(axis=1))


def test_hard_routing_follows_branches_not_the_best_path():
    """Greedy descent and the most probable path differ where a node is unsure."""
    tree = TreeGate(depth=2)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 1))
    tree.fit(X, rng.dirichlet(np.ones(4), size=20))
    # Root: 0.55 / 0.45; left node 0.5 / 0.5, right node 0.99 / 0.01.
    tree.coef_[:] = 0.0
    tree.intercept_[:] = np.log([[0.55, 0.45], [0.5, 0.5], [0.99, 0.01]])
    x = np.zeros((1, 1))
    assert tree.apply(x)[0] == 0
    assert np.argmax(tree.predict_proba(x)[0]) == 2


def test_export_text_shows_structure_and_shares(regimes):
    (X, y, _), _ = regimes
    hme = HierarchicalMixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    text = export_text(hme, feature_names=["a", "b"])
    lines = text.splitlines()
    assert lines[0].startswith("HierarchicalMixtureOfExpertsRegressor: depth 2")
    assert len(lines) == 1 + 3 + 4
    leaf_shares = {
        int(m.group(1)): float(m.group(2))
        for m in re.finditer(r"leaf (\d+) \(share ([0-9.]+)\)", text)
    }
    assert_allclose([leaf_shares[k] for k in range(4)], hme.expert_shares_, atol=5e-4)
    node_shares = {
        int(m.group(1)): float(m.group(2))
        for m in re.finditer(r"node (\d+) \(share ([0-9.]+)\)", text)
    }
    assert node_shares[0] == 1.0
    assert_allclose(node_shares[1], hme.expert_shares_[:2].sum(), atol=5e-4)
    assert_allclose(node_shares[2], hme.expert_shares_[2:].sum(), atol=5e-4)
    # Each leaf line: its expert's coefficients and noise standard deviation.
    e = hme.experts_[3]
    assert f"a={e.coef_[0]:.3f}, b={e.coef_[1]:.3f}" in lines[-1]
    assert f"noise std={np.sqrt(hme.noise_variance_[3]):.3f}" in lines[-1]
    # Indentation follows the depth.
    assert lines[1].startswith("|--- node 0")
    assert lines[2].startswith("|   |--- node 1")
    assert lines[3].startswith("|   |   |--- leaf 0")
    # A flat mixture prints as a tree of depth 1; classifiers list their classes.
    flat = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    assert "depth 1, branching 2, 2 leaves" in export_text(flat)
    Xc, yc = make_moe_classification(n_samples=300, n_classes=3, random_state=0)
    clf = HierarchicalMixtureOfExpertsClassifier(1, random_state=0).fit(Xc, yc)
    text = export_text(clf, decimals=2)
    assert "class 0:" in text and "noise std" not in text
    with pytest.raises(ValueError, match="feature_names has 1 names"):
        export_text(hme, feature_names=["a"])


def test_export_text_still_importable_from_skmoe():
    # export_text lives in skmoe.inspection; the old import keeps working.
    import skmoe

    assert skmoe.export_text is export_text
    assert "export_text" in skmoe.__all__


# ----------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------
def test_n_experts_is_derived_from_the_structure():
    hme = HierarchicalMixtureOfExpertsRegressor(3, branching=3)
    assert hme.n_experts == 27
    params = hme.get_params()
    assert "n_experts" not in params and params["depth"] == 3
    assert clone(hme).n_experts == 27
    with pytest.raises(ValueError, match="Invalid parameter 'n_experts'"):
        hme.set_params(n_experts=4)
    assert not hasattr(hme, "partial_fit")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"depth": 0}, InvalidParameterError, "'depth' parameter"),
        ({"depth": 1.5}, InvalidParameterError, "'depth' parameter"),
        ({"branching": 1}, InvalidParameterError, "'branching' parameter"),
        ({"init_params": "tree"}, InvalidParameterError, "init_params"),
        (
            {"depth": 7},
            ValueError,
            r"number of leaves, 128 \(depth=7, branching=2\), must be at most "
            r"the number of samples \(n_samples=100\).*a smaller tree",
        ),
        ({"init_params": np.ones((100, 3)) / 3}, ValueError, "init_params"),
    ],
)
def test_bad_structure_parameters_raise(kwargs, error, match):
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    with pytest.raises(error, match=match):
        HierarchicalMixtureOfExpertsRegressor(**kwargs).fit(X, y)


@pytest.mark.parametrize(
    "Flat, Hierarchical",
    [
        (MixtureOfExpertsRegressor, HierarchicalMixtureOfExpertsRegressor),
        (MixtureOfExpertsClassifier, HierarchicalMixtureOfExpertsClassifier),
    ],
)
def test_hierarchical_and_flat_estimators_are_siblings(Flat, Hierarchical):
    # A tree is fitted by EM only: the flat estimators' gradient parameters
    # are not its parameters (they were accepted and ignored), and an HME is
    # not a flat estimator.
    hme = Hierarchical()
    assert not isinstance(hme, Flat)
    flat_only = {"n_experts", "solver", "batch_size", "learning_rate_init", "shuffle"}
    assert flat_only <= set(Flat().get_params())
    assert not flat_only & set(hme.get_params())
    for name in sorted(flat_only - {"n_experts"}):
        with pytest.raises(TypeError, match=name):
            Hierarchical(**{name: Flat().get_params()[name]})
    shared = set(hme.get_params()) - {"depth", "branching"}
    assert shared <= set(Flat().get_params())


def test_errors_name_the_hierarchical_estimator_and_its_parameters():
    # They named the flat classes and n_experts, which the HME does not have.
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"^HierarchicalMixtureOfExpertsRegressor "
        r".*use HierarchicalMixtureOfExpertsClassifier\.$",
    ):
        HierarchicalMixtureOfExpertsRegressor().fit(X, np.array(["a", "b"] * 50))
    with pytest.raises(ValueError, match="^HierarchicalMixtureOfExpertsClassifier "):
        HierarchicalMixtureOfExpertsClassifier().fit(X, np.zeros(100))
    sw = np.zeros(100)
    sw[:3] = 1.0
    with pytest.raises(
        ValueError,
        match=r"leaves, 4 \(depth=2, branching=2\), must be at most the number "
        r"of samples with positive weight \(n_samples=3\)",
    ):
        HierarchicalMixtureOfExpertsRegressor().fit(X, y, sample_weight=sw)


def test_bic_counts_every_gate():
    X, y = make_hierarchical_regimes(400, noise=0.3, random_state=0)
    hme = HierarchicalMixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    ll = hme.score_samples(X, y).sum()
    # 3 gates x (2 + 1) x (2 - 1) = 9, experts 4 x 3 = 12, variances 4.
    assert_allclose(hme.aic(X, y), -2 * ll + 2 * 25)
