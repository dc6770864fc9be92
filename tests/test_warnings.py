"""Warnings that are true and actionable (issue 20, point 2): at most one per
kind and fit, at the user's line (also from joblib workers and inside a
GridSearchCV), with advice that fits the cause, and none when nothing is
wrong."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeRegressor

from skmoe import (
    DeadExpertWarning,
    HierarchicalMixtureOfExpertsRegressor,
    MixtureOfExpertsClassifier,
    MixtureOfExpertsRegressor,
)
from skmoe._advice import (
    RAISE_MAX_ITER,
    SCALE_INPUTS,
    SMALLER_TREES,
    convergence_message,
    dead_message,
    trajectory,
)
from skmoe._run import _Run
from skmoe.datasets import make_piecewise_linear, make_xor


def _recorded(fit, action="always"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        fit()
    return caught


def _of(caught, category):
    return [w for w in caught if issubclass(w.category, category)]


def _switching_lines(n=400, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, 2))
    y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1]) + 0.3 * rng.randn(n)
    return X, y


def test_one_warning_of_each_kind_per_fit():
    # A tree larger than the data need (two regimes, four leaves, each of
    # which needs 20 rows to live), stopped early: it used to give two
    # DeadExpertWarnings (one for the re-initialisations, one for the dead
    # experts of the fitted model) besides the ConvergenceWarning.
    X, y = _switching_lines()
    est = HierarchicalMixtureOfExpertsRegressor(
        depth=2, tol=0.0, max_iter=15, random_state=0, min_expert_weight=20
    )
    caught = _recorded(lambda: est.fit(X, y))
    assert est.dead_experts_.size and est.reinitialized_experts_
    assert len(_of(caught, DeadExpertWarning)) == 1
    assert len(_of(caught, ConvergenceWarning)) == 1
    (dead,) = _of(caught, DeadExpertWarning)
    assert "re-initialised" in str(dead.message)
    assert "a smaller tree (depth or branching)" in str(dead.message)
    assert all(w.filename == __file__ for w in caught)


def test_no_warning_when_nothing_is_wrong():
    X, y = make_piecewise_linear(n_samples=400, random_state=0)
    caught = _recorded(lambda: MixtureOfExpertsRegressor(3, random_state=0).fit(X, y))
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_experts_warnings_join_the_fits_at_the_users_line(n_jobs):
    # A LogisticRegression expert that stops at its own max_iter warns at
    # every M-step; recorded in the restarts (joblib workers with n_jobs=2),
    # it is shown once, inside the fit's one ConvergenceWarning, at this
    # line: it used to point at scikit-learn's _logistic.py.
    X, y = make_xor(n_samples=300, random_state=0)
    est = MixtureOfExpertsClassifier(
        2,
        expert=LogisticRegression(max_iter=1),
        n_init=2,
        n_jobs=n_jobs,
        max_iter=20,
        random_state=0,
    )
    caught = _recorded(lambda: est.fit(X, y))
    (warning,) = _of(caught, ConvergenceWarning)
    assert warning.filename == __file__
    message = str(warning.message)
    assert "The logistic expert's solver did not converge in max_iter=1" in message
    # Newton's method on standardised features: the units are not the cause.
    assert "scale the inputs" not in message.lower()
    assert "experts' own max_iter" in message


@pytest.mark.parametrize("factor", [1.0, 1e4])
def test_unscaled_inputs_get_scaling_advice(factor):
    # Features in units 10^4 apart and experts fitted by a solver that
    # depends on them (liblinear's coordinate descent): the advice is to
    # scale the inputs (the same fit on scaled inputs does not say so).
    X, y = make_xor(n_samples=300, random_state=0)
    X = X * np.array([1.0, factor])
    est = MixtureOfExpertsClassifier(
        2,
        expert=LogisticRegression(solver="liblinear"),
        max_iter=2,
        tol=0.0,
        random_state=0,
    )
    caught = _recorded(lambda: est.fit(X, y))
    (warning,) = _of(caught, ConvergenceWarning)
    assert (SCALE_INPUTS.lower() in str(warning.message).lower()) == (factor > 1)


def test_scale_free_experts_get_no_scaling_advice():
    # Least squares does not care about the features' units.
    X, y = make_piecewise_linear(n_samples=300, random_state=0)
    X = X * np.array([1.0, 1e4])[: X.shape[1]]
    est = MixtureOfExpertsRegressor(3, max_iter=2, random_state=0)
    caught = _recorded(lambda: est.fit(X, y))
    (warning,) = _of(caught, ConvergenceWarning)
    assert "scale" not in str(warning.message).lower()


def test_default_logistic_experts_get_no_scaling_advice():
    # Nor does skmoe's Newton solver for the default logistic experts.
    X, y = make_xor(n_samples=300, random_state=0)
    X = X * np.array([1.0, 1e4])
    est = MixtureOfExpertsClassifier(2, max_iter=2, tol=0.0, random_state=0)
    caught = _recorded(lambda: est.fit(X, y))
    (warning,) = _of(caught, ConvergenceWarning)
    assert "scale" not in str(warning.message).lower()


def _record(history, converged=False, reinitialized=()):
    return _Run(
        state={},
        lower_bound=max(history),
        log_likelihood=0.0,
        history=list(history),
        n_iter=len(history),
        converged=converged,
        unit="EM iterations",
        reinitialized=list(reinitialized),
    )


@pytest.mark.parametrize(
    "history, experts, dead, reinit, advice, not_advice",
    [
        # Rising at every iteration: slow, not wrong.
        (np.log(np.arange(2, 40)), "linear", [], [], RAISE_MAX_ITER, "fewer"),
        # Up and down with a dead expert: too many experts.
        (
            [0, 1, 0.5, 1.2, 0.8, 1.1, 0.9, 1.15, 1.0, 1.1, 1.05, 1.1],
            "linear",
            [2],
            [(3, 2)],
            "fewer experts (n_experts)",
            RAISE_MAX_ITER,
        ),
        # Up and down with tree experts: generalised EM, smaller trees.
        (
            [0, 1, 0.5, 1.2, 0.8, 1.1, 0.9, 1.15, 1.0, 1.1, 1.05, 1.1],
            "tree",
            [],
            [],
            SMALLER_TREES,
            "fewer experts",
        ),
    ],
)
def test_advice_follows_the_cause(history, experts, dead, reinit, advice, not_advice):
    from sklearn.linear_model import LinearRegression

    est = MixtureOfExpertsRegressor(3)
    make = DecisionTreeRegressor if experts == "tree" else LinearRegression
    X = np.random.RandomState(0).normal(size=(50, 2))
    message = convergence_message(
        est,
        _record(history, reinitialized=reinit),
        1,
        X,
        [make()] * 3,
        np.asarray(dead, dtype=int),
        [],
    )
    assert advice.lower() in message.lower()
    assert not_advice.lower() not in message.lower()


def test_trajectory():
    assert trajectory([1.0]) == "single"
    assert trajectory([1.0, 2.0, 2.5]) == "rising"
    assert trajectory([1.0, 2.0, 1.9]) == "oscillating"


def test_converged_fit_and_live_experts_give_no_message():
    est = MixtureOfExpertsRegressor(3)
    X = np.random.RandomState(0).normal(size=(50, 2))
    record = _record([0.0, 1.0], converged=True, reinitialized=[(2, 1)])
    assert convergence_message(est, record, 1, X, [], np.array([], int), []) is None
    assert dead_message(est, np.array([], int), [(2, 1)]) is None


def test_grid_search_warns_once_at_the_users_line():
    # Every candidate stops at max_iter: under Python's default filter the
    # user saw one warning per fit (their texts differed by the objective's
    # last change), attributed to joblib/parallel.py.
    X, y = make_piecewise_linear(n_samples=200, random_state=0)
    search = GridSearchCV(
        MixtureOfExpertsRegressor(max_iter=2, random_state=0),
        {"n_experts": [2, 3]},
        cv=3,
    )
    caught = _recorded(lambda: search.fit(X, y), action="default")
    convergence = _of(caught, ConvergenceWarning)
    # One for the six fits of the search, one for the refit of the best
    # candidate (a fit of its own, outside the search's joblib call).
    assert len(convergence) == 2, [str(w.message) for w in convergence]
    assert all(w.filename == __file__ for w in convergence)
    search.set_params(refit=False)
    caught = _recorded(lambda: search.fit(X, y), action="default")
    assert len(_of(caught, ConvergenceWarning)) == 1
    # Asked for every warning, the user gets every fit's.
    caught = _recorded(lambda: search.fit(X, y), action="always")
    assert len(_of(caught, ConvergenceWarning)) == 6


# ----------------------------------------------------------------------
# The stopping rule (issue 20: defaults that converge, and where they should)
# ----------------------------------------------------------------------
def test_em_does_not_stop_on_a_plateau():
    from skmoe._em import _settled

    # EM slowing down near a saddle (changes shrinking by 1% per iteration,
    # below tol) then speeding up again: the last change alone said
    # "converged" at the first step below tol.
    changes = 1.5e-7 * 0.99 ** np.arange(30)
    history = np.concatenate([[0.0], np.cumsum(changes)])
    assert not _settled(list(history), tol=1e-6)
    # Changes shrinking fast (by half): the gain to come is below tol.
    changes = 1e-6 * 0.5 ** np.arange(5)
    history = np.concatenate([[0.0], np.cumsum(changes)])
    assert _settled(list(history), tol=1e-6)
    # Speeding up: never settled while the change grows.
    assert not _settled([0.0, 1e-7, 3e-7], tol=1e-6)
    # No rise (generalised EM going down, or rounding at the optimum).
    assert _settled([0.0, 1.0, 1.0 - 1e-9], tol=1e-6)


def test_default_fit_on_concrete_reaches_the_tight_optimum():
    # On concrete the default fit stopped at iteration 83 on a plateau, 2.8
    # nats (total) below where the same run ends with tol=1e-8.
    from skmoe.datasets import load_concrete

    X, y = load_concrete(return_X_y=True)
    default = MixtureOfExpertsRegressor(random_state=0)
    caught = _recorded(lambda: default.fit(X, y))
    tight = MixtureOfExpertsRegressor(random_state=0, tol=1e-8, max_iter=5000)
    tight.fit(X, y)
    assert default.converged_ and not caught
    assert default.log_likelihood_ == pytest.approx(tight.log_likelihood_, abs=0.05)
