"""The solvers of the softmax gate's soft-target fit.

L-BFGS on the fused numba loss for NumPy data (:class:`_SoftTargetLoss`),
Newton's method in the data's namespace for array-API (device) data; both
minimise the same penalised cross-entropy on the prepared rows (see
:class:`skmoe._gate._GateInputs`) and return ``(W, b, n_iter, status,
objective)`` on the standardised scale.
"""

import numpy as np
from scipy import linalg
from scipy.optimize import minimize

from ._array_api import _xp_of
from ._kernels import softmax_cross_entropy, softmax_cross_entropy_hessian

#: ``solver="auto"`` uses Newton's method (NumPy data) up to this many free
#: parameters ``(n_features + 1) * (K - 1)``: its Hessian pass costs about
#: ``((d + 1) K)^2 / 4`` products per row, a few L-BFGS loss passes at this
#: size, and its system stays small; beyond, L-BFGS.
NEWTON_MAX_PARAMETERS = 64


def _log_softmax(z):
    """Row-wise log-softmax (faster than scipy's for the few columns of a gate).

    Any array namespace.
    """
    xp = _xp_of(z)
    z = z - xp.max(z, axis=1, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=1, keepdims=True))


def _newton_soft_targets(inputs, targets, l2, fit_intercept, init, options):
    """Newton's method for the soft-target objective, in the inputs' namespace.

    The array-API (GPU) counterpart of the L-BFGS fit: the parameters are few
    (``(n_features + 1) * K``), so each iteration forms the exact Hessian
    with two matrix products over the rows (in chunks, to bound memory) and
    solves a small system; from a warm start one or two iterations suffice,
    each a handful of large device operations instead of the dozens of small,
    host-synchronised ones of L-BFGS. Minimises the same objective as
    :class:`_SoftTargetLoss`, so the two solvers agree within ``tol``.

    The softmax is invariant to adding one constant to every class, so the
    Hessian is singular along those directions (the unpenalised intercepts,
    and every coefficient when ``l2 == 0``). The gradient is orthogonal to
    them, so adding a multiple of their projector to the Hessian leaves the
    Newton step unchanged and makes the system solvable.

    Returns ``(W, b, n_iter, status, objective)``, ``status`` as L-BFGS-B's:
    0 converged, 1 ``max_iter`` reached.
    """
    Xs, sample_weight = inputs.Xs, inputs.sample_weight
    xp = _xp_of(Xs)
    device = Xs.device
    dtype = Xs.dtype
    n, d = Xs.shape
    k = targets.shape[1]
    weighted = targets * sample_weight[:, None]
    row_mass = xp.sum(weighted, axis=1)
    wsum = float(xp.sum(sample_weight))
    ones = xp.ones((n, 1), dtype=dtype, device=device)
    Xa = xp.concat([Xs, ones], axis=1) if fit_intercept else Xs
    q = Xa.shape[1]
    p = q * k
    penalised = xp.asarray(
        [l2] * (d * k) + [0.0] * (p - d * k), dtype=dtype, device=device
    )
    eye_k = xp.eye(k, dtype=dtype, device=device)
    gauge = xp.reshape(
        xp.eye(q, dtype=dtype, device=device)[:, None, :, None]
        * (xp.ones((k, k), dtype=dtype, device=device) / k)[None, :, None, :],
        (p, p),
    )
    chunk = max(1, (1 << 24) // p)

    def objective(A):
        log_p = _log_softmax(Xa @ A)
        loss = -xp.sum(weighted * log_p) + 0.5 * l2 * xp.sum(A[:d, :] ** 2)
        return float(loss) / wsum, log_p

    A = xp.zeros((q, k), dtype=dtype, device=device)
    if init is not None:
        W0, b0 = init
        A = xp.concat([W0, b0[None, :]], axis=0) if fit_intercept else W0
    f, log_p = objective(A)
    converged, n_iter = False, 0
    for n_iter in range(1, options["max_iter"] + 1):
        P = xp.exp(log_p)
        grad = Xa.T @ (P * row_mass[:, None] - weighted)
        grad = xp.reshape(grad, (p,)) + penalised * xp.reshape(A, (p,))
        if float(xp.max(xp.abs(grad))) / wsum <= options["tol"]:
            converged = True
            n_iter -= 1
            break
        H = xp.zeros((p, p), dtype=dtype, device=device)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            Xc, Pc = Xa[start:stop, :], P[start:stop, :]
            U = xp.reshape(Xc[:, :, None] * Pc[:, None, :], (stop - start, p))
            Um = U * row_mass[start:stop, None]
            # sum_i m_i x_i x_i^T (diag(p_i) - p_i p_i^T), with x_i (x) p_i = U_i
            F = xp.reshape(Xc.T @ Um, (q, q, k))
            block = (
                xp.permute_dims(F, (0, 2, 1))[:, :, :, None] * eye_k[None, :, None, :]
            )
            H = H + xp.reshape(block, (p, p)) - U.T @ Um
        H = H + xp.eye(p, dtype=dtype, device=device) * penalised[None, :]
        c = max(float(xp.sum(xp.linalg.diagonal(H))) / p, np.finfo(np.float64).tiny)
        step = -xp.linalg.solve(H + c * gauge, grad[:, None])[:, 0]
        slope = float(xp.sum(grad * step)) / wsum
        t, accepted = 1.0, False
        for _ in range(30):
            A_new = A + t * xp.reshape(step, (q, k))
            f_new, log_p_new = objective(A_new)
            if f_new <= f + 1e-4 * t * slope:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            # No decrease along the Newton direction: at the optimum to
            # floating-point precision.
            converged = True
            break
        decrease = f - f_new
        A, f, log_p = A_new, f_new, log_p_new
        if decrease <= 64 * np.finfo(np.float64).eps * max(1.0, abs(f)):
            converged = True
            break
    W = A[:d, :]
    b = A[d, :] if fit_intercept else xp.zeros((k,), dtype=dtype, device=device)
    return W, b, n_iter, 0 if converged else 1, f


def _newton_numpy(inputs, targets, l2, fit_intercept, init, options):
    """Damped Newton's method on the fused numba kernels (NumPy data).

    Minimises the objective of :class:`_SoftTargetLoss`: each step forms the
    loss, gradient and exact Hessian in one pass over the rows
    (:func:`~skmoe._kernels.softmax_cross_entropy_hessian`), solves the
    small system, and backtracks (Armijo) until the objective decreases, so
    that no step ever raises it: inside EM each gate fit is a generalised-EM
    M-step. From a warm start one or two steps usually meet ``tol``.

    The full softmax is invariant to adding one constant to every class, so
    the Hessian is singular along those directions where they are not
    penalised (the intercepts; every row when ``l2 == 0``). The gradient is
    orthogonal to them, so adding a multiple of their projector there leaves
    the Newton step unchanged and keeps the iterates' class sums where they
    started (zero from the default start, as L-BFGS keeps them). Penalised
    rows get the plain Newton step.

    Returns ``(W, b, n_iter, status, objective)`` as L-BFGS does.
    """
    loss = _SoftTargetLoss(inputs.XT, targets, inputs.sample_weight, l2, fit_intercept)
    return _newton(loss, init, options)


def _newton(loss, init, options, first=None):
    """:func:`_newton_numpy`'s iterations on ``loss`` (a
    :class:`_SoftTargetLoss`, or the Dask path's, whose evaluations are
    passes over the blocks) from ``init``; ``first``: the value, gradient
    and Hessian at ``init`` (as ``loss.loss_gradient_hessian``) when the
    caller has them (the fused EM pass), which saves the first pass."""
    d, k = loss.n_features, loss.n_classes
    A = _start(loss, init)
    penalty, gauge = _newton_terms(loss)
    f = g = None
    converged, n_iter = False, 0
    for n_iter in range(1, options["max_iter"] + 1):
        if first is not None:
            (f_data, g_data, h_data), first = first, None
        else:
            f_data, g_data, h_data = loss.loss_gradient_hessian(A)
        if f is None:
            f, g = f_data, g_data
            if np.max(np.abs(g)) <= options["tol"]:
                converged, n_iter = True, 0
                break
        factored = _factor(h_data, penalty, gauge)
        accepted, A_new, f_new, g_new = _descend(
            loss, A, f, g, factored.step(g), factored
        )
        if not accepted:
            # No decrease along either direction: at the optimum to
            # floating-point precision.
            converged = True
            break
        decrease = f - f_new
        A, f, g = A_new, f_new, g_new
        if _small(g, decrease, f, options["tol"]):
            converged = True
            break
    W = A[:d]
    b = A[d] if loss.fit_intercept else np.zeros(k)
    return W, b, n_iter, 0 if converged else 1, f


def _start(loss, init):
    """The Newton iterations' first ``A = [W; b]`` (zeros without ``init``)."""
    d, k = loss.n_features, loss.n_classes
    A = np.zeros((d + 1 if loss.fit_intercept else d, k))
    if init is not None:
        A[:d] = init[0]
        if loss.fit_intercept:
            A[d] = init[1]
    return A


def _newton_terms(loss):
    """The penalty's Hessian (diagonal, flattened like ``A``) and the
    projector on the directions the softmax leaves free (``gauge``) of
    Newton's system on ``loss`` (see :func:`_penalty_diagonal` and
    :func:`_gauge`)."""
    return _penalty_diagonal(loss), _gauge(loss)


def _penalty_diagonal(loss):
    """The penalty's Hessian, diagonal, flattened like ``A``, divided by
    the total weight. ``loss.l2`` is a number, or a column of per-feature
    penalties (a logistic expert's)."""
    d, k = loss.n_features, loss.n_classes
    penalty = np.zeros((d + 1 if loss.fit_intercept else d, k))
    penalty[:d] = loss.l2
    return penalty.ravel() / loss.wsum


def _gauge(loss):
    """The projector on the directions the softmax leaves free.

    The full softmax is invariant to adding one constant to every class:
    its class-sum directions are free where the penalty does not hold them
    (the intercepts; every row when ``l2 == 0``), and the Hessian is
    singular along them. ``loss.gauge`` False (a binary logistic model: one
    column, no free direction) leaves none."""
    d, k = loss.n_features, loss.n_classes
    q = d + 1 if loss.fit_intercept else d
    free_rows = np.zeros(q, dtype=bool)
    if loss.fit_intercept:
        free_rows[d] = True
    if not np.any(loss.l2):
        free_rows[:] = True
    if not getattr(loss, "gauge", True):
        free_rows[:] = False
    return np.kron(np.diag(free_rows.astype(float)), np.full((k, k), 1.0 / k))


def _descend(loss, A, f, g, step, factored):
    """:func:`_backtrack` along Newton's ``step``, else along steepest
    descent: far from the optimum (saturated logits) the Hessian can be
    nearly singular and its step useless."""
    accepted, A_new, f_new, g_new = _backtrack(loss, A, f, g, step)
    if not accepted:
        steepest = -g.ravel() / max(factored.largest, 1e-12)
        accepted, A_new, f_new, g_new = _backtrack(loss, A, f, g, steepest)
    return accepted, A_new, f_new, g_new


def _small(g, decrease, f, tol):
    """Newton's stopping rule: the gradient within ``tol``, or a decrease
    at the objective's rounding level."""
    return np.max(np.abs(g)) <= tol or decrease <= 64 * np.finfo(np.float64).eps * max(
        1.0, abs(f)
    )


class _Factored:
    """The Newton matrix of one Hessian, factored: ``step(g)`` solves for
    the Newton step; ``largest`` is its largest diagonal entry."""

    def __init__(self, matrix, largest):
        self.largest = largest
        try:
            self.cho, self.matrix = linalg.cho_factor(matrix, check_finite=False), None
        except linalg.LinAlgError:
            self.cho, self.matrix = None, matrix

    def step(self, g):
        if self.cho is not None:
            return -linalg.cho_solve(self.cho, g.ravel(), check_finite=False)
        return -np.linalg.lstsq(self.matrix, g.ravel(), rcond=None)[0]


def _factor(h_data, penalty, gauge):
    """:class:`_Factored` of the data Hessian ``h_data`` with the diagonal
    ``penalty`` added (:func:`_newton_terms`). The Hessian is singular
    along the free class-sum directions (``gauge``, their projector); the
    gradient is orthogonal to them, so adding a multiple of the projector
    there leaves the step unchanged, keeps the iterates' class sums where
    they started (zero from the default start, as L-BFGS keeps them) and
    makes the system solvable."""
    p = penalty.size
    H = h_data.reshape(p, p) + np.diag(penalty)
    c = max(np.trace(H) / p, np.finfo(np.float64).tiny)
    return _Factored(H + c * gauge, float(np.max(np.diag(H))))


def _backtrack(loss, A, f, g, step):
    """Armijo backtracking along ``step`` from ``A``: ``(accepted, A_new,
    f_new, g_new)``; never accepts a point whose objective is not lower."""
    slope = float(g.ravel() @ step)
    if not slope < 0:
        return False, A, f, g
    t = 1.0
    # 60 halvings: from a start with saturated probabilities the Hessian
    # nearly vanishes and the full step can be many orders too long.
    for _ in range(60):
        A_new = A + t * step.reshape(A.shape)
        f_new, g_new = loss.loss_gradient_grid(A_new)
        if f_new <= f + 1e-4 * t * slope and f_new < f:
            return True, A_new, f_new, g_new
        t *= 0.5
    return False, A, f, g


def _lbfgs_soft_targets(inputs, targets, l2, fit_intercept, init, options):
    """L-BFGS on the fused numba loss (NumPy data); same returns as Newton's."""
    loss = _SoftTargetLoss(
        inputs.XT,
        targets,
        inputs.sample_weight,
        l2,
        fit_intercept,
        options.get("balance", 0.0),
    )
    return _lbfgs(loss, init, options)


def _lbfgs(loss, init, options):
    """L-BFGS-B on ``loss`` (a :class:`_SoftTargetLoss`, or the Dask path's,
    whose evaluations are passes over the blocks) from ``init``."""
    d, k, fit_intercept = loss.n_features, loss.n_classes, loss.fit_intercept
    if init is None:
        params = np.zeros(d * k + (k if fit_intercept else 0))
    else:
        W, b = init
        params = np.concatenate([W.ravel(), b] if fit_intercept else [W.ravel()])
    result = minimize(
        loss.loss_gradient,
        params,
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": options["max_iter"],
            "gtol": options["tol"],
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    W, b = loss.unpack(result.x)
    return W, b, int(result.nit), int(result.status), float(result.fun)


class _SoftTargetLoss:
    """Penalised soft-target cross-entropy with its gradient, for L-BFGS.

    Minimises, over ``W`` (n_features, K) and ``b`` (K,),

        (sum_i w_i sum_k t_ik (-log softmax(x_i W + b)_k) + ||W||^2 / (2 C)) / sum_i w_i

    The division by the total weight keeps the scale of the objective (and so
    the meaning of the solver tolerance) independent of the number of rows.
    With ``balance`` (a mixture's ``balance_strength``), minus
    ``balance * sum_i w_i`` times :func:`_balance` of the weighted average
    probabilities is added before the division.
    """

    def __init__(
        self,
        XT,
        targets,
        sample_weight,
        l2,
        fit_intercept,
        balance=0.0,
        weighted_targets_T=None,
    ):
        # Features-major (``XT`` is ``X.T``, C-contiguous): the kernel
        # vectorises over rows. ``weighted_targets_T``: the targets times
        # the row weights, transposed and C-contiguous, when the caller has
        # them (``targets`` is then unused, and each row's mass is its
        # weight: its targets sum to 1).
        self.XT = XT
        if weighted_targets_T is None:
            weighted_targets_T = np.ascontiguousarray(
                targets.T * sample_weight, dtype=np.float64
            )
            self.row_mass = weighted_targets_T.sum(axis=0)
        else:
            self.row_mass = sample_weight
        self.weighted_targets_T = weighted_targets_T
        self.wsum = sample_weight.sum()
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_features = XT.shape[0]
        self.n_classes = weighted_targets_T.shape[0]
        self.balance = balance
        self.sample_weight = sample_weight

    def unpack(self, params):
        d, k = self.n_features, self.n_classes
        W = params[: d * k].reshape(d, k)
        b = params[d * k :] if self.fit_intercept else np.zeros(k, dtype=params.dtype)
        return W, b

    def loss_gradient_grid(self, A):
        """Objective and gradient at ``A = [W; b]`` (``[W]`` without an
        intercept), the gradient shaped like ``A``."""
        value, flat = self.loss_gradient(A.ravel())
        return value, flat.reshape(A.shape)

    def loss_gradient_hessian(self, A):
        """The objective's value and gradient at ``A``, and the Hessian of
        its data part (the penalty's, diagonal, is the caller's), shaped
        ``(A.size, A.size)``."""
        d, k = self.n_features, self.n_classes
        b = A[d] if self.fit_intercept else np.zeros(k)
        W = np.ascontiguousarray(A[:d])
        return self.penalised(W, *self._data_loss_gradient_hessian(W, b))

    def penalised(self, W, loss, grad, hess):
        """:meth:`loss_gradient_hessian` from the data part's sums at
        ``W`` (and the intercepts): the penalty added, the intercepts'
        entries dropped when there are none, divided by the total weight."""
        loss += 0.5 * self.l2 * np.vdot(W, W)
        grad[:-1] += self.l2 * W
        if not self.fit_intercept:
            grad, hess = grad[:-1], hess[:-1, :, :-1, :]
        p = grad.size
        return loss / self.wsum, grad / self.wsum, hess.reshape(p, p) / self.wsum

    def _data_loss_gradient_hessian(self, W, b):
        """The unpenalised, unnormalised loss, its (d + 1, K) gradient and
        its (d + 1, K, d + 1, K) Hessian."""
        return softmax_cross_entropy_hessian(
            self.XT, W, b, self.weighted_targets_T, self.row_mass
        )

    def _data_loss_gradient(self, W, b):
        """The unpenalised, unnormalised loss and its (d + 1, K) gradient."""
        return softmax_cross_entropy(
            self.XT, W, b, self.weighted_targets_T, self.row_mass
        )

    def loss_gradient(self, params):
        W, b = self.unpack(params)
        loss, grad = self._data_loss_gradient(W, b)
        loss += 0.5 * self.l2 * np.vdot(W, W)
        grad[:-1] += self.l2 * W
        if self.balance:
            value, dlogits = _balance_gradient(
                self.XT.T @ W + b, self.sample_weight, self.balance
            )
            loss += value
            grad[:-1] += self.XT @ dlogits
            grad[-1] += dlogits.sum(axis=0)
        flat = grad.ravel() if self.fit_intercept else grad[:-1].ravel()
        return loss / self.wsum, flat / self.wsum


def _balance_penalty(logits, sample_weight, strength):
    """The load-balancing penalty ``-strength * sum_i w_i * sum_k log(K
    gbar_k) / K``, ``gbar`` the weighted average of the rows' softmax
    probabilities: ``strength * sum_i w_i`` times the Kullback-Leibler
    divergence of uniform from ``gbar``, 0 when the average is uniform."""
    return _balance_gradient(logits, sample_weight, strength, gradient=False)[0]


def _balance_gradient(logits, sample_weight, strength, gradient=True):
    """:func:`_balance_penalty` of the (n, K) logits, and its (n, K)
    gradient with respect to them: ``-strength * w_i / K * g_ij * (1 /
    gbar_j - sum_k g_ik / gbar_k)``."""
    proba = np.exp(_log_softmax(logits))
    wsum = float(sample_weight.sum())
    mean = (sample_weight @ proba) / wsum
    n_classes = proba.shape[1]
    value = -strength * wsum * float(np.mean(np.log(n_classes * mean)))
    if not gradient:
        return value, None
    ratio = proba / mean
    dlogits = proba * (1.0 / mean - ratio.sum(axis=1, keepdims=True))
    dlogits *= (-strength / n_classes) * sample_weight[:, None]
    return value, dlogits
