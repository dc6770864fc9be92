"""MixtureOfExpertsCV: choosing the number of experts, and SelectionDisplay."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmoe._selection as selection
from skmoe import (
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsCV,
    MixtureOfExpertsRegressor,
)
from skmoe.datasets import (
    load_mcycle,
    make_hierarchical_regimes,
    make_moe_classification,
    make_moe_regression,
)


def _mixture(n_experts, seed=0):
    return make_moe_regression(
        600, n_features=2, n_experts=n_experts, noise=0.3, random_state=seed
    )


@pytest.mark.parametrize("criterion", ["heldout", "bic", "icl"])
@pytest.mark.parametrize("true_k", [1, 2, 3])
def test_chooses_the_true_number_of_experts(criterion, true_k):
    X, y = _mixture(true_k)
    search = MixtureOfExpertsCV(
        n_experts=[1, 2, 3, 4], criterion=criterion, n_init=2, random_state=0
    ).fit(X, y)
    assert search.n_experts_ == true_k
    assert search.best_estimator_.n_experts == true_k


def test_mcycle_bic_chooses_four_experts():
    # The figures of docs/user_guide/choosing_k.rst: BIC falls to four
    # experts and rises at five.
    X, y = load_mcycle(return_X_y=True)
    search = MixtureOfExpertsCV(criterion="bic", n_init=3, random_state=0).fit(X, y)
    assert search.n_experts_ == 4
    bic = search.cv_results_["mean_score"]
    assert np.all(np.diff(bic[:4]) < 0) and bic[4] > bic[3]


def test_mcycle_default_chooses_several_experts():
    # One straight line cannot follow the crash: any sensible choice has
    # three to five experts (BIC says four).
    X, y = load_mcycle(return_X_y=True)
    search = MixtureOfExpertsCV(n_init=2, random_state=0).fit(X, y)
    assert 3 <= search.n_experts_ <= 5


def test_scores_are_those_of_each_candidate():
    X, y = _mixture(2)
    cv = KFold(3, shuffle=True, random_state=1)
    search = MixtureOfExpertsCV(n_experts=[1, 2, 3], cv=cv, random_state=0).fit(X, y)
    res = search.cv_results_
    assert_array_equal(res["n_experts"], [1, 2, 3])
    assert search.n_splits_ == 3
    seed = search.best_estimator_.random_state
    # Every fold's score, recomputed by hand for every candidate.
    for i, params in enumerate(res["params"]):
        scores = []
        for train, test in cv.split(X):
            moe = MixtureOfExpertsRegressor(**params, random_state=seed)
            moe.fit(X[train], y[train])
            scores.append(moe.score_samples(X[test], y[test]).mean())
        for j, score in enumerate(scores):
            assert_allclose(res[f"split{j}_score"][i], score, rtol=1e-10)
        assert_allclose(res["mean_score"][i], np.mean(scores), rtol=1e-10)
        assert_allclose(res["std_score"][i], np.std(scores), rtol=1e-10)
    assert res["mean_fit_time"].shape == (3,)
    assert not search.criterion_lower_is_better_


def test_bic_and_icl_scores():
    X, y = _mixture(2)
    kw = {"n_experts": [1, 2, 3], "random_state": 0}
    bic = MixtureOfExpertsCV(criterion="bic", **kw).fit(X, y)
    icl = MixtureOfExpertsCV(criterion="icl", **kw).fit(X, y)
    seed = bic.best_estimator_.random_state
    for i, k in enumerate([1, 2, 3]):
        moe = MixtureOfExpertsRegressor(n_experts=k, random_state=seed).fit(X, y)
        assert_allclose(bic.cv_results_["mean_score"][i], moe.bic(X, y))
        resp = moe.predict_responsibilities(X, y)
        entropy = -np.sum(resp * np.log(np.clip(resp, 1e-300, None)))
        assert_allclose(icl.cv_results_["mean_score"][i], moe.bic(X, y) + 2 * entropy)
    # One expert: every responsibility is 1, no entropy.
    assert_allclose(icl.cv_results_["mean_score"][0], bic.cv_results_["mean_score"][0])
    assert bic.criterion_lower_is_better_
    assert_array_equal(bic.cv_results_["std_score"], 0)
    assert bic.n_splits_ == 1


def test_one_standard_error_rule():
    X, y = load_mcycle(return_X_y=True)
    kw = {"n_experts": [1, 2, 3, 4, 5], "random_state": 0}
    best = MixtureOfExpertsCV(rule="best", **kw).fit(X, y)
    one_se = MixtureOfExpertsCV(**kw).fit(X, y)
    res = one_se.cv_results_
    assert_allclose(res["mean_score"], best.cv_results_["mean_score"])
    top = int(np.argmax(res["mean_score"]))
    assert best.best_index_ == top
    threshold = res["mean_score"][top] - res["std_score"][top] / np.sqrt(5)
    within = [i for i in range(5) if res["mean_score"][i] >= threshold]
    assert one_se.best_index_ == min(within)
    assert one_se.n_experts_ <= best.n_experts_


def test_parallel_equals_serial():
    X, y = _mixture(2)
    kw = {"n_experts": [1, 2, 3], "cv": 3, "random_state": 0}
    serial = MixtureOfExpertsCV(n_jobs=1, **kw).fit(X, y)
    parallel = MixtureOfExpertsCV(n_jobs=2, **kw).fit(X, y)
    for key in ("mean_score", "std_score", "split0_score", "split2_score"):
        assert_array_equal(serial.cv_results_[key], parallel.cv_results_[key])
    assert_array_equal(serial.predict(X), parallel.predict(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_experts": [0, 1, 2]}, "integer >= 1"),
        ({"n_experts": []}, "empty"),
        ({"n_experts": [1, 2.5]}, "integer >= 1"),
        ({"depth": [1, 2]}, "hierarchical"),
    ],
)
def test_invalid_candidates_raise_before_any_fit(monkeypatch, params, match):
    def no_fit(*args, **kwargs):
        raise AssertionError("a candidate was fitted")

    monkeypatch.setattr(selection, "_fit_one", no_fit)
    X, y = _mixture(1)
    with pytest.raises(ValueError, match=match):
        MixtureOfExpertsCV(**params).fit(X, y)


def test_invalid_hierarchical_candidates(monkeypatch):
    monkeypatch.setattr(selection, "_fit_one", None)
    X, y = _mixture(1)
    hme = HierarchicalMixtureOfExpertsRegressor()
    with pytest.raises(ValueError, match="not n_experts"):
        MixtureOfExpertsCV(hme, n_experts=[1, 2]).fit(X, y)
    with pytest.raises(ValueError, match="integer >= 2"):
        MixtureOfExpertsCV(hme, branching=[1, 2]).fit(X, y)
    with pytest.raises(ValueError, match="integer >= 1"):
        MixtureOfExpertsCV(hme, depth=[0]).fit(X, y)


def test_failed_fit_leaves_estimator_as_it_was():
    X, y = _mixture(2)
    search = MixtureOfExpertsCV(n_experts=[1, 2], cv=3, random_state=0).fit(X, y)
    before = search.cv_results_
    search.set_params(n_experts=[])
    with pytest.raises(ValueError):
        search.fit(X, y)
    assert search.cv_results_ is before
    assert search.n_experts_ == 2


def test_inputs_not_modified():
    X, y = _mixture(2)
    X0, y0 = X.copy(), y.copy()
    MixtureOfExpertsCV(n_experts=[1, 2], cv=3, random_state=0).fit(X, y)
    assert_array_equal(X, X0)
    assert_array_equal(y, y0)


def test_in_a_pipeline_both_ways():
    X, y = _mixture(2)
    X = X * [100.0, 0.01]
    outer = make_pipeline(
        StandardScaler(), MixtureOfExpertsCV(n_experts=[1, 2, 3], random_state=0)
    ).fit(X, y)
    assert outer[-1].n_experts_ == 2
    inner = MixtureOfExpertsCV(
        make_pipeline(StandardScaler(), MixtureOfExpertsRegressor()),
        n_experts=[1, 2, 3],
        random_state=0,
    ).fit(X, y)
    assert inner.n_experts_ == 2
    assert inner.best_estimator_[-1].n_experts == 2
    assert_allclose(inner.predict(X), outer.predict(X))
    assert_allclose(
        inner.score_samples(X, y), outer[-1].score_samples(outer[0].transform(X), y)
    )


def test_clone_and_get_params():
    template = MixtureOfExpertsRegressor(expert=None, max_iter=50)
    search = MixtureOfExpertsCV(template, n_experts=[1, 3], criterion="bic")
    params = search.get_params()
    assert params["estimator__max_iter"] == 50
    assert params["n_experts"] == [1, 3]
    copy = clone(search)
    assert copy.get_params()["estimator__max_iter"] == 50
    assert copy.estimator is not template
    search.set_params(estimator__max_iter=20)
    assert template.max_iter == 20


def test_template_settings_are_kept():
    X, y = _mixture(2)
    template = MixtureOfExpertsRegressor(max_iter=7, n_init=1, tol=1e-3)
    search = MixtureOfExpertsCV(template, n_experts=[2], n_init=2, cv=2).fit(X, y)
    best = search.best_estimator_
    assert (best.max_iter, best.tol, best.n_init) == (7, 1e-3, 2)
    assert template.n_experts == 3 and template.n_init == 1  # untouched


def test_hierarchical_candidates():
    X, y = make_hierarchical_regimes(600, noise=0.2, random_state=0)
    search = MixtureOfExpertsCV(
        HierarchicalMixtureOfExpertsRegressor(),
        depth=[1, 2],
        branching=[2, 3],
        criterion="bic",
        random_state=0,
    ).fit(X, y)
    res = search.cv_results_
    # Ordered by number of experts: 2, 3, 4, 9.
    assert_array_equal(res["n_experts"], [2, 3, 4, 9])
    assert_array_equal(res["depth"], [1, 1, 2, 2])
    assert_array_equal(res["branching"], [2, 3, 2, 3])
    # Four regimes behind two binary splits.
    assert (search.depth_, search.branching_, search.n_experts_) == (2, 2, 4)
    assert search.best_estimator_.depth == 2


def test_classifier_template():
    X, y = make_moe_classification(
        600, n_features=2, n_experts=2, n_classes=2, random_state=0
    )
    search = MixtureOfExpertsCV(
        MixtureOfExpertsClassifier(), n_experts=[1, 2, 3], random_state=0
    ).fit(X, y)
    assert_array_equal(search.classes_, np.unique(y))
    proba = search.predict_proba(X)
    assert_allclose(proba, search.best_estimator_.predict_proba(X))
    assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    assert search.score(X, y) == search.best_estimator_.score(X, y)
    assert not hasattr(search, "predict_interval")


def test_regressor_delegation():
    X, y = _mixture(2)
    search = MixtureOfExpertsCV(n_experts=[1, 2], cv=3, random_state=0).fit(X, y)
    best = search.best_estimator_
    assert_allclose(
        search.predict(X, return_std=True), best.predict(X, return_std=True)
    )
    assert_allclose(search.predict_interval(X[:5]), best.predict_interval(X[:5]))
    assert_allclose(
        search.predict_quantiles(X[:5], [0.1, 0.9]),
        best.predict_quantiles(X[:5], [0.1, 0.9]),
    )
    assert_allclose(search.sample_y(X[:5], 3), best.sample_y(X[:5], 3))
    assert search.n_features_in_ == 2
    assert not hasattr(search, "predict_proba")


def test_selection_display():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skmoe.inspection import SelectionDisplay

    X, y = _mixture(2)
    search = MixtureOfExpertsCV(n_experts=[1, 2, 3], cv=3, random_state=0).fit(X, y)
    disp = SelectionDisplay.from_estimator(search)
    assert_array_equal(disp.n_experts, [1, 2, 3])
    assert_array_equal(disp.scores, search.cv_results_["mean_score"])
    assert_array_equal(disp.chosen_.get_xdata(), [search.n_experts_])
    assert_array_equal(disp.chosen_.get_ydata(), [disp.scores[search.best_index_]])
    assert disp.line_.has_yerr
    assert "held-out" in disp.ax_.get_ylabel()
    bic = MixtureOfExpertsCV(n_experts=[1, 2], criterion="bic").fit(X, y)
    disp = SelectionDisplay.from_estimator(bic)
    assert not disp.line_.has_yerr
    assert "BIC" in disp.ax_.get_ylabel()
    with pytest.raises(TypeError, match="MixtureOfExpertsCV"):
        SelectionDisplay.from_estimator(search.best_estimator_)
    with pytest.raises(TypeError, match="unexpected keyword"):
        SelectionDisplay.from_estimator(search, colour="red")
    plt.close("all")
