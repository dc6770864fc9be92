"""Faulty experts and bad inputs: clear errors before or during work, and
fits that leave the estimator as it was when they raise."""

import copy
import pickle

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    ExpertFailureWarning,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)
from skmoe.datasets import make_piecewise_linear, make_xor
from skmoe.inspection import export_text, summary


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
        expert_errors="raise",
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
    est = MixtureOfExpertsRegressor(
        2, expert=expert, expert_errors="raise", random_state=0
    )
    with pytest.raises(ValueError, match=match) as info:
        est.fit(X, y)
    assert "BadOutputRegressor" in str(info.value)
    assert not _fitted_attributes(est)


def test_probabilities_that_do_not_sum_to_one_raise():
    X, y = make_xor(n_samples=200, random_state=0)
    est = MixtureOfExpertsClassifier(
        2, expert=DoubledProbaClassifier(), expert_errors="raise"
    )
    with pytest.raises(ValueError, match="not probabilities.*sum to 1"):
        est.fit(X, y)


def test_expert_fit_must_return_self(regression_data):
    X, y = regression_data
    est = MixtureOfExpertsRegressor(
        2, expert=NoneFitRegressor(), expert_errors="raise", random_state=0
    )
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
    clf.set_params(expert=DoubledProbaClassifier(), expert_errors="raise")
    with pytest.raises(ValueError, match="not probabilities"):
        clf.fit(X, y_new)
    # Isolated, every expert fails: that too raises, and changes nothing.
    clf.set_params(expert_errors="isolate")
    with pytest.raises(RuntimeError, match="Every expert of the mixture failed"):
        clf.fit(X, y_new)
    for key, value in attributes.items():
        assert _fitted_attributes(clf)[key] is value
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


# ----------------------------------------------------------------------
# Isolation (expert_errors="isolate", the default)
# ----------------------------------------------------------------------
def _random_start(n_rows, n_live, n_failed, seed=0):
    """Random starting responsibilities over the live experts; the failing
    ones (last) start with none."""
    resp = np.random.RandomState(seed).uniform(size=(n_rows, n_live))
    resp /= resp.sum(axis=1, keepdims=True)
    return resp, np.column_stack([resp, np.zeros((n_rows, n_failed))])


@pytest.mark.parametrize("how", ["nan", "inf", "2d", "scalar", "raise", "none"])
def test_isolated_expert_leaves_the_fit_of_the_others(how, regression_data):
    """An expert that fails at its first fit is taken out; the other two fit
    as a two-expert mixture from the same start does."""
    X, y = regression_data
    if how == "raise":
        bad = FailingRegressor(fail_at=1, counter=[])
    elif how == "none":
        bad = NoneFitRegressor()
    else:
        bad = BadOutputRegressor(how)
    resp, resp3 = _random_start(X.shape[0], 2, 1)
    experts = [LinearRegression(), LinearRegression(), bad]
    est = MixtureOfExpertsRegressor(3, expert=experts, init_params=resp3)
    with pytest.warns(ExpertFailureWarning, match="expert 2 .* failed in EM iter"):
        est.fit(X, y)
    # Plain EM as est's (SQUAREM accelerates LinearRegression experts only,
    # and stops elsewhere within tol).
    ref = MixtureOfExpertsRegressor(2, init_params=resp, acceleration=None).fit(X, y)
    assert_allclose(est.log_likelihood_, ref.log_likelihood_, rtol=1e-8)
    assert_allclose(est.predict(X), ref.predict(X), rtol=1e-6, atol=1e-6)
    assert_allclose(est.predict_gate_proba(X)[:, 2], 0.0)
    assert_allclose(est.expert_shares_, [*ref.expert_shares_, 0.0], atol=1e-6)
    (record,) = est.failed_experts_
    assert record["expert"] == 2 and record["iteration"] == 1
    assert record["run"] == 0 and not record["in_fitted_model"]
    assert type(record["estimator"]) is type(bad)
    assert est.dead_experts_.size == 0  # failed, not dead
    mean, std = est.predict(X, return_std=True)
    assert np.isfinite(mean).all() and np.isfinite(std).all()
    assert np.isfinite(est.score_samples(X, y)).all()
    assert np.isfinite(est.bic(X, y))


def test_expert_failing_mid_fit_is_reported_where_it_failed(regression_data):
    X, y = regression_data
    counter = []
    experts = [LinearRegression(), LinearRegression(), FailingRegressor(6, counter)]
    est = MixtureOfExpertsRegressor(3, expert=experts, init_params="kmeans")
    with pytest.warns(ExpertFailureWarning, match="RuntimeError: expert exploded"):
        est.fit(X, y)
    assert [r["iteration"] for r in est.failed_experts_] == [6]
    assert np.isfinite(est.predict(X)).all()
    assert est.converged_


def test_isolated_classifier_expert(regression_data):
    X, y = make_xor(n_samples=300, random_state=0)
    experts = [LogisticRegression(), LogisticRegression(), DoubledProbaClassifier()]
    clf = MixtureOfExpertsClassifier(3, expert=experts, random_state=0)
    with pytest.warns(ExpertFailureWarning, match="not probabilities"):
        clf.fit(X, y)
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.9  # two logistic experts solve XOR


def test_isolated_leaf_of_a_tree(regression_data):
    X, y = regression_data
    experts = [LinearRegression()] * 3 + [BadOutputRegressor("nan")]
    hme = HierarchicalMixtureOfExpertsRegressor(2, expert=experts, random_state=0)
    with pytest.warns(ExpertFailureWarning, match="expert 3"):
        hme.fit(X, y)
    assert_allclose(hme.predict_gate_proba(X)[:, 3], 0.0)
    assert_allclose(hme.predict_gate_proba(X).sum(axis=1), 1.0)
    for routing in ("soft", "hard", "top_k"):
        assert np.isfinite(hme.set_params(routing=routing).predict(X)).all()
    # Hard routing never reaches the failed leaf (the tree's own path could).
    chosen = hme.predict_gate_proba(X).argmax(axis=1)
    assert not np.any(chosen == 3)
    expected = hme.predict_experts(X)[np.arange(X.shape[0]), chosen]
    assert_allclose(hme.set_params(routing="hard").predict(X), expected)


class FlakyRegressor(FailingRegressor):
    """Raises on the first ``fail_first`` fits of all its clones together
    (counted in ``calls``, a class attribute: clones copy their
    parameters), then works."""

    calls = 0

    def __init__(self, fail_first=1):
        self.fail_first = fail_first

    def fit(self, X, y, sample_weight=None):
        FlakyRegressor.calls += 1
        if FlakyRegressor.calls <= self.fail_first:
            raise RuntimeError("flaky")
        self.model_ = LinearRegression().fit(X, y, sample_weight=sample_weight)
        self.n_features_in_ = X.shape[1]
        return self


def test_a_failed_restart_does_not_sink_the_others(regression_data):
    X, y = regression_data
    # Run 0's two experts fail at their first fits; runs 1 and 2 do not.
    FlakyRegressor.calls = 0
    est = MixtureOfExpertsRegressor(
        2,
        expert=FlakyRegressor(2),
        n_init=3,
        init_params="random",
        random_state=0,
    )
    with pytest.warns(ExpertFailureWarning, match="1 of 3 restarts failed"):
        est.fit(X, y)
    assert np.isfinite(est.predict(X)).all()
    assert est.failed_experts_ == []
    FlakyRegressor.calls = 0
    raising = clone(est).set_params(expert_errors="raise")
    with pytest.raises(RuntimeError, match="flaky"):
        raising.fit(X, y)


@pytest.mark.parametrize("backend", ["loky", "threading"])
@pytest.mark.parametrize("n_init", [1, 2], ids=["parallel experts", "restarts"])
def test_isolation_in_joblib_workers(backend, n_init, regression_data):
    X, y = regression_data
    experts = [LinearRegression(), LinearRegression(), BadOutputRegressor("inf")]
    est = MixtureOfExpertsRegressor(
        3, expert=experts, n_init=n_init, n_jobs=2, random_state=0
    )
    with joblib.parallel_config(backend=backend):
        with pytest.warns(ExpertFailureWarning, match="expert 2"):
            est.fit(X, y)
    sequential = clone(est).set_params(n_jobs=None)
    with pytest.warns(ExpertFailureWarning):
        sequential.fit(X, y)
    assert_allclose(est.predict(X), sequential.predict(X))
    assert len(est.failed_experts_) == 1
    restored = pickle.loads(pickle.dumps(est))
    assert_allclose(restored.predict(X), est.predict(X))


def test_inspection_shows_a_failed_expert(regression_data):
    X, y = regression_data
    experts = [LinearRegression(), LinearRegression(), BadOutputRegressor("nan")]
    est = MixtureOfExpertsRegressor(3, expert=experts, random_state=0)
    with pytest.warns(ExpertFailureWarning):
        est.fit(X, y)
    text = summary(est)
    assert "BadOutputRegressor failed, out of the mixture" in text
    assert "failed BadOutputRegressor" in export_text(est)


class BreakingRegressor(BadOutputRegressor):
    """A linear model whose predict raises while ``broken`` is set."""

    broken = False

    def predict(self, X):
        if BreakingRegressor.broken:
            raise ValueError("broke after fitting")
        return self.model_.predict(X)


@pytest.mark.parametrize("routing", ["soft", "hard", "top_k"])
def test_expert_failing_at_predict_is_left_out(routing, regression_data):
    X, y = regression_data
    experts = [LinearRegression(), BreakingRegressor(), LinearRegression()]
    est = MixtureOfExpertsRegressor(3, expert=experts, routing=routing)
    est.fit(X, y)
    bad = next(k for k, e in enumerate(est.experts_) if type(e) is BreakingRegressor)
    full = est.predict(X)
    gate = np.delete(est.predict_gate_proba(X), bad, axis=1)
    gate /= gate.sum(axis=1, keepdims=True)
    others = np.delete(np.arange(3), bad)
    outs = np.column_stack([est.experts_[k].predict(X) for k in others])
    outs = np.clip(outs, *est.target_range_)
    try:
        BreakingRegressor.broken = True
        with pytest.warns(ExpertFailureWarning, match=f"expert {bad} .*broke after"):
            pred = est.predict(X)
        with pytest.raises(ValueError, match="broke after"):
            est.set_params(expert_errors="raise").predict(X)
    finally:
        BreakingRegressor.broken = False
        est.set_params(expert_errors="isolate")
    assert np.isfinite(pred).all()
    # What the others predict, under the gate renormalised over them.
    if routing == "soft":
        assert_allclose(pred, (gate * outs).sum(axis=1))
    elif routing == "hard":
        assert_allclose(pred, outs[np.arange(len(pred)), gate.argmax(axis=1)])
    assert not np.allclose(pred, full)
    # The fitted model is unchanged.
    assert_allclose(est.predict(X), full)


_MAGNITUDE_CASES = [
    ("X", 1e300, r"X holds values as large as .*overflow"),
    ("X", 1e-300, r"X has a column whose values are all below 1e-150"),
    ("y", 1e300, r"y holds values as large as .*overflow"),
    ("y", 1e-300, r"y has values all below 1e-150"),
]


@pytest.mark.parametrize(
    "Est, which, factor, match",
    [
        (Est, *case)
        for Est in (MixtureOfExpertsRegressor, HierarchicalMixtureOfExpertsRegressor)
        for case in _MAGNITUDE_CASES
    ]
    # Class labels are not scaled: X only.
    + [(MixtureOfExpertsClassifier, *case) for case in _MAGNITUDE_CASES[:2]],
)
def test_values_whose_squares_float64_cannot_hold_are_refused(
    Est, which, factor, match, regression_data
):
    X, y = regression_data
    if Est is MixtureOfExpertsClassifier:
        y = (y > np.median(y)).astype(int)
    X, y = (X * factor, y) if which == "X" else (X, y * factor)
    est = Est()
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not _fitted_attributes(est)


@pytest.mark.parametrize("factor", [1e-149, 1e149])
def test_values_at_the_documented_limits_fit_the_same_model(factor, regression_data):
    X, y = regression_data
    ref = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y)
    scaled_X = MixtureOfExpertsRegressor(2, random_state=0).fit(X * factor, y)
    assert_allclose(scaled_X.predict(X * factor), ref.predict(X), atol=1e-9)
    scaled_y = MixtureOfExpertsRegressor(2, random_state=0).fit(X, y * factor)
    assert_allclose(scaled_y.predict(X) / factor, ref.predict(X), atol=1e-9)
    assert_allclose(scaled_y.lower_bound_, ref.lower_bound_ - np.log(factor))


def test_a_model_with_a_failed_expert_is_not_continued_by_gradient_steps(
    regression_data,
):
    X, y = regression_data
    experts = [LinearRegression(), LinearRegression(), BadOutputRegressor("nan")]
    est = MixtureOfExpertsRegressor(3, expert=experts, random_state=0)
    with pytest.warns(ExpertFailureWarning):
        est.fit(X, y)
    before = est.predict(X)
    with pytest.raises(ValueError, match=r"partial_fit cannot continue .*\[2\]"):
        est.partial_fit(X, y)
    assert_array_equal(est.predict(X), before)


@pytest.mark.parametrize(
    "Est, n",
    [(MixtureOfExpertsRegressor, 3), (HierarchicalMixtureOfExpertsRegressor, 4)],
)
def test_top_k_above_the_number_of_experts_is_refused(Est, n, regression_data):
    X, y = regression_data
    with pytest.raises(ValueError, match=rf"top_k={n + 2} .* at most .* {n}\."):
        Est(routing="top_k", top_k=n + 2).fit(X, y)
    est = Est(routing="soft", top_k=n + 2).fit(X, y)  # top_k unused: fine
    est.set_params(routing="top_k")
    with pytest.raises(ValueError, match=rf"top_k={n + 2}"):
        est.predict(X)
    assert np.isfinite(est.set_params(top_k=n).predict(X)).all()


class FailingPartialFit(SGDRegressor):
    def partial_fit(self, X, y, sample_weight=None):
        raise RuntimeError("disk full")


@pytest.mark.parametrize("how", ["gradient", "partial_fit"])
def test_gradient_solvers_raise_naming_the_failing_expert(how, regression_data):
    X, y = regression_data
    est = MixtureOfExpertsRegressor(
        n_experts=2, solver="gradient", expert=[SGDRegressor(), FailingPartialFit()]
    )
    with pytest.raises(RuntimeError, match="disk full") as info:
        est.fit(X, y) if how == "gradient" else est.partial_fit(X, y)
    note = " ".join(info.value.__notes__)
    assert "expert 1 of the mixture: FailingPartialFit(" in note
    assert "solver='em' does" in note
    assert not hasattr(est, "experts_")
