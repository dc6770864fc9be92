"""Count and positive-target experts: likelihood='poisson' and 'gamma'.

Checked against closed forms (scipy's densities, scikit-learn's GLMs for one
expert) and by recovering known mixtures."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from sklearn.linear_model import GammaRegressor, PoissonRegressor

from skmoe import HierarchicalMixtureOfExpertsRegressor, MixtureOfExpertsRegressor


def _two_regimes(family, n=2000, seed=0):
    """Two GLM regimes split by the sign of x0: log-means 1 + 0.8 x1 and
    2 - 0.5 x1; gamma shapes 20 and 5 (dispersions 0.05 and 0.2)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    right = X[:, 0] > 0
    mu = np.where(right, np.exp(1.0 + 0.8 * X[:, 1]), np.exp(2.0 - 0.5 * X[:, 1]))
    if family == "poisson":
        return X, rng.poisson(mu).astype(float), mu, None
    shape = np.where(right, 20.0, 5.0)
    return X, rng.gamma(shape, mu / shape), mu, shape


def test_one_poisson_expert_is_a_poisson_glm():
    X, y, _, _ = _two_regimes("poisson")
    moe = MixtureOfExpertsRegressor(n_experts=1, likelihood="poisson").fit(X, y)
    glm = PoissonRegressor(alpha=0.0).fit(X, y)
    assert_allclose(moe.experts_[0].coef_, glm.coef_, rtol=1e-6)
    mean = glm.predict(X)
    assert_allclose(moe.log_likelihood_, stats.poisson.logpmf(y, mean).sum())
    assert_allclose(moe.score_samples(X, y), stats.poisson.logpmf(y, mean))
    got_mean, got_std = moe.predict(X, return_std=True)
    assert_allclose(got_mean, mean, rtol=1e-10)
    assert_allclose(got_std, np.sqrt(mean), rtol=1e-10)  # Poisson: var = mean
    assert not hasattr(moe, "noise_variance_") and not hasattr(moe, "dispersion_")


def test_one_gamma_expert_has_the_maximum_likelihood_dispersion():
    X, y, _, _ = _two_regimes("gamma")
    moe = MixtureOfExpertsRegressor(n_experts=1, likelihood="gamma").fit(X, y)
    mean = moe.experts_[0].predict(X)
    glm = GammaRegressor(alpha=0.0).fit(X, y)
    assert_allclose(mean, glm.predict(X), rtol=1e-6)

    def neg_log_lik(log_shape):
        a = np.exp(log_shape)
        return -stats.gamma.logpdf(y, a, scale=mean / a).sum()

    best = minimize_scalar(neg_log_lik, bounds=(-5, 10), method="bounded")
    assert_allclose(moe.dispersion_[0], np.exp(-best.x), rtol=1e-4)
    a = 1.0 / moe.dispersion_[0]
    assert_allclose(moe.score_samples(X, y), stats.gamma.logpdf(y, a, scale=mean / a))
    assert_allclose(moe.predict(X, return_std=True)[1], np.sqrt(mean**2 / a))


@pytest.mark.parametrize("family", ["poisson", "gamma"])
def test_a_known_mixture_is_recovered(family):
    X, y, mu, shape = _two_regimes(family)
    moe = MixtureOfExpertsRegressor(n_experts=2, likelihood=family, random_state=0).fit(
        X, y
    )
    coefs = sorted((float(e.intercept_), *np.round(e.coef_, 6)) for e in moe.experts_)
    assert_allclose(coefs[0], [1.0, 0.0, 0.8], atol=0.08)
    assert_allclose(coefs[1], [2.0, 0.0, -0.5], atol=0.08)
    if family == "gamma":
        order = np.argsort([float(e.intercept_) for e in moe.experts_])
        assert_allclose(moe.dispersion_[order], [1 / 20, 1 / 5], rtol=0.2)
        truth = stats.gamma.logpdf(y, shape, scale=mu / shape).sum()
    else:
        truth = stats.poisson.logpmf(y, mu).sum()
    # The maximum-likelihood fit is at least as likely as the truth, and
    # barely more (it has few parameters for 2,000 rows).
    assert truth - 1.0 <= moe.log_likelihood_ <= truth + 20.0


def test_the_mixture_density_is_the_gate_weighted_sum():
    X, y, _, _ = _two_regimes("gamma", n=600)
    moe = MixtureOfExpertsRegressor(
        n_experts=2, likelihood="gamma", random_state=0
    ).fit(X, y)
    gate = moe.predict_gate_proba(X)
    means = moe.predict_experts(X)
    a = 1.0 / moe.dispersion_
    log_each = stats.gamma.logpdf(y[:, None], a, scale=means / a)
    assert_allclose(moe.score_samples(X, y), logsumexp(np.log(gate) + log_each, axis=1))
    mean = (gate * means).sum(axis=1)
    var = (gate * (means**2 / a + (means - mean[:, None]) ** 2)).sum(axis=1)
    got_mean, got_std = moe.predict(X, return_std=True)
    assert_allclose(got_mean, mean)
    assert_allclose(got_std, np.sqrt(var))


def test_hierarchical_poisson():
    X, y, mu, _ = _two_regimes("poisson")
    hme = HierarchicalMixtureOfExpertsRegressor(
        depth=1, likelihood="poisson", random_state=0
    ).fit(X, y)
    assert hme.log_likelihood_ >= stats.poisson.logpmf(y, mu).sum() - 1.0


def test_refitting_with_another_likelihood_keeps_only_its_parameters():
    X, y, _, _ = _two_regimes("gamma", n=400)
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    assert hasattr(moe, "noise_variance_")
    moe.set_params(likelihood="gamma").fit(X, y)
    assert hasattr(moe, "dispersion_") and not hasattr(moe, "noise_variance_")
    moe.set_params(likelihood="poisson").fit(X, np.round(y))
    assert not hasattr(moe, "dispersion_") and not hasattr(moe, "noise_variance_")


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda X, y: MixtureOfExpertsRegressor(likelihood="poisson").fit(X, -y),
            "non-negative target",
        ),
        (
            lambda X, y: MixtureOfExpertsRegressor(likelihood="gamma").fit(X, y - 1e3),
            "positive target",
        ),
        (
            lambda X, y: MixtureOfExpertsRegressor(
                likelihood="poisson", solver="gradient"
            ).fit(X, y),
            "solver='gradient' fits Gaussian experts only",
        ),
        (
            lambda X, y: MixtureOfExpertsRegressor(likelihood="poisson").partial_fit(
                X, y
            ),
            "partial_fit fits Gaussian experts only",
        ),
        (
            lambda X, y: (
                MixtureOfExpertsRegressor(n_experts=1, likelihood="poisson")
                .fit(X, y)
                .predict_quantiles(X, 0.5)
            ),
            "predictive distribution of Gaussian and Student-t experts",
        ),
        (
            lambda X, y: (
                MixtureOfExpertsRegressor(n_experts=1, likelihood="poisson")
                .fit(X, y)
                .score_samples(X, -y)
            ),
            "non-negative target",
        ),
    ],
    ids=[
        "negative counts",
        "gamma at 0",
        "gradient",
        "partial_fit",
        "quantiles",
        "score",
    ],
)
def test_what_the_families_refuse(make, match):
    X, y, _, _ = _two_regimes("poisson", n=300)
    with pytest.raises(ValueError, match=match):
        make(X, y)
