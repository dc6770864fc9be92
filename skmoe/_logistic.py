"""The logistic experts' M-step: Newton's method on standardised features.

A ``LogisticRegression`` expert with an L2 penalty (or none) and no class
weights minimises, whatever its ``solver``, over ``W`` (n_features,
n_columns) and ``b`` (n_columns,),

    (sum_i w_i (-log p(y_i | x_i)) + ||W||^2 / (2 C)) / sum_i w_i

with one column per class (softmax), or one column for two classes (the
first class's logit fixed at 0). EM refits every expert at every iteration
on new weights ``w`` (its responsibilities), from the previous iteration's
solution. scikit-learn's L-BFGS needs tens to hundreds of loss passes per
refit (about 80 on LetterRecognition, and its ``max_iter`` on unscaled
features), each with its input checks; Newton's method from that warm
start needs one or two steps, and its steps do not depend on the features'
units. Here the features are standardised (the expert's weighted mean and
spread; the penalty carried over, so the objective is the one above), the
loss and gradient come from the gate's fused kernel
(:func:`~skmoe._kernels.softmax_cross_entropy`), and each Newton step is
solved by conjugate gradients preconditioned by the expert's last factored
Hessian (:func:`_newton_cg`; a new one from two BLAS products per chunk of
rows where the old one no longer serves). Inside EM a warm-started expert
takes one step per M-step (:func:`_em_expert_fits`). The line search,
stopping rule and Newton system are the gate's
(:mod:`skmoe._gate_solvers`). Past ``NEWTON_MAX_PARAMETERS`` coefficients
the Hessian costs more than L-BFGS's passes, and the same loss goes to
L-BFGS.
"""

import contextlib
import contextvars
import functools
import warnings
import weakref

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ._array_api import _xp_of
from ._gate_solvers import (
    _descend,
    _factor,
    _gauge,
    _lbfgs,
    _penalty_diagonal,
    _small,
    _start,
)
from ._kernels import linear_log_softmax, softmax_cross_entropy

#: Newton's method up to this many coefficients ``(n_features + 1) *
#: n_columns``: its Hessian pass costs about that many squared products
#: per row, which BLAS does at a few times the speed of L-BFGS's loss
#: passes; it meets the tolerance in one or two steps where L-BFGS takes
#: tens to hundreds of passes (benchmarks/bench_classifier_solver.py).
NEWTON_MAX_PARAMETERS = 1024

#: Newton steps a warm-started logistic expert takes per EM M-step (see
#: :func:`_em_expert_fits`); read as a module attribute, so that tests and
#: benchmarks can change it.
EM_NEWTON_STEPS = 1

_EM_NEWTON_CAP = contextvars.ContextVar("skmoe_expert_newton_cap", default=None)

#: Rows times coefficients per chunk of the Hessian's products (16 MiB).
_CHUNK_ENTRIES = 1 << 21

#: Each fitted expert's units and Newton system, for its refit at the next
#: EM iteration; an entry goes with its expert (weak keys), so nothing is
#: stored on the estimators or pickled with them.
_SYSTEMS = weakref.WeakKeyDictionary()


def _is_plain_logistic(expert):
    """A LogisticRegression whose fit minimises the L2-penalised (or
    unpenalised) weighted log-loss of the module docstring, which this
    module's solver and the Dask path minimise in its place."""
    return (
        type(expert) is LogisticRegression
        and expert.solver in ("lbfgs", "newton-cg", "newton-cholesky", "sag", "saga")
        and expert.class_weight is None
        and expert.penalty in ("l2", "deprecated", None)
        and (expert.penalty != "deprecated" or expert.l1_ratio in (0, 0.0, None))
    )


def _logistic_l2(expert):
    """L2 strength ``1 / C`` of a LogisticRegression (0: none); None if L1/elastic-net.

    Follows ``LogisticRegression.fit``: with ``penalty`` left at its default
    the penalty is set by ``l1_ratio`` (0: L2) and ``C = inf`` turns it off;
    ``penalty=None`` turns it off; ``penalty='l2'`` is L2.
    """
    penalty = getattr(expert, "penalty", "l2")
    C = float(expert.C)
    if penalty is None or penalty == "none":
        return 0.0
    if penalty == "deprecated":
        if np.isinf(C):
            return 0.0
        l1_ratio = getattr(expert, "l1_ratio", 0.0)
        return 1.0 / C if l1_ratio in (0, 0.0, None) else None
    if penalty == "l2":
        return 0.0 if np.isinf(C) else 1.0 / C
    return None


def experts_penalty(experts):
    """The plain logistic experts' L2 penalties ``||W||^2 / (2 C)`` summed
    (see the module docstring): EM with such experts maximises the
    log-likelihood minus this, which EM's objective therefore subtracts."""
    total = 0.0
    for e in experts:
        if _is_plain_logistic(e) and hasattr(e, "coef_"):
            # Array API experts (scikit-learn's own) keep coef_ on their device.
            coef = e.coef_
            squares = float(_xp_of(coef).sum(coef * coef))
            total += 0.5 * _logistic_l2(e) * squares
    return total


@contextlib.contextmanager
def _em_expert_fits(newton_steps, cold_steps=None):
    """Logistic expert fits inside this block are EM's M-steps: with
    ``newton_steps``, a warm-started one takes at most that many Newton
    steps (generalised EM, as the gate's: see
    :func:`skmoe._gate._em_gate_fits`), and one without a previous solution
    at most ``cold_steps`` (None: solved to ``tol``); capped fits raise no
    ConvergenceWarning. :func:`_fit_experts` reads the caps in the caller's
    thread (:func:`em_newton_cap`) and hands them to the fits, threads
    included."""
    caps = None if newton_steps is None else (newton_steps, cold_steps)
    token = _EM_NEWTON_CAP.set(caps)
    try:
        yield
    finally:
        _EM_NEWTON_CAP.reset(token)


def em_newton_cap():
    """The ``(warm, cold)`` Newton-step caps of the enclosing
    :func:`_em_expert_fits`, or None."""
    return _EM_NEWTON_CAP.get()


def expert_steps(experts, lik):
    """The Newton steps a warm-started expert takes per EM M-step:
    ``EM_NEWTON_STEPS`` where every live expert is a plain logistic one
    (:func:`_is_plain_logistic`) under the categorical likelihood, None
    (solved to ``tol``) otherwise. From the previous iteration's solution
    one step lands close to the M-step's optimum, and EM's own linear
    convergence sets the pace."""
    from ._experts import _FailedExpert
    from ._likelihood import CategoricalLikelihood

    plain = isinstance(lik, CategoricalLikelihood) and all(
        isinstance(e, _FailedExpert) or _is_plain_logistic(e) for e in experts
    )
    return EM_NEWTON_STEPS if plain else None


def logistic_proba(expert, X):
    """``expert.predict_proba(X)`` of a fitted plain LogisticRegression on
    validated NumPy ``X``, by the gate's fused kernel: EM scores every
    expert on every row at every iteration, where scikit-learn's per-call
    checks and its separate softmax passes cost several times the product
    itself."""
    coef = np.asarray(expert.coef_, dtype=np.float64)
    intercept = np.asarray(expert.intercept_, dtype=np.float64)
    proba = _column_proba(X, coef.T, intercept)
    if coef.shape[0] == 1:
        return np.column_stack([1.0 - proba[:, 0], proba[:, 0]])
    return proba


def _column_proba(X, W, b):
    """The probabilities of the columns of ``X @ W + b``: the softmax's
    over several columns (the gate's fused kernel), the positive class's
    over one (the other class's logit is 0)."""
    if W.shape[1] == 1:
        return expit(X @ W + b)
    return np.exp(linear_log_softmax(X, W, b))


class _LogisticLoss:
    """An expert's penalised weighted log-loss on standardised features,
    with the interface of :class:`~skmoe._gate_solvers._SoftTargetLoss`
    that :func:`~skmoe._gate_solvers._newton` and ``_lbfgs`` use.

    ``index``: each row's class, a column of ``0..n_classes - 1``. The
    coefficients ``A = [W; b]`` act on ``(x - mean) / scale``; the penalty
    on the original coefficients ``W / scale`` is ``l2 / scale**2`` per
    feature. ``units``: ``(mean, scale)``, by default the weighted mean and
    standard deviation of ``X``.
    """

    def __init__(self, X, index, weight, l2, fit_intercept, n_classes, units=None):
        self.wsum = float(weight.sum())
        self.fit_intercept = fit_intercept
        if units is None:
            mean = weight @ X / self.wsum if fit_intercept else np.zeros(X.shape[1])
            # Without an intercept only the spread is changed: centring
            # would change the model.
            scale = np.sqrt(weight @ (X - mean) ** 2 / self.wsum)
            scale[~(scale > 0)] = 1.0
            units = mean, scale
        self.mean, self.scale = mean, scale = units
        self.Xs = (X - self.mean) / scale
        self.XT = np.ascontiguousarray(self.Xs.T)
        self.weight = weight
        self.binary = n_classes == 2
        # Two classes: one column, the first class's logit held at 0 (the
        # kernel's first column of zeros).
        targets = np.zeros((n_classes, X.shape[0]))
        targets[index, np.arange(X.shape[0])] = weight
        self.weighted_targets_T = targets
        self.n_features = X.shape[1]
        self.n_classes = 1 if self.binary else n_classes
        # The softmax's class-sum direction is free (gate's gauge) only
        # with a column per class.
        self.gauge = not self.binary
        self.l2 = (l2 / scale**2)[:, None]

    @functools.cached_property
    def with_ones(self):
        """The standardised features, with a column of ones for the
        intercept when there is one."""
        if not self.fit_intercept:
            return self.Xs
        return np.column_stack([self.Xs, np.ones(self.Xs.shape[0])])

    @property
    def n_parameters(self):
        return (self.n_features + self.fit_intercept) * self.n_classes

    def to_standard(self, coef, intercept):
        """``(W, b)`` on the standardised features of scikit-learn's
        ``coef_`` (n_columns, n_features) and ``intercept_``."""
        coef = np.asarray(coef, dtype=np.float64)
        W = (coef * self.scale).T
        b = np.atleast_1d(np.asarray(intercept, dtype=np.float64)) + coef @ self.mean
        return W, b

    def to_original(self, W, b):
        """``coef_`` (n_columns, n_features) and ``intercept_`` of ``(W, b)``."""
        coef = np.ascontiguousarray((W / self.scale[:, None]).T)
        intercept = b - coef @ self.mean if self.fit_intercept else np.zeros(len(b))
        return coef, intercept

    def _kernel_coefficients(self, W, b):
        if self.binary:
            return (
                np.column_stack([np.zeros(self.n_features), W]),
                np.array([0.0, b[0]]),
            )
        return np.ascontiguousarray(W), np.ascontiguousarray(b)

    def _split(self, A):
        d = self.n_features
        b = A[d] if self.fit_intercept else np.zeros(self.n_classes)
        return A[:d], b

    def loss_gradient_grid(self, A):
        """Objective and gradient at ``A = [W; b]`` (``[W]`` without an
        intercept), the gradient shaped like ``A``."""
        W, b = self._split(A)
        loss, grad = softmax_cross_entropy(
            self.XT,
            *self._kernel_coefficients(W, b),
            self.weighted_targets_T,
            self.weight,
        )
        if self.binary:
            grad = grad[:, 1:]
        loss += 0.5 * float(np.sum(self.l2 * W * W))
        grad[:-1] += self.l2 * W
        if not self.fit_intercept:
            grad = grad[:-1]
        return loss / self.wsum, grad / self.wsum

    def curvature(self, A):
        """The data part's Hessian at ``A`` (:class:`_Curvature`), divided
        by the total weight."""
        return _Curvature(self, _column_proba(self.Xs, *self._split(A)))

    def unpack(self, params):
        d, k = self.n_features, self.n_classes
        W = params[: d * k].reshape(d, k)
        b = params[d * k :] if self.fit_intercept else np.zeros(k)
        return W, b

    def loss_gradient(self, params):
        W, b = self.unpack(params)
        A = np.vstack([W, b]) if self.fit_intercept else W
        loss, grad = self.loss_gradient_grid(A)
        return loss, grad.ravel()


class _Curvature:
    """The Hessian of a :class:`_LogisticLoss`'s data part at one point
    (its probabilities ``proba``): ``sum_i w_i (diag(p_i) - p_i p_i^T) (x)
    x_i x_i^T / sum_i w_i``, over ``x_i`` with a 1 for the intercept."""

    def __init__(self, loss, proba):
        self.loss = loss
        self.X = loss.with_ones
        self.weighted = proba * (loss.weight / loss.wsum)[:, None]
        self.proba = proba

    def product(self, V):
        """The Hessian times ``V`` (shaped like ``A``): two products over
        the rows, a fraction of :meth:`matrix`'s cost."""
        Z = self.X @ V
        Z -= np.sum(self.proba * Z, axis=1, keepdims=True)
        return self.X.T @ (self.weighted * Z)

    def matrix(self):
        """The Hessian, ``(A.size, A.size)``."""
        X, proba, weight = self.X, self.proba, self.loss.weight / self.loss.wsum
        q, m = X.shape[1], proba.shape[1]
        p = q * m
        low = np.zeros((p, p))
        diagonal = np.zeros((q, q, m))
        rows = max(1, _CHUNK_ENTRIES // p)
        # The diagonal blocks sum_i w_i p_ic x_i x_i^T from one product,
        # the rank-one terms sum_i w_i (x_i (x) p_i)(x_i (x) p_i)^T from
        # another (a symmetric rank-k update).
        for start in range(0, X.shape[0], rows):
            root = np.sqrt(weight[start : start + rows])[:, None]
            Xc = X[start : start + rows] * root
            U = (Xc[:, :, None] * proba[start : start + rows, None, :]).reshape(-1, p)
            diagonal += (Xc.T @ U).reshape(q, q, m)
            low += U.T @ U
        hess = np.zeros((q, m, q, m))
        classes = np.arange(m)
        hess[:, classes, :, classes] = diagonal.transpose(2, 0, 1)
        return hess.reshape(p, p) - low


def _newton_cg(loss, init, options, system):
    """Newton's method on a :class:`_LogisticLoss`, each step solved by
    conjugate gradients preconditioned by the last factored Hessian.

    EM refits an expert on weights that change little between iterations,
    so the Hessian formed at one refit still describes the next: with it
    as preconditioner, conjugate gradients reach the Newton step in a few
    Hessian products (two passes over the rows each), against the tens of
    passes' worth a new Hessian costs. A new one is formed and factored
    where the old one no longer serves (see ``_CG_REFRESH``), and kept in
    ``system`` (a :class:`_NewtonSystem`) for the next refit. Steps, line
    search and stopping rule are those of
    :func:`~skmoe._gate_solvers._newton`. Returns ``(W, b, n_iter,
    status)``.
    """
    d, k = loss.n_features, loss.n_classes
    A = _start(loss, init)
    penalty = _penalty_diagonal(loss)
    f, g = loss.loss_gradient_grid(A)
    converged, n_iter = np.max(np.abs(g)) <= options["tol"], 0
    while not converged and n_iter < options["max_iter"]:
        n_iter += 1
        curvature = loss.curvature(A)
        step = None
        if system.factored is not None:
            step = _preconditioned_cg(curvature, penalty, g, system.factored)
        if step is None:
            system.factored = _factor(curvature.matrix(), penalty, _gauge(loss))
            step = system.factored.step(g)
        accepted, A_new, f_new, g_new = _descend(loss, A, f, g, step, system.factored)
        if not accepted:
            # No decrease along either direction: at the optimum to
            # floating-point precision.
            converged = True
            break
        decrease = f - f_new
        A, f, g = A_new, f_new, g_new
        converged = _small(g, decrease, f, options["tol"])
    b = A[d] if loss.fit_intercept else np.zeros(k)
    return A[:d], b, n_iter, 0 if converged else 1


#: Conjugate gradients take this many Hessian products per Newton step
#: (an inexact Newton step: Dembo, Eisenstat & Steihaug 1982), a fixed
#: number rather than a residual test, so that the step is a smooth
#: function of the data: a test crossed one iteration sooner or later on
#: rounding would make EM's path depend on, say, the units of the sample
#: weights. A residual still above ``_CG_REFRESH`` of the gradient's
#: means that the preconditioner no longer serves.
_CG_ITER = 4
_CG_REFRESH = 0.1


def _preconditioned_cg(curvature, penalty, g, factored):
    """The Newton step ``-H^-1 g`` by ``_CG_ITER`` conjugate-gradient
    iterations, ``H`` the :class:`_Curvature` plus the diagonal
    ``penalty`` and ``factored`` (an earlier Hessian's
    :class:`~skmoe._gate_solvers._Factored`) the preconditioner; None when
    the residual stays above ``_CG_REFRESH`` of the gradient."""
    shape = g.shape
    x = np.zeros(g.size)
    r = -g.ravel()
    z = -factored.step(r)
    direction = z.copy()
    rz = r @ z
    size = np.linalg.norm(r)
    for _ in range(_CG_ITER):
        Hd = curvature.product(direction.reshape(shape)).ravel() + penalty * direction
        along = direction @ Hd
        if not along > 0:
            return None
        alpha = rz / along
        x += alpha * direction
        r -= alpha * Hd
        if not np.linalg.norm(r) > 1e-14 * size:
            # Solved to rounding: a further iteration would divide by zero.
            break
        z = -factored.step(r)
        rz, previous = r @ z, rz
        direction = z + (rz / previous) * direction
    return x if np.linalg.norm(r) <= _CG_REFRESH * size else None


class _NewtonSystem:
    """An expert's last factored Hessian (or None), kept between refits."""

    def __init__(self):
        self.factored = None


def _share_newton_system(fitted, other):
    """Refits of ``other`` (a copy of ``fitted`` with other coefficients,
    such as SQUAREM's extrapolations) start from ``fitted``'s Newton
    system."""
    kept = _SYSTEMS.get(fitted)
    if kept is not None:
        _SYSTEMS[other] = kept


def fit_logistic(est, X, y, weight, previous, newton_cap=None, classes=None):
    """Fit ``est`` (an unfitted plain LogisticRegression, see
    :func:`_is_plain_logistic`) on ``(X, y)`` with ``sample_weight=weight``
    by this module's solver, from ``previous``'s solution where it is fitted
    on the same classes; sets the attributes scikit-learn's ``fit`` sets and
    returns ``est``.

    Newton's factored matrix is kept for the refit of ``est`` at the next
    EM iteration (``_SYSTEMS``), with the units it was formed in (see
    :func:`_newton_cg`). ``newton_cap``: ``(warm, cold)``, at most this
    many Newton steps from a previous solution and from none
    (:func:`_em_expert_fits`). ``classes``: the labels,
    when ``y`` holds columns of it.
    """
    present, index = np.unique(y, return_inverse=True)
    if classes is not None:
        present = classes[present]
    classes = present
    same = hasattr(previous, "coef_") and np.array_equal(
        getattr(previous, "classes_", None), classes
    )
    kept = _SYSTEMS.get(previous) if same else None
    if kept is not None and kept[0][0].size != X.shape[1]:
        kept = None
    units, system = kept if kept is not None else (None, _NewtonSystem())
    loss = _LogisticLoss(
        X, index, weight, _logistic_l2(est), est.fit_intercept, classes.size, units
    )
    init = loss.to_standard(previous.coef_, previous.intercept_) if same else None
    options = {"tol": est.tol, "max_iter": est.max_iter}
    warm, cold = (None, None) if newton_cap is None else newton_cap
    cap = warm if init is not None else cold
    capped = cap is not None
    if capped:
        options["max_iter"] = min(est.max_iter, cap)
    if loss.n_parameters <= NEWTON_MAX_PARAMETERS:
        W, b, n_iter, status = _newton_cg(loss, init, options, system)
        _SYSTEMS[est] = ((loss.mean, loss.scale), system)
    else:
        W, b, n_iter, status, _ = _lbfgs(loss, init, options)
    if status != 0 and not capped:
        warnings.warn(
            f"The logistic expert's solver did not converge in max_iter="
            f"{est.max_iter} iterations (tol={est.tol}): increase its max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    est.classes_ = classes
    est.coef_, est.intercept_ = loss.to_original(W, b)
    est.n_features_in_ = X.shape[1]
    est.n_iter_ = np.array([n_iter], dtype=np.int32)
    return est
