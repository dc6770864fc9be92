"""The logistic experts' own solver (skmoe._logistic) against scikit-learn's
LogisticRegression: the same optimum, whatever the units, from any start."""

import gc
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from skmoe import MixtureOfExpertsClassifier
from skmoe._experts import _unfitted_copy
from skmoe._logistic import (
    _SYSTEMS,
    _is_plain_logistic,
    _LogisticLoss,
    fit_logistic,
    logistic_proba,
)


def _data(n=600, d=4, n_classes=3, seed=0, scale=None):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    W = rng.randn(d, n_classes)
    logits = X @ W + rng.randn(n_classes) * 0.3
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=p) for p in proba])
    weight = rng.uniform(0.05, 1.0, n)
    if scale is not None:
        X = X * scale
    return X, y, weight


def _reference(X, y, weight, **params):
    ref = LogisticRegression(tol=1e-12, max_iter=10_000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ref.fit(X, y, sample_weight=weight)


def _ours(X, y, weight, previous=None, **params):
    template = LogisticRegression(tol=1e-10, max_iter=100, **params)
    return fit_logistic(_unfitted_copy(template), X, y, weight, previous)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.1, 1.0, np.inf])
def test_same_optimum_as_scikit_learn(n_classes, fit_intercept, C):
    X, y, weight = _data(n_classes=n_classes)
    ref = _reference(X, y, weight, C=C, fit_intercept=fit_intercept)
    ours = _ours(X, y, weight, C=C, fit_intercept=fit_intercept)
    assert ours.coef_.shape == ref.coef_.shape
    assert ours.intercept_.shape == ref.intercept_.shape
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(
        ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6
    )
    if n_classes == 2 or np.isfinite(C):
        # Identified: the coefficients themselves agree (an unpenalised
        # softmax is determined only up to a shift shared by the classes).
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_penalty_none_is_unpenalised_whatever_c():
    # scikit-learn ignores C under penalty=None (deprecated, but accepted).
    X, y, weight = _data(n_classes=2)
    ref = _reference(X, y, weight, penalty=None)
    ours = _ours(X, y, weight, penalty=None)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-5)
    unpenalised = _ours(X, y, weight, C=np.inf)
    np.testing.assert_allclose(ours.coef_, unpenalised.coef_, rtol=0, atol=1e-8)


def test_em_objective_subtracts_the_experts_penalty():
    """lower_bound_ is the log-likelihood per unit weight minus the gate's
    and the logistic experts' L2 penalties, ||W||^2 / (2 C) each, which is
    what EM with penalised experts climbs: it never decreases."""
    X, y, _ = _data(n=1500, d=4, n_classes=3, seed=2)
    C = 0.2
    moe = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(C=C), random_state=0
    ).fit(X, y)
    assert moe.converged_
    experts = sum(np.sum(e.coef_**2) for e in moe.experts_) / (2 * C)
    expected = (moe.log_likelihood_ - moe.gate_.penalty_ - experts) / len(y)
    assert experts > 1e-3 * len(y) * abs(moe.lower_bound_)
    np.testing.assert_allclose(moe.lower_bound_, expected, rtol=1e-10)
    assert np.all(np.diff(moe.lower_bounds_) >= -1e-12)


def test_string_labels_and_missing_classes():
    X, y, weight = _data(n_classes=4)
    labels = np.array(["ant", "bee", "cat", "dog"], dtype=object)[y]
    keep = y != 2
    ours = _ours(X[keep], labels[keep], weight[keep])
    ref = _reference(X[keep], labels[keep], weight[keep])
    assert list(ours.classes_) == ["ant", "bee", "dog"]
    np.testing.assert_allclose(
        ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_units_change_neither_the_optimum_nor_the_steps(scale):
    """Rescaling a feature is a change of coordinates: without a penalty the
    fitted model and Newton's iterations are the same (L-BFGS on raw
    units needs far more iterations)."""
    X, y, weight = _data()
    units = np.array([1.0, scale, 1.0, 1.0 / scale])
    base = _ours(X, y, weight, C=np.inf)
    scaled = _ours(X * units, y, weight, C=np.inf)
    np.testing.assert_allclose(
        scaled.predict_proba(X * units), base.predict_proba(X), rtol=0, atol=1e-8
    )
    np.testing.assert_allclose(scaled.coef_ * units, base.coef_, rtol=1e-6, atol=1e-8)
    assert scaled.n_iter_[0] == base.n_iter_[0]


def test_warm_start_takes_few_steps_and_keeps_the_optimum():
    X, y, weight = _data(n=2000, d=6, n_classes=6)
    first = _ours(X, y, weight)
    rng = np.random.RandomState(1)
    moved = weight * rng.uniform(0.9, 1.1, weight.size)
    warm = _ours(X, y, moved, previous=first)
    cold = _ours(X, y, moved)
    assert warm.n_iter_[0] <= 3 < cold.n_iter_[0]
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(
        warm.intercept_ - warm.intercept_.mean(),
        cold.intercept_ - cold.intercept_.mean(),
        rtol=0,
        atol=1e-7,
    )


def test_a_kept_hessian_serves_the_next_refit():
    """The refit reuses the last factored Hessian (preconditioned conjugate
    gradients) and reaches the same optimum as a fresh solve."""
    X, y, weight = _data(n=2000, d=6, n_classes=6)
    first = _ours(X, y, weight)
    assert _SYSTEMS[first][1].factored is not None
    kept = _SYSTEMS[first][1].factored
    moved = weight * np.random.RandomState(2).uniform(0.8, 1.2, weight.size)
    warm = _ours(X, y, moved, previous=first)
    ref = _reference(X, y, moved)
    np.testing.assert_allclose(warm.coef_, ref.coef_, rtol=0, atol=1e-5)
    # Good enough to precondition: no new factorisation was needed.
    assert _SYSTEMS[warm][1].factored is kept


def test_kept_systems_go_with_their_expert():
    X, y, weight = _data()
    est = _ours(X, y, weight)
    assert est in _SYSTEMS
    # Nothing of it is stored on the estimator (nor pickled with it).
    assert not [a for a in vars(est) if a.startswith("_") and "ystem" in a]
    size = len(pickle.dumps(est))
    assert size < 10_000
    # Experts of earlier tests, in reference cycles, go first.
    gc.collect()
    before = len(_SYSTEMS)
    del est
    gc.collect()
    assert len(_SYSTEMS) == before - 1


def test_capped_steps_inside_em():
    X, y, weight = _data(n=2000, d=6, n_classes=6)
    first = _ours(X, y, weight)
    moved = weight * np.random.RandomState(3).uniform(0.5, 1.5, weight.size)
    template = LogisticRegression(tol=1e-14, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        one = fit_logistic(_unfitted_copy(template), X, y, moved, first, (1, None))
    assert one.n_iter_[0] == 1
    loss = _LogisticLoss(X, y, moved, 1.0, True, 6)

    def value(est):
        A = np.vstack(loss.to_standard(est.coef_, est.intercept_))
        return loss.loss_gradient_grid(A)[0]

    # One step from the previous solution lowers the objective (generalised
    # EM); a fresh fit is never capped.
    assert value(one) < value(first)
    cold = fit_logistic(_unfitted_copy(template), X, y, moved, None, (1, None))
    assert cold.n_iter_[0] > 1
    # Unless a cap for cold fits is given (small-EM's short runs).
    short = fit_logistic(_unfitted_copy(template), X, y, moved, None, (1, 3))
    assert short.n_iter_[0] == 3


def test_non_convergence_is_reported():
    X, y, weight = _data(n=2000, d=6, n_classes=6)
    template = LogisticRegression(tol=1e-14, max_iter=1)
    with pytest.warns(ConvergenceWarning, match="increase its max_iter"):
        fit_logistic(_unfitted_copy(template), X, y, weight, None)


@pytest.mark.parametrize(
    "params, plain",
    [
        ({}, True),
        ({"solver": "newton-cholesky"}, True),
        ({"solver": "saga"}, True),
        ({"C": np.inf}, True),
        ({"solver": "liblinear"}, False),
        ({"class_weight": "balanced"}, False),
        ({"l1_ratio": 1.0, "solver": "saga"}, False),
    ],
)
def test_which_experts_are_plain(params, plain):
    assert _is_plain_logistic(LogisticRegression(**params)) is plain


def test_one_step_em_reaches_the_exact_m_step_optimum(monkeypatch):
    """Generalised EM (one Newton step per expert and M-step, the last
    M-step solved to tol) converges to the optimum of EM with exact
    M-steps: the same log-likelihood per row and the same predictions."""
    import skmoe._logistic as logistic

    # One softmax generated the data: two experts overlap, and plain EM
    # crawls (about 420 iterations to tol).
    X, y, _ = _data(n=1500, d=4, n_classes=4, seed=5)
    params = {
        "n_experts": 2,
        "acceleration": None,
        "max_iter": 1000,
        "random_state": 0,
    }
    one = MixtureOfExpertsClassifier(**params).fit(X, y)
    monkeypatch.setattr(logistic, "EM_NEWTON_STEPS", 100)
    exact = MixtureOfExpertsClassifier(**params).fit(X, y)
    assert one.converged_ and exact.converged_
    # The objective (the experts' penalty in it) to well within tol.
    assert abs(one.lower_bound_ - exact.lower_bound_) < 1e-7
    assert abs(one.log_likelihood_ - exact.log_likelihood_) / len(y) < 1e-6
    np.testing.assert_allclose(
        one.predict_proba(X), exact.predict_proba(X), rtol=0, atol=2e-4
    )


def test_raw_units_fit_like_scaled_ones():
    """A mixture on features in wildly different units converges as on
    standardised ones (no ConvergenceWarning, a comparable number of EM
    iterations) and predicts as well."""
    X, y, _ = _data(n=1500, d=4, n_classes=4, seed=6)
    units = np.array([1e-3, 1.0, 1e3, 1e5])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        raw = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X * units, y)
    assert raw.converged_
    with warnings.catch_warnings():
        # Whether this one converges within max_iter is not the question.
        warnings.simplefilter("ignore", ConvergenceWarning)
        scaled = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    assert abs(raw.score(X * units, y) - scaled.score(X, y)) < 0.03


@pytest.mark.parametrize("n_classes", [2, 4])
def test_probabilities_are_scikit_learns(n_classes):
    X, y, weight = _data(n_classes=n_classes)
    ref = LogisticRegression().fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        logistic_proba(ref, X), ref.predict_proba(X), rtol=0, atol=1e-14
    )
