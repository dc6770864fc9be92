"""The base class shared by every mixture-of-experts estimator.

``fit`` is one driver for the flat and hierarchical estimators, for
regression and classification: validation, the choice of solver (EM in
``_em.py``, gradient fitting in ``_gradient/``), ``n_init`` restarts, warm
start, then ``_finish``: the fitted attributes, dead-expert reports and the
warnings, from the best run's record (``_run._Run``). The estimator says
what its experts' likelihood is (``_likelihood.py``), which gate it uses
(``_gate.py``, ``_tree_gate.py``) and how to combine the experts' outputs;
the inference shared by every estimator (gate probabilities,
responsibilities, ``score_samples``, BIC) is here too.
"""

import contextlib
import copy
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _num_features, check_is_fitted
from threadpoolctl import ThreadpoolController

from ._advice import (
    _caller_stacklevel,
    convergence_message,
    dead_message,
    show_once_at_user,
    warn_at_user,
)
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
from ._em import em_run, small_em_responsibilities
from ._experts import (
    _check_expert_templates,
    _failed_indices,
    _FailedExpert,
    _n_expert_parameters,
    _routing_weights,
)
from ._gate import SoftmaxGate, _weighted_standardization
from ._init import _weighted_kmeans
from ._kernels import e_step, lloyd_assign
from ._logistic import experts_penalty
from ._progress import check_progress_bar, end_of_run, fit_bar
from ._resize import _guarded, _resized_start
from ._run import _records, _run_recording_warnings
from ._validation import (
    _check_weights,
    _dask_blockwise,
    _is_dask_collection,
    _keeps_float32,
    _validate_data,
)

_MAX_SEED = np.iinfo(np.int32).max

_SMALL_BLAS_MAX_FEATURES = 64


class DeadExpertWarning(UserWarning):
    """An expert's total responsibility fell below ``min_expert_weight``."""


class ExpertFailureWarning(UserWarning):
    """An expert failed during the fit (its ``fit`` raised, or its outputs
    were invalid) and was taken out of the mixture
    (``expert_errors="isolate"``), or a restart failed and was dropped."""


def _small_blas(X):
    """One BLAS thread while EM works on a few features.

    Every EM iteration runs dozens of tall, narrow matrix products (n x d
    with d small: the gate's logits, the experts' Gram matrices). Multi-threaded
    BLAS gains nothing on them and, when the cores are busy, loses a lot:
    measured 4x slower per iteration (n=10,000, d=5, K=4) on a loaded 2-core
    machine. Wide data keep the library's threads.
    """
    if X.shape[1] <= _SMALL_BLAS_MAX_FEATURES:
        return _threadpools().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


_THREADPOOLS = None


def _threadpools():
    """The process's threadpoolctl controller, made once: making one scans
    the loaded libraries, which cost several milliseconds per ``fit`` (a
    fifth of a fit of 10,000 rows)."""
    global _THREADPOOLS
    if _THREADPOOLS is None:
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS


@contextlib.contextmanager
def _restored_on_error(estimator, keep=None):
    """Put back every attribute ``estimator`` had if the block raises.

    Fitted objects are replaced, never changed in place, by ``fit``; what a
    block does change in place (``partial_fit``'s streaming state) is passed
    as ``keep``, a dict of attribute name to a copy to restore.
    """
    saved = dict(vars(estimator))
    if keep:
        saved.update(keep)
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


class BaseMixtureOfExperts(BaseEstimator, metaclass=ABCMeta):
    """Base class of the mixture-of-experts estimators (the EM driver).

    Warning: not for direct use; use the derived classes.
    """

    _parameter_constraints: dict = {
        "expert": [HasMethods(["fit"]), list, tuple, None],
        "gate": [SoftmaxGate, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [
            StrOptions({"small_em", "kmeans", "random", "random_from_data"}),
            "array-like",
        ],
        "routing": [StrOptions({"soft", "hard", "top_k"})],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "fit_top_k": [Interval(Integral, 1, None, closed="left"), None],
        "min_responsibility": [Interval(Real, 0, 1, closed="left")],
        "min_expert_weight": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "expert_errors": [StrOptions({"isolate", "raise"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "progress_bar": ["boolean"],
        "warm_start": ["boolean"],
    }

    @abstractmethod
    def __init__(
        self,
        *,
        expert=None,
        gate=None,
        max_iter=300,
        tol=1e-6,
        n_init=1,
        init_params="small_em",
        routing="soft",
        top_k=2,
        fit_top_k=None,
        min_responsibility=1e-6,
        min_expert_weight="auto",
        expert_errors="isolate",
        n_jobs=None,
        random_state=None,
        verbose=0,
        verbose_interval=10,
        progress_bar=False,
        warm_start=False,
    ):
        self.expert = expert
        self.gate = gate
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.init_params = init_params
        self.routing = routing
        self.top_k = top_k
        self.fit_top_k = fit_top_k
        self.min_responsibility = min_responsibility
        self.min_expert_weight = min_expert_weight
        self.expert_errors = expert_errors
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.progress_bar = progress_bar
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
    # Gate hooks: the gate's interface (skmoe._gate._BaseGate) only
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
        return gate._n_parameters()

    def _gate_log_proba(self, gate, X):
        # X was validated by the caller (fit or _check_X).
        return gate.predict_log_proba(X, check_input=False)

    def _penalty(self, state, experts=True):
        """What EM's objective subtracts from the log-likelihood: the
        gate's penalty and (``experts``) the logistic experts' (see
        ``lower_bound_``)."""
        penalty = state["gate"].penalty_
        return penalty + experts_penalty(state["experts"]) if experts else penalty

    def _reorder(self, state, order):
        """Put the experts in ``order`` (canonical order: by share, descending)."""
        state["experts"] = [state["experts"][k] for k in order]
        state["gate"] = state["gate"]._reorder_experts(order)
        if state.get("noise_variance") is not None:
            state["noise_variance"] = _take(state["noise_variance"], order, axis=0)

    def _route(self, gate, X, log_gate, masked=False):
        """Mixing weights (n, K) and, for hard/top-k, the rows of each expert.

        ``masked``: ``log_gate`` has failed experts masked; hard routing then
        takes its most probable expert (a tree's own routing could reach a
        failed leaf)."""
        if self.routing == "hard" and not masked:
            # The gate's own hard routing: a tree follows the most probable
            # branch at each node, evaluating only the gates on the way.
            chosen = _to_numpy(gate.apply(X))
            n, n_experts = log_gate.shape
            weights = np.zeros((n, n_experts))
            weights[np.arange(n), chosen] = 1.0
            rows = [np.flatnonzero(chosen == k) for k in range(n_experts)]
            return _like(weights, X), rows
        xp = _xp_of(log_gate)
        if self.routing == "soft" or xp is np:
            return _routing_weights(xp.exp(log_gate), self.routing, self.top_k)
        # Top-k routing chooses rows on the host (index bookkeeping).
        weights, rows = _routing_weights(
            np.exp(_to_numpy(log_gate)), self.routing, self.top_k
        )
        return _like(weights, X), rows

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _fit(self, X, y, sample_weight):
        """Fit, atomically: if anything raises, the estimator keeps every
        attribute it had before (fitted or not). Dask collections are fitted
        by EM over their blocks (``_dask.py``, imported only then)."""
        with _restored_on_error(self):
            if _is_dask_collection(X, y, sample_weight):
                from ._dask import dask_fit

                return dask_fit(self, X, y, sample_weight)
            return self._fit_unguarded(X, y, sample_weight)

    def _check_top_k(self):
        """``routing='top_k'`` needs ``top_k`` at most the number of experts
        (it used to be cut to that number silently)."""
        if self.routing == "top_k" and self.top_k > self.n_experts:
            raise ValueError(
                f"top_k={self.top_k} with routing='top_k' must be at most the "
                f"number of experts, {self.n_experts}. Lower top_k (top_k="
                f"{self.n_experts} is soft routing)."
            )
        if self.fit_top_k is not None and self.fit_top_k > self.n_experts:
            raise ValueError(
                f"fit_top_k={self.fit_top_k} must be at most the number of "
                f"experts, {self.n_experts}. Lower fit_top_k, or set "
                "fit_top_k=None for dense EM."
            )

    def _fit_unguarded(self, X, y, sample_weight):
        self._check_top_k()
        check_progress_bar(self)
        if self.gate is not None:
            # The gate template's own parameters, before any work (EM would
            # otherwise meet a negative C at its first M-step).
            self.gate._validate_params()
        warm = self.warm_start and hasattr(self, "experts_")
        if warm:
            # Before validation, which may already set attributes (classes_).
            _check_fitted_namespace(X, self, attribute="expert_shares_", method="fit")
            n_features = _num_features(X)
            if n_features != self.n_features_in_:
                raise ValueError(
                    f"warm_start=True but X has {n_features} features and the "
                    f"fitted model {self.n_features_in_}: continue with data "
                    "of the same features, or set warm_start=False to fit a "
                    "new model."
                )
            self._check_warm_state()
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
        run_once = self._select_solver(xp, templates)
        init_resp = self._check_init_responsibilities(X)
        lik = self._likelihood(y, sample_weight)

        resize = warm and len(self.experts_) != self.n_experts
        if resize:
            self._check_resizable(xp)
        rng = check_random_state(self.random_state)
        n_init = 1 if warm else self.n_init
        seeds = rng.randint(_MAX_SEED, size=n_init)
        start = copy.deepcopy(self._get_state()) if warm else None
        if resize:
            start, duplicate, floor = self._resized_start(
                start, X, y, sample_weight, lik
            )
            if duplicate is not None:
                run_once = _guarded(run_once, duplicate, floor)
        run_args = (X, y, sample_weight, lik, templates, init_resp, start)
        # One restart that fails must not sink the others.
        catch = self.expert_errors == "isolate" and n_init > 1
        # Restarts on a device run one after the other: they share it.
        parallel = n_init > 1 and self.n_jobs not in (None, 1) and xp is np
        per_run = None if parallel else self.max_iter
        if parallel:
            # Python's warning filters are global, not per thread: with a
            # thread backend the restarts cannot each record their own, so
            # the caller records them all.
            threads = getattr(get_active_backend()[0], "uses_threads", False)
            with (
                warnings.catch_warnings(record=True) as caught,
                fit_bar(self, n_init, per_run) as bar,
            ):
                warnings.simplefilter("always")
                results = []
                # In order, as they end: the bar counts finished restarts.
                for result in Parallel(n_jobs=self.n_jobs, return_as="generator")(
                    delayed(_run_recording_warnings)(
                        run_once,
                        self,
                        *run_args,
                        seed,
                        i,
                        inner_jobs=1,
                        catch=catch,
                        record=not threads,
                    )
                    for i, seed in enumerate(seeds)
                ):
                    results.append(result)
                    end_of_run(bar, len(results), per_run)
            results.append((None, _records(caught)))
        else:
            results = []
            with _small_blas(X), fit_bar(self, n_init, per_run) as bar:
                for i, seed in enumerate(seeds):
                    results.append(
                        _run_recording_warnings(
                            run_once,
                            self,
                            *run_args,
                            seed,
                            i,
                            inner_jobs=self.n_jobs,
                            catch=catch,
                        )
                    )
                    end_of_run(bar, i + 1, per_run)
        runs = [run for run, _ in results if run is not None]
        records = [record for _, run_records in results for record in run_records]
        # The experts' own ConvergenceWarnings join the fit's (one per fit,
        # with advice); any other warning is shown once, at the user's line.
        expert_convergence = list(
            dict.fromkeys(
                str(message)
                for message, category, _, _ in records
                if issubclass(category, ConvergenceWarning)
            )
        )
        show_once_at_user(
            r for r in records if not issubclass(r[1], ConvergenceWarning)
        )
        runs = self._drop_failed_runs(runs)
        best = max(runs, key=lambda run: run.lower_bound)
        self._finish(
            best, X, y, sample_weight, lik, runs, weight_unit, expert_convergence
        )
        return self

    def _check_warm_state(self):
        """Refuse a warm start from a fitted model that the current
        parameters cannot continue (a regressor's other likelihood)."""

    def _check_resizable(self, xp):
        """Refuse a warm start with another number of experts (the flat
        estimators grow and shrink; see ``_FlatMixin``)."""
        raise ValueError(
            f"warm_start=True but the fitted model has {len(self.experts_)} "
            f"experts and {self._describe_n_experts()}: set warm_start=False "
            "to fit a new model."
        )

    def _resized_start(self, state, X, y, w, lik):
        """The start of a warm-started fit of another size, the grown
        model's exact-copy start and the fitted model's log-likelihood
        (``_resize._resized_start``; the hierarchical estimators grow and
        prune their tree instead)."""
        return _resized_start(self, state, X, y, w, lik)

    def _select_solver(self, xp, templates):
        """The function that runs one start of the fit, its inputs checked
        before any work. Every solver has the signature ``(estimator, X, y,
        w, lik, templates, init_resp, start, seed, run, inner_jobs)`` and
        returns a ``_run._Run``. EM here; the flat estimators also offer
        gradient fitting (``solver``)."""
        return em_run

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
            return small_em_responsibilities(
                self, X, y, sample_weight, lik, rng, proxy_experts
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

    def _log_gate(self, state, X):
        """The gate's log-probabilities (n, K) of ``state``, with the columns
        of failed experts masked (probability 0, the others renormalised)."""
        log_gate = self._gate_log_proba(state["gate"], X)
        failed = _failed_indices(state["experts"])
        if not failed.size:
            return log_gate
        xp = _xp_of(log_gate)
        alive = np.ones(log_gate.shape[1], dtype=bool)
        alive[failed] = False
        alive = _like(alive, log_gate)
        masked = xp.where(alive, log_gate, xp.full_like(log_gate, -xp.inf))
        top = xp.max(masked, axis=1, keepdims=True)
        norm = top + xp.log(xp.sum(xp.exp(masked - top), axis=1, keepdims=True))
        return masked - norm

    def _e_step(self, state, X, log_lik):
        return e_step(self._log_gate(state, X), log_lik)

    def _drop_failed_runs(self, runs):
        """The runs that returned a record; the failed ones (exceptions,
        caught with ``expert_errors="isolate"``) are dropped with a
        warning, or re-raised when every run failed."""
        failed = [(i, r) for i, r in enumerate(runs) if isinstance(r, BaseException)]
        kept = [r for r in runs if not isinstance(r, BaseException)]
        if not kept:
            raise failed[0][1]
        if failed:
            detail = "; ".join(f"run {i}: {type(e).__name__}: {e}" for i, e in failed)
            warnings.warn(
                f"{len(failed)} of {len(runs)} restarts failed and were dropped "
                f"(the best of the others is kept): {detail}",
                ExpertFailureWarning,
                stacklevel=_caller_stacklevel(),
            )
        return kept

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
        rows) is below their :meth:`_min_expert_weights`; failed experts
        are out of the mixture, not dead."""
        dead = np.flatnonzero(mass < self._min_expert_weights(experts, lik))
        return np.setdiff1d(dead, _failed_indices(experts))

    def _finish(
        self,
        best,
        X,
        y,
        w,
        lik,
        runs,
        weight_unit=1.0,
        expert_convergence=(),
        summary=None,
    ):
        """Set the fitted attributes from the best run and warn, once per
        kind, about what needs the user's attention (``_advice``).

        ``expert_convergence``: the texts of the experts' own
        ``ConvergenceWarning``. ``summary``: ``(mass, target_range)``
        computed by the caller (the Dask path, whose ``X`` here is an empty
        placeholder): each expert's total responsibility and, for
        regressors, ``target_range_`` (None for classifiers).
        """
        state = best.state
        if summary is None:
            log_lik = lik.log_likelihood(state, X, y)
            resp, _ = self._e_step(state, X, log_lik)
            mass = _to_numpy(w @ resp)
        else:
            mass = np.asarray(summary[0], dtype=np.float64)
        order = np.argsort(-mass, kind="stable")
        position = np.arange(order.size)  # each run index's place in the model
        if self._canonical_order and not np.array_equal(order, np.arange(order.size)):
            self._reorder(state, order)
            mass = mass[order]
            position = np.argsort(order)
        dead = self._record_fit(best, X, y, w, lik, mass, weight_unit, summary=summary)
        stacklevel = _caller_stacklevel()
        self._report_failures(best, position, stacklevel)
        message = convergence_message(
            self, best, len(runs), X, state["experts"], dead, expert_convergence
        )
        if message is not None:
            warn_at_user(message, ConvergenceWarning)
        message = dead_message(self, dead, self.reinitialized_experts_)
        if message is not None:
            warn_at_user(message, DeadExpertWarning)

    def _record_fit(
        self, run, X, y, w, lik, mass, weight_unit, previous_range=None, summary=None
    ):
        """Set the fitted attributes from a run record; the bookkeeping that
        ``fit`` (through :meth:`_finish`) and ``partial_fit`` share.

        ``mass``: each expert's total responsibility (in rows) on the data
        the attributes describe; ``weight_unit``: the factor from fit's row
        units back to the user's weights; ``previous_range``: the
        ``target_range_`` of the chunks before (``partial_fit``). Returns
        the indices of the dead experts.
        """
        self._set_state(run.state)
        if summary is None:
            self._record_target_range(X, y, w, previous_range)
        elif summary[1] is not None:
            self.target_range_ = np.asarray(summary[1], dtype=np.float64)
        self.n_iter_ = run.n_iter
        # What n_iter_ counts, for the reports (inspection.summary).
        self._n_iter_unit = run.unit
        self.converged_ = run.converged
        self.lower_bound_ = run.lower_bound
        # Array attributes live where the data lived (scikit-learn's rule).
        self.lower_bounds_ = _like(np.asarray(run.history), X)
        # In the user's weight units: sum_i w_i log p(y_i | x_i).
        self.log_likelihood_ = run.log_likelihood * weight_unit
        self.expert_shares_ = _like(mass / float(mass.sum()), X)
        self.reinitialized_experts_ = run.reinitialized
        self.failed_experts_ = []
        dead = self._dead_experts(mass, run.state["experts"], lik)
        self.dead_experts_ = _like(dead, X)
        return dead

    def _report_failures(self, run, position, stacklevel):
        """Set ``failed_experts_`` from the run's failures (``position``:
        each expert's index in the fitted model) and warn about them."""
        report, lines, seen = [], [], set()
        for k, failure in run.failures:
            index = int(position[k])
            if index in seen:
                # Failed again after the run went back to an earlier iterate
                # (the penalty continuation's second phase): reported once.
                continue
            seen.add(index)
            out = isinstance(self.experts_[index], _FailedExpert)
            report.append(
                {
                    "expert": index,
                    "estimator": failure.estimator,
                    "iteration": failure.iteration,
                    "run": failure.run,
                    "error": failure.error,
                    "in_fitted_model": not out,
                }
            )
            line = failure.describe(index)
            if not out:
                line += " (the returned model is an earlier iterate, with it)"
            lines.append(line)
        self.failed_experts_ = report
        if lines:
            warnings.warn(
                f"{len(lines)} expert(s) failed during EM and were taken out of "
                f"the mixture (expert_errors='isolate'; the others were fitted "
                f"without them): {'; '.join(lines)}. See failed_experts_, or set "
                "expert_errors='raise' to stop at the first failure.",
                ExpertFailureWarning,
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

    @_dask_blockwise
    @_keeps_float32
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
        log_gate = self._log_gate(self._get_state(), X)
        return _xp_of(log_gate).exp(log_gate)

    @_dask_blockwise
    @_keeps_float32
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

    @_dask_blockwise
    @_keeps_float32
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
        self._check_top_k()
        X = self._check_X(X, method)
        log_gate = self._log_gate(self._get_state(), X)
        masked = _failed_indices(self.experts_).size > 0
        weights, rows = self._route(self.gate_, X, log_gate, masked)
        return X, weights, rows

    def _mixed_outputs(self, X, method, output):
        """Validated X, the routed mixing weights and the experts' outputs
        (``output(experts, X, rows, isolate)``, per :func:`_expert_outputs`).

        With ``expert_errors="isolate"``, an expert that raises or returns
        invalid outputs here is left out of this call's predictions: the
        gate is renormalised over the others and the rows routed again, with
        an ``ExpertFailureWarning``. The fitted model is not changed.
        """
        X, weights, rows = self._mixing(X, method)
        isolate = self.expert_errors == "isolate"
        experts = list(self.experts_)
        failed = _failed_indices(experts)
        outputs = output(experts, X, rows, isolate)
        now_failed = _failed_indices(experts)
        if now_failed.size == failed.size:
            return X, weights, outputs
        new = np.setdiff1d(now_failed, failed)
        if now_failed.size == len(experts):
            raise RuntimeError(
                f"Every expert failed in {method}: "
                + "; ".join(experts[k].describe(k) for k in new)
            ) from experts[new[-1]].error
        warnings.warn(
            f"{new.size} expert(s) failed in {method} and were left out of "
            "these predictions (the gate renormalised over the others): "
            + "; ".join(experts[k].describe(k) for k in new),
            ExpertFailureWarning,
            stacklevel=_caller_stacklevel(),
        )
        state = {"experts": experts, "gate": self.gate_}
        weights, rows = self._route(self.gate_, X, self._log_gate(state, X), True)
        # The experts that failed now give zeros, which the weights ignore.
        return X, weights, output(experts, X, rows, False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        # EM runs in the inputs' namespace (see the GPU guide), with
        # scikit-learn >= 1.9.
        tags.array_api_support = _DEVICE_SUPPORT
        return tags
