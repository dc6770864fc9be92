"""Minibatch gradient fitting: Adam on the stack, ``partial_fit`` on the others.

:class:`_Stream` is the state of minibatch fitting (``fit`` with a
``batch_size`` or with experts updated through ``partial_fit``, and the
estimators' ``partial_fit``); :func:`_warm_up` starts both gradient solvers
of ``fit``.
"""

import copy

import numpy as np

from .._experts import PROBA_FLOOR, _expert_outputs, _make_experts
from .._kernels import e_step
from .._progress import _RunProgress
from .._run import _Run
from ._lbfgs import _lbfgs
from ._model import _classes_of, _Model, _Objective, _softmax_pair
from ._support import _learns_standardized_target

#: Adam's moment decay rates and denominator offset (Kingma & Ba's defaults,
#: as in ``MLPRegressor``).
_ADAM_BETA1 = 0.9
_ADAM_BETA2 = 0.999
_ADAM_EPS = 1e-8

#: Minibatch ``fit`` stops when the training objective has not improved on
#: its best value by more than ``tol`` for this many epochs (scikit-learn's
#: SGD estimators use ``n_iter_no_change=5`` in the same way).
_N_EPOCHS_NO_CHANGE = 5

#: Minibatch ``fit`` divides the learning rate by ``_LR_DECAY`` each time the
#: objective has not improved by ``tol`` for ``_N_EPOCHS_DECAY`` epochs
#: (``MLPRegressor(learning_rate='adaptive')``'s rule), so the steps shrink
#: when the constant-step iterates only wander around the optimum.
_N_EPOCHS_DECAY = 2
_LR_DECAY = 5.0

#: The running noise variances of minibatch fitting forget old squared
#: residuals with a factor ``exp(-n_rows / _VARIANCE_MEMORY)`` per minibatch
#: of ``n_rows`` rows: residuals of experts that have since improved fade out
#: after a few thousand rows.
_VARIANCE_MEMORY = 2048.0

#: L-BFGS iterations of each M-step of the warm-up.
_INIT_MAX_ITER = 100

#: EM iterations after the initial M-step of the warm-up that starts both
#: gradient solvers, on at most ``_INIT_ROWS`` random rows of the training
#: data in ``fit`` (on the first chunk in ``partial_fit``).
_INIT_EM_ITER = 5

#: The tolerance of the initialisation's M-steps (L-BFGS): tight, so that
#: they end at their optimum, not anywhere along a flat valley of the gate
#: (where a looser stop made the start depend on rounding: the weights' unit).
_INIT_TOL = 1e-10
_INIT_ROWS = 10_000

#: Minibatch size used by ``batch_size="auto"`` with the minibatch solver
#: (``min(200, n_samples)``, as ``MLPRegressor``).
_AUTO_BATCH = 200


class _Adam:
    """Adam (Kingma & Ba 2015) on a list of arrays, updated in place."""

    def __init__(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        c1 = 1.0 - _ADAM_BETA1**self.t
        c2 = 1.0 - _ADAM_BETA2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= _ADAM_BETA1
            m += (1.0 - _ADAM_BETA1) * g
            v *= _ADAM_BETA2
            v += (1.0 - _ADAM_BETA2) * g * g
            p -= lr * (m / c1) / (np.sqrt(v / c2) + _ADAM_EPS)


class _Stream:
    """State of minibatch fitting: the model, Adam, running statistics, the RNG."""

    def __init__(self, estimator, templates, kinds, rng, n_features, classes):
        self.estimator = estimator
        classifier = estimator._classifier
        self.classes = classes
        self.model = _Model(
            n_features,
            estimator._make_gate(),
            templates,
            kinds,
            classifier,
            0 if classes is None else classes.size,
        )
        self.model.classes = classes
        self.protos = _make_experts(templates, rng)
        self.rng = rng
        self.weight_unit = 1.0
        self.adam = None
        self.lr = estimator.learning_rate_init
        self.n_steps = 0
        # Benchmarks only: gradient_run's trace, called every trace_every steps.
        self.trace = None
        self.trace_every = 0
        K = len(templates)
        self.sq_sum = np.zeros(K)  # running (forgetting) sums for the variances
        self.mass_sum = np.zeros(K)
        self.seen = 0.0  # total sample weight seen
        self.resp_mass = np.zeros(K)  # total responsibility mass seen
        self.n_calls = 0
        self.history = []
        self.experts = None  # the list last written to the estimator

    # -- helpers ----------------------------------------------------------
    @property
    def classifier(self):
        return self.model.classifier

    def var_floor(self):
        """``variance_floor`` times the running variance of y.

        Not the likelihood's floor (``GaussianLikelihood.variance_floor``,
        which EM and the full-batch L-BFGS use): that one is set by the data
        the likelihood was made from and includes the rounding floor, while
        this one follows every chunk ``partial_fit`` has seen and has none.
        Switching changes the fits on rounded targets (integer scores).
        """
        est = self.estimator
        var_y = float(self.model.y_scaler.var[0])
        mean = self.model.y_mean
        tiny = np.finfo(np.float64).eps * max(1.0, mean * mean)
        return est.variance_floor * max(var_y, tiny)

    def targets(self, y):
        """Class indices (classification) or y itself."""
        if self.classifier:
            return np.searchsorted(self.classes, y)
        return y

    def external_out(self, X, t_raw):
        """External experts' standardised predictions or log-likelihoods."""
        m = self.model
        if not m.ext:
            return None
        experts = [m.externals[k] for k in m.ext]
        if not self.classifier:
            preds = _expert_outputs(experts, X)
            preds = preds * m.ext_scale[m.ext] + m.ext_shift[m.ext]
            return (preds - m.y_mean) / m.y_scale
        proba = _expert_outputs(experts, X, self.classes)
        p = proba[np.arange(X.shape[0]), :, t_raw]
        return np.log(np.maximum(p, PROBA_FLOOR))

    def partial_fit_externals(self, X, y, weights):
        est = self.estimator
        m = self.model
        for k in m.ext:
            weight = weights[:, k]
            keep = weight > est.min_responsibility
            if not keep.any():
                continue
            expert = self.model.externals[k]
            kwargs = {"sample_weight": weight[keep]}
            if self.classifier:
                kwargs["classes"] = self.classes
                target = y[keep]
            else:
                target = (y[keep] - m.ext_shift[k]) / m.ext_scale[k]
            try:
                expert.partial_fit(X[keep], target, **kwargs)
            except Exception as err:
                # Minibatch steps cannot take an expert out of the mixture
                # (the gate's Adam state spans every expert): say which one
                # failed, and where isolation is available.
                err.add_note(
                    f"Raised by partial_fit of expert {k} of the mixture: "
                    f"{expert!r}, at minibatch step {self.n_steps}. The "
                    "gradient solvers and partial_fit do not isolate failing "
                    "experts; solver='em' does (expert_errors='isolate')."
                )
                raise

    def exact_variances(self, X, Xs, t, y, w, resp=None):
        """Set the variances to their weighted residual averages on (X, y)."""
        m = self.model
        if self.classifier:
            return
        log_prob, h, preds = self.evaluate(X, Xs, t, w, resp=resp)
        r2 = (t[:, None] - preds) ** 2 * m.y_scale**2
        self.mass_sum = h.T @ w
        self.sq_sum = (h * r2).T @ w
        self._variances_from_sums()

    def _variances_from_sums(self, floor=None):
        """Variances from the running sums; an expert with no mass keeps its own."""
        m = self.model
        with np.errstate(invalid="ignore", divide="ignore"):
            var = self.sq_sum / self.mass_sum
        var = np.where(self.mass_sum > 0, var, m.var)
        floor = self.var_floor() if floor is None else floor
        m.var = np.maximum(np.nan_to_num(var, nan=m.var.max()), floor)

    def evaluate(self, X, Xs, t, w, resp=None):
        """E-step under the current model: log_prob (standardised), h, preds."""
        m = self.model
        O = Xs @ np.vstack([m.W, m.full_intercept(m.W, m.b)])
        log_gate = _softmax_pair(O[:, : m.n_experts])[0]
        ext = self.external_out(X, t)
        log_lik, preds = m.expert_terms(O, t, m.log_var_std(), ext)
        h, log_prob = e_step(log_gate, log_lik)
        return log_prob, (h if resp is None else resp), preds

    # -- initialisation ---------------------------------------------------
    def init_from_resp(self, X, y, w, resp):
        """Initialise on (X, y): an M-step from ``resp``, then a few EM iterations.

        M-step: the gate and the differentiable experts maximise EM's
        expected complete-data log-likelihood (L-BFGS), the other experts
        take one ``partial_fit`` pass with the responsibilities as weights,
        and the variances are the weighted residual averages. The EM
        iterations soften the gate that hard k-means labels leave too sharp.
        """
        m = self.model
        Xs, t = m.standardize(X, self.targets(y))
        if not self.classifier:
            m.var_floor_std = self.var_floor() / m.y_scale**2
            m.var = np.full(m.n_experts, m.y_scale**2)
        for k in m.ext:
            m.externals[k] = expert = self.protos[k]
            if not self.classifier and _learns_standardized_target(expert):
                m.ext_scale[k] = m.y_scale
                # Without an intercept, shifting y would add one.
                m.ext_shift[k] = (
                    m.y_mean if getattr(expert, "fit_intercept", True) else 0.0
                )
        for iteration in range(_INIT_EM_ITER + 1):
            if iteration:
                _, resp, _ = self.evaluate(X, Xs, t, w)
            self.partial_fit_externals(X, y, resp * w[:, None])
            ext = self.external_out(X, t)
            objective = _Objective(m, Xs, t, w, resp=resp, ext_out=ext)
            _lbfgs(objective, _INIT_MAX_ITER, _INIT_TOL)
            if not self.classifier:
                self.exact_variances(X, Xs, t, y, w, resp=resp)
        self.seen += float(w.sum())

    # -- one pass ---------------------------------------------------------
    def one_pass(self, X, Xs, t, y, w, total_weight):
        """One pass over (X, y) in minibatches; returns the progressive log-lik."""
        est = self.estimator
        m = self.model
        n = X.shape[0]
        batch = (
            min(_AUTO_BATCH, n) if est.batch_size == "auto" else min(est.batch_size, n)
        )
        order = self.rng.permutation(n) if est.shuffle else np.arange(n)
        if self.adam is None:
            self.adam = _Adam([m.W, m.b])
        lr = self.lr
        log_shift = np.log(m.y_scale)
        floor = None if self.classifier else self.var_floor()
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            Xs_b, t_b, w_b = Xs[idx], t[idx], w[idx]
            mass = float(w_b.sum())
            if mass <= 0:
                continue
            X_b = X[idx] if m.ext else None
            log_var = m.log_var_std()
            ext = self.external_out(X_b, t_b) if m.ext else None
            log_prob, h, preds, gW, gb, _ = m.forward_backward(
                m.W, m.b, log_var, Xs_b, t_b, w_b, ext_out=ext
            )
            total += float(w_b @ log_prob) - mass * log_shift
            wh = h * w_b[:, None]
            self.resp_mass += wh.sum(axis=0)
            _, pW, _, _ = m.penalty(m.W, log_var)
            share = mass / total_weight
            gW = (gW + share * pW) / mass
            gb = gb / mass
            self.adam.step([m.W, m.b], [gW, gb], lr)
            m.b = m.full_intercept(m.W, m.b)
            if m.ext:
                self.partial_fit_externals(X_b, y[idx], wh)
            self.n_steps += 1
            every = self.trace_every
            if self.trace is not None and every and self.n_steps % every == 0:
                self.trace(lambda: copy.deepcopy(self.model.to_state(self.protos)))
            if not self.classifier:
                # Residuals of the model that gave the responsibilities.
                forget = np.exp(-idx.size / _VARIANCE_MEMORY)
                r2 = (t_b[:, None] - preds) ** 2 * m.y_scale**2
                self.sq_sum = forget * self.sq_sum + (wh * r2).sum(axis=0)
                self.mass_sum = forget * self.mass_sum + wh.sum(axis=0)
                self._variances_from_sums(floor)
        return total

    def objective(self, X, Xs, t, w):
        """EM's objective of the current model on (X, y), and its log-likelihood."""
        m = self.model
        log_prob, _, _ = self.evaluate(X, Xs, t, w)
        loglik = float(w @ log_prob) - float(w.sum()) * np.log(m.y_scale)
        penalty = m.em_penalty(m.W, m.log_var_std())
        return (loglik - penalty) / float(w.sum()), loglik

    def write(self, n_iter=0, converged=False):
        state = self.model.to_state(self.protos, n_iter, converged)
        self.experts = state["experts"]
        return state


def _warm_up(estimator, X, y, w, lik, templates, kinds, init_resp, rng):
    """A :class:`_Stream` initialised on at most ``_INIT_ROWS`` random rows.

    The start of both gradient solvers: the ``init_params`` responsibilities
    of the subsample, an M-step and ``_INIT_EM_ITER`` EM iterations on it
    (see :meth:`_Stream.init_from_resp`); the scales are those of all rows.
    Far cheaper than EM iterations on large data, and it leaves the plateau
    near the k-means start that EM and L-BFGS otherwise cross slowly.
    """
    classes = _classes_of(estimator)
    stream = _Stream(estimator, templates, kinds, rng, X.shape[1], classes)
    m = stream.model
    m.x_scaler.update(X, w)
    if not estimator._classifier:
        m.y_scaler.update(y[:, None], w)
    rows = np.arange(X.shape[0])
    if X.shape[0] > _INIT_ROWS:
        sub = np.sort(rng.choice(X.shape[0], _INIT_ROWS, replace=False))
        if np.count_nonzero(w[sub] > 0) >= estimator.n_experts:
            rows = sub
    sub_resp = None if init_resp is None else init_resp[rows]
    resp = estimator._initial_responsibilities(
        X[rows], y[rows], w[rows], lik, sub_resp, rng
    )
    stream.init_from_resp(X[rows], y[rows], w[rows], resp)
    return stream


def _minibatch_run(
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
    trace_every=0,
    run=None,
):
    classes = _classes_of(estimator)
    progress = _RunProgress(estimator, run, "epoch")
    if start is None:
        stream = _warm_up(estimator, X, y, w, lik, templates, kinds, init_resp, rng)
        m = stream.model
        Xs, t = m.standardize(X, stream.targets(y))
    else:
        stream = _Stream(estimator, templates, kinds, rng, X.shape[1], classes)
        m = stream.model
        m.x_scaler.update(X, w)
        if not estimator._classifier:
            m.y_scaler.update(y[:, None], w)
        Xs, t = m.standardize(X, stream.targets(y))
        m.set_from_state(copy.deepcopy(start), classes)
        stream.seen = float(w.sum())
        if not estimator._classifier:
            stream.exact_variances(X, Xs, t, y, w)
    total_weight = float(w.sum())
    stream.trace, stream.trace_every = trace, trace_every
    history, stall, converged, n_iter = [], 0, False, 0
    best = {"bound": -np.inf}
    if start is not None:
        # A warm start is a candidate too: epochs that do not beat the
        # fitted model must not replace it.
        bound, loglik = stream.objective(X, Xs, t, w)
        best = {
            "bound": bound,
            "loglik": loglik,
            "state": copy.deepcopy(stream.write()),
        }
    for n_iter in range(1, estimator.max_iter + 1):
        stream.one_pass(X, Xs, t, y, w, total_weight)
        if not estimator._classifier:
            stream.exact_variances(X, Xs, t, y, w)
        bound, loglik = stream.objective(X, Xs, t, w)
        history.append(bound)
        if trace is not None and not trace_every:
            trace(lambda: copy.deepcopy(m.to_state(stream.protos)))
        progress.update(n_iter, bound)
        stall = 0 if bound > best["bound"] + estimator.tol else stall + 1
        if bound > best["bound"]:
            # Keep the best epoch, as EM keeps its best iterate.
            state = copy.deepcopy(stream.write(n_iter))
            best = {"bound": bound, "loglik": loglik, "state": state}
        if stall >= _N_EPOCHS_NO_CHANGE:
            converged = True
            break
        if stall and stall % _N_EPOCHS_DECAY == 0:
            stream.lr /= _LR_DECAY
    best["state"]["gate"].converged_ = converged
    return _Run(
        state=best["state"],
        lower_bound=best["bound"],
        log_likelihood=best["loglik"],
        history=history,
        n_iter=n_iter,
        converged=converged,
        unit="epochs",
    )
