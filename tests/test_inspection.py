"""Tests of skmoe.inspection: the displays' computed arrays and the text summary."""

import copy
import sys

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

import skmoe
from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle, make_moe_regression, make_xor
from skmoe.inspection import (
    ExpertsDisplay,
    ExpertUsageDisplay,
    GateDisplay,
    export_text,
    summary,
)
from skmoe.inspection._utils import _expert_colors

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _fmt(value, precision=4):
    return f"{float(value):.{precision}g}"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def mcycle():
    X, y = load_mcycle(return_X_y=True)
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    return moe, X, y


@pytest.fixture(scope="module")
def xor():
    X, y = make_xor(n_samples=300, random_state=0)
    clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    return clf, X, y


@pytest.fixture(scope="module")
def three_features():
    X, y = make_moe_regression(n_samples=300, n_features=3, n_experts=3, random_state=0)
    moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    return moe, X, y


# ---------------------------------------------------------------------------
# GateDisplay
# ---------------------------------------------------------------------------
def test_gate_display_one_feature(mcycle):
    moe, X, y = mcycle
    disp = GateDisplay.from_estimator(moe, X, grid_resolution=57)
    assert disp.X_grid.shape == (57, 1)
    assert disp.gate_proba.shape == (57, 3)
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(disp.X_grid))
    assert_allclose(disp.gate_proba.sum(axis=1), 1.0)
    grid = disp.grid_values[0]
    assert_array_equal(grid, disp.X_grid[:, 0])
    # The grid covers the data, widened by eps on each side.
    span = X.max() - X.min()
    assert_allclose([grid[0], grid[-1]], [X.min() - 0.05 * span, X.max() + 0.05 * span])
    assert len(disp.lines_) == 3
    for k, line in enumerate(disp.lines_):
        assert_allclose(line.get_ydata(), disp.gate_proba[:, k])
    assert disp.ax_.figure is disp.figure_
    assert disp.features == [0]
    assert disp.feature_names == ["x0"]


def test_gate_display_two_features_regions(xor):
    clf, X, y = xor
    disp = GateDisplay.from_estimator(clf, X, y=y, grid_resolution=30)
    x0, x1 = disp.grid_values
    assert disp.gate_proba.shape == (30 * 30, 2)
    assert_allclose(disp.gate_proba, clf.predict_gate_proba(disp.X_grid))
    # Meshgrid order: the first feature varies fastest.
    assert_array_equal(disp.X_grid[:30, 0], x0)
    assert_array_equal(disp.X_grid[::30, 1], x1)
    # Each pixel has the colour of the most probable expert, more opaque
    # where the gate is surer.
    image = disp.surface_.get_array()
    assert image.shape == (30, 30, 4)
    proba = disp.gate_proba.reshape(30, 30, 2)
    best = proba.argmax(axis=2)
    colors = _expert_colors(2)
    assert_allclose(image[..., :3], colors[best][..., :3])
    top = proba.max(axis=2).ravel()
    alpha = image[..., 3].ravel()
    order = np.argsort(top)
    assert np.all(np.diff(alpha[order]) >= -1e-12)
    assert alpha.min() >= 0.15 - 1e-12 and alpha.max() <= 0.8 + 1e-12
    # One scatter per class.
    assert len(disp.scatter_) == 2
    assert sum(s.get_offsets().shape[0] for s in disp.scatter_) == X.shape[0]


def test_gate_display_contour(xor):
    clf, X, _ = xor
    disp = GateDisplay.from_estimator(
        clf, X, kind="contour", expert=1, grid_resolution=20
    )
    assert disp.surface_ is not None
    assert len(disp.figure_.axes) == 2  # the plot and its colorbar
    with pytest.raises(ValueError, match=r"expert must be an integer in \[0, 1\]"):
        disp.plot(kind="contour", expert=2)
    with pytest.raises(ValueError, match="kind='curves' is not available"):
        disp.plot(kind="curves")


def test_gate_display_other_features_fixed(three_features):
    moe, X, _ = three_features
    disp = GateDisplay.from_estimator(moe, X, features=[2, 0], grid_resolution=10)
    assert disp.features == [2, 0]
    assert_allclose(disp.X_grid[:, 1], np.median(X[:, 1]))
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(disp.X_grid))
    fixed = np.array([9.0, -1.5, 9.0])
    disp = GateDisplay.from_estimator(
        moe, X, features=0, fixed_values=fixed, grid_resolution=10
    )
    assert_allclose(disp.X_grid[:, 1:], np.tile(fixed[1:], (10, 1)))
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(disp.X_grid))


def test_gate_display_feature_names_and_pipeline():
    data = load_mcycle(as_frame=True)
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    ).fit(data.data, data.target)
    disp = GateDisplay.from_estimator(pipe, data.data, features="times")
    assert disp.feature_names == ["times"]
    assert disp.ax_.get_xlabel() == "times"
    # The pipeline's scaler is applied before the gate.
    grid = pd.DataFrame(disp.X_grid, columns=["times"])
    expected = pipe[-1].predict_gate_proba(pipe[0].transform(grid))
    assert_allclose(disp.gate_proba, expected)
    with pytest.raises(ValueError, match="not one of the estimator's features"):
        GateDisplay.from_estimator(pipe, data.data, features="accel")


def test_gate_display_errors(mcycle, three_features):
    moe, X, y = mcycle
    with pytest.raises(ValueError, match="out of range"):
        GateDisplay.from_estimator(moe, X, features=[1])
    with pytest.raises(ValueError, match="given by name"):
        GateDisplay.from_estimator(moe, X, features="times")
    with pytest.raises(ValueError, match="X has 2 features"):
        GateDisplay.from_estimator(moe, np.hstack([X, X]))
    moe3, X3, _ = three_features
    with pytest.raises(ValueError, match="one or two features"):
        GateDisplay.from_estimator(moe3, X3, features=[0, 1, 2])
    with pytest.raises(TypeError, match="fitted mixture of experts"):
        GateDisplay.from_estimator(LinearRegression().fit(X, y), X)
    with pytest.raises(NotFittedError):
        GateDisplay.from_estimator(MixtureOfExpertsRegressor(), X)


# ---------------------------------------------------------------------------
# ExpertsDisplay
# ---------------------------------------------------------------------------
def test_experts_display_regressor(mcycle):
    moe, X, y = mcycle
    disp = ExpertsDisplay.from_estimator(moe, X, y, kind="slice", grid_resolution=80)
    assert disp.grid.shape == (80,)
    assert_allclose(disp.expert_predictions, moe.predict_experts(disp.X_grid))
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(disp.X_grid))
    mean, std = moe.predict(disp.X_grid, return_std=True)
    assert_allclose(disp.mean, mean)
    assert_allclose(disp.std, std)
    resp = moe.predict_responsibilities(X, y)
    assert_allclose(disp.responsibilities, resp)
    assert_array_equal(disp.assignment, resp.argmax(axis=1))
    assert_allclose(disp.x, X[:, 0])
    assert_allclose(disp.y, y)

    # Data coloured by their most responsible expert.
    colors = _expert_colors(3)
    assert_allclose(disp.scatter_.get_facecolors(), colors[disp.assignment])
    # Line widths follow the gate probability (mean over each segment).
    for k, collection in enumerate(disp.expert_lines_):
        weight = 0.5 * (disp.gate_proba[:-1, k] + disp.gate_proba[1:, k])
        assert_allclose(collection.get_linewidths(), 6.0 * weight)
        segments = collection.get_segments()
        assert len(segments) == 79
        assert_allclose(
            segments[0],
            [
                [disp.grid[0], disp.expert_predictions[0, k]],
                [disp.grid[1], disp.expert_predictions[1, k]],
            ],
        )
    assert_allclose(disp.mean_line_.get_ydata(), mean)
    # The band spans mean +- 2 std.
    band = disp.band_.get_paths()[0].vertices[:, 1]
    assert_allclose(band.min(), np.min(mean - 2 * std))
    assert_allclose(band.max(), np.max(mean + 2 * std))


def test_experts_display_alpha_and_no_data(mcycle):
    moe, X, y = mcycle
    disp = ExpertsDisplay.from_estimator(
        moe, X, kind="slice", grid_resolution=40, encode="alpha", show_band=False
    )
    assert disp.responsibilities is None and disp.assignment is None
    assert disp.scatter_ is None and disp.band_ is None
    for k, collection in enumerate(disp.expert_lines_):
        weight = 0.5 * (disp.gate_proba[:-1, k] + disp.gate_proba[1:, k])
        assert_allclose(collection.get_colors()[:, 3], weight)
    with pytest.raises(ValueError, match="encode"):
        disp.plot(encode="width")


def test_experts_display_classifier():
    X, y = make_xor(n_samples=300, random_state=0)
    X = X[:, :1]
    y = np.where(y == 1, "yes", "no")
    clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X, y)
    disp = ExpertsDisplay.from_estimator(clf, X, y, kind="slice", grid_resolution=30)
    assert disp.class_of_interest == "yes"
    assert disp.std is None and disp.band_ is None
    assert_allclose(
        disp.expert_predictions, clf.predict_experts_proba(disp.X_grid)[:, :, 1]
    )
    assert_allclose(disp.mean, clf.predict_proba(disp.X_grid)[:, 1])
    assert_array_equal(disp.y, (y == "yes").astype(float))
    disp = ExpertsDisplay.from_estimator(
        clf, X, y, kind="slice", class_of_interest="no"
    )
    assert_allclose(disp.mean, clf.predict_proba(disp.X_grid)[:, 0])
    with pytest.raises(ValueError, match="class_of_interest"):
        ExpertsDisplay.from_estimator(clf, X, y, class_of_interest="maybe")


def test_experts_display_pipeline(mcycle):
    _, X, y = mcycle
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    ).fit(X, y)
    disp = ExpertsDisplay.from_estimator(pipe, X, y, kind="slice", grid_resolution=25)
    Z = pipe[0].transform(disp.X_grid)
    assert_allclose(disp.expert_predictions, pipe[-1].predict_experts(Z))
    assert_allclose(disp.mean, pipe.predict(disp.X_grid))
    assert_allclose(
        disp.responsibilities,
        pipe[-1].predict_responsibilities(pipe[0].transform(X), y),
    )


# ---------------------------------------------------------------------------
# ExpertUsageDisplay
# ---------------------------------------------------------------------------
def test_expert_usage_display(mcycle):
    moe, X, y = mcycle
    disp = ExpertUsageDisplay.from_estimator(moe, X)
    gate = moe.predict_gate_proba(X)
    counts = np.bincount(gate.argmax(axis=1), minlength=3)
    assert_array_equal(disp.counts, counts)
    assert disp.counts.sum() == X.shape[0]
    assert_allclose(disp.routed_shares, counts / X.shape[0])
    assert_allclose(disp.routed_shares.sum(), 1.0)
    assert_allclose(disp.gate_shares, gate.mean(axis=0))
    assert_allclose(disp.gate_shares.sum(), 1.0)
    assert_allclose(disp.training_shares, moe.expert_shares_)
    assert set(disp.bars_) == {"routed", "gate", "training"}
    heights = [bar.get_height() for bar in disp.bars_["routed"]]
    assert_allclose(heights, disp.routed_shares)


def test_expert_usage_counts_match_hard_routing(mcycle):
    """The rows counted for an expert are the rows hard routing sends it."""
    moe, X, y = mcycle
    disp = ExpertUsageDisplay.from_estimator(moe, X)
    hard = copy.deepcopy(moe).set_params(routing="hard")
    owner = moe.predict_gate_proba(X).argmax(axis=1)
    assert_allclose(hard.predict(X), moe.predict_experts(X)[np.arange(len(y)), owner])
    assert_array_equal(np.bincount(owner, minlength=3), disp.counts)


def test_expert_usage_sample_weight_and_training_only(mcycle):
    moe, X, y = mcycle
    weight = np.linspace(0.5, 2.0, X.shape[0])
    disp = ExpertUsageDisplay.from_estimator(moe, X, sample_weight=weight)
    assignment = moe.predict_gate_proba(X).argmax(axis=1)
    expected = np.bincount(assignment, weights=weight, minlength=3)
    assert_allclose(disp.counts, expected)
    assert_allclose(disp.routed_shares, expected / weight.sum())
    assert_allclose(disp.routed_shares.sum(), 1.0)

    disp = ExpertUsageDisplay.from_estimator(moe)
    assert disp.routed_shares is None and disp.gate_shares is None
    assert list(disp.bars_) == ["training"]
    assert_allclose(
        [bar.get_height() for bar in disp.bars_["training"]], moe.expert_shares_
    )
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(5,\)"):
        ExpertUsageDisplay.from_estimator(moe, X, sample_weight=weight[:5])
    with pytest.raises(ValueError, match="Unknown series"):
        disp.plot(show=("bogus",))


def test_display_arguments_are_checked_before_computing(mcycle, xor, monkeypatch):
    moe, X, y = mcycle
    # A single series may be given as a string (it was split into letters).
    disp = ExpertUsageDisplay.from_estimator(moe, X, show="routed")
    assert list(disp.bars_) == ["routed"]
    # All-zero weights gave NaN shares and a matplotlib error.
    with pytest.raises(ValueError, match="sample weights are all zero"):
        ExpertUsageDisplay.from_estimator(moe, X, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative values"):
        ExpertUsageDisplay.from_estimator(moe, X, sample_weight=-np.ones(len(y)))

    # Nothing is computed when an argument is wrong.
    def no_work(*args, **kwargs):
        raise AssertionError("computed before checking the arguments")

    monkeypatch.setattr(skmoe.inspection._utils._RawRows, "grid", no_work)
    monkeypatch.setattr(skmoe.inspection._utils._RawRows, "with_feature", no_work)
    clf, Xc, _ = xor
    for expert in (1.5, 2, -1, True):
        with pytest.raises(ValueError, match=r"expert must be an integer in \[0, 1\]"):
            GateDisplay.from_estimator(clf, Xc, kind="contour", expert=expert)
    with pytest.raises(ValueError, match="kind='curves' is not available"):
        GateDisplay.from_estimator(clf, Xc, kind="curves")
    # A misspelt keyword (features for feature) named plot(), after the work.
    with pytest.raises(
        TypeError,
        match=r"ExpertsDisplay.from_estimator\(\) got "
        r"unexpected keyword argument\(s\) \['features'\]",
    ):
        ExpertsDisplay.from_estimator(moe, X, y, features=[0])
    with pytest.raises(TypeError, match="GateDisplay.from_estimator"):
        GateDisplay.from_estimator(moe, X, colour="red")
    with pytest.raises(TypeError, match="ExpertUsageDisplay.from_estimator"):
        ExpertUsageDisplay.from_estimator(moe, X, shwo="gate")


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------
def test_summary_regressor_numbers(mcycle):
    moe, X, y = mcycle
    text = summary(moe)
    assert text.startswith("MixtureOfExpertsRegressor: 3 experts, 1 feature")
    assert f"Fit: {moe.n_iter_} EM iterations, converged" in text
    assert f"training log-likelihood: {_fmt(moe.log_likelihood_)}" in text
    assert _fmt(moe.lower_bound_) in text
    lines = text.splitlines()
    # One row per expert: index, share, noise std, type.
    for k in range(3):
        row = next(
            line for line in lines if line.split()[:1] == [str(k)] and "Linear" in line
        )
        fields = row.split()
        assert fields[1] == _fmt(moe.expert_shares_[k])
        assert fields[2] == _fmt(np.sqrt(moe.noise_variance_[k]))
        assert fields[3] == "LinearRegression"
    # Expert coefficients and gate coefficients.
    coef_block = lines[lines.index("Expert coefficients (linear experts)") + 2 :][:3]
    gate_start = next(i for i, line in enumerate(lines) if line.startswith("Gate:"))
    gate_block = lines[gate_start + 2 : gate_start + 5]
    for k, expert in enumerate(moe.experts_):
        assert coef_block[k].split() == [
            str(k),
            _fmt(expert.intercept_),
            _fmt(expert.coef_[0]),
        ]
        assert gate_block[k].split() == [
            str(k),
            _fmt(moe.gate_.intercept_[k]),
            _fmt(moe.gate_.coef_[0, k]),
        ]


def test_summary_and_export_text_check_their_arguments(mcycle):
    from sklearn.utils._param_validation import InvalidParameterError

    moe, X, y = mcycle
    # X without y was ignored silently.
    for data in ({"X": X}, {"y": y}):
        with pytest.raises(ValueError, match="give both X and y, or neither"):
            summary(moe, **data)
    with pytest.raises(InvalidParameterError, match="'precision' parameter"):
        summary(moe, precision=-1)
    with pytest.raises(InvalidParameterError, match="'max_features' parameter"):
        summary(moe, max_features=1.5)
    for kwargs in ({"decimals": -1}, {"decimals": "x"}, {"max_coef": 1.5}):
        with pytest.raises(InvalidParameterError, match=f"'{next(iter(kwargs))}'"):
            export_text(moe, **kwargs)
    with pytest.raises(InvalidParameterError, match="'max_coef' parameter"):
        export_text(moe, max_coef=-1)


def test_summary_with_data_and_precision(mcycle):
    moe, X, y = mcycle
    text = summary(moe, X, y, precision=6)
    assert f"BIC {_fmt(moe.bic(X, y), 6)}" in text
    assert f"AIC {_fmt(moe.aic(X, y), 6)}" in text
    assert f"log-likelihood {_fmt(moe.score_samples(X, y).sum(), 6)}" in text
    assert _fmt(moe.expert_shares_[0], 6) in text


def test_summary_classifier_and_pipeline(xor):
    clf, X, y = xor
    text = summary(clf)
    assert "MixtureOfExpertsClassifier: 2 experts, 2 features" in text
    assert "classes: 0, 1" in text
    assert "noise std" not in text
    for k, expert in enumerate(clf.experts_):
        assert f"{_fmt(expert.coef_[0, 0])}" in text
        assert f"{_fmt(clf.gate_.coef_[1, k])}" in text
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsClassifier(n_experts=2, random_state=0)
    ).fit(X, y)
    text = summary(pipe)
    assert "preprocessing: StandardScaler" in text
    assert _fmt(pipe[-1].gate_.intercept_[0]) in text


def test_summary_tree_experts_and_many_features(three_features):
    moe, X, y = three_features
    trees = MixtureOfExpertsRegressor(
        n_experts=2, expert=DecisionTreeRegressor(max_depth=2), random_state=0
    ).fit(X, y)
    text = summary(trees)
    for expert in trees.experts_:
        assert f"depth {expert.get_depth()}, {expert.get_n_leaves()} leaves" in text
    assert "Expert coefficients" not in text
    text = summary(moe, max_features=2)
    assert "not shown (3 features > max_features=2)" in text
    assert "see gate_.coef_" in text


def test_summary_not_converged_warns_in_text(mcycle):
    _, X, y = mcycle
    with pytest.warns(Warning):
        moe = MixtureOfExpertsRegressor(n_experts=3, max_iter=2, random_state=0).fit(
            X, y
        )
    assert "did NOT converge" in summary(moe)


@pytest.mark.parametrize(
    "batch_size, unit", [("auto", "L-BFGS iterations"), (64, "epochs")]
)
def test_summary_names_what_the_gradient_solver_counts(mcycle, batch_size, unit):
    _, X, y = mcycle
    moe = MixtureOfExpertsRegressor(
        n_experts=2, solver="gradient", batch_size=batch_size, random_state=0
    ).fit(X, y)
    status = "converged" if moe.converged_ else "did NOT converge"
    assert f"Fit: {moe.n_iter_} {unit}, {status}" in summary(moe)


def test_summary_after_partial_fit_reports_the_stream(mcycle, capsys):
    # It used to say "N EM iterations, did NOT converge" and call the last
    # chunk's progressive log-likelihood the training log-likelihood.
    _, X, y = mcycle
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0, verbose=1)
    for i in range(3):
        moe.partial_fit(X[i::3], y[i::3])
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == [
        f"partial_fit call {i}" for i in (1, 2, 3)
    ]
    text = summary(moe)
    assert "Fit: 3 partial_fit calls (no convergence test)" in text
    assert "did NOT converge" not in text and "EM iterations" not in text
    assert f"last chunk's progressive log-likelihood: {moe.log_likelihood_:.4g}" in text


@pytest.mark.skipif(
    not hasattr(skmoe, "HierarchicalMixtureOfExpertsRegressor"),
    reason="no hierarchical estimator",
)
def test_inspection_of_hierarchical_mixture(mcycle):
    _, X, y = mcycle
    hme = skmoe.HierarchicalMixtureOfExpertsRegressor(random_state=0).fit(X, y)
    n_leaves = hme.predict_gate_proba(X).shape[1]
    disp = GateDisplay.from_estimator(hme, X, grid_resolution=20)
    assert disp.gate_proba.shape == (20, n_leaves)
    assert_allclose(disp.gate_proba, hme.predict_gate_proba(disp.X_grid))
    disp = ExpertUsageDisplay.from_estimator(hme, X)
    assert_allclose(disp.routed_shares.sum(), 1.0)
    text = summary(hme)
    assert f"{n_leaves} experts" in text


# ---------------------------------------------------------------------------
# matplotlib is optional
# ---------------------------------------------------------------------------
def test_displays_without_matplotlib(mcycle, monkeypatch):
    moe, X, y = mcycle
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for call in (
        lambda: GateDisplay.from_estimator(moe, X),
        lambda: ExpertsDisplay.from_estimator(moe, X, y),
        lambda: ExpertUsageDisplay.from_estimator(moe, X),
    ):
        with pytest.raises(ImportError, match=r"pip install skmoe\[plot\]"):
            call()
    # The text summary needs no plotting library.
    assert "MixtureOfExpertsRegressor" in summary(moe)


# ---------------------------------------------------------------------------
# Pipelines: categorical raw columns, text views, the mixture's own methods
# ---------------------------------------------------------------------------
def _frame_with_category(n=240, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "x": rng.uniform(-2, 2, n),
            "color": rng.choice(["red", "blue", "blue"], n),
            "z": rng.normal(size=n),
        }
    )
    y = np.where(X.x > 0, 2 * X.x, -X.x) + (X.color == "red") + 0.1 * rng.normal(size=n)
    return X, y


def _encoding_pipeline(columns):
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), columns["color"]), remainder=StandardScaler()
        ),
        MixtureOfExpertsRegressor(n_experts=2, random_state=0),
    )


@pytest.mark.parametrize("container", ["frame", "category", "object_array"])
def test_displays_on_pipeline_with_categorical_column(container):
    # The displays converted X to float before the pipeline's encoder saw it,
    # and told the user to use the pipeline they were using.
    X, y = _frame_with_category()
    columns = {"color": ["color"], "x": "x", "z": "z"}
    if container == "category":
        X["color"] = X["color"].astype("category")
    elif container == "object_array":
        X = X.to_numpy(dtype=object)
        columns = {"color": [1], "x": 0, "z": 2}
    pipe = _encoding_pipeline(columns).fit(X, y)
    moe, pre = pipe[-1], pipe[:-1]

    disp = GateDisplay.from_estimator(pipe, X, features=columns["x"])
    grid = disp.X_grid
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(pre.transform(grid)))
    if container == "object_array":
        assert_array_equal(grid[:, 1], "blue")  # the most frequent colour
        assert_allclose(grid[:, 2].astype(float), np.median(X[:, 2].astype(float)))
        assert_allclose(grid[:, 0].astype(float), disp.grid_values[0])
    else:
        assert (grid["color"] == "blue").all()
        assert grid["color"].dtype == X["color"].dtype
        assert_allclose(grid["z"], np.median(X["z"]))
        assert_allclose(grid["x"], disp.grid_values[0])

    # Another colour held fixed, by name or index.
    key = "color" if container != "object_array" else 1
    disp = GateDisplay.from_estimator(
        pipe, X, features=columns["x"], fixed_values={key: "red"}
    )
    held = disp.X_grid[:, 1] if container == "object_array" else disp.X_grid["color"]
    assert (np.asarray(held) == "red").all()
    assert_allclose(disp.gate_proba, moe.predict_gate_proba(pre.transform(disp.X_grid)))

    disp = ExpertsDisplay.from_estimator(
        pipe, X, y, feature=columns["x"], kind="slice", grid_resolution=30
    )
    assert_allclose(
        disp.expert_predictions, moe.predict_experts(pre.transform(disp.X_grid))
    )
    assert_allclose(
        disp.responsibilities, moe.predict_responsibilities(pre.transform(X), y)
    )
    # A categorical feature cannot be an axis: the error says which to pick.
    with pytest.raises(ValueError, match="categorical.*plot a numeric feature"):
        GateDisplay.from_estimator(pipe, X, features=columns["color"][0])


def test_experts_display_average_on_pipeline_with_categorical_column(monkeypatch):
    X, y = _frame_with_category(n=120)
    pipe = _encoding_pipeline({"color": ["color"]}).fit(X, y)
    # Small chunks: the grid is evaluated a few values at a time, and the
    # last chunk is shorter.
    monkeypatch.setattr(skmoe.inspection._experts_display, "_CHUNK_ROWS", 250)
    disp = ExpertsDisplay.from_estimator(
        pipe, X, y, feature="x", kind="average", grid_resolution=9
    )
    for m, value in enumerate(disp.grid):
        rows = X.assign(x=value)
        Z = pipe[:-1].transform(rows)
        assert_allclose(disp.expert_predictions[m], pipe[-1].predict_experts(Z).mean(0))
        assert_allclose(disp.gate_proba[m], pipe[-1].predict_gate_proba(Z).mean(0))
        assert_allclose(disp.mean[m], pipe.predict(rows).mean())


# ---------------------------------------------------------------------------
# ExpertsDisplay: averages and individual lines
# ---------------------------------------------------------------------------
def _by_hand(moe, X, feature, grid):
    """Predictions on X with the feature set to each grid value, row by row."""
    experts, gate, mean, std = [], [], [], []
    for value in grid:
        rows = X.copy()
        rows[:, feature] = value
        experts.append(moe.predict_experts(rows))
        gate.append(moe.predict_gate_proba(rows))
        m, s = moe.predict(rows, return_std=True)
        mean.append(m)
        std.append(s)
    # (n_grid, n_samples, ...)
    return tuple(np.asarray(a) for a in (experts, gate, mean, std))


def test_experts_display_average_is_the_mean_over_rows(three_features, monkeypatch):
    moe, X, y = three_features
    monkeypatch.setattr(skmoe.inspection._experts_display, "_CHUNK_ROWS", 700)
    disp = ExpertsDisplay.from_estimator(
        moe, X, y, feature=1, kind="average", grid_resolution=11
    )
    assert disp.kind == "average" and disp.X_grid is None
    assert disp.individual_expert_predictions is None
    assert not disp.individual_lines_
    experts, gate, mean, std = _by_hand(moe, X, 1, disp.grid)
    assert_allclose(disp.expert_predictions, experts.mean(axis=1))
    assert_allclose(disp.gate_proba, gate.mean(axis=1))
    assert_allclose(disp.mean, mean.mean(axis=1))
    # The spread of the rows' predictive distributions mixed together:
    # E[y^2] - E[y]^2 over the rows.
    second_moment = (std**2 + mean**2).mean(axis=1)
    assert_allclose(disp.std, np.sqrt(second_moment - mean.mean(axis=1) ** 2))
    assert_allclose(disp.x, X[:, 1])
    # The curves drawn are the averages.
    assert_allclose(disp.mean_line_.get_ydata(), disp.mean)
    assert "averaged over the data" in disp.ax_.get_ylabel()
    # With one feature, averaging over the rows is the slice.
    Xm, ym = load_mcycle(return_X_y=True)
    one = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(Xm, ym)
    average = ExpertsDisplay.from_estimator(
        one, Xm, ym, kind="average", grid_resolution=20
    )
    slice_ = ExpertsDisplay.from_estimator(one, Xm, ym, grid_resolution=20)
    assert slice_.kind == "slice"  # the default for one feature
    assert slice_.ax_.get_ylabel() == "prediction"
    for name in ("expert_predictions", "gate_proba", "mean", "std"):
        assert_allclose(getattr(average, name), getattr(slice_, name))


def test_experts_display_individual_lines(three_features):
    moe, X, y = three_features
    disp = ExpertsDisplay.from_estimator(
        moe,
        X,
        feature=0,
        kind="individual",
        subsample=7,
        random_state=0,
        grid_resolution=12,
    )
    rows = disp.individual_rows
    assert rows.shape == (7,) and np.all(np.diff(rows) > 0)
    experts, gate, mean, _ = _by_hand(moe, X, 0, disp.grid)
    assert_allclose(disp.individual_expert_predictions, experts[:, rows].swapaxes(0, 1))
    assert_allclose(disp.individual_gate_proba, gate[:, rows].swapaxes(0, 1))
    assert_allclose(disp.individual_mean, mean[:, rows].T)
    # The averages still use every row.
    assert_allclose(disp.expert_predictions, experts.mean(axis=1))
    # Only individual lines are drawn; each expert's segments are as opaque as
    # the gate's probability of that expert on that row (times 20 / 7 -> 0.8).
    assert disp.mean_line_ is None and not disp.expert_lines_
    assert disp.band_ is None
    for k, collection in enumerate(disp.individual_lines_):
        assert len(collection.get_segments()) == 7 * 11
        g = disp.individual_gate_proba[:, :, k]
        expected = 0.8 * 0.5 * (g[:, :-1] + g[:, 1:])
        assert_allclose(collection.get_colors()[:, 3], expected.ravel())
    assert len(disp.individual_mean_lines_.get_segments()) == 7 * 11

    # The same random_state picks the same rows; a fraction picks int(f * n).
    again = ExpertsDisplay.from_estimator(
        moe, X, kind="both", subsample=7, random_state=0, grid_resolution=12
    )
    assert_array_equal(again.individual_rows, rows)
    assert again.mean_line_ is not None and again.band_ is not None
    frac = ExpertsDisplay.from_estimator(
        moe, X, kind="both", subsample=0.1, grid_resolution=5
    )
    assert frac.individual_rows.shape == (30,)
    # Default for several features: both, with every row when there are few.
    default = ExpertsDisplay.from_estimator(moe, X[:50], grid_resolution=5)
    assert default.kind == "both"
    assert_array_equal(default.individual_rows, np.arange(50))


def test_experts_display_kind_errors(three_features, mcycle):
    moe, X, y = three_features
    for subsample in (0, -3, 1.5, 0.0, True, "all"):
        with pytest.raises(ValueError, match="subsample must be"):
            ExpertsDisplay.from_estimator(moe, X, kind="both", subsample=subsample)
    with pytest.raises(ValueError, match="kind must be one of"):
        ExpertsDisplay.from_estimator(moe, X, kind="pdp")
    with pytest.raises(ValueError, match="only kind='slice' does"):
        ExpertsDisplay.from_estimator(moe, X, kind="average", fixed_values=[0, 0, 0])
    # fixed_values alone asks for a slice, as it always did.
    disp = ExpertsDisplay.from_estimator(
        moe, X, fixed_values=[0.0, 1.0, 2.0], grid_resolution=5
    )
    assert disp.kind == "slice"
    assert_allclose(disp.X_grid[:, 1:], np.tile([1.0, 2.0], (5, 1)))
    disp = ExpertsDisplay.from_estimator(moe, X, kind="average", grid_resolution=5)
    disp.kind = "both"
    with pytest.raises(ValueError, match="has none"):
        disp.plot()


def test_experts_display_on_xor_tells_the_truth(xor):
    """Along the feature the gate splits on, a slice at the other feature's
    median puts every expert near 0.5; the individual lines show each expert
    sure of the rows it is given (near 0 or 1)."""
    clf, X, y = xor
    assert clf.score(X, y) > 0.95
    gate_coef = np.abs(clf.gate_.coef_).sum(axis=1)
    feature = int(np.argmax(gate_coef))  # the gate's feature
    slice_ = ExpertsDisplay.from_estimator(clf, X, y, feature=feature, kind="slice")
    both = ExpertsDisplay.from_estimator(
        clf, X, y, feature=feature, kind="both", subsample=300
    )
    assert np.all(np.abs(slice_.expert_predictions - 0.5) < 0.3)
    in_charge = both.individual_gate_proba > 0.9
    sure = np.abs(both.individual_expert_predictions[in_charge] - 0.5)
    assert np.median(sure) > 0.4


def test_export_text_and_summary_accept_a_pipeline():
    # export_text(pipe) raised NotFittedError ("This Pipeline instance is not
    # fitted yet") on a fitted pipeline.
    X, y = _frame_with_category()
    pipe = _encoding_pipeline({"color": ["color"]}).fit(X, y)
    names = list(pipe[:-1].get_feature_names_out())
    text = export_text(pipe, decimals=3)
    assert text.startswith("MixtureOfExpertsRegressor: depth 1, branching 2")
    assert "preprocessing: ColumnTransformer" in text
    for expert in pipe[-1].experts_:
        coef = ", ".join(
            f"{name}={c:.3f}" for name, c in zip(names, expert.coef_, strict=True)
        )
        assert f"coef=[{coef}]" in text
    # summary names the same features.
    coef_header = next(
        line for line in summary(pipe).splitlines() if "intercept" in line
    )
    assert coef_header.split() == ["expert", "intercept", *names]
    # Names given by hand are those of the mixture's features.
    given = [f"a{j}" for j in range(len(names))]
    assert f"coef=[a0={pipe[-1].experts_[0].coef_[0]:.3f}, a1=" in export_text(
        pipe, feature_names=given
    )
    with pytest.raises(ValueError, match="feature_names has 3 names"):
        export_text(pipe, feature_names=["x", "color", "z"])
    with pytest.raises(NotFittedError):
        export_text(_encoding_pipeline({"color": ["color"]}))
    with pytest.raises(TypeError, match="fitted mixture of experts"):
        export_text(
            make_pipeline(StandardScaler(), LinearRegression()).fit(X[["x"]], y)
        )


@pytest.mark.parametrize("labels", [np.array([3, 7]), np.array(["no", "yes"])])
def test_classifier_labels_print_as_written(labels):
    # The axis read "P(y = np.int64(7))".
    X, y = make_xor(n_samples=200, random_state=0)
    y = labels[y]
    clf = MixtureOfExpertsClassifier(n_experts=2, random_state=0).fit(X[:, :1], y)
    disp = ExpertsDisplay.from_estimator(clf, X[:, :1], y, grid_resolution=10)
    assert disp.ax_.get_ylabel() == f"P(y = {labels[1]})"
    assert type(disp.class_of_interest) is type(labels[1].item())
    disp = ExpertsDisplay.from_estimator(
        clf, X[:, :1], y, class_of_interest=labels[0], grid_resolution=10
    )
    assert disp.ax_.get_ylabel() == f"P(y = {labels[0]})"
    disp = ExpertsDisplay.from_estimator(clf, X[:, :1], y, kind="average")
    assert disp.ax_.get_ylabel() == f"P(y = {labels[1]}), averaged over the data"


def test_from_estimator_signatures_agree():
    # GateDisplay took y keyword-only, ExpertsDisplay positionally.
    import inspect

    for cls in (GateDisplay, ExpertsDisplay, ExpertUsageDisplay):
        params = list(inspect.signature(cls.from_estimator).parameters.values())
        assert [p.name for p in params[:3]] == ["estimator", "X", "y"]
        assert params[2].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert params[2].default is None
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params[3:]), cls


def test_gate_display_takes_y_positionally(xor):
    clf, X, y = xor
    by_position = GateDisplay.from_estimator(clf, X, y, grid_resolution=10)
    by_keyword = GateDisplay.from_estimator(clf, X, y=y, grid_resolution=10)
    assert_array_equal(by_position.y_data, y)
    assert_array_equal(by_keyword.y_data, y)
    assert len(by_position.scatter_) == 2


def test_expert_usage_display_responsibility_on_given_data(mcycle):
    moe, X, y = mcycle
    weight = np.linspace(0.5, 2.0, X.shape[0])
    disp = ExpertUsageDisplay.from_estimator(moe, X, y, sample_weight=weight)
    resp = moe.predict_responsibilities(X, y)
    assert_allclose(disp.responsibility_shares, weight @ resp / weight.sum())
    assert_allclose(
        [bar.get_height() for bar in disp.bars_["responsibility"]],
        disp.responsibility_shares,
    )
    assert ExpertUsageDisplay.from_estimator(moe, X).responsibility_shares is None
    with pytest.raises(ValueError, match="y was given without X"):
        ExpertUsageDisplay.from_estimator(moe, None, y)


@pytest.mark.parametrize(
    "name, args, classifier",
    [
        ("predict_gate_proba", (), False),
        ("predict_experts", (), False),
        ("predict_responsibilities", ("y",), False),
        ("score_samples", ("y",), False),
        ("bic", ("y",), False),
        ("aic", ("y",), False),
        ("predict_experts_proba", (), True),
        ("predict_responsibilities", ("y",), True),
    ],
)
def test_mixture_methods_through_a_pipeline(name, args, classifier, mcycle, xor):
    # A Pipeline does not forward the methods only a mixture has.
    function = getattr(skmoe.inspection, name)
    if classifier:
        moe, X, y = xor
        Estimator = MixtureOfExpertsClassifier
    else:
        moe, X, y = mcycle
        Estimator = MixtureOfExpertsRegressor
    extra = [y for _ in args]
    scaler = StandardScaler().fit(X)
    pipe = make_pipeline(scaler, Estimator(n_experts=2, random_state=0)).fit(X, y)
    if name == "score_samples":  # forwarded, without y
        with pytest.raises(TypeError, match="y"):
            pipe.score_samples(X)
    else:
        assert not hasattr(pipe, name)
    expected = getattr(pipe[-1], name)(scaler.transform(X), *extra)
    assert_allclose(function(pipe, X, *extra), expected)
    assert_allclose(function(moe, X, *extra), getattr(moe, name)(X, *extra))


def test_mixture_methods_through_a_pipeline_errors(mcycle):
    from skmoe.inspection import bic, predict_experts_proba, predict_gate_proba

    moe, X, y = mcycle
    with pytest.raises(TypeError, match="has no predict_experts_proba; use"):
        predict_experts_proba(moe, X)
    with pytest.raises(TypeError, match="fitted mixture of experts"):
        predict_gate_proba(make_pipeline(LinearRegression()).fit(X, y), X)
    with pytest.raises(NotFittedError):
        bic(make_pipeline(StandardScaler(), MixtureOfExpertsRegressor()), X, y)


@pytest.mark.parametrize("n_samples", [60, 4000])
def test_gate_display_rug_shows_density(n_samples):
    # At 4,000 rows the rug of opaque marks was a solid bar.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 1))
    y = np.abs(X[:, 0]) + 0.1 * rng.normal(size=n_samples)
    moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    disp = GateDisplay.from_estimator(moe, X, grid_resolution=10)
    assert disp.scatter_.get_offsets().shape == (n_samples, 2)
    assert_allclose(disp.scatter_.get_alpha(), 0.5 * min(1.0, 100 / n_samples))
    # Where a tenth of the rows fall, the marks add up to more than half
    # opacity; a lone mark stays faint.
    overlap = 1 - (1 - disp.scatter_.get_alpha()) ** (n_samples / 10)
    assert overlap > 0.5
    disp = GateDisplay.from_estimator(moe, X, scatter_kwargs={"alpha": 0.9})
    assert disp.scatter_.get_alpha() == 0.9


def test_display_rows_take_the_form_the_estimator_was_fitted_on(three_features):
    import warnings

    moe, X, y = three_features
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    named = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(frame, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's feature-name warnings
        for estimator, data in ((moe, frame), (named, X), (named, frame)):
            disp = ExpertsDisplay.from_estimator(
                estimator, data, y, feature=1, kind="slice", grid_resolution=5
            )
            assert isinstance(disp.X_grid, pd.DataFrame) is (estimator is named)
            as_fitted = frame if estimator is named else X
            assert_allclose(
                disp.responsibilities,
                estimator.predict_responsibilities(as_fitted, y),
            )
    assert disp.ax_.get_xlabel() == "b"


def test_expert_usage_matches_a_by_hand_count():
    from skmoe.datasets import make_piecewise_linear
    from skmoe.inspection import expert_usage

    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsRegressor(n_experts=3, random_state=0)
    ).fit(X, y)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=X.shape[0])
    usage = expert_usage(pipe, X, y, sample_weight=w, top_k=2)
    gate = pipe[-1].predict_gate_proba(pipe[:-1].transform(X))
    resp = pipe[-1].predict_responsibilities(pipe[:-1].transform(X), y)
    table = usage.table
    assert_allclose(table["gate_share"], w @ gate / w.sum())
    assert_allclose(table["responsibility_share"], w @ resp / w.sum())
    hard = np.argmax(gate, axis=1)
    assert_allclose(table["counts"], [w[hard == k].sum() for k in range(3)])
    second = np.argsort(-gate, axis=1)[:, :2]
    pairs = [w[(second == k).any(axis=1)].sum() for k in range(3)]
    assert_allclose(table["top_k_share"], np.array(pairs) / (2 * w.sum()))
    for column in ("gate_share", "routed_share", "top_k_share"):
        assert_allclose(table[column].sum(), 1.0)
    shares = table["gate_share"].to_numpy()
    assert_allclose(usage.coefficient_of_variation, shares.std() / shares.mean())
    entropy = -(shares * np.log(shares)).sum() / np.log(3)
    assert_allclose(usage.normalized_entropy, entropy)
    with pytest.raises(ValueError, match="top_k=4 must be an integer from 1"):
        expert_usage(pipe, X, top_k=4)
