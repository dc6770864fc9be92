"""Tests for skmoe.datasets: bundled loaders and synthetic generators."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from skmoe import datasets
from skmoe.datasets import (
    _base,
    load_abalone,
    load_concrete,
    load_energy,
    load_mcycle,
    load_tonedata,
    load_vowel,
    load_yacht,
    make_hierarchical_regimes,
    make_moe_classification,
    make_moe_regression,
    make_piecewise_linear,
    make_xor,
)

# --------------------------------------------------------------------------
# Bundled data
# --------------------------------------------------------------------------
# loader, n_rows, feature_names, target_name, first row (features + target),
# a word of the source that DESCR must mention
REGRESSION_LOADERS = [
    (load_mcycle, 133, ["times"], "accel", [2.4, 0.0], "Silverman"),
    (load_tonedata, 150, ["stretchratio"], "tuned", [1.35, 1.461], "mixtools"),
    (
        load_concrete,
        1030,
        [
            "cement",
            "blast_furnace_slag",
            "fly_ash",
            "water",
            "superplasticizer",
            "coarse_aggregate",
            "fine_aggregate",
            "age",
        ],
        "compressive_strength",
        [540.0, 0.0, 0.0, 162.0, 2.5, 1040.0, 676.0, 28.0, 79.99],
        "Yeh",
    ),
    (
        load_energy,
        768,
        [
            "relative_compactness",
            "surface_area",
            "wall_area",
            "roof_area",
            "overall_height",
            "orientation",
            "glazing_area",
            "glazing_area_distribution",
        ],
        "heating_load",
        [0.98, 514.5, 294.0, 110.25, 7.0, 2.0, 0.0, 0.0, 15.55],
        "Tsanas",
    ),
    (
        load_yacht,
        308,
        [
            "longitudinal_position",
            "prismatic_coefficient",
            "length_displacement_ratio",
            "beam_draught_ratio",
            "length_beam_ratio",
            "froude_number",
        ],
        "residuary_resistance",
        [-2.3, 0.568, 4.78, 3.99, 3.17, 0.125, 0.11],
        "Gerritsma",
    ),
]
ALL_LOADERS = [case[0] for case in REGRESSION_LOADERS] + [load_abalone, load_vowel]


def test_all_exports():
    assert len(datasets.__all__) == 12
    for name in datasets.__all__:
        assert callable(getattr(datasets, name))


@pytest.mark.parametrize(
    "loader, n_rows, feature_names, target_name, first_row, source",
    REGRESSION_LOADERS,
    ids=[case[0].__name__ for case in REGRESSION_LOADERS],
)
def test_regression_loader(
    loader, n_rows, feature_names, target_name, first_row, source
):
    bunch = loader()
    n_features = len(feature_names)
    assert bunch.data.shape == (n_rows, n_features)
    assert bunch.target.shape == (n_rows,)
    assert bunch.data.dtype == np.float64
    assert bunch.target.dtype == np.float64
    assert bunch.feature_names == feature_names
    assert bunch.target_name == target_name
    assert bunch.frame is None
    assert np.isfinite(bunch.data).all() and np.isfinite(bunch.target).all()
    assert_allclose(bunch.data[0], first_row[:-1])
    assert bunch.target[0] == pytest.approx(first_row[-1])
    assert source in bunch.DESCR
    assert "Licence" in bunch.DESCR
    assert str(n_rows) in bunch.DESCR


@pytest.mark.parametrize(
    "loader, n_rows, feature_names, target_name",
    [case[:4] for case in REGRESSION_LOADERS],
    ids=[case[0].__name__ for case in REGRESSION_LOADERS],
)
def test_regression_loader_as_frame_and_return_X_y(
    loader, n_rows, feature_names, target_name
):
    bunch = loader()
    framed = loader(as_frame=True)
    assert isinstance(framed.data, pd.DataFrame)
    assert isinstance(framed.target, pd.Series)
    assert list(framed.data.columns) == feature_names
    assert framed.target.name == target_name
    assert framed.target.dtype == np.float64
    assert framed.frame.shape == (n_rows, len(feature_names) + 1)
    assert list(framed.frame.columns) == feature_names + [target_name]
    assert_array_equal(framed.data.to_numpy(), bunch.data)
    assert_array_equal(framed.frame[target_name].to_numpy(), bunch.target)

    X, y = loader(return_X_y=True)
    assert_array_equal(X, bunch.data)
    assert_array_equal(y, bunch.target)
    X_df, y_s = loader(return_X_y=True, as_frame=True)
    assert X_df.shape == (n_rows, len(feature_names))
    assert_array_equal(y_s.to_numpy(), bunch.target)


def test_regression_target_summaries():
    # a few numbers of the files, to catch a wrong column being the target
    assert load_mcycle().target.min() == pytest.approx(-134.0)
    assert load_concrete().target.mean() == pytest.approx(35.817961, abs=1e-5)
    assert load_energy().target.mean() == pytest.approx(22.307201, abs=1e-5)
    assert load_yacht().target.mean() == pytest.approx(10.495357, abs=1e-5)
    # Froude numbers lie in 0.125 .. 0.45
    froude = load_yacht().data[:, -1]
    assert (froude.min(), froude.max()) == (0.125, 0.45)


@pytest.mark.parametrize("name", ["concrete", "energy", "yacht"])
def test_uci_loader_fails_loudly_on_column_mismatch(name, monkeypatch):
    features, target = _base._UCI_NAMES[name]
    loader = getattr(datasets, f"load_{name}")
    assert loader().data.shape[1] == len(features)

    names = dict(_base._UCI_NAMES)
    names[name] = (features[:-1], target)
    monkeypatch.setattr(_base, "_UCI_NAMES", names)
    with pytest.raises(ValueError, match="inconsistent.*feature names"):
        loader()

    monkeypatch.setattr(_base, "_UCI_NAMES", {name: (features, target)})
    real_read_index = _base._read_index

    def short_target(filename):
        idx = real_read_index(filename)
        return idx[:0] if "target" in filename else idx

    monkeypatch.setattr(_base, "_read_index", short_target)
    with pytest.raises(ValueError, match="index_target lists 0 columns"):
        loader()


def test_load_abalone_onehot():
    bunch = load_abalone()
    assert bunch.data.shape == (4177, 10)
    assert bunch.data.dtype == np.float64
    assert bunch.target.dtype == np.float64
    assert bunch.feature_names == [
        "Sex_F",
        "Sex_I",
        "Sex_M",
        "Length",
        "Diameter",
        "Height",
        "Whole_weight",
        "Shucked_weight",
        "Viscera_weight",
        "Shell_weight",
    ]
    assert bunch.target_name == "Rings"
    assert not np.isnan(bunch.data).any()
    onehot = bunch.data[:, :3]
    assert set(np.unique(onehot).tolist()) == {0.0, 1.0}
    assert_array_equal(onehot.sum(axis=1), np.ones(4177))
    assert onehot.sum(axis=0).tolist() == [1307.0, 1342.0, 1528.0]
    # first row of the file: M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15
    assert_allclose(
        bunch.data[0], [0, 0, 1, 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]
    )
    assert bunch.target[0] == 15.0
    assert "Nash" in bunch.DESCR and "CC BY 4.0" in bunch.DESCR


def test_load_abalone_as_frame():
    framed = load_abalone(as_frame=True)
    assert framed.data.shape == (4177, 8)
    assert framed.frame.shape == (4177, 9)
    assert framed.feature_names[0] == "Sex"
    assert isinstance(framed.data["Sex"].dtype, pd.CategoricalDtype)
    assert list(framed.data["Sex"].cat.categories) == ["F", "I", "M"]
    assert framed.data["Sex"].value_counts().sort_index().tolist() == [1307, 1342, 1528]
    numeric = load_abalone().data[:, 3:]
    assert_array_equal(framed.data.iloc[:, 1:].to_numpy(dtype=np.float64), numeric)
    assert all(framed.data[c].dtype == np.float64 for c in framed.feature_names[1:])
    X, y = load_abalone(return_X_y=True)
    assert X.shape == (4177, 10) and y.shape == (4177,)
    assert y.min() == 1.0 and y.max() == 29.0


def test_load_vowel():
    bunch = load_vowel()
    assert bunch.data.shape == (990, 9)
    assert bunch.data.dtype == np.float64
    assert not np.isnan(bunch.data).any()
    assert bunch.feature_names == [f"V{i}" for i in range(2, 11)]
    assert bunch.target.shape == (990,)
    assert bunch.target.dtype == object
    expected = ["hAd", "hEd", "hId", "hOd", "hUd", "hYd"]
    expected += ["had", "hed", "hid", "hod", "hud"]
    assert bunch.target_names.tolist() == expected
    labels, counts = np.unique(bunch.target, return_counts=True)
    assert labels.tolist() == expected and counts.tolist() == [90] * 11
    # the customary split: rows 1-528 (speakers 0-7) train, the rest test
    assert bunch.train_mask.dtype == bool
    assert bunch.train_mask.sum() == 528
    assert bunch.train_mask[:528].all() and not bunch.train_mask[528:].any()
    assert bunch.speaker.dtype == np.int64
    assert np.unique(bunch.speaker[bunch.train_mask]).tolist() == list(range(8))
    assert np.unique(bunch.speaker[~bunch.train_mask]).tolist() == list(range(8, 15))
    # each training class has 48 rows (8 speakers x 6 repetitions)
    _, train_counts = np.unique(bunch.target[bunch.train_mask], return_counts=True)
    assert train_counts.tolist() == [48] * 11
    # first row of the file: "0",-3.639,-0.67,1.779,...,-0.814,"hid"
    assert_allclose(bunch.data[0, :3], [-3.639, -0.67, 1.779])
    assert bunch.data[0, -1] == pytest.approx(-0.814)
    assert bunch.target[0] == "hid"
    assert "Deterding" in bunch.DESCR and "mlbench" in bunch.DESCR
    assert "speaker" in bunch.DESCR and "train_mask" in bunch.DESCR


def test_load_vowel_as_frame_and_return_X_y():
    bunch = load_vowel()
    framed = load_vowel(as_frame=True)
    assert framed.frame.shape == (990, 10)
    assert list(framed.frame.columns) == bunch.feature_names + ["Class"]
    assert isinstance(framed.target.dtype, pd.CategoricalDtype)
    assert list(framed.target.cat.categories) == bunch.target_names.tolist()
    assert_array_equal(framed.target.astype(str).to_numpy(), bunch.target.astype(str))
    assert_array_equal(framed.data.to_numpy(), bunch.data)
    X, y = load_vowel(return_X_y=True)
    assert X.shape == (990, 9) and y.shape == (990,)
    assert_array_equal(y, bunch.target)


@pytest.mark.parametrize("loader", ALL_LOADERS, ids=lambda f: f.__name__)
def test_descr_has_source_licence_and_reference(loader):
    descr = loader().DESCR
    assert ":Source:" in descr
    assert ":Licence:" in descr
    assert "References" in descr
    assert len(descr) > 500


@pytest.mark.parametrize("loader", ALL_LOADERS, ids=lambda f: f.__name__)
def test_loaders_return_writable_arrays(loader):
    # pandas 3 (copy-on-write) returns read-only views from to_numpy: users
    # could not centre y in place or shuffle it, as with scikit-learn's loaders.
    bunch = loader()
    for name in ("data", "target", "speaker", "train_mask"):
        value = bunch.get(name)
        if isinstance(value, np.ndarray):
            assert value.flags.writeable, name
    for value in loader(return_X_y=True):
        assert value.flags.writeable


# --------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------
GENERATORS = [
    (make_moe_regression, {"n_samples": 50}),
    (make_moe_classification, {"n_samples": 50, "n_classes": 3}),
    (make_piecewise_linear, {"n_samples": 50}),
    (make_xor, {"n_samples": 50, "noise": 0.1}),
    (make_hierarchical_regimes, {"n_samples": 50}),
]


@pytest.mark.parametrize(
    "make, kwargs", GENERATORS, ids=[make.__name__ for make, _ in GENERATORS]
)
def test_generators_reproducible(make, kwargs):
    X1, y1 = make(**kwargs, random_state=0)
    X2, y2 = make(**kwargs, random_state=0)
    X3, _ = make(**kwargs, random_state=1)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    rng = np.random.RandomState(0)
    X4, _ = make(**kwargs, random_state=rng)
    assert_array_equal(X4, X1)
    assert X1.dtype == np.float64
    assert X1.shape[0] == 50 and y1.shape == (50,)
    assert np.isfinite(X1).all() and np.isfinite(y1).all()


def test_make_moe_regression_shapes():
    X, y, params = make_moe_regression(
        100, n_features=4, n_experts=5, random_state=0, return_params=True
    )
    assert X.shape == (100, 4) and y.shape == (100,)
    assert y.dtype == np.float64
    assert params["gate_coef"].shape == (4, 5)
    assert params["gate_intercept"].shape == (5,)
    assert params["expert_coef"].shape == (5, 4)
    assert params["expert_intercept"].shape == (5,)
    assert_array_equal(params["noise_std"], np.full(5, 0.1))
    assert params["expert_index"].shape == (100,)
    assert params["expert_index"].dtype == np.int64
    # intercepts 3 apart, centred on 0
    assert_allclose(np.sort(params["expert_intercept"]), [-6.0, -3.0, 0.0, 3.0, 6.0])


def test_make_moe_regression_params_generate_data():
    noise = np.array([0.1, 0.3, 0.5])
    X, y, params = make_moe_regression(
        3000, n_experts=3, noise=noise, random_state=0, return_params=True
    )
    z = params["expert_index"]
    assert_array_equal(params["noise_std"], noise)
    for k in range(3):
        rows = z == k
        resid = y[rows] - (
            X[rows] @ params["expert_coef"][k] + params["expert_intercept"][k]
        )
        assert abs(resid.mean()) < 4 * noise[k] / np.sqrt(rows.sum())
        assert resid.std() == pytest.approx(noise[k], rel=0.15)
        # under any other expert the residuals are much larger (the closest
        # pair, experts 2 and 1, at 3.8 times expert 2's noise)
        for j in set(range(3)) - {k}:
            other = y[rows] - (
                X[rows] @ params["expert_coef"][j] + params["expert_intercept"][j]
            )
            assert np.sqrt(np.mean(other**2)) > 3 * noise[k]

    # the sampled experts follow the gate probabilities
    gate = softmax(X @ params["gate_coef"] + params["gate_intercept"], axis=1)
    freq = np.bincount(z, minlength=3) / len(z)
    assert_allclose(freq, gate.mean(axis=0), atol=0.03)
    # each expert owns a good share of the data (1/3 by construction)
    assert_allclose(gate.mean(axis=0), np.full(3, 1 / 3), atol=0.04)
    assert freq.min() > 0.25
    # rows sampled from expert k have on average the largest gate for k
    for k in range(3):
        assert gate[z == k].mean(axis=0).argmax() == k


@pytest.mark.parametrize("n_features, n_experts", [(1, 3), (2, 5), (3, 2), (4, 4)])
def test_make_moe_regression_balanced_regions(n_features, n_experts):
    _, _, params = make_moe_regression(
        4000,
        n_features=n_features,
        n_experts=n_experts,
        gate_scale=30.0,
        random_state=1,
        return_params=True,
    )
    share = np.bincount(params["expert_index"], minlength=n_experts) / 4000
    assert share.min() > 0.6 / n_experts
    assert share.max() < 1.4 / n_experts


def test_make_moe_regression_gate_scale_sharpness():
    def mean_max_gate(scale):
        X, _, p = make_moe_regression(
            2000, gate_scale=scale, random_state=0, return_params=True
        )
        return softmax(X @ p["gate_coef"] + p["gate_intercept"], axis=1).max(1).mean()

    assert mean_max_gate(0.0) == pytest.approx(1 / 3)
    soft, default, sharp = mean_max_gate(0.5), mean_max_gate(3.0), mean_max_gate(30.0)
    assert soft < default < sharp
    assert sharp > 0.95


def test_make_moe_regression_noiseless_is_exact():
    X, y, p = make_moe_regression(
        200, n_features=3, noise=0.0, random_state=3, return_params=True
    )
    z = p["expert_index"]
    pred = np.einsum("ij,ij->i", X, p["expert_coef"][z]) + p["expert_intercept"][z]
    assert_allclose(y, pred, rtol=0, atol=1e-12)


def test_make_moe_classification_params_generate_data():
    X, y, p = make_moe_classification(
        4000, n_features=2, n_experts=2, n_classes=3, random_state=0, return_params=True
    )
    assert X.shape == (4000, 2) and y.shape == (4000,)
    assert y.dtype == np.int64
    assert set(np.unique(y).tolist()) == {0, 1, 2}
    assert p["gate_coef"].shape == (2, 2)
    assert p["gate_intercept"].shape == (2,)
    assert p["expert_coef"].shape == (2, 2, 3)
    assert p["expert_intercept"].shape == (2, 3)
    assert p["expert_index"].shape == (4000,)
    assert_allclose(p["expert_coef"].sum(axis=2), 0.0, atol=1e-12)
    z = p["expert_index"]
    gate = softmax(X @ p["gate_coef"] + p["gate_intercept"], axis=1)
    assert_allclose(np.bincount(z) / len(z), gate.mean(axis=0), atol=0.03)
    for k in range(2):
        rows = z == k
        proba = softmax(
            X[rows] @ p["expert_coef"][k] + p["expert_intercept"][k], axis=1
        )
        freq = np.bincount(y[rows], minlength=3) / rows.sum()
        assert_allclose(freq, proba.mean(axis=0), atol=0.04)
        # the true expert explains its rows' labels better than the other one
        other = softmax(
            X[rows] @ p["expert_coef"][1 - k] + p["expert_intercept"][1 - k], axis=1
        )
        ll_true = np.log(proba[np.arange(rows.sum()), y[rows]]).mean()
        ll_other = np.log(other[np.arange(rows.sum()), y[rows]]).mean()
        assert ll_true > ll_other + 0.1


def test_make_moe_classification_expert_scale():
    # expert_scale=0: every expert predicts from its intercept only
    X, y, p = make_moe_classification(
        2000, expert_scale=0.0, random_state=0, return_params=True
    )
    assert_array_equal(p["expert_coef"], np.zeros((2, 2, 2)))
    # a large scale makes labels nearly deterministic given the expert
    X, y, p = make_moe_classification(
        2000, expert_scale=50.0, random_state=0, return_params=True
    )
    z = p["expert_index"]
    logits = np.einsum("ij,ijc->ic", X, p["expert_coef"][z]) + p["expert_intercept"][z]
    assert np.mean(logits.argmax(axis=1) == y) > 0.97


def test_make_piecewise_linear():
    X, y, p = make_piecewise_linear(2000, noise=0.2, random_state=0, return_params=True)
    assert X.shape == (2000, 1) and y.shape == (2000,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert -3 <= X.min() and X.max() <= 3
    assert_allclose(p["breakpoints"], [-1.0, 1.0])
    assert_allclose(p["slopes"], [1.0, -2.0, 1.5])
    assert_allclose(p["intercepts"], [0.0, -3.0, -6.5])
    assert p["noise"] == 0.2
    # continuity: neighbouring lines meet at each breakpoint
    b, s, c = p["breakpoints"], p["slopes"], p["intercepts"]
    assert_allclose(c[:-1] + s[:-1] * b, c[1:] + s[1:] * b, atol=1e-12)
    # segment membership follows the breakpoints
    assert_array_equal(p["segment"], (X[:, 0] >= -1).astype(int) + (X[:, 0] >= 1))
    # residuals about the true function have the noise's std
    f = c[p["segment"]] + s[p["segment"]] * X[:, 0]
    assert (y - f).std() == pytest.approx(0.2, rel=0.1)


def test_make_piecewise_linear_noiseless_matches_interpolation():
    breakpoints, slopes = (-2.0, 0.5, 2.0), (0.5, -1.0, 3.0, 0.0)
    X, y, p = make_piecewise_linear(
        500,
        breakpoints=breakpoints,
        slopes=slopes,
        noise=0.0,
        x_range=(-4, 4),
        random_state=0,
        return_params=True,
    )
    # a continuous piecewise-linear function is fixed by its values at the knots
    knots = np.array([-4.0, *breakpoints, 4.0])
    seg = np.searchsorted(breakpoints, knots, side="right")
    values = p["intercepts"][seg] + p["slopes"][seg] * knots
    assert_allclose(y, np.interp(X[:, 0], knots, values), atol=1e-12)
    assert_allclose(np.diff(values) / np.diff(knots), slopes, atol=1e-12)


def test_make_piecewise_linear_single_line():
    X, y, p = make_piecewise_linear(
        100,
        breakpoints=(),
        slopes=(2.0,),
        noise=0.0,
        random_state=0,
        return_params=True,
    )
    assert_allclose(y, 2.0 * X[:, 0])
    assert p["intercepts"].tolist() == [0.0]


def test_make_xor_sign_rule():
    X, y = make_xor(1000, random_state=0)
    assert X.shape == (1000, 2) and X.dtype == np.float64
    assert y.dtype == np.int64
    assert np.abs(X).max() <= 1.0
    assert_array_equal(y, (np.sign(X[:, 0]) * np.sign(X[:, 1]) > 0).astype(int))
    assert 0.45 < y.mean() < 0.55


def test_make_xor_noise_flips_labels():
    X, y = make_xor(5000, noise=0.2, random_state=0)
    clean = (X[:, 0] * X[:, 1] > 0).astype(int)
    assert np.mean(y != clean) == pytest.approx(0.2, abs=0.02)


def test_make_xor_needs_a_mixture():
    X, y = make_xor(2000, random_state=0)
    # one logistic model is at chance level
    single = LogisticRegression().fit(X, y)
    assert single.score(X, y) < 0.65
    # two logistic experts in x1, gated on the sign of x0, solve it
    right = X[:, 0] > 0
    pred = np.empty_like(y)
    slopes = []
    for side in (right, ~right):
        expert = LogisticRegression(C=100.0).fit(X[side][:, [1]], y[side])
        pred[side] = expert.predict(X[side][:, [1]])
        slopes.append(expert.coef_[0, 0])
    assert np.mean(pred == y) > 0.98
    assert slopes[0] > 0 > slopes[1]
    # the same with a soft gate sigmoid(20 x0) and experts sigmoid(+-20 x1)
    gate = 1 / (1 + np.exp(-20 * X[:, 0]))
    p1 = gate / (1 + np.exp(-20 * X[:, 1])) + (1 - gate) / (1 + np.exp(20 * X[:, 1]))
    assert np.mean((p1 > 0.5) == y) > 0.98


def test_make_hierarchical_regimes():
    X, y, p = make_hierarchical_regimes(
        4000, noise=0.1, random_state=0, return_params=True
    )
    assert X.shape == (4000, 2) and y.shape == (4000,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert np.abs(X).max() <= 2.0
    t = p["thresholds"]
    assert t == {"x0": 0.0, "x1_left": 0.5, "x1_right": -0.5}
    x0, x1, r = X[:, 0], X[:, 1], p["regime"]
    expected = np.where(
        x0 <= t["x0"],
        np.where(x1 <= t["x1_left"], 0, 1),
        np.where(x1 <= t["x1_right"], 2, 3),
    )
    assert_array_equal(r, expected)
    # a real two-level hierarchy: the second split differs by branch
    assert x1[r == 0].max() <= 0.5 < x1[r == 1].min()
    assert x1[r == 2].max() <= -0.5 < x1[r == 3].min()
    share = np.bincount(r, minlength=4) / len(r)
    assert_allclose(share, [0.3125, 0.1875, 0.1875, 0.3125], atol=0.03)
    assert p["coef"].shape == (4, 2) and p["intercept"].shape == (4,)
    assert len({tuple(row) for row in p["coef"]}) == 4
    for k in range(4):
        rows = r == k
        resid = y[rows] - (X[rows] @ p["coef"][k] + p["intercept"][k])
        assert resid.std() == pytest.approx(0.1, rel=0.15)
        assert abs(resid.mean()) < 0.02


def test_make_hierarchical_regimes_extra_features():
    X, y, p = make_hierarchical_regimes(
        300, n_features=5, noise=0.0, random_state=0, return_params=True
    )
    assert X.shape == (300, 5)
    assert_array_equal(p["coef"][:, 2:], np.zeros((4, 3)))
    z = p["regime"]
    assert_allclose(
        y, np.einsum("ij,ij->i", X, p["coef"][z]) + p["intercept"][z], atol=1e-12
    )
    # the regimes depend on x0 and x1 only
    expected = 2 * (X[:, 0] > 0) + (X[:, 1] > np.where(X[:, 0] > 0, -0.5, 0.5))
    assert_array_equal(z, expected)


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (make_moe_regression, {"n_samples": 0}, "n_samples"),
        (make_moe_regression, {"n_samples": 10.5}, "n_samples"),
        (make_moe_regression, {"n_features": 0}, "n_features"),
        (make_moe_regression, {"n_experts": True}, "n_experts"),
        (make_moe_regression, {"noise": -0.1}, "noise"),
        (make_moe_regression, {"noise": [0.1, 0.2]}, "noise must have length 3"),
        (make_moe_regression, {"noise": np.nan}, "noise must be finite"),
        (make_moe_regression, {"gate_scale": -1.0}, "gate_scale"),
        (make_moe_regression, {"gate_scale": "big"}, "gate_scale"),
        (make_moe_classification, {"n_classes": 1}, "n_classes"),
        (make_moe_classification, {"expert_scale": -2.0}, "expert_scale"),
        (make_moe_classification, {"gate_scale": np.inf}, "gate_scale"),
        (make_piecewise_linear, {"breakpoints": (1.0, -1.0)}, "strictly increasing"),
        (make_piecewise_linear, {"slopes": (1.0, 2.0)}, "slopes must have length 3"),
        (make_piecewise_linear, {"x_range": (3, -3)}, "low < high"),
        (make_piecewise_linear, {"x_range": (0, 1, 2)}, "x_range"),
        (make_piecewise_linear, {"noise": -1.0}, "noise"),
        (make_xor, {"noise": 0.7}, "noise must be <= 0.5"),
        (make_xor, {"n_samples": -5}, "n_samples"),
        (make_hierarchical_regimes, {"n_features": 1}, "n_features"),
        (make_hierarchical_regimes, {"noise": -0.5}, "noise"),
    ],
)
def test_generators_validate_arguments(make, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)
