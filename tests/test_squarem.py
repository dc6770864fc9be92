"""SQUAREM acceleration of EM (skmoe._squarem)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import skmoe._squarem as squarem_module
from skmoe import (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
    _em_fused,
)
from skmoe._squarem import _pack, _unpack
from skmoe.datasets import make_moe_classification, make_moe_regression


def _fit(acceleration, X, y, **params):
    params = {"random_state": 0, "init_params": "kmeans", **params}
    return MixtureOfExpertsRegressor(4, acceleration=acceleration, **params).fit(X, y)


@pytest.fixture(scope="module")
def separated():
    return make_moe_regression(
        3000, n_features=5, n_experts=4, noise=0.3, random_state=0
    )[:2]


def test_same_optimum_with_and_without_acceleration(separated):
    X, y = separated
    plain = _fit(None, X, y, tol=1e-12, max_iter=2000)
    fast = _fit("squarem", X, y, tol=1e-12, max_iter=2000)
    assert plain.converged_ and fast.converged_
    assert_allclose(fast.score_samples(X, y), plain.score_samples(X, y), atol=1e-6)
    assert_allclose(fast.predict(X), plain.predict(X), atol=1e-6 * np.std(y))


def test_objective_never_decreases(separated):
    X, y = separated
    for gate in (SoftmaxGate(), SoftmaxGate(solver="lbfgs")):
        fit = _fit("squarem", X, y, gate=gate, init_params="random", max_iter=200)
        assert fit.lower_bounds_.size > 3
        assert np.all(np.diff(fit.lower_bounds_) >= -1e-12)


def test_fewer_em_steps_on_overlapping_experts(monkeypatch):
    # Overlapping experts, where plain EM converges slowly: count the EM
    # steps (gate fits) of each to the same tolerance.
    X, y = make_moe_regression(
        2000, n_features=3, n_experts=3, noise=1.0, gate_scale=1.0, random_state=1
    )[:2]
    steps = {}
    fit_prepared = SoftmaxGate._fit_prepared

    def counting(self, inputs, targets):
        steps[key] += 1
        return fit_prepared(self, inputs, targets)

    monkeypatch.setattr(SoftmaxGate, "_fit_prepared", counting)
    fused_step = _em_fused._FusedStep.step

    def counting_fused(self, *args):
        # Plain EM's fused iterations (one M-step each) fit the gate there.
        steps[key] += 1
        return fused_step(self, *args)

    monkeypatch.setattr(_em_fused._FusedStep, "step", counting_fused)
    fits = {}
    for key in (None, "squarem"):
        steps[key] = 0
        fits[key] = _fit(key, X, y, tol=1e-9, max_iter=3000)
    assert fits["squarem"].lower_bounds_[-1] >= fits[None].lower_bounds_[-1] - 1e-8
    assert steps["squarem"] < steps[None]


def test_auto_is_on_exactly_where_sound(separated, monkeypatch):
    X, y = separated
    cycles = []
    cycle = squarem_module.Squarem.cycle

    def counting(self, *args):
        cycles.append(1)
        return cycle(self, *args)

    monkeypatch.setattr(squarem_module.Squarem, "cycle", counting)
    _fit("auto", X, y, max_iter=5)
    assert cycles
    _fit("auto", X, y, expert=Ridge(alpha=1.0), max_iter=5)
    n = len(cycles)
    _fit(None, X, y, max_iter=5)
    _fit("auto", X, y, expert=DecisionTreeRegressor(max_depth=2), max_iter=5)
    Xc, yc = make_moe_classification(300, random_state=0)
    tree = DecisionTreeClassifier(max_depth=2)
    MixtureOfExpertsClassifier(2, expert=tree, acceleration="auto", max_iter=5).fit(
        Xc, yc
    )
    assert len(cycles) == n
    # The classifier's default is 'auto'; its default experts are sound.
    MixtureOfExpertsClassifier(2, max_iter=5).fit(Xc, yc)
    assert len(cycles) > n


def test_squarem_where_unsound_raises_and_leaves_no_fit(separated):
    X, y = separated
    est = MixtureOfExpertsRegressor(
        2, expert=DecisionTreeRegressor(max_depth=2), acceleration="squarem"
    )
    with pytest.raises(ValueError, match="acceleration='squarem' needs"):
        est.fit(X, y)
    assert not hasattr(est, "experts_")


def test_pack_unpack_round_trip(separated):
    X, y = separated
    fit = _fit(None, X, y, max_iter=5)
    state = fit._get_state()
    scales = (np.std(X, axis=0), np.std(y))
    theta = _pack(state, *scales)
    again = _unpack(theta, state, 0.0, *scales)
    assert_allclose(_pack(again, *scales), theta, rtol=1e-14)
    assert again["gate"] is not state["gate"]
    assert_allclose(
        again["gate"].predict_proba(X), state["gate"].predict_proba(X), rtol=1e-12
    )


def _classifier(acceleration, X, y):
    return MixtureOfExpertsClassifier(
        3, acceleration=acceleration, tol=1e-10, max_iter=5000, random_state=0
    ).fit(X, y)


def test_classifier_same_optimum_with_and_without_acceleration():
    """Logistic experts (penalised, one Newton step per M-step) and the
    gate: SQUAREM stops at plain EM's optimum of the penalised objective,
    never lowering it on the way."""
    X, y = make_moe_classification(2000, random_state=2)[:2]
    plain, fast = _classifier(None, X, y), _classifier("squarem", X, y)
    assert plain.converged_ and fast.converged_
    assert abs(fast.lower_bound_ - plain.lower_bound_) < 1e-6
    assert_allclose(fast.predict_proba(X), plain.predict_proba(X), atol=1e-4)
    assert np.all(np.diff(fast.lower_bounds_) >= -1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 4])
def test_classifier_pack_unpack_round_trip(n_classes):
    X, y = make_moe_classification(600, n_classes=n_classes, random_state=0)[:2]
    fit = MixtureOfExpertsClassifier(3, max_iter=3, random_state=0).fit(X, y)
    state = fit._get_state()
    scales = (np.std(X, axis=0), 1.0)
    theta = _pack(state, *scales)
    again = _unpack(theta, state, None, *scales)
    assert_allclose(_pack(again, *scales), theta, rtol=1e-14)
    for old, new in zip(state["experts"], again["experts"], strict=True):
        assert new is not old
        assert np.shape(new.intercept_) == np.shape(old.intercept_)
        assert_allclose(new.predict_proba(X), old.predict_proba(X), rtol=1e-12)
