"""Tests of the flat mixture-of-experts estimators: learning, EM, API."""

import inspect
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    DeadExpertWarning,
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe._em import em_run
from skmoe._gate import _weighted_standardization
from skmoe.datasets import (
    load_mcycle,
    make_moe_classification,
    make_moe_regression,
    make_piecewise_linear,
    make_xor,
)


@pytest.fixture(scope="module")
def moe_data():
    return make_moe_regression(
        n_samples=3000,
        n_features=2,
        n_experts=3,
        noise=[0.1, 0.2, 0.3],
        gate_scale=4.0,
        random_state=0,
        return_params=True,
    )


def _match_experts(true_coef, fitted_coef):
    """Permutation of fitted experts that best matches the true ones."""
    from itertools import permutations

    k = true_coef.shape[0]
    best = min(
        permutations(range(k)),
        key=lambda p: np.sum((fitted_coef[list(p)] - true_coef) ** 2),
    )
    return list(best)


# ----------------------------------------------------------------------
# Learning: ground truth
# ----------------------------------------------------------------------
def test_recovers_known_mixture_of_linear_experts(moe_data):
    X, y, params = moe_data
    moe = MixtureOfExpertsRegressor(3, n_init=3, random_state=0).fit(X, y)
    coef = np.array([e.coef_ for e in moe.experts_])
    intercept = np.array([e.intercept_ for e in moe.experts_])
    perm = _match_experts(
        np.column_stack([params["expert_coef"], params["expert_intercept"]]),
        np.column_stack([coef, intercept]),
    )
    assert_allclose(coef[perm], params["expert_coef"], atol=0.08)
    assert_allclose(intercept[perm], params["expert_intercept"], atol=0.08)
    assert_allclose(np.sqrt(moe.noise_variance_[perm]), params["noise_std"], rtol=0.15)
    # The gate's partition: the most probable expert agrees with the true
    # (sampled) expert about as often as the true gate's argmax does.
    true_logits = X @ params["gate_coef"] + params["gate_intercept"]
    true_argmax = np.argmax(true_logits, axis=1)
    fitted_argmax = np.asarray(perm).argsort()[moe.predict_gate_proba(X).argmax(1)]
    assert np.mean(fitted_argmax == true_argmax) > 0.95
    true_gate = np.exp(true_logits - logsumexp(true_logits, axis=1, keepdims=True))
    fitted_gate = moe.predict_gate_proba(X)[:, perm]
    assert np.mean(np.abs(fitted_gate - true_gate)) < 0.05


def test_mcycle_reaches_reference_optima():
    """The maximum-likelihood optima of R flexmix / an exact EM on mcycle.

    Reference values (shared/data/README.md): K=2 -614.537, K=3 -580.517 in
    total log-likelihood. With a practically unpenalised gate, restarts must
    reach them. (For K=2 the k-means start, which splits the times into an
    early and a late block, leads to a local optimum at -643.39: the optimum
    pairs a quiet early regime with a wide noisy one, which random starts find.)
    """
    X, y = load_mcycle(return_X_y=True)
    gate = SoftmaxGate(C=1e6)
    for k, reference, init in [(2, -614.537, "random"), (3, -580.517, "kmeans")]:
        moe = MixtureOfExpertsRegressor(
            k,
            gate=gate,
            n_init=8,
            init_params=init,
            random_state=0,
            max_iter=2000,
            tol=1e-9,
        ).fit(X, y)
        assert moe.log_likelihood_ >= reference - 0.01, (k, moe.log_likelihood_)
        assert_allclose(moe.score_samples(X, y).sum(), moe.log_likelihood_, rtol=1e-8)


def test_em_reaches_a_stationary_point():
    """EM stops at the maximum: direct optimisation gains nothing more."""
    from scipy.optimize import minimize

    X, y = load_mcycle(return_X_y=True)
    moe = MixtureOfExpertsRegressor(
        2,
        gate=SoftmaxGate(C=np.inf),
        n_init=3,
        random_state=0,
        tol=1e-10,
        max_iter=5000,
    ).fit(X, y)
    x = X[:, 0]

    def neg_loglik(theta):
        v, b0, a = theta[0], theta[1], theta[2:4]
        c, lv = theta[4:6], theta[6:8]
        logit = np.column_stack([np.zeros_like(x), v * x + b0])
        log_g = logit - logsumexp(logit, axis=1, keepdims=True)
        mean = a[None] + c[None] * x[:, None]
        ll = norm.logpdf(y[:, None], mean, np.exp(0.5 * lv)[None])
        return -logsumexp(log_g + ll, axis=1).sum()

    g = moe.gate_
    theta0 = np.array(
        [
            g.coef_[0, 1] - g.coef_[0, 0],
            g.intercept_[1] - g.intercept_[0],
            *[e.intercept_ for e in moe.experts_],
            *[e.coef_[0] for e in moe.experts_],
            *np.log(moe.noise_variance_),
        ]
    )
    start = -neg_loglik(theta0)
    assert_allclose(start, moe.log_likelihood_, rtol=1e-8)
    res = minimize(
        neg_loglik,
        theta0,
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10},
    )
    assert -res.fun - start < 1e-3


def test_scale_of_features_does_not_change_the_optimum():
    X, y = make_piecewise_linear(n_samples=400, random_state=1)
    year = 1990.0 + 5.0 * X  # a calendar year: large offset, unit scale
    thousands = 1000.0 * X
    fits = [
        MixtureOfExpertsRegressor(3, random_state=0, n_init=2).fit(Z, y)
        for Z in (X, year, thousands)
    ]
    bounds = [f.log_likelihood_ for f in fits]
    assert_allclose(bounds, bounds[0], rtol=1e-4)
    for f, Z in zip(fits[1:], (year, thousands), strict=True):
        assert_allclose(f.predict(Z), fits[0].predict(X), atol=1e-3 * np.std(y))


def test_log_likelihood_never_decreases_with_linear_experts(moe_data):
    X, y, _ = moe_data
    for init in ("kmeans", "random"):
        moe = MixtureOfExpertsRegressor(
            3, min_responsibility=0.0, init_params=init, random_state=1, max_iter=60
        ).fit(X, y)
        steps = np.diff(moe.lower_bounds_)
        assert moe.lower_bounds_.size > 3
        assert np.all(steps >= -1e-9), steps.min()
    Xc, yc = make_moe_classification(n_samples=1500, n_classes=3, random_state=0)
    clf = MixtureOfExpertsClassifier(
        3, min_responsibility=0.0, random_state=0, max_iter=60
    ).fit(Xc, yc)
    # The logistic experts' M-step maximises their likelihood minus their L2
    # penalty, which the bound leaves out: it may dip, by less than tol, at
    # the step that solves them (the last, after one-step M-steps).
    assert np.all(np.diff(clf.lower_bounds_) >= -clf.tol)
    assert clf.lower_bound_ == clf.lower_bounds_[-1]


def test_beats_single_linear_model_on_piecewise_linear():
    X, y = make_piecewise_linear(n_samples=600, noise=0.1, random_state=0)
    Xt, yt = make_piecewise_linear(n_samples=600, noise=0.1, random_state=1)
    moe = MixtureOfExpertsRegressor(3, n_init=3, random_state=0).fit(X, y)
    single = LinearRegression().fit(X, y)
    assert moe.score(Xt, yt) > 0.97
    assert single.score(Xt, yt) < 0.6
    assert moe.score(Xt, yt) - single.score(Xt, yt) > 0.35


def test_beats_single_logistic_model_on_xor():
    X, y = make_xor(n_samples=800, random_state=0)
    Xt, yt = make_xor(n_samples=800, random_state=1)
    clf = MixtureOfExpertsClassifier(4, n_init=3, random_state=0).fit(X, y)
    single = LogisticRegression().fit(X, y)
    assert clf.score(Xt, yt) > 0.9
    assert single.score(Xt, yt) < 0.65


# ----------------------------------------------------------------------
# Weights, reproducibility, experts
# ----------------------------------------------------------------------
@pytest.mark.parametrize("Est", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier])
def test_sample_weight_equals_repetition(Est):
    rng = np.random.RandomState(0)
    if Est is MixtureOfExpertsRegressor:
        X, y = make_piecewise_linear(n_samples=120, random_state=0)
    else:
        X, y = make_xor(n_samples=160, random_state=0)
    sw = rng.randint(0, 4, size=y.size)
    # k-means draws its seeds by weight, so repeated rows start where weighted
    # ones do; small-EM's random starts draw one value per row.
    est = Est(
        3, random_state=0, min_responsibility=0.0, max_iter=50, init_params="kmeans"
    )
    # Weights are in row units (rescaled to average one over the rows of
    # positive weight): the gate penalty of the repeated rows is matched by a
    # C scaled by the average weight. (C=10: no penalty continuation, whose
    # first phase is in row units too.)
    gate = SoftmaxGate(C=10.0 * sw.sum() / np.count_nonzero(sw))
    weighted = clone(est).set_params(gate=gate).fit(X, y, sample_weight=sw)
    repeated = clone(est).set_params(gate=SoftmaxGate(C=10.0))
    repeated.fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    assert weighted.n_iter_ == repeated.n_iter_
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-5)
    if Est is MixtureOfExpertsRegressor:
        assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-4, atol=1e-5)
    else:
        assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-4)


def test_random_state_reproduces_a_fit(moe_data):
    X, y, _ = moe_data
    est = MixtureOfExpertsRegressor(
        3,
        expert=DecisionTreeRegressor(max_depth=3, max_features=1),
        n_init=2,
        random_state=42,
    )
    a, b = clone(est).fit(X, y), clone(est).fit(X, y)
    assert_array_equal(a.predict(X), b.predict(X))
    assert_array_equal(a.lower_bounds_, b.lower_bounds_)
    seeds = [e.random_state for e in a.experts_]
    assert len(set(seeds)) == 3  # each expert seeded separately


def test_tree_and_heterogeneous_experts():
    X, y = make_piecewise_linear(n_samples=500, random_state=0)
    trees = MixtureOfExpertsRegressor(
        3, expert=DecisionTreeRegressor(max_depth=3), random_state=0
    ).fit(X, y)
    assert trees.score(X, y) > 0.9
    assert all(isinstance(e, DecisionTreeRegressor) for e in trees.experts_)
    mixed = MixtureOfExpertsRegressor(
        3,
        expert=[LinearRegression(), DecisionTreeRegressor(max_depth=3), Ridge(1.0)],
        random_state=0,
    ).fit(X, y)
    kinds = {type(e).__name__ for e in mixed.experts_}
    assert kinds == {"LinearRegression", "DecisionTreeRegressor", "Ridge"}
    assert mixed.score(X, y) > 0.9
    Xc, yc = make_xor(n_samples=400, random_state=0)
    clf = MixtureOfExpertsClassifier(
        2,
        expert=[LogisticRegression(), DecisionTreeClassifier(max_depth=2)],
        random_state=0,
    ).fit(Xc, yc)
    assert clf.score(Xc, yc) > 0.9


def test_experts_are_cloned_not_fitted_in_place():
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    template = LinearRegression()
    moe = MixtureOfExpertsRegressor(2, expert=template, random_state=0).fit(X, y)
    assert not hasattr(template, "coef_")
    assert all(e is not template for e in moe.experts_)


# ----------------------------------------------------------------------
# The gate
# ----------------------------------------------------------------------
def test_gate_equals_logistic_regression_on_repeated_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    resp = rng.dirichlet(np.ones(4), size=200)
    sw = rng.uniform(0.5, 2.0, size=200)
    gate = SoftmaxGate(C=0.5, standardize=False, tol=1e-10).fit(
        X, resp, sample_weight=sw
    )
    X_rep = np.tile(X, (4, 1))
    y_rep = np.repeat(np.arange(4), 200)
    w_rep = (resp * sw[:, None]).T.ravel()
    lr = LogisticRegression(C=0.5, tol=1e-12, max_iter=10000).fit(
        X_rep, y_rep, sample_weight=w_rep
    )
    assert_allclose(gate.coef_, lr.coef_.T, atol=1e-5)
    assert_allclose(gate.intercept_, lr.intercept_, atol=1e-5)
    assert_allclose(gate.predict_proba(X), lr.predict_proba(X), atol=1e-6)


def test_gate_without_intercept_has_none():
    # fit_intercept=False: the logits are X @ coef_ on the original scale, and
    # the standardised fit equals LogisticRegression(fit_intercept=False) on
    # the features divided by their (weighted) standard deviations.
    rng = np.random.RandomState(3)
    X = rng.normal(loc=[5.0, -2.0, 0.0], scale=[2.0, 0.5, 3.0], size=(200, 3))
    resp = rng.dirichlet(np.ones(3), size=200)
    sw = rng.uniform(0.5, 2.0, size=200)
    gate = SoftmaxGate(C=0.5, fit_intercept=False, tol=1e-10).fit(
        X, resp, sample_weight=sw
    )
    assert_array_equal(gate.intercept_, np.zeros(3))
    mean = sw @ X / sw.sum()
    std = np.sqrt(sw @ (X - mean) ** 2 / sw.sum())
    lr = LogisticRegression(C=0.5, fit_intercept=False, tol=1e-12, max_iter=10000).fit(
        np.tile(X / std, (3, 1)),
        np.repeat(np.arange(3), 200),
        sample_weight=(resp * sw[:, None]).T.ravel(),
    )
    assert_allclose(gate.coef_, lr.coef_.T / std[:, None], atol=1e-5)
    assert_allclose(gate.predict_proba(X), lr.predict_proba(X / std), atol=1e-6)


def test_gate_standardize_is_scale_invariant():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(300, 2))
    resp = rng.dirichlet(np.ones(3), size=300)
    a = SoftmaxGate(tol=1e-10).fit(X, resp)
    b = SoftmaxGate(tol=1e-10).fit(X * [1000.0, 1.0] + [2000.0, 0.0], resp)
    assert_allclose(
        a.predict_proba(X),
        b.predict_proba(X * [1000.0, 1.0] + [2000.0, 0.0]),
        atol=1e-7,
    )


def test_gate_rejects_invalid_soft_targets():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="non-negative"):
        SoftmaxGate().fit(X, [[1.5, -0.5], [0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="sum to 1"):
        SoftmaxGate().fit(X, [[0.2, 0.2], [0.5, 0.5], [0.5, 0.5]])


# ----------------------------------------------------------------------
# Routing
# ----------------------------------------------------------------------
class _RecordingRegressor(LinearRegression):
    """A linear regressor that records how many rows each predict call saw."""

    def predict(self, X):
        self.__dict__.setdefault("seen_rows_", []).append(len(X))
        return super().predict(X)


@pytest.mark.parametrize("routing, top_k", [("hard", 1), ("top_k", 2)])
def test_hard_and_top_k_evaluate_only_routed_rows(routing, top_k):
    X, y = make_piecewise_linear(n_samples=600, random_state=0)
    moe = MixtureOfExpertsRegressor(
        3, expert=_RecordingRegressor(), routing=routing, top_k=top_k, random_state=0
    ).fit(X, y)
    Xt, _ = make_piecewise_linear(n_samples=300, random_state=5)
    for e in moe.experts_:
        e.seen_rows_ = []
    pred = moe.predict(Xt)
    gate = moe.predict_gate_proba(Xt)
    chosen = np.argsort(-gate, axis=1)[:, :top_k]
    expected_rows = [(chosen == k).any(axis=1).sum() for k in range(3)]
    seen = [sum(e.seen_rows_) for e in moe.experts_]
    assert seen == expected_rows
    assert sum(seen) == top_k * len(Xt)
    # Against an explicit computation over all experts.
    all_preds = moe.predict_experts(Xt)
    w = np.zeros_like(gate)
    np.put_along_axis(w, chosen, np.take_along_axis(gate, chosen, 1), 1)
    w /= w.sum(axis=1, keepdims=True)
    assert_allclose(pred, (w * all_preds).sum(axis=1))


def test_soft_prediction_and_std_match_the_mixture_density():
    X, y = make_piecewise_linear(n_samples=400, random_state=0)
    # The density is that of the experts' own predictions; clipping them
    # to target_range_ (the default) bounds point predictions only.
    moe = MixtureOfExpertsRegressor(3, clip_predictions=False, random_state=0)
    moe.fit(X, y)
    mean, std = moe.predict(X[:50], return_std=True)
    g = moe.predict_gate_proba(X[:50])
    f = moe.predict_experts(X[:50])
    assert_allclose(mean, (g * f).sum(1))
    second = (g * (moe.noise_variance_ + f**2)).sum(1)
    assert_allclose(std, np.sqrt(second - mean**2), rtol=1e-6)
    # score_samples is the log of the mixture density.
    dens = (g * norm.pdf(y[:50, None], f, np.sqrt(moe.noise_variance_))).sum(1)
    assert_allclose(moe.score_samples(X[:50], y[:50]), np.log(dens), rtol=1e-8)
    resp = moe.predict_responsibilities(X[:50], y[:50])
    expected = (
        g * norm.pdf(y[:50, None], f, np.sqrt(moe.noise_variance_)) / dens[:, None]
    )
    assert_allclose(resp, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("Est", [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier])
def test_score_samples_invariances(Est):
    """What check_methods_{sample_order,subset}_invariance test, with y."""
    if Est is MixtureOfExpertsRegressor:
        X, y = make_piecewise_linear(n_samples=200, random_state=0)
    else:
        X, y = make_xor(n_samples=200, random_state=0)
    est = Est(2, random_state=0).fit(X, y)
    full = est.score_samples(X, y)
    perm = np.random.RandomState(0).permutation(200)
    assert_allclose(est.score_samples(X[perm], y[perm]), full[perm], rtol=1e-12)
    for chunk in np.array_split(np.arange(200), 7):
        assert_allclose(est.score_samples(X[chunk], y[chunk]), full[chunk], rtol=1e-12)


def test_classifier_proba_is_gate_weighted_expert_proba():
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=0)
    clf = MixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    g = clf.predict_gate_proba(X)
    p = clf.predict_experts_proba(X)
    assert_allclose(clf.predict_proba(X), np.einsum("nk,nkc->nc", g, p))
    assert_allclose(clf.predict_proba(X).sum(1), 1.0)
    idx = np.searchsorted(clf.classes_, y)
    ll = np.log(np.einsum("nk,nk->n", g, p[np.arange(len(y)), :, idx]))
    assert_allclose(clf.score_samples(X, y), ll, rtol=1e-8)


def test_bic_aic_count_parameters():
    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    moe = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    ll = moe.score_samples(X, y).sum()
    # gate: (K-1)(d+1) = 4, experts: 3 * 2 = 6, variances: 3
    assert_allclose(moe.aic(X, y), -2 * ll + 2 * 13)
    assert_allclose(moe.bic(X, y), -2 * ll + 13 * np.log(300))
    scores = {
        k: MixtureOfExpertsRegressor(k, random_state=0, n_init=3).fit(X, y).bic(X, y)
        for k in (1, 2, 3, 4)
    }
    assert min(scores, key=scores.get) == 3


# ----------------------------------------------------------------------
# EM driver behaviour
# ----------------------------------------------------------------------
def test_warm_start_equals_a_longer_fit(moe_data):
    X, y, _ = moe_data
    kwargs = dict(random_state=0, tol=0.0, min_responsibility=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A gate as firm as the continuation's first phase: one phase, so
        # that five and five iterations are ten.
        kwargs["gate"] = SoftmaxGate(C=100.0)
        long = MixtureOfExpertsRegressor(3, max_iter=10, **kwargs).fit(X, y)
        warm = MixtureOfExpertsRegressor(3, max_iter=5, warm_start=True, **kwargs)
        warm.fit(X, y)
        warm.fit(X, y)
    assert_allclose(warm.lower_bound_, long.lower_bound_, rtol=1e-7)
    assert_allclose(warm.predict(X), long.predict(X), rtol=1e-6, atol=1e-8)


def test_n_init_restarts_in_parallel_match_sequential():
    X, y = load_mcycle(return_X_y=True)
    kwargs = dict(init_params="random", n_init=4, random_state=0)
    sequential = MixtureOfExpertsRegressor(3, **kwargs).fit(X, y)
    parallel = MixtureOfExpertsRegressor(3, n_jobs=2, **kwargs).fit(X, y)
    assert_allclose(parallel.lower_bound_, sequential.lower_bound_)
    assert_allclose(parallel.predict(X), sequential.predict(X))


def test_n_init_picks_maximum_over_its_runs():
    X, y = load_mcycle(return_X_y=True)
    rng = np.random.RandomState(0)
    seeds = rng.randint(np.iinfo(np.int32).max, size=5)
    est = MixtureOfExpertsRegressor(3, init_params="random", n_init=5, random_state=0)
    est.fit(X, y)
    w = np.ones(len(y))
    lik = est._likelihood(y, w)
    runs = [
        em_run(est, X, y, w, lik, [LinearRegression()] * 3, None, None, s, i, 1)
        for i, s in enumerate(seeds)
    ]
    assert_allclose(est.lower_bound_, max(r.lower_bound for r in runs))


def _standardised_init_features(est, X, y, w):
    Z = est._likelihood(y, w).init_features(X, y)
    mean, scale = _weighted_standardization(Z, w)
    return (Z - mean) / scale


def test_random_from_data_init_takes_the_nearest_drawn_row():
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    w = np.ones(200)
    est = MixtureOfExpertsRegressor(3, init_params="random_from_data")
    lik = est._likelihood(y, w)
    resp = est._initial_responsibilities(X, y, w, lik, None, np.random.RandomState(0))
    Z = _standardised_init_features(est, X, y, w)
    drawn = Z[np.random.RandomState(0).choice(200, size=3, replace=False)]
    nearest = ((Z[:, None, :] - drawn[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert_array_equal(resp, np.eye(3)[nearest])
    fitted = MixtureOfExpertsRegressor(
        3, init_params="random_from_data", n_init=3, random_state=0
    ).fit(X, y)
    single = LinearRegression().fit(X, y)
    assert fitted.score(X, y) > single.score(X, y) + 0.1


def test_kmeans_init_is_a_fixed_point_of_weighted_lloyd():
    # The initial clusters are stable: every row is nearest to the weighted
    # mean of its own cluster (what Lloyd's iterations converge to).
    X, y = make_piecewise_linear(n_samples=300, random_state=1)
    w = np.random.RandomState(2).uniform(0.5, 2.0, size=300)
    est = MixtureOfExpertsRegressor(3, init_params="kmeans")
    lik = est._likelihood(y, w)
    resp = est._initial_responsibilities(X, y, w, lik, None, np.random.RandomState(0))
    labels = resp.argmax(axis=1)
    assert_array_equal(resp.sum(axis=1), 1.0)
    assert np.unique(labels).size == 3
    Z = _standardised_init_features(est, X, y, w)
    centers = np.stack(
        [np.average(Z[labels == k], axis=0, weights=w[labels == k]) for k in range(3)]
    )
    d2 = ((Z[:, None, :] - centers[None]) ** 2).sum(axis=2)
    assert_array_equal(d2.argmin(axis=1), labels)


def test_kmeans_init_keeps_every_cluster_non_empty():
    # Five identical rows and one other: three centres cannot all attract a
    # row, so an empty cluster takes the row farthest from its centre.
    from skmoe._base import _weighted_kmeans

    Z = np.zeros((6, 2))
    Z[5] = 1.0
    labels = _weighted_kmeans(Z, np.ones(6), 3, np.random.RandomState(0))
    assert_array_equal(np.bincount(labels, minlength=3) > 0, True)
    assert labels[5] != labels[0]


def test_convergence_warning_says_what_to_do():
    X, y = load_mcycle(return_X_y=True)
    # Stopped while the objective still rose at every iteration: the advice
    # is to raise max_iter (it used to be "Increase max_iter or tol, or try
    # fewer experts" whatever the cause).
    with pytest.warns(ConvergenceWarning, match="still rising.*Raise max_iter"):
        moe = MixtureOfExpertsRegressor(3, max_iter=2, random_state=0).fit(X, y)
    assert not moe.converged_
    assert moe.n_iter_ == 2


@pytest.mark.parametrize("solver", ["em", "gradient"])
def test_convergence_warning_after_one_iteration_has_no_nan(solver):
    # It said "still changing by nan per iteration".
    X, y = load_mcycle(return_X_y=True)
    est = MixtureOfExpertsRegressor(3, max_iter=1, solver=solver, random_state=0)
    with pytest.warns(ConvergenceWarning, match="after a single iteration") as rec:
        est.fit(X, y)
    assert not any("nan" in str(w.message) for w in rec)


def test_dead_expert_is_reported_never_dropped():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 1))
    y = 2 * X[:, 0] + 0.1 * rng.normal(size=60)
    init = np.zeros((60, 3))
    init[:, 0] = 1.0
    init[:2, 1], init[:2, 0] = 1.0, 0.0
    init[2:4, 2], init[2:4, 0] = 1.0, 0.0
    with pytest.warns(DeadExpertWarning):
        moe = MixtureOfExpertsRegressor(
            3, init_params=init, min_expert_weight=5.0, random_state=0
        ).fit(X, y)
    assert len(moe.experts_) == 3
    assert moe.reinitialized_experts_ or moe.dead_experts_.size


def test_canonical_order_by_share(moe_data):
    X, y, _ = moe_data
    moe = MixtureOfExpertsRegressor(3, random_state=3).fit(X, y)
    assert np.all(np.diff(moe.expert_shares_) <= 0)
    resp = moe.predict_responsibilities(X, y)
    assert_allclose(resp.mean(0), moe.expert_shares_, rtol=1e-6)


# ----------------------------------------------------------------------
# scikit-learn citizenship
# ----------------------------------------------------------------------
def test_pipeline_with_column_transformer_on_dataframe():
    from skmoe.datasets import load_abalone

    frame = load_abalone(as_frame=True).frame
    X = frame.drop(columns="Rings")
    y = frame["Rings"].to_numpy(dtype=float)
    numeric = [c for c in X.columns if c != "Sex"]
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(sparse_output=False), ["Sex"]),
        ]
    ).set_output(transform="pandas")
    pipe = make_pipeline(pre, MixtureOfExpertsRegressor(2, random_state=0))
    pipe.fit(X.iloc[:3000], y[:3000])
    assert pipe.score(X.iloc[3000:], y[3000:]) > 0.45
    moe = pipe[-1]
    assert moe.n_features_in_ == 10
    assert list(moe.feature_names_in_[:2]) == [
        "num__" + numeric[0],
        "num__" + numeric[1],
    ]


def test_dataframe_feature_names_are_kept():
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    df = pd.DataFrame(X, columns=["age"])
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(df, y)
    assert_array_equal(moe.feature_names_in_, ["age"])
    with pytest.warns(UserWarning, match="feature names"):
        moe.predict(X)


def test_grid_search_over_n_experts_in_parallel():
    X, y = make_piecewise_linear(n_samples=400, random_state=0)
    search = GridSearchCV(
        MixtureOfExpertsRegressor(random_state=0),
        {"n_experts": [1, 2, 3]},
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert search.best_params_["n_experts"] == 3
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] > scores[0] + 0.3


def test_clone_pickle_and_joblib_round_trips(tmp_path):
    X, y = make_xor(n_samples=300, random_state=0)
    clf = MixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    cloned = clone(clf)
    assert not hasattr(cloned, "experts_")
    assert cloned.get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "moe.joblib")
    loaded = joblib.load(tmp_path / "moe.joblib")
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_binary_and_multiclass(n_classes):
    X, y = make_moe_classification(n_samples=600, n_classes=n_classes, random_state=0)
    names = np.array(["cat", "dog", "emu"])[:n_classes]
    labels = names[y]
    clf = MixtureOfExpertsClassifier(2, random_state=0).fit(X, labels)
    assert_array_equal(clf.classes_, np.sort(names))
    pred = clf.predict(X)
    assert set(pred) <= set(names)
    numeric = MixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    assert_array_equal(pred, names[numeric.predict(X)])
    assert clf.predict_proba(X).shape == (600, n_classes)
    assert set(clf.experts_[0].classes_) <= set(names)


# ----------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------
class _NoPredictProba(LinearRegression):
    pass


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_experts": 0}, InvalidParameterError, "n_experts"),
        ({"n_experts": 500}, ValueError, "n_experts=500 must be at most"),
        (
            {"expert": KNeighborsRegressor()},
            ValueError,
            "does not accept sample_weight",
        ),
        ({"expert": DecisionTreeClassifier()}, TypeError, "is a classifier"),
        ({"expert": "linear"}, InvalidParameterError, "expert"),
        ({"gate": LogisticRegression()}, InvalidParameterError, "gate"),
        ({"expert": [LinearRegression()] * 2}, ValueError, "list of 2 estimators"),
        ({"routing": "best"}, InvalidParameterError, "routing"),
        ({"init_params": np.ones((5, 3))}, ValueError, "init_params"),
    ],
)
def test_bad_parameters_raise_before_fitting(kwargs, error, match):
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    params = {"n_experts": 3, **kwargs}
    with pytest.raises(error, match=match):
        MixtureOfExpertsRegressor(**params).fit(X, y)


def test_bad_data_raises():
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    moe = MixtureOfExpertsRegressor(2)
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        moe.fit(X_nan, y)
    y_inf = y.copy()
    y_inf[0] = np.inf
    with pytest.raises(ValueError, match="infinity|NaN"):
        moe.fit(X, y_inf)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        moe.fit(X, y[:-1])
    with pytest.raises(ValueError, match="numeric target"):
        moe.fit(X, np.array(["a", "b"] * 50))
    with pytest.raises(ValueError, match="at least 2 classes"):
        MixtureOfExpertsClassifier(2).fit(X, np.zeros(100))
    with pytest.raises(TypeError, match="predict_proba"):
        MixtureOfExpertsClassifier(2, expert=_NoPredictProba()).fit(X, y > np.median(y))
    fitted = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: MixtureOfExpertsRegressor(2),
        lambda: MixtureOfExpertsRegressor(2, solver="gradient"),
        lambda: HierarchicalMixtureOfExpertsRegressor(),
        lambda: SoftmaxGate(),
    ],
    ids=["em", "gradient", "hierarchical", "gate"],
)
@pytest.mark.parametrize(
    "weights, match",
    [
        # A weight is a count of observations: a negative one has no
        # likelihood (it was silently accepted, and could make a noise
        # variance negative).
        ("negative", "Negative values in data passed to"),
        # The same message on every scikit-learn version (newer ones have
        # their own, which says neither which call nor what to do).
        ("zero", "The sample weights are all zero: give"),
    ],
)
def test_bad_sample_weight_raises(make, weights, match):
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    sw = np.zeros(100)
    if weights == "negative":
        sw += 1.0
        sw[7] = -0.5
    est = make()
    if isinstance(est, SoftmaxGate):
        y = (y > np.median(y)).astype(int)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("first", [True, False])
def test_partial_fit_all_zero_chunk_raises(first):
    # A later chunk used to be skipped silently (older scikit-learn) and the
    # first one got scikit-learn's message (newer): now both say which chunk.
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    moe = MixtureOfExpertsRegressor(2, random_state=0)
    if not first:
        moe.partial_fit(X[:100], y[:100])
    calls = getattr(moe, "n_iter_", 0)
    with pytest.raises(ValueError, match="this partial_fit chunk are all zero"):
        moe.partial_fit(X[100:], y[100:], sample_weight=np.zeros(100))
    assert getattr(moe, "n_iter_", 0) == calls


def test_partial_fit_negative_sample_weight_raises():
    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        MixtureOfExpertsRegressor(2).partial_fit(X, y, sample_weight=-np.ones(100))


def test_inputs_are_not_modified():
    X, y = make_piecewise_linear(n_samples=150, random_state=0)
    sw = np.linspace(0.5, 2, 150)
    X0, y0, sw0 = X.copy(), y.copy(), sw.copy()
    init = np.full((150, 2), 0.5)
    init0 = init.copy()
    moe = MixtureOfExpertsRegressor(2, init_params=init, random_state=0)
    moe.fit(X, y, sample_weight=sw)
    moe.predict(X)
    moe.score_samples(X, y)
    assert_array_equal(X, X0)
    assert_array_equal(y, y0)
    assert_array_equal(sw, sw0)
    assert_array_equal(init, init0)


@pytest.mark.parametrize(
    "expert",
    [LinearRegression(), Ridge(alpha=3.0), LinearRegression(fit_intercept=False)],
)
def test_direct_linear_fit_equals_sklearn_fit(expert):
    """EM solves the weighted least squares of LinearRegression/Ridge itself."""
    from skmoe._experts import _fit_experts

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3)) * [1.0, 50.0, 0.01] + [0.0, 2000.0, 0.0]
    y = X @ [1.0, 0.1, 30.0] + rng.normal(size=300)
    w = rng.uniform(size=(300, 2))
    fitted = _fit_experts([expert, expert], X, y, w, 0.0, False, None)
    for k, est in enumerate(fitted):
        ref = clone(expert).fit(X, y, sample_weight=w[:, k])
        assert_allclose(est.predict(X), ref.predict(X), rtol=1e-8, atol=1e-8)
        assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
        assert est.n_features_in_ == 3


def test_gate_warm_start_without_intercept():
    # Regression: the warm start used to hand L-BFGS a 2-D start when
    # fit_intercept=False, which SciPy rejects.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    T = rng.dirichlet(np.ones(3), size=200)
    gate = SoftmaxGate(fit_intercept=False, warm_start=True).fit(X, T)
    coef = gate.coef_.copy()
    gate.fit(X, T)
    assert gate.n_iter_ <= 1
    assert_allclose(gate.coef_, coef, atol=1e-6)


@pytest.mark.parametrize("hierarchical", [False, True], ids=["flat", "hierarchical"])
def test_em_prepares_the_gate_inputs_once_per_run(monkeypatch, hierarchical):
    # The gate is refitted on the same X and weights at every EM iteration:
    # their weighted standardisation is computed once per run.
    import skmoe._gate as gate_module

    calls = []
    original = gate_module._weighted_standardization

    def counting(X, sample_weight):
        calls.append(X.shape)
        return original(X, sample_weight)

    monkeypatch.setattr(gate_module, "_weighted_standardization", counting)
    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    if hierarchical:
        est = HierarchicalMixtureOfExpertsRegressor(depth=2, branching=2)
    else:
        # (small-EM's short runs prepare their own gate inputs)
        est = MixtureOfExpertsRegressor(3, init_params="kmeans")
    est.set_params(max_iter=6, tol=0, n_init=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 6
    assert len(calls) == 2  # one per run (n_init=2), not one per iteration


def test_expert_warning_is_shown_once_per_fit_not_per_iteration():
    # Under Python's default filters a warning is shown once per location;
    # the EM loop used to reset that record at every iteration (a
    # catch_warnings block around each gate fit), so an expert's warning was
    # shown once per expert and iteration. The gate's own (expected)
    # ConvergenceWarning stays hidden.
    # liblinear: an expert fitted by its own fit, which warns at every
    # M-step (skmoe's Newton solver takes capped steps inside EM, quietly).
    X, y = make_xor(n_samples=400, random_state=0)
    est = MixtureOfExpertsClassifier(
        3,
        expert=LogisticRegression(solver="liblinear", max_iter=1),
        gate=SoftmaxGate(max_iter=1),
        max_iter=8,
        tol=0,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        est.fit(X, y)
    messages = [str(w.message) for w in caught]
    assert est.n_iter_ == 8
    expert = [m for m in messages if "Liblinear failed to converge" in m]
    assert len(expert) == 1, messages
    assert not any("SoftmaxGate" in m for m in messages)


def test_gate_warning_is_quiet_only_inside_em():
    # EM's capped, warm-started gate fits stay quiet (flat and tree gates);
    # a gate fitted by the user still warns, also right after an EM fit.
    X, y = make_xor(n_samples=400, random_state=0)
    for est in (
        MixtureOfExpertsClassifier(2, gate=SoftmaxGate(max_iter=1), max_iter=3),
        HierarchicalMixtureOfExpertsRegressor(gate=SoftmaxGate(max_iter=1), max_iter=3),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, y)
        assert not any("SoftmaxGate" in str(w.message) for w in caught)
    with pytest.warns(ConvergenceWarning, match="SoftmaxGate's L-BFGS did not"):
        SoftmaxGate(max_iter=1, solver="lbfgs").fit(X, y)
    with pytest.warns(ConvergenceWarning, match="SoftmaxGate's Newton solver did"):
        SoftmaxGate(max_iter=1, solver="newton").fit(X, y)


def test_svr_experts_get_contiguous_sample_weights():
    # Regression: expert k was given the strided column weights[:, k] as
    # sample_weight, which libsvm refuses ("ndarray is not C-contiguous")
    # whenever no row was left out (min_responsibility=0).
    from sklearn.svm import SVR

    X, y = load_mcycle(return_X_y=True)
    est = MixtureOfExpertsRegressor(
        2, expert=SVR(C=100.0), min_responsibility=0.0, random_state=0
    ).fit(X, y)
    assert all(isinstance(e, SVR) for e in est.experts_)
    assert est.score(X, y) > SVR(C=100.0).fit(X, y).score(X, y)


@pytest.mark.parametrize(
    "params, match",
    [({"routing": "bogus"}, "routing"), ({"routing": "top_k", "top_k": 0}, "top_k")],
)
@pytest.mark.parametrize(
    "make, method",
    [
        (lambda: MixtureOfExpertsRegressor(2), "predict"),
        (lambda: MixtureOfExpertsClassifier(2), "predict_proba"),
        (lambda: HierarchicalMixtureOfExpertsRegressor(depth=1), "predict"),
    ],
    ids=["regressor", "classifier", "hierarchical"],
)
def test_routing_set_after_fit_is_validated_at_prediction(make, method, params, match):
    # Regression: routing is meant to be changed after fitting, but an
    # invalid value used to pass silently ("bogus" acted as top_k; top_k=0
    # gave NaN predictions).
    X, y = make_xor(n_samples=100, random_state=0)
    est = make().set_params(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    est.set_params(**params)
    with pytest.raises(InvalidParameterError, match=match):
        getattr(est, method)(X)


@pytest.mark.parametrize(
    "est, absent, present",
    [
        (MixtureOfExpertsRegressor(3), "fewer experts", "Raise max_iter"),
        (
            MixtureOfExpertsRegressor(3, init_params="random"),
            "tree",
            "init_params='small_em'",
        ),
        (
            HierarchicalMixtureOfExpertsRegressor(depth=2),
            "a smaller tree",
            "Raise max_iter",
        ),
        (
            HierarchicalMixtureOfExpertsRegressor(depth=2, init_params="kmeans"),
            "fewer experts",
            "init_params='hierarchical'",
        ),
    ],
)
def test_convergence_warning_advice_and_location(est, absent, present):
    # The warning points at the caller's line (not skmoe's fit) and does not
    # advise the init the model already uses, nor experts a tree does not have,
    # nor a smaller model for a fit stopped while still rising (max_iter=2).
    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    with pytest.warns(ConvergenceWarning, match="EM did not converge") as record:
        est.set_params(max_iter=2, random_state=0).fit(X, y)
    (warning,) = [w for w in record if "EM did not converge" in str(w.message)]
    assert warning.filename == __file__
    assert present in str(warning.message)
    assert absent not in str(warning.message)


def test_reinitialisation_that_recovers_is_not_a_warning():
    # Two regimes, and expert 1 starts on a single row: it collapses at the
    # first iteration, is re-initialised on the worst-explained rows and
    # takes the second regime. Nothing is wrong with the fitted model: it used
    # to warn anyway ("DeadExpertWarning: ... Every expert takes part in the
    # fitted model"); the event is in reinitialized_experts_.
    rng = np.random.RandomState(0)
    X = np.linspace(-3, 3, 300)[:, None]
    y = np.where(X[:, 0] > 0, 2 * X[:, 0], -X[:, 0]) + 0.05 * rng.normal(size=300)
    init = np.zeros((300, 2))
    init[:, 0] = 1.0
    init[0] = [0.0, 1.0]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        moe = MixtureOfExpertsRegressor(
            2, init_params=init, min_expert_weight=5.0, random_state=0
        ).fit(X, y)
    assert moe.reinitialized_experts_ == [(1, 1)]
    assert moe.dead_experts_.size == 0
    assert_allclose(moe.expert_shares_, [0.5, 0.5], atol=0.01)
    assert [str(w.message) for w in record] == []


def test_pipeline_expert_needs_metadata_routing_and_then_fits():
    # A Pipeline passes sample_weight on only through metadata routing: the
    # error says how to turn it on, and with it on, scaled linear experts
    # fit the same mixture as plain linear ones (scaling does not change a
    # linear model's fitted values).
    import sklearn

    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    X = np.c_[X, 1000.0 * X]  # a feature on another scale
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        MixtureOfExpertsRegressor(
            3, expert=make_pipeline(StandardScaler(), LinearRegression())
        ).fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        expert = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            LinearRegression().set_fit_request(sample_weight=True),
        )
        # To the optimum (tol=1e-10): EM for plain linear experts takes one
        # gate step per M-step and for a Pipeline solves the gate, and with
        # the default tol each stops within tol of the optimum, not at it.
        tight = {"random_state": 0, "tol": 1e-10, "max_iter": 2000}
        piped = MixtureOfExpertsRegressor(3, expert=expert, **tight).fit(X, y)
        # Plain experts take sample_weight from EM directly, not routed: no
        # request needed (they used to be refused with routing enabled).
        # Plain EM for both: SQUAREM (acceleration='auto') accelerates
        # LinearRegression experts, not a Pipeline, and stops elsewhere.
        plain = MixtureOfExpertsRegressor(3, acceleration=None, **tight).fit(X, y)
    assert_allclose(piped.predict(X), plain.predict(X), rtol=1e-6, atol=1e-6)
    assert_allclose(piped.lower_bound_, plain.lower_bound_, rtol=1e-8)


def test_convex_experts_start_from_their_previous_solution(monkeypatch):
    # LogisticRegression experts are warm-started between EM iterations: the
    # same optimum as refitting them from scratch (checked with a tight
    # solver tolerance, so both M-steps are exact), in fewer solver steps.
    import skmoe._experts as experts_module

    X, y = make_moe_classification(
        n_samples=600, n_features=2, n_experts=3, n_classes=3, random_state=0
    )
    # A class_weight (all ones: the same objective) keeps the experts on
    # their own fit; skmoe's Newton solver warm-starts its own way.
    est = MixtureOfExpertsClassifier(
        3,
        expert=LogisticRegression(
            tol=1e-10, max_iter=2000, class_weight={0: 1.0, 1: 1.0, 2: 1.0}
        ),
        random_state=0,
    )
    warm = clone(est).fit(X, y)
    monkeypatch.setattr(experts_module, "_WARM_START_ATTRIBUTES", {})
    scratch = clone(est).fit(X, y)
    assert warm.n_iter_ == scratch.n_iter_
    assert_allclose(warm.lower_bounds_, scratch.lower_bounds_, rtol=0, atol=1e-7)
    assert_allclose(warm.predict_proba(X), scratch.predict_proba(X), atol=1e-5)
    # The last M-step started nearer its optimum.
    assert sum(e.n_iter_[0] for e in warm.experts_) < sum(
        e.n_iter_[0] for e in scratch.experts_
    )
    # The user's template is untouched, and the fitted experts keep its
    # warm_start.
    assert est.expert.warm_start is False
    assert not any(e.warm_start for e in warm.experts_)


def test_warm_start_only_for_allowlisted_experts_on_the_same_classes():
    from sklearn.ensemble import GradientBoostingClassifier

    from skmoe._experts import _start_from

    X, y = make_xor(n_samples=200, random_state=0)
    y3 = np.where(X[:, 0] > np.median(X[:, 0]), 2, y)
    previous = LogisticRegression().fit(X, y3)
    started = clone(previous)
    assert _start_from(started, previous, y3)
    assert started.warm_start and started.coef_ is not previous.coef_
    assert_array_equal(started.coef_, previous.coef_)
    # Another class set (rows of class 2 left out): a fresh start.
    fresh = clone(previous)
    assert not _start_from(fresh, previous, y)
    assert not fresh.warm_start and not hasattr(fresh, "coef_")
    # Ensembles' warm_start adds members: never.
    boosted = GradientBoostingClassifier(n_estimators=5).fit(X, y)
    assert not _start_from(clone(boosted), boosted, y)


def test_default_classifier_reaches_the_exact_em_optimum():
    # EM with exact M-steps (logistic experts solved to tol=1e-10) is the
    # reference. scikit-learn's default LogisticRegression (tol=1e-4) moves
    # so little per M-step that EM stops on a flat stretch, 0.02 nats/row
    # short; the default expert (tol=1e-6) must not.
    X, y = make_moe_classification(
        n_samples=1000, n_features=3, n_experts=3, n_classes=4, random_state=0
    )

    def fit(expert, **params):
        return MixtureOfExpertsClassifier(
            3, expert=expert, random_state=0, **params
        ).fit(X, y)

    import skmoe._logistic as logistic

    def exact_fit(**params):
        saved = logistic.EM_NEWTON_STEPS
        logistic.EM_NEWTON_STEPS = 5000  # every M-step solved, not one step
        try:
            return fit(LogisticRegression(tol=1e-10, max_iter=5000), **params)
        finally:
            logistic.EM_NEWTON_STEPS = saved

    exact, default = exact_fit(), fit(None)
    assert exact.converged_ and default.converged_
    assert abs(default.lower_bound_ - exact.lower_bound_) < 1e-5
    # The two stop within EM's tol (1e-6 per row) of each other, which on
    # these data leaves the probabilities up to 4e-3 apart along a flat
    # direction of the objective; with EM run to 1e-8 they agree closely.
    tight = exact_fit(tol=1e-8, max_iter=3000)
    default_tight = fit(None, tol=1e-8, max_iter=3000)
    assert_allclose(default_tight.predict_proba(X), tight.predict_proba(X), atol=1e-3)
    # From one k-means start the loose expert stops well short (small-EM's
    # short runs happen to hide it on these data).
    loose = MixtureOfExpertsClassifier(
        3, expert=LogisticRegression(), init_params="kmeans", random_state=0
    ).fit(X, y)
    assert loose.lower_bound_ < exact.lower_bound_ - 1e-2


@pytest.mark.parametrize(
    "Est",
    [
        MixtureOfExpertsRegressor,
        MixtureOfExpertsClassifier,
        HierarchicalMixtureOfExpertsRegressor,
        HierarchicalMixtureOfExpertsClassifier,
    ],
)
def test_every_prediction_method_of_an_unfitted_model_raises_not_fitted(Est):
    # predict_experts (regressor), apply and predict_node_proba raised
    # AttributeError: they read a fitted attribute before checking X.
    from sklearn.exceptions import NotFittedError

    X, y = np.zeros((4, 2)), np.array([0.0, 1.0, 0.0, 1.0])
    est = Est()
    names = [
        name
        for name in dir(est)
        if not name.startswith(("_", "fit", "partial_fit", "set_", "get_"))
        and callable(getattr(est, name, None))
        and list(inspect.signature(getattr(est, name)).parameters)[:1] == ["X"]
    ]
    assert {"predict", "predict_gate_proba", "predict_experts"} <= set(names)
    for name in names:
        params = inspect.signature(getattr(est, name)).parameters
        args = (X, y) if "y" in params else (X,)
        with pytest.raises(NotFittedError):
            getattr(est, name)(*args)


def test_meta_estimators_that_take_sample_weight_are_experts():
    # They were refused as metadata routers ("does not accept sample_weight"),
    # and AdaBoost crashed in the routing lookup, although all of them take
    # sample_weight in fit when routing is off. TransformedTargetRegressor
    # hands it to its regressor: the same mixture as the plain regressor.
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import AdaBoostRegressor, BaggingRegressor

    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    plain = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    wrapped = MixtureOfExpertsRegressor(
        3, expert=TransformedTargetRegressor(LinearRegression()), random_state=0
    ).fit(X, y)
    # The two solve the same least squares differently (skmoe's own normal
    # equations, scikit-learn's lstsq): EM's tol bounds where they stop.
    assert_allclose(wrapped.predict(X), plain.predict(X), rtol=1e-4, atol=1e-4)
    assert_allclose(wrapped.lower_bound_, plain.lower_bound_, rtol=1e-6)
    single = DecisionTreeRegressor(max_depth=2).fit(X, y).score(X, y)
    for expert in (BaggingRegressor(n_estimators=3), AdaBoostRegressor(n_estimators=3)):
        moe = MixtureOfExpertsRegressor(3, expert=expert, random_state=0).fit(X, y)
        assert moe.score(X, y) > single
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        MixtureOfExpertsRegressor(
            3, expert=TransformedTargetRegressor(KNeighborsRegressor())
        ).fit(X, y)


@pytest.mark.parametrize("expert", ["svc", "gradient_boosting", "naive_bayes"])
def test_classifier_experts_whose_responsibilities_hold_one_class(expert):
    # One blob of the data holds a single class, so the k-means start gives an
    # expert all its weight on one class: SVC and gradient boosting refused
    # that ("all samples with positive weights belong to the same class"),
    # GaussianNB warned of a division by zero.
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.svm import SVC

    experts = {
        "svc": SVC(kernel="linear", probability=True),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=10),
        "naive_bayes": GaussianNB(),
    }
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(100, 2) - [6, 0], rng.randn(100, 2) + [6, 0]]
    y = np.r_[np.where(X[:100, 1] > 0, "up", "down"), np.full(100, "right")]
    moe = MixtureOfExpertsClassifier(2, expert=experts[expert], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", "The `probability`", FutureWarning)
        moe.fit(X, y)
    assert moe.score(X, y) > 0.95
    # The single-class expert puts most of its probability on that class.
    right = moe.predict_experts_proba(X[100:])
    k = int(np.argmax(moe.predict_gate_proba(X[100:]).mean(axis=0)))
    assert right[:, k, list(moe.classes_).index("right")].mean() > 0.95


def test_bic_of_pipeline_experts_counts_the_final_step():
    # A Pipeline(StandardScaler, LinearRegression) expert is a linear model:
    # the same likelihood and the same count as LinearRegression (it raised).
    import sklearn

    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    # Plain EM for both (SQUAREM accelerates LinearRegression experts only),
    # to the optimum (EM takes one gate step per M-step for plain linear
    # experts and solves the gate for a Pipeline: each stops within its tol).
    tight = {"random_state": 0, "tol": 1e-10, "max_iter": 2000}
    plain = MixtureOfExpertsRegressor(3, acceleration=None, **tight).fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        expert = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            LinearRegression().set_fit_request(sample_weight=True),
        )
        piped = MixtureOfExpertsRegressor(3, expert=expert, **tight).fit(X, y)
        assert piped._n_parameters() == plain._n_parameters()
        # Two solvers of the same least squares.
        assert_allclose(piped.bic(X, y), plain.bic(X, y), rtol=1e-7)


def test_regressor_takes_numbers_written_as_strings():
    # They passed the target check, then crashed in the fit (a matmul of
    # float64 and '<U3'); LinearRegression fits them.
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    as_text = np.array([repr(float(v)) for v in y])
    est = MixtureOfExpertsRegressor(2, random_state=0)
    assert_allclose(clone(est).fit(X, as_text).predict(X), est.fit(X, y).predict(X))
    assert_allclose(est.score_samples(X, as_text), est.score_samples(X, y))


def test_missing_values_get_advice_that_fits_a_mixture():
    # scikit-learn's message suggested HistGradientBoosting, which does not
    # help when the gate is what needs complete features.
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = make_piecewise_linear(n_samples=100, random_state=0)
    X_nan = X.copy()
    X_nan[::10, 0] = np.nan
    est = MixtureOfExpertsRegressor(2, expert=HistGradientBoostingRegressor())
    with pytest.raises(ValueError, match="Input X contains NaN.*SimpleImputer") as e:
        est.fit(X_nan, y)
    assert "HistGradientBoosting" not in str(e.value)
    fitted = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    for method in (fitted.predict, fitted.predict_gate_proba):
        with pytest.raises(ValueError, match="needs complete features"):
            method(X_nan)
    with pytest.raises(ValueError, match="needs complete features"):
        SoftmaxGate().fit(X_nan, y > 0)
