"""Load balancing at fit time (``balance_strength``)."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.linear_model import LinearRegression

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._gate_solvers import _balance_gradient, _SoftTargetLoss
from skmoe.inspection import expert_usage


def _unbalanced(n=800, seed=0):
    """Two linear regimes, one with a quarter of the rows."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = np.where(X[:, 0] > 1.5, 2 * X[:, 1], -X[:, 1]) + 0.3 * rng.randn(n)
    return X, y


def test_balance_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    logits = rng.randn(30, 4)
    w = rng.uniform(0.5, 2, size=30)

    def value(flat):
        return _balance_gradient(flat.reshape(30, 4), w, 0.7, gradient=False)[0]

    _, grad = _balance_gradient(logits, w, 0.7)
    numeric = approx_fprime(logits.ravel(), value, 1e-7)
    np.testing.assert_allclose(grad.ravel(), numeric, rtol=1e-4, atol=1e-6)
    # Zero at a uniform average, positive elsewhere.
    assert _balance_gradient(np.zeros((5, 3)), np.ones(5), 1.0)[0] == pytest.approx(0)
    assert value(logits.ravel()) > 0


def test_gate_loss_with_balance_has_the_right_gradient():
    rng = np.random.RandomState(1)
    X = rng.randn(40, 3)
    targets = rng.dirichlet(np.ones(3), size=40)
    w = rng.uniform(0.5, 2, size=40)
    loss = _SoftTargetLoss(np.ascontiguousarray(X.T), targets, w, 0.1, True, 0.5)
    params = rng.randn(3 * 3 + 3)
    _, grad = loss.loss_gradient(params)
    numeric = approx_fprime(params, lambda p: loss.loss_gradient(p)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_zero_strength_is_maximum_likelihood():
    X, y = _unbalanced()
    plain = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    zero = MixtureOfExpertsRegressor(
        n_experts=2, balance_strength=0.0, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(plain.lower_bounds_, zero.lower_bounds_)


def test_strength_evens_the_shares_and_em_stays_monotone():
    X, y = _unbalanced()
    cvs, log_liks = [], []
    for strength in [0.0, 1.0, 3.0, 10.0, 100.0]:
        model = MixtureOfExpertsRegressor(
            n_experts=2,
            expert=LinearRegression(),
            balance_strength=strength,
            random_state=0,
        ).fit(X, y)
        # The penalised objective never decreases (exact M-steps).
        assert np.all(np.diff(model.lower_bounds_) >= -1e-9)
        cvs.append(expert_usage(model, X).coefficient_of_variation)
        log_liks.append(model.log_likelihood_)
        # The gate's penalty is the documented one, computed here from the
        # fitted gate's probabilities on the training rows.
        mean = model.predict_gate_proba(X).mean(axis=0)
        kl = np.mean(np.log(0.5 / mean))
        # The L2 part is on the standardised features' coefficients.
        coef = model.gate_.coef_ * X.std(axis=0)[:, None]
        l2 = 0.5 * np.sum(coef**2) / model.gate_.C
        expected = l2 + strength * X.shape[0] * kl
        assert model.gate_.penalty_ == pytest.approx(expected, rel=1e-6, abs=1e-9)
    # Truth has shares 3/4 and 1/4 (CV 0.5): the shares even out as the
    # strength grows, at a cost in likelihood.
    assert cvs[0] == pytest.approx(0.5, abs=0.03)
    assert np.all(np.diff(cvs) <= 1e-6) and cvs[-1] < 0.05
    assert np.all(np.diff(log_liks) <= 1e-6)


def test_balance_on_a_classifier():
    X, y = _unbalanced()
    labels = (y > 0).astype(int)
    shares = [
        expert_usage(
            MixtureOfExpertsClassifier(
                n_experts=3, balance_strength=s, random_state=0
            ).fit(X, labels),
            X,
        ).coefficient_of_variation
        for s in [0.0, 100.0]
    ]
    assert shares[1] < shares[0] and shares[1] < 0.05


def test_balance_needs_em():
    X, y = _unbalanced(n=100)
    with pytest.raises(ValueError, match="balance_strength=1.0 is a penalty of EM"):
        MixtureOfExpertsRegressor(
            n_experts=2, balance_strength=1.0, solver="gradient"
        ).fit(X, y)
    with pytest.raises(ValueError, match="balance_strength"):
        MixtureOfExpertsRegressor(n_experts=2, balance_strength=-1.0).fit(X, y)
