"""Standard errors of a fitted mixture (skmoe.inspection.coefficient_table)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_piecewise_linear
from skmoe.inspection import coefficient_table
from skmoe.inspection._inference import (
    _FAMILIES,
    _draw_targets,
    _Parameters,
    _theta_of,
)


def test_one_expert_has_the_least_squares_standard_errors():
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 2))
    y = 1 + X @ [2.0, -1.0] + rng.normal(size=n)
    moe = MixtureOfExpertsRegressor(n_experts=1).fit(X, y)
    table = coefficient_table(moe, X, y)
    Z = np.column_stack([np.ones(n), X])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    var = np.mean((y - Z @ beta) ** 2)  # maximum likelihood
    ols = np.sqrt(np.diag(var * np.linalg.inv(Z.T @ Z)))
    assert_allclose(table["coef"][:3], beta, rtol=1e-8)
    assert_allclose(table["std_err"][:3], ols, rtol=1e-5)
    # The log variance of a normal sample: standard error sqrt(2 / n).
    assert_allclose(table["std_err"][3], np.sqrt(2 / n), rtol=1e-5)


def _hessian(f, theta, h=1e-4):
    """The Hessian of ``f`` at ``theta`` by second differences of ``f``."""
    P = theta.size
    H = np.empty((P, P))
    for i in range(P):
        for j in range(i + 1):
            e_i, e_j = np.eye(P)[i] * h, np.eye(P)[j] * h
            H[i, j] = H[j, i] = (
                f(theta + e_i + e_j)
                - f(theta + e_i - e_j)
                - f(theta - e_i + e_j)
                + f(theta - e_i - e_j)
            ) / (4 * h * h)
    return H


def _log_likelihood(theta, Z, y, K):
    """The mixture's log-likelihood, written directly (no score)."""
    d1 = Z.shape[1]
    gate = np.vstack([np.zeros(d1), theta[: (K - 1) * d1].reshape(K - 1, d1)])
    experts = theta[(K - 1) * d1 : (2 * K - 1) * d1].reshape(K, d1)
    log_var = theta[(2 * K - 1) * d1 :]
    log_gate = Z @ gate.T
    log_gate -= logsumexp(log_gate, axis=1, keepdims=True)
    resid = y[:, None] - Z @ experts.T
    log_lik = -0.5 * (np.log(2 * np.pi) + log_var + resid**2 / np.exp(log_var))
    return logsumexp(log_gate + log_lik, axis=1).sum()


def test_two_experts_match_the_hessian_of_the_log_likelihood():
    """The observed information by second differences of the log-likelihood
    itself (not of its gradient) gives the same standard errors."""
    X, y = make_piecewise_linear(
        n_samples=300, breakpoints=(0.0,), slopes=(1.0, -2.0), noise=0.3, random_state=1
    )
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    table = coefficient_table(moe, X, y)
    theta = table["coef"].to_numpy()
    Z = np.column_stack([np.ones(X.shape[0]), X])
    H = _hessian(lambda t: _log_likelihood(t, Z, y, 2), theta)
    reference = np.sqrt(np.diag(np.linalg.inv(-H)))
    assert_allclose(table["std_err"], reference, rtol=1e-3)
    # Log-odds of the gate against expert 0, and the fitted experts.
    gate = moe.gate_
    assert_allclose(theta[0], gate.intercept_[1] - gate.intercept_[0], rtol=1e-10)
    assert_allclose(theta[2], moe.experts_[0].intercept_, rtol=1e-10)


def test_pipelines_and_feature_names():
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    ).fit(X, y)
    table = coefficient_table(pipe, X, y)
    assert set(table["term"]) == {"intercept", "x0", "log noise variance"}
    assert np.all(table["std_err"] > 0)


def test_unsupported_models_are_refused():
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    trees = MixtureOfExpertsRegressor(
        n_experts=2, expert=DecisionTreeRegressor(max_depth=2), random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match="unpenalised experts with an intercept"):
        coefficient_table(trees, X, y)
    counts = np.random.default_rng(0).poisson(2.0, size=y.size)
    penalised = MixtureOfExpertsRegressor(
        n_experts=2, likelihood="poisson", expert=PoissonRegressor(), random_state=0
    ).fit(X, counts)
    with pytest.raises(TypeError, match="PoissonRegressor\\(alpha=0\\)"):
        coefficient_table(penalised, X, counts)


def test_standard_errors_agree_with_the_bootstrap_on_a_true_model():
    """On data drawn from a mixture with a soft gate (the model holds), the
    information's standard errors match the spread of bootstrap refits."""
    rng = np.random.default_rng(3)
    n = 600
    X = rng.uniform(-2, 2, size=(n, 1))
    gate = 1 / (1 + np.exp(-2.0 * X[:, 0]))
    second = rng.uniform(size=n) < gate
    y = np.where(second, 1.0 + 1.5 * X[:, 0], -0.5 - 1.0 * X[:, 0])
    y = y + rng.normal(scale=np.where(second, 0.4, 0.3))
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    table = coefficient_table(
        moe, X, y, bootstrap="parametric", n_bootstrap=80, n_jobs=2, random_state=0
    )
    # 80 refits estimate a standard deviation to about 8% (1 / sqrt(2 * 80)).
    assert_allclose(table["bootstrap_std_err"], table["std_err"], rtol=0.3)
    nonparametric = coefficient_table(
        moe, X, y, bootstrap="nonparametric", n_bootstrap=80, random_state=0
    )
    assert_allclose(nonparametric["bootstrap_std_err"], table["std_err"], rtol=0.3)
    with pytest.raises(ValueError, match="bootstrap='jackknife'"):
        coefficient_table(moe, X, y, bootstrap="jackknife")


def _two_regimes(likelihood, n=400, seed=0):
    """One feature, two linear predictors behind a soft gate, targets of the
    family ``likelihood`` (means exp(eta) for the GLMs)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    second = rng.uniform(size=n) < 1 / (1 + np.exp(-2.0 * x))
    eta = np.where(second, 2.0 + 0.5 * x, -0.2 - 0.5 * x)
    if likelihood == "student_t":
        y = 3 * eta + 0.3 * rng.standard_t(4, n)
    elif likelihood == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(8.0, np.exp(eta) / 8.0)
    return x[:, None], y


def _family_log_likelihood(likelihood, theta, Z, y, K):
    """The mixture's log-likelihood from scipy's densities (no score)."""
    d1 = Z.shape[1]
    gate = np.vstack([np.zeros(d1), theta[: (K - 1) * d1].reshape(K - 1, d1)])
    experts = theta[(K - 1) * d1 : (2 * K - 1) * d1].reshape(K, d1)
    extras = np.exp(theta[(2 * K - 1) * d1 :].reshape(-1, K))
    log_gate = Z @ gate.T
    log_gate -= logsumexp(log_gate, axis=1, keepdims=True)
    eta = Z @ experts.T
    Y = y[:, None]
    if likelihood == "student_t":
        scale2, df = extras
        log_lik = stats.t.logpdf(Y, df, loc=eta, scale=np.sqrt(scale2))
    elif likelihood == "poisson":
        log_lik = stats.poisson.logpmf(Y, np.exp(eta))
    else:
        shape = 1.0 / extras[0]
        log_lik = stats.gamma.logpdf(Y, shape, scale=np.exp(eta) / shape)
    return logsumexp(log_gate + log_lik, axis=1).sum()


@pytest.mark.parametrize("likelihood", ["student_t", "poisson", "gamma"])
def test_other_families_match_the_hessian_of_their_log_likelihood(likelihood):
    """For every family, the standard errors equal those of the observed
    information computed by second differences of the log-likelihood
    written with scipy's densities."""
    X, y = _two_regimes(likelihood)
    moe = MixtureOfExpertsRegressor(
        n_experts=2, likelihood=likelihood, random_state=0
    ).fit(X, y)
    table = coefficient_table(moe, X, y)
    theta = table["coef"].to_numpy()
    Z = np.column_stack([np.ones(X.shape[0]), X])
    H = _hessian(lambda t: _family_log_likelihood(likelihood, t, Z, y, 2), theta)
    reference = np.sqrt(np.diag(np.linalg.inv(-H)))
    assert_allclose(table["std_err"], reference, rtol=2e-3)
    extras = {"student_t": 2 * 2, "poisson": 0, "gamma": 2}[likelihood]
    assert len(table) == 2 + 2 * 2 + extras
    # At the fit the score vanishes: the table's coefficients are the model's.
    assert_allclose(theta[4], moe.experts_[1].intercept_, rtol=1e-10)


def test_one_poisson_expert_has_the_glm_standard_errors():
    """One Poisson expert is a Poisson GLM: the inverse of X^T diag(mu) X."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 2))
    Z = np.column_stack([np.ones(500), X])
    y = rng.poisson(np.exp(Z @ [0.5, 0.3, -0.2])).astype(float)
    moe = MixtureOfExpertsRegressor(n_experts=1, likelihood="poisson").fit(X, y)
    table = coefficient_table(moe, X, y)
    beta = table["coef"].to_numpy()
    glm = np.sqrt(np.diag(np.linalg.inv(Z.T @ (np.exp(Z @ beta)[:, None] * Z))))
    assert_allclose(table["std_err"], glm, rtol=1e-5)


@pytest.mark.parametrize("likelihood", ["poisson", "gamma"])
def test_glm_standard_errors_agree_with_the_parametric_bootstrap(likelihood):
    X, y = _two_regimes(likelihood, n=800, seed=2)
    moe = MixtureOfExpertsRegressor(
        n_experts=2, likelihood=likelihood, random_state=0
    ).fit(X, y)
    table = coefficient_table(
        moe, X, y, bootstrap="parametric", n_bootstrap=60, n_jobs=2, random_state=0
    )
    # 60 refits estimate a standard deviation to about 9% (1 / sqrt(2 * 60)).
    assert_allclose(table["bootstrap_std_err"], table["std_err"], rtol=0.35)


def _two_class_regimes(n_classes, n=500, seed=0):
    """Two logistic experts behind a soft gate in x0."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 2))
    second = rng.uniform(size=n) < 1 / (1 + np.exp(-2.0 * X[:, 0]))
    Z = np.column_stack([np.ones(n), X])
    B = np.where(second[:, None, None], 1.0, -1.0) * np.array(
        [[0.0, 0.0, 0.0], [0.5, 0.0, 1.5], [-0.3, 1.0, -0.5]][:n_classes]
    )
    logits = np.einsum("nd,ncd->nc", Z, np.broadcast_to(B, (n, n_classes, 3)))
    p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    y = (np.cumsum(p, axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return X, np.array(["a", "b", "c"])[y]


def _classifier_log_likelihood(theta, Z, codes, K, n_classes):
    d1 = Z.shape[1]
    gate = np.vstack([np.zeros(d1), theta[: (K - 1) * d1].reshape(K - 1, d1)])
    m = n_classes - 1
    experts = theta[(K - 1) * d1 :].reshape(K, m, d1)
    log_gate = Z @ gate.T
    log_gate -= logsumexp(log_gate, axis=1, keepdims=True)
    total = log_gate.copy()
    for k in range(K):
        logits = np.column_stack([np.zeros(Z.shape[0]), Z @ experts[k].T])
        log_p = logits - logsumexp(logits, axis=1, keepdims=True)
        total[:, k] += log_p[np.arange(Z.shape[0]), codes]
    return logsumexp(total, axis=1).sum()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_experts_match_the_hessian_of_their_log_likelihood(n_classes):
    X, y = _two_class_regimes(n_classes)
    moe = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(C=np.inf), random_state=0
    ).fit(X, y)
    table = coefficient_table(moe, X, y)
    theta = table["coef"].to_numpy()
    Z = np.column_stack([np.ones(X.shape[0]), X])
    codes = np.searchsorted(moe.classes_, y)
    H = _hessian(lambda t: _classifier_log_likelihood(t, Z, codes, 2, n_classes), theta)
    assert_allclose(table["std_err"], np.sqrt(np.diag(np.linalg.inv(-H))), rtol=2e-3)
    assert len(table) == 3 + 2 * (n_classes - 1) * 3
    expert = moe.experts_[1]
    log_odds = expert.coef_[-1] - (expert.coef_[0] if n_classes > 2 else 0.0)
    assert_allclose(theta[-2:], log_odds, rtol=1e-10)
    assert table["component"].iloc[-1] == f"expert 1, class {moe.classes_[-1]} vs a"


def test_one_logistic_expert_has_the_glm_standard_errors():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 2))
    Z = np.column_stack([np.ones(600), X])
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-Z @ [0.3, 1.0, -0.7]))).astype(int)
    moe = MixtureOfExpertsClassifier(
        n_experts=1, expert=LogisticRegression(C=np.inf, tol=1e-10)
    ).fit(X, y)
    table = coefficient_table(moe, X, y)
    beta = table["coef"].to_numpy()
    p = 1 / (1 + np.exp(-Z @ beta))
    glm = np.sqrt(np.diag(np.linalg.inv(Z.T @ ((p * (1 - p))[:, None] * Z))))
    assert_allclose(table["std_err"], glm, rtol=1e-4)


def test_penalised_logistic_experts_are_refused():
    X, y = _two_class_regimes(2, n=200)
    moe = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="LogisticRegression\\(C=np.inf\\)"):
        coefficient_table(moe, X, y)


def test_parametric_draws_follow_the_fitted_classifier():
    """The parametric bootstrap's targets: class frequencies per row match
    the fitted mixture's predict_proba."""
    X, y = _two_class_regimes(3, n=300)
    moe = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(C=np.inf), random_state=0
    ).fit(X, y)
    family = _FAMILIES["categorical"]
    params = _Parameters(2, 2, family, family.n_predictors(moe))
    Z = np.column_stack([np.ones(X.shape[0]), X])
    rng = np.random.RandomState(0)
    theta = _theta_of(moe, params)
    draws = np.array(
        [family.decode(moe, _draw_targets(theta, params, Z, rng)) for _ in range(400)]
    )
    frequencies = (draws[:, :, None] == moe.classes_).mean(axis=0)
    # 400 draws per row: a frequency's standard error is at most 0.025.
    assert np.abs(frequencies - moe.predict_proba(X)).max() < 0.12
    assert_allclose(
        frequencies.mean(axis=0), moe.predict_proba(X).mean(axis=0), atol=0.01
    )
