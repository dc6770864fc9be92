"""The EM solver: one run of expectation-maximisation, and the small-EM start.

``em_run`` is what ``fit`` calls for ``solver='em'`` (flat and hierarchical
estimators, NumPy or array-API inputs): from a start (fresh or a fitted
model's state) it alternates the E-step (the experts' posteriors given the
gate and the likelihood) and the M-step (the likelihood's ``m_step`` refits
every expert and its noise; the gate is refitted on the posteriors), keeps
the best iterate, re-initialises experts that die, and returns a
:class:`~skmoe._run._Run`. What an expert's likelihood is comes from the
likelihood object (``_likelihood.py``); what the gate is, from the gate's
interface; both are passed in or asked of the estimator, never stored.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from ._array_api import _like, _to_numpy, _xp_of
from ._em_fused import _FusedStep, gate_steps
from ._experts import (
    _check_expert_templates,
    _failed_indices,
    _FailedExpert,
    _make_experts,
)
from ._gate import _em_gate_fits, _weighted_standardization
from ._kernels import e_step
from ._logistic import _em_expert_fits, _is_plain_logistic, expert_steps
from ._progress import _RunProgress
from ._run import _Run, _snapshot
from ._squarem import Squarem, squarem_is_sound

#: Experts whose objective has not improved on its best value by more than
#: ``tol`` for this many iterations are stopped: the stopping rule of
#: generalised EM, where experts such as trees do not maximise the weighted
#: likelihood exactly and the objective can oscillate.
_N_ITER_NO_CHANGE = 10

#: A change below this fraction of ``tol`` ends EM whatever Aitken's
#: projection says (see _settled).
_NEGLIGIBLE = 1e-2

#: Small-EM initialisation (``init_params='small_em'``): the number of short
#: runs, their length in EM iterations, and the most rows they run on.
_SMALL_EM_STARTS = 9
_SMALL_EM_ITER = 50
_SMALL_EM_MAX_ROWS = 2000
_SMALL_EM_TOL = 1e-4
_SMALL_EM_GATE_ITER = 20
#: Newton steps of a short run's logistic expert fitted without a previous
#: solution (the run's first M-step); the later ones take one, as in every
#: run. On LetterRecognition, Vowel and Satellite (default classifier,
#: four seeds) the fit ended higher in seven of the nine cases where the
#: runs differed, and sooner: a cold fit to tol forms a new Hessian per
#: step, half of a LetterRecognition fit's time (docs/benchmarks.rst).
_SMALL_EM_COLD_STEPS = 3
_SMALL_EM_TIE = 1e-6

#: The gate penalty of the first phase of an EM run whose gate is penalised
#: more weakly (see em_run).
_CONTINUATION_C = 100.0


def _fresh_state(estimator, templates, rng):
    return {
        "experts": _make_experts(templates, rng),
        "gate": estimator._make_gate(),
        "noise_variance": None,
    }


def small_em_responsibilities(estimator, X, y, w, lik, rng, proxy_experts=False):
    """The "small-EM" start (Biernacki, Celeux & Govaert 2003).

    ``_SMALL_EM_STARTS`` short EM runs of ``_SMALL_EM_ITER`` iterations
    each, from different kinds of start in turn (k-means on the features
    and the target, the nearest of K random rows, random
    responsibilities), on at most ``_SMALL_EM_MAX_ROWS`` random rows; the
    run with the highest objective wins, and its model's responsibilities
    on all the rows start the full run. One start of one kind is often
    trapped (k-means on mcycle always ends in the same local optimum);
    a few iterations of each are cheap and tell the promising ones apart.
    """
    expert = None if proxy_experts else estimator.expert
    templates = _check_expert_templates(
        expert, estimator.n_experts, estimator._default_expert(), estimator._classifier
    )
    # Likewise the logistic experts' M-steps, solved to the short runs' tol.
    templates = [
        clone(t).set_params(tol=max(t.tol, _SMALL_EM_TOL))
        if _is_plain_logistic(t)
        else t
        for t in templates
    ]
    rows = np.arange(X.shape[0])
    if X.shape[0] > _SMALL_EM_MAX_ROWS:
        rows = np.sort(rng.choice(X.shape[0], _SMALL_EM_MAX_ROWS, replace=False))
        if np.count_nonzero(w[rows] > 0) < estimator.n_experts:
            rows = np.arange(X.shape[0])
    Xs, ys, ws = X[rows], y[rows], w[rows]
    # Every short run fits its gate on the same rows: prepared once.
    gate_inputs = estimator._make_gate()._prepare(Xs, ws)
    best = None
    for i in range(_SMALL_EM_STARTS):
        kind = estimator._small_em_kinds[i % len(estimator._small_em_kinds)]
        resp = estimator._responsibilities_of_kind(kind, Xs, ys, ws, lik, rng)
        state = _fresh_state(estimator, templates, rng)
        # A short run only ranks its start: a gate solved roughly at each
        # M-step (generalised EM) does that as well, for less. Its penalty
        # is that of the first phase of the run it starts (see _em_run).
        gate = state["gate"]
        if "max_iter" in gate.get_params():
            gate.set_params(max_iter=min(gate.max_iter, _SMALL_EM_GATE_ITER))
        if hasattr(gate, "_penalty_C"):
            gate._set_penalty_C(min(gate._penalty_C(), _CONTINUATION_C))
        with warnings.catch_warnings():
            # The short runs' experts are thrown away: whether their
            # solvers converged (an MLP's fit, say) is of no consequence.
            warnings.simplefilter("ignore", ConvergenceWarning)
            if kind != "random":
                # A hard partition is sticky: a gate fitted on it is a
                # step function, whose posteriors stay hard. The experts
                # fitted on it, weighed by their likelihoods alone (a
                # uniform gate), give a soft start that EM can still move.
                log_lik = lik.m_step(
                    state["experts"], Xs, ys, resp * ws[:, None], state, None
                )
                resp, _ = e_step(np.zeros_like(log_lik), log_lik)
            run = _em_loop(
                estimator,
                Xs,
                ys,
                ws,
                lik,
                state,
                resp,
                _SMALL_EM_ITER,
                _SMALL_EM_TOL,
                None,
                None,
                gate_inputs,
            )
        # Short runs that end within _SMALL_EM_TIE per row of each other
        # reached the same optimum: the first of them is kept, so that
        # rounding (weights in another unit, say) cannot pick another.
        if best is None or run.lower_bound > best.lower_bound + _SMALL_EM_TIE:
            best = run
    state = best.state
    resp, _ = estimator._e_step(state, X, lik.log_likelihood(state, X, y))
    return resp


def em_run(estimator, X, y, w, lik, templates, init_resp, start, seed, run, inner_jobs):
    """One EM run from a fresh start (or ``start``); keeps its best iterate.

    A fresh run whose gate penalty is weaker than ``_CONTINUATION_C``
    (the default's is) first converges with the gate penalised at
    ``_CONTINUATION_C``, then continues from there with the gate's own
    penalty (a continuation, as in deterministic annealing). A weakly
    penalised gate fitted to early, rough responsibilities turns into a
    step, whose posteriors stop moving, and EM stalls in a poor basin;
    the firm first phase finds the basin and the second reaches the
    optimum of the objective asked for (on yacht with two experts:
    -529.5 directly, -493.97 after the continuation).
    """
    rng = np.random.RandomState(seed)
    if start is not None:
        log_lik = lik.log_likelihood(start, X, y)
        resp, _ = estimator._e_step(start, X, log_lik)
        return _em_loop(
            estimator,
            X,
            y,
            w,
            lik,
            start,
            resp,
            estimator.max_iter,
            estimator.tol,
            run,
            inner_jobs,
        )
    state = _fresh_state(estimator, templates, rng)
    resp = estimator._start_responsibilities(X, y, w, lik, init_resp, rng)
    # Flat gates only: on a tree of gates the continuation has not been
    # measured to help (one fold of yacht with a depth-3 tree fell from
    # R^2 0.99 to 0.49 with it, an expert of 17 rows extrapolating).
    gate = state["gate"]
    target = gate._penalty_C() if hasattr(gate, "_penalty_C") else 0.0
    if not target > _CONTINUATION_C:
        return _em_loop(
            estimator,
            X,
            y,
            w,
            lik,
            state,
            resp,
            estimator.max_iter,
            estimator.tol,
            run,
            inner_jobs,
        )
    state["gate"]._set_penalty_C(_CONTINUATION_C)
    # One reporter for both phases: iterations and time counted from the start.
    progress = _RunProgress(estimator, run, "EM iteration")
    # Both phases fit the gate on the same rows: prepared once.
    gate_inputs = gate._prepare(X, w)
    first = _em_loop(
        estimator,
        X,
        y,
        w,
        lik,
        state,
        resp,
        estimator.max_iter,
        estimator.tol,
        run,
        inner_jobs,
        gate_inputs,
        progress,
    )
    state = first.state
    state["gate"]._set_penalty_C(target)
    remaining = estimator.max_iter - first.n_iter
    if remaining <= 0:
        # The objective asked for was never optimised.
        return first.replace(converged=False)
    log_lik = lik.log_likelihood(state, X, y)
    resp, _ = estimator._e_step(state, X, log_lik)
    progress.offset = first.n_iter
    second = _em_loop(
        estimator,
        X,
        y,
        w,
        lik,
        state,
        resp,
        remaining,
        estimator.tol,
        run,
        inner_jobs,
        gate_inputs,
        progress,
    )
    offset = first.n_iter
    for _, failure in second.failures:
        failure.iteration += offset
    return second.replace(
        history=first.history + second.history,
        n_iter=offset + second.n_iter,
        reinitialized=first.reinitialized
        + [(offset + i, k) for i, k in second.reinitialized],
        failures=first.failures + second.failures,
    )


def _em_loop(
    estimator,
    X,
    y,
    w,
    lik,
    state,
    resp,
    max_iter,
    tol,
    run,
    inner_jobs,
    gate_inputs=None,
    progress=None,
):
    """EM iterations from ``resp``; returns the run record of the best
    iterate. ``run=None`` marks a short run of the initialisation, which
    prints nothing. ``gate_inputs``: the gate's prepared ``(X, w)`` when
    the caller shares them between loops on the same rows; ``progress``: the
    run's reporter when it is shared by the phases of one run."""
    wsum = float(_xp_of(w).sum(w))
    verbose = estimator.verbose if run is not None else 0
    if progress is None:
        progress = _RunProgress(estimator, run, "EM iteration")
    offset = progress.offset
    history, events = [], []
    best, best_bound, best_iter = _snapshot(state), -np.inf, 0
    best_log_lik = -np.inf
    converged, n_iter, reinit_left = False, 0, estimator.n_experts
    failures = []
    if gate_inputs is None:
        gate_inputs = state["gate"]._prepare(X, w)
    if hasattr(state["gate"], "_set_balance_strength"):
        # From the estimator at every run, warm starts included.
        state["gate"]._set_balance_strength(getattr(estimator, "balance_strength", 0))
    top_k = estimator.fit_top_k
    if top_k is not None:
        resp, _ = _top_k_posteriors(resp, top_k)
    squarem = _squarem_for(
        estimator, state, X, y, w, lik, gate_inputs, inner_jobs, run, wsum
    )
    fused = _FusedStep.for_loop(estimator, state, X, y, w, lik, gate_inputs, squarem)
    # SQUAREM cycles and fused steps start from a fitted state and its E-step.
    plain = True
    # Responsibilities that are no E-step of the state (a re-initialisation)
    # get a gate solved to its tol, and so does the last M-step of a run
    # whose gate takes capped steps (see _em_fused.gate_steps), so that the
    # fitted gate is the optimum for the fitted experts (polishing).
    jumped = polish = False
    for n_iter in range(1, max_iter + 1):
        polishing, polish = polish, False
        try:
            total = mass = None
            if fused is not None and not plain and fused.applies(state):
                total, mass, log_prob = fused.step(state, resp, polishing)
                # Kept in the fused step; made where needed.
                resp = None
            elif plain or polishing or squarem is None:
                exact = jumped or polishing
                capped = None if exact else expert_steps(state["experts"], lik)
                cold = _SMALL_EM_COLD_STEPS if run is None else None
                with _em_expert_fits(capped, cold):
                    log_lik = lik.m_step(
                        state["experts"], X, y, resp * w[:, None], state, inner_jobs
                    )
                _record_failures(state["experts"], failures, n_iter, run)
                steps = None if exact else gate_steps(state["experts"], lik)
                with _em_gate_fits(steps):
                    state["gate"]._fit_prepared(gate_inputs, resp)
                resp, log_prob = estimator._e_step(state, X, log_lik)
                if top_k is not None:
                    resp, log_mass = _top_k_posteriors(resp, top_k)
                if fused is not None:
                    fused.invalidate()
            else:
                state, resp, log_prob, _ = squarem.cycle(state, resp, history[-1], tol)
            plain = jumped = False
        except Exception as err:
            # Which iteration of which run: an expert's own error says
            # neither.
            where = f"run {run}" if run is not None else "a small-EM short run"
            err.add_note(f"Raised in EM iteration {n_iter} of {where}.")
            raise
        if total is None:
            total = float(w @ log_prob)
        # Sparse EM's objective is the log of each row's top-k mass, which
        # its E-step keeps; the log-likelihood recorded stays the model's.
        objective = total if top_k is None else float(w @ (log_prob + log_mass))
        # Small-EM's short runs, on a subsample, leave the experts' penalty
        # out: at the full fit's C it weighs n / n_subsample times as much
        # per row there and favours starts whose experts barely fit
        # (LetterRecognition: see the classifier benchmark).
        penalty = estimator._penalty(state, experts=run is not None)
        bound = (objective - penalty) / wsum
        history.append(bound)
        progress.update(n_iter, bound)
        improved = bound > best_bound + tol
        # The polished state is the answer (its experts and gate solved for
        # its responsibilities) also where it is lower by less than tol,
        # the solvers' own tolerance.
        if bound > best_bound or (polishing and bound > best_bound - tol):
            best = _snapshot(state)
            best_bound = bound
            best_log_lik = total
        if improved or best_iter == 0:
            best_iter = n_iter
        if mass is None:
            mass = _to_numpy(w @ resp)
        dead = estimator._dead_experts(mass, state["experts"], lik)
        if dead.size and reinit_left > 0:
            if resp is None:
                resp = fused.responsibilities()
            resp = _reinitialise(
                resp, log_prob, dead[:reinit_left], estimator.n_experts
            )
            events.extend((n_iter, int(k)) for k in dead[:reinit_left])
            reinit_left -= min(dead.size, reinit_left)
            best_iter = n_iter
            # The new responsibilities are no E-step of the state.
            plain = jumped = True
            continue
        if _stops(history, tol, n_iter, best_iter):
            if (
                not polishing
                and n_iter < max_iter
                and (
                    gate_steps(state["experts"], lik) is not None
                    or expert_steps(state["experts"], lik) is not None
                )
            ):
                polish = True
                continue
            converged = True
            break
    if verbose:
        status = "converged" if converged else "did not converge"
        print(
            f"run {run}: {status} after {offset + n_iter} iterations "
            f"({progress.elapsed():.2f}s), best objective {best_bound:.6f}"
        )
    return _Run(
        state=best,
        lower_bound=best_bound,
        log_likelihood=best_log_lik,
        history=history,
        n_iter=n_iter,
        converged=converged,
        unit="EM iterations",
        reinitialized=events,
        failures=failures,
    )


def _top_k_posteriors(resp, k):
    """Sparse EM's E-step: each row's posteriors kept on its ``k`` most
    responsible experts (ties at the k-th value kept too), renormalised.

    Among the distributions over experts that put mass on at most ``k``
    of them, this is the one closest to the posterior (in Kullback-Leibler
    divergence), so EM with it maximises the lower bound
    ``sum_i w_i log sum_{k in S_i} g_k(x_i) p_k(y_i | x_i)`` of the
    log-likelihood, ``S_i`` the row's top-k set (Neal & Hinton 1998).
    Returns the truncated posteriors and the log of each row's kept mass.
    """
    xp = _xp_of(resp)
    if k >= resp.shape[1]:
        return resp, xp.zeros(resp.shape[0], dtype=resp.dtype)
    kth = xp.sort(resp, axis=1)[:, resp.shape[1] - k]
    kept = xp.where(resp >= kth[:, None], resp, xp.zeros_like(resp))
    mass = xp.sum(kept, axis=1)
    return kept / mass[:, None], xp.log(mass)


def _squarem_for(estimator, state, X, y, w, lik, gate_inputs, inner_jobs, run, wsum):
    """The run's :class:`~skmoe._squarem.Squarem`, or None for plain EM
    (the estimator's ``acceleration``; never in small-EM's short runs)."""
    acceleration = getattr(estimator, "acceleration", None)
    if run is None or acceleration is None:
        return None
    sound = squarem_is_sound(estimator, state, X, lik)
    if acceleration == "auto" and not sound:
        return None
    if not sound:
        raise ValueError(
            "acceleration='squarem' needs LinearRegression or Ridge experts "
            "with the Gaussian likelihood (or, for a classifier, "
            "LogisticRegression experts with an L2 penalty or none and no "
            "class weights), a SoftmaxGate and NumPy inputs (its parameters "
            "must form a vector that EM maps deterministically); use "
            "acceleration='auto' or None."
        )

    def em_step(old, resp):
        new = _snapshot(old)
        with _em_expert_fits(expert_steps(new["experts"], lik)):
            log_lik = lik.m_step(
                new["experts"], X, y, resp * w[:, None], new, inner_jobs
            )
        with _em_gate_fits(gate_steps(new["experts"], lik)):
            new["gate"]._fit_prepared(gate_inputs, resp)
        resp, log_prob = estimator._e_step(new, X, log_lik)
        return new, resp, log_prob, bound_of(new, log_prob)

    def e_step_of(candidate):
        return estimator._e_step(candidate, X, lik.log_likelihood(candidate, X, y))

    def bound_of(candidate, log_prob):
        total = float(w @ log_prob)
        return (total - estimator._penalty(candidate)) / wsum

    _, x_scale = _weighted_standardization(X, w)
    y_scale = 1.0
    if not lik.classifier:
        y_scale = float(_weighted_standardization(y[:, None], w)[1][0])
    floor = getattr(lik, "variance_floor", None)
    return Squarem(em_step, e_step_of, bound_of, floor, x_scale, y_scale)


def _stops(history, tol, n_iter, best_iter):
    """EM's stopping rule: converged (:func:`_settled`), or no improvement
    on the best objective by more than ``tol`` for ``_N_ITER_NO_CHANGE``
    iterations without a steady climb (:func:`_rising`)."""
    if _settled(history, tol):
        return True
    return n_iter - best_iter >= _N_ITER_NO_CHANGE and not _rising(history)


def _settled(history, tol):
    """Whether EM has converged: the last change is below ``tol`` and so is
    the gain still to come, as Aitken's acceleration projects it from the
    last two changes (McNicholas et al. 2010; Böhning et al. 1994).

    The last change alone stops EM on a plateau: EM slows down near a
    saddle before it speeds up towards a better optimum. On concrete (1030
    rows, the default model) the change fell to 1.5e-7 per row at iteration
    83 and rose again; the model there was 2.8 nats short of where the run
    ends. While the changes shrink by a factor ``a`` per iteration, the gain
    to come is ``d * a / (1 - a)``: large when ``a`` is near 1 (a plateau);
    when they grow (``a >= 1``) EM is speeding up and does not stop.
    """
    if len(history) < 2:
        return False
    last = history[-1] - history[-2]
    if abs(last) >= tol:
        return False
    if len(history) < 3 or last <= 0 or last < _NEGLIGIBLE * tol:
        # No rise to project (generalised EM, or rounding at the optimum),
        # or one too small to matter even over thousands of iterations.
        return True
    before = history[-2] - history[-3]
    if before <= 0 or last >= before:
        return before <= 0
    ratio = last / before
    return last * ratio / (1.0 - ratio) < tol


def _rising(history):
    """Whether the objective rose at each of the last ``_N_ITER_NO_CHANGE``
    iterations: a slow climb, which the no-improvement rule must not stop
    (``_settled`` decides when it is over)."""
    recent = np.diff(history[-(_N_ITER_NO_CHANGE + 1) :])
    return recent.size == _N_ITER_NO_CHANGE and bool(np.all(recent > 0))


def _record_failures(experts, failures, n_iter, run):
    """Note where each newly failed expert failed (``expert_errors=
    "isolate"``) in ``failures``; raise if every expert has failed."""
    for k, expert in enumerate(experts):
        if isinstance(expert, _FailedExpert) and expert.iteration is None:
            expert.iteration, expert.run = n_iter, run
            failures.append((k, expert))
    if _failed_indices(experts).size == len(experts):
        raise RuntimeError(
            "Every expert of the mixture failed: "
            + "; ".join(e.describe(k) for k, e in enumerate(experts))
        ) from experts[-1].error


def _reinitialise(resp, log_prob, dead, n_experts):
    """Hand each dead expert the rows the mixture explains worst.

    Rare, so a device fit does it on the host.
    """
    like = resp
    resp = np.array(_to_numpy(resp), dtype=np.float64)
    n_rows = max(2, resp.shape[0] // (2 * n_experts))
    order = np.argsort(_to_numpy(log_prob))
    for i, k in enumerate(dead):
        rows = order[i * n_rows : (i + 1) * n_rows]
        resp[rows] = 0.0
        resp[rows, k] = 1.0
    return _like(resp, like)
