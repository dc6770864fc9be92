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
    disp = ExpertsDisplay.from_estimator(moe, X, y, grid_resolution=80)
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
        moe, X, grid_resolution=40, encode="alpha", show_band=False
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
    disp = ExpertsDisplay.from_estimator(clf, X, y, grid_resolution=30)
    assert disp.class_of_interest == "yes"
    assert disp.std is None and disp.band_ is None
    assert_allclose(
        disp.expert_predictions, clf.predict_experts_proba(disp.X_grid)[:, :, 1]
    )
    assert_allclose(disp.mean, clf.predict_proba(disp.X_grid)[:, 1])
    assert_array_equal(disp.y, (y == "yes").astype(float))
    disp = ExpertsDisplay.from_estimator(clf, X, y, class_of_interest="no")
    assert_allclose(disp.mean, clf.predict_proba(disp.X_grid)[:, 0])
    with pytest.raises(ValueError, match="class_of_interest"):
        ExpertsDisplay.from_estimator(clf, X, y, class_of_interest="maybe")


def test_experts_display_pipeline(mcycle):
    _, X, y = mcycle
    pipe = make_pipeline(
        StandardScaler(), MixtureOfExpertsRegressor(n_experts=2, random_state=0)
    ).fit(X, y)
    disp = ExpertsDisplay.from_estimator(pipe, X, y, grid_resolution=25)
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

    monkeypatch.setattr(skmoe.inspection._gate_display, "_grid_rows", no_work)
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
