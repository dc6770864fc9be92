"""GPU tests (CuPy): the fused E-step kernel, and the estimators on CuPy arrays.

Every test is marked ``gpu``; the whole module is skipped where CuPy is not
installed or sees no CUDA device.  Run them alone with ``pytest -m gpu``.

The kernel is checked against the NumPy/SciPy oracle ``e_step_reference``
(random rows, every kind of special row, huge logits, rows held in registers
and longer ones), the estimators against the same fit on NumPy inputs.
"""

import os
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.gpu

cp = pytest.importorskip("cupy")
try:
    _N_DEVICES = cp.cuda.runtime.getDeviceCount()
except Exception:  # CUDARuntimeError: no driver, driver too old, ...
    _N_DEVICES = 0
if _N_DEVICES == 0:
    pytest.skip("CuPy sees no CUDA device", allow_module_level=True)

# scikit-learn's array-API dispatch needs SciPy's array-API support, which
# SciPy reads from SCIPY_ARRAY_API when first imported: tests/conftest.py sets
# it for a pytest session; this covers importing the module without it.
if "scipy" not in sys.modules:
    os.environ.setdefault("SCIPY_ARRAY_API", "1")

from _support import HUGE_LOGITS, NEEDS_DISPATCH, random_logits  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn import config_context  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.tree import DecisionTreeRegressor  # noqa: E402

from skmoe import (  # noqa: E402
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe._array_api import array_namespace  # noqa: E402
from skmoe._kernels import _cupy, _dispatch, e_step, e_step_reference  # noqa: E402
from skmoe._kernels._reference import _e_step_xp  # noqa: E402
from skmoe.datasets import make_hierarchical_regimes, make_moe_regression  # noqa: E402

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32])
# resp entries near 0 need an absolute tolerance as well
TOL = {
    np.float64: dict(rtol=1e-12, atol=1e-14),
    np.float32: dict(rtol=1e-5, atol=1e-6),
}


def _assert_matches_reference(resp, log_prob, log_gate, log_lik, dtype):
    assert isinstance(resp, cp.ndarray) and isinstance(log_prob, cp.ndarray)
    assert resp.dtype == dtype and log_prob.dtype == dtype
    n, K = log_gate.shape
    assert resp.shape == (n, K) and log_prob.shape == (n,)
    resp, log_prob = cp.asnumpy(resp), cp.asnumpy(log_prob)
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_array_equal(np.isnan(resp), np.isnan(ref_resp))
    assert_array_equal(np.isnan(log_prob), np.isnan(ref_log_prob))
    assert_array_equal(
        log_prob[np.isinf(ref_log_prob)], ref_log_prob[np.isinf(ref_log_prob)]
    )
    assert_allclose(resp, ref_resp, equal_nan=True, **TOL[dtype])
    assert_allclose(log_prob, ref_log_prob, equal_nan=True, **TOL[dtype])


# ---------------------------------------------------------------------------
# Fused E-step kernel
# ---------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("n", [1, 1000, 100_003])
# K = 20 > _cupy._REG_K: rows not held in registers (online logsumexp path)
@pytest.mark.parametrize("K", [1, 3, 8, 20])
def test_fused_e_step_matches_reference(n, K, dtype):
    log_gate, log_lik = random_logits(n, K, dtype, seed=n + K, special=True)
    g, l = cp.asarray(log_gate), cp.asarray(log_lik)
    resp, log_prob = e_step(g, l)
    _assert_matches_reference(resp, log_prob, log_gate, log_lik, dtype)
    # inputs untouched
    assert_array_equal(cp.asnumpy(g), log_gate)
    assert_array_equal(cp.asnumpy(l), log_lik)


def test_dispatch_sends_cupy_to_the_fused_kernel(monkeypatch):
    calls = []

    def spy(log_gate, log_lik):
        calls.append(log_gate.shape)
        return _cupy.e_step_cupy(log_gate, log_lik)

    monkeypatch.setattr(_dispatch, "e_step_cupy", spy)
    e_step(cp.zeros((5, 3)), cp.zeros((5, 3)))
    assert calls == [(5, 3)]


@pytest.mark.parametrize("pad", [0, 10], ids=["registers", "online"])
def test_fused_e_step_special_values_are_exact(pad):
    log_gate = np.vstack(
        [
            HUGE_LOGITS,
            [np.inf, 0.0, np.inf],
            [-np.inf, -np.inf, -np.inf],
            [0.0, np.nan, np.inf],
        ]
    )
    # extra -inf columns change nothing but the code path (K > _REG_K)
    log_gate = np.hstack([log_gate, np.full((8, pad), -np.inf)])
    K = log_gate.shape[1]
    resp, log_prob = e_step(cp.asarray(log_gate), cp.zeros((8, K)))
    resp, log_prob = cp.asnumpy(resp)[:, :3], cp.asnumpy(log_prob)
    assert_array_equal(resp[0], [1.0, 0.0, 0.0])
    assert_array_equal(resp[1], [0.5, 0.5, 0.0])
    assert_allclose(resp[2], 1 / 3, rtol=1e-15)
    assert_array_equal(resp[3], [1.0, 0.0, 0.0])
    assert_array_equal(resp[4], [0.0, 1.0, 0.0])
    assert_array_equal(resp[5], [0.5, 0.0, 0.5])
    assert_allclose(resp[6], 1 / K, rtol=1e-15)
    assert np.isnan(resp[7]).all()
    assert_array_equal(
        log_prob,
        [1e300, 1e300, -1e300, 1.7e308, -1e300 + 1e285, np.inf, -np.inf, np.nan],
    )


def test_fused_e_step_huge_float32():
    log_gate = cp.asarray([[3e38, -3e38], [-3e38, -3e38]], dtype=cp.float32)
    resp, log_prob = e_step(log_gate, cp.zeros_like(log_gate))
    assert resp.dtype == cp.float32
    assert_array_equal(cp.asnumpy(resp), [[1.0, 0.0], [0.5, 0.5]])
    assert_array_equal(cp.asnumpy(log_prob), np.array([3e38, -3e38], dtype=np.float32))


@pytest.mark.parametrize(
    "dtype_gate, dtype_lik, expected",
    [
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.int64, np.int64, np.float64),
        (np.float32, np.int8, np.float32),  # as _reference._float_dtype
    ],
)
def test_fused_e_step_dtype_promotion(dtype_gate, dtype_lik, expected):
    log_gate, log_lik = random_logits(50, 3, np.float64)
    log_gate = np.round(log_gate).astype(dtype_gate)
    log_lik = np.round(log_lik).astype(dtype_lik)
    resp, log_prob = e_step(cp.asarray(log_gate), cp.asarray(log_lik))
    _assert_matches_reference(resp, log_prob, log_gate, log_lik, expected)


def test_fused_e_step_non_contiguous_inputs():
    log_gate, log_lik = random_logits(300, 8, np.float64, special=True)
    g = cp.asfortranarray(cp.asarray(log_gate))
    l = cp.asarray(np.repeat(log_lik, 2, axis=1))[:, ::2]  # strided view
    resp, log_prob = e_step(g, l)
    _assert_matches_reference(resp, log_prob, log_gate, log_lik, np.float64)


def test_fused_e_step_empty_and_bad_shapes():
    resp, log_prob = e_step(cp.zeros((0, 3)), cp.zeros((0, 3)))
    assert resp.shape == (0, 3) and log_prob.shape == (0,)
    resp, log_prob = e_step(cp.zeros((2, 0)), cp.zeros((2, 0)))
    assert resp.shape == (2, 0)
    assert_array_equal(cp.asnumpy(log_prob), [-np.inf, -np.inf])
    with pytest.raises(ValueError, match="same shape"):
        e_step(cp.zeros((2, 3)), cp.zeros((3, 2)))
    with pytest.raises(ValueError, match="out is only supported"):
        e_step(cp.zeros((2, 3)), cp.zeros((2, 3)), out=(None, None))


@DTYPES
def test_fused_e_step_matches_array_api_twin(dtype):
    log_gate, log_lik = random_logits(20_000, 4, dtype, special=True)
    g, l = cp.asarray(log_gate), cp.asarray(log_lik)
    resp, log_prob = e_step(g, l)
    xp_resp, xp_log_prob = _e_step_xp(g, l, array_namespace(g))
    assert_allclose(cp.asnumpy(resp), cp.asnumpy(xp_resp), equal_nan=True, **TOL[dtype])
    assert_allclose(
        cp.asnumpy(log_prob), cp.asnumpy(xp_log_prob), equal_nan=True, **TOL[dtype]
    )


# ---------------------------------------------------------------------------
# Estimators: a fit on CuPy arrays matches the fit on NumPy arrays
# ---------------------------------------------------------------------------


def _fit_cpu_and_gpu(make, X, y):
    cpu = make().fit(X, y)
    with config_context(array_api_dispatch=True):
        gpu = make().fit(cp.asarray(X), cp.asarray(y))
    return cpu, gpu


def _gpu_call(method, X):
    with config_context(array_api_dispatch=True):
        return method(cp.asarray(X))


def _assert_same_optimum(gpu, cpu, n_samples):
    """Both fits stop when the objective (per unit of weight) changes by less
    than ``tol``: their log-likelihoods agree within a few ``n * tol`` (the
    gate's solvers differ: Newton on the GPU, L-BFGS on the CPU)."""
    assert abs(gpu.log_likelihood_ - cpu.log_likelihood_) <= 5 * n_samples * cpu.tol


def _check_regressor(make, X, y):
    cpu, gpu = _fit_cpu_and_gpu(make, X, y)
    pred = _gpu_call(gpu.predict, X)
    assert isinstance(pred, cp.ndarray)
    scale = float(np.std(y))
    assert_allclose(cp.asnumpy(pred), cpu.predict(X), atol=1e-3 * scale)
    _assert_same_optimum(gpu, cpu, X.shape[0])
    assert gpu.n_iter_ == cpu.n_iter_
    return cpu, gpu


@NEEDS_DISPATCH
def test_regressor_on_gpu_matches_cpu():
    X, y = make_moe_regression(2000, n_features=3, n_experts=3, random_state=0)
    _, gpu = _check_regressor(
        lambda: MixtureOfExpertsRegressor(3, expert=Ridge(alpha=1e-3), random_state=0),
        X,
        y,
    )
    assert isinstance(gpu.gate_.coef_, cp.ndarray)


def _xor3(n, seed=0):
    """XOR-like 3 classes in 2-D: same-sign quadrants share class 0.

    No single linear model separates class 0; a gate splitting on ``x0`` and
    one logistic expert per side (each linear in ``x1``) do.
    """
    X = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))
    y = np.where(X[:, 0] * X[:, 1] > 0, 0, np.where(X[:, 0] > 0, 1, 2))
    return X, y


@NEEDS_DISPATCH
def test_classifier_on_gpu_matches_cpu():
    X, y = _xor3(1500)
    cpu, gpu = _fit_cpu_and_gpu(
        lambda: MixtureOfExpertsClassifier(
            2, expert=LogisticRegression(), random_state=0
        ),
        X,
        y,
    )
    proba = _gpu_call(gpu.predict_proba, X)
    labels = _gpu_call(gpu.predict, X)
    assert isinstance(proba, cp.ndarray) and isinstance(labels, cp.ndarray)
    assert_allclose(cp.asnumpy(proba), cpu.predict_proba(X), atol=1e-3)
    assert np.mean(cp.asnumpy(labels) == cpu.predict(X)) >= 0.99
    assert_array_equal(gpu.classes_, cpu.classes_)
    _assert_same_optimum(gpu, cpu, X.shape[0])


@NEEDS_DISPATCH
def test_hierarchical_regressor_on_gpu_matches_cpu():
    X, y = make_hierarchical_regimes(2000, random_state=0)
    _check_regressor(
        # A firmer gate penalty than the default's: the comparison needs an
        # optimum that the two gate solvers (Newton, L-BFGS) both pin down.
        lambda: HierarchicalMixtureOfExpertsRegressor(
            depth=2,
            branching=2,
            expert=Ridge(alpha=1e-3),
            gate=SoftmaxGate(C=100.0),
            random_state=0,
        ),
        X,
        y,
    )


@NEEDS_DISPATCH
def test_cpu_only_expert_on_gpu_input():
    # A tree has no array-API support: it is fitted on the host with the
    # inputs moved there, and the mixture's predictions come back as CuPy.
    X, y = make_moe_regression(2000, n_features=3, n_experts=3, random_state=0)
    _check_regressor(
        lambda: MixtureOfExpertsRegressor(
            3, expert=DecisionTreeRegressor(max_depth=3), random_state=0
        ),
        X,
        y,
    )


def test_numpy_input_never_imports_cupy():
    # In a fresh interpreter (this one has imported CuPy): a NumPy fit and
    # prediction, with dispatch on, must not load CuPy.
    import subprocess

    code = (
        "import sys, sklearn, numpy as np\n"
        "from skmoe import MixtureOfExpertsRegressor\n"
        "X = np.random.default_rng(0).normal(size=(200, 2)); y = X[:, 0]\n"
        "with sklearn.config_context(array_api_dispatch=True):\n"
        "    MixtureOfExpertsRegressor(2, random_state=0).fit(X, y).predict(X)\n"
        "assert 'cupy' not in sys.modules, 'cupy was imported'\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
