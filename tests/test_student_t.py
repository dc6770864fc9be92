"""Robust experts: likelihood='student_t'.

Checked against a plain NumPy ECM written here (Peel & McLachlan 2000), a
generic optimiser of the one-expert likelihood, scipy's t density, and by
recovering known mixtures with heavy-tailed noise and gross outliers."""

import numpy as np
import pytest
import sklearn
from _support import NEEDS_DISPATCH
from numpy.testing import assert_allclose
from scipy import stats
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import digamma, expit, logsumexp
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe._likelihood import DF_BOUNDS


def _two_regimes(n=400, df=3.0, outliers=0.0, seed=0):
    """Two lines switched by a smooth gate in x (P(right) = expit(4 x)):
    ``1 + 2 x`` and ``-1 - x``, t noise of scale 0.3 and ``df`` degrees of
    freedom, and a fraction ``outliers`` of rows moved by 6 to 12 units."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=n)
    right = rng.uniform(size=n) < expit(4 * x)
    y = np.where(right, 1.0 + 2.0 * x, -1.0 - x) + 0.3 * rng.standard_t(df, size=n)
    gross = rng.uniform(size=n) < outliers
    y[gross] += rng.choice([-1.0, 1.0], gross.sum()) * rng.uniform(6, 12, gross.sum())
    return x[:, None], y


def _by_intercept(moe):
    """Coefficients ``(intercept, slope)`` and parameters of each expert,
    sorted by intercept (the estimator orders experts by share)."""
    order = np.argsort([float(e.intercept_) for e in moe.experts_])
    coefs = np.array([[e.intercept_, e.coef_[0]] for e in moe.experts_])[order]
    df = getattr(moe, "df_", None)
    return coefs, moe.noise_variance_[order], None if df is None else df[order]


# ----------------------------------------------------------------------
# A reference ECM in plain NumPy: two linear experts, a logistic gate
# ----------------------------------------------------------------------
def _t_logpdf(r, scale2, df):
    return stats.t.logpdf(r, df, scale=np.sqrt(scale2))


def _reference_ecm(x, y, resp, n_iter=20000, tol=1e-11):
    """ECM for a two-expert t mixture of linear experts with an unpenalised
    logistic gate, from the responsibilities ``resp``, until no parameter
    moves by more than ``tol`` (relative). Returns the coefficients (2, 2),
    squared scales, degrees of freedom and the log-likelihood of each
    iterate."""
    A = np.column_stack([np.ones_like(x), x])
    lo, hi = DF_BOUNDS
    v = np.zeros(2)  # gate logit of expert 1 against expert 0
    beta, scale2, df = np.zeros((2, 2)), np.ones(2), None
    u = np.ones_like(resp)
    history = []
    for _ in range(n_iter):
        old_df = df
        before = np.concatenate([beta.ravel(), scale2, [0, 0] if df is None else df])
        new_df = np.empty(2)
        for k in range(2):
            wk = resp[:, k] * u[:, k]
            beta[k] = np.linalg.solve(A.T @ (wk[:, None] * A), A.T @ (wk * y))
            r = y - A @ beta[k]
            scale2[k] = wk @ r**2 / resp[:, k].sum()
            if old_df is None:  # the start: the best df at this scale
                new_df[k] = minimize_scalar(
                    lambda d, r=r, k=k: -resp[:, k] @ _t_logpdf(r, scale2[k], d),
                    bounds=(lo, hi),
                    method="bounded",
                    options={"xatol": 1e-10},
                ).x
            else:
                c = (resp[:, k] @ (np.log(u[:, k]) - u[:, k])) / resp[:, k].sum()
                c += digamma((old_df[k] + 1) / 2) - np.log((old_df[k] + 1) / 2)
                f = lambda d, c=c: 1 + np.log(d / 2) - digamma(d / 2) + c  # noqa: E731
                new_df[k] = (
                    hi if f(hi) >= 0 else lo if f(lo) <= 0 else brentq(f, lo, hi)
                )
        df = new_df
        # The gate: Newton's method on the soft-label logistic likelihood.
        for _ in range(100):
            p = expit(A @ v)
            step = np.linalg.solve(
                A.T @ ((p * (1 - p))[:, None] * A), A.T @ (resp[:, 1] - p)
            )
            v += step
            if np.abs(step).max() < 1e-14:
                break
        # E-step.
        p = expit(A @ v)
        log_joint = np.column_stack(
            [
                np.log1p(-p) + _t_logpdf(y - A @ beta[0], scale2[0], df[0]),
                np.log(p) + _t_logpdf(y - A @ beta[1], scale2[1], df[1]),
            ]
        )
        log_prob = logsumexp(log_joint, axis=1)
        resp = np.exp(log_joint - log_prob[:, None])
        r2 = (y[:, None] - A @ beta.T) ** 2
        u = (df + 1) / (df + r2 / scale2)
        history.append(log_prob.sum())
        after = np.concatenate([beta.ravel(), scale2, df])
        if np.all(np.abs(after - before) <= tol * np.abs(after)):
            break
    return beta, scale2, df, np.array(history)


def test_ecm_reaches_the_reference_ecm_optimum():
    x, y = _two_regimes(n=300, df=3.0, outliers=0.03)
    X = x[:, None] if x.ndim == 1 else x
    # One start for both: a rough split on the sign of x.
    resp0 = np.column_stack([expit(-2 * X[:, 0]), expit(2 * X[:, 0])])
    beta, scale2, df, history = _reference_ecm(X[:, 0], y, resp0)
    # The reference never lowers the likelihood either.
    assert np.all(np.diff(history) >= -1e-9 * abs(history[-1]))
    moe = MixtureOfExpertsRegressor(
        2,
        likelihood="student_t",
        gate=SoftmaxGate(C=np.inf),
        init_params=resp0,
        tol=1e-12,
        max_iter=3000,
    ).fit(X, y)
    assert moe.converged_
    order = np.argsort(beta[:, 0])
    coefs, got_scale2, got_df = _by_intercept(moe)
    # The reference is ECM; the estimator takes ECME's steps in nu where
    # they climb faster (see _t_degrees_of_freedom): the same optimum.
    assert_allclose(coefs, beta[order], rtol=1e-5, atol=1e-6)
    assert_allclose(got_scale2, scale2[order], rtol=1e-5)
    assert_allclose(got_df, df[order], rtol=1e-5)
    assert_allclose(moe.log_likelihood_, history[-1], rtol=1e-9, atol=1e-7)
