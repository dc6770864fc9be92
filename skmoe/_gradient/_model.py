"""Gradient fitting of a mixture of experts: ``solver="gradient"`` and ``partial_fit``.

Jacobs, Jordan, Nowlan and Hinton (1991) fitted their mixture by gradient
ascent on the log-likelihood ``L = sum_i w_i log p(y_i | x_i)``. Once the
E-step has given the responsibilities ``h`` (``skmoe._kernels.e_step``), the
gradient is cheap (docs/user_guide/gradient.rst):

* ``dL/d theta_k = sum_i w_i h_ik d/d theta_k log p_k(y_i | x_i)`` for the
  parameters of expert ``k`` (a responsibility-weighted expert gradient), and
* ``dL/d z_ik = w_i (h_ik - g_ik)`` for the gate's logits ``z = x V + b``.

Two solvers use them.

Full batch (L-BFGS)
    With *differentiable* experts only (see :func:`_differentiable`), the
    gate, the experts and the log noise variances are one parameter vector,
    and the penalised log-likelihood is maximised with scipy's L-BFGS-B and
    the analytic gradient. The objective is EM's (the gate's L2 penalty
    included), plus each expert's own penalty written on the log-likelihood
    scale: ``alpha ||beta_k||^2 / (2 sigma_k^2)`` for a ``Ridge`` expert (the
    penalty whose maximiser, for fixed responsibilities and variance, is
    ``Ridge`` fitted with the responsibilities as sample weights, which is
    what an EM M-step does; EM's variance update leaves it out, so with
    Ridge experts the two solvers' optima differ slightly) and
    ``||B_k||^2 / (2 C)`` for a ``LogisticRegression`` expert
    (scikit-learn's objective, ``C sum_i s_i loss_i + ||B||^2 / 2``, divided
    by ``C``; EM maximises the same).

Minibatches (Adam and ``partial_fit``)
    Each step takes the E-step of a minibatch under the current model, then
    an Adam step on the gate (and on the differentiable experts) along the
    minibatch gradient, and calls ``partial_fit`` of every other expert with
    the responsibilities times the sample weights as ``sample_weight``: an
    exact stochastic-gradient step of the mixture's log-likelihood for that
    expert (not rescaled: docs/user_guide/solvers.rst says why). Regression
    experts of :func:`_learns_standardized_target` learn the target
    standardised by the scales the fit starts from, and are written back as
    copies that predict on the original scale. Regression noise variances
    are running weighted averages of the squared residuals (exponential
    forgetting over about ``_VARIANCE_MEMORY`` rows), and are set to their
    exact weighted average over the training data at the end of every epoch
    of ``fit``.

Both start from a warm-up on at most ``_INIT_ROWS`` random rows of the
training data (``partial_fit``: on the first chunk): the ``init_params``
responsibilities of those rows, an M-step and ``_INIT_EM_ITER`` EM
iterations there (:func:`_warm_up`).

Both work in internally standardised coordinates: features standardised by
their weighted mean and scale (for ``partial_fit``, running estimates over
every chunk seen so far; the parameters are re-expressed whenever the
estimates change, so the fitted function does not jump), and, for
regression, the target too. Everything is mapped back to the original scale
when the parameters are written into real fitted experts and a
:class:`~skmoe.SoftmaxGate`, so ``predict`` and every other method work as
after EM.
"""

import copy
import inspect
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDRegressor,
)
from sklearn.neural_network import MLPRegressor
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from .._array_api import _check_fitted_namespace, _namespace
from .._experts import (
    PROBA_FLOOR,
    _check_expert_templates,
    _expert_outputs,
    _make_experts,
)
from .._gate import SoftmaxGate, _constant_columns, _log_softmax
from .._kernels import e_step, gaussian_log_likelihood
from .._validation import _check_weights, _validate_data

__all__ = ["check_solver_support", "gradient_run", "has_flat_gate", "partial_fit"]

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

#: Full-batch L-BFGS stops when an iteration decreases the objective by less
#: than ``tol * _FTOL_FACTOR`` (relative), or when the largest gradient
#: component is below ``tol``. An L-BFGS iteration is cheaper and makes less
#: progress than an EM iteration; with this factor both solvers stop at about
#: the same distance from the optimum, and EM started from the gradient
#: solution does not improve it by more than ``tol``.
_FTOL_FACTOR = 1e-2

#: EM iterations after the initial M-step of the warm-up that starts both
#: gradient solvers, on at most ``_INIT_ROWS`` random rows of the training
#: data in ``fit`` (on the first chunk in ``partial_fit``).
_INIT_EM_ITER = 5
_INIT_ROWS = 10_000

#: Number of past steps L-BFGS keeps to approximate the curvature.
_LBFGS_MEMORY = 30

#: Minibatch size used by ``batch_size="auto"`` with the minibatch solver
#: (``min(200, n_samples)``, as ``MLPRegressor``).
_AUTO_BATCH = 200

#: Benchmarks and debugging only: a callable that, when set, is called as
#: ``_TRACE(get_state)`` after every L-BFGS iteration and every
#: ``_TRACE_EVERY`` minibatches (0: at the end of every epoch) of ``fit``;
#: ``get_state()`` returns the current parameters as fitted experts, gate and
#: noise variances (a state dict of the EM driver). The time spent in it is
#: the caller's to subtract.
_TRACE = None
_TRACE_EVERY = 0

# Intercept modes of a column of the parameter stack: fitted, or tied to the
# coefficients so that the intercept on the original scale is 0.
_FREE, _TIED = 0, 1

_DIFFERENTIABLE_DOC = (
    "LinearRegression and Ridge (positive=False, a scalar alpha) for "
    "regression; LogisticRegression with an L2 penalty or none (not the "
    "'liblinear' solver, class_weight=None) for classification"
)


# ----------------------------------------------------------------------
# Which experts qualify
# ----------------------------------------------------------------------
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


def _differentiable(expert, classifier):
    """Whether skmoe computes this expert's log-likelihood gradient itself.

    Recognised by exact type (a subclass may change the model): for
    regression ``LinearRegression`` and ``Ridge`` with ``positive=False`` and
    a scalar ``alpha``; for classification ``LogisticRegression`` with an L2
    penalty or none, ``class_weight=None`` and a solver other than
    ``'liblinear'`` (which penalises the intercept).
    """
    if classifier:
        return (
            type(expert) is LogisticRegression
            and expert.solver != "liblinear"
            and expert.class_weight is None
            and _logistic_l2(expert) is not None
        )
    if type(expert) is LinearRegression:
        return not expert.positive
    if type(expert) is Ridge:
        return not expert.positive and np.size(expert.alpha) == 1
    return False


def _learns_standardized_target(expert):
    """Whether a regression expert updated by ``partial_fit`` learns ``(y - c) / s``.

    ``c`` and ``s`` are the target's mean and scale on the data the stream
    starts from; the written expert is a copy that predicts on the original
    scale (:func:`_rescaled_output`). Why: these experts start from a zero
    output and take stochastic-gradient steps whose size does not adapt to
    the units of ``y``. On a raw target far from zero in units of its spread
    (``y`` of mean 450 and spread 17, say), an expert fitted on its own
    region of ``X``, where ``X`` is not centred, reaches that level mostly
    through its slopes instead of its intercept, and unlearns them only over
    many passes; the soft mixture of such experts predicts wildly outside
    their regions.

    Recognised by exact type (a subclass may change the model), with the
    squared loss (``huber``'s ``epsilon`` and ``poisson`` are tied to the
    units of ``y``). For ``SGDRegressor`` with an L2 penalty or none, the
    map changes nothing but the path: loss and penalty both scale by
    ``s^2``, so the penalised optimum is the same. For ``MLPRegressor`` the
    penalty ``alpha`` acts on the standardised scale, as in a pipeline that
    standardises ``y``.
    """
    if type(expert) is SGDRegressor:
        return expert.loss == "squared_error" and expert.penalty in ("l2", None)
    if type(expert) is MLPRegressor:
        return getattr(expert, "loss", "squared_error") == "squared_error"
    return False


def _rescaled_output(expert, scale, shift):
    """A copy of a fitted expert of :func:`_learns_standardized_target` predicting
    ``scale * expert.predict(X) + shift``; the expert itself is left alone."""
    est = copy.deepcopy(expert)
    if type(est) is MLPRegressor:
        if hasattr(est, "coefs_"):
            # The output layer is affine (identity activation).
            est.coefs_[-1] = est.coefs_[-1] * scale
            est.intercepts_[-1] = est.intercepts_[-1] * scale + shift
        return est
    # SGDRegressor: the coefficients its partial_fit continues from (plain
    # and averaged) too, so the copy is an SGD state on the original scale.
    for name in ("coef_", "_standard_coef", "_average_coef"):
        value = getattr(est, name, None)
        if value is not None:
            setattr(est, name, value * scale)
    for name in ("intercept_", "_standard_intercept", "_average_intercept"):
        value = getattr(est, name, None)
        if value is not None:
            setattr(est, name, value * scale + shift)
    return est


def _accepts_partial_fit_weights(expert):
    partial = getattr(expert, "partial_fit", None)
    if partial is None:
        return False
    try:
        return "sample_weight" in inspect.signature(partial).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def has_flat_gate(estimator):
    """Whether the estimator's gate is a flat SoftmaxGate (gradient fitting needs one).

    ``partial_fit`` is only offered where this holds (hierarchical mixtures,
    whose gate is a tree, have none).
    """
    return isinstance(estimator._make_gate(), SoftmaxGate)


def check_solver_support(estimator, templates, *, context="solver='gradient'"):
    """Say how each expert is fitted by gradient; raise before any work if one can't be.

    Parameters
    ----------
    estimator : BaseMixtureOfExperts
    templates : list of estimators
        One unfitted expert per expert slot.
    context : str
        Who asks, for the error messages.

    Returns
    -------
    kinds : list of {'diff', 'partial'}
        ``'diff'``: differentiable expert whose gradient skmoe computes;
        ``'partial'``: an expert updated through its own ``partial_fit``.
    """
    gate = estimator._make_gate()
    if not isinstance(gate, SoftmaxGate):
        raise ValueError(
            f"{context} supports the flat softmax gate (SoftmaxGate) only; "
            f"{type(estimator).__name__} uses a {type(gate).__name__}. Use "
            "solver='em' and fit."
        )
    classifier = estimator._classifier
    kinds = []
    for est in templates:
        if _differentiable(est, classifier):
            kinds.append("diff")
        elif _accepts_partial_fit_weights(est):
            kinds.append("partial")
        else:
            name = type(est).__name__
            has_partial = hasattr(est, "partial_fit")
            why = (
                "has partial_fit but it does not accept sample_weight"
                if has_partial
                else "is not differentiable by skmoe and has no partial_fit"
            )
            raise ValueError(
                f"{context} cannot fit the expert {name}: it {why}. Gradient "
                f"fitting computes the gradient of {_DIFFERENTIABLE_DOC}, and "
                "updates any other expert through partial_fit(X, y, "
                "sample_weight) (SGDRegressor, SGDClassifier(loss='log_loss'), "
                "MLPRegressor, MLPClassifier, ...). Use solver='em' with fit, "
                "or an expert with partial_fit."
            )
    return kinds


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
# Full batch: L-BFGS
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
        self.last = (u.copy(), loglik, gate_pen)
        return value, grad * (self.precond / self.wsum)

    def bound(self, u):
        """Log-likelihood and EM's objective, (log-lik - gate penalty) / weight, at u.

        In standardised units of y (the caller shifts by ``log(y_scale)``).
        """
        if self.last is None or not np.array_equal(self.last[0], u):
            self(u)
        _, loglik, gate_pen = self.last
        return loglik, (loglik - gate_pen) / self.wsum

    def bounds(self, floor_std):
        lo = [(None, None)] * (self.d * self.M + self.n_free)
        return lo + [(np.log(floor_std), None)] * self.var_idx.size


def _lbfgs(objective, max_iter, tol, history=None, y_shift=0.0, trace=None):
    """Minimise ``objective`` with L-BFGS-B; stores the result in the model."""
    theta0 = objective.pack()
    floor = getattr(objective.model, "var_floor_std", None)
    bounds = objective.bounds(floor) if floor is not None else None
    if bounds is not None and objective.var_idx.size:
        lo = np.log(floor)
        k = objective.var_idx.size
        theta0[-k:] = np.maximum(theta0[-k:], lo)

    def callback(intermediate_result):
        if history is not None:
            _, bound = objective.bound(intermediate_result.x)
            history.append(bound - y_shift)
        if trace is not None:
            trace(intermediate_result.x)

    # L-BFGS-B calls BLAS on vectors of a few dozen entries: several BLAS
    # threads only contend (100x slower on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=callback,
            options={
                "maxiter": max_iter,
                "maxfun": max(15000, 2 * max_iter),
                "maxcor": _LBFGS_MEMORY,
                "ftol": tol * _FTOL_FACTOR,
                "gtol": tol,
            },
        )
    objective.store(result.x)
    return result


# ----------------------------------------------------------------------
# Minibatches: Adam on the stack, partial_fit on the others
# ----------------------------------------------------------------------
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
        self.trace = False
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
            expert.partial_fit(X[keep], target, **kwargs)

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
            _lbfgs(objective, _INIT_MAX_ITER, 1e-8)
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
            if self.trace and _TRACE_EVERY and self.n_steps % _TRACE_EVERY == 0:
                _TRACE(lambda: copy.deepcopy(self.model.to_state(self.protos)))
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
        gate_pen = m.penalty(m.W, m.log_var_std())[3]
        return (loglik - gate_pen) / float(w.sum()), loglik

    def write(self, n_iter=0, converged=False):
        state = self.model.to_state(self.protos, n_iter, converged)
        self.experts = state["experts"]
        return state


# ----------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------
def _classes_of(estimator):
    return estimator.classes_ if estimator._classifier else None


def gradient_run(
    estimator, X, y, w, lik, templates, init_resp, start, seed, run, inner_jobs
):
    """One gradient-fitting run; returns the same record as ``_em_run``.

    Full batch (L-BFGS) when every expert is differentiable and
    ``batch_size='auto'``; minibatches otherwise.
    """
    if start is not None:
        # Warm start: the fitted experts (in their canonical order) say what
        # each expert is, as for EM.
        templates = [clone(expert) for expert in start["experts"]]
    kinds = check_solver_support(estimator, templates)
    rng = np.random.RandomState(seed)
    full = all(k == "diff" for k in kinds) and estimator.batch_size == "auto"
    runner = _full_batch_run if full else _minibatch_run
    t0 = time.perf_counter()
    record = runner(estimator, X, y, w, lik, templates, kinds, init_resp, start, rng)
    record["unit"] = "L-BFGS iterations" if full else "epochs"
    if estimator.verbose:
        status = "converged" if record["converged"] else "did not converge"
        print(
            f"run {run}: {status} after {record['n_iter']} {record['unit']} "
            f"({time.perf_counter() - t0:.2f}s), objective "
            f"{record['lower_bound']:.6f}"
        )
    return record


def _new_model(estimator, X, y, w, lik, templates, kinds):
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


def _make_objective(estimator, X, y, sample_weight=None, resp=None):
    """The full-batch objective ``estimator`` would minimise on (X, y).

    For tests and debugging: returns ``(objective, u0)``, where
    ``objective(u)`` gives the penalised negative log-likelihood per unit
    weight and its gradient, and ``u0`` the (all-zero) starting point. With
    ``resp``, the objective is the M-step's (responsibilities held fixed).
    """
    X, y = estimator._validate_fit_data(X, y)
    w = _check_weights(sample_weight, X, np.float64)
    lik = estimator._likelihood(y, w)
    templates = _check_expert_templates(
        estimator.expert,
        estimator.n_experts,
        estimator._default_expert(),
        estimator._classifier,
    )
    kinds = check_solver_support(estimator, templates)
    if not all(kind == "diff" for kind in kinds):
        raise ValueError("the full-batch objective needs differentiable experts")
    model = _new_model(estimator, X, y, w, lik, templates, kinds)
    classes = _classes_of(estimator)
    t = np.searchsorted(classes, y) if classes is not None else y
    Xs, t = model.standardize(X, t)
    objective = _Objective(model, Xs, t, w, resp=resp)
    return objective, objective.pack()


def _full_batch_run(estimator, X, y, w, lik, templates, kinds, init_resp, start, rng):
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
    trace = None
    if _TRACE is not None:

        def trace(u):
            objective.store(u)
            _TRACE(lambda: model.to_state(protos))

    result = _lbfgs(
        objective, estimator.max_iter, estimator.tol, history, y_shift, trace
    )
    loglik, bound = objective.bound(result.x)
    loglik -= float(w.sum()) * y_shift
    bound -= y_shift
    if estimator.verbose >= 2:
        for i, value in enumerate(history, 1):
            print(f"  L-BFGS iteration {i}: objective {value:.8f}")
    # status 1: iteration limit; 0 and 2 (no further progress along the line
    # search, at the precision of the objective) count as converged.
    converged = result.status != 1
    if not history:
        # The warm-up already met the stopping rule: one entry, n_iter_ = 1.
        history = [bound]
    return {
        "state": model.to_state(protos, result.nit, converged),
        "lower_bound": bound,
        "log_likelihood": loglik,
        "history": history,
        "n_iter": max(int(result.nit), len(history)),
        "converged": converged,
        "reinitialized": [],
    }


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


def _minibatch_run(estimator, X, y, w, lik, templates, kinds, init_resp, start, rng):
    classes = _classes_of(estimator)
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
    stream.trace = _TRACE is not None
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
        if _TRACE is not None and not _TRACE_EVERY:
            _TRACE(lambda: copy.deepcopy(m.to_state(stream.protos)))
        if estimator.verbose >= 2:
            print(f"  epoch {n_iter}: objective {bound:.8f} (lr {stream.lr:.3g})")
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
    return {
        "state": best["state"],
        "lower_bound": best["bound"],
        "log_likelihood": best["loglik"],
        "history": history,
        "n_iter": n_iter,
        "converged": converged,
        "reinitialized": [],
    }


def _validate_partial_fit(estimator, X, y, classes, first):
    """Validate one chunk; on the first call also set the classes."""
    if not first:
        X = _validate_data(estimator, X, reset=False, dtype=np.float64)
        y = estimator._check_y(y, X)
        if estimator._classifier and classes is not None:
            given = np.unique(classes)
            if not np.array_equal(given, estimator.classes_):
                raise ValueError(
                    f"classes={given.tolist()} is not the same as the classes the "
                    f"model was fitted on, {estimator.classes_.tolist()} (the first "
                    "partial_fit call's classes, or those of fit)."
                )
        return X, y
    if not estimator._classifier:
        return estimator._validate_fit_data(X, y)
    if classes is None:
        raise ValueError(
            "classes must be passed on the first call to partial_fit: the "
            "mixture's experts need every class from the start (e.g. "
            "classes=np.unique(y_all))."
        )
    return estimator._validate_fit_data(X, y, classes=classes)


def partial_fit(estimator, X, y, sample_weight=None, classes=None):
    """One pass of minibatch gradient steps over a chunk (X, y).

    The first call (on an unfitted estimator) initialises the model on its
    chunk, like ``fit`` initialises on all the data (``init_params``, then one
    M-step: an exact one for differentiable experts and the gate, one
    ``partial_fit`` call for the others), then makes the pass. After ``fit``,
    the first call continues from the fitted parameters with a fresh
    optimiser state.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor or MixtureOfExpertsClassifier
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,) or None
    classes : array-like of shape (n_classes,) or None
        Classification only; required on the first call.

    Returns
    -------
    estimator
    """
    fitted = hasattr(estimator, "experts_")
    if not estimator._classifier and classes is not None:
        raise TypeError("classes is only used by classifiers.")
    if fitted and len(estimator.experts_) != estimator.n_experts:
        raise ValueError(
            f"partial_fit continues the fitted model, which has "
            f"{len(estimator.experts_)} experts, but n_experts="
            f"{estimator.n_experts}: call fit to fit a new model with "
            f"{estimator.n_experts} experts."
        )
    xp, _ = _namespace(X)
    if xp is not None:
        raise ValueError(
            f"partial_fit takes NumPy inputs only; with array-API inputs "
            f"({xp.__name__}) use fit."
        )
    if fitted:
        _check_fitted_namespace(
            X, estimator, attribute="expert_shares_", method="partial_fit"
        )
    X, y = _validate_partial_fit(estimator, X, y, classes, first=not fitted)
    w = _check_weights(
        sample_weight, X, np.float64, "The sample weights of this partial_fit chunk"
    )
    stream = getattr(estimator, "_stream", None)
    stale = stream is None or stream.experts is not getattr(estimator, "experts_", None)
    if fitted:
        # Continue from the fitted experts, in their (canonical) order.
        templates = [clone(expert) for expert in estimator.experts_]
    else:
        templates = _check_expert_templates(
            estimator.expert,
            estimator.n_experts,
            estimator._default_expert(),
            estimator._classifier,
        )
    kinds = check_solver_support(estimator, templates, context="partial_fit")
    classes = _classes_of(estimator)
    if not fitted:
        n_positive = int(np.count_nonzero(w > 0))
        if estimator.n_experts > n_positive:
            raise ValueError(
                f"n_experts={estimator.n_experts} must be at most the number of "
                f"rows with positive weight in the first partial_fit chunk "
                f"(n_samples={n_positive}): the model is initialised on it. Pass "
                "a larger first chunk."
            )
        init_resp = estimator._check_init_responsibilities(X)
    if stale:
        rng = check_random_state(estimator.random_state)
        stream = _Stream(estimator, templates, kinds, rng, X.shape[1], classes)
        # Weights in row units, as fit's (see BaseMixtureOfExperts._fit): the
        # unit of the stream's first chunk holds for the chunks after it, so
        # the chunks keep their relative weights.
        stream.weight_unit = float(w.sum()) / int(np.count_nonzero(w > 0))
    w = w / stream.weight_unit
    m = stream.model
    t = stream.targets(y)
    if not fitted:
        m.x_scaler.update(X, w)
        if not estimator._classifier:
            m.y_scaler.update(y[:, None], w)
        # The initialisation may run EM on the chunk (init_params='small_em').
        lik = estimator._likelihood(y, w)
        resp = estimator._initial_responsibilities(
            X, y, w, lik, init_resp, stream.rng, proxy_experts="partial" in kinds
        )
        stream.init_from_resp(X, y, w, resp)
    elif stale:
        # Continue from a fitted model (EM, L-BFGS or minibatch fit).
        m.x_scaler.update(X, w)
        if not estimator._classifier:
            m.y_scaler.update(y[:, None], w)
        m.set_from_state(copy.deepcopy(estimator._get_state()), classes)
        Xs, ts = m.standardize(X, t)
        stream.seen = float(w.sum())
        stream.resp_mass = estimator.expert_shares_ * stream.seen
        if not estimator._classifier:
            stream.exact_variances(X, Xs, ts, y, w)
    else:
        m.update_scalers(X, y, w)
        stream.seen += float(w.sum())
    Xs, ts = m.standardize(X, t)
    with warnings.catch_warnings():
        # An expert's partial_fit makes one pass per call by design.
        warnings.simplefilter("ignore", ConvergenceWarning)
        chunk_loglik = stream.one_pass(X, Xs, ts, y, w, stream.seen)
    stream.n_calls += 1
    gate_pen = m.penalty(m.W, m.log_var_std())[3]
    bound = (chunk_loglik - gate_pen) / float(w.sum())
    stream.history.append(bound)
    state = stream.write(stream.n_calls, False)
    previous = getattr(estimator, "target_range_", None) if fitted else None
    estimator._set_state(state)
    estimator._record_target_range(X, y, w, previous)
    estimator._stream = stream
    estimator.n_iter_ = stream.n_calls
    estimator._n_iter_unit = "partial_fit calls"
    estimator.converged_ = False
    estimator.lower_bound_ = bound
    estimator.lower_bounds_ = np.asarray(stream.history)
    estimator.log_likelihood_ = chunk_loglik * stream.weight_unit
    estimator.expert_shares_ = stream.resp_mass / stream.resp_mass.sum()
    estimator.reinitialized_experts_ = []
    estimator.dead_experts_ = estimator._dead_experts(
        stream.resp_mass, estimator.experts_
    )
    if estimator.verbose:
        print(
            f"partial_fit call {stream.n_calls}: {X.shape[0]} rows, progressive "
            f"objective {bound:.6f} (log-likelihood {chunk_loglik:.6g})"
        )
    return estimator
