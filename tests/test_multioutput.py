"""Multi-output regression: a 2-D target with a full or diagonal noise
covariance per expert (``covariance_type``).

Checked against a plain NumPy EM written here (same start, same answer),
scipy's densities, closed forms of the mixture's moments and quantiles, and
by recovering a known two-regime mixture with correlated noise."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize, stats
from scipy.sparse import csr_matrix
from scipy.special import logsumexp, softmax
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.linear_model import SGDRegressor
from sklearn.multioutput import MultiOutputRegressor
from sklearn.tree import DecisionTreeRegressor

from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)

#: The two regimes' noise covariances: correlations +0.75 and -0.6.
_COV = (
    np.array([[0.04, 0.045], [0.045, 0.09]]),
    np.array([[0.09, -0.036], [-0.036, 0.04]]),
)


def _two_regimes(n=3000, seed=0, correlated=True, slope=None):
    """Two linear regimes of a 2-D target, chosen by the sign of x0 (or,
    with ``slope``, by a logistic gate of that slope in x0): means
    (1 + 2 x0, -x0 + 0.5 x1) and (-1 - x0, 3 x0), noise ``_COV`` (or its
    diagonal when not ``correlated``)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    if slope is None:
        right = X[:, 0] > 0
    else:
        right = rng.uniform(size=n) < 1 / (1 + np.exp(-slope * X[:, 0]))
    mean = np.where(
        right[:, None],
        np.column_stack([1 + 2 * X[:, 0], -X[:, 0] + 0.5 * X[:, 1]]),
        np.column_stack([-1 - X[:, 0], 3 * X[:, 0]]),
    )
    covs = _COV if correlated else tuple(np.diag(np.diag(c)) for c in _COV)
    noise = np.where(
        right[:, None],
        rng.multivariate_normal([0, 0], covs[1], n),
        rng.multivariate_normal([0, 0], covs[0], n),
    )
    return X, mean + noise, right


# ----------------------------------------------------------------------
# A plain NumPy EM: weighted least squares per expert and target, the
# weighted residual covariance, the softmax gate's penalised soft-target
# fit (on standardised features, penalty ||W||^2 / (2 C), as SoftmaxGate
# fits it) by L-BFGS, and the E-step with scipy's multivariate normal.
# ----------------------------------------------------------------------
def _gate_fit(Z, resp, C, start):
    n, d = Z.shape
    K = resp.shape[1]

    def loss(theta):
        W, b = theta[: d * K].reshape(d, K), theta[d * K :]
        logits = Z @ W + b
        log_g = logits - logsumexp(logits, axis=1, keepdims=True)
        value = -np.sum(resp * log_g) + 0.5 / C * np.sum(W * W)
        diff = np.exp(log_g) - resp
        grad = np.concatenate([(Z.T @ diff + W / C).ravel(), diff.sum(axis=0)])
        return value, grad

    result = optimize.minimize(
        loss, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0}
    )
    return result.x


def _reference_em(X, Y, resp, C, full, max_iter=5000):
    n, K = resp.shape
    A = np.column_stack([np.ones(n), X])
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    theta = np.zeros(Z.shape[1] * K + K)
    previous = -np.inf
    for _ in range(max_iter):
        betas, covs = [], []
        for k in range(K):
            root = np.sqrt(resp[:, k])[:, None]
            beta = np.linalg.lstsq(root * A, root * Y, rcond=None)[0]
            resid = Y - A @ beta
            cov = (resid * resp[:, k, None]).T @ resid / resp[:, k].sum()
            betas.append(beta)
            covs.append(cov if full else np.diag(np.diag(cov)))
        theta = _gate_fit(Z, resp, C, theta)
        d = Z.shape[1]
        log_gate = np.log(softmax(Z @ theta[: d * K].reshape(d, K) + theta[d * K :], 1))
        log_lik = np.column_stack(
            [
                stats.multivariate_normal(cov=covs[k]).logpdf(Y - A @ betas[k])
                for k in range(K)
            ]
        )
        joint = log_gate + log_lik
        log_prob = logsumexp(joint, axis=1)
        resp = np.exp(joint - log_prob[:, None])
        total = log_prob.sum()
        if abs(total - previous) < 1e-11:
            break
        previous = total
    return betas, np.array(covs), np.exp(log_gate), total


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_em_matches_a_plain_numpy_em_from_the_same_start(covariance_type):
    X, Y, _ = _two_regimes(n=300, seed=1, slope=2.0)
    start = np.random.default_rng(0).dirichlet([1.0, 1.0], size=X.shape[0])
    C = 50.0  # no penalty continuation (that is for gates of C > 100)
    moe = MixtureOfExpertsRegressor(
        2,
        gate=SoftmaxGate(C=C, tol=1e-12),
        init_params=start,
        min_responsibility=0.0,
        tol=1e-12,
        max_iter=5000,
        covariance_type=covariance_type,
    ).fit(X, Y)
    betas, covs, gate, total = _reference_em(X, Y, start, C, covariance_type == "full")
    # skmoe orders the experts by share; the reference by the start.
    shares = gate.mean(axis=0)
    order = np.argsort(-shares, kind="stable")
    assert_allclose(moe.log_likelihood_, total, rtol=1e-8)
    assert_allclose(moe.predict_gate_proba(X), gate[:, order], atol=1e-5)
    noise = (
        covs[order]
        if covariance_type == "full"
        else np.stack([np.diag(c) for c in covs[order]])
    )
    assert_allclose(moe.noise_variance_, noise, rtol=1e-5)
    for expert, k in zip(moe.experts_, order, strict=True):
        assert_allclose(expert.intercept_, betas[k][0], atol=1e-5)
        assert_allclose(expert.coef_, betas[k][1:].T, atol=1e-5)


def _matched(moe):
    """The fitted experts' indices in the order of the true regimes (left,
    right): by their intercept of the first target (-1, then 1)."""
    return np.argsort([float(e.intercept_[0]) for e in moe.experts_])


def test_a_known_mixture_with_correlated_noise_is_recovered():
    X, Y, right = _two_regimes()
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y)
    assert moe.covariance_type == "full" and moe.noise_variance_.shape == (2, 2, 2)
    order = _matched(moe)
    left_expert, right_expert = (moe.experts_[k] for k in order)
    assert_allclose(left_expert.intercept_, [-1, 0], atol=0.03)
    assert_allclose(left_expert.coef_, [[-1, 0], [3, 0]], atol=0.03)
    assert_allclose(right_expert.intercept_, [1, 0], atol=0.03)
    assert_allclose(right_expert.coef_, [[2, 0], [-1, 0.5]], atol=0.03)
    # Each covariance entry within 5 standard errors of the truth (about
    # sigma^2 sqrt(2 / 1500) for 1,500 rows per regime).
    for k, truth in zip(order, _COV, strict=True):
        assert_allclose(moe.noise_variance_[k], truth, atol=0.007)
        got = moe.noise_variance_[k]
        assert np.sign(got[0, 1]) == np.sign(truth[0, 1])
    assert_allclose(
        moe.expert_shares_[order], [1 - right.mean(), right.mean()], atol=0.02
    )


def test_full_and_diagonal_covariances_are_chosen_by_bic_where_they_belong():
    for correlated, better in ((True, "full"), (False, "diag")):
        X, Y, _ = _two_regimes(n=2000, seed=2, correlated=correlated)
        bic = {
            kind: MixtureOfExpertsRegressor(2, covariance_type=kind, random_state=0)
            .fit(X, Y)
            .bic(X, Y)
            for kind in ("full", "diag")
        }
        assert min(bic, key=bic.get) == better, (correlated, bic)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_the_density_and_parameter_count_are_the_mixtures(covariance_type):
    X, Y, _ = _two_regimes(n=400, seed=3)
    moe = MixtureOfExpertsRegressor(
        2, covariance_type=covariance_type, clip_predictions=False, random_state=0
    ).fit(X, Y)
    gate = moe.predict_gate_proba(X)
    means = moe.predict_experts(X)
    noise = moe.noise_variance_
    covs = noise if covariance_type == "full" else [np.diag(v) for v in noise]
    log_each = np.column_stack(
        [
            stats.multivariate_normal(cov=covs[k]).logpdf(Y - means[:, k])
            for k in range(2)
        ]
    )
    assert_allclose(moe.score_samples(X, Y), logsumexp(np.log(gate) + log_each, 1))
    assert_allclose(moe.score_samples(X, Y).sum(), moe.log_likelihood_)
    # Gate (2 features + intercept, one free column), two linear experts
    # of 2 targets (3 coefficients each), and the covariances.
    n_cov = 3 if covariance_type == "full" else 2
    n_params = 3 + 2 * 6 + 2 * n_cov
    bic, aic = moe.bic(X, Y), moe.aic(X, Y)
    assert_allclose((bic - aic) / (np.log(X.shape[0]) - 2), n_params)
    assert_allclose(aic, -2 * moe.score_samples(X, Y).sum() + 2 * n_params)


def test_the_predictive_moments_quantiles_and_draws():
    X, Y, _ = _two_regimes(n=600, seed=4, slope=1.0)
    moe = MixtureOfExpertsRegressor(2, clip_predictions=False, random_state=0).fit(X, Y)
    Xt = X[:5]
    gate, means = moe.predict_gate_proba(Xt), moe.predict_experts(Xt)
    variances = np.stack([np.diag(c) for c in moe.noise_variance_])  # (K, T)
    mean = np.einsum("nk,nkt->nt", gate, means)
    var = np.einsum("nk,nkt->nt", gate, variances + (means - mean[:, None]) ** 2)
    got_mean, got_std = moe.predict(Xt, return_std=True)
    assert_allclose(got_mean, mean)
    assert_allclose(got_std, np.sqrt(var))
    # Marginal quantiles: each target's mixture distribution function at
    # its quantile is the level.
    levels = np.array([0.05, 0.5, 0.9])
    q = moe.predict_quantiles(Xt, levels)
    assert q.shape == (5, 2, 3)
    for t in range(2):
        cdf = np.sum(
            gate[:, :, None]
            * stats.norm.cdf(
                q[:, t, None, :],
                means[:, :, t, None],
                np.sqrt(variances[None, :, t, None]),
            ),
            axis=1,
        )
        assert_allclose(cdf, np.broadcast_to(levels, cdf.shape), atol=1e-9)
    interval = moe.predict_interval(Xt, coverage=0.9)
    assert_allclose(interval, moe.predict_quantiles(Xt, [0.05, 0.95]))
    # Draws: their mean and covariance are the mixture's (Monte Carlo).
    draws = moe.sample_y(Xt[:1], n_samples=40000, random_state=0)[0]  # (T, S)
    second = np.einsum(
        "k,kst->st",
        gate[0],
        moe.noise_variance_ + np.einsum("ks,kt->kst", means[0], means[0]),
    )
    cov = second - np.outer(mean[0], mean[0])
    se = np.sqrt(np.diag(cov) / draws.shape[1])
    assert np.all(np.abs(draws.mean(axis=1) - mean[0]) < 5 * se)
    assert_allclose(np.cov(draws), cov, atol=0.05 * np.abs(cov).max())
    again = moe.sample_y(Xt[:1], n_samples=3, random_state=1)
    assert_array_equal(again, moe.sample_y(Xt[:1], n_samples=3, random_state=1))


def test_shapes_of_every_prediction_method():
    X, Y, _ = _two_regimes(n=300, seed=5)
    Y3 = np.column_stack([Y, Y[:, 0] - Y[:, 1]])
    # Two experts, three targets: no shape can be read transposed.
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y3)
    n = 7
    Xt, Yt = X[:n], Y3[:n]
    assert moe.predict(Xt).shape == (n, 3)
    assert [a.shape for a in moe.predict(Xt, return_std=True)] == [(n, 3)] * 2
    assert moe.predict_experts(Xt).shape == (n, 2, 3)
    assert moe.predict_gate_proba(Xt).shape == (n, 2)
    assert moe.predict_responsibilities(Xt, Yt).shape == (n, 2)
    assert moe.score_samples(Xt, Yt).shape == (n,)
    assert np.isfinite(moe.bic(Xt, Yt)) and np.isfinite(moe.aic(Xt, Yt))
    assert moe.predict_quantiles(Xt, 0.5).shape == (n, 3)
    assert moe.predict_quantiles(Xt, [0.1, 0.9]).shape == (n, 3, 2)
    assert moe.predict_interval(Xt).shape == (n, 3, 2)
    assert moe.sample_y(Xt, 4).shape == (n, 3, 4)
    assert moe.noise_variance_.shape == (2, 3, 3)
    assert moe.target_range_.shape == (2, 3)
    # Clipped predictions stay within each target's range.
    lo, hi = moe.target_range_
    preds = moe.predict_experts(X * 10)
    assert np.all((preds >= lo) & (preds <= hi))
    for routing in ("hard", "top_k"):
        assert moe.set_params(routing=routing).predict(Xt).shape == (n, 3)


def test_a_one_dimensional_target_is_unchanged():
    X, Y, _ = _two_regimes(n=400, seed=6)
    y = Y[:, 0]
    fits = {
        kind: MixtureOfExpertsRegressor(2, covariance_type=kind, random_state=0).fit(
            X, y
        )
        for kind in ("full", "diag")
    }
    # covariance_type is about 2-D targets: a 1-D fit is the same either way.
    assert_array_equal(fits["full"].predict(X), fits["diag"].predict(X))
    moe = fits["full"]
    assert moe.noise_variance_.shape == (2,) and moe.target_range_.shape == (2,)
    assert moe.predict(X).shape == (400,)
    assert moe.predict_experts(X).shape == (400, 2)
    assert moe.sample_y(X[:3], 2).shape == (3, 2)
    # A column vector is one target, raveled with scikit-learn's warning.
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y[:, None])
    assert_array_equal(column.predict(X), moe.predict(X))


def test_float32_in_float32_out():
    X, Y, _ = _two_regimes(n=400, seed=7)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    moe32 = MixtureOfExpertsRegressor(2, random_state=0).fit(X32, Y32)
    moe64 = MixtureOfExpertsRegressor(2, random_state=0).fit(
        X32.astype(np.float64), Y32.astype(np.float64)
    )
    mean, std = moe32.predict(X32, return_std=True)
    assert mean.dtype == std.dtype == np.float32
    for out in (
        moe32.predict_experts(X32),
        moe32.score_samples(X32, Y32),
        moe32.predict_quantiles(X32[:3], [0.2, 0.8]),
        moe32.sample_y(X32[:3], 2),
    ):
        assert out.dtype == np.float32
    # Computed in float64 all the same.
    assert_allclose(mean, moe64.predict(X32), rtol=1e-5, atol=1e-5)


def test_tree_experts_and_the_hierarchical_regressor():
    X, Y, _ = _two_regimes(n=1500, seed=8)
    trees = MixtureOfExpertsRegressor(
        2, expert=DecisionTreeRegressor(max_depth=4, random_state=0), random_state=0
    ).fit(X, Y)
    assert trees.predict(X).shape == (1500, 2)
    # One value per leaf and target, counted by bic/aic.
    n_leaf_values = sum(2 * e.get_n_leaves() for e in trees.experts_)
    n_params = (trees.bic(X, Y) - trees.aic(X, Y)) / (np.log(1500) - 2)
    assert_allclose(n_params, 3 + n_leaf_values + 2 * 3)
    flat = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y)
    hme = HierarchicalMixtureOfExpertsRegressor(depth=1, random_state=0).fit(X, Y)
    assert hme.noise_variance_.shape == (2, 2, 2)
    # Depth 1 is the flat model (its gate is fitted without the flat one's
    # penalty continuation): the same optimum, within a tenth of a nat.
    assert_allclose(hme.log_likelihood_, flat.log_likelihood_, atol=0.1)
    deep = HierarchicalMixtureOfExpertsRegressor(depth=2, random_state=0).fit(X, Y)
    assert deep.predict(X[:4]).shape == (4, 2)
    assert deep.log_likelihood_ >= flat.log_likelihood_ - 1.0


def test_refit_expert_and_warm_start():
    X, Y, _ = _two_regimes(n=800, seed=9)
    moe = MixtureOfExpertsRegressor(2, random_state=0, tol=1e-10).fit(X, Y)
    noise = moe.noise_variance_.copy()
    # At EM's fixed point an expert's M-step gives it back.
    moe.refit_expert(0, X, Y)
    assert_allclose(moe.noise_variance_, noise, rtol=1e-4)
    # A warm start may change the covariance type; it continues the fit.
    diag = MixtureOfExpertsRegressor(2, covariance_type="diag", random_state=0)
    diag.fit(X, Y)
    before = diag.log_likelihood_
    diag.set_params(warm_start=True, covariance_type="full").fit(X, Y)
    assert diag.noise_variance_.shape == (2, 2, 2)
    assert diag.log_likelihood_ > before
    # Growing splits an expert (across its residuals' principal direction):
    # the larger model is at least as likely as the one it grew from.
    smaller = diag.log_likelihood_
    with warnings.catch_warnings():
        # A third expert for two regimes converges slowly; this is about
        # where the grown fit starts.
        warnings.simplefilter("ignore", ConvergenceWarning)
        diag.set_params(n_experts=3).fit(X, Y)
    assert diag.noise_variance_.shape == (3, 2, 2)
    assert diag.log_likelihood_ >= smaller - 1e-6


def test_a_multi_output_wrapper_makes_any_expert_an_expert():
    X, Y, _ = _two_regimes(n=300, seed=10)
    wrapped = MultiOutputRegressor(SGDRegressor(tol=None, max_iter=20))
    moe = MixtureOfExpertsRegressor(2, expert=wrapped, max_iter=20, random_state=0).fit(
        X, Y
    )
    assert all(isinstance(e, MultiOutputRegressor) for e in moe.experts_)
    assert moe.predict(X[:3]).shape == (3, 2)


def _fit(**params):
    def make(X, Y):
        return MixtureOfExpertsRegressor(2, random_state=0, **params).fit(X, Y)

    return make


def _fitted(method):
    def make(X, Y):
        moe = MixtureOfExpertsRegressor(2, random_state=0, max_iter=5).fit(X, Y)
        return method(moe, X, Y)

    return make


@pytest.mark.parametrize(
    "make, match",
    [
        (_fit(solver="gradient"), r"solver='gradient' fits one target"),
        (_fit(acceleration="squarem"), r"acceleration='squarem'"),
        (_fit(likelihood="poisson"), r"likelihood='poisson' models one target"),
        (_fit(likelihood="gamma"), r"likelihood='gamma' models one target"),
        (
            _fit(expert=HistGradientBoostingRegressor()),
            r"HistGradientBoostingRegressor does not fit a 2-D target.*"
            r"MultiOutputRegressor",
        ),
        (
            lambda X, Y: MixtureOfExpertsRegressor(2).partial_fit(X, Y),
            "partial_fit learns one target",
        ),
        (
            _fitted(lambda m, X, Y: m.partial_fit(X, Y[:, 0])),
            "partial_fit learns one target",
        ),
        (
            _fitted(lambda m, X, Y: m.predict_interval(X, kind="hdr")),
            "kind='hdr' computes highest-density sets of one target",
        ),
        (
            _fitted(lambda m, X, Y: m.score_samples(X, Y[:, 0])),
            r"fitted on 2 target columns, so y must have shape \(n_samples, 2\)",
        ),
        (
            _fitted(lambda m, X, Y: m.set_params(warm_start=True).fit(X, Y[:, 0])),
            "warm_start=True but y has one target and the fitted model 2 targets",
        ),
        (
            lambda X, Y: MixtureOfExpertsRegressor(2).fit(X, csr_matrix(Y)),
            "dense target",
        ),
    ],
    ids=[
        "gradient",
        "squarem",
        "poisson",
        "gamma",
        "expert",
        "partial_fit",
        "partial_fit after fit",
        "hdr",
        "score 1-D",
        "warm start",
        "sparse",
    ],
)
def test_what_a_2d_target_refuses(make, match):
    X, Y, _ = _two_regimes(n=200, seed=11)
    X_before, Y_before = X.copy(), Y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short fits' advice
        with pytest.raises(ValueError, match=match):
            make(X, Y)
    assert_array_equal(X, X_before)
    assert_array_equal(Y, Y_before)


def test_a_refused_fit_leaves_the_estimator_as_it_was():
    X, Y, _ = _two_regimes(n=200, seed=12)
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y)
    moe.set_params(expert=HistGradientBoostingRegressor())
    before = dict(vars(moe))
    with pytest.raises(ValueError, match="does not fit a 2-D target"):
        moe.fit(X, Y)
    assert vars(moe).keys() == before.keys()
    assert moe.noise_variance_ is before["noise_variance_"]
    assert moe.experts_ is before["experts_"]


def test_dask_fits_refuse_a_2d_target_and_predict_block_by_block():
    da = pytest.importorskip("dask.array")
    X, Y, _ = _two_regimes(n=200, seed=13)
    Xd, Yd = da.from_array(X, chunks=100), da.from_array(Y, chunks=100)
    with pytest.raises(ValueError, match="A 2-D target .* is fitted in memory"):
        MixtureOfExpertsRegressor(2).fit(Xd, Yd)
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y)
    assert_allclose(moe.predict(Xd).compute(), moe.predict(X))
    assert_allclose(moe.score_samples(Xd, Yd).compute(), moe.score_samples(X, Y))


def test_reports_show_each_target_and_single_target_tools_refuse():
    from skmoe.conformal import ConformalMixtureRegressor
    from skmoe.inspection import coefficient_table, export_text, summary

    X, Y, _ = _two_regimes(n=300, seed=14)
    moe = MixtureOfExpertsRegressor(2, random_state=0).fit(X, Y)
    std = np.sqrt(np.diagonal(moe.noise_variance_, axis1=1, axis2=2))
    text = export_text(moe)
    assert f"noise std={std[0, 0]:.3f}, {std[0, 1]:.3f}" in text
    assert "target 1: intercept=" in text
    report = summary(moe)
    assert f"{std[1, 0]:.4g}, {std[1, 1]:.4g}" in report
    assert "expert  target  intercept" in report
    with pytest.raises(ValueError, match="coefficient_table is for a mixture of one"):
        coefficient_table(moe, X, Y)
    with pytest.raises(ValueError, match="calibrates intervals of one target"):
        ConformalMixtureRegressor(MixtureOfExpertsRegressor(2)).fit(X, Y)
