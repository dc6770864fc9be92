"""The parameters of gradient fitting and the full-batch objective.

:class:`_Model` holds the gate and the differentiable experts as one stack
of affine maps of the standardised features (plus the noise variances and
the experts updated through ``partial_fit``), computes the E-step and the
gradient, and converts to and from fitted estimators. :class:`_Objective`
packs it into the vector L-BFGS minimises.
"""

import numpy as np
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import Ridge

from .._experts import PROBA_FLOOR
from .._gate import _constant_columns, _log_softmax
from .._kernels import e_step, gaussian_log_likelihood
from ._support import _logistic_l2, _rescaled_output

# Intercept modes of a column of the parameter stack: fitted, or tied to the
# coefficients so that the intercept on the original scale is 0.
_FREE, _TIED = 0, 1


def _softmax_pair(Z):
    """Row-wise ``(log_softmax(Z), softmax(Z))`` with one pass of ``exp``.

    Column-by-column maxima and a matrix-vector product for the row sums:
    much faster than axis-1 reductions for the few columns of a gate.
    """
    top = Z[:, 0].copy()
    for k in range(1, Z.shape[1]):
        np.maximum(top, Z[:, k], out=top)
    log_p = Z - top[:, None]
    p = np.exp(log_p)
    total = p @ np.ones(Z.shape[1])
    p /= total[:, None]
    log_p -= np.log(total)[:, None]
    return log_p, p


# ----------------------------------------------------------------------
# Running standardisation
# ----------------------------------------------------------------------
class _Scaler:
    """Running weighted mean and variance of the columns of a matrix.

    Merging batches with Chan et al.'s update; one update on all the data
    gives exactly ``skmoe._gate._weighted_standardization``.
    """

    def __init__(self, n_columns):
        self.weight = 0.0
        self.mean = np.zeros(n_columns)
        self.m2 = np.zeros(n_columns)

    def update(self, Z, w):
        wsum = float(w.sum())
        if wsum <= 0:
            return
        mean_b = w @ Z / wsum
        m2_b = w @ (Z - mean_b) ** 2
        total = self.weight + wsum
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (wsum / total)
        self.m2 = self.m2 + m2_b + delta**2 * (self.weight * wsum / total)
        self.weight = total

    @property
    def var(self):
        return self.m2 / self.weight

    @property
    def scale(self):
        scale = np.sqrt(self.var)
        scale[_constant_columns(self.mean, scale)] = 1.0
        return scale


# ----------------------------------------------------------------------
# The parameters and the objective
# ----------------------------------------------------------------------
class _Model:
    """Gate and differentiable experts as a stack of affine maps, plus variances.

    All affine maps read the same standardised features ``Xs = (X - mean) /
    scale`` (stored with a column of ones appended): column block ``[0, K)``
    holds the gate's logits, then each differentiable expert has its own
    columns (one for a regression expert or a binary logistic one,
    ``n_classes`` for a multinomial one). An output
    column is ``Xs @ W[:, c] + b[c]``; regression experts predict the
    standardised target ``(y - y_mean) / y_scale``. Experts updated through
    ``partial_fit`` (``externals``) have no columns.

    ``var`` holds the noise variances on the original scale of ``y``.
    """

    def __init__(self, n_features, gate, templates, kinds, classifier, n_classes):
        K = len(templates)
        self.n_features = n_features
        self.n_experts = K
        self.classifier = classifier
        self.n_classes = n_classes
        self.kinds = list(kinds)
        self.gate_proto = gate
        modes, l2, raw_pen = [], [], []
        gate_l2 = 0.0 if np.isinf(gate.C) else 1.0 / gate.C
        # Without an intercept the gate's logits are X @ coef (as SoftmaxGate's).
        modes += [_FREE if gate.fit_intercept else _TIED] * K
        l2 += [gate_l2] * K
        raw_pen += [not gate.standardize] * K
        self.expert_cols = [None] * K
        col = K
        for k, (est, kind) in enumerate(zip(templates, kinds, strict=True)):
            if kind != "diff":
                continue
            width = 1 if (not classifier or n_classes == 2) else n_classes
            self.expert_cols[k] = np.arange(col, col + width)
            col += width
            modes += [_FREE if est.fit_intercept else _TIED] * width
            if classifier:
                strength = _logistic_l2(est)
            elif type(est) is Ridge:
                strength = float(np.ravel(est.alpha)[0])
            else:
                strength = 0.0
            l2 += [strength] * width
            raw_pen += [True] * width
        self.n_columns = col
        self.modes = np.asarray(modes)
        self.l2 = np.asarray(l2, dtype=np.float64)
        self.raw_pen = np.asarray(raw_pen, dtype=bool)
        self.free = self.modes == _FREE
        self.tied = self.modes == _TIED
        self.diff = [k for k in range(K) if kinds[k] == "diff"]
        self.ext = [k for k in range(K) if kinds[k] != "diff"]
        # Regression: the columns of the differentiable experts, in order.
        self.reg_cols = (
            np.array([self.expert_cols[k][0] for k in self.diff], dtype=np.intp)
            if not classifier
            else np.zeros(0, dtype=np.intp)
        )
        self.W = np.zeros((n_features, col))
        self.b = np.zeros(col)
        self.var = np.ones(K)
        self.externals = [None] * K
        # External expert k predicts (y - ext_shift[k]) / ext_scale[k].
        self.ext_shift = np.zeros(K)
        self.ext_scale = np.ones(K)
        self.x_scaler = _Scaler(n_features)
        self.y_scaler = _Scaler(1) if not classifier else None

    # -- scales -----------------------------------------------------------
    def _out_affine(self):
        """Raw output = a * standardised output + c0, per column."""
        a = np.ones(self.n_columns)
        c0 = np.zeros(self.n_columns)
        if not self.classifier and self.reg_cols.size:
            a[self.reg_cols] = self.y_scale
            c0[self.reg_cols] = self.y_mean
        return a, c0

    @property
    def y_mean(self):
        return float(self.y_scaler.mean[0]) if self.y_scaler is not None else 0.0

    @property
    def y_scale(self):
        return float(self.y_scaler.scale[0]) if self.y_scaler is not None else 1.0

    def penalty_factor(self):
        """(d, M) factor F: the penalty is on ``F * W`` (1 or 1 / scale)."""
        inv = 1.0 / self.x_scaler.scale
        F = np.ones((self.n_features, self.n_columns))
        F[:, self.raw_pen] = inv[:, None]
        return F

    def full_intercept(self, W, b):
        """Intercepts of every column: the free ones, or tied to ``W``."""
        b = b.copy()
        if self.tied.any():
            a, c0 = self._out_affine()
            ratio = self.x_scaler.mean / self.x_scaler.scale
            b[self.tied] = ratio @ W[:, self.tied] - c0[self.tied] / a[self.tied]
        return b

    def raw_columns(self):
        """Coefficients (d, M) and intercepts (M,) on the original scales."""
        a, c0 = self._out_affine()
        coef = a * self.W / self.x_scaler.scale[:, None]
        b = self.full_intercept(self.W, self.b)
        intercept = a * b + c0 - self.x_scaler.mean @ coef
        if self.tied.any():
            intercept[self.tied] = 0.0
        return coef, intercept

    def set_raw_columns(self, coef, intercept):
        a, c0 = self._out_affine()
        self.W = coef * self.x_scaler.scale[:, None] / a
        self.b = (intercept - c0 + self.x_scaler.mean @ coef) / a
        self.b = self.full_intercept(self.W, self.b)

    def update_scalers(self, X, y, w):
        """Add a chunk to the running scales; keep the fitted function fixed."""
        raw = self.raw_columns() if self.x_scaler.weight > 0 else None
        self.x_scaler.update(X, w)
        if self.y_scaler is not None:
            self.y_scaler.update(y[:, None], w)
        if raw is not None:
            self.set_raw_columns(*raw)

    def standardize(self, X, y):
        """Standardised features with a column of ones appended, and target."""
        Xs = np.empty((X.shape[0], X.shape[1] + 1))
        np.subtract(X, self.x_scaler.mean, out=Xs[:, :-1])
        Xs[:, :-1] /= self.x_scaler.scale
        Xs[:, -1] = 1.0
        if self.classifier:
            return Xs, y
        return Xs, (y - self.y_mean) / self.y_scale

    def log_var_std(self):
        """Log noise variances in standardised units of y."""
        return np.log(self.var) - 2.0 * np.log(self.y_scale)

    # -- objective --------------------------------------------------------
    def expert_terms(self, O, t, log_var, ext_out=None):
        """Per-expert log-likelihood (n, K), and what the gradient needs.

        ``O`` (n, M) are the stack's outputs; ``t`` the standardised target
        (regression) or the class index (classification); ``ext_out`` the
        external experts' standardised predictions (n, n_ext), or their
        log-likelihoods for classification. The second output is, for
        regression, the (n, K) standardised predictions; for classification,
        each differentiable expert's class probabilities (for a binary expert,
        the probability of the second class).
        """
        n, K = O.shape[0], self.n_experts
        log_lik = np.empty((n, K))
        preds = None
        if not self.classifier:
            preds = np.empty((n, K))
            if self.diff:
                preds[:, self.diff] = O[:, self.reg_cols]
            if self.ext:
                preds[:, self.ext] = ext_out
            log_lik[:] = gaussian_log_likelihood(t, preds, np.exp(log_var))
            return log_lik, preds
        rows = np.arange(n)
        proba = {}
        for k in self.diff:
            Z = O[:, self.expert_cols[k]]
            if Z.shape[1] == 1:
                sign = 2.0 * t - 1.0
                log_lik[:, k] = -np.logaddexp(0.0, -sign * Z[:, 0])
                proba[k] = expit(Z[:, 0])
            else:
                log_p = _log_softmax(Z)
                log_lik[:, k] = log_p[rows, t]
                proba[k] = np.exp(log_p, out=log_p)
        if self.ext:
            log_lik[:, self.ext] = ext_out
        return log_lik, proba

    def forward_backward(self, W, b, log_var, Xs, t, w, resp=None, ext_out=None):
        """E-step and the unpenalised gradient of ``-sum_i w_i log p(y_i|x_i)``.

        With ``resp`` given, the responsibilities are held fixed and the
        objective is EM's expected complete-data log-likelihood (an M-step);
        the gradient formulas are the same.

        Returns
        -------
        log_prob : (n,) per-row log-likelihood (standardised units of y), or
            with ``resp`` the per-row expected complete-data log-likelihood.
        h : (n, K) responsibilities.
        preds : (n, K) standardised predictions (regression), or a dict of
            each differentiable expert's class probabilities (classification).
        grad_W : (d, M), grad_b : (M,) (zero where not free), grad_log_var : (K,).
        """
        K = self.n_experts
        # Xs ends with a column of ones: one product gives logits and
        # intercepts, and one product the gradients (summing G's columns
        # along the rows is several times slower than a matrix product).
        O = Xs @ np.vstack([W, self.full_intercept(W, b)])
        log_gate, gate = _softmax_pair(O[:, :K])
        log_lik, preds = self.expert_terms(O, t, log_var, ext_out)
        if resp is None:
            h, log_prob = e_step(log_gate, log_lik)
        else:
            h = resp
            joint = log_gate + log_lik
            log_prob = np.sum(np.where(h > 0, h * joint, 0.0), axis=1)
        G = np.empty_like(O)
        G[:, :K] = w[:, None] * (gate - h)
        wh = w[:, None] * h
        grad_log_var = np.zeros(K)
        if not self.classifier:
            if self.diff:
                v = np.exp(log_var[self.diff])
                r = t[:, None] - preds[:, self.diff]
                whd = wh[:, self.diff]
                G[:, self.reg_cols] = -whd * r / v
                grad_log_var[self.diff] = -0.5 * (
                    (h[:, self.diff] * (r * r / v - 1.0)).T @ w
                )
        else:
            rows = np.arange(O.shape[0])
            for k in self.diff:
                cols = self.expert_cols[k]
                P = preds[k]
                if cols.size == 1:
                    G[:, cols[0]] = -wh[:, k] * (t - P)
                else:
                    P[rows, t] -= 1.0
                    G[:, cols] = wh[:, k, None] * P
        grad = Xs.T @ G
        grad_W, grad_b = grad[:-1], grad[-1].copy()
        if self.tied.any():
            ratio = self.x_scaler.mean / self.x_scaler.scale
            grad_W[:, self.tied] += np.outer(ratio, grad_b[self.tied])
        grad_b[~self.free] = 0.0
        return log_prob, h, preds, grad_W, grad_b, grad_log_var

    def em_penalty(self, W, log_var):
        """The penalty EM's objective subtracts (``lower_bound_``), of
        :meth:`penalty`'s."""
        pen, _, _, gate_pen = self.penalty(W, log_var)
        return self.em_part(pen, gate_pen)

    def em_part(self, pen, gate_pen):
        """Of the whole penalty ``pen``, what EM's objective subtracts: the
        gate's and, for a classifier, its logistic experts' (a Ridge's prior
        scales with the noise variance, which EM's objective leaves out)."""
        return pen if self.classifier else gate_pen

    def penalty(self, W, log_var):
        """Penalty (log-likelihood scale) and its gradients; also the gate's part.

        Column ``c`` contributes ``l2_c / (2 v_c) * sum_j (F_jc W_jc)^2``, with
        ``v_c`` the standardised noise variance of a regression expert's
        column (the Ridge prior scales with the noise) and 1 otherwise.
        """
        F = self.penalty_factor()
        WF = W * F
        sq = np.sum(WF * WF, axis=0)
        inv_v = np.ones(self.n_columns)
        grad_log_var = np.zeros(self.n_experts)
        if not self.classifier and self.diff:
            inv_v[self.reg_cols] = np.exp(-log_var[self.diff])
        coef = self.l2 * inv_v
        pen = 0.5 * float(coef @ sq)
        grad_W = coef * WF * F
        if not self.classifier and self.diff:
            c = self.reg_cols
            grad_log_var[self.diff] = -0.5 * coef[c] * sq[c]
        K = self.n_experts
        gate_pen = 0.5 * float(self.l2[:K] @ sq[:K])
        return pen, grad_W, grad_log_var, gate_pen

    # -- estimators -------------------------------------------------------
    def set_from_state(self, state, classes):
        """Load the parameters of fitted experts, gate and variances."""
        d, K = self.n_features, self.n_experts
        coef = np.zeros((d, self.n_columns))
        intercept = np.zeros(self.n_columns)
        gate = state["gate"]
        coef[:, :K] = gate.coef_
        intercept[:K] = gate.intercept_
        for k, est in enumerate(state["experts"]):
            cols = self.expert_cols[k]
            if cols is None:
                # Fitted on the original scale: it continues there.
                self.externals[k] = est
                self.ext_shift[k], self.ext_scale[k] = 0.0, 1.0
                continue
            if not hasattr(est, "coef_"):
                raise ValueError(
                    f"Cannot continue from the fitted expert {type(est).__name__}"
                    " with gradient fitting: it has no coef_. Set "
                    "warm_start=False."
                )
            c_k, b_k = _linear_raw(est, classes, d)
            coef[:, cols] = c_k
            intercept[cols] = b_k
        self.set_raw_columns(coef, intercept)
        if not self.classifier:
            self.var = np.asarray(state["noise_variance"], dtype=np.float64).copy()

    def to_state(self, protos, n_iter=0, converged=False):
        """Fitted experts (copies of ``protos``), SoftmaxGate and variances."""
        coef, intercept = self.raw_columns()
        K, d = self.n_experts, self.n_features
        gate = clone(self.gate_proto)
        gate.classes_ = np.arange(K)
        gate.coef_ = coef[:, :K].copy()
        gate.intercept_ = intercept[:K].copy()
        gate.n_features_in_ = d
        gate.n_iter_ = int(n_iter)
        gate.converged_ = bool(converged)
        gate.penalty_ = self.penalty(self.W, self.log_var_std())[3]
        gate.objective_ = np.nan
        experts = []
        for k in range(K):
            cols = self.expert_cols[k]
            if cols is None:
                est = self.externals[k]
                if self.ext_shift[k] != 0.0 or self.ext_scale[k] != 1.0:
                    est = _rescaled_output(est, self.ext_scale[k], self.ext_shift[k])
                experts.append(est)
                continue
            est = clone(protos[k])
            est.n_features_in_ = d
            if self.classifier:
                est.classes_ = self.classes
                est.coef_ = coef[:, cols].T.copy()
                est.intercept_ = intercept[cols].copy()
                est.n_iter_ = np.array([n_iter], dtype=np.int32)
            else:
                est.coef_ = coef[:, cols[0]].copy()
                est.intercept_ = float(intercept[cols[0]])
            experts.append(est)
        return {
            "experts": experts,
            "gate": gate,
            "noise_variance": None if self.classifier else self.var.copy(),
        }


def _linear_raw(est, classes, d):
    """A fitted linear expert's coefficients (d, m) and intercepts (m,)."""
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.repeat(intercept, coef.shape[0])
    if classes is None:
        return coef.T, intercept
    n_classes = classes.size
    idx = np.searchsorted(classes, est.classes_)
    if n_classes == 2:
        return coef.T, intercept
    # Multinomial logits on the global classes; a class the expert never saw
    # gets probability about PROBA_FLOOR relative to the others.
    W = np.zeros((d, n_classes))
    b = np.zeros(n_classes)
    if idx.size == 2:
        W[:, idx[1]] = coef[0]
        b[idx[1]] = intercept[0]
        present = b[idx]
    else:
        W[:, idx] = coef.T
        b[idx] = intercept
        present = intercept
    missing = np.setdiff1d(np.arange(n_classes), idx)
    b[missing] = present.min() + np.log(PROBA_FLOOR)
    return W, b


# ----------------------------------------------------------------------
# The objective, packed for L-BFGS
# ----------------------------------------------------------------------
class _Objective:
    """Penalised negative log-likelihood per unit weight, packed for L-BFGS.

    L-BFGS sees ``u = theta / precond``: a regression expert's coefficients
    are divided by its (starting) noise standard deviation, which makes the
    curvature of every block of order one (an expert's curvature is about
    ``share / sigma^2``, the gate's at most 1/4) and the solver many times
    faster when the noise is small.
    """

    def __init__(self, model, Xs, t, w, resp=None, ext_out=None, optimize_var=True):
        self.model = model
        self.Xs, self.t, self.w, self.resp, self.ext_out = Xs, t, w, resp, ext_out
        self.wsum = float(w.sum())
        self.d, self.M = model.W.shape
        self.n_free = int(model.free.sum())
        self.var_idx = (
            np.asarray(model.diff, dtype=np.intp)
            if (optimize_var and not model.classifier)
            else np.zeros(0, dtype=np.intp)
        )
        self.log_var = model.log_var_std()
        self.last = None
        col_scale = np.ones(self.M)
        if not model.classifier and model.diff:
            col_scale[model.reg_cols] = np.exp(0.5 * self.log_var[model.diff])
        self.precond = np.concatenate(
            [
                np.tile(col_scale, self.d),
                col_scale[model.free],
                np.ones(self.var_idx.size),
            ]
        )

    def pack(self):
        m = self.model
        theta = np.concatenate([m.W.ravel(), m.b[m.free], self.log_var[self.var_idx]])
        return theta.astype(np.float64) / self.precond

    def unpack(self, u):
        m = self.model
        theta = u * self.precond
        n_w = self.d * self.M
        W = theta[:n_w].reshape(self.d, self.M)
        b = np.zeros(self.M)
        b[m.free] = theta[n_w : n_w + self.n_free]
        log_var = self.log_var.copy()
        log_var[self.var_idx] = theta[n_w + self.n_free :]
        return W, b, log_var

    def store(self, u):
        """Write the parameters at ``u`` into the model."""
        m = self.model
        W, b, log_var = self.unpack(u)
        m.W = W.copy()
        m.b = m.full_intercept(W, b)
        if not m.classifier:
            m.var = np.exp(log_var) * m.y_scale**2

    def __call__(self, u):
        m = self.model
        W, b, log_var = self.unpack(u)
        log_prob, _, _, gW, gb, glv = m.forward_backward(
            W, b, log_var, self.Xs, self.t, self.w, self.resp, self.ext_out
        )
        pen, pW, plv, gate_pen = m.penalty(W, log_var)
        loglik = float(self.w @ log_prob)
        value = (pen - loglik) / self.wsum
        grad = np.concatenate(
            [(gW + pW).ravel(), gb[m.free], (glv + plv)[self.var_idx]]
        )
        self.last = (u.copy(), loglik, m.em_part(pen, gate_pen))
        return value, grad * (self.precond / self.wsum)

    def bound(self, u):
        """Log-likelihood and EM's objective, (log-lik - penalty) / weight, at u
        (:meth:`_Model.em_penalty`).

        In standardised units of y (the caller shifts by ``log(y_scale)``).
        """
        if self.last is None or not np.array_equal(self.last[0], u):
            self(u)
        _, loglik, em_pen = self.last
        return loglik, (loglik - em_pen) / self.wsum

    def bounds(self, floor_std):
        lo = [(None, None)] * (self.d * self.M + self.n_free)
        return lo + [(np.log(floor_std), None)] * self.var_idx.size


def _classes_of(estimator):
    """The estimator's classes (classification), or None."""
    return estimator.classes_ if estimator._classifier else None


def _new_model(estimator, X, y, w, lik, templates, kinds):
    """A zero :class:`_Model` with the scales of (X, y) and the likelihood's
    variance floor, which the full-batch objective is set up on."""
    classes = _classes_of(estimator)
    model = _Model(
        X.shape[1],
        estimator._make_gate(),
        templates,
        kinds,
        estimator._classifier,
        0 if classes is None else classes.size,
    )
    model.classes = classes
    model.x_scaler.update(X, w)
    if not estimator._classifier:
        model.y_scaler.update(y[:, None], w)
        model.var_floor_std = lik.variance_floor / model.y_scale**2
    return model
