"""Sparse EM (``fit_top_k``): each M-step fits an expert on its routed rows."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skmoe._em import _top_k_posteriors


def _regimes(n=600, n_regimes=3, seed=0):
    """Rows of ``n_regimes`` well-separated linear regimes along x0."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    regime = np.minimum(((X[:, 0] + 3) / 6 * n_regimes).astype(int), n_regimes - 1)
    slopes = np.array([2.0, -1.5, 0.5, 3.0])[:n_regimes]
    offsets = np.array([0.0, 6.0, -5.0, 10.0])[:n_regimes]
    y = slopes[regime] * X[:, 1] + offsets[regime] + 0.2 * rng.randn(n)
    return X, y


class _RecordingTree(DecisionTreeRegressor):
    """A tree that records how many rows each of its fits saw."""

    sizes = []

    def fit(self, X, y, sample_weight=None):
        _RecordingTree.sizes.append(X.shape[0])
        return super().fit(X, y, sample_weight=sample_weight)


def test_top_k_posteriors_keep_the_k_largest_renormalised():
    resp = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.45, 0.35]])
    kept, log_mass = _top_k_posteriors(resp, 2)
    # The tie at the second value of row 1 keeps both tied experts.
    expected = np.array([[0.625, 0.375, 0.0], [0.1, 0.1, 0.8], [0.0, 0.5625, 0.4375]])
    np.testing.assert_allclose(kept, expected)
    np.testing.assert_allclose(log_mass, np.log([0.8, 1.0, 0.8]))
    full, zero = _top_k_posteriors(resp, 3)
    assert full is resp and not zero.any()


def test_fit_top_k_equal_to_n_experts_is_dense_em():
    X, y = _regimes()
    dense = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    sparse = MixtureOfExpertsRegressor(n_experts=3, fit_top_k=3, random_state=0).fit(
        X, y
    )
    assert sparse.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(sparse.lower_bounds_, dense.lower_bounds_)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X))


@pytest.mark.parametrize("fit_top_k", [1, 2])
def test_sparse_em_never_lowers_its_bound_and_recovers_the_regimes(fit_top_k):
    X, y = _regimes()
    model = MixtureOfExpertsRegressor(
        n_experts=3, fit_top_k=fit_top_k, tol=1e-9, random_state=0
    ).fit(X, y)
    assert model.reinitialized_experts_ == []
    # Exact M-steps (linear experts): the sparse bound never decreases.
    assert np.all(np.diff(model.lower_bounds_) >= -1e-9)
    # The bound is below the log-likelihood (it keeps part of the mass).
    assert model.lower_bound_ * X.shape[0] <= model.log_likelihood_ + 1e-6
    # Each regime's slope is found, and the noise (0.2) to within 20%.
    slopes = np.sort([e.coef_[1] for e in model.experts_])
    np.testing.assert_allclose(slopes, [-1.5, 0.5, 2.0], atol=0.05)
    np.testing.assert_allclose(np.sqrt(model.noise_variance_), 0.2, rtol=0.2)


def test_sparse_em_fits_each_expert_on_its_routed_rows_only():
    X, y = _regimes(n=400, n_regimes=2)
    n_experts, n = 4, X.shape[0]
    for fit_top_k, bound in [(1, n), (2, 2 * n), (None, n_experts * n)]:
        _RecordingTree.sizes = []
        model = MixtureOfExpertsRegressor(
            n_experts=n_experts,
            expert=_RecordingTree(max_depth=2),
            fit_top_k=fit_top_k,
            init_params="kmeans",
            max_iter=5,
            min_responsibility=0.0,
            random_state=0,
        ).fit(X, y)
        assert model.reinitialized_experts_ == []
        sizes = np.array(_RecordingTree.sizes).reshape(-1, n_experts)
        # The first M-step fits the k-means start's hard clusters.
        rows_per_m_step = sizes[1:].sum(axis=1)
        assert np.all(rows_per_m_step <= bound)
        if fit_top_k == 1:
            # Hard routing: every row trains exactly one expert.
            assert np.all(rows_per_m_step == n)
        elif fit_top_k is None:
            # Dense EM: most experts see most rows.
            assert np.all(rows_per_m_step > 3 * n)


def test_sparse_em_hierarchical_and_classifier():
    X, y = _regimes(n=400)
    hme = HierarchicalMixtureOfExpertsRegressor(
        depth=2, branching=2, fit_top_k=2, random_state=0
    ).fit(X, y)
    assert np.all(np.diff(hme.lower_bounds_) >= -1e-9) or hme.reinitialized_experts_
    assert hme.score(X, y) > 0.95
    labels = (y > np.median(y)).astype(int)
    clf = MixtureOfExpertsClassifier(n_experts=3, fit_top_k=1, random_state=0).fit(
        X, labels
    )
    assert clf.score(X, labels) > 0.8


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_experts": 2, "fit_top_k": 3}, "fit_top_k=3 must be at most"),
        ({"n_experts": 2, "fit_top_k": 0}, "fit_top_k"),
        (
            {"n_experts": 2, "fit_top_k": 1, "solver": "gradient"},
            "fit_top_k=1 is sparse EM",
        ),
    ],
)
def test_sparse_em_bad_parameters(params, match):
    X, y = _regimes(n=100)
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsRegressor(expert=LinearRegression(), **params).fit(X, y)


def test_partial_fit_refuses_sparse_em():
    X, y = _regimes(n=100)
    with pytest.raises(ValueError, match="partial_fit does not run"):
        MixtureOfExpertsRegressor(n_experts=2, fit_top_k=1).partial_fit(X, y)
