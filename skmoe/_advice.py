"""What a fit's warnings say: the cause of a failure to converge, read from
the run, and advice that fits it; and where they point (the user's line).

``fit`` (``_base._finish``) warns at most once per category: one
``ConvergenceWarning`` (EM's or the gradient solver's, together with the
experts' own solvers'), one ``DeadExpertWarning``. Their text holds no
number that changes from fit to fit (the objective's last change, say: it is
in ``lower_bounds_``), so that Python's "once per location" filter shows a
warning once for a ``GridSearchCV`` that fits the same model many times.
"""

import sys
import warnings
import weakref

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.tree import BaseDecisionTree

from ._array_api import _to_numpy

#: Features whose standard deviations differ by this factor or more are
#: "unscaled": iterative or penalised experts (a LogisticRegression, an
#: MLP, a Ridge) fit them slowly or with a penalty that means nothing.
_SCALE_RATIO = 1e3

#: The last iterations whose changes tell a steady rise from oscillation.
_WINDOW = 10

#: Packages whose frames are not the user's: a warning raised in a fit
#: points past them (a GridSearchCV calls fit through joblib).
_NOT_USER = ("skmoe", "sklearn", "joblib")

SCALE_INPUTS = "scale the inputs (a StandardScaler before the mixture in a Pipeline)"
SMALLER_TREES = (
    "give the tree experts fewer leaves (max_depth, min_samples_leaf): a tree "
    "does not maximise its weighted likelihood exactly, so EM's objective "
    "need not rise at every iteration (generalised EM)"
)
RAISE_MAX_ITER = "raise max_iter"


def _caller_stacklevel():
    """The ``stacklevel`` at which a warning raised by the calling function
    points at the user's code: the first frame outside skmoe, scikit-learn
    and joblib (the depth from there to ``fit`` varies: subclasses' ``fit``,
    scikit-learn's fit wrapper, a Pipeline, a GridSearchCV)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        package = frame.f_globals.get("__name__", "").partition(".")[0]
        if package not in _NOT_USER:
            break
        frame, level = frame.f_back, level + 1
    return level


#: The warnings already shown during each joblib ``Parallel`` call that
#: fits skmoe estimators (a GridSearchCV's, a cross_validate's), by call.
_SHOWN_IN_CALL = weakref.WeakKeyDictionary()


def _enclosing_parallel_call():
    """The joblib ``Parallel`` object whose call is running this fit, if any.

    scikit-learn runs each task of a ``Parallel`` call inside
    ``warnings.catch_warnings`` (to pass the filters on to workers), which
    resets Python's "once per location" record: a warning of every fit of
    a grid search was shown. The ``Parallel`` object lives as long as the
    call, and a new call makes a new one.
    """
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == "joblib.parallel" and (
            frame.f_code.co_name == "__call__"
        ):
            return frame.f_locals.get("self")
        frame = frame.f_back
    return None


def _action(text, category, module):
    """The action of the warning filters for a warning of ``category`` with
    ``text`` raised in ``module`` (Python's own matching)."""
    filters = getattr(warnings, "_get_filters", lambda: warnings.filters)()
    for action, message, cat, mod, lineno in filters:
        if (
            (message is None or message.match(text))
            and issubclass(category, cat)
            and (mod is None or mod.match(module))
            and lineno == 0
        ):
            return action
    return warnings.defaultaction


def warn_at_user(message, category):
    """Warn at the user's line, once per ``Parallel`` call of a
    meta-estimator (unless the filters say "always" or "error")."""
    level = _caller_stacklevel()
    call = _enclosing_parallel_call()
    if call is not None:
        user = sys._getframe(level - 1)
        module = user.f_globals.get("__name__", "")
        if _action(message, category, module) not in ("always", "error"):
            try:
                seen = _SHOWN_IN_CALL.setdefault(call, set())
            except TypeError:  # not weakly referable: no record
                seen = set()
            if (category, message) in seen:
                return
            seen.add((category, message))
    warnings.warn(message, category, stacklevel=level)


def show_once_at_user(records):
    """Show each distinct recorded warning (category and text) once, under
    the caller's warning filters, at the user's line (a warning recorded in
    a joblib worker would otherwise point at the expert's own source, or at
    joblib's)."""
    seen = set()
    for message, category, _, _ in records:
        key = (category, str(message))
        if key not in seen:
            seen.add(key)
            warn_at_user(str(message), category)


def _unscaled(X):
    """Whether the non-constant features' standard deviations differ by
    ``_SCALE_RATIO`` or more."""
    if X.shape[0] < 2:
        # The Dask path passes no rows here.
        return False
    scale = np.std(np.asarray(_to_numpy(X), dtype=np.float64), axis=0)
    scale = scale[scale > 0]
    return scale.size > 1 and scale.max() >= _SCALE_RATIO * scale.min()


def _scale_free(expert):
    """Experts whose fit converges whatever the features' units: least
    squares, trees, and the logistic experts skmoe's Newton solver refits
    (:mod:`skmoe._logistic`; their penalty is in the features' units, but
    not their solver's pace)."""
    from ._logistic import _is_plain_logistic

    return isinstance(expert, (LinearRegression, BaseDecisionTree)) or (
        _is_plain_logistic(expert)
    )


def trajectory(history):
    """How the objective ended: ``"single"`` (one iteration), ``"rising"``
    (up at each of the last ``_WINDOW`` iterations) or ``"oscillating"``."""
    history = np.asarray(history, dtype=np.float64)
    if history.size < 2:
        return "single"
    changes = np.diff(history[-(_WINDOW + 1) :])
    return "rising" if np.all(changes > 0) else "oscillating"


_TRAJECTORY = {
    "single": "after a single iteration",
    "rising": "with the objective still rising at every iteration",
    "oscillating": "with the objective going up and down, not settling",
}


def convergence_message(estimator, run, n_runs, X, experts, dead, expert_warnings):
    """The one ``ConvergenceWarning`` of a fit, or ``None`` when it has none.

    ``run``: the best run's record; ``experts``: the fitted experts;
    ``dead``: the dead experts' indices; ``expert_warnings``: the texts of
    the ``ConvergenceWarning`` raised by the experts' own solvers.
    """
    parts, advice = [], []
    unscaled = _unscaled(X) and not all(_scale_free(e) for e in experts)
    if not run.converged:
        by_em = run.unit == "EM iterations"
        method = "EM" if by_em else "Gradient fitting"
        which = "the best of the" if n_runs > 1 else "the"
        how = trajectory(run.history)
        parts.append(
            f"{method} did not converge: {which} {n_runs} run(s) stopped at "
            f"max_iter={estimator.max_iter} (tol={estimator.tol}) {_TRAJECTORY[how]}"
            " (see lower_bounds_)."
        )
        trees = any(isinstance(e, BaseDecisionTree) for e in experts)
        if unscaled:
            advice.append(SCALE_INPUTS)
        if how == "oscillating" and trees:
            advice.append(SMALLER_TREES)
        elif how == "oscillating" and (dead.size or run.reinitialized):
            advice.append(f"try {estimator._smaller_model}")
        else:
            advice.append(RAISE_MAX_ITER)
        init = estimator._preferred_init
        if by_em and not (
            isinstance(estimator.init_params, str) and estimator.init_params == init
        ):
            advice.append(f"try init_params={init!r}")
    if expert_warnings:
        first = expert_warnings[0].strip().splitlines()[0]
        more = len(expert_warnings) - 1
        others = f", and {more} other warning(s)" if more else ""
        parts.append(
            "The experts' own solvers did not converge during the fit "
            f'("{first}"{others}).'
        )
        if SCALE_INPUTS not in advice and not all(_scale_free(e) for e in experts):
            advice.insert(0, SCALE_INPUTS)
        advice.append("raise the experts' own max_iter")
    if not parts:
        return None
    text = "; ".join(advice)
    return " ".join(parts) + " " + text[0].upper() + text[1:] + "."


def dead_message(estimator, dead, reinitialized):
    """The one ``DeadExpertWarning`` of a fit, or ``None`` when every expert
    takes part in the fitted model (experts re-initialised on the way and
    recovered are in ``reinitialized_experts_``: nothing is wrong)."""
    if not dead.size:
        return None
    again = (
        " (they were re-initialised during EM, see reinitialized_experts_, and "
        "collapsed again)"
        if reinitialized
        else ""
    )
    return (
        f"The fitted model has {dead.size} dead expert(s) (indices "
        f"{dead.tolist()}, total responsibility below min_expert_weight="
        f"{estimator.min_expert_weight}){again}; they take almost no part in "
        f"predictions. Try {estimator._smaller_model}."
    )
