"""SQUAREM: squared extrapolation of the EM map (Varadhan & Roland 2008).

EM maps the parameters ``theta`` to ``F(theta)`` and converges linearly,
slowly where the experts overlap. SQUAREM takes two EM steps,
``theta1 = F(theta0)`` and ``theta2 = F(theta1)``, and extrapolates along
them: with ``r = theta1 - theta0``, ``v = theta2 - theta1 - r`` and the
step length ``alpha = -||r|| / ||v||`` (their scheme S3),

    theta' = theta0 - 2 alpha r + alpha^2 v,

then takes one EM step from ``theta'`` to stabilise it. ``alpha = -1``
gives ``theta2`` back, the plain EM steps.

Sound only where the parameters form a vector that EM maps
deterministically: a flat mixture with the softmax gate (warm-started from
``theta``, so its fit is a function of ``theta``) and either linear
least-squares experts (``LinearRegression``, ``Ridge``) with Gaussian noise
or plain logistic experts (:func:`~skmoe._logistic._is_plain_logistic`,
warm-started the same way). The vector holds the experts' coefficients and
intercepts (in standardised features' units), the logarithms of the noise
variances (so that any extrapolation is a valid variance) and the gate's
coefficients and intercepts. An extrapolated logistic expert keeps its
template's factored Hessian as its Newton preconditioner.

Safeguards: the extrapolated point is kept only when the objective after its
stabilising EM step is at least that of ``theta2`` (else the step length is
halved towards -1, twice, then ``theta2`` is taken), so the objective
never decreases from one cycle to the next; and, as in the authors'
``SQUAREM`` package, ``|alpha|`` is bounded by a maximum that starts at 1
and grows fourfold each time a step at the bound is accepted.

R. Varadhan and C. Roland. Simple and globally convergent methods for
accelerating the convergence of any EM algorithm. Scandinavian Journal of
Statistics 35(2):335-353, 2008.
"""

import copy

import numpy as np
from sklearn.linear_model import LinearRegression, Ridge

from ._gate import SoftmaxGate
from ._likelihood import CategoricalLikelihood, GaussianLikelihood
from ._logistic import _is_plain_logistic, _share_newton_system

#: Halvings of the step length towards -1 before a cycle falls back to the
#: plain EM steps.
_BACKOFFS = 2
#: Growth of the bound on ``|alpha|`` after a step at the bound is kept.
_STEP_GROWTH = 4.0


def squarem_is_sound(estimator, state, X, lik):
    """Whether SQUAREM applies to this EM run (see the module docstring)."""
    experts = state["experts"]
    if isinstance(lik, GaussianLikelihood):
        kind = all(
            type(e) in (LinearRegression, Ridge)
            and np.ndim(getattr(e, "coef_", np.zeros(1))) == 1
            for e in experts
        ) and not getattr(estimator, "_classifier", False)
    else:
        kind = isinstance(lik, CategoricalLikelihood) and all(
            _is_plain_logistic(e) for e in experts
        )
    return (
        kind
        and isinstance(X, np.ndarray)
        and type(state["gate"]) is SoftmaxGate
        # Sparse EM and the balance penalty change the objective the
        # packed parameters are scored by.
        and getattr(estimator, "fit_top_k", None) is None
        and not getattr(estimator, "balance_strength", 0)
    )


def _pack(state, x_scale, y_scale):
    """The parameter vector of ``state``, in units of the data's spread
    (coefficients times the features' scales, over the target's; the gate's
    on standardised features), so that the step length, a ratio of norms,
    does not depend on the units of the features or the target."""
    experts, gate = state["experts"], state["gate"]
    parts = []
    for e in experts:
        parts.append(np.ravel(e.coef_ * x_scale / y_scale))
        parts.append(np.atleast_1d(e.intercept_) / y_scale)
    if state["noise_variance"] is not None:
        parts.append(np.log(state["noise_variance"]))
    parts.append((gate.coef_ * x_scale[:, None]).ravel())
    parts.append(gate.intercept_)
    return np.concatenate(parts).astype(np.float64)


def _layout(state):
    """The shapes of the experts' coefficients, which :func:`_pack` lays out."""
    return tuple(np.shape(e.coef_) for e in state["experts"])


def _unpack(theta, template, variance_floor, x_scale, y_scale):
    """A state shaped like ``template`` with the parameters ``theta`` (see
    :func:`_pack`)."""
    experts, at = [], 0
    for e in template["experts"]:
        d, m = np.size(e.coef_), np.size(e.intercept_)
        new = copy.copy(e)
        new.coef_ = theta[at : at + d].reshape(np.shape(e.coef_)) * y_scale / x_scale
        intercept = theta[at + d : at + d + m] * y_scale
        new.intercept_ = intercept if np.ndim(e.intercept_) else float(intercept[0])
        _share_newton_system(e, new)
        experts.append(new)
        at += d + m
    k = len(experts)
    variance = None
    if template["noise_variance"] is not None:
        variance = np.maximum(np.exp(theta[at : at + k]), variance_floor)
        at += k
    gate = copy.deepcopy(template["gate"])
    shape = gate.coef_.shape
    gate.coef_ = theta[at : at + gate.coef_.size].reshape(shape) / x_scale[:, None]
    at += gate.coef_.size
    gate.intercept_ = theta[at : at + shape[1]].copy()
    return {"experts": experts, "gate": gate, "noise_variance": variance}


class Squarem:
    """One EM run's SQUAREM cycles; keeps the bound on the step length.

    Parameters
    ----------
    em_step : callable
        ``em_step(state, resp) -> (state, resp, log_prob, bound)``: one EM
        step from ``state`` whose E-step gave ``resp``, as a new state (the
        argument is left as it was), with its E-step and objective.
    e_step : callable
        ``e_step(state) -> (resp, log_prob)``.
    bound_of : callable
        ``bound_of(state, log_prob) -> float``, the objective EM increases.
    variance_floor : float
        The likelihood's floor on the noise variances.
    x_scale : ndarray of shape (n_features,)
        The features' (weighted) standard deviations, 1 for constant ones.
    y_scale : float
        The target's (weighted) standard deviation, 1 if constant.
    """

    def __init__(self, em_step, e_step, bound_of, variance_floor, x_scale, y_scale):
        self.em_step = em_step
        self.e_step = e_step
        self.bound_of = bound_of
        self.variance_floor = variance_floor
        self.x_scale = x_scale
        self.y_scale = y_scale
        self.step_max = 1.0

    def cycle(self, state, resp, bound, tol):
        """One cycle from ``state`` (``resp`` its E-step, ``bound`` its
        objective): returns ``(state, resp, log_prob, bound)``, whose
        objective is at least that of two plain EM steps from ``state``,
        or the first EM step's when that changes the objective by less
        than ``tol`` (where plain EM stops)."""
        first = self.em_step(state, resp)
        if abs(first[3] - bound) < tol:
            return first
        second = self.em_step(first[0], first[1])
        states = (state, first[0], second[0])
        if len({_layout(s) for s in states}) > 1:
            # A logistic expert gained or lost a class (its rows' weights):
            # the three points lie in different spaces.
            return second
        theta0, theta1, theta2 = (_pack(s, self.x_scale, self.y_scale) for s in states)
        r = theta1 - theta0
        v = theta2 - theta1 - r
        norm_r, norm_v = np.linalg.norm(r), np.linalg.norm(v)
        if not (norm_v > 0 and np.isfinite(norm_v) and np.isfinite(norm_r)):
            return second
        alpha = max(-norm_r / norm_v, -self.step_max)
        at_bound = alpha == -self.step_max
        for _ in range(_BACKOFFS + 1):
            if alpha >= -1.0:
                # theta' = theta2: the stabilising step is a third EM step.
                stable = self.em_step(second[0], second[1])
                break
            theta = theta0 - 2.0 * alpha * r + alpha * alpha * v
            if np.all(np.isfinite(theta)):
                candidate = _unpack(
                    theta, second[0], self.variance_floor, self.x_scale, self.y_scale
                )
                start_resp, start_log_prob = self.e_step(candidate)
                if np.all(np.isfinite(start_log_prob)):
                    stable = self.em_step(candidate, start_resp)
                    if stable[3] >= second[3]:
                        break
            if at_bound:
                self.step_max = max(1.0, self.step_max / _STEP_GROWTH)
            alpha = (alpha - 1.0) / 2.0
            at_bound = False
        else:
            return second
        if stable[3] < second[3]:
            return second
        if at_bound:
            self.step_max *= _STEP_GROWTH
        return stable
