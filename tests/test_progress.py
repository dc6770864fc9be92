"""Progress of long fits: ``verbose`` lines at ``verbose_interval`` and the
optional progress bar (issue 20, point 1)."""

import re
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, _progress

try:
    from skmoe import HierarchicalMixtureOfExpertsRegressor
except ImportError:  # pragma: no cover
    HierarchicalMixtureOfExpertsRegressor = None


def _switching_lines(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1]) + 0.3 * rng.randn(n)
    return X, y


def _iterations_printed(out, unit):
    return [
        int(m.group(1)) for m in re.finditer(rf"run 0 {unit} (\d+): objective", out)
    ]


class _FakeBar:
    """Counts what the fit does to its bar (tqdm's interface as used)."""

    made = []

    def __init__(self, total, desc, unit):
        self.total, self.desc, self.unit = total, desc, unit
        self.n, self.updates, self.closed = 0, [], False
        _FakeBar.made.append(self)

    def update(self, n=1):
        self.updates.append(n)
        self.n += n

    def close(self):
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch):
    _FakeBar.made = []
    monkeypatch.setattr(_progress, "_tqdm", lambda: _FakeBar)
    return _FakeBar


# tol=0 and a small max_iter: runs of a known length, which do not converge.
_NOT_CONVERGED = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


@_NOT_CONVERGED
@pytest.mark.parametrize("interval", [1, 4])
def test_verbose_reports_em_at_the_interval(capsys, interval):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=3,
        tol=0.0,
        max_iter=30,
        random_state=0,
        verbose=1,
        verbose_interval=interval,
    ).fit(X, y)
    out = capsys.readouterr().out
    printed = _iterations_printed(out, "EM iteration")
    assert moe.n_iter_ >= 8
    expected = [k for k in range(1, moe.n_iter_ + 1) if k % interval == 0]
    assert printed == expected
    # Each line says the change and the elapsed time.
    line = next(s for s in out.splitlines() if f"EM iteration {expected[-1]}:" in s)
    assert re.search(r"change [-+]\d", line) and re.search(r"\(\d+\.\d\ds\)", line)
    value = float(re.search(r"objective (\S+),", line).group(1))
    assert value == pytest.approx(moe.lower_bounds_[expected[-1] - 1], abs=1e-7)
    assert "run 0: " in out  # the run's end


@_NOT_CONVERGED
def test_verbose_2_reports_every_iteration(capsys):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=2, tol=0.0, max_iter=12, random_state=0, verbose=2
    ).fit(X, y)
    printed = _iterations_printed(capsys.readouterr().out, "EM iteration")
    assert printed == list(range(1, moe.n_iter_ + 1))


def test_verbose_reports_each_restart(capsys):
    X, y = _switching_lines()
    MixtureOfExpertsRegressor(
        n_experts=2, n_init=3, max_iter=20, random_state=0, verbose=1
    ).fit(X, y)
    out = capsys.readouterr().out
    for run in range(3):
        assert re.search(rf"^run {run}: (converged|did not converge)", out, re.M)


def test_verbose_reports_the_gradient_solver(capsys):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=2,
        solver="gradient",
        # From a random start: the default start is already at the optimum
        # here, where L-BFGS stops after one iteration.
        init_params="random",
        max_iter=40,
        tol=1e-12,
        random_state=0,
        verbose=1,
        verbose_interval=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe.fit(X, y)
    printed = _iterations_printed(capsys.readouterr().out, "L-BFGS iteration")
    assert len(moe.lower_bounds_) >= 4
    assert printed == [k for k in range(1, len(moe.lower_bounds_) + 1) if k % 2 == 0]


@_NOT_CONVERGED
def test_verbose_reports_minibatch_epochs(capsys):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=2,
        solver="gradient",
        batch_size=64,
        max_iter=6,
        random_state=0,
        verbose=1,
        verbose_interval=2,
    ).fit(X, y)
    printed = _iterations_printed(capsys.readouterr().out, "epoch")
    assert printed == [k for k in range(1, moe.n_iter_ + 1) if k % 2 == 0]
    assert printed


@pytest.mark.skipif(
    HierarchicalMixtureOfExpertsRegressor is None, reason="no hierarchical estimator"
)
@_NOT_CONVERGED
@pytest.mark.filterwarnings("ignore::skmoe.DeadExpertWarning")
def test_verbose_reports_hierarchical_fits(capsys):
    X, y = _switching_lines()
    moe = HierarchicalMixtureOfExpertsRegressor(
        depth=2, tol=0.0, max_iter=15, random_state=0, verbose=1, verbose_interval=3
    ).fit(X, y)
    printed = _iterations_printed(capsys.readouterr().out, "EM iteration")
    assert printed == [k for k in range(1, moe.n_iter_ + 1) if k % 3 == 0]
    assert printed


def test_quiet_by_default(capsys):
    X, y = _switching_lines()
    MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_bar_counts_the_iterations_of_sequential_restarts(fake_tqdm):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=2, n_init=2, max_iter=25, random_state=0, progress_bar=True
    ).fit(X, y)
    (bar,) = fake_tqdm.made
    assert bar.total == 2 * 25 and bar.closed
    # One step per iteration, then a jump to the end of each run.
    assert bar.n == bar.total
    assert bar.updates.count(1) >= moe.n_iter_
    assert sum(bar.updates) == bar.total


def test_bar_counts_finished_restarts_in_workers(fake_tqdm):
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(
        n_experts=2, n_init=3, n_jobs=2, random_state=0, progress_bar=True
    ).fit(X, y)
    (bar,) = fake_tqdm.made
    assert (bar.total, bar.unit, bar.updates, bar.closed) == (3, "run", [1, 1, 1], True)
    # The same fit as without the bar.
    plain = MixtureOfExpertsRegressor(
        n_experts=2, n_init=3, n_jobs=2, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(moe.predict(X), plain.predict(X))


def test_bar_for_the_classifier_and_gradient_solver(fake_tqdm):
    X, y = _switching_lines()
    MixtureOfExpertsClassifier(
        n_experts=2, max_iter=20, random_state=0, progress_bar=True
    ).fit(X, y > 0)
    MixtureOfExpertsRegressor(
        n_experts=2, solver="gradient", max_iter=20, random_state=0, progress_bar=True
    ).fit(X, y)
    assert [bar.total for bar in fake_tqdm.made] == [20, 20]
    assert all(bar.n == 20 and bar.closed for bar in fake_tqdm.made)


def test_bar_closed_when_the_fit_raises(fake_tqdm):
    X, y = _switching_lines()

    class Broken(MixtureOfExpertsRegressor):
        def _e_step(self, *args):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Broken(n_experts=2, random_state=0, progress_bar=True).fit(X, y)
    assert fake_tqdm.made and all(bar.closed for bar in fake_tqdm.made)


def test_real_tqdm_draws_a_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = _switching_lines()
    MixtureOfExpertsRegressor(
        n_experts=2, max_iter=20, random_state=0, progress_bar=True
    ).fit(X, y)
    err = capsys.readouterr().err
    assert "MixtureOfExpertsRegressor" in err and "20/20" in err


def test_missing_tqdm_is_a_clear_error_before_any_work(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y = _switching_lines()
    moe = MixtureOfExpertsRegressor(n_experts=2, progress_bar=True)
    with pytest.raises(ImportError, match="pip install tqdm.*progress_bar=False"):
        moe.fit(X, y)
    assert not hasattr(moe, "experts_")
    # Without the bar the fit does not need tqdm.
    moe.set_params(progress_bar=False).fit(X, y)


def test_verbose_interval_is_validated():
    X, y = _switching_lines()
    with pytest.raises(ValueError, match="verbose_interval"):
        MixtureOfExpertsRegressor(verbose_interval=0).fit(X, y)
