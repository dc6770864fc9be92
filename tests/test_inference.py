"""Standard errors of a fitted mixture (skmoe.inspection.coefficient_table)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_piecewise_linear
from skmoe.inspection import coefficient_table


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
    P, h = theta.size, 1e-4
    H = np.empty((P, P))
    for i in range(P):
        for j in range(P):
            e_i, e_j = np.eye(P)[i] * h, np.eye(P)[j] * h
            H[i, j] = (
                _log_likelihood(theta + e_i + e_j, Z, y, 2)
                - _log_likelihood(theta + e_i - e_j, Z, y, 2)
                - _log_likelihood(theta - e_i + e_j, Z, y, 2)
                + _log_likelihood(theta - e_i - e_j, Z, y, 2)
            ) / (4 * h * h)
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
    with pytest.raises(TypeError, match="LinearRegression experts"):
        coefficient_table(trees, X, y)


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
