"""The array-API (device) path, run on the CPU with array-api-strict.

array-api-strict implements nothing beyond the standard, so these tests show
that the path a CuPy input takes uses only what the standard offers, and that
its fits match the NumPy fits. The same tests on a GPU are in
``tests/test_gpu.py``.
"""

import inspect
import warnings

import numpy as np
import pytest
import sklearn
from _support import NEEDS_DISPATCH
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skmoe import (
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe._array_api import _DEVICE_SUPPORT, move_to
from skmoe.datasets import make_moe_regression, make_xor

xps = pytest.importorskip("array_api_strict")


pytestmark = [
    NEEDS_DISPATCH,
    pytest.mark.skipif(
        not _DEVICE_SUPPORT, reason="the array-API path needs scikit-learn >= 1.9"
    ),
]


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def to_np(a):
    return move_to(a, xp=np, device="cpu")


def is_strict(a):
    return type(a).__module__.startswith("array_api_strict")


def assert_same_optimum(moe, ref, n_samples):
    """Both fits stop when the objective (per unit of weight) changes by less
    than ``tol``: their log-likelihoods agree within a few ``n * tol``."""
    assert abs(moe.log_likelihood_ - ref.log_likelihood_) <= 5 * n_samples * ref.tol


@pytest.fixture(scope="module")
def regression():
    return make_moe_regression(1500, n_features=3, n_experts=3, random_state=0)


@pytest.fixture(scope="module")
def xor():
    X, y = make_xor(600, random_state=0)
    return X, y


# ---------------------------------------------------------------------------
# The gate: Newton's method on the device == L-BFGS on the host
# ---------------------------------------------------------------------------


def _soft_problem(seed=0, n=1500, d=3, k=4):
    rng = np.random.default_rng(seed)
    # A calendar-year-like column: the device path standardises too.
    X = rng.normal(size=(n, d)) * np.r_[1.0, 100.0, 0.01][:d] + np.r_[0, 2000, 0][:d]
    Z = (X - X.mean(0)) / X.std(0) @ rng.normal(size=(d, k)) * 2
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    T = 0.7 * P + 0.3 * rng.dirichlet(np.ones(k), size=n)
    return X, T, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("C", [100.0, 1.0])
def test_gate_newton_matches_lbfgs(C):
    X, T, w = _soft_problem()
    ref = SoftmaxGate(C=C, tol=1e-10).fit(X, T, sample_weight=w)
    with dispatch():
        gate = SoftmaxGate(C=C, tol=1e-10).fit(
            xps.asarray(X), xps.asarray(T), sample_weight=xps.asarray(w)
        )
        proba = gate.predict_proba(xps.asarray(X))
    assert is_strict(gate.coef_) and is_strict(proba)
    assert gate.converged_
    # Same strictly convex objective, so the same optimum.
    assert gate.objective_ == pytest.approx(ref.objective_, rel=1e-9)
    assert gate.penalty_ == pytest.approx(ref.penalty_, rel=1e-5)
    assert_allclose(to_np(proba), ref.predict_proba(X), atol=1e-6)
    # The over-parametrised softmax is pinned down the same way (zero row sums).
    assert_allclose(to_np(gate.coef_), ref.coef_, rtol=1e-4, atol=1e-6)


def test_gate_newton_warm_start_and_labels():
    X, T, w = _soft_problem(seed=1)
    with dispatch():
        Xx, Tx, wx = xps.asarray(X), xps.asarray(T), xps.asarray(w)
        gate = SoftmaxGate(warm_start=True).fit(Xx, Tx, sample_weight=wx)
        first = gate.n_iter_
        gate.fit(Xx, Tx, sample_weight=wx)
        # Warm-started at its own optimum: nothing left to do.
        assert gate.n_iter_ == 0 < first
        y = np.argmax(T, axis=1) + 5  # labels 5..8
        lab = SoftmaxGate().fit(Xx, xps.asarray(y))
        pred = lab.predict(Xx)
    ref = SoftmaxGate().fit(X, y)
    assert is_strict(pred)
    assert_array_equal(lab.classes_, ref.classes_)
    assert lab.objective_ == pytest.approx(ref.objective_, rel=1e-7)
    assert np.mean(to_np(pred) == ref.predict(X)) > 0.999


def test_gate_soft_target_errors_on_device():
    X, T, _ = _soft_problem(n=20)
    with dispatch(), pytest.raises(ValueError, match="sum to 1"):
        SoftmaxGate().fit(xps.asarray(X), xps.asarray(T * 2))


# ---------------------------------------------------------------------------
# Regression
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expert",
    [None, Ridge(alpha=1e-3), DecisionTreeRegressor(max_depth=3, random_state=0)],
    ids=["linear", "ridge", "tree-on-host"],
)
def test_regressor_matches_numpy(regression, expert):
    X, y = regression
    ref = MixtureOfExpertsRegressor(3, expert=expert, random_state=0).fit(X, y)
    with dispatch():
        Xx, yx = xps.asarray(X), xps.asarray(y)
        moe = MixtureOfExpertsRegressor(3, expert=expert, random_state=0).fit(Xx, yx)
        pred = moe.predict(Xx)
        mean, std = moe.predict(Xx, return_std=True)
        gate_proba = moe.predict_gate_proba(Xx)
        resp = moe.predict_responsibilities(Xx, yx)
        log_prob = moe.score_samples(Xx, yx)
        score, bic = moe.score(Xx, yx), moe.bic(Xx, yx)
        experts = moe.predict_experts(Xx)
    for a in (pred, std, gate_proba, resp, log_prob, experts, moe.gate_.coef_):
        assert is_strict(a)
    assert is_strict(moe.noise_variance_) and is_strict(moe.expert_shares_)
    # The two paths differ only in the gate's solver (Newton vs L-BFGS, both
    # to tol), so EM follows the same path and stops at the same iteration.
    assert moe.n_iter_ == ref.n_iter_
    assert_same_optimum(moe, ref, X.shape[0])
    scale = y.std()
    assert_allclose(to_np(pred), ref.predict(X), atol=1e-3 * scale)
    assert_allclose(to_np(std), ref.predict(X, return_std=True)[1], atol=1e-3 * scale)
    assert_allclose(to_np(gate_proba), ref.predict_gate_proba(X), atol=1e-3)
    assert_allclose(to_np(resp), ref.predict_responsibilities(X, y), atol=1e-3)
    assert_allclose(to_np(log_prob), ref.score_samples(X, y), rtol=1e-4, atol=1e-4)
    assert_allclose(to_np(moe.noise_variance_), ref.noise_variance_, rtol=1e-3)
    assert score == pytest.approx(ref.score(X, y), abs=1e-5)
    assert bic == pytest.approx(ref.bic(X, y), rel=1e-6)
    assert_allclose(to_np(experts), ref.predict_experts(X), atol=1e-3 * scale)


@pytest.mark.parametrize("routing", ["hard", "top_k"])
def test_regressor_routing_on_device(regression, routing):
    X, y = regression
    params = dict(routing=routing, top_k=2, random_state=0)
    ref = MixtureOfExpertsRegressor(3, **params).fit(X, y)
    with dispatch():
        moe = MixtureOfExpertsRegressor(3, **params).fit(xps.asarray(X), xps.asarray(y))
        pred = moe.predict(xps.asarray(X))
    assert is_strict(pred)
    assert_allclose(to_np(pred), ref.predict(X), atol=1e-3 * y.std())


def test_numpy_input_with_dispatch_is_unchanged(regression):
    X, y = regression
    ref = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    with dispatch():
        moe = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
        pred = moe.predict(X)
    assert isinstance(pred, np.ndarray)
    assert_array_equal(pred, ref.predict(X))
    assert moe.lower_bound_ == ref.lower_bound_


def test_device_path_refuses_gradient_solver_and_partial_fit(regression):
    X, y = regression
    with dispatch():
        Xx, yx = xps.asarray(X), xps.asarray(y)
        with pytest.raises(ValueError, match="solver='gradient' fits NumPy"):
            MixtureOfExpertsRegressor(2, solver="gradient").fit(Xx, yx)
        with pytest.raises(ValueError, match="partial_fit takes NumPy"):
            MixtureOfExpertsRegressor(2).partial_fit(Xx, yx)


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expert",
    [
        # Solved to a tight tol: on the device scikit-learn's L-BFGS fits it,
        # on the host skmoe's Newton solver (skmoe._logistic); at the default
        # tol=1e-4 the two stop at points 3e-5 nats per row apart.
        LogisticRegression(tol=1e-8, max_iter=1000),
        DecisionTreeClassifier(max_depth=2, random_state=0),
    ],
    ids=["logistic-on-device", "tree-on-host"],
)
def test_classifier_matches_numpy(xor, expert):
    X, y = xor
    y = np.where(y == 1, 7, 3)  # labels that are not column indices
    ref = MixtureOfExpertsClassifier(2, expert=expert, random_state=0).fit(X, y)
    with dispatch():
        Xx, yx = xps.asarray(X), xps.asarray(y)
        clf = MixtureOfExpertsClassifier(2, expert=expert, random_state=0).fit(Xx, yx)
        proba = clf.predict_proba(Xx)
        labels = clf.predict(Xx)
        expert_labels = clf.predict_experts(Xx)
        log_prob = clf.score_samples(Xx, yx)
    assert is_strict(proba) and is_strict(labels) and is_strict(expert_labels)
    assert_array_equal(clf.classes_, [3, 7])
    assert_same_optimum(clf, ref, X.shape[0])
    assert_allclose(to_np(proba), ref.predict_proba(X), atol=1e-3)
    assert np.mean(to_np(labels) == ref.predict(X)) > 0.995
    assert np.mean(to_np(expert_labels) == ref.predict_experts(X)) > 0.99
    assert_allclose(to_np(log_prob), ref.score_samples(X, y), atol=1e-3)


def test_classifier_string_labels_on_device_raise(xor):
    X, y = xor
    with dispatch(), pytest.raises(ValueError, match="class labels must be numbers"):
        MixtureOfExpertsClassifier(2).fit(xps.asarray(X), np.array(["a", "b"])[y])


# ---------------------------------------------------------------------------
# Hierarchical
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init_params", ["kmeans", "hierarchical"])
def test_hierarchical_regressor_matches_numpy(init_params):
    X, y = make_moe_regression(1500, n_features=3, n_experts=4, random_state=1)
    # A firmer gate penalty than the default's: the comparison needs an
    # optimum that the two gate solvers (Newton, L-BFGS) both pin down.
    params = dict(
        depth=2,
        expert=Ridge(alpha=1e-3),
        init_params=init_params,
        gate=SoftmaxGate(C=100.0),
        random_state=0,
    )
    ref = HierarchicalMixtureOfExpertsRegressor(**params).fit(X, y)
    with dispatch():
        Xx = xps.asarray(X)
        hme = HierarchicalMixtureOfExpertsRegressor(**params).fit(Xx, xps.asarray(y))
        pred = hme.predict(Xx)
        leaves = hme.apply(Xx)
        nodes = hme.predict_node_proba(Xx)
    assert is_strict(pred) and is_strict(leaves) and is_strict(hme.gate_.coef_)
    assert_same_optimum(hme, ref, X.shape[0])
    assert_allclose(to_np(pred), ref.predict(X), atol=1e-3 * y.std())
    assert np.mean(to_np(leaves) == ref.apply(X)) > 0.995
    assert_allclose(to_np(nodes[2]), ref.predict_node_proba(X)[2], atol=1e-3)


def test_hierarchical_classifier_matches_numpy(xor):
    X, y = xor
    # A firmer gate penalty than the default's, as above.
    params = dict(depth=1, gate=SoftmaxGate(C=100.0), random_state=0)
    ref = HierarchicalMixtureOfExpertsClassifier(**params).fit(X, y)
    with dispatch():
        Xx = xps.asarray(X)
        hme = HierarchicalMixtureOfExpertsClassifier(**params)
        proba = hme.fit(Xx, xps.asarray(y)).predict_proba(Xx)
    assert is_strict(proba)
    assert_same_optimum(hme, ref, X.shape[0])
    assert_allclose(to_np(proba), ref.predict_proba(X), atol=1e-3)


# ---------------------------------------------------------------------------
# Kernel twin used on the device
# ---------------------------------------------------------------------------


def test_normal_equations_twin_on_device():
    from skmoe._kernels import (
        weighted_normal_equations,
        weighted_normal_equations_reference,
    )

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    W = rng.dirichlet(np.ones(3), size=300)
    center = np.array([True, False, True])
    expected = weighted_normal_equations_reference(X, y, W, center)
    got = weighted_normal_equations(
        xps.asarray(X), xps.asarray(y), xps.asarray(W), center
    )
    for a, b in zip(got, expected, strict=True):
        assert is_strict(a)
        assert_allclose(to_np(a), b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# scikit-learn's own array-API check, score_samples aside
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        MixtureOfExpertsRegressor(n_experts=2, random_state=0),
        MixtureOfExpertsClassifier(n_experts=2, random_state=0),
        HierarchicalMixtureOfExpertsRegressor(depth=2, random_state=0),
        HierarchicalMixtureOfExpertsClassifier(depth=1, random_state=0),
    ],
    ids=lambda est: type(est).__name__,
)
@pytest.mark.parametrize(
    "device, dtype", [("CPU_DEVICE", "float64"), ("device1", "float32")]
)
def test_sklearn_array_api_check(estimator, device, dtype):
    """``check_array_api_input`` (fitted attributes in the input's namespace,
    device and dtype; every prediction method's output likewise).

    The common checks (tests/test_common.py) list it as an expected failure
    only because it calls ``score_samples(X)`` without ``y``; here that method
    is hidden so the check runs to the end. ``device1`` is a second
    array-api-strict device (without float64 in older array-api-strict; the
    check reads the dtype limit from the device's name, so a float64-less
    device is tested below instead). A fixed number of iterations
    (``tol=0``): the check compares the shapes of the NumPy and the device
    fits' attributes, and ``lower_bounds_`` has one entry per iteration,
    which float32 and float64 fits need not share.
    """
    from sklearn.utils.estimator_checks import check_array_api_input

    if "device_name" not in inspect.signature(check_array_api_input).parameters:
        pytest.skip("this scikit-learn's check_array_api_input has another signature")
    hidden = type(type(estimator).__name__, (type(estimator),), {"score_samples": None})
    est = hidden(**estimator.get_params()).set_params(max_iter=5, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_array_api_input(
            type(estimator).__name__,
            est,
            "array_api_strict",
            device_name=device,
            dtype_name=dtype,
            check_sample_weight=True,
        )


def test_move_fitted_model_to_host(regression):
    """A model fitted on the device moves to NumPy with scikit-learn's
    ``move_estimator_to`` (nested gate and experts included) and predicts the
    same there, with the numba kernels."""
    from sklearn.utils._array_api import move_estimator_to

    X, y = regression
    with dispatch():
        moe = MixtureOfExpertsRegressor(3, random_state=0)
        moe.fit(xps.asarray(X), xps.asarray(y))
        pred = to_np(moe.predict(xps.asarray(X)))
        host = move_estimator_to(moe, np, "cpu")
    assert isinstance(host.gate_.coef_, np.ndarray)
    assert isinstance(host.experts_[0].coef_, np.ndarray)
    assert_allclose(host.predict(X), pred, rtol=1e-12, atol=1e-12)


def test_device_fitted_model_refuses_host_calls_clearly(regression):
    # With dispatch off, predict computed on the host silently, predict with
    # return_std and score_samples raised TypeErrors from deep inside,
    # partial_fit and a warm-started fit on NumPy data crashed mid-way, and
    # inspection.summary failed on len() of a device array.
    from skmoe.inspection import summary

    X, y = regression
    with dispatch():
        moe = MixtureOfExpertsRegressor(3, random_state=0, max_iter=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            moe.fit(xps.asarray(X), xps.asarray(y))
    shares = to_np(moe.expert_shares_)
    calls = [  # (the method the message names, the call)
        ("predict", lambda: moe.predict(X)),
        ("predict", lambda: moe.predict(X, return_std=True)),
        ("score_samples", lambda: moe.score_samples(X, y)),
        ("score_samples", lambda: moe.bic(X, y)),
        ("predict_gate_proba", lambda: moe.predict_gate_proba(X)),
        ("partial_fit", lambda: moe.partial_fit(X, y)),
        ("fit", lambda: moe.set_params(warm_start=True).fit(X, y)),
    ]
    for method, call in calls:
        match = f"was fitted on array_api_strict arrays: call {method}\\(\\)"
        with pytest.raises(ValueError, match=match):
            call()
    with dispatch():
        with pytest.raises(ValueError, match="namespaces used during fit"):
            moe.partial_fit(X, y)
    with pytest.raises(ValueError, match="summary works on the host"):
        summary(moe)
    # Nothing was changed by the refused calls.
    assert_array_equal(to_np(moe.expert_shares_), shares)


def test_weights_restarts_and_warm_start_on_device(regression):
    X, y = regression
    w = np.random.default_rng(0).integers(1, 3, size=X.shape[0]).astype(float)
    params = dict(n_init=2, random_state=0)
    ref = MixtureOfExpertsRegressor(3, **params).fit(X, y, sample_weight=w)
    with dispatch():
        Xx, yx = xps.asarray(X), xps.asarray(y)
        # n_jobs is ignored for device restarts (they share the device).
        moe = MixtureOfExpertsRegressor(3, n_jobs=2, **params)
        moe.fit(Xx, yx, sample_weight=xps.asarray(w))
        warm = MixtureOfExpertsRegressor(3, max_iter=3, warm_start=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            first = warm.fit(Xx, yx).lower_bound_
        second = warm.fit(Xx, yx).lower_bound_
    assert_same_optimum(moe, ref, w.sum())
    assert_allclose(to_np(moe.expert_shares_), ref.expert_shares_, atol=1e-4)
    # Warm start continues from the fitted model: the objective does not drop.
    assert second >= first - 1e-12


def test_fit_on_a_device_without_float64(regression):
    # A device without float64 (as MPS, or JAX without x64) fits in float32:
    # attributes and predictions stay there, close to the NumPy fit.
    try:
        device = xps.Device("no_float64")
    except ValueError:
        pytest.skip("this array-api-strict has no float64-less device")
    X, y = regression
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    ref = MixtureOfExpertsRegressor(3, random_state=0).fit(X32, y32)
    with dispatch():
        Xd, yd = xps.asarray(X32, device=device), xps.asarray(y32, device=device)
        moe = MixtureOfExpertsRegressor(3, random_state=0).fit(Xd, yd)
        pred = moe.predict(Xd)
        for value in (pred, moe.noise_variance_, moe.expert_shares_):
            assert is_strict(value)
            assert value.dtype == xps.float32 and value.device == device
    assert_allclose(to_np(pred), ref.predict(X32), atol=1e-3 * y.std())
