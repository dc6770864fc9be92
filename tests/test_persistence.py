"""Saving and loading fitted estimators in every state: pickle and skops."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression

from skmoe import (
    ExpertFailureWarning,
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skmoe.datasets import make_piecewise_linear, make_xor

sio = pytest.importorskip("skops.io")

# The types the persistence guide tells users to trust, by state.
GATE = "skmoe._gate.SoftmaxGate"
TREE = "skmoe._tree_gate.TreeGate"
STREAM = {
    "skmoe._gradient._model._Model",
    "skmoe._gradient._model._Scaler",
    "skmoe._gradient._stream._Adam",
    "skmoe._gradient._stream._Stream",
}


def _regression():
    return make_piecewise_linear(n_samples=300, random_state=0)


def _classification():
    return make_xor(n_samples=300, random_state=0)


def _fit(est, X, y):
    return est.fit(X, y)


def _warm(est, X, y):
    est.set_params(warm_start=True).fit(X[:200], y[:200])
    return est.fit(X, y)


def _stream(est, X, y):
    kwargs = {"classes": np.unique(y)} if _is_clf(est) else {}
    for start in range(0, X.shape[0], 100):
        est.partial_fit(X[start : start + 100], y[start : start + 100], **kwargs)
    return est


def _is_clf(est):
    return isinstance(est, MixtureOfExpertsClassifier)


CASES = [
    (MixtureOfExpertsRegressor(3, random_state=0), _regression, _fit, set()),
    (MixtureOfExpertsRegressor(3, random_state=0), _regression, _warm, set()),
    (MixtureOfExpertsRegressor(3, random_state=0), _regression, _stream, STREAM),
    (
        MixtureOfExpertsRegressor(3, solver="gradient", random_state=0),
        _regression,
        _fit,
        set(),
    ),
    (MixtureOfExpertsClassifier(2, random_state=0), _classification, _fit, set()),
    (MixtureOfExpertsClassifier(2, random_state=0), _classification, _stream, STREAM),
    (
        HierarchicalMixtureOfExpertsRegressor(2, random_state=0),
        _regression,
        _fit,
        {TREE},
    ),
    (
        HierarchicalMixtureOfExpertsRegressor(2, random_state=0),
        _regression,
        _warm,
        {TREE},
    ),
    (
        HierarchicalMixtureOfExpertsClassifier(2, random_state=0),
        _classification,
        _fit,
        {TREE},
    ),
]


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X, return_std=True)


@pytest.mark.parametrize(
    "est, data, how, extra",
    CASES,
    ids=[f"{type(c[0]).__name__}-{c[2].__name__}" for c in CASES],
)
def test_skops_round_trip_in_every_state(est, data, how, extra):
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = how(est, X, y)
    payload = sio.dumps(est)
    untrusted = set(sio.get_untrusted_types(data=payload))
    cls = type(est)
    assert untrusted == {f"{cls.__module__}.{cls.__name__}", GATE} | extra
    restored = sio.loads(payload, trusted=sorted(untrusted))
    for a, b in zip(_outputs(restored, X), _outputs(est, X), strict=True):
        assert_array_equal(a, b)
    if how is _stream:
        # The stream continues where it was: the same next step.
        for model in (est, restored):
            _stream(model, X[:100], y[:100])
        assert_allclose(_outputs(restored, X)[0], _outputs(est, X)[0])
    # pickle too.
    assert_array_equal(
        _outputs(pickle.loads(pickle.dumps(est)), X)[0], _outputs(est, X)[0]
    )


class _NaNRegressor(LinearRegression):
    def predict(self, X):
        return np.full(X.shape[0], np.nan)


def test_skops_round_trip_with_a_failed_expert():
    X, y = _regression()
    experts = [LinearRegression(), LinearRegression(), _NaNRegressor()]
    est = MixtureOfExpertsRegressor(3, expert=experts, random_state=0)
    with pytest.warns(ExpertFailureWarning):
        est.fit(X, y)
    payload = sio.dumps(est)
    untrusted = set(sio.get_untrusted_types(data=payload))
    assert "skmoe._experts._FailedExpert" in untrusted
    assert "builtins.ValueError" in untrusted
    restored = sio.loads(payload, trusted=sorted(untrusted))
    assert_array_equal(restored.predict(X), est.predict(X))
    assert restored.failed_experts_[0]["expert"] == est.failed_experts_[0]["expert"]
