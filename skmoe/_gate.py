"""The softmax gate: multinomial logistic regression fitted on soft targets."""

import contextlib
import contextvars
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
)

from ._array_api import (
    _DEVICE_SUPPORT,
    _argmax_labels,
    _check_fitted_namespace,
    _float_dtype,
    _namespace,
    _take,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._gate_solvers import (
    NEWTON_MAX_PARAMETERS,
    _balance_penalty,
    _lbfgs_soft_targets,
    _log_softmax,
    _newton,
    _newton_numpy,
    _newton_soft_targets,
)
from ._kernels import linear_log_softmax
from ._validation import _check_weights, _validate_data

__all__ = ["SoftmaxGate"]


# Set by the EM driver around its gate fits (see _em_gate_fits): whether a
# fit is an EM M-step, and the most Newton steps a warm-started one takes.
_IN_EM = contextvars.ContextVar("skmoe_in_em", default=False)
_EM_NEWTON_CAP = contextvars.ContextVar("skmoe_em_newton_cap", default=None)

#: Newton steps of a warm-started gate fit in an EM M-step where the
#: experts' M-step is exact and cheap (see ``_em_fused.gate_steps``).
EM_NEWTON_STEPS = 1


@contextlib.contextmanager
def _em_gate_fits(newton_steps=None):
    """Gate fits inside this block are EM's M-steps.

    - With ``newton_steps``, a warm-started gate fitted by Newton's method
      takes at most that many (backtracked) steps: generalised EM (an ECM
      step). The EM driver asks for it where the experts' M-step is exact and
      cheap (``_em_fused.gate_steps``): there EM's own linear convergence sets
      the pace, and solving the gate to its ``tol`` at every M-step costs
      passes over the data and buys no iterations
      (``benchmarks/bench_fused.py``). A fresh gate, L-BFGS, and every M-step
      of other experts, are solved to ``tol``.
    - They raise no ConvergenceWarning: stopping at a cap is normal there;
      EM reports its own convergence.

    Context variables, not a warnings filter on the message: they are local
    to the thread, and do not depend on the text.
    """
    tokens = _IN_EM.set(True), _EM_NEWTON_CAP.set(newton_steps)
    try:
        yield
    finally:
        _IN_EM.reset(tokens[0])
        _EM_NEWTON_CAP.reset(tokens[1])


def _weighted_standardization(X, sample_weight):
    """Weighted mean and scale of each column (scale 1 for constant columns).

    Weighted so that integer weights and repeated rows give the same gate.
    Any array namespace.
    """
    xp = _xp_of(X)
    wsum = xp.sum(sample_weight)
    mean = sample_weight @ X / wsum
    var = sample_weight @ (X - mean) ** 2 / wsum
    scale = xp.sqrt(var)
    return mean, xp.where(_constant_columns(mean, scale), xp.ones_like(scale), scale)


def _constant_columns(mean, scale):
    """Which columns are constant: spread at rounding level of their mean.

    Relative to the mean only, never to an absolute number: a feature in
    tiny units (a standard deviation of 1e-15, say) is as informative as the
    same feature in large ones and must be standardised like it. A constant
    column carries no information and gets scale 1, which keeps it harmless.
    Any array namespace.
    """
    return scale <= 1e-12 * _xp_of(mean).abs(mean)


def _gate_inputs(X, sample_weight, standardize, fit_intercept):
    """``(Xs, mean, scale)``: the features a gate is fitted on, standardised
    by their weighted moments or left as they are (mean 0, scale 1). Any
    array namespace.

    Without an intercept the features are scaled but not centred (mean 0):
    a gate fitted on centred features without an intercept would have one
    on the original scale (``-mean @ coef_``), as scikit-learn's linear
    models avoid by centring only when they fit an intercept.
    """
    if standardize:
        mean, scale = _weighted_standardization(X, sample_weight)
        if not fit_intercept:
            mean = _xp_of(X).zeros_like(mean)
        return (X - mean) / scale, mean, scale
    xp = _xp_of(X)
    return X, xp.zeros_like(X[0, :]), xp.ones_like(X[0, :])


class _GateInputs:
    """The rows a gate is fitted on, prepared once for every fit on them.

    The EM driver refits the gate on the same ``X`` and ``sample_weight`` at
    every iteration (only the targets change): the weighted standardisation
    and the features-major copy the numba loss reads are computed once per
    run instead of once per iteration (about 8% of a fit at 10**5 rows).

    Attributes: ``Xs`` (the standardised features, see :func:`_gate_inputs`),
    ``mean`` and ``scale`` (to map coefficients back), ``sample_weight``,
    and ``XT`` (NumPy only, computed on first use).
    """

    def __init__(self, Xs, mean, scale, sample_weight):
        self.Xs, self.mean, self.scale = Xs, mean, scale
        self.sample_weight = sample_weight
        self._XT = self._given = None

    @classmethod
    def prepare(cls, X, sample_weight, standardize, fit_intercept):
        return cls(
            *_gate_inputs(X, sample_weight, standardize, fit_intercept), sample_weight
        )

    @property
    def XT(self):
        # Features-major: the loss kernel vectorises over rows.
        if self._XT is None:
            self._XT = np.ascontiguousarray(self.Xs.T, dtype=np.float64)
        return self._XT

    def as_given(self):
        """The same rows as inputs to a gate that does not standardise
        (``Xs`` as they are: mean 0, scale 1), made once."""
        if self._given is None:
            self._given = _GateInputs.prepare(self.Xs, self.sample_weight, False, True)
        return self._given


def _original_scale(W, b, mean, scale):
    """Coefficients and intercepts fitted on ``(X - mean) / scale``, mapped
    back to ``X``."""
    coef = W / scale[:, None]
    return coef, b - mean @ coef


def _standardised(coef, inputs):
    """Raw-scale ``(W, b)`` mapped onto ``inputs``' standardised scale (the
    inverse of :func:`_original_scale`)."""
    W, b = coef
    return W * inputs.scale[:, None], b + inputs.mean @ W


class _BaseGate(BaseEstimator, metaclass=ABCMeta):
    """What a mixture's estimators ask of their gate, and nothing more.

    The EM driver, the estimators' gate hooks and BIC/AIC use a gate only
    through this interface, so a gate's parameters are its own business:
    :class:`SoftmaxGate` (the flat gate) and
    :class:`~skmoe._tree_gate.TreeGate` (a tree of them) implement it.

    - ``fit(X, targets, sample_weight=None, check_input=True)``: fit on soft
      targets, one probability vector over the experts per row (EM's
      responsibilities). ``_prepare(X, sample_weight)`` then
      ``_fit_prepared(inputs, targets)`` is the same fit in two steps, so
      that EM prepares the rows (standardises them) once per run.
    - ``predict_log_proba(X, check_input=True)``: (n_samples, n_experts) log
      gate probabilities.
    - ``penalty_``: the fitted gate's penalty, subtracted from EM's
      objective.
    - ``_n_parameters()``: the number of free (identifiable) parameters, for
      BIC and AIC.
    - ``_reorder_experts(order)``: expert ``order[k]`` becomes expert ``k``
      (the canonical order of a flat mixture); in place, returns the gate.
    - ``apply(X)``: the expert each row is routed to by ``routing='hard'``.
    - Optional, ``_penalty_C()`` and ``_set_penalty_C(C)``: the inverse
      penalty strength that EM's penalty continuation reads and lowers for
      its first phase. A gate without them (a tree) is fitted with its own
      penalty throughout.
    """

    @abstractmethod
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit on soft targets (see the class docstring)."""

    @abstractmethod
    def _prepare(self, X, sample_weight):
        """The prepared rows (a :class:`_GateInputs`) for :meth:`_fit_prepared`."""

    @abstractmethod
    def _fit_prepared(self, inputs, targets):
        """``fit(X, targets, sample_weight, check_input=False)`` on the rows
        :meth:`_prepare` made."""

    @abstractmethod
    def predict_log_proba(self, X, check_input=True):
        """Log gate probabilities, (n_samples, n_experts)."""

    @abstractmethod
    def apply(self, X):
        """Index of the expert each row is routed to by hard routing."""

    @abstractmethod
    def _n_parameters(self):
        """Number of free parameters of the fitted gate."""

    @abstractmethod
    def _reorder_experts(self, order):
        """Make expert ``order[k]`` expert ``k``, in place; return the gate."""


class SoftmaxGate(ClassifierMixin, _BaseGate):
    """Multinomial logistic regression that also accepts soft targets.

    The gate of a mixture of experts: ``g(x) = softmax(x @ coef_ + intercept_)``.
    It is fitted by Newton's method or L-BFGS (see ``solver``) on the L2-penalised
    cross-entropy between the targets and the predicted probabilities. Targets
    are either class labels (as for :class:`~sklearn.linear_model.LogisticRegression`)
    or a matrix of *soft* targets, one probability vector per row (the
    responsibilities of an EM M-step).

    With array-API inputs (CuPy arrays under
    ``sklearn.config_context(array_api_dispatch=True)``) the fit runs on their
    device by Newton's method (exact Hessian, a few large matrix products per
    step) and the coefficients live there; it minimises the same objective.

    Parameters
    ----------
    C : float, default=1e4
        Inverse of the L2 penalty strength, as in ``LogisticRegression``: the
        objective is ``C * sum_i w_i CE_i + ||coef||^2 / 2``, on standardised
        features (see ``standardize``). The default is a very weak penalty:
        a Gaussian prior of standard deviation 100 on each standardised
        coefficient, enough to give every fit a finite optimum (without a
        penalty, targets that separate perfectly, a gate that tends to a hard
        step, have none, and the fit creeps towards the step, iteration after
        iteration), and too weak to move a mixture's optimum visibly: with
        it, a mixture reaches the maximum-likelihood optima of R's flexmix to
        within 0.02 nats on the motorcycle data. ``np.inf`` is no penalty; a
        smaller ``C`` (100, or 1 for strong smoothing) trades likelihood for
        smoother transitions between the experts, which can pay on small
        data with many experts and features (see the user guide's "The
        gate").
    fit_intercept : bool, default=True
        Whether to fit an intercept per class (never penalised). With
        ``False`` the logits are ``X @ coef_`` and ``intercept_`` is zero.
    standardize : bool, default=True
        Fit on internally standardised features (weighted mean 0, variance 1;
        only scaled, not centred, when ``fit_intercept=False``) and map the
        coefficients back to the original scale. This makes the
        fit independent of the scale of the features (a calendar year does not
        slow the solver down) and applies the penalty on the standardised
        scale. ``coef_`` and ``intercept_`` always refer to the original
        features.
    max_iter : int, default=200
        Maximum number of L-BFGS (or Newton) iterations per call to ``fit``.
    tol : float, default=1e-6
        The solver stops when the largest gradient component of the
        objective divided by the total sample weight is below ``tol``.
    warm_start : bool, default=False
        Start the solver from the previous ``coef_`` and ``intercept_`` (the
        EM driver does this between iterations).
    solver : {"auto", "newton", "lbfgs"}, default="auto"
        How NumPy data are fitted. ``"newton"``: damped Newton's method with
        the exact Hessian, built with the gradient in one pass over the rows
        (a backtracking line search makes every step lower the objective);
        from a warm start (an EM M-step) one or two steps usually suffice.
        ``"lbfgs"``: L-BFGS with the analytic gradient, whose memory and
        cost per step do not grow with the square of the number of
        parameters. ``"auto"``: Newton's method when the gate has at most
        64 free parameters ``(n_features + 1) * (n_classes - 1)``, L-BFGS
        beyond. Both minimise the same objective to ``tol``. Device
        (array-API) data are always fitted by Newton's method.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``arange(n_classes)`` when fitted on soft targets.
    coef_ : ndarray of shape (n_features_in_, n_classes)
        Gate weights on the original feature scale.
    intercept_ : ndarray of shape (n_classes,)
        Gate intercepts on the original feature scale.
    n_iter_ : int
        Solver iterations (L-BFGS or Newton steps) of the last fit.
    converged_ : bool
        Whether the last fit met ``tol`` within ``max_iter``.
    objective_ : float
        Final value of the penalised objective divided by the total weight.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.

    Notes
    -----
    The coefficients are those of a full (over-parametrised) softmax with one
    column per class, as in scikit-learn's multinomial ``LogisticRegression``;
    the penalty makes them unique. With ``standardize=False`` the fit equals a
    ``LogisticRegression(C=C)`` fitted on the rows repeated once per class with
    ``sample_weight * targets[:, k]`` as weights.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe import SoftmaxGate
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> soft = np.array([[0.9, 0.1], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]])
    >>> gate = SoftmaxGate().fit(X, soft)
    >>> gate.predict_proba(X).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, np.inf, closed="right")],
        "fit_intercept": ["boolean"],
        "standardize": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "solver": [StrOptions({"auto", "newton", "lbfgs"})],
    }

    def __init__(
        self,
        C=1e4,
        *,
        fit_intercept=True,
        standardize=True,
        max_iter=200,
        tol=1e-6,
        warm_start=False,
        solver="auto",
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.solver = solver

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the gate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or soft targets: non-negative rows that sum to one (a
            single float column of ones is the trivial one-class soft target).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; a soft-target row ``t_i`` with weight ``w_i``
            counts as ``w_i * t_ik`` observations of class ``k``.
        check_input : bool, default=True
            Validate the inputs. ``False`` skips every check, as the
            ``check_input`` of scikit-learn's trees does: only for callers
            that have validated them (the EM driver, at every iteration):
            ``X`` a finite float64 ndarray with the fitted number of columns,
            ``y`` a float64 ndarray of soft targets whose rows sum to one,
            ``sample_weight`` a float64 ndarray.

        Returns
        -------
        self : SoftmaxGate
            The fitted gate.
        """
        if not check_input:
            return self._fit_prepared(self._prepare(X, sample_weight), y)
        xp, device = _namespace(X)
        if hasattr(y, "iloc"):
            y = y.to_numpy()
        elif not hasattr(y, "__array_namespace__"):
            y = np.asarray(y)
        if xp is not np:
            y = _to_namespace(y, xp, device)
        yp = _xp_of(y)
        # A single column of ones is the soft target of a one-expert mixture,
        # not a column vector of labels.
        floating = (
            y.dtype.kind == "f"
            if isinstance(y, np.ndarray)
            else yp.isdtype(y.dtype, "real floating")
        )
        soft = y.ndim == 2 and (
            y.shape[1] > 1 or (floating and y.shape[0] > 0 and bool(yp.all(y == 1.0)))
        )
        if soft:
            X, targets = _validate_data(
                self, X, y, multi_output=True, y_numeric=True, dtype=_float_dtype(X)
            )
            targets = self._check_soft_targets(targets)
            classes = np.arange(targets.shape[1])
        else:
            X, y = _validate_data(self, X, y, dtype=_float_dtype(X))
            y = column_or_1d(_to_numpy(y), warn=True)
            check_classification_targets(y)
            classes, y_idx = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(
                    "SoftmaxGate needs samples of at least 2 classes in the data, "
                    f"but the data contain only one class: {classes[0]!r}."
                )
            targets = np.zeros((y_idx.size, classes.size))
            targets[np.arange(y_idx.size), y_idx] = 1.0
            targets = _to_namespace(targets, xp, device)
        sample_weight = _check_weights(sample_weight, X, X.dtype)
        return self._fit_validated(self._prepare(X, sample_weight), targets, classes)

    def _penalty_C(self):
        """The inverse penalty strength: what the EM driver's penalty
        continuation reads and sets (a flat gate's only)."""
        return self.C

    def _set_penalty_C(self, C):
        self.C = C
        return self

    def _set_balance_strength(self, strength):
        """Add a mixture's load-balancing penalty (``balance_strength``) to
        the fit's objective and to ``penalty_``; NumPy (L-BFGS) only."""
        self._balance_strength = float(strength)
        return self

    def _n_parameters(self):
        """Identifiable coefficients: adding one vector to every class's
        column leaves the softmax unchanged, so one column is free."""
        n_coef, n_classes = self.coef_.shape
        return (n_coef + (1 if self.fit_intercept else 0)) * (n_classes - 1)

    def _reorder_experts(self, order):
        """Make class (expert) ``order[k]`` class ``k``: permute the columns.

        For the canonical order of a mixture's experts, so ``classes_``,
        which are ``arange(K)`` after a fit on soft targets, stay as they are.
        """
        self.coef_ = _take(self.coef_, order, axis=1)
        self.intercept_ = _take(self.intercept_, order, axis=0)
        return self

    def _select_experts(self, indices):
        """Keep the classes (experts) ``indices``, in that order; in place.

        An index may repeat (an expert split in two). Each kept row's
        probabilities are the softmax of the kept logits: removing experts
        renormalises the gate over the others.
        """
        self._reorder_experts(np.asarray(indices))
        self.classes_ = np.arange(len(indices))
        return self

    def _prepare(self, X, sample_weight):
        """The :class:`_GateInputs` of validated ``X`` and ``sample_weight``
        (``fit`` with ``check_input=False`` describes them), for
        :meth:`_fit_prepared`."""
        return _GateInputs.prepare(
            X, sample_weight, self.standardize, self.fit_intercept
        )

    def _fit_prepared(self, inputs, targets):
        """``fit(X, targets, sample_weight, check_input=False)`` on inputs
        from :meth:`_prepare` (the EM driver prepares them once per run)."""
        if not hasattr(self, "n_features_in_"):
            self.n_features_in_ = inputs.Xs.shape[1]
        return self._fit_validated(inputs, targets, np.arange(targets.shape[1]))

    def _fit_validated(self, inputs, targets, classes):
        reuse = (
            self.warm_start
            and hasattr(self, "coef_")
            and self.coef_.shape == (inputs.Xs.shape[1], classes.size)
        )
        init = (self.coef_, self.intercept_) if reuse else None
        self.classes_ = classes
        self._fit_soft_targets(inputs, targets, init)
        return self

    @staticmethod
    def _check_soft_targets(targets):
        xp = _xp_of(targets)
        if bool(xp.any(targets < 0)):
            raise ValueError(
                "Soft targets must be non-negative probabilities; got negative "
                "entries. Pass class labels as a 1-D array instead."
            )
        row_sums = xp.sum(targets, axis=1)
        low, high = float(xp.min(row_sums)), float(xp.max(row_sums))
        if abs(low - 1.0) > 1e-4 or abs(high - 1.0) > 1e-4:
            raise ValueError(
                "Each row of soft targets must sum to 1 (a probability vector); "
                f"row sums range from {low:.6g} to {high:.6g}."
            )
        return targets / row_sums[:, None]

    def _uses_newton(self, n_features, n_classes):
        """Whether a NumPy fit uses Newton's method (see ``solver``)."""
        if self.solver == "auto":
            return (n_features + 1) * (n_classes - 1) <= NEWTON_MAX_PARAMETERS
        return self.solver == "newton"

    def _fit_soft_targets(self, inputs, targets, init):
        # Inputs that bring their own solver (the Dask path's, whose loss is
        # a pass over the blocks) hold NumPy moments only.
        own = getattr(inputs, "soft_target_solver", None)
        if init is not None:
            init = _standardised(init, inputs)
        l2 = self._l2()
        balance = getattr(self, "_balance_strength", 0.0)
        # NumPy: Newton's method or L-BFGS on the numba kernels (only the
        # L-BFGS objective carries the balance penalty, which couples the
        # rows through the average gate); a device: Newton's method there;
        # the Dask path: its own solvers, the same two, over the blocks.
        newton = self._uses_newton(inputs.Xs.shape[1], targets.shape[1])
        max_iter = self.max_iter
        cap = _EM_NEWTON_CAP.get()
        if newton and init is not None and cap is not None:
            max_iter = min(max_iter, cap)
        if own is not None:
            solve, solver = own, "Newton solver" if newton else "L-BFGS"
        elif _xp_of(inputs.Xs) is not np:
            solve, solver = _newton_soft_targets, "Newton solver"
        elif newton and not balance:
            solve, solver = _newton_numpy, "Newton solver"
        else:
            solve, solver = _lbfgs_soft_targets, "L-BFGS"
        W, b, n_iter, status, objective = solve(
            inputs,
            targets,
            l2,
            self.fit_intercept,
            init,
            {
                "max_iter": max_iter,
                "tol": self.tol,
                "balance": balance,
                "newton": newton,
            },
        )
        self._set_solution(inputs, W, b, n_iter, status, objective)
        if balance:
            self.penalty_ += _balance_penalty(
                inputs.Xs @ W + b, inputs.sample_weight, balance
            )
        if status == 1 and not _IN_EM.get():
            warnings.warn(
                f"SoftmaxGate's {solver} did not converge in max_iter="
                f"{self.max_iter} iterations: increase max_iter, or decrease C.",
                ConvergenceWarning,
                # _fit_soft_targets < _fit_validated < fit < _fit_context < caller
                stacklevel=5,
            )

    def _l2(self):
        """The objective's L2 penalty on the standardised coefficients."""
        return 0.0 if np.isinf(self.C) else 1.0 / self.C

    def _set_solution(self, inputs, W, b, n_iter, status, objective):
        """The fitted attributes from a solution ``(W, b)`` on the
        standardised rows ``inputs`` (the balance penalty aside)."""
        xp = _xp_of(W)
        self.coef_, self.intercept_ = _original_scale(W, b, inputs.mean, inputs.scale)
        self.n_iter_ = int(n_iter)
        self.converged_ = status == 0
        self.objective_ = float(objective)
        self.penalty_ = 0.5 * self._l2() * float(xp.sum(W * W))

    def _newton_steps(self, inputs, loss, first, max_iter):
        """At most ``max_iter`` Newton steps on ``loss`` (a
        :class:`~skmoe._gate_solvers._SoftTargetLoss` on ``inputs``' rows)
        from the fitted coefficients, whose value, gradient and Hessian
        ``first`` the caller has: the gate's M-step in generalised EM (the
        fused EM pass, ``_em_fused``). No step raises the objective."""
        W, b, n_iter, status, objective = _newton(
            loss,
            self._standardised_coef(inputs),
            {"max_iter": max_iter, "tol": self.tol},
            first,
        )
        self._set_solution(inputs, W, b, n_iter, status, objective)
        return self

    def _standardised_coef(self, inputs):
        """The fitted ``(coef_, intercept_)`` on ``inputs``' standardised scale."""
        return _standardised((self.coef_, self.intercept_), inputs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = _DEVICE_SUPPORT  # scikit-learn >= 1.9
        return tags

    def decision_function(self, X):
        """Gate logits ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        logits : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the 1-D difference of the two logits, as
            scikit-learn classifiers return.
        """
        logits = self._logits(X, "decision_function")
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def _check_X(self, X, method):
        check_is_fitted(self)
        _check_fitted_namespace(X, self, attribute="coef_", method=method)
        return _validate_data(self, X, reset=False, dtype=_float_dtype(X))

    def _logits(self, X, method):
        X = self._check_X(X, method)
        return X @ self.coef_ + self.intercept_

    def predict_log_proba(self, X, check_input=True):
        """Log of the gate probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        check_input : bool, default=True
            Validate ``X``; ``False`` (for callers that have: ``X`` a finite
            float64 ndarray with the fitted number of columns) skips it.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), float64
        """
        if check_input:
            X = self._check_X(X, "predict_log_proba")
        if not isinstance(X, np.ndarray):
            return _log_softmax(X @ self.coef_ + self.intercept_)
        return linear_log_softmax(X, self.coef_, self.intercept_)

    def predict_proba(self, X):
        """Gate probabilities (rows sum to one).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._check_X(X, "predict_proba")
        log_proba = self.predict_log_proba(X, check_input=False)
        return _xp_of(log_proba).exp(log_proba)

    def apply(self, X):
        """Index of the most probable class: the expert ``routing='hard'``
        sends each row to.

        The argmax of :meth:`predict_proba`, not of the logits, which can
        differ where probabilities round to equal values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        indices : ndarray of shape (n_samples,)
            Column of ``coef_`` (class index) of each row, in
            ``[0, n_classes)``.
        """
        X = self._check_X(X, "apply")
        # Index bookkeeping: on the host, also for device data.
        xp, device = _namespace(X)
        proba = np.exp(_to_numpy(self.predict_log_proba(X, check_input=False)))
        return _to_namespace(np.argmax(proba, axis=1), xp, device)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        logits = self._logits(X, "predict")  # checks that it is fitted
        return _argmax_labels(self.classes_, logits, axis=1)
