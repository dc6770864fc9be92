"""One run of ``solver="gradient"``: full-batch L-BFGS, or minibatches."""

import time

import numpy as np

from .._experts import _make_experts
from .._progress import _RunProgress
from .._run import _Run
from ._lbfgs import _lbfgs
from ._model import _classes_of, _new_model, _Objective
from ._stream import _minibatch_run, _warm_up
from ._support import _continued_templates, check_solver_support


def gradient_run(
    estimator,
    X,
    y,
    w,
    lik,
    templates,
    init_resp,
    start,
    seed,
    run,
    inner_jobs,
    *,
    trace=None,
    trace_every=0,
):
    """One gradient-fitting run; returns its record (``_run._Run``), as EM does.

    Full batch (L-BFGS) when every expert is differentiable and
    ``batch_size='auto'``; minibatches otherwise.

    ``trace`` (for benchmarks: ``benchmarks/bench_solvers.py``), when given,
    is called as ``trace(get_state)`` after every L-BFGS iteration, and every
    ``trace_every`` minibatches (0: at the end of every epoch) of minibatch
    fitting; ``get_state()`` returns the current parameters as fitted
    experts, gate and noise variances (a state dict of the EM driver). The
    time spent in it is the caller's to subtract.
    """
    if start is not None:
        # Warm start: the fitted experts (in their canonical order) say what
        # each expert is, as for EM.
        templates = _continued_templates(start["experts"], "solver='gradient'")
    kinds = check_solver_support(estimator, templates)
    rng = np.random.RandomState(seed)
    full = all(k == "diff" for k in kinds) and estimator.batch_size == "auto"
    args = (estimator, X, y, w, lik, templates, kinds, init_resp, start, rng)
    t0 = time.perf_counter()
    if full:
        record = _full_batch_run(*args, trace=trace, run=run)
    else:
        record = _minibatch_run(*args, trace=trace, trace_every=trace_every, run=run)
    if estimator.verbose:
        status = "converged" if record.converged else "did not converge"
        print(
            f"run {run}: {status} after {record.n_iter} {record.unit} "
            f"({time.perf_counter() - t0:.2f}s), objective "
            f"{record.lower_bound:.6f}"
        )
    return record


def _full_batch_run(
    estimator,
    X,
    y,
    w,
    lik,
    templates,
    kinds,
    init_resp,
    start,
    rng,
    *,
    trace=None,
    run=None,
):
    model = _new_model(estimator, X, y, w, lik, templates, kinds)
    classes = _classes_of(estimator)
    t = np.searchsorted(classes, y) if classes is not None else y
    Xs, t = model.standardize(X, t)
    if start is None:
        stream = _warm_up(estimator, X, y, w, lik, templates, kinds, init_resp, rng)
        protos = stream.protos
        start = stream.model.to_state(protos)
    else:
        protos = _make_experts(templates, rng)
    model.set_from_state(start, classes)
    history = []
    y_shift = 0.0 if estimator._classifier else np.log(model.y_scale)
    objective = _Objective(model, Xs, t, w)
    progress = _RunProgress(estimator, run, "L-BFGS iteration")

    def on_iteration(u):
        # _lbfgs appended this iteration's objective to history.
        progress.update(len(history), history[-1])
        if trace is not None:
            objective.store(u)
            trace(lambda: model.to_state(protos))

    result = _lbfgs(
        objective, estimator.max_iter, estimator.tol, history, y_shift, on_iteration
    )
    loglik, bound = objective.bound(result.x)
    loglik -= float(w.sum()) * y_shift
    bound -= y_shift
    # status 1: iteration limit; 0 and 2 (no further progress along the line
    # search, at the precision of the objective) count as converged.
    converged = result.status != 1
    if not history:
        # The warm-up already met the stopping rule: one entry, n_iter_ = 1.
        history = [bound]
    return _Run(
        state=model.to_state(protos, result.nit, converged),
        lower_bound=bound,
        log_likelihood=loglik,
        history=history,
        n_iter=max(int(result.nit), len(history)),
        converged=converged,
        unit="L-BFGS iterations",
    )
