"""Faulty experts and bad inputs: clear errors before or during work, and
fits that leave the estimator as it was when they raise."""

import copy
import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe.datasets import make_piecewise_linear, make_xor


class FailingRegressor(RegressorMixin, BaseEstimator):
    """A linear regressor whose ``fit`` raises from its ``fail_at``-th call
    (counted over every clone, through a shared counter)."""

    def __init__(self, fail_at=3, counter=None):
        self.fail_at = fail_at
        self.counter = counter

    def fit(self, X, y, sample_weight=None):
        self.counter.append(1)
        if len(self.counter) >= self.fail_at:
            raise RuntimeError("expert exploded")
        self.model_ = LinearRegression().fit(X, y, sample_weight=sample_weight)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return self.model_.predict(X)


class BadOutputRegressor(RegressorMixin, BaseEstimator):
    """A linear regressor whose predictions are spoiled in a given way."""

    def __init__(self, how="nan"):
        self.how = how

    def fit(self, X, y, sample_weight=None):
        self.model_ = LinearRegression().fit(X, y, sample_weight=sample_weight)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        pred = self.model_.predict(X)
        if self.how == "nan":
            pred[::7] = np.nan
        elif self.how == "inf":
            pred[0] = np.inf
        elif self.how == "2d":
            pred = np.column_stack([pred, pred])
        elif self.how == "scalar":
            pred = pred.mean()
        return pred


class NoneFitRegressor(BadOutputRegressor):
    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight)
        return None


class DoubledProbaClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression whose probabilities sum to 2."""

    def fit(self, X, y, sample_weight=None):
        self.model_ = LogisticRegression().fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        return 2 * self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


@pytest.fixture
def regression_data():
    return make_piecewise_linear(n_samples=300, random_state=0)


def _fitted_attributes(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_")}


# ----------------------------------------------------------------------
# Errors that say which expert, where
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "Est", [MixtureOfExpertsRegressor, HierarchicalMixtureOfExpertsRegressor]
)
def test_failing_expert_error_names_expert_iteration_and_run(Est, regression_data):
    X, y = regression_data
    est = Est(
        expert=FailingRegressor(fail_at=12, counter=[]),
        init_params="kmeans",
        random_state=0,
    )
    with pytest.raises(RuntimeError, match="expert exploded") as info:
        est.fit(X, y)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "while fitting expert" in notes and "FailingRegressor" in notes
    assert "EM iteration" in notes and "of run 0" in notes
    # Nothing was fitted: the estimator is as it was.
    assert not _fitted_attributes(est)


@pytest.mark.parametrize(
    "how, match",
    [
        ("nan", r"NaN or infinite values on 43 of 300 rows"),
        ("inf", r"NaN or infinite values on 1 of 300 rows"),
        ("2d", r"shape \(300, 2\) for 300 rows.*shape \(300,\)"),
        ("scalar", r"shape \(\) for 300 rows"),
    ],
)
def test_invalid_expert_predictions_raise_naming_the_expert(
    how, match, regression_data
):
    X, y = regression_data
    expert = [LinearRegression(), BadOutputRegressor(how)]
    est = MixtureOfExpertsRegressor(2, expert=expert, random_state=0)
    with pytest.raises(ValueError, match=match) as info:
        est.fit(X, y)
    assert "BadOutputRegressor" in str(info.value)
    assert not _fitted_attributes(est)


def test_probabilities_that_do_not_sum_to_one_raise():
    X, y = make_xor(n_samples=200, random_state=0)
    est = MixtureOfExpertsClassifier(2, expert=DoubledProbaClassifier())
    with pytest.raises(ValueError, match="not probabilities.*sum to 1"):
        est.fit(X, y)


def test_expert_fit_must_return_self(regression_data):
    X, y = regression_data
    est = MixtureOfExpertsRegressor(2, expert=NoneFitRegressor(), random_state=0)
    with pytest.raises(TypeError, match="fit returned None.*must return self"):
        est.fit(X, y)


# ----------------------------------------------------------------------
# Validation before any work
# ----------------------------------------------------------------------
@pytest.mark.parametrize("C", [-1.0, 0.0, "big"])
@pytest.mark.parametrize(
    "Est", [MixtureOfExpertsRegressor, HierarchicalMixtureOfExpertsRegressor]
)
def test_gate_parameters_are_validated_before_work(Est, C, regression_data):
    X, y = regression_data
    counter = []
    est = Est(gate=SoftmaxGate(C=C), expert=FailingRegressor(10**9, counter))
    with pytest.raises(InvalidParameterError, match="'C' parameter of SoftmaxGate"):
        est.fit(X, y)
    assert counter == []  # no expert was fitted


def test_warm_start_with_other_features_raises_and_keeps_the_model(regression_data):
    X, y = regression_data
    est = MixtureOfExpertsRegressor(2, warm_start=True, random_state=0).fit(X, y)
    before = est.predict(X)
    attributes = _fitted_attributes(est)
    X3 = np.column_stack([X, X[:, :1]])
    with pytest.raises(ValueError, match="X has 2 features and the fitted model 1"):
        est.fit(X3, y)
    assert _fitted_attributes(est).keys() == attributes.keys()
    for key, value in attributes.items():
        assert _fitted_attributes(est)[key] is value
    assert_array_equal(est.predict(X), before)


# ----------------------------------------------------------------------
# Atomic fits
# ----------------------------------------------------------------------
def test_failed_refit_leaves_the_fitted_classifier_as_it_was():
    X, y = make_xor(n_samples=300, random_state=0)
    clf = MixtureOfExpertsClassifier(2, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    attributes = _fitted_attributes(clf)
    # New labels and an expert that fails: the half-updated model (classes_
    # of the new data, experts of the old) must not survive.
    y_new = np.where(y == 1, "b", "a")
    clf.set_params(expert=DoubledProbaClassifier())
    with pytest.raises(ValueError, match="not probabilities"):
        clf.fit(X, y_new)
    for key, value in attributes.items():
        assert _fitted_attributes(clf)[key] is value
    clf.set_params(expert=None)
    assert_array_equal(clf.classes_, [0, 1])
    assert_array_equal(clf.predict_proba(X), proba)


class FailingSGD(SGDRegressor):
    """An SGDRegressor whose partial_fit raises while ``fail`` is set."""

    fail = False

    def partial_fit(self, X, y, sample_weight=None):
        if FailingSGD.fail:
            raise RuntimeError("stream broke")
        return super().partial_fit(X, y, sample_weight=sample_weight)


def test_failed_partial_fit_leaves_the_stream_as_it_was(regression_data):
    X, y = regression_data
    chunks = [(X[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100)]
    est = MixtureOfExpertsRegressor(
        2, expert=FailingSGD(random_state=0), random_state=0
    )
    est.partial_fit(*chunks[0])
    reference = copy.deepcopy(est)
    try:
        FailingSGD.fail = True
        with pytest.raises(RuntimeError, match="stream broke"):
            est.partial_fit(*chunks[1])
    finally:
        FailingSGD.fail = False
    assert pickle.dumps(_fitted_attributes(est)) == pickle.dumps(
        _fitted_attributes(reference)
    )
    # The failed call left no trace: the stream continues as if it never ran.
    for model in (est, reference):
        model.partial_fit(*chunks[1]).partial_fit(*chunks[2])
    assert_array_equal(est.predict(X), reference.predict(X))
    assert est.n_iter_ == reference.n_iter_ == 3
