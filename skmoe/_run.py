"""What one fitting run returns, whatever the solver: the run record.

Every solver (EM in ``_em.py``, full-batch and minibatch gradient fitting in
``_gradient/``) runs from one start and returns a :class:`_Run`; ``fit``
keeps the best of the ``n_init`` runs and ``_finish`` turns it into the
fitted attributes. A model's state (the experts, the gate and the noise
variances) is a dict with the keys ``"experts"``, ``"gate"`` and
``"noise_variance"`` (``None`` for the classifier).
"""

import copy
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field, replace


@dataclass
class _Run:
    """The record of one fitting run.

    Attributes
    ----------
    state : dict
        The best iterate's model: ``{"experts", "gate", "noise_variance"}``.
    lower_bound : float
        Its objective per unit of weight: the weighted log-likelihood less
        the gate's penalty and the logistic experts', divided by the total
        weight.
    log_likelihood : float
        Its weighted log-likelihood (in fit's weight units).
    history : list of float
        The objective after each iteration (or epoch).
    n_iter : int
        Iterations (or epochs) run.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    unit : str
        What ``n_iter`` counts ("EM iterations", "epochs", ...), for reports.
    reinitialized : list of (int, int)
        ``(iteration, expert)`` for each dead expert re-initialised.
    failures : list of (int, _experts._FailedExpert)
        ``(expert, failure)`` for each expert taken out of the mixture
        (``expert_errors="isolate"``), in the order they failed.
    """

    state: dict
    lower_bound: float
    log_likelihood: float
    history: list
    n_iter: int
    converged: bool
    unit: str
    reinitialized: list = field(default_factory=list)
    failures: list = field(default_factory=list)

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return replace(self, **changes)


def _snapshot(state):
    """Copy of a model state. Experts are refitted as new objects every
    M-step, so a shallow copy of their list suffices; the gate is
    warm-started in place and is copied."""
    return {
        "experts": list(state["experts"]),
        "gate": copy.deepcopy(state["gate"]),
        "noise_variance": copy.copy(state.get("noise_variance")),
    }


def _run_recording_warnings(run_once, *args, catch=False, record=True, **kwargs):
    """``run_once(*args, **kwargs)`` and the warnings it raised, not yet shown.

    Returns ``(run, records)``, records as ``(message, category, filename,
    lineno)``; ``fit`` shows them after the runs, once each
    (``_advice.show_once_at_user``; the experts' ConvergenceWarnings join the
    fit's own). Why not let them through: an expert's warning (a
    LogisticRegression's ConvergenceWarning, say) comes from every expert at
    every EM iteration, and Python's "show once per location" record does
    not help, because scikit-learn's own
    input checks reset it at every call: users saw the same warning
    hundreds of times in one fit. (The gate's fits raise none: see
    :func:`_gate._em_gate_fits`.) Picklable, so joblib workers (restarts in
    parallel) return their warnings too. ``record=False`` (threads, whose
    caller records for all of them) returns no records.
    """
    with warnings.catch_warnings(record=True) if record else nullcontext() as caught:
        if record:
            warnings.simplefilter("always")
        try:
            run = run_once(*args, **kwargs)
        except Exception as err:
            if not catch:
                raise
            run = err  # ``catch``: the run's failure is its result
    return run, _records(caught or [])


def _records(caught):
    """``(message, category, filename, lineno)`` of caught warnings."""
    return [(w.message, w.category, w.filename, w.lineno) for w in caught]
