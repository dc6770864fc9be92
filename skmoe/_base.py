"""The fit driver shared by every mixture-of-experts estimator.

One EM loop serves the flat and hierarchical estimators, for regression and
classification: validation, initialisation, ``n_init`` restarts, warm start,
the E- and M-steps, convergence, dead-expert handling, the best-iterate
snapshot and the warnings. Subclasses say what an expert's likelihood is and
how to combine the experts' outputs.
"""

import contextlib
import copy
import sys
import time
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import (
    check_is_fitted,
)
from threadpoolctl import threadpool_limits

from . import _gradient
from ._array_api import (
    _DEVICE_SUPPORT,
    _check_fitted_namespace,
    _float_dtype,
    _like,
    _namespace,
    _take,
    _to_numpy,
    _xp_of,
)
from ._experts import (
    _check_expert_templates,
    _make_experts,
    _n_expert_parameters,
    _routing_weights,
)
from ._gate import SoftmaxGate, _quiet_gate_fits, _weighted_standardization
from ._kernels import cluster_sums, e_step, lloyd_assign
from ._validation import _check_weights, _validate_data

#: Experts whose objective has not improved on its best value by more than
#: ``tol`` for this many iterations are stopped: the stopping rule of
#: generalised EM, where experts such as trees do not maximise the weighted
#: likelihood exactly and the objective can oscillate.
_N_ITER_NO_CHANGE = 10


def _caller_stacklevel():
    """The ``stacklevel`` at which a warning raised by the calling function
    points at the user's code: the first frame outside skmoe and scikit-learn
    (the depth from there to ``fit`` varies: subclasses' ``fit``,
    scikit-learn's fit wrapper, a Pipeline)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        package = frame.f_globals.get("__name__", "").partition(".")[0]
        if package not in ("skmoe", "sklearn"):
            break
        frame, level = frame.f_back, level + 1
    return level


def _run_recording_warnings(run_once, *args, **kwargs):
    """``run_once(*args, **kwargs)`` and the warnings it raised, not yet shown.

    Returns ``(run, records)``, records as ``(message, category, filename,
    lineno)``; :func:`_show_once` shows them after the runs. Why not let them
    through: an expert's warning (a LogisticRegression's ConvergenceWarning,
    say) comes from every expert at every EM iteration, and Python's "show
    once per location" record does not help, because scikit-learn's own
    input checks reset it at every call: users saw the same warning
    hundreds of times in one fit. (The gate's fits raise none: see
    :func:`_gate._quiet_gate_fits`.) Picklable, so joblib workers (restarts in
    parallel) return their warnings too.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = run_once(*args, **kwargs)
    return run, [(w.message, w.category, w.filename, w.lineno) for w in caught]


def _show_once(records):
    """Show each distinct recorded warning (category and text) once, under
    the caller's warning filters, at the place that raised it."""
    seen = set()
    for message, category, filename, lineno in records:
        key = (category, str(message))
        if key not in seen:
            seen.add(key)
            warnings.warn_explicit(message, category, filename, lineno)


_MAX_SEED = np.iinfo(np.int32).max

#: Small-EM initialisation (``init_params='small_em'``): the number of short
#: runs, their length in EM iterations, and the most rows they run on.
_SMALL_EM_STARTS = 9
_SMALL_EM_ITER = 50
_SMALL_EM_MAX_ROWS = 2000
_SMALL_EM_TOL = 1e-4
_SMALL_EM_GATE_ITER = 20
_SMALL_EM_TIE = 1e-6

#: The gate penalty of the first phase of an EM run whose gate is penalised
#: more weakly (see BaseMixtureOfExperts._em_run).
_CONTINUATION_C = 100.0
_SMALL_BLAS_MAX_FEATURES = 64


class DeadExpertWarning(UserWarning):
    """An expert's total responsibility fell below ``min_expert_weight``."""


def _weighted_kmeans(Z, weight, n_clusters, rng, max_iter=30):
    """Weighted k-means (k-means++ seeding, Lloyd iterations); returns labels.

    Seeds are drawn by inverting the cumulative weight, so rows repeated in
    place of integer weights give the same centres: the initialisation honours
    ``sample_weight`` like the EM updates do. Every cluster keeps at least one
    row of positive weight.
    """
    positive = np.flatnonzero(weight > 0)
    Z, w = Z[positive], weight[positive]

    def draw(p):
        cum = np.cumsum(p)
        if cum[-1] <= 0:
            cum = np.cumsum(w)
        return min(
            np.searchsorted(cum, rng.uniform() * cum[-1], side="right"), w.size - 1
        )

    centers = np.empty((n_clusters, Z.shape[1]))
    centers[0] = Z[draw(w)]
    closest = lloyd_assign(Z, w, centers[:1])[1]
    for j in range(1, n_clusters):
        centers[j] = Z[draw(w * closest)]
        closest = np.minimum(closest, lloyd_assign(Z, w, centers[j : j + 1])[1])

    labels = None
    for _ in range(max_iter):
        new_labels, d2, sums, mass = lloyd_assign(Z, w, centers)
        # Give each empty cluster the row farthest from its current centre.
        counts = np.bincount(new_labels, minlength=n_clusters)
        if np.any(counts == 0):
            for j in np.flatnonzero(counts == 0):
                far = np.argmax(d2 * (counts[new_labels] > 1))
                new_labels[far] = j
                d2[far] = np.sum((Z[far] - centers[j]) ** 2)
                counts = np.bincount(new_labels, minlength=n_clusters)
            sums, mass = cluster_sums(new_labels, w, Z, n_clusters)
        if labels is not None and np.array_equal(labels, new_labels):
            break
        labels = new_labels
        centers = sums / mass[:, None]

    full = np.zeros(weight.size, dtype=np.intp)
    full[positive] = labels
    # Zero-weight rows take the nearest centre; they do not move anything.
    zero = np.flatnonzero(weight <= 0)
    if zero.size:
        full[zero] = 0
    return full


def _small_blas(X):
    """One BLAS thread while EM works on a few features.

    Every EM iteration runs dozens of tall, narrow matrix products (n x d
    with d small: the gate's logits, the experts' Gram matrices). Multi-threaded
    BLAS gains nothing on them and, when the cores are busy, loses a lot:
    measured 4x slower per iteration (n=10,000, d=5, K=4) on a loaded 2-core
    machine. Wide data keep the library's threads.
    """
    if X.shape[1] <= _SMALL_BLAS_MAX_FEATURES:
        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()


def _snapshot(state):
    """Copy of an EM state. Experts are refitted as new objects every M-step,
    so a shallow copy of their list suffices; the gate is warm-started in
    place and is copied."""
    return {
        "experts": list(state["experts"]),
        "gate": copy.deepcopy(state["gate"]),
        "noise_variance": copy.copy(state.get("noise_variance")),
    }


class BaseMixtureOfExperts(BaseEstimator, metaclass=ABCMeta):
    """Base class of the mixture-of-experts estimators (the EM driver).

    Warning: not for direct use; use the derived classes.
    """

    _parameter_constraints: dict = {
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "expert": [HasMethods(["fit"]), list, tuple, None],
        "gate": [SoftmaxGate, None],
        # --- gradient solver (skmoe/_gradient/) ---
        "solver": [StrOptions({"em", "gradient"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        # --- end gradient solver ---
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [
            StrOptions({"small_em", "kmeans", "random", "random_from_data"}),
            "array-like",
        ],
        "routing": [StrOptions({"soft", "hard", "top_k"})],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "min_responsibility": [Interval(Real, 0, 1, closed="left")],
        "min_expert_weight": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    @abstractmethod
    def __init__(
        self,
        n_experts=3,
        *,
        expert=None,
        gate=None,
        solver="em",
        max_iter=300,
        tol=1e-6,
        batch_size="auto",
        learning_rate_init=0.01,
        shuffle=True,
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_experts = n_experts
        self.expert = expert
        self.gate = gate
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.n_init = n_init
        self.init_params = init_params
        self.routing = routing
        self.top_k = top_k
        self.min_responsibility = min_responsibility
        self.min_expert_weight = min_expert_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------
    # What subclasses provide
    # ------------------------------------------------------------------
    _classifier = False

    @abstractmethod
    def _default_expert(self):
        """The expert used when ``expert=None``."""

    @abstractmethod
    def _validate_fit_data(self, X, y):
        """Validate (X, y) for fit; set target attributes; return X, y."""

    @abstractmethod
    def _likelihood(self, y=None, sample_weight=None):
        """The experts' likelihood (``skmoe._likelihood``): for a fit on
        ``(y, sample_weight)`` when given (its data-dependent constants),
        else for the fitted model."""

    # ------------------------------------------------------------------
    # Gate hooks (a hierarchical gate overrides these)
    # ------------------------------------------------------------------
    #: The parameters of the gate used when ``gate=None``.
    _default_gate_params: dict = {}

    def _make_gate(self):
        if self.gate is None:
            gate = SoftmaxGate(**self._default_gate_params)
        else:
            gate = clone(self.gate)
        return gate.set_params(warm_start=True)

    def _n_gate_parameters(self, gate):
        n_coef = gate.coef_.shape[0] + (1 if gate.fit_intercept else 0)
        return n_coef * (gate.coef_.shape[1] - 1)

    def _gate_log_proba(self, gate, X):
        # X was validated by the caller (fit or _check_X).
        return gate.predict_log_proba(X, check_input=False)

    def _gate_penalty(self, gate):
        return gate.penalty_

    def _reorder(self, state, order):
        """Put the experts in ``order`` (canonical order: by share, descending)."""
        state["experts"] = [state["experts"][k] for k in order]
        gate = state["gate"]
        gate.coef_ = _take(gate.coef_, order, axis=1)
        gate.intercept_ = _take(gate.intercept_, order, axis=0)
        if state.get("noise_variance") is not None:
            state["noise_variance"] = _take(state["noise_variance"], order, axis=0)

    def _route(self, gate, X, log_gate):
        """Mixing weights (n, K) and, for hard/top-k, the rows of each expert."""
        xp = _xp_of(log_gate)
        if self.routing == "soft" or xp is np:
            return _routing_weights(xp.exp(log_gate), self.routing, self.top_k)
        # Hard and top-k routing choose rows on the host (index bookkeeping).
        weights, rows = _routing_weights(
            np.exp(_to_numpy(log_gate)), self.routing, self.top_k
        )
        return _like(weights, X), rows

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X, y, sample_weight):
        if self.warm_start and hasattr(self, "experts_"):
            # Before validation, which may already set attributes (classes_).
            _check_fitted_namespace(X, self, attribute="expert_shares_", method="fit")
        X, y = self._validate_fit_data(X, y)
        xp, _ = _namespace(X)
        sample_weight = _check_weights(sample_weight, X, X.dtype)
        n_positive = int(np.count_nonzero(_to_numpy(sample_weight) > 0))
        # Weights in row units (mean 1 over the rows of positive weight), so
        # that thresholds counted in rows (min_expert_weight) and the gate's
        # penalty mean the same whatever unit the user's weights are in:
        # weights normalised to sum to 1 fit the same model as unit weights.
        weight_unit = float(_xp_of(sample_weight).sum(sample_weight)) / n_positive
        sample_weight = sample_weight / weight_unit
        self._check_enough_rows(n_positive, "samples with positive weight")
        templates = _check_expert_templates(
            self.expert, self.n_experts, self._default_expert(), self._classifier
        )
        # --- gradient solver: check the experts before any work ---
        gradient = self.solver == "gradient"
        if gradient and xp is not None:
            raise ValueError(
                "solver='gradient' fits NumPy inputs only; with array-API "
                f"inputs ({xp.__name__}) use solver='em'."
            )
        if gradient:
            _gradient.check_solver_support(self, templates)
        run_once = type(self)._gradient_run if gradient else type(self)._em_run
        # --- end gradient solver ---
        init_resp = self._check_init_responsibilities(X)
        lik = self._likelihood(y, sample_weight)

        warm = self.warm_start and hasattr(self, "experts_")
        if warm and len(self.experts_) != self.n_experts:
            raise ValueError(
                f"warm_start=True but the fitted model has {len(self.experts_)} "
                f"experts and n_experts={self.n_experts}: set warm_start=False "
                "to fit a new model."
            )
        rng = check_random_state(self.random_state)
        n_init = 1 if warm else self.n_init
        seeds = rng.randint(_MAX_SEED, size=n_init)
        start = copy.deepcopy(self._get_state()) if warm else None
        run_args = (X, y, sample_weight, lik, templates, init_resp, start)
        # Restarts on a device run one after the other: they share it.
        if n_init > 1 and self.n_jobs not in (None, 1) and xp is None:
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_run_recording_warnings)(
                    run_once, self, *run_args, seed, i, inner_jobs=1
                )
                for i, seed in enumerate(seeds)
            )
        else:
            with _small_blas(X):
                results = [
                    _run_recording_warnings(
                        run_once, self, *run_args, seed, i, inner_jobs=self.n_jobs
                    )
                    for i, seed in enumerate(seeds)
                ]
        runs = [run for run, _ in results]
        _show_once(record for _, records in results for record in records)
        best = max(runs, key=lambda run: run["lower_bound"])
        self._finish(best, X, y, sample_weight, lik, runs, weight_unit)
        return self

    def _check_init_responsibilities(self, X):
        if isinstance(self.init_params, str):
            return None
        resp = np.asarray(_to_numpy(self.init_params), dtype=np.float64)
        if resp.shape != (X.shape[0], self.n_experts):
            raise ValueError(
                "init_params given as an array must be initial responsibilities of "
                f"shape (n_samples, n_experts) = {(X.shape[0], self.n_experts)}; "
                f"got shape {resp.shape}."
            )
        if np.any(resp < 0) or not np.allclose(resp.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(
                "init_params given as an array must hold non-negative rows that "
                "sum to 1 (initial responsibilities)."
            )
        return resp

    def _initial_responsibilities(
        self, X, y, sample_weight, lik, init_resp, rng, proxy_experts=False
    ):
        """Initial responsibilities (n, n_experts) of one run, on the host.

        ``proxy_experts``: small-EM's short runs fit the default expert (a
        linear model) in place of the experts (for the streaming and
        minibatch solvers, whose experts learn by ``partial_fit``: their
        ``fit`` on the raw target is not the model they will become).
        """
        if init_resp is not None:
            return init_resp.copy()
        if self.init_params == "small_em" and self.n_experts > 1:
            return self._small_em_responsibilities(
                X, y, sample_weight, lik, rng, proxy_experts
            )
        if self.init_params == "small_em":
            return np.ones((X.shape[0], 1))
        return self._responsibilities_of_kind(
            self.init_params, X, y, sample_weight, lik, rng
        )

    def _responsibilities_of_kind(self, kind, X, y, sample_weight, lik, rng):
        """Starting responsibilities of one ``kind`` of start (an
        ``init_params`` string)."""
        n, n_experts = X.shape[0], self.n_experts
        if kind == "random":
            resp = rng.uniform(size=(n, n_experts))
            return resp / resp.sum(axis=1, keepdims=True)
        Z = lik.init_features(X, y)
        mean, scale = _weighted_standardization(Z, sample_weight)
        Z = (Z - mean) / scale
        if kind == "kmeans":
            labels = _weighted_kmeans(Z, sample_weight, n_experts, rng)
        else:  # random_from_data: nearest of n_experts random rows
            positive = np.flatnonzero(sample_weight > 0)
            centers = Z[rng.choice(positive, size=n_experts, replace=False)]
            labels = lloyd_assign(Z, sample_weight, centers)[0]
        resp = np.zeros((n, n_experts))
        resp[np.arange(n), labels] = 1.0
        return resp

    #: The kinds of start that small-EM tries, in turn.
    _small_em_kinds = ("kmeans", "random_from_data", "random")

    def _small_em_responsibilities(self, X, y, w, lik, rng, proxy_experts=False):
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
        expert = None if proxy_experts else self.expert
        templates = _check_expert_templates(
            expert, self.n_experts, self._default_expert(), self._classifier
        )
        rows = np.arange(X.shape[0])
        if X.shape[0] > _SMALL_EM_MAX_ROWS:
            rows = np.sort(rng.choice(X.shape[0], _SMALL_EM_MAX_ROWS, replace=False))
            if np.count_nonzero(w[rows] > 0) < self.n_experts:
                rows = np.arange(X.shape[0])
        Xs, ys, ws = X[rows], y[rows], w[rows]
        # Every short run fits its gate on the same rows: prepared once.
        gate_inputs = self._make_gate()._prepare(Xs, ws)
        best = None
        for i in range(_SMALL_EM_STARTS):
            kind = self._small_em_kinds[i % len(self._small_em_kinds)]
            resp = self._responsibilities_of_kind(kind, Xs, ys, ws, lik, rng)
            state = self._fresh_state(templates, rng)
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
                run = self._em_loop(
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
            if best is None or run["lower_bound"] > best["lower_bound"] + _SMALL_EM_TIE:
                best = run
        state = best["state"]
        resp, _ = self._e_step(state, X, lik.log_likelihood(state, X, y))
        return resp

    def _start_responsibilities(self, X, y, w, lik, init_resp, rng):
        """Initial responsibilities, in the namespace of ``X``.

        The initialisation (k-means, random draws) runs once per run on the
        host, on NumPy copies, so that a device fit starts exactly where the
        NumPy fit with the same ``random_state`` starts.
        """
        if isinstance(X, np.ndarray):
            return self._initial_responsibilities(X, y, w, lik, init_resp, rng)
        resp = self._initial_responsibilities(
            _to_numpy(X), _to_numpy(y), _to_numpy(w), lik, init_resp, rng
        )
        return _like(resp, X)

    def _e_step(self, state, X, log_lik):
        log_gate = self._gate_log_proba(state["gate"], X)
        return e_step(log_gate, log_lik)

    def _em_run(self, X, y, w, lik, templates, init_resp, start, seed, run, inner_jobs):
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
            resp, _ = self._e_step(start, X, log_lik)
            return self._em_loop(
                X, y, w, lik, start, resp, self.max_iter, self.tol, run, inner_jobs
            )
        state = self._fresh_state(templates, rng)
        resp = self._start_responsibilities(X, y, w, lik, init_resp, rng)
        # Flat gates only: on a tree of gates the continuation has not been
        # measured to help (one fold of yacht with a depth-3 tree fell from
        # R^2 0.99 to 0.49 with it, an expert of 17 rows extrapolating).
        gate = state["gate"]
        target = gate._penalty_C() if hasattr(gate, "_penalty_C") else 0.0
        if not target > _CONTINUATION_C:
            return self._em_loop(
                X, y, w, lik, state, resp, self.max_iter, self.tol, run, inner_jobs
            )
        state["gate"]._set_penalty_C(_CONTINUATION_C)
        # Both phases fit the gate on the same rows: prepared once.
        gate_inputs = gate._prepare(X, w)
        first = self._em_loop(
            X,
            y,
            w,
            lik,
            state,
            resp,
            self.max_iter,
            self.tol,
            run,
            inner_jobs,
            gate_inputs,
        )
        state = first["state"]
        state["gate"]._set_penalty_C(target)
        remaining = self.max_iter - first["n_iter"]
        if remaining <= 0:
            # The objective asked for was never optimised.
            return {**first, "converged": False}
        log_lik = lik.log_likelihood(state, X, y)
        resp, _ = self._e_step(state, X, log_lik)
        second = self._em_loop(
            X, y, w, lik, state, resp, remaining, self.tol, run, inner_jobs, gate_inputs
        )
        offset = first["n_iter"]
        return {
            **second,
            "history": first["history"] + second["history"],
            "n_iter": offset + second["n_iter"],
            "reinitialized": first["reinitialized"]
            + [(offset + i, k) for i, k in second["reinitialized"]],
        }

    def _gradient_run(
        self, X, y, w, lik, templates, init_resp, start, seed, run, inner_jobs
    ):
        """One ``solver='gradient'`` run (``skmoe._gradient.gradient_run``);
        the same record as :meth:`_em_run`. A method, as ``_em_run`` is, so
        that a subclass can wrap the run (benchmarks/bench_solvers.py passes
        it a trace)."""
        return _gradient.gradient_run(
            self, X, y, w, lik, templates, init_resp, start, seed, run, inner_jobs
        )

    def _fresh_state(self, templates, rng):
        return {
            "experts": _make_experts(templates, rng),
            "gate": self._make_gate(),
            "noise_variance": None,
        }

    def _em_loop(
        self,
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
    ):
        """EM iterations from ``resp``; returns the run record of the best
        iterate. ``run=None`` marks a short run of the initialisation, which
        prints nothing. ``gate_inputs``: the gate's prepared ``(X, w)`` when
        the caller shares them between loops on the same rows."""
        wsum = float(_xp_of(w).sum(w))
        verbose = self.verbose if run is not None else 0
        t0 = time.perf_counter()
        history, events = [], []
        best, best_bound, best_iter = _snapshot(state), -np.inf, 0
        best_log_lik = -np.inf
        converged, n_iter, reinit_left = False, 0, self.n_experts
        if gate_inputs is None:
            gate_inputs = state["gate"]._prepare(X, w)
        for n_iter in range(1, max_iter + 1):
            log_lik = lik.m_step(
                state["experts"], X, y, resp * w[:, None], state, inner_jobs
            )
            with _quiet_gate_fits():
                state["gate"]._fit_prepared(gate_inputs, resp)
            resp, log_prob = self._e_step(state, X, log_lik)
            total = float(w @ log_prob)
            bound = (total - self._gate_penalty(state["gate"])) / wsum
            history.append(bound)
            if verbose >= 2:
                print(f"  run {run} iteration {n_iter}: objective {bound:.8f}")
            improved = bound > best_bound + tol
            if bound > best_bound:
                best = _snapshot(state)
                best_bound = bound
                best_log_lik = total
            if improved or best_iter == 0:
                best_iter = n_iter
            mass = _to_numpy(w @ resp)
            dead = self._dead_experts(mass, state["experts"], lik)
            if dead.size and reinit_left > 0:
                resp = self._reinitialise(resp, log_prob, dead[:reinit_left])
                events.extend((n_iter, int(k)) for k in dead[:reinit_left])
                reinit_left -= min(dead.size, reinit_left)
                best_iter = n_iter
                continue
            if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
                converged = True
                break
            if n_iter - best_iter >= _N_ITER_NO_CHANGE:
                converged = True
                break
        if verbose:
            status = "converged" if converged else "did not converge"
            print(
                f"run {run}: {status} after {n_iter} iterations "
                f"({time.perf_counter() - t0:.2f}s), best objective {best_bound:.6f}"
            )
        return {
            "state": best,
            "lower_bound": best_bound,
            "log_likelihood": best_log_lik,
            "history": history,
            "n_iter": n_iter,
            "converged": converged,
            "reinitialized": events,
            "unit": "EM iterations",
        }

    def _min_expert_weights(self, experts, lik=None):
        """Per expert, the total responsibility (in rows) below which it is
        dead: ``min_expert_weight``, or with ``'auto'`` one row more than the
        expert has parameters (its coefficients, or leaves, and its noise
        variance): an expert fitted on fewer rows interpolates them, and its
        predictions elsewhere are not to be trusted. At least 2 rows, also
        for experts with no parameter count."""
        if self.min_expert_weight != "auto":
            return np.full(len(experts), float(self.min_expert_weight))
        floors = np.full(len(experts), 2.0)
        lik = self._likelihood() if lik is None else lik
        extra = lik.n_extra_parameters(self.n_experts) / self.n_experts
        for k, expert in enumerate(experts):
            try:
                n_params = _n_expert_parameters(expert) + extra
            except ValueError:
                continue
            floors[k] = max(2.0, n_params + 1.0)
        return floors

    def _dead_experts(self, mass, experts, lik=None):
        """Indices of the experts whose total responsibility ``mass`` (in
        rows) is below their :meth:`_min_expert_weights`."""
        return np.flatnonzero(mass < self._min_expert_weights(experts, lik))

    def _reinitialise(self, resp, log_prob, dead):
        """Hand each dead expert the rows the mixture explains worst.

        Rare, so a device fit does it on the host.
        """
        like = resp
        resp = np.array(_to_numpy(resp), dtype=np.float64)
        n_rows = max(2, resp.shape[0] // (2 * self.n_experts))
        order = np.argsort(_to_numpy(log_prob))
        for i, k in enumerate(dead):
            rows = order[i * n_rows : (i + 1) * n_rows]
            resp[rows] = 0.0
            resp[rows, k] = 1.0
        return _like(resp, like)

    def _finish(self, best, X, y, w, lik, runs, weight_unit=1.0):
        state = best["state"]
        log_lik = lik.log_likelihood(state, X, y)
        resp, _ = self._e_step(state, X, log_lik)
        mass = _to_numpy(w @ resp)
        order = np.argsort(-mass, kind="stable")
        if self._canonical_order and not np.array_equal(order, np.arange(order.size)):
            self._reorder(state, order)
            mass = mass[order]
        self._set_state(state)
        self._record_target_range(X, y, w)
        self.n_iter_ = best["n_iter"]
        # What n_iter_ counts, for the reports (inspection.summary).
        self._n_iter_unit = best["unit"]
        self.converged_ = best["converged"]
        self.lower_bound_ = best["lower_bound"]
        history = np.asarray(best["history"])
        # Array attributes live where the data lived (scikit-learn's rule).
        self.lower_bounds_ = _like(history, X)
        # In the user's weight units: sum_i w_i log p(y_i | x_i).
        self.log_likelihood_ = best["log_likelihood"] * weight_unit
        self.expert_shares_ = _like(mass / float(_xp_of(w).sum(w)), X)
        self.reinitialized_experts_ = best["reinitialized"]
        dead = self._dead_experts(mass, state["experts"], lik)
        self.dead_experts_ = _like(dead, X)
        stacklevel = _caller_stacklevel()
        if not self.converged_:
            # After a single iteration there is no change to report yet.
            change = (
                f"still changing by {abs(history[-1] - history[-2]):.3g} per iteration"
                if history.size > 1
                else "after a single iteration"
            )
            n_runs = len(runs)
            which = "the best of the" if n_runs > 1 else "the"
            method = "EM" if self.solver == "em" else "Gradient fitting"
            advice = f"Increase max_iter or tol, or try {self._smaller_model}"
            init = self._preferred_init
            if self.solver == "em" and not (
                isinstance(self.init_params, str) and self.init_params == init
            ):
                advice += f", or init_params={init!r}"
            warnings.warn(
                f"{method} did not converge: {which} {n_runs} run(s) stopped at "
                f"max_iter={self.max_iter} with the objective {change} "
                f"(tol={self.tol}). {advice}.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        if self.reinitialized_experts_:
            outcome = (
                f"Some are dead in the fitted model: try {self._smaller_model}."
                if dead.size
                else "Every expert takes part in the fitted model."
            )
            warnings.warn(
                "Experts collapsed during EM (total responsibility below "
                f"min_expert_weight={self.min_expert_weight}) and were "
                "re-initialised on the worst-explained rows, as (iteration, "
                f"expert) pairs: {self.reinitialized_experts_} (see "
                f"reinitialized_experts_). {outcome}",
                DeadExpertWarning,
                stacklevel=stacklevel,
            )
        if dead.size:
            warnings.warn(
                f"The fitted model has {dead.size} dead expert(s) (indices "
                f"{dead.tolist()}, total responsibility below min_expert_weight="
                f"{self.min_expert_weight}); they take almost no part in "
                f"predictions. Try {self._smaller_model}.",
                DeadExpertWarning,
                stacklevel=stacklevel,
            )

    # What the warnings advise (the hierarchical estimators say otherwise).
    _smaller_model = "fewer experts (n_experts)"

    def _describe_n_experts(self):
        """The parameters that set the number of experts, for messages."""
        return f"n_experts={self.n_experts}"

    def _check_enough_rows(self, n_rows, rows):
        """Refuse more experts than rows (described by ``rows``): each
        expert needs data."""
        if self.n_experts > n_rows:
            raise ValueError(
                f"{self._describe_n_experts()} must be at most the number of "
                f"{rows} (n_samples={n_rows}): each expert needs data. Try "
                f"{self._smaller_model}."
            )

    _preferred_init = "small_em"
    _canonical_order = True

    def _record_target_range(self, X, y, w, previous=None):
        """Record what the fitted model needs of the training targets
        (the regressor: their range); nothing by default."""

    def _get_state(self):
        return {
            "experts": self.experts_,
            "gate": self.gate_,
            "noise_variance": getattr(self, "noise_variance_", None),
        }

    def _set_state(self, state):
        self.experts_ = state["experts"]
        self.gate_ = state["gate"]
        if state.get("noise_variance") is not None:
            self.noise_variance_ = state["noise_variance"]

    # ------------------------------------------------------------------
    # Inference shared by regressor and classifier
    # ------------------------------------------------------------------
    def _check_X(self, X, method):
        """Validate X for ``method``; it must live where the fit's data lived."""
        check_is_fitted(self)
        _check_fitted_namespace(X, self, attribute="expert_shares_", method=method)
        return _validate_data(self, X, reset=False, dtype=_float_dtype(X))

    def _check_X_y(self, X, y, method):
        X = self._check_X(X, method)
        return X, self._check_y(y, X)

    def predict_gate_proba(self, X):
        """Gate probabilities ``g_k(x)`` of each expert for new data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        gate_proba : ndarray of shape (n_samples, n_experts)
            Rows sum to one.
        """
        X = self._check_X(X, "predict_gate_proba")
        log_gate = self._gate_log_proba(self.gate_, X)
        return _xp_of(log_gate).exp(log_gate)

    def predict_responsibilities(self, X, y):
        """Posterior probability of each expert given the observed target.

        ``h_ik = g_k(x_i) p_k(y_i | x_i) / sum_j g_j(x_i) p_j(y_i | x_i)``, the
        E-step of EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        responsibilities : ndarray of shape (n_samples, n_experts)
        """
        X, y = self._check_X_y(X, y, "predict_responsibilities")
        state = self._get_state()
        log_lik = self._likelihood().log_likelihood(state, X, y)
        resp, _ = self._e_step(state, X, log_lik)
        return resp

    def score_samples(self, X, y):
        """Log-likelihood ``log p(y_i | x_i)`` of each row under the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        X, y = self._check_X_y(X, y, "score_samples")
        state = self._get_state()
        log_lik = self._likelihood().log_likelihood(state, X, y)
        _, log_prob = self._e_step(state, X, log_lik)
        return log_prob

    def _n_parameters(self):
        n_experts = sum(_n_expert_parameters(e) for e in self.experts_)
        return (
            self._n_gate_parameters(self.gate_)
            + n_experts
            + self._likelihood().n_extra_parameters(self.n_experts)
        )

    def bic(self, X, y):
        """Bayesian information criterion on (X, y); lower is better.

        ``-2 log L + n_parameters log(n_samples)``. Parameters are counted as
        the gate's identifiable coefficients, each expert's coefficients (or
        leaves, for trees) and the noise variances.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        bic : float

        Raises
        ------
        ValueError
            For experts with no parameter count: those that are neither
            linear models nor trees (alone or as a Pipeline's last step).
        """
        log_prob = self.score_samples(X, y)
        n_params = self._n_parameters()
        total = float(_xp_of(log_prob).sum(log_prob))
        return -2 * total + n_params * np.log(log_prob.shape[0])

    def aic(self, X, y):
        """Akaike information criterion on (X, y); lower is better.

        ``-2 log L + 2 n_parameters``, parameters counted as in :meth:`bic`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        aic : float

        Raises
        ------
        ValueError
            For experts with no parameter count, as :meth:`bic`.
        """
        log_prob = self.score_samples(X, y)
        total = float(_xp_of(log_prob).sum(log_prob))
        return -2 * total + 2 * self._n_parameters()

    def _mixing(self, X, method):
        """Validated X, the routed mixing weights and the rows per expert."""
        # Routing is a prediction-time choice, often set after fitting
        # (``set_params(routing="hard")``), so fit's check is not enough.
        validate_parameter_constraints(
            {p: self._parameter_constraints[p] for p in ("routing", "top_k")},
            {"routing": self.routing, "top_k": self.top_k},
            caller_name=type(self).__name__,
        )
        X = self._check_X(X, method)
        log_gate = self._gate_log_proba(self.gate_, X)
        weights, rows = self._route(self.gate_, X, log_gate)
        return X, weights, rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        # EM runs in the inputs' namespace (solver='em'; see the GPU guide),
        # with scikit-learn >= 1.9.
        tags.array_api_support = _DEVICE_SUPPORT and self.solver == "em"
        return tags
