"""Living mixtures: growing and shrinking by warm start, removing experts,
refitting or replacing one expert (issue 16, flat estimators)."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skmoe.datasets import make_piecewise_linear, make_xor


@pytest.fixture(scope="module")
def three_lines():
    """A known mixture of three linear regimes."""
    return make_piecewise_linear(n_samples=600, random_state=0)


def _quiet(fit, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args)


def test_growing_reaches_the_larger_optimum_and_never_loses(three_lines):
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=2, warm_start=True, random_state=0)
    small = est.fit(X, y).log_likelihood_
    est.set_params(n_experts=3).fit(X, y)
    fresh = MixtureOfExpertsRegressor(n_experts=3, n_init=5, random_state=0)
    best = fresh.fit(X, y).log_likelihood_
    assert len(est.experts_) == est.gate_.coef_.shape[1] == 3
    assert est.noise_variance_.shape == est.expert_shares_.shape == (3,)
    assert est.log_likelihood_ >= small
    # The best of five fresh restarts, to 1e-4 nats per row.
    assert est.log_likelihood_ >= best - 1e-4 * X.shape[0]
    assert np.all(np.diff(est.expert_shares_) <= 0)  # canonical order


@pytest.mark.parametrize("seed", range(4))
def test_growing_by_several_never_lowers_the_log_likelihood(seed):
    X, y = make_piecewise_linear(n_samples=300, noise=0.5, random_state=seed)
    est = MixtureOfExpertsRegressor(n_experts=1, warm_start=True, random_state=seed)
    before = est.fit(X, y).log_likelihood_
    after = _quiet(est.set_params(n_experts=3).fit, X, y).log_likelihood_
    assert after >= before
    assert len(est.experts_) == 3


def test_growing_a_classifier():
    X, y = make_xor(n_samples=400, random_state=0)
    est = MixtureOfExpertsClassifier(n_experts=1, warm_start=True, random_state=0)
    one = est.fit(X, y)
    before, accuracy = one.log_likelihood_, one.score(X, y)
    est.set_params(n_experts=2).fit(X, y)
    # One logistic expert cannot solve XOR; two can.
    assert accuracy < 0.7 and est.score(X, y) > 0.95
    assert est.log_likelihood_ > before


def test_shrinking_removes_the_weakest_expert_and_continues(three_lines):
    X, y = three_lines
    est = _quiet(MixtureOfExpertsRegressor(n_experts=4, random_state=0).fit, X, y)
    kept = list(est.experts_[:3])  # canonical order: the smallest share is last
    est.set_params(warm_start=True, n_experts=3, max_iter=1)
    _quiet(est.fit, X, y)
    assert len(est.experts_) == 3
    # One EM iteration from the three kept experts: refits of those, not of
    # the removed one (their coefficients stay close).
    for new, old in zip(
        sorted(est.experts_, key=lambda e: e.coef_[0]),
        sorted(kept, key=lambda e: e.coef_[0]),
        strict=True,
    ):
        assert_allclose(new.coef_, old.coef_, atol=0.2)


def test_remove_experts_is_the_renormalised_mixture(three_lines):
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    gate = est.predict_gate_proba(X)
    experts = est.predict_experts(X)
    noise, shares = est.noise_variance_.copy(), est.expert_shares_.copy()
    kept_objects = [est.experts_[0], est.experts_[2]]
    assert est.remove_experts([1]) is est
    renormalised = gate[:, [0, 2]] / gate[:, [0, 2]].sum(axis=1, keepdims=True)
    assert_allclose(est.predict_gate_proba(X), renormalised, rtol=1e-12)
    assert_allclose(est.predict(X), (renormalised * experts[:, [0, 2]]).sum(axis=1))
    assert est.experts_ == kept_objects
    assert_array_equal(est.noise_variance_, noise[[0, 2]])
    assert_allclose(est.expert_shares_, shares[[0, 2]] / shares[[0, 2]].sum())
    assert est.n_experts == 2 and np.isnan(est.log_likelihood_)
    # It is an ordinary fitted model: scored, and continued by a warm start.
    assert np.isfinite(est.score_samples(X, y)).all()
    est.set_params(warm_start=True).fit(X, y)
    assert len(est.experts_) == 2 and np.isfinite(est.log_likelihood_)


@pytest.mark.parametrize(
    "experts, exc, match",
    [
        ([3], ValueError, "out of range for a mixture of 3"),
        ([0, 1, 2], ValueError, "would leave no expert"),
        ([0.5], TypeError, "integer indices"),
    ],
)
def test_remove_experts_refuses_what_it_cannot_do(experts, exc, match, three_lines):
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    before = est.predict(X)
    with pytest.raises(exc, match=match):
        est.remove_experts(experts)
    assert_array_equal(est.predict(X), before)
    assert est.n_experts == 3


def test_replacing_one_expert_leaves_the_others_bitwise(three_lines):
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    others = [est.experts_[0], est.experts_[2]]
    coefs = [e.coef_.copy() for e in others]
    gate = (est.gate_.coef_.copy(), est.gate_.intercept_.copy())
    noise = est.noise_variance_.copy()
    tree = DecisionTreeRegressor(max_depth=3, random_state=0)
    est.refit_expert(1, X, y, estimator=tree)
    assert isinstance(est.experts_[1], DecisionTreeRegressor)
    assert est.experts_[1] is not tree  # a fitted copy
    assert [est.experts_[0], est.experts_[2]] == others
    for e, c in zip(others, coefs, strict=True):
        assert_array_equal(e.coef_, c)
    assert_array_equal(est.gate_.coef_, gate[0])
    assert_array_equal(est.gate_.intercept_, gate[1])
    assert_array_equal(est.noise_variance_[[0, 2]], noise[[0, 2]])
    assert est.noise_variance_[1] != noise[1]


def test_refit_expert_is_an_m_step_for_that_expert(three_lines):
    """With posterior weighting it fits the expert on its responsibilities,
    as EM's M-step does: the same coefficients as a weighted fit by hand."""
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    resp = est.predict_responsibilities(X, y)[:, 2]
    est.refit_expert(2, X, y)
    by_hand = LinearRegression().fit(X, y, sample_weight=resp)
    assert_allclose(est.experts_[2].coef_, by_hand.coef_, rtol=1e-8)
    residual = resp @ (y - by_hand.predict(X)) ** 2 / resp.sum()
    assert_allclose(est.noise_variance_[2], residual, rtol=1e-8)


def test_refit_expert_errors(three_lines):
    X, y = three_lines
    est = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="expert=5 must be an integer index"):
        est.refit_expert(5, X, y)
    with pytest.raises(ValueError, match="weighting='all'"):
        est.refit_expert(0, X, y, weighting="all")
    with pytest.raises(ValueError, match="X has 2 features"):
        est.refit_expert(0, np.c_[X, X], y)


def test_resizing_is_refused_where_it_is_not_supported(three_lines):
    X, y = three_lines
    hme = HierarchicalMixtureOfExpertsRegressor(warm_start=True, random_state=0)
    _quiet(hme.fit, X, y)
    # A deeper tree grows (tests/test_hme_resize.py); another branching does not.
    with pytest.raises(ValueError, match="fitted tree has branching=2 .* branching=3"):
        hme.set_params(branching=3).fit(X, y)
    est = MixtureOfExpertsRegressor(
        n_experts=2, solver="gradient", warm_start=True, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="grows or shrinks the mixture by EM"):
        est.set_params(n_experts=3).fit(X, y)
    assert len(est.experts_) == 2
