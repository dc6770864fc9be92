"""Tests of gradient fitting (solver="gradient") and partial_fit."""

import copy
import gc
import pickle
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import check_grad
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.fixes import parse_version
from sklearn.utils.validation import has_fit_parameter

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe._experts import _check_expert_templates
from skmoe._gradient import check_solver_support
from skmoe._gradient._model import _classes_of, _new_model, _Objective
from skmoe._validation import _check_weights
from skmoe.datasets import make_moe_classification, make_moe_regression

_SKLEARN_1_8 = parse_version(sklearn.__version__) >= parse_version("1.8")


@pytest.fixture(scope="module")
def regression_data():
    X, y = make_moe_regression(
        n_samples=3000,
        n_features=2,
        n_experts=3,
        noise=[0.1, 0.2, 0.3],
        gate_scale=4.0,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="module")
def stream_data():
    X, y = make_moe_regression(
        n_samples=12000,
        n_features=2,
        n_experts=3,
        noise=[0.1, 0.2, 0.3],
        gate_scale=4.0,
        random_state=0,
    )
    return X[:10000], y[:10000], X[10000:], y[10000:]


@pytest.fixture(scope="module")
def classification_data():
    X, y = make_moe_classification(
        n_samples=2000, n_features=2, n_classes=3, random_state=0
    )
    return X, y


def _weights(n, seed=0):
    return np.random.RandomState(seed).uniform(0.5, 2.0, size=n)


def _make_objective(estimator, X, y, sample_weight=None, resp=None):
    """The full-batch objective ``estimator`` would minimise on (X, y).

    Returns ``(objective, u0)``, where ``objective(u)`` gives the penalised
    negative log-likelihood per unit weight and its gradient, and ``u0`` the
    (all-zero) starting point. With ``resp``, the objective is the M-step's
    (responsibilities held fixed).
    """
    X, y = estimator._validate_fit_data(X, y)
    w = _check_weights(sample_weight, X, np.float64)
    lik = estimator._likelihood(y, w)
    templates = _check_expert_templates(
        estimator.expert,
        estimator.n_experts,
        estimator._default_expert(),
        estimator._classifier,
    )
    kinds = check_solver_support(estimator, templates)
    if not all(kind == "diff" for kind in kinds):
        raise ValueError("the full-batch objective needs differentiable experts")
    model = _new_model(estimator, X, y, w, lik, templates, kinds)
    classes = _classes_of(estimator)
    t = np.searchsorted(classes, y) if classes is not None else y
    Xs, t = model.standardize(X, t)
    objective = _Objective(model, Xs, t, w, resp=resp)
    return objective, objective.pack()


# ----------------------------------------------------------------------
# Analytic gradients
# ----------------------------------------------------------------------
REGRESSION_EXPERTS = {
    "linear": LinearRegression(),
    "penalised": [Ridge(alpha=3.0), LinearRegression(), Ridge(alpha=0.5)],
    "no-intercept": [Ridge(alpha=1.0, fit_intercept=False), LinearRegression()] * 1
    + [LinearRegression(fit_intercept=False)],
}
CLASSIFICATION_EXPERTS = {
    "unpenalised": LogisticRegression(C=np.inf),
    "penalised": [
        LogisticRegression(C=0.5),
        LogisticRegression(C=np.inf),
        LogisticRegression(fit_intercept=False),
    ],
}
GATES = {
    "default": None,
    "raw-unpenalised": SoftmaxGate(C=np.inf, standardize=False),
    "no-intercept": SoftmaxGate(C=3.0, fit_intercept=False),
}


def _assert_gradient(objective, u, rtol=1e-5):
    def value(v):
        return objective(v)[0]

    def grad(v):
        return objective(v)[1]

    error = check_grad(value, grad, u, epsilon=1e-6)
    assert error <= rtol * max(1.0, np.linalg.norm(grad(u))), error


@pytest.mark.parametrize("gate", GATES, ids=list(GATES))
@pytest.mark.parametrize("experts", REGRESSION_EXPERTS, ids=list(REGRESSION_EXPERTS))
@pytest.mark.parametrize("fixed_resp", [False, True], ids=["loglik", "m-step"])
def test_regression_gradient_matches_finite_differences(experts, gate, fixed_resp):
    X, y = make_moe_regression(n_samples=150, n_features=3, random_state=0)
    X = X * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0]  # scales the solver must absorb
    rng = np.random.RandomState(1)
    resp = rng.dirichlet(np.ones(3), size=X.shape[0]) if fixed_resp else None
    est = MixtureOfExpertsRegressor(
        3, expert=REGRESSION_EXPERTS[experts], gate=GATES[gate], solver="gradient"
    )
    objective, u0 = _make_objective(est, X, y, _weights(X.shape[0]), resp=resp)
    # Includes the log noise variances: 3 experts, each d + 1 (or d) params.
    assert (
        u0.size
        == 3 * 4
        + 3 * 4
        + 3
        - (gate == "no-intercept") * 3
        - (experts == "no-intercept") * 2
    )
    for _ in range(3):
        _assert_gradient(objective, 0.5 * rng.normal(size=u0.size))


@pytest.mark.parametrize("gate", GATES, ids=list(GATES))
@pytest.mark.parametrize(
    "experts", CLASSIFICATION_EXPERTS, ids=list(CLASSIFICATION_EXPERTS)
)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fixed_resp", [False, True], ids=["loglik", "m-step"])
def test_classification_gradient_matches_finite_differences(
    experts, gate, n_classes, fixed_resp
):
    X, y = make_moe_classification(
        n_samples=150, n_features=3, n_classes=n_classes, random_state=0
    )
    X = X * [1.0, 10.0, 0.1] + [0.0, 5.0, -2.0]
    rng = np.random.RandomState(2)
    resp = rng.dirichlet(np.ones(3), size=X.shape[0]) if fixed_resp else None
    est = MixtureOfExpertsClassifier(
        3, expert=CLASSIFICATION_EXPERTS[experts], gate=GATES[gate], solver="gradient"
    )
    objective, u0 = _make_objective(est, X, y, _weights(X.shape[0]), resp=resp)
    for _ in range(3):
        _assert_gradient(objective, 0.5 * rng.normal(size=u0.size))


def test_objective_is_the_penalised_log_likelihood(regression_data):
    """The objective at the fitted parameters is the mixture's own log-likelihood.

    Checked against ``score_samples`` of the fitted estimator (an independent
    computation through the fitted experts and gate) and the penalties written
    from the fitted coefficients.
    """
    X, y = regression_data
    w = _weights(X.shape[0])
    experts = [Ridge(alpha=2.0), LinearRegression(), Ridge(alpha=0.5)]
    est = MixtureOfExpertsRegressor(
        3, expert=experts, solver="gradient", random_state=0
    ).fit(X, y, sample_weight=w)
    fitted_order = [clone(e) for e in est.experts_]
    objective, _ = _make_objective(clone(est).set_params(expert=fitted_order), X, y, w)
    # Load the fitted parameters into the objective's model.
    objective.model.set_from_state(est._get_state(), None)
    objective.log_var = objective.model.log_var_std()
    value, _ = objective(objective.pack())
    loglik = w @ est.score_samples(X, y)
    ridge = sum(
        e.alpha * e.coef_ @ e.coef_ / (2 * v)
        for e, v in zip(est.experts_, est.noise_variance_, strict=True)
        if isinstance(e, Ridge)
    )
    expected = (est.gate_.penalty_ + ridge - loglik) / w.sum()
    assert_allclose(value + np.log(objective.model.y_scale), expected, rtol=1e-10)
    assert_allclose(est.log_likelihood_, loglik, rtol=1e-10)
    # The fit works with the weights rescaled to average one (row units), so
    # the penalty counts against that many rows.
    unit = w.sum() / np.count_nonzero(w)
    assert_allclose(
        est.lower_bound_, (loglik - unit * est.gate_.penalty_) / w.sum(), rtol=1e-10
    )


# ----------------------------------------------------------------------
# Full batch reaches the EM optimum, and vice versa
# ----------------------------------------------------------------------
@pytest.mark.parametrize("gate", ["default", "no-intercept"])
def test_full_batch_gradient_reaches_em_optimum(regression_data, gate):
    X, y = regression_data
    em = MixtureOfExpertsRegressor(3, gate=GATES[gate], random_state=0).fit(X, y)
    grad = MixtureOfExpertsRegressor(
        3, gate=GATES[gate], solver="gradient", random_state=0
    ).fit(X, y)
    if gate == "no-intercept":
        assert_array_equal(em.gate_.intercept_, np.zeros(3))
        assert_array_equal(grad.gate_.intercept_, np.zeros(3))
    assert grad.converged_
    # Same objective, same optimum: within 1e-5 nats per sample.
    assert abs(grad.lower_bound_ - em.lower_bound_) < 1e-5
    assert_allclose(grad.noise_variance_, em.noise_variance_, rtol=1e-2)
    assert_allclose(grad.predict(X), em.predict(X), atol=2e-3 * y.std())
    assert grad.lower_bounds_.shape == (grad.n_iter_,)
    assert grad.lower_bounds_[-1] == pytest.approx(grad.lower_bound_, abs=1e-12)

    # EM started from the gradient solution does not improve it beyond tol ...
    em_after = copy.deepcopy(grad).set_params(solver="em", warm_start=True)
    em_after.fit(X, y)
    assert em_after.lower_bound_ - grad.lower_bound_ < em.tol
    # ... and gradient fitting started from EM's does not improve EM's.
    grad_after = copy.deepcopy(em).set_params(solver="gradient", warm_start=True)
    grad_after.fit(X, y)
    assert grad_after.lower_bound_ - em.lower_bound_ < em.tol
    assert grad_after.n_iter_ <= 5


def test_minibatch_warm_start_never_returns_a_worse_model():
    # Started from the full-batch optimum, minibatch epochs can only wander
    # off it; the fitted model was not a candidate for the best epoch, so a
    # warm start could return a worse model than it started from.
    X, y = make_moe_regression(n_samples=600, n_features=2, random_state=0)
    grad = MixtureOfExpertsRegressor(3, solver="gradient", random_state=0).fit(X, y)
    after = copy.deepcopy(grad).set_params(batch_size=32, max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        after.fit(X, y)
    assert after.lower_bound_ >= grad.lower_bound_ - 1e-6
    assert after.score_samples(X, y).mean() >= grad.score_samples(X, y).mean() - 1e-6


@pytest.mark.parametrize("C", [np.inf, 1.0])
def test_full_batch_gradient_reaches_em_optimum_classification(C):
    # Two classes: here EM and gradient fitting reach the same optimum from
    # the same start (with three, each finds its own local optimum). With
    # penalised experts both objectives subtract the experts' penalty.
    X, y = make_moe_classification(
        n_samples=800, n_features=2, n_classes=2, n_experts=2, random_state=0
    )
    expert = LogisticRegression(C=C)
    em = MixtureOfExpertsClassifier(2, expert=expert, random_state=0).fit(X, y)
    grad = MixtureOfExpertsClassifier(
        2, expert=expert, solver="gradient", random_state=0
    ).fit(X, y)
    assert grad.converged_
    assert abs(grad.lower_bound_ - em.lower_bound_) < 1e-5
    assert_allclose(grad.predict_proba(X), em.predict_proba(X), atol=1e-2)
    for e in grad.experts_:
        assert type(e) is LogisticRegression
        assert_array_equal(e.classes_, grad.classes_)
        assert e.coef_.shape == (1, 2)
    em_after = copy.deepcopy(grad).set_params(solver="em", warm_start=True)
    em_after.fit(X, y)
    assert em_after.lower_bound_ - grad.lower_bound_ < em.tol
    # EM creeps to this optimum (~100 iterations) and stops a few tol short;
    # gradient fitting from there finishes the climb.
    grad_after = copy.deepcopy(em).set_params(solver="gradient", warm_start=True)
    grad_after.fit(X, y)
    assert grad_after.lower_bound_ - em.lower_bound_ < 1e-5
    for fit in (em, grad):
        experts = sum(float(np.sum(e.coef_**2)) for e in fit.experts_) / (2 * C)
        expected = (fit.log_likelihood_ - fit.gate_.penalty_ - experts) / len(y)
        assert_allclose(fit.lower_bound_, expected, rtol=1e-9)


def test_multinomial_experts_written_on_global_classes(classification_data):
    X, y = classification_data
    grad = MixtureOfExpertsClassifier(2, solver="gradient", random_state=0).fit(X, y)
    for e in grad.experts_:
        assert type(e) is LogisticRegression
        assert_array_equal(e.classes_, grad.classes_)
        assert e.coef_.shape == (3, 2) and e.intercept_.shape == (3,)
    proba = grad.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert grad.log_likelihood_ == pytest.approx(grad.score_samples(X, y).sum())


def _penalised_objective(fitted, X, y):
    """Gradient fitting's objective (per row) at a fitted model's parameters."""
    template = clone(fitted).set_params(expert=[clone(e) for e in fitted.experts_])
    objective, _ = _make_objective(template, X, y)
    objective.model.set_from_state(fitted._get_state(), None)
    objective.log_var = objective.model.log_var_std()
    return objective(objective.pack())[0]


@pytest.mark.parametrize("alpha", [0.01, 10.0])
def test_gradient_with_ridge_experts(regression_data, alpha):
    # Gradient fitting maximises the likelihood minus Ridge's own penalty on
    # the log-likelihood scale, alpha ||beta||^2 / (2 sigma^2), whose
    # maximiser over beta (for fixed responsibilities and variance) is EM's
    # Ridge M-step. EM's variance update leaves the penalty out, so the two
    # optima differ by an amount that grows with alpha.
    X, y = regression_data
    params = dict(expert=Ridge(alpha=alpha), random_state=0)
    em = MixtureOfExpertsRegressor(3, **params).fit(X, y)
    grad = MixtureOfExpertsRegressor(3, solver="gradient", **params).fit(X, y)
    assert all(type(e) is Ridge for e in grad.experts_)
    assert _penalised_objective(grad, X, y) <= _penalised_objective(em, X, y) + 1e-7
    if alpha < 1:
        assert abs(grad.lower_bound_ - em.lower_bound_) < 1e-4


def test_minibatch_fit_reaches_em_optimum(stream_data):
    X, y, X_test, y_test = stream_data
    em = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    mb = MixtureOfExpertsRegressor(
        3, solver="gradient", batch_size=200, random_state=0
    ).fit(X, y)
    assert mb.converged_
    assert em.lower_bound_ - mb.lower_bound_ < 2e-3
    assert mb.score(X_test, y_test) > em.score(X_test, y_test) - 0.005


def test_sample_weight_equals_repetition(regression_data):
    X, y = regression_data
    X, y = X[:500], y[:500]
    rng = np.random.RandomState(0)
    sw = rng.randint(0, 3, size=X.shape[0])
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    rep = np.repeat(np.arange(X.shape[0]), sw)
    params = dict(solver="gradient", tol=1e-10, max_iter=1000)
    # Weights are in row units (rescaled to average one over the rows of
    # positive weight): the gate penalty of the repeated rows is matched by a
    # C scaled by the average weight.
    unit = sw.sum() / np.count_nonzero(sw)
    gate = SoftmaxGate(C=SoftmaxGate().C * unit)
    weighted = MixtureOfExpertsRegressor(3, init_params=resp, gate=gate, **params)
    weighted.fit(X, y, sample_weight=sw)
    repeated = MixtureOfExpertsRegressor(3, init_params=resp[rep], **params)
    repeated.fit(X[rep], y[rep])
    assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-8)
    # The optimum is flat along some gate directions: predictions agree to 1e-3.
    assert_allclose(weighted.predict(X), repeated.predict(X), atol=1e-3)


# ----------------------------------------------------------------------
# partial_fit
# ----------------------------------------------------------------------
def _stream(model, X, y, n_chunks=20, n_passes=1, **kwargs):
    for _ in range(n_passes):
        for X_chunk, y_chunk in zip(
            np.array_split(X, n_chunks), np.array_split(y, n_chunks), strict=True
        ):
            model.partial_fit(X_chunk, y_chunk, **kwargs)
    return model


@pytest.mark.parametrize(
    "expert",
    [LinearRegression(), SGDRegressor(random_state=0)],
    ids=["linear", "sgd"],
)
def test_partial_fit_stream_close_to_batch_fit(stream_data, expert):
    X, y, X_test, y_test = stream_data
    em = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    moe = _stream(MixtureOfExpertsRegressor(3, expert=expert, random_state=0), X, y)
    single = _stream(SGDRegressor(random_state=0), X, y)
    r2_em, r2_moe = em.score(X_test, y_test), moe.score(X_test, y_test)
    assert r2_moe > r2_em - 0.05
    assert r2_moe > single.score(X_test, y_test) + 0.1
    assert moe.n_iter_ == 20
    assert moe.lower_bounds_.shape == (20,)
    # Learning: the progressive objective of the last chunks beats the first.
    assert moe.lower_bounds_[-5:].mean() > moe.lower_bounds_[:2].mean()
    assert moe.expert_shares_.sum() == pytest.approx(1.0)
    assert moe.noise_variance_.shape == (3,)


def test_partial_fit_linear_stream_log_likelihood(stream_data):
    X, y, X_test, y_test = stream_data
    em = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y)
    moe = _stream(MixtureOfExpertsRegressor(3, random_state=0), X, y)
    # One pass over the data: within 0.05 nats per row of EM's held-out score.
    gap = (
        em.score_samples(X_test, y_test).mean()
        - moe.score_samples(X_test, y_test).mean()
    )
    assert gap < 0.05


@pytest.mark.parametrize(
    "expert",
    [LogisticRegression(), SGDClassifier(loss="log_loss", random_state=0)],
    ids=["logistic", "sgd"],
)
def test_partial_fit_classifier_stream(expert):
    X, y = make_moe_classification(
        n_samples=12000, n_features=2, n_classes=3, random_state=0
    )
    X, y, X_test, y_test = X[:10000], y[:10000], X[10000:], y[10000:]
    classes = np.unique(y)
    moe = MixtureOfExpertsClassifier(3, expert=expert, random_state=0)
    _stream(moe, X, y, n_chunks=10, classes=classes)
    assert_array_equal(moe.classes_, classes)
    # A single linear model scores 0.46 here; the mixture's batch fit 0.68.
    single = LogisticRegression().fit(X, y).score(X_test, y_test)
    assert moe.score(X_test, y_test) > single + 0.15
    assert moe.predict_proba(X_test[:3]).shape == (3, 3)


def test_partial_fit_classifier_needs_classes_on_first_call(classification_data):
    X, y = classification_data
    clf = MixtureOfExpertsClassifier(2, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:100], y[:100])
    assert not hasattr(clf, "experts_")
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    clf.partial_fit(X[100:200], y[100:200])  # later calls need no classes
    with pytest.raises(ValueError, match="not the same as the classes the model"):
        clf.partial_fit(X[200:300], y[200:300], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="labels not seen"):
        clf.partial_fit(X[200:300], np.full(100, 7))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[200:300, :1], y[200:300])


def test_partial_fit_after_fit_continues(stream_data):
    X, y, X_test, y_test = stream_data
    em = MixtureOfExpertsRegressor(3, random_state=0).fit(X[:5000], y[:5000])
    before = em.score(X_test, y_test)
    experts = em.experts_
    _stream(em, X[5000:], y[5000:], n_chunks=5)
    assert em.experts_ is not experts
    assert em.score(X_test, y_test) > before - 0.01
    # A later fit starts over: the stream state is not reused.
    em.fit(X[:2000], y[:2000])
    em.partial_fit(X[2000:3000], y[2000:3000])
    assert em.n_iter_ == 1


def test_partial_fit_leaves_no_reference_cycle(stream_data):
    # The streaming state kept between calls used to hold the estimator
    # (estimator -> _stream -> estimator): a cycle that skops cannot save and
    # that only the cyclic garbage collector frees.
    X, y, X_test, _ = stream_data
    moe = _stream(MixtureOfExpertsRegressor(3, random_state=0), X[:3000], y[:3000], 3)
    expected = moe.predict(X_test)
    gc.disable()
    try:
        ref = weakref.ref(moe)
        del moe
        assert ref() is None  # freed by reference counting alone
    finally:
        gc.enable()
    sio = pytest.importorskip("skops.io")
    moe = _stream(MixtureOfExpertsRegressor(3, random_state=0), X[:3000], y[:3000], 3)
    data = sio.dumps(moe)
    restored = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert_array_equal(restored.predict(X_test), expected)


def test_partial_fit_survives_pickling(stream_data):
    X, y, X_test, _ = stream_data
    moe = _stream(MixtureOfExpertsRegressor(3, random_state=0), X[:3000], y[:3000], 3)
    restored = pickle.loads(pickle.dumps(moe))
    for model in (moe, restored):
        model.partial_fit(X[3000:4000], y[3000:4000])
    assert_array_equal(restored.predict(X_test), moe.predict(X_test))
    assert restored.n_iter_ == moe.n_iter_ == 4


@pytest.mark.skipif(
    not has_fit_parameter(MLPRegressor, "sample_weight"),
    reason="MLPRegressor takes sample_weight from scikit-learn 1.7",
)
def test_partial_fit_mlp_experts(stream_data):
    X, y, X_test, y_test = stream_data
    expert = MLPRegressor(
        hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0
    )
    moe = MixtureOfExpertsRegressor(2, expert=expert, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _stream(moe, X, y)
    assert all(isinstance(e, MLPRegressor) for e in moe.experts_)
    assert moe.score(X_test, y_test) > 0.7


def _power_plant():
    """The vendored power-plant sample (tests/data/README.md): 4000 training and
    1000 held-out rows, features standardised on the training rows, raw target
    (mean 454, standard deviation 17)."""
    data = np.loadtxt(Path(__file__).parent / "data" / "power_plant_sample.txt")
    X, y = data[:, :4], data[:, 4]
    scaler = StandardScaler().fit(X[:4000])
    X = scaler.transform(X)
    return X[:4000], y[:4000], X[4000:], y[4000:]


SLOW_EXPERTS = {
    "sgd": SGDRegressor(random_state=0),
    "mlp": MLPRegressor(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0
    ),
}


@pytest.mark.parametrize("expert", SLOW_EXPERTS.values(), ids=SLOW_EXPERTS.keys())
def test_partial_fit_experts_learn_a_raw_target(expert):
    # Issue 13's setting (standardised X, raw y, chunks of 200, 5 passes) on a
    # sample of uci/power-plant. Experts fitted on the raw target (mean 454,
    # standard deviation 17) scored R^2 -1.76 here with SGD (one
    # SGDRegressor streamed alike: 0.929, batch EM 0.940) and -457 with MLPs:
    # starting from zero output, each climbed to y mostly through its slopes
    # on its own, uncentred, region, and the soft mixture of them predicted
    # wildly.
    if isinstance(expert, MLPRegressor) and not has_fit_parameter(
        MLPRegressor, "sample_weight"
    ):
        pytest.skip("MLPRegressor takes sample_weight from scikit-learn 1.7")
    X, y, X_test, y_test = _power_plant()
    em = MixtureOfExpertsRegressor(random_state=0).fit(X, y)
    moe = MixtureOfExpertsRegressor(expert=expert, random_state=0)
    # Chunks of 200 rows, 5 passes.
    _stream(moe, X, y, n_chunks=20, n_passes=5)
    single = _stream(clone(expert), X, y, n_chunks=20, n_passes=5)
    r2_moe = moe.score(X_test, y_test)
    assert r2_moe >= single.score(X_test, y_test)
    assert r2_moe >= em.score(X_test, y_test) - 0.02
    assert all(type(e) is type(expert) for e in moe.experts_)


def test_partial_fit_experts_do_not_depend_on_target_units(regression_data):
    # The experts learn the standardised target: streaming y in other units
    # (times 1000, plus 5000) gives the same fit in those units.
    X, y = regression_data
    fits = []
    for target in (y, 1000.0 * y + 5000.0):
        moe = MixtureOfExpertsRegressor(
            3, expert=SGDRegressor(random_state=0), random_state=0
        )
        fits.append(_stream(moe, X, target, n_chunks=5))
    assert_allclose(fits[1].predict(X), 1000.0 * fits[0].predict(X) + 5000.0, rtol=1e-6)
    assert_allclose(fits[1].noise_variance_, 1e6 * fits[0].noise_variance_, rtol=1e-6)


# ----------------------------------------------------------------------
# Reproducibility, inputs, errors, attributes
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        # A random start: small-EM's best start is often the same for
        # two seeds (its k-means start, when every short run ends at one
        # optimum), so the seed would show in nothing else.
        dict(solver="gradient", n_init=2, init_params="random"),
        dict(solver="gradient", batch_size=100, max_iter=3),
        dict(solver="gradient", expert=SGDRegressor(random_state=None), max_iter=3),
    ],
    ids=["full-batch", "minibatch", "partial-fit-experts"],
)
def test_reproducible_with_random_state(regression_data, params):
    X, y = regression_data
    X, y = X[:1000], y[:1000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MixtureOfExpertsRegressor(3, random_state=7, **params).fit(X, y)
        b = MixtureOfExpertsRegressor(3, random_state=7, **params).fit(X, y)
        c = MixtureOfExpertsRegressor(3, random_state=8, **params).fit(X, y)
    assert_array_equal(a.lower_bounds_, b.lower_bounds_)
    assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_restarts_in_parallel_equal_sequential(regression_data):
    X, y = regression_data
    X, y = X[:1000], y[:1000]
    params = dict(solver="gradient", n_init=2, random_state=0)
    sequential = MixtureOfExpertsRegressor(3, **params).fit(X, y)
    parallel = MixtureOfExpertsRegressor(3, n_jobs=2, **params).fit(X, y)
    assert_allclose(parallel.lower_bound_, sequential.lower_bound_, rtol=1e-12)
    assert_allclose(parallel.predict(X), sequential.predict(X), rtol=1e-10)


def test_partial_fit_reproducible(regression_data):
    X, y = regression_data
    runs = [
        _stream(
            MixtureOfExpertsRegressor(
                3, expert=SGDRegressor(), random_state=seed, batch_size=50
            ),
            X,
            y,
            n_chunks=6,
        )
        for seed in (3, 3, 4)
    ]
    assert_array_equal(runs[0].predict(X), runs[1].predict(X))
    assert_array_equal(runs[0].lower_bounds_, runs[1].lower_bounds_)
    assert not np.array_equal(runs[0].predict(X), runs[2].predict(X))


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="gradient"),
        dict(solver="gradient", batch_size=64, max_iter=2),
        dict(solver="gradient", expert=SGDRegressor(), max_iter=2),
        "partial_fit",
    ],
)
def test_inputs_not_modified(regression_data, params):
    X, y = regression_data
    X, y = X[:500].copy(), y[:500].copy()
    w = _weights(500)
    copies = X.copy(), y.copy(), w.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if params == "partial_fit":
            moe = MixtureOfExpertsRegressor(3, random_state=0)
            moe.partial_fit(X, y, sample_weight=w)
            moe.partial_fit(X, y, sample_weight=w)
        else:
            MixtureOfExpertsRegressor(3, random_state=0, **params).fit(
                X, y, sample_weight=w
            )
    for before, after in zip(copies, (X, y, w), strict=True):
        assert_array_equal(before, after)


def test_fitted_attributes(regression_data):
    X, y = regression_data
    grad = MixtureOfExpertsRegressor(3, solver="gradient", random_state=0).fit(X, y)
    assert all(type(e) is LinearRegression for e in grad.experts_)
    assert isinstance(grad.gate_, SoftmaxGate)
    assert grad.gate_.coef_.shape == (2, 3)
    assert grad.n_iter_ > 0 and grad.converged_
    assert np.all(np.diff(grad.lower_bounds_) > -1e-10)  # L-BFGS descends
    assert grad.log_likelihood_ == pytest.approx(grad.score_samples(X, y).sum())
    assert grad.expert_shares_.sum() == pytest.approx(1.0)
    assert np.all(np.diff(grad.expert_shares_) <= 0)  # canonical order
    assert grad.reinitialized_experts_ == []
    mean, std = grad.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5,)
    grad.bic(X, y)


def test_convergence_warning_names_gradient(regression_data):
    X, y = regression_data
    with pytest.warns(ConvergenceWarning, match="Gradient fitting did not converge"):
        MixtureOfExpertsRegressor(
            3, solver="gradient", max_iter=3, init_params="kmeans"
        ).fit(X, y)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_unsupported_expert_raises_before_any_work(regression_data, how, monkeypatch):
    X, y = regression_data

    def fail(*args, **kwargs):
        raise AssertionError("work started before the expert check")

    monkeypatch.setattr(MixtureOfExpertsRegressor, "_initial_responsibilities", fail)
    moe = MixtureOfExpertsRegressor(
        2, expert=DecisionTreeRegressor(), solver="gradient"
    )
    with pytest.raises(ValueError, match="DecisionTreeRegressor") as info:
        getattr(moe, how)(X, y)
    assert "solver='em'" in str(info.value)
    assert "partial_fit" in str(info.value)
    assert not hasattr(moe, "experts_")


@pytest.mark.parametrize(
    "expert",
    [
        # An L1 penalty: set by l1_ratio from scikit-learn 1.8, by penalty before.
        LogisticRegression(l1_ratio=1.0, solver="saga")
        if _SKLEARN_1_8
        else LogisticRegression(penalty="l1", solver="saga"),
        LogisticRegression(solver="liblinear"),
        LogisticRegression(class_weight="balanced"),
    ],
)
def test_non_differentiable_logistic_raises(classification_data, expert):
    X, y = classification_data
    clf = MixtureOfExpertsClassifier(2, expert=expert, solver="gradient")
    with pytest.raises(ValueError, match="LogisticRegression"):
        clf.fit(X, y)


def test_solver_parameters_are_validated(regression_data):
    X, y = regression_data
    for params in [
        dict(solver="sgd"),
        dict(batch_size=0),
        dict(learning_rate_init=0.0),
        dict(shuffle="yes"),
    ]:
        with pytest.raises(ValueError):
            MixtureOfExpertsRegressor(2, **params).fit(X, y)


def test_hierarchical_estimators_have_no_gradient_solver():
    from skmoe import (
        HierarchicalMixtureOfExpertsClassifier,
        HierarchicalMixtureOfExpertsRegressor,
    )

    for cls in (
        HierarchicalMixtureOfExpertsRegressor,
        HierarchicalMixtureOfExpertsClassifier,
    ):
        assert "solver" not in cls().get_params()
        assert not hasattr(cls(), "partial_fit")  # the gate is a tree
        with pytest.raises(TypeError, match="solver"):
            cls(solver="gradient")


def test_get_params_lists_solver_parameters():
    for cls in (MixtureOfExpertsRegressor, MixtureOfExpertsClassifier):
        params = cls().get_params()
        assert params["solver"] == "em"
        assert params["batch_size"] == "auto"
        assert params["learning_rate_init"] == 0.01
        assert params["shuffle"] is True


# ----------------------------------------------------------------------
# scikit-learn's estimator checks with the gradient solver
# ----------------------------------------------------------------------
_GRADIENT_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "The k-means initialisation draws its seeds by inverting the cumulative "
        "sample weight; shuffled repeated rows change the draws (as for EM, "
        "tests/test_common.py). test_sample_weight_equals_repetition checks "
        "the gradient fit itself with a fixed initialisation."
    ),
    "check_methods_sample_order_invariance": "score_samples needs y",
    "check_methods_subset_invariance": "score_samples needs y",
    "check_array_api_input": "score_samples needs y",
}


@parametrize_with_checks(
    [
        MixtureOfExpertsRegressor(n_experts=2, solver="gradient", random_state=0),
        MixtureOfExpertsClassifier(n_experts=2, solver="gradient", random_state=0),
    ],
    expected_failed_checks=lambda est: _GRADIENT_FAILURES,
)
def test_sklearn_checks_gradient_solver(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("first", ["fit", "partial_fit"])
def test_partial_fit_refuses_a_changed_n_experts(stream_data, first):
    # Regression: partial_fit went on with the fitted experts and ignored a
    # new n_experts (fit with warm_start=True raises here too).
    X, y = stream_data[:2]
    est = MixtureOfExpertsRegressor(3, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(est, first)(X[:500], y[:500])
    est.set_params(n_experts=4)
    with pytest.raises(ValueError, match="has 3 experts, but n_experts=4"):
        est.partial_fit(X[500:1000], y[500:1000])
    assert len(est.experts_) == 3
