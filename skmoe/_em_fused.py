"""The default regressor's EM iteration: one gate step, one pass.

Where every expert's M-step is exact and cheap (LinearRegression or Ridge
experts under the Gaussian likelihood), a warm-started Newton gate takes one
backtracked step per EM M-step (:func:`gate_steps`, read by the EM drivers
through :func:`~skmoe._gate._em_gate_fits`): generalised EM (an ECM step),
which converges to the same optimum in as many iterations as solving the
gate to its ``tol`` at every M-step, for less (``benchmarks/bench_fused.py``).

For the default model on NumPy data (a :class:`~skmoe.SoftmaxGate` fitted by
Newton's method) the iterations are also fused (:class:`_FusedStep`): one
pass over the rows (:func:`~skmoe._kernels._fused.linear_gaussian_pass`)
computes the E-step and, from the rows still in cache, everything the next
M-step needs: each expert's weighted moments (its normal equations and its
sum of squared residuals) and the gate's loss, gradient and Hessian at its
current coefficients; only the gate step's line search reads the rows again,
instead of the dozen passes of the generic M-step and E-step.

``_em.py``'s loop calls :meth:`_FusedStep.step` in place of its generic
M-step and E-step when :meth:`_FusedStep.for_loop` finds the model fusable;
the likelihood's noise variances (``GaussianLikelihood.noise_variances``),
the experts' solve from moments (``_experts._linear_experts_from_moments``)
and the gate's Newton step (``SoftmaxGate._newton_steps``) are those of the
generic path, which computes the same iteration.
"""

import numpy as np

from . import _gate
from ._experts import (
    _FailedExpert,
    _is_plain_linear,
    _linear_experts_from_moments,
    _lstsq_on_rows,
    _residual_squares,
)
from ._gate import SoftmaxGate, _GateInputs
from ._gate_solvers import _SoftTargetLoss
from ._kernels import weighted_normal_equations
from ._kernels._fused import linear_gaussian_pass
from ._likelihood import GaussianLikelihood

#: A sum of squared residuals below this fraction of the target's centred
#: sum of squares (an expert that fits its rows almost exactly) is
#: recomputed from the residuals: from the moments it would be a small
#: difference of large numbers.
_CANCELLATION = 1e-6


def gate_steps(experts, lik):
    """The Newton steps a warm-started gate takes per EM M-step
    (:func:`~skmoe._gate._em_gate_fits`): ``_gate.EM_NEWTON_STEPS`` where every
    live expert's M-step is exact and cheap (``LinearRegression`` or
    ``Ridge`` under the Gaussian likelihood), on every path (the generic
    loop, the fused one, trees of gates), so that they run the same
    iteration; None (solved to ``tol``) for other experts, whose M-step
    costs more than the gate's Newton iterations (on mcycle, depth-3 tree
    experts with a one-step gate took 76 iterations to a lower optimum,
    against 7)."""
    exact = type(lik) is GaussianLikelihood and all(
        isinstance(e, _FailedExpert) or _is_plain_linear(e) for e in experts
    )
    return _gate.EM_NEWTON_STEPS if exact else None


class _FusedStep:
    """EM iterations of one ``_em_loop`` by fused passes (see the module).

    ``step`` needs the sums of a pass at the current state: after a generic
    iteration (the first of a loop, or one after a re-initialisation, which
    call :meth:`invalidate`) it takes them from the responsibilities it is
    given instead, with the generic kernels.
    """

    def __init__(self, X, y, w, lik, inputs):
        # An integer target (the regressors keep it) is fitted as floats.
        y = np.asarray(y, dtype=np.float64)
        self.X, self.y, self.w, self.lik, self.inputs = X, y, w, lik, inputs
        self._sums = None

    @classmethod
    def for_loop(cls, estimator, state, X, y, w, lik, inputs, squarem):
        """The fused step of an EM loop, or None where the model or the data
        are not the default model on NumPy data."""
        gate, experts = state["gate"], state["experts"]
        fusable = (
            squarem is None
            and estimator.fit_top_k is None
            and gate_steps(experts, lik) is not None
            and type(gate) is SoftmaxGate
            and not getattr(gate, "_balance_strength", 0.0)
            and isinstance(X, np.ndarray)
            and X.dtype == np.float64
            and isinstance(y, np.ndarray)
            and y.ndim == 1
            and y.dtype.kind in "iuf"
            and isinstance(w, np.ndarray)
            and type(inputs) is _GateInputs
            and isinstance(inputs.Xs, np.ndarray)
            and gate._uses_newton(X.shape[1], len(experts))
            and all(
                not isinstance(e, _FailedExpert) and e.fit_intercept for e in experts
            )
        )
        return cls(X, y, w, lik, inputs) if fusable else None

    def applies(self, state):
        """Whether the fused step can continue from ``state``: no expert has
        failed since the loop began (``expert_errors="isolate"``)."""
        return not any(isinstance(e, _FailedExpert) for e in state["experts"])

    def invalidate(self):
        """The state changed outside :meth:`step`: the pass's sums are stale."""
        self._sums = None

    def step(self, state, resp, solve_gate=False):
        """One EM iteration: the M-step from the last pass's sums (or from
        ``resp``, (n, K), after a generic iteration), then the pass at the
        new state. The gate takes ``gate_steps`` Newton steps, or is solved to
        its ``tol`` with ``solve_gate``. Updates ``state``; returns the
        weighted log-likelihood, the posteriors' weighted sums (K,) and each
        row's log-likelihood."""
        if self._sums is None:
            self._sums = self._sums_of(state, resp)
        moments = self._moments()
        self._m_step(state, moments, solve_gate)
        return self._e_pass(state, moments)

    def responsibilities(self):
        """The posteriors (n, K) of the last pass (rows of weight 0: uniform)."""
        weighted = self._sums["targets"]
        positive = self.w > 0
        resp = np.full(weighted.T.shape, 1.0 / weighted.shape[0])
        resp[positive] = weighted.T[positive] / self.w[positive, None]
        return resp

    def _sums_of(self, state, resp):
        """The M-step's sums from responsibilities: the experts' moments by
        the generic kernel, the gate's derivatives left to its solver."""
        weights = resp * self.w[:, None]
        n_experts = weights.shape[1]
        wsum, x_mean, y_mean, gram, rhs = weighted_normal_equations(
            self.X, self.y, weights, np.ones(n_experts, dtype=bool)
        )
        return {
            "targets": np.ascontiguousarray(weights.T),
            "gate": None,
            "mass": wsum,
            "moments": (x_mean, y_mean, gram, rhs, None),
        }

    def _moments(self):
        """Each expert's weighted means, centred Gram matrix, right-hand side
        (on the features' scale) and the target's centred sum of squares,
        from the pass's moments about its shift (standardised features)."""
        inputs, sums = self.inputs, self._sums
        if sums["moments"] is not None:
            return sums["moments"]
        mass, first, second = sums["mass"], sums["first"], sums["second"]
        d = first.shape[1] - 1
        safe = np.where(mass > 0, mass, 1.0)
        offset = first / safe[:, None]
        centred = second - first[:, :, None] * offset[:, None, :]
        mean = sums["shift"] + offset
        scale = inputs.scale
        x_mean = inputs.mean + mean[:, :d] * scale
        gram = centred[:, :d, :d] * scale[:, None] * scale[None, :]
        rhs = centred[:, :d, d] * scale
        return x_mean, mean[:, d], gram, rhs, centred[:, d, d]

    def _m_step(self, state, moments, solve_gate):
        X, y, w, sums = self.X, self.y, self.w, self._sums
        weighted, mass = sums["targets"], sums["mass"]
        x_mean, y_mean, gram, rhs, syy = moments
        previous = state["experts"]
        lstsq = _lstsq_on_rows(X, y, lambda k: weighted[k], x_mean, y_mean)
        fitted = _linear_experts_from_moments(
            previous, x_mean, y_mean, gram, rhs, X.shape[0], lstsq
        )
        squares = np.empty(len(fitted))
        for k, est in enumerate(fitted):
            if not mass[k] > 0 and hasattr(previous[k], "n_features_in_"):
                # No data: the previous fit stays (generalised EM).
                fitted[k], squares[k] = previous[k], 0.0
                continue
            # The residuals' sum of squares from the moments, or, where that
            # would cancel, from the residuals.
            sq = np.nan
            if syy is not None:
                sq = _residual_squares(est.coef_, gram[k], rhs[k], syy[k])
            if not sq > _CANCELLATION * (syy[k] if syy is not None else np.inf):
                residual = y - X @ est.coef_ - est.intercept_
                sq = float(weighted[k] @ residual**2)
            squares[k] = sq
        state["experts"] = fitted
        state["noise_variance"] = self.lik.noise_variances(
            squares, mass, state.get("noise_variance")
        )
        gate = state["gate"]
        loss = _SoftTargetLoss(
            self.inputs.XT,
            None,
            w,
            gate._l2(),
            gate.fit_intercept,
            weighted_targets_T=weighted,
        )
        first = sums["gate"]
        if first is not None:
            W = np.ascontiguousarray(first[0])
            first = loss.penalised(W, *first[1:])
        steps = gate.max_iter if solve_gate else _gate.EM_NEWTON_STEPS
        gate._newton_steps(self.inputs, loss, first, steps)

    def _e_pass(self, state, moments):
        """The pass at ``state``: keeps its sums for the next M-step (its
        moments taken about the experts' means in ``moments``)."""
        inputs = self.inputs
        experts, var = state["experts"], state["noise_variance"]
        coef = np.array([e.coef_ for e in experts]).T
        B = coef * inputs.scale[:, None]
        a = np.array([e.intercept_ for e in experts]) + inputs.mean @ coef
        # Without an intercept the gate's are zeros, on either scale.
        W, b = state["gate"]._standardised_coef(inputs)
        x_mean, y_mean = moments[:2]
        # Each expert's moments are taken about its last means.
        shift = np.column_stack([(x_mean - inputs.mean) / inputs.scale, y_mean])
        weighted, log_prob, total, gate_loss, grad, hess, mass, first, second = (
            linear_gaussian_pass(inputs.XT, self.y, self.w, B, a, var, W, b, shift)
        )
        self._sums = {
            "targets": weighted,
            "gate": (W, gate_loss, grad, hess),
            "mass": mass,
            "moments": None,
            "shift": shift,
            "first": first,
            "second": second,
        }
        return total, mass, log_prob
