"""Bad input, case by case: each is refused before any work with the exception
scikit-learn would raise and a message that names the problem, the input is
left as it was, and a fitted estimator keeps its model.

Faulty *experts* (that raise or misbehave during a fit) are in test_faults.py.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skmoe import (
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
    SoftmaxGate,
)

R = MixtureOfExpertsRegressor
C = MixtureOfExpertsClassifier
HR = HierarchicalMixtureOfExpertsRegressor
HC = HierarchicalMixtureOfExpertsClassifier

_rng = np.random.default_rng(0)
X = _rng.normal(size=(60, 3))
y = X[:, 0] + 0.1 * _rng.normal(size=60)
yc = (X[:, 0] > 0).astype(int)


def _with(a, where, value):
    a = a.astype(float)
    a[where] = value
    return a


def _fitted(Est, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = yc if Est in (C, HC) else y
        return Est(random_state=0, **params).fit(X, target)


def _param(Est, **params):
    """``fit`` with one bad parameter; the estimator is a regressor or a
    classifier as ``Est`` is."""
    target = yc if Est in (C, HC) else y
    return lambda: Est(**params).fit(X, target)


InvalidParam = InvalidParameterError

# (id, call, exception type, regex the message must match)
PARAMETERS = [
    ("n_experts=0", _param(R, n_experts=0), InvalidParam, "'n_experts' .* >?int"),
    ("n_experts=1.5", _param(R, n_experts=1.5), InvalidParam, "'n_experts'.*1.5"),
    ("n_experts=str", _param(C, n_experts="3"), InvalidParam, "'n_experts'"),
    ("max_iter=0", _param(R, max_iter=0), InvalidParam, "'max_iter'.*Got 0"),
    ("tol<0", _param(C, tol=-1.0), InvalidParam, "'tol'.*Got -1"),
    ("n_init=0", _param(HR, n_init=0), InvalidParam, "'n_init'.*Got 0"),
    ("routing", _param(R, routing="sparse"), InvalidParam, "'routing'.*'sparse'"),
    ("top_k=0", _param(R, routing="top_k", top_k=0), InvalidParam, "'top_k'"),
    (
        "top_k>n_experts",
        _param(C, routing="top_k", top_k=5, n_experts=3),
        ValueError,
        r"top_k=5 .* at most the number of experts, 3",
    ),
    ("solver", _param(R, solver="newton"), InvalidParam, "'solver'.*'newton'"),
    ("batch_size=0", _param(R, batch_size=0), InvalidParam, "'batch_size'.*Got 0"),
    (
        "learning_rate<0",
        _param(R, learning_rate_init=-1.0),
        InvalidParam,
        "'learning_rate_init'",
    ),
    (
        "expert_errors",
        _param(HC, expert_errors="ignore"),
        InvalidParam,
        "'expert_errors'.*'ignore'",
    ),
    ("verbose<0", _param(R, verbose=-1), InvalidParam, "'verbose'"),
    ("random_state=str", _param(R, random_state="x"), InvalidParam, "'random_state'"),
    ("gate=str", _param(R, gate="softmax"), InvalidParam, "'gate'.*'softmax'"),
    (
        "gate=regressor",
        _param(C, gate=LinearRegression()),
        InvalidParam,
        "'gate'.*LinearRegression",
    ),
    ("gate C<0", _param(R, gate=SoftmaxGate(C=-1.0)), InvalidParam, "'C'.*SoftmaxGate"),
    ("HME gate C=str", _param(HR, gate=SoftmaxGate(C="big")), InvalidParam, "'C'"),
    ("depth=0", _param(HR, depth=0), InvalidParam, "'depth'.*Got 0"),
    ("branching=1", _param(HC, branching=1), InvalidParam, "'branching'.*Got 1"),
    ("clip=str", _param(R, clip_predictions="yes"), InvalidParam, "'clip_predictions'"),
    (
        "variance_floor<0",
        _param(HR, variance_floor=-1.0),
        InvalidParam,
        "'variance_floor'",
    ),
    (
        "min_responsibility=2",
        _param(R, min_responsibility=2.0),
        InvalidParam,
        "'min_responsibility'",
    ),
    ("n_jobs=str", _param(R, n_jobs="x"), InvalidParam, "'n_jobs'"),
    ("warm_start=str", _param(C, warm_start="yes"), InvalidParam, "'warm_start'"),
    ("init_params", _param(R, init_params="bogus"), InvalidParam, "'init_params'"),
    ("expert=str", _param(R, expert="linear"), InvalidParam, "'expert'.*'linear'"),
    ("expert=object", _param(C, expert=object()), InvalidParam, "'expert'"),
    (
        "expert list length",
        _param(R, n_experts=3, expert=[LinearRegression(), LinearRegression()]),
        ValueError,
        r"list of 2 estimators but n_experts=3",
    ),
    (
        "classifier expert in a regressor",
        _param(R, expert=LogisticRegression()),
        TypeError,
        "LogisticRegression is a classifier",
    ),
    (
        "regressor expert in a classifier",
        _param(C, expert=LinearRegression()),
        TypeError,
        "LinearRegression lacks predict_proba",
    ),
    (
        "clusterer expert",
        _param(R, expert=KMeans(2, n_init=1)),
        TypeError,
        "KMeans is a clusterer, not a regressor",
    ),
    (
        "outlier detector expert",
        _param(HR, expert=IsolationForest()),
        TypeError,
        "IsolationForest is a outlier detector|IsolationForest is an? outlier",
    ),
    (
        "tree expert, gradient solver",
        _param(R, solver="gradient", expert=DecisionTreeRegressor()),
        ValueError,
        "solver='gradient' cannot fit the expert DecisionTreeRegressor",
    ),
    (
        "n_experts above the rows",
        _param(R, n_experts=100),
        ValueError,
        r"n_experts=100 must be at most the number of samples",
    ),
]

_df_categorical = pd.DataFrame({"a": X[:, 0], "b": ["u", "v"] * 30})

DATA = [
    (
        "X NaN",
        lambda: R().fit(_with(X, (0, 0), np.nan), y),
        ValueError,
        "X contains NaN.*impute",
    ),
    (
        "X inf",
        lambda: C().fit(_with(X, (0, 0), np.inf), yc),
        ValueError,
        "X contains infinity",
    ),
    ("y NaN", lambda: R().fit(X, _with(y, 0, np.nan)), ValueError, "y contains NaN"),
    (
        "y inf",
        lambda: HR().fit(X, _with(y, 0, np.inf)),
        ValueError,
        "y contains infinity",
    ),
    ("X 1-D", lambda: R().fit(X[:, 0], y), ValueError, "Expected 2D array, got 1D"),
    ("X 3-D", lambda: C().fit(X[:, :, None], yc), ValueError, "dim 3"),
    ("no rows", lambda: R().fit(X[:0], y[:0]), ValueError, "0 sample"),
    ("no features", lambda: HC().fit(X[:, :0], yc), ValueError, "0 feature"),
    (
        "rows mismatch",
        lambda: R().fit(X, y[:-1]),
        ValueError,
        r"inconsistent numbers.*\[60, 59\]",
    ),
    (
        # A 2-D y is several targets (test_multioutput.py); 3-D is refused.
        "y 3-D regressor",
        lambda: R().fit(X, np.ones((60, 2, 2))),
        ValueError,
        r"Found array with dim 3.*MixtureOfExpertsRegressor",
    ),
    (
        "y strings regressor",
        lambda: R().fit(X, np.array(["a"] * 60)),
        ValueError,
        "numeric target y.*Classifier",
    ),
    (
        "y strings list",
        lambda: HR().fit(X, ["1.0x"] * 60),
        ValueError,
        "numeric target y",
    ),
    (
        "X strings",
        lambda: R().fit(np.array([["a", "b", "c"]] * 60), y),
        ValueError,
        "needs numeric features.*OneHotEncoder",
    ),
    (
        "X categorical column",
        lambda: C().fit(_df_categorical, yc),
        ValueError,
        r"strings in columns \['b'\].*ColumnTransformer",
    ),
    (
        "X sparse",
        lambda: R().fit(sp.csr_matrix(X), y),
        TypeError,
        "Sparse data .* dense",
    ),
    ("X complex", lambda: R().fit(X + 1j, y), ValueError, "Complex data not supported"),
    (
        "X ragged",
        lambda: R().fit([[1.0, 2.0, 3.0], [1.0, 2.0]] * 30, y),
        ValueError,
        "inhomogeneous",
    ),
    (
        "X too large",
        lambda: R().fit(X * 1e200, y),
        ValueError,
        "X holds values as large as.*Rescale X",
    ),
    (
        "y too small",
        lambda: R().fit(X, y * 1e-200),
        ValueError,
        "y has values all below.*Rescale y",
    ),
    (
        "weights length",
        lambda: R().fit(X, y, sample_weight=np.ones(59)),
        ValueError,
        r"sample_weight.shape == \(59,\), expected \(60,\)",
    ),
    (
        "weights negative",
        lambda: C().fit(X, yc, sample_weight=-np.ones(60)),
        ValueError,
        "Negative values .*sample_weight",
    ),
    (
        "weights zero",
        lambda: R().fit(X, y, sample_weight=np.zeros(60)),
        ValueError,
        "all zero: give at least one row",
    ),
    (
        "weights NaN",
        lambda: HR().fit(X, y, sample_weight=_with(np.ones(60), 0, np.nan)),
        ValueError,
        "sample_weight contains NaN",
    ),
    (
        "weights 2-D",
        lambda: R().fit(X, y, sample_weight=np.ones((60, 2))),
        ValueError,
        "Sample weights must be 1D",
    ),
    (
        "fewer rows than experts",
        lambda: R(n_experts=3).fit(X[:2], y[:2]),
        ValueError,
        r"n_experts=3 must be at most .*n_samples=2",
    ),
    (
        "one class",
        lambda: C().fit(X, np.zeros(60)),
        ValueError,
        "at least 2 classes.*only one class",
    ),
    (
        "one class, HME",
        lambda: HC().fit(X, np.ones(60)),
        ValueError,
        "at least 2 classes",
    ),
    (
        "continuous labels",
        lambda: C().fit(X, y),
        ValueError,
        "Unknown label type: continuous",
    ),
    (
        "NaN labels",
        lambda: C().fit(X, _with(yc, 0, np.nan)),
        ValueError,
        "y contains NaN",
    ),
    (
        "multilabel",
        lambda: C().fit(X, np.c_[yc, yc]),
        ValueError,
        r"1d array, got .* \(60, 2\)",
    ),
]

_fr = _fitted(R, n_experts=2)
_fc = _fitted(C, n_experts=2)
_fhr = _fitted(HR)

AFTER_FIT = [
    ("predict unfitted", lambda: R().predict(X), NotFittedError, "not fitted yet"),
    (
        "predict_proba unfitted",
        lambda: HC().predict_proba(X),
        NotFittedError,
        "not fitted yet",
    ),
    (
        "gate unfitted",
        lambda: R().predict_gate_proba(X),
        NotFittedError,
        "not fitted yet",
    ),
    ("bic unfitted", lambda: C().bic(X, yc), NotFittedError, "not fitted yet"),
    (
        "predict features",
        lambda: _fr.predict(X[:, :2]),
        ValueError,
        "X has 2 features, but .* expecting 3",
    ),
    (
        "predict_proba features",
        lambda: _fc.predict_proba(X[:, :1]),
        ValueError,
        "X has 1 features",
    ),
    (
        "HME predict features",
        lambda: _fhr.predict(np.c_[X, X]),
        ValueError,
        "X has 6 features",
    ),
    (
        "predict NaN",
        lambda: _fr.predict(_with(X, (1, 1), np.nan)),
        ValueError,
        "X contains NaN.*impute",
    ),
    (
        "gate NaN",
        lambda: _fc.predict_gate_proba(_with(X, (1, 1), np.nan)),
        ValueError,
        "X contains NaN",
    ),
    (
        "score_samples rows",
        lambda: _fr.score_samples(X, y[:-1]),
        ValueError,
        "X has 60 rows but y has 59",
    ),
    (
        "score_samples y NaN",
        lambda: _fhr.score_samples(X, _with(y, 0, np.nan)),
        ValueError,
        "y contains NaN",
    ),
    (
        "responsibilities rows",
        lambda: _fr.predict_responsibilities(X, y[:-1]),
        ValueError,
        "X has 60 rows but y has 59",
    ),
    (
        "responsibilities unseen labels",
        lambda: _fc.predict_responsibilities(X, yc + 3),
        ValueError,
        r"labels not seen during fit: \[3, 4\]",
    ),
    (
        "classifier return_std",
        lambda: _fc.predict(X, return_std=True),
        TypeError,
        "return_std",
    ),
    (
        "set_params unknown",
        lambda: R().set_params(foo=1),
        ValueError,
        "Invalid parameter 'foo'",
    ),
    (
        "warm start, new n_experts, gradient solver",
        lambda: (
            R(n_experts=2, solver="gradient", warm_start=True, random_state=0)
            .fit(X, y)
            .set_params(n_experts=3)
            .fit(X, y)
        ),
        ValueError,
        "grows or shrinks the mixture by EM on NumPy inputs",
    ),
    (
        "partial_fit without classes",
        lambda: C(n_experts=2).partial_fit(X, yc),
        ValueError,
        "classes must be passed on the first call",
    ),
    (
        "partial_fit, one class",
        lambda: C(n_experts=2).partial_fit(X, yc, classes=[0]),
        ValueError,
        "classes holds only one class",
    ),
    (
        "partial_fit, labels outside classes",
        lambda: C(n_experts=2).partial_fit(
            X, np.where(yc > 0, "a", "b"), classes=[0, 1]
        ),
        ValueError,
        r"labels that are not in classes",
    ),
    (
        "partial_fit, new features",
        lambda: R(n_experts=2).partial_fit(X, y).partial_fit(X[:, :2], y),
        ValueError,
        "X has 2 features",
    ),
    (
        "partial_fit, tree experts",
        lambda: R(expert=DecisionTreeRegressor()).partial_fit(X, y),
        ValueError,
        "partial_fit cannot fit the expert DecisionTreeRegressor",
    ),
]

CASES = PARAMETERS + DATA + AFTER_FIT


def test_the_suite_has_at_least_60_distinct_cases():
    ids = [case[0] for case in CASES]
    assert len(set(ids)) == len(ids) >= 60


@pytest.mark.parametrize(
    "call, exc, match", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_is_refused_with_a_message_that_names_it(call, exc, match):
    with warnings.catch_warnings():
        # Some refusals come after scikit-learn's own warnings (e.g. a
        # continuous target); only the error is under test.
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call()


@pytest.mark.parametrize(
    "bad",
    [
        {"X": _with(X, (0, 0), np.nan)},
        {"y": _with(y, 0, np.inf)},
        {"sample_weight": -np.ones(60)},
        {"y": y[:-1]},
        {"X": X * 1e200},
    ],
    ids=["X NaN", "y inf", "negative weights", "rows mismatch", "X too large"],
)
@pytest.mark.parametrize("Est", [R, HR])
def test_a_refused_refit_keeps_the_model_and_leaves_the_input_alone(Est, bad):
    est = _fitted(Est)
    before = est.predict(X)
    args = {"X": X, "y": y, "sample_weight": None} | bad
    copies = {k: None if v is None else np.array(v, copy=True) for k, v in args.items()}
    with pytest.raises(ValueError):
        est.fit(**args)
    assert_array_equal(est.predict(X), before)
    for name, value in args.items():
        if value is not None:
            assert_array_equal(value, copies[name])


@pytest.mark.parametrize("frame", [False, True], ids=["ndarray", "DataFrame"])
def test_float32_in_float32_out(frame):
    """The model computes in float64 and answers in the precision asked:
    every floating output is float32 for float32 X, and equals the float64
    answer rounded."""
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    if frame:
        X32 = pd.DataFrame(X32, columns=list("abc"))
        X64 = pd.DataFrame(X64, columns=list("abc"))
    reg = R(n_experts=2, random_state=0).fit(X64, y)
    hme = HR(depth=1, random_state=0).fit(X64, y)
    clf = C(n_experts=2, random_state=0).fit(X64, yc)
    outputs = {
        "predict": lambda m, X: m.predict(X),
        "predict std": lambda m, X: m.predict(X, return_std=True)[1],
        "predict_experts": lambda m, X: m.predict_experts(X),
        "predict_gate_proba": lambda m, X: m.predict_gate_proba(X),
        "score_samples": lambda m, X: m.score_samples(X, y),
        "predict_responsibilities": lambda m, X: m.predict_responsibilities(X, y),
    }
    for name, out in outputs.items():
        for model in (reg, hme):
            got = out(model, X32)
            assert got.dtype == np.float32, name
            assert_allclose(got, out(model, X64).astype(np.float32), rtol=1e-6)
    for node, proba in hme.predict_node_proba(X32).items():
        assert proba.dtype == np.float32, node
    for method in ("predict_proba", "predict_log_proba", "predict_experts_proba"):
        got = getattr(clf, method)(X32)
        assert got.dtype == np.float32, method
        assert_allclose(got, getattr(clf, method)(X64), rtol=1e-6, atol=1e-6)
    # Labels keep the labels' dtype, and float64 input keeps float64 output.
    assert clf.predict(X32).dtype == yc.dtype
    assert reg.predict(X64).dtype == np.float64
