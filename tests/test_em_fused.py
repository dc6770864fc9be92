"""Tests of the fused EM iteration of the default regressor (``_em_fused``).

The fused path must compute what the generic M-step and E-step compute
(the same generalised-EM iteration: exact experts, one Newton step of the
gate), and its default fit must reach the optimum of the generic fit whose
gate is solved to convergence at every M-step.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.tree import DecisionTreeRegressor

from skmoe import (
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
    _em,
    _em_fused,
    _gate,
)
from skmoe._kernels import _config, _dispatch
from skmoe._kernels._fused import (
    linear_gaussian_pass,
    linear_gaussian_pass_reference,
)
from skmoe.datasets import make_moe_classification, make_moe_regression


def _pass_inputs(n, d=3, k=3, seed=0, var_scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return (
        np.ascontiguousarray(X.T),
        3.0 * rng.normal(size=n) + 5.0,
        rng.uniform(0.0, 2.0, size=n),
        rng.normal(size=(d, k)),
        rng.normal(size=k),
        rng.uniform(0.5, 2.0, size=k) * var_scale,
        rng.normal(size=(d, k)),
        rng.normal(size=k),
        rng.normal(size=(k, d + 1)),
    )


@pytest.mark.parametrize("n", [1, 7, 300, 9000])
def test_pass_matches_reference(n):
    args = _pass_inputs(n)
    got = linear_gaussian_pass(*args)
    expected = linear_gaussian_pass_reference(*args)
    for a, b in zip(got, expected, strict=True):
        b = np.asarray(b)
        assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_pass_does_not_depend_on_the_threads(n_threads, monkeypatch):
    args = _pass_inputs(10000, seed=1)
    monkeypatch.setattr(_config, "PARALLEL_MIN_ENTRIES", 1)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: 1)
    one = linear_gaussian_pass(*args)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: n_threads)
    for a, b in zip(linear_gaussian_pass(*args), one, strict=True):
        assert_array_equal(a, b)


def test_pass_with_separated_experts_flushes_only_negligible_posteriors():
    # Variances 1e-4 times the residuals' scale: most posteriors and gate
    # probabilities are far below 1e-150, where the kernel takes them as 0.
    args = list(_pass_inputs(2000, seed=2, var_scale=1e-4))
    args[6] = args[6] * 200.0  # a nearly hard gate
    got = linear_gaussian_pass(*args)
    expected = linear_gaussian_pass_reference(*args)
    assert np.mean(expected[0] < 1e-150) > 0.3
    for a, b in zip(got, expected, strict=True):
        b = np.asarray(b)
        assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(b).max()))


def _generic(monkeypatch):
    """Make every EM loop take the generic M-step and E-step."""
    monkeypatch.setattr(
        _em._FusedStep, "for_loop", classmethod(lambda cls, *args: None)
    )


def _fit(monkeypatch, generic, X, y, sample_weight=None, **params):
    with monkeypatch.context() as patch:
        if generic:
            _generic(patch)
        calls = []
        step = _em_fused._FusedStep.step

        def counting(self, *args):
            calls.append(1)
            return step(self, *args)

        patch.setattr(_em_fused._FusedStep, "step", counting)
        est = MixtureOfExpertsRegressor(**params).fit(X, y, sample_weight=sample_weight)
    assert (len(calls) == 0) is generic
    return est


@pytest.mark.parametrize(
    "params",
    [
        {"n_experts": 3},
        {"n_experts": 2, "expert": Ridge(alpha=3.0)},
        {"n_experts": 3, "gate": SoftmaxGate(C=np.inf)},
        {"n_experts": 3, "gate": SoftmaxGate(fit_intercept=False)},
        {"n_experts": 3, "gate": SoftmaxGate(standardize=False)},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_iterations_equal_the_generic_ones(params, weighted, monkeypatch):
    # The generic loop takes the fused step's generalised-EM iteration
    # (exact experts, one backtracked Newton step of a warm gate), computed
    # the generic way: both runs must follow the same path.
    X, y = make_moe_regression(
        600, n_features=3, n_experts=3, noise=0.2, random_state=4
    )
    X = X * np.array([1.0, 1e3, 1e-2]) + np.array([0.0, 5e3, -1.0])
    w = np.random.default_rng(0).uniform(0, 3, size=len(y)) if weighted else None
    params = {"random_state": 0, "max_iter": 60, "init_params": "kmeans", **params}
    params.setdefault("gate", SoftmaxGate())
    fused = _fit(monkeypatch, False, X, y, w, **params)
    generic = _fit(monkeypatch, True, X, y, w, **params)
    assert fused.n_iter_ == generic.n_iter_
    # Without standardisation the gate's Newton systems on these features
    # (offsets of 5e3, scales from 1e-2 to 1e3) are ill-conditioned, and
    # the two computations' rounding shows at 1e-7.
    atol = 1e-6 if not params["gate"].standardize else 1e-9
    assert_allclose(fused.lower_bounds_, generic.lower_bounds_, rtol=0, atol=atol)
    assert_allclose(fused.noise_variance_, generic.noise_variance_, rtol=1e-6)
    for a, b in zip(fused.experts_, generic.experts_, strict=True):
        assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-9)
        assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-9)
    assert_allclose(
        fused.predict_gate_proba(X), generic.predict_gate_proba(X), atol=1e-6
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_fit_reaches_the_optimum_of_a_converged_gate(seed, monkeypatch):
    # The default (fused, one gate step per iteration) against the generic
    # loop solving the gate to convergence at every M-step.
    X, y = make_moe_regression(
        3000, n_features=4, n_experts=4, noise=0.3, random_state=seed
    )
    fused = _fit(monkeypatch, False, X, y, n_experts=4, random_state=seed)
    monkeypatch.setattr(_gate, "EM_NEWTON_STEPS", 200)
    generic = _fit(monkeypatch, True, X, y, n_experts=4, random_state=seed)
    n = len(y)
    assert abs(fused.log_likelihood_ - generic.log_likelihood_) / n < 1e-5
    assert_allclose(fused.predict(X), generic.predict(X), atol=1e-3 * y.std())
    assert np.all(np.diff(fused.lower_bounds_) >= -1e-12)


def test_an_exact_expert_gets_its_variance_from_the_residuals(monkeypatch):
    # One regime without noise, far from zero: its sum of squared residuals
    # would be a difference of numbers of order 1e12 in the moments; the
    # fused step recomputes it from the residuals, as the generic step
    # computes it, and it lands on the variance floor.
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(800, 2))
    left = X[:, 0] < 0
    y = np.where(left, 1e6 + 3.0 * X[:, 1], 2.0 * X[:, 0] + 0.5 * rng.normal(size=800))
    params = {"n_experts": 2, "random_state": 0, "init_params": "kmeans"}
    params["variance_floor"] = 1e-15  # relative to var(y), about 2.5e11
    fused = _fit(monkeypatch, False, X, y, **params)
    generic = _fit(monkeypatch, True, X, y, **params)
    assert_allclose(
        np.sort(fused.noise_variance_), np.sort(generic.noise_variance_), rtol=1e-6
    )
    exact, noisy = np.sort(fused.noise_variance_)
    assert exact < 1e-3 and 0.2 < noisy < 0.3


def test_responsibilities_of_the_last_pass_are_the_e_step(monkeypatch):
    X, y = make_moe_regression(500, n_features=2, n_experts=3, random_state=1)
    w = np.random.default_rng(1).uniform(0, 2, size=len(y))
    w[:20] = 0.0
    est = MixtureOfExpertsRegressor(3, random_state=0, max_iter=5).fit(
        X, y, sample_weight=w
    )
    state = {
        "experts": list(est.experts_),
        "gate": est.gate_,
        "noise_variance": est.noise_variance_.copy(),
    }
    lik = est._likelihood(y, w)
    inputs = est.gate_._prepare(X, w)
    step = _em_fused._FusedStep.for_loop(est, state, X, y, w, lik, inputs, None)
    assert step is not None
    resp = est.predict_responsibilities(X, y)
    step.step(state, resp)
    expected = est._e_step(state, X, lik.log_likelihood(state, X, y))[0]
    got = step.responsibilities()
    assert_allclose(got[20:], expected[20:], atol=1e-12)
    assert_allclose(got[:20], 1.0 / 3.0)


@pytest.mark.parametrize(
    "make, params",
    [
        ("reg", {"expert": DecisionTreeRegressor(max_depth=2)}),
        ("reg", {"fit_top_k": 1}),
        ("reg", {"balance_strength": 0.5}),
        ("reg", {"gate": SoftmaxGate(solver="lbfgs")}),
        ("reg", {"expert": LinearRegression(fit_intercept=False)}),
        ("reg", {"likelihood": "student_t"}),
        ("clf", {}),
    ],
)
def test_other_models_take_the_generic_step(make, params, monkeypatch):
    if make == "reg":
        X, y = make_moe_regression(300, n_features=2, n_experts=2, random_state=0)
        est = MixtureOfExpertsRegressor(2, random_state=0, max_iter=5, **params)
    else:
        X, y = make_moe_classification(300, n_features=2, random_state=0)
        est = MixtureOfExpertsClassifier(2, random_state=0, max_iter=5, **params)
    fused = []
    original = _em._FusedStep.for_loop.__func__

    def recording(cls, *args):
        fused.append(original(cls, *args))
        return fused[-1]

    monkeypatch.setattr(_em._FusedStep, "for_loop", classmethod(recording))
    est.fit(X, y)
    assert fused and all(step is None for step in fused)


def test_float32_data_is_fitted_in_float64_by_the_fused_step(monkeypatch):
    X, y = make_moe_regression(400, n_features=2, n_experts=2, random_state=0)
    a = _fit(monkeypatch, False, X.astype(np.float32), y, n_experts=2, random_state=0)
    b = _fit(monkeypatch, False, X, y, n_experts=2, random_state=0)
    assert_allclose(a.log_likelihood_, b.log_likelihood_, rtol=1e-5)
