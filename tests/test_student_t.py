"""Robust experts: likelihood='student_t'.

Checked against a plain NumPy ECM written here (Peel & McLachlan 2000), a
generic optimiser of the one-expert likelihood, scipy's t density, and by
recovering known mixtures with heavy-tailed noise and gross outliers."""

import warnings

import numpy as np
import pytest
import sklearn
from _support import NEEDS_DISPATCH
from numpy.testing import assert_allclose
from scipy import stats
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import digamma, expit, logsumexp
from sklearn.exceptions import ConvergenceWarning
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


def _unclipped(moe, X):
    return np.column_stack([e.predict(X) for e in moe.experts_])


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
                    lambda d, r=r, h=resp[:, k], s2=scale2[k]: -h @ _t_logpdf(r, s2, d),
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


def test_the_observed_log_likelihood_never_decreases():
    X, y = _two_regimes(n=400, outliers=0.08)
    for model in (
        MixtureOfExpertsRegressor(3, likelihood="student_t", random_state=0),
        HierarchicalMixtureOfExpertsRegressor(
            depth=2, likelihood="student_t", random_state=0
        ),
    ):
        bounds = model.fit(X, y).lower_bounds_
        assert bounds.size > 5
        assert np.diff(bounds).min() >= -1e-12


# ----------------------------------------------------------------------
# One expert: the maximum-likelihood t regression
# ----------------------------------------------------------------------
def test_one_expert_is_the_maximum_likelihood_t_regression():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 2))
    y = 1.0 + X @ [0.5, -2.0] + 0.7 * rng.standard_t(4.0, size=500)
    moe = MixtureOfExpertsRegressor(1, likelihood="student_t", tol=1e-10).fit(X, y)

    def neg_log_lik(p):
        return -stats.t.logpdf(
            y, np.exp(p[4]), loc=p[0] + X @ p[1:3], scale=np.exp(p[3])
        ).sum()

    best = minimize(neg_log_lik, [0, 0, 0, 0, 1], method="BFGS", options={"gtol": 1e-8})
    expert = moe.experts_[0]
    assert_allclose([expert.intercept_, *expert.coef_], best.x[:3], rtol=1e-5)
    assert_allclose(moe.noise_variance_[0], np.exp(2 * best.x[3]), rtol=1e-4)
    assert_allclose(moe.df_[0], np.exp(best.x[4]), rtol=1e-4)
    assert_allclose(moe.log_likelihood_, -best.fun, rtol=1e-9)
    # scipy's density, and the t variance nu / (nu - 2) sigma^2.
    mean = expert.predict(X)
    scale, df = np.sqrt(moe.noise_variance_[0]), moe.df_[0]
    assert_allclose(moe.score_samples(X, y), stats.t.logpdf(y, df, mean, scale))
    got_mean, got_std = moe.predict(X, return_std=True)
    assert_allclose(got_mean, mean)
    assert_allclose(got_std, stats.t.std(df, scale=scale))


@pytest.mark.parametrize("df, n", [(2.5, 2000), (4.0, 3000)])
def test_the_degrees_of_freedom_are_recovered(df, n):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    y = X @ [1.0, -1.0] + 0.5 * rng.standard_t(df, size=n)
    moe = MixtureOfExpertsRegressor(1, likelihood="student_t").fit(X, y)
    assert_allclose(moe.df_[0], df, rtol=0.15)
    assert_allclose(moe.noise_variance_[0], 0.25, rtol=0.1)


# ----------------------------------------------------------------------
# Mixtures: robustness, the density, BIC
# ----------------------------------------------------------------------
def test_outliers_pull_the_gaussian_mixture_but_not_the_t_one():
    X, y = _two_regimes(n=400, df=3.0, outliers=0.08, seed=0)
    truth = np.array([[-1.0, -1.0], [1.0, 2.0]])
    gaussian = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    robust = MixtureOfExpertsRegressor(2, likelihood="student_t", random_state=0)
    hme = HierarchicalMixtureOfExpertsRegressor(
        depth=1, likelihood="student_t", random_state=0
    )
    assert np.abs(_by_intercept(gaussian)[0] - truth).max() > 0.5
    for model in (robust, hme):
        coefs, scale2, df = _by_intercept(model.fit(X, y))
        assert np.abs(coefs - truth).max() < 0.15
        # The gross outliers make the tails heavier than t(3)'s.
        assert np.all(df < 3.0)


def test_the_mixture_density_and_spread():
    for outliers in (0.0, 0.08):
        X, y = _two_regimes(n=300, df=8.0, outliers=outliers, seed=1)
        moe = MixtureOfExpertsRegressor(2, likelihood="student_t", random_state=0).fit(
            X, y
        )
        # The density is that of the experts' own (unclipped) predictions.
        gate, means = moe.predict_gate_proba(X), _unclipped(moe, X)
        scale, df = np.sqrt(moe.noise_variance_), moe.df_
        log_each = stats.t.logpdf(y[:, None], df, means, scale)
        assert_allclose(
            moe.score_samples(X, y), logsumexp(np.log(gate) + log_each, axis=1)
        )
        var = np.where(df > 2, scale**2 * df / np.maximum(df - 2, 1e-300), np.inf)
        # predict mixes the clipped predictions (clip_predictions=True).
        clipped = moe.predict_experts(X)
        mean = (gate * clipped).sum(axis=1)
        total = (gate * (var + (clipped - mean[:, None]) ** 2)).sum(axis=1)
        got_mean, got_std = moe.predict(X, return_std=True)
        assert_allclose(got_mean, mean)
        assert_allclose(got_std, np.sqrt(total))
        if outliers:  # tails too heavy for a variance: an infinite spread
            assert np.any(df <= 2) and np.all(np.isinf(got_std))
        else:
            assert np.all(df > 2) and np.all(np.isfinite(got_std))


def test_bic_counts_a_scale_and_degrees_of_freedom_per_expert():
    X, y = _two_regimes(n=300, seed=2)
    n = y.size
    penalty = {}
    for family in ("gaussian", "student_t"):
        moe = MixtureOfExpertsRegressor(2, likelihood=family, random_state=0).fit(X, y)
        log_lik = moe.score_samples(X, y).sum()
        assert_allclose(moe.aic(X, y), -2 * log_lik + 2 * moe._n_parameters())
        penalty[family] = (moe.bic(X, y) + 2 * log_lik) / np.log(n)
    assert_allclose(penalty["student_t"] - penalty["gaussian"], 2)


def test_refit_expert_at_the_optimum_changes_nothing():
    X, y = _two_regimes(n=300, outliers=0.05, seed=4)
    moe = MixtureOfExpertsRegressor(
        2, likelihood="student_t", tol=1e-11, max_iter=2000, random_state=0
    ).fit(X, y)
    before = _by_intercept(moe)
    moe.refit_expert(0, X, y)
    after = _by_intercept(moe)
    for a, b in zip(after, before, strict=True):
        assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_refitting_with_another_likelihood_drops_the_degrees_of_freedom():
    X, y = _two_regimes(n=200)
    moe = MixtureOfExpertsRegressor(2, likelihood="student_t", random_state=0)
    assert moe.fit(X, y).df_.shape == (2,)
    assert moe.noise_variance_.shape == (2,)
    moe.set_params(likelihood="gaussian").fit(X, y)
    assert not hasattr(moe, "df_") and moe.noise_variance_.shape == (2,)


# ----------------------------------------------------------------------
# The predictive distribution
# ----------------------------------------------------------------------
def test_quantiles_intervals_and_draws_of_the_t_mixture():
    X, y = _two_regimes(n=400, df=3.0, outliers=0.05)
    moe = MixtureOfExpertsRegressor(2, likelihood="student_t", random_state=0)
    moe.fit(X, y)
    Xt = np.array([[-1.5], [0.0], [1.5]])
    gate, means = moe.predict_gate_proba(Xt), _unclipped(moe, Xt)
    scale, df = np.sqrt(moe.noise_variance_), moe.df_

    def cdf(v):
        return (gate * stats.t.cdf(v[:, None], df, means, scale)).sum(axis=1)

    levels = np.array([0.05, 0.5, 0.95])
    q = moe.predict_quantiles(Xt, levels)
    for j, level in enumerate(levels):
        assert_allclose(cdf(q[:, j]), level, atol=1e-9)
    draws = moe.sample_y(Xt, 20000, random_state=0)
    assert_allclose(np.quantile(draws, levels, axis=1).T, q, atol=0.05)
    central = moe.predict_interval(Xt, 0.9)
    hdr = moe.predict_interval(Xt, 0.9, kind="hdr")
    for i, pieces in enumerate(hdr):
        mass = sum(
            (
                gate[i]
                * (
                    stats.t.cdf(b, df, means[i], scale)
                    - stats.t.cdf(a, df, means[i], scale)
                )
            ).sum()
            for a, b in pieces
        )
        assert 0.9 - 1e-8 <= mass <= 0.9 + 1e-6
        assert np.diff(pieces, axis=1).sum() <= np.diff(central[i]) + 1e-9
        # A highest-density set: the density is the same at every endpoint.
        ends = np.asarray(pieces).ravel()
        dens = (gate[i] * stats.t.pdf(ends[:, None], df, means[i], scale)).sum(1)
        assert_allclose(dens, dens[0], rtol=1e-6)


# ----------------------------------------------------------------------
# What the family refuses, before any work
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, call, match",
    [
        ({"solver": "gradient"}, "fit", "solver='gradient' fits Gaussian experts"),
        ({}, "partial_fit", "partial_fit fits Gaussian experts only"),
        ({"likelihood": "t"}, "fit", "likelihood"),
        ({"likelihood": "Student_t"}, "fit", "likelihood"),
    ],
    ids=["gradient", "partial_fit", "unknown name", "case"],
)
def test_what_student_t_refuses(params, call, match):
    X, y = _two_regimes(n=100)
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    experts, gate = moe.experts_, moe.gate_
    moe.set_params(**{"likelihood": "student_t", **params})
    error = InvalidParameterError if "likelihood" in params else ValueError
    with pytest.raises(error, match=match):
        getattr(moe, call)(X, y)
    # The fitted model is left as it was.
    assert moe.experts_ is experts and moe.gate_ is gate


def test_dask_inputs_are_refused():
    da = pytest.importorskip("dask.array")
    X, y = _two_regimes(n=200)
    moe = MixtureOfExpertsRegressor(2, likelihood="student_t")
    with pytest.raises(ValueError, match="likelihood='student_t', solver='em'"):
        moe.fit(da.from_array(X, chunks=(100, 1)), da.from_array(y, chunks=100))
    assert not hasattr(moe, "experts_")


@NEEDS_DISPATCH
def test_device_inputs_are_refused():
    xps = pytest.importorskip("array_api_strict")
    X, y = _two_regimes(n=200)
    moe = MixtureOfExpertsRegressor(2, likelihood="student_t")
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="fits NumPy inputs only"):
            moe.fit(xps.asarray(X), xps.asarray(y))
    assert not hasattr(moe, "experts_")


def test_text_views_name_the_t_scale_and_degrees_of_freedom():
    from skmoe.inspection import export_text, summary

    X, y = _two_regimes(n=200)
    moe = MixtureOfExpertsRegressor(2, likelihood="student_t", random_state=0)
    moe.fit(X, y)
    scale, df = np.sqrt(moe.noise_variance_[0]), moe.df_[0]
    text = export_text(moe, decimals=3)
    assert f"t scale={scale:.3f}, df={df:.3f}" in text and "noise std" not in text
    table = summary(moe)
    assert "t scale" in table and "noise std" not in table


@pytest.mark.parametrize(
    "first, then",
    [("gaussian", "student_t"), ("student_t", "gaussian"), ("poisson", "student_t")],
)
def test_a_warm_start_from_another_likelihood_is_refused(first, then):
    X, y = _two_regimes(n=200)
    y = np.abs(np.round(y)) if first == "poisson" else y
    moe = MixtureOfExpertsRegressor(2, likelihood=first, random_state=0).fit(X, y)
    experts = moe.experts_
    moe.set_params(likelihood=then, warm_start=True)
    with pytest.raises(ValueError, match="fitted with another likelihood"):
        moe.fit(X, y)
    assert moe.experts_ is experts
    # The same family continues from the fitted model.
    moe.set_params(likelihood=first).fit(X, y)


@pytest.mark.parametrize(
    "Est, params",
    [
        (MixtureOfExpertsRegressor, {"n_experts": 2}),
        (HierarchicalMixtureOfExpertsRegressor, {"depth": 1}),
    ],
    ids=["flat", "hierarchical"],
)
def test_sample_weight_equals_repetition(Est, params):
    X, y = _two_regimes(n=120, outliers=0.05, seed=5)
    counts = np.random.default_rng(0).integers(0, 4, size=y.size)
    resp = np.column_stack([expit(-2 * X[:, 0]), expit(2 * X[:, 0])])
    rows = np.repeat(np.arange(y.size), counts)
    # Weights are rescaled to row units (mean one over the rows of positive
    # weight): the repeated rows' gate penalty is matched by a C scaled by
    # the mean weight (C=10: no penalty continuation), as in test_moe.py.
    unit = counts.sum() / np.count_nonzero(counts)
    fits = [
        Est(
            **params,
            likelihood="student_t",
            gate=SoftmaxGate(C=C),
            init_params=start,
            max_iter=40,
            tol=0.0,
        )
        for C, start in ((10.0 * unit, resp), (10.0, resp[rows]))
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = fits[0].fit(X, y, sample_weight=counts)
        repeated = fits[1].fit(X[rows], y[rows])
    # The same EM map, iteration by iteration (up to the gate solver's
    # tolerance).
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-6)
    for a, b in zip(_by_intercept(weighted), _by_intercept(repeated), strict=True):
        assert_allclose(a, b, rtol=1e-5)
