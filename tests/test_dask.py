"""EM on Dask collections (issue 18): the same answer as in memory, lazy
predictions, out-of-core data and the Dask joblib backend, on a local
cluster of two worker processes started and stopped here."""

import copy
import pickle
import warnings

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _data(n=1200, seed=0):
    """Two linear regimes in 3 features, switched by the first."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    upper = X[:, 0] > 0
    y = np.where(upper, 2.0 * X[:, 1] + 1.0, -X[:, 2] - 1.0)
    y = y + 0.3 * rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def _warm_pair(X, y):
    """Two copies of one model fitted on the first rows, to continue by EM
    on all of them from the same start."""
    start = MixtureOfExpertsRegressor(n_experts=2, random_state=1)
    start.fit(X[:400], y[:400])
    start.set_params(warm_start=True, max_iter=500, tol=1e-7)
    return copy.deepcopy(start), copy.deepcopy(start)


def _assert_same_fit(a, b):
    assert abs(a.log_likelihood_ - b.log_likelihood_) <= 1e-6 * abs(a.log_likelihood_)
    assert abs(a.lower_bound_ - b.lower_bound_) <= 1e-6
    for ea, eb in zip(a.experts_, b.experts_, strict=True):
        np.testing.assert_allclose(ea.coef_, eb.coef_, atol=1e-5)
        np.testing.assert_allclose(ea.intercept_, eb.intercept_, atol=1e-5)
    if hasattr(a, "noise_variance_"):
        np.testing.assert_allclose(a.noise_variance_, b.noise_variance_, rtol=1e-5)
    np.testing.assert_allclose(a.gate_.coef_, b.gate_.coef_, atol=1e-5)
    np.testing.assert_allclose(a.expert_shares_, b.expert_shares_, atol=1e-6)


def test_same_answer_as_numpy_from_the_same_start(client):
    X, y, _ = _data()
    for solver in ("newton", "lbfgs"):  # both gate solvers, as in memory
        in_memory, on_dask = _warm_pair(X, y)
        for model in (in_memory, on_dask):
            model.gate_.set_params(solver=solver)
        in_memory.fit(X, y)
        on_dask.fit(da.from_array(X, chunks=(250, 3)), da.from_array(y, chunks=250))
        _assert_same_fit(in_memory, on_dask)
        assert in_memory.n_iter_ == on_dask.n_iter_
    assert isinstance(on_dask.experts_[0].coef_, np.ndarray)


def test_dataframe_and_weights_same_answer(client):
    X, y, w = _data(seed=3)
    in_memory, on_dask = _warm_pair(X, y)
    in_memory.fit(X, y, sample_weight=w)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    Xd = dd.from_pandas(frame, npartitions=4)
    yd = dd.from_pandas(pd.Series(y), npartitions=4)
    wd = dd.from_pandas(pd.Series(w), npartitions=4)
    on_dask.fit(Xd, yd, sample_weight=wd)
    _assert_same_fit(in_memory, on_dask)
    assert list(on_dask.feature_names_in_) == ["a", "b", "c"]
    with warnings.catch_warnings():
        # The blocks keep their column names: no feature-name warning.
        warnings.simplefilter("error")
        lazy = on_dask.predict(Xd)
        np.testing.assert_allclose(lazy.compute(), on_dask.predict(frame))
    with pytest.raises(TypeError, match="returns one array per row"):
        on_dask.predict(Xd, return_std=True)


def test_fresh_fit_reaches_the_in_memory_optimum(client):
    # Fewer rows than the start's sample: the start is the in-memory fit,
    # which EM on the blocks continues to the same optimum.
    X, y, _ = _data(seed=5)
    params = dict(n_experts=2, n_init=2, random_state=0, tol=1e-10)
    in_memory = MixtureOfExpertsRegressor(**params).fit(X, y)
    on_dask = MixtureOfExpertsRegressor(**params).fit(
        da.from_array(X, chunks=(300, 3)), da.from_array(y, chunks=300)
    )
    _assert_same_fit(in_memory, on_dask)
    # The truth: slopes 2 and -1 (first expert has the larger share).
    coefs = sorted(round(float(e.coef_[1] - e.coef_[2])) for e in on_dask.experts_)
    assert coefs == [1, 2]


def test_lazy_predictions_match_in_memory(client):
    X, y, _ = _data(n=600, seed=2)
    model = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    Xd, yd = da.from_array(X, chunks=(200, 3)), da.from_array(y, chunks=200)
    for method, args in [
        ("predict", ()),
        ("predict_gate_proba", ()),
        ("predict_experts", ()),
        ("score_samples", (y,)),
        ("predict_responsibilities", (y,)),
    ]:
        dask_args = tuple(yd for _ in args)
        lazy = getattr(model, method)(Xd, *dask_args)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(
            lazy.compute(), getattr(model, method)(X, *args), rtol=1e-12
        )
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    np.testing.assert_allclose(model.predict(frame).compute(), model.predict(X))
    # The fitted model is an ordinary one: it pickles and predicts in memory.
    fitted = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(Xd, yd)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_same_answer_as_numpy(client, n_classes):
    # LogisticRegression experts: scikit-learn's own L-BFGS objective, each
    # evaluation a pass over the blocks; binary and multinomial. In memory
    # skmoe's Newton solver takes one step per M-step (generalised EM) and
    # solves the last; the Dask path solves every M-step by L-BFGS. Two
    # algorithms: the same optimum within EM's tolerance (log-likelihood
    # within 1e-5 nats per row, probabilities within 1e-3), not the same
    # iterates. Before the Newton solver, when both ran L-BFGS, they
    # matched iteration for iteration.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    if n_classes == 3:
        y[X[:, 0] > 1.2] = 2
    labels = np.array(["a", "b", "c"])[y]  # string labels, as in memory
    start = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(tol=1e-6, max_iter=1000), random_state=0
    )
    start.fit(X[:400], labels[:400]).set_params(warm_start=True, tol=1e-7)
    in_memory, on_dask = copy.deepcopy(start), copy.deepcopy(start)
    in_memory.fit(X, labels)
    on_dask.fit(da.from_array(X, chunks=(200, 2)), da.from_array(labels, chunks=200))
    assert abs(in_memory.log_likelihood_ - on_dask.log_likelihood_) <= 1e-5 * len(y)
    assert abs(in_memory.lower_bound_ - on_dask.lower_bound_) <= 1e-5
    np.testing.assert_array_equal(on_dask.classes_, in_memory.classes_)
    np.testing.assert_allclose(
        on_dask.predict_proba(X), in_memory.predict_proba(X), atol=1e-3
    )
    np.testing.assert_allclose(
        on_dask.expert_shares_, in_memory.expert_shares_, atol=1e-3
    )


def test_classifier_lazy_predict_proba(client):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    Xd = da.from_array(X, chunks=(150, 2))
    proba = model.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape == (400, 2)
    np.testing.assert_allclose(proba.compute(), model.predict_proba(X))
    np.testing.assert_array_equal(model.predict(Xd).compute(), model.predict(X))


def test_out_of_core_from_zarr(client, tmp_path):
    pytest.importorskip("zarr")
    X, y, _ = _data(n=900, seed=4)
    store = str(tmp_path / "data.zarr")
    da.to_zarr(da.from_array(X, chunks=(200, 3)), store, component="X")
    da.to_zarr(da.from_array(y, chunks=200), store, component="y")
    Xz = da.from_zarr(store, component="X")
    yz = da.from_zarr(store, component="y")
    in_memory, on_disk = _warm_pair(X, y)
    in_memory.fit(X, y)
    on_disk.fit(Xz, yz)
    _assert_same_fit(in_memory, on_disk)


def test_unsupported_refused_before_work(client):
    X, y, _ = _data(n=300)
    Xd, yd = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    model = MixtureOfExpertsRegressor(
        n_experts=2, expert=DecisionTreeRegressor(max_depth=2)
    )
    with pytest.raises(TypeError, match="LinearRegression or Ridge"):
        model.fit(Xd, yd)
    assert not hasattr(model, "experts_")
    clf = MixtureOfExpertsClassifier(
        n_experts=2, expert=LogisticRegression(solver="liblinear")
    )
    with pytest.raises(TypeError, match="LogisticRegression experts"):
        clf.fit(Xd, (yd > 0).astype(int))
    for params in (
        {"fit_top_k": 1},
        {"balance_strength": 0.1},
        {"acceleration": "squarem"},
    ):
        model = MixtureOfExpertsRegressor(n_experts=2, **params)
        with pytest.raises(ValueError, match="not available on Dask inputs"):
            model.fit(Xd, yd)
        assert not hasattr(model, "experts_")
    bad = X.copy()
    bad[5, 1] = np.nan
    fitted = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    before = fitted.experts_
    with pytest.raises(ValueError, match="NaN"):
        fitted.fit(da.from_array(bad, chunks=(100, 3)), yd)
    assert fitted.experts_ is before


def test_joblib_dask_backend_equals_loky(client):
    X, y, _ = _data(n=300, seed=6)
    params = dict(n_experts=2, n_init=2, n_jobs=2, random_state=0)
    results = {}
    for backend in ("loky", "dask"):
        with parallel_config(backend=backend):
            model = MixtureOfExpertsRegressor(**params).fit(X, y)
            search = GridSearchCV(
                MixtureOfExpertsRegressor(random_state=0),
                {"n_experts": [1, 2]},
                cv=KFold(2),
                n_jobs=2,
            ).fit(X, y)
        results[backend] = (model, search)
    (m_loky, s_loky), (m_dask, s_dask) = results["loky"], results["dask"]
    assert m_loky.log_likelihood_ == pytest.approx(m_dask.log_likelihood_, abs=1e-9)
    np.testing.assert_allclose(m_loky.predict(X), m_dask.predict(X), atol=1e-9)
    assert s_loky.best_params_ == s_dask.best_params_ == {"n_experts": 2}
    np.testing.assert_allclose(
        s_loky.cv_results_["mean_test_score"],
        s_dask.cv_results_["mean_test_score"],
        atol=1e-9,
    )
