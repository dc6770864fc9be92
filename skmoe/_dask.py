"""EM on Dask collections: every pass over the data is a Dask computation.

Imported only when ``fit`` meets a Dask array or DataFrame (``_base._fit``
dispatches here). For a flat regressor with ``LinearRegression`` or
``Ridge`` experts and Gaussian noise, or a flat classifier with
``LogisticRegression`` experts, and the softmax gate, EM is a map-reduce:

* the E-step is row-wise: each block computes its responsibilities from the
  current model (the model travels to the blocks, never the data to the
  client);
* the experts' M-step needs, per expert, the weighted moments of
  ``[x, 1, y]`` (the normal equations and the weighted residual sum of
  squares for the noise variance): one ``(d + 2) x (d + 2)`` matrix per
  expert and block, summed on the client, solved by the in-memory path's
  own solver (``_experts._linear_experts_from_moments``);
* a logistic expert's M-step is scikit-learn's own L-BFGS on its own
  objective (:func:`_fit_logistic_expert`), each evaluation a pass;
* the gate's M-step is the in-memory path's L-BFGS on the same objective,
  each evaluation of the loss and its gradient a pass over the blocks
  (the numba kernel on each block, the sums on the client).

One pass computes the objective, the experts' masses and the next
M-step's moments together, so an EM iteration costs two passes plus one per
gate evaluation. Responsibilities are recomputed from the model in every
pass rather than stored: nothing of size ``n`` outlives a pass, so data
read from disk (``dask.array.from_zarr``) are fitted with a few blocks in
memory at a time.

The start is fitted in memory on a random sample of the rows
(``_SAMPLE_ROWS``) by the ordinary ``fit``, restarts (``n_init``) and
initialisation included; the best start then continues by EM on all the
rows. ``warm_start=True`` continues from the fitted model instead.
"""

import copy
import warnings

import dask
import dask.array as da
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.utils import check_random_state

from . import _gate
from ._em import _stops
from ._experts import (
    _check_expert_templates,
    _linear_experts_from_moments,
    _residual_squares,
)
from ._gate import SoftmaxGate, _constant_columns, _em_gate_fits
from ._gate_solvers import _lbfgs, _newton, _SoftTargetLoss
from ._kernels import e_step, softmax_cross_entropy, softmax_cross_entropy_hessian
from ._likelihood import (
    CategoricalLikelihood,
    GaussianLikelihood,
    _rounding_variance,
)
from ._logistic import _is_plain_logistic, _logistic_l2
from ._progress import _RunProgress
from ._run import _Run, _snapshot
from ._validation import _MAX_MAGNITUDE

#: The rows of the in-memory sample on which the start is fitted.
_SAMPLE_ROWS = 20_000

#: Experts whose M-step is a sum over rows (weighted least squares).
_SUPPORTED_EXPERTS = (LinearRegression, Ridge)


def _check_supported(estimator, templates):
    """Refuse what the Dask path does not fit, before any work."""
    from ._moe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor

    name = type(estimator).__name__
    supported = (
        "the Dask path fits MixtureOfExpertsRegressor(likelihood='gaussian', "
        "solver='em') with LinearRegression or Ridge experts (solver 'auto' or "
        "'cholesky', positive=False), and MixtureOfExpertsClassifier("
        "solver='em') with LogisticRegression experts (any solver but 'liblinear', "
        "L2 penalty or none, no class_weight), with the SoftmaxGate"
    )
    if type(estimator) not in (MixtureOfExpertsRegressor, MixtureOfExpertsClassifier):
        raise TypeError(
            f"{name} does not fit Dask collections: {supported}. Compute "
            "the data into memory (X.compute()) to fit this estimator."
        )
    regressor = type(estimator) is MixtureOfExpertsRegressor
    if estimator.solver != "em" or (regressor and estimator.likelihood != "gaussian"):
        family = f"likelihood={estimator.likelihood!r}, " if regressor else ""
        raise ValueError(f"{family}solver={estimator.solver!r}: {supported}.")
    for expert in templates:
        if regressor:
            ok = type(expert) in _SUPPORTED_EXPERTS and not expert.positive
            if type(expert) is Ridge:
                ok = ok and np.ndim(expert.alpha) == 0
                ok = ok and expert.solver in ("auto", "cholesky")
        else:
            ok = _is_plain_logistic(expert)
        if not ok:
            raise TypeError(
                f"The expert {expert!r} is not fitted by sums over rows: "
                f"{supported}. Trees, boosting and other experts need their "
                "rows in memory: compute the data (X.compute()) and fit in memory."
            )
    if estimator.gate is not None and type(estimator.gate) is not SoftmaxGate:
        raise TypeError(f"gate={estimator.gate!r}: {supported}.")
    unsupported = [
        f"{param}={getattr(estimator, param)!r}"
        for param, allowed in (
            ("fit_top_k", (None,)),
            ("balance_strength", (0,)),
            # 'auto' is plain EM where SQUAREM is not sound, here included.
            ("acceleration", (None, "auto")),
        )
        if getattr(estimator, param, allowed[0]) not in allowed
    ]
    if unsupported:
        raise ValueError(
            f"{', '.join(unsupported)}: not available on Dask inputs (the "
            "Dask path runs plain EM with its own block-wise M-steps); use "
            "the defaults there, or fit in memory."
        )
    if not isinstance(estimator.init_params, str):
        raise ValueError(
            "init_params given as responsibilities is not supported on Dask "
            "inputs (an n x K array in memory): use one of the named starts, "
            "which run on an in-memory sample."
        )


def _to_dask_array(data, name, chunks=None):
    """A Dask array of ``data`` (a Dask array, DataFrame or Series, or an
    in-memory array), rows in the blocks ``chunks`` when given."""
    if hasattr(data, "to_dask_array"):  # dask DataFrame or Series
        data = data.to_dask_array(lengths=True)
    elif not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=-1)
    if data.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric on Dask inputs; got dtype {data.dtype}. "
            "Encode categorical columns first."
        )
    data = data.astype(np.float64)
    if chunks is not None:
        if data.ndim == 2 and data.shape[1] == 1 and name != "X":
            data = data[:, 0]
        if data.ndim == 2 and name == "y":
            raise ValueError(
                f"y must be 1-D on Dask inputs; got shape {data.shape}. A 2-D "
                "target (several targets) is fitted in memory: compute X and "
                "y into NumPy arrays first."
            )
        if data.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {data.shape}.")
        if data.shape[0] != sum(chunks):
            raise ValueError(
                f"X has {sum(chunks)} rows but {name} has {data.shape[0]}: "
                "they must match."
            )
        data = data.rechunk((chunks,))
    return data


def _feature_names(X):
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


class _Blocks:
    """The aligned row blocks of ``X``, ``y`` and the weights, and the
    passes over them (each a Dask computation, summed on the client)."""

    def __init__(self, X, y, w):
        self.X, self.y, self.w = X, y, w
        self.n, self.d = X.shape
        self._parts = list(
            zip(
                X.to_delayed().ravel(),
                y.to_delayed().ravel(),
                w.to_delayed().ravel(),
                strict=True,
            )
        )

    def reduce(self, func, *args):
        """``sum`` over blocks of ``func(X_b, y_b, w_b, *args)`` (a tuple of
        arrays or numbers, summed element-wise)."""
        shared = [dask.delayed(a) if _is_large(a) else a for a in args]
        tasks = [dask.delayed(func)(x, y, w, *shared) for x, y, w in self._parts]
        results = dask.compute(*tasks)
        return tuple(_total(parts) for parts in zip(*results, strict=True))


def _total(parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _is_large(obj):
    # Models go to the graph once, not once per block.
    return isinstance(obj, dict)


def _check_block(X, y, w):
    """Per block: the counts and sums that validate the data and scale them
    (the largest magnitude as a one-item list: lists add up to all of them).
    Class labels (not floats) are checked by the classes they hold."""
    numeric = y.dtype.kind == "f"
    bad = [
        np.count_nonzero(~np.isfinite(X)),
        np.count_nonzero(~np.isfinite(y)) if numeric else 0,
        np.count_nonzero(~np.isfinite(w) | (w < 0)),
    ]
    big = float(np.abs(X).max(initial=0.0))
    if numeric:
        big = max(big, float(np.abs(y).max(initial=0.0)))
    return (
        np.array(bad, dtype=np.int64),
        [big],
        int(np.count_nonzero(w > 0)),
        np.array([w.sum(), w @ y if numeric else 0.0]),
        w @ X,
    )


def _centred_block(X, y, w, x_mean, y_mean):
    """Weighted sums of squares about the means (of ``y``: floats only)."""
    sy = w @ (y - y_mean) ** 2 if y.dtype.kind == "f" else 0.0
    return (sy, w @ (X - x_mean) ** 2)


def _e_step_block(state, lik, X, y):
    log_lik = lik.log_likelihood(state, X, y)
    log_gate = state["gate"].predict_log_proba(X, check_input=False)
    return e_step(log_gate, log_lik)


def _em_block(X, y, w, state, lik, x_shift, y_shift):
    """Under ``state``: the weighted log-likelihood, each expert's mass and
    its weighted moments of ``[x, 1, y]`` about ``(x_shift, y_shift)``
    (for the next M-step)."""
    resp, log_prob = _e_step_block(state, lik, X, y)
    hw = resp * w[:, None]
    Z = np.column_stack([X - x_shift, np.ones(X.shape[0]), y - y_shift])
    moments = np.stack([(Z * hw[:, k : k + 1]).T @ Z for k in range(hw.shape[1])])
    return float(w @ log_prob), w @ resp, moments


def _gate_block(X, y, w, state, lik, mean, scale, W, b, hessian=False):
    """The gate's soft-target loss and gradient (and Hessian) on one block,
    the targets the responsibilities under ``state``."""
    resp, _ = _e_step_block(state, lik, X, y)
    XT = np.ascontiguousarray(((X - mean) / scale).T)
    weighted_T = np.ascontiguousarray(resp.T * w)
    kernel = softmax_cross_entropy_hessian if hessian else softmax_cross_entropy
    return kernel(XT, W, b, weighted_T, weighted_T.sum(axis=0))


def _summary_block(X, y, w, state, lik):
    """Under ``state``: the experts' masses and the range of the targets and
    the fitted values (``target_range_``) over the rows of positive weight."""
    resp, _ = _e_step_block(state, lik, X, y)
    log_gate = state["gate"].predict_log_proba(X, check_input=False)
    preds = np.column_stack([e.predict(X) for e in state["experts"]])
    fitted = np.sum(np.exp(log_gate) * preds, axis=1)
    kept = w > 0
    values = np.concatenate([y[kept], fitted[kept]])
    # One-item lists: summed, they list every block's.
    return w @ resp, [values.min(initial=np.inf)], [values.max(initial=-np.inf)]


class _DaskGateInputs:
    """What the gate's fit reads (``_GateInputs``'s attributes), for a gate
    whose loss is a pass over the blocks: the standardisation's moments,
    and ``soft_target_solver``, which ``SoftmaxGate._fit_soft_targets``
    calls in place of its own. ``source``: the model whose
    responsibilities are the targets."""

    def __init__(self, blocks, lik, mean, scale, wsum):
        self.blocks, self.lik = blocks, lik
        self.mean, self.scale, self.wsum = mean, scale, wsum
        self.Xs = _Shape((blocks.n, blocks.d))
        self.sample_weight = None
        self.source = None

    def soft_target_solver(self, inputs, targets, l2, fit_intercept, init, options):
        loss = _DaskSoftTargetLoss(self, l2, fit_intercept, targets.shape[1])
        return (_newton if options["newton"] else _lbfgs)(loss, init, options)


class _Shape:
    def __init__(self, shape):
        self.shape = shape


class _DaskSoftTargetLoss(_SoftTargetLoss):
    """:class:`_SoftTargetLoss` whose data term is a pass over the blocks."""

    def __init__(self, inputs, l2, fit_intercept, n_classes):
        self.inputs = inputs
        self.wsum = inputs.wsum
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_features = inputs.blocks.d
        self.n_classes = n_classes
        self.balance = 0.0  # refused on Dask inputs (_check_supported)

    def _data_loss_gradient(self, W, b):
        i = self.inputs
        return i.blocks.reduce(_gate_block, i.source, i.lik, i.mean, i.scale, W, b)

    def _data_loss_gradient_hessian(self, W, b):
        i = self.inputs
        return i.blocks.reduce(
            _gate_block, i.source, i.lik, i.mean, i.scale, W, b, True
        )


def _gate_standardization(blocks, gate, wsum, x_mean):
    """The gate's ``mean`` and ``scale`` (``_gate._gate_inputs``), by passes."""
    d = blocks.d
    if not gate.standardize:
        return np.zeros(d), np.ones(d)
    _, var = blocks.reduce(_centred_block, x_mean, 0.0)
    scale = np.sqrt(var / wsum)
    scale = np.where(_constant_columns(x_mean, scale), 1.0, scale)
    mean = x_mean if gate.fit_intercept else np.zeros(d)
    return mean, scale


def _experts_from_moments(templates, moments, mass, previous, floor, x_shift, y_shift):
    """The M-step of the linear experts and their noise variances from the
    summed moments of ``[x, 1, y]`` (see :func:`_em_block`)."""
    d = moments.shape[1] - 2
    experts, var = [], np.empty(len(templates))
    for k, template in enumerate(templates):
        M = moments[k]
        wsum = M[d, d]
        if template.fit_intercept:
            x_mean, y_mean = M[:d, d] / wsum, M[d + 1, d] / wsum
        else:
            x_mean, y_mean = np.zeros(d), 0.0
        gram = M[:d, :d] - wsum * np.outer(x_mean, x_mean)
        rhs = M[:d, d + 1] - wsum * x_mean * y_mean
        syy = M[d + 1, d + 1] - wsum * y_mean * y_mean
        if not wsum > 0:
            # No data: the previous fit and variance stay (generalised EM).
            experts.append(previous["experts"][k])
            var[k] = previous["noise_variance"][k]
            continue

        def lstsq(k, alpha, unit, gram=gram, rhs=rhs):
            # Only the moments are here: the minimum-norm solution of the
            # normal equations.
            reg = (gram + alpha * np.eye(d)) / unit[:, None] / unit[None, :]
            return np.linalg.lstsq(reg, rhs / unit, rcond=1e-12)[0] / unit

        (est,) = _linear_experts_from_moments(
            [template],
            [x_mean + (x_shift if template.fit_intercept else 0.0)],
            [y_mean + (y_shift if template.fit_intercept else 0.0)],
            gram[None],
            rhs[None],
            int(round(wsum)),
            lstsq,
        )
        coef = est.coef_
        rss = _residual_squares(coef, gram, rhs, syy)
        var[k] = (
            max(rss / mass[k], 0.0) if mass[k] > 0 else previous["noise_variance"][k]
        )
        experts.append(est)
    return experts, np.maximum(var, floor)


class _Gaussian:
    """The regressor's passes: moments of ``[x, 1, y]``, experts solved
    from them (see :func:`_em_block`)."""

    def __init__(self, blocks, lik, templates, x_shift, y_shift):
        self.blocks, self.lik, self.templates = blocks, lik, templates
        self.center = all(t.fit_intercept for t in templates)
        self.x_shift = x_shift if self.center else 0.0
        self.y_shift = y_shift if self.center else 0.0

    def stats(self, state):
        return self.blocks.reduce(
            _em_block, state, self.lik, self.x_shift, self.y_shift
        )

    def m_step(self, source, moments):
        return _experts_from_moments(
            self.templates,
            moments,
            _mass_of(moments),
            source,
            self.lik.variance_floor,
            self.x_shift,
            self.y_shift,
        )

    def summary(self, state):
        mass, lo, hi = self.blocks.reduce(_summary_block, state, self.lik)
        return mass, np.array([min(lo), max(hi)])


class _Logistic:
    """The classifier's passes: each LogisticRegression expert refitted by
    its own L-BFGS over the blocks (:func:`_fit_logistic_expert`)."""

    def __init__(self, blocks, lik, templates, min_resp):
        self.blocks, self.lik, self.templates = blocks, lik, templates
        self.min_resp = min_resp

    def stats(self, state):
        return self.blocks.reduce(_class_stats_block, state, self.lik, self.min_resp)

    def m_step(self, source, kept):
        experts = []
        for k, template in enumerate(self.templates):
            previous = source["experts"][k]
            if np.count_nonzero(kept[k] > 0) < 2:
                # No data, or one class (which the in-memory path fits with
                # the other rows at a tiny weight): the previous fit stays.
                experts.append(previous)
                continue
            experts.append(
                _fit_logistic_expert(
                    self.blocks,
                    self.lik,
                    source,
                    self.min_resp,
                    k,
                    template,
                    previous,
                    kept[k],
                )
            )
        return experts, None

    def summary(self, state):
        _, mass, _ = self.stats(state)
        return mass, None


def _labels(y, rows):
    """The class labels as a Dask array in the row blocks ``rows``."""
    if hasattr(y, "to_dask_array"):
        y = y.to_dask_array(lengths=True)
    elif not isinstance(y, da.Array):
        y = da.from_array(np.asarray(y), chunks=-1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D; got shape {y.shape}.")
    if y.shape[0] != sum(rows):
        raise ValueError(
            f"X has {sum(rows)} rows but y has {y.shape[0]}: they must match."
        )
    return y.rechunk((rows,))


def dask_fit(estimator, X, y, sample_weight):
    """``fit`` on Dask collections (see the module docstring)."""
    templates = _check_expert_templates(
        estimator.expert,
        estimator.n_experts,
        estimator._default_expert(),
        estimator._classifier,
    )
    _check_supported(estimator, templates)
    estimator._check_top_k()
    if estimator.gate is not None:
        estimator.gate._validate_params()
    warm = estimator.warm_start and hasattr(estimator, "experts_")
    classifier = estimator._classifier
    names = _feature_names(X)
    X = _to_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got {X.shape}.")
    X = X.rechunk({1: -1})
    rows = X.chunks[0]
    y = _labels(y, rows) if classifier else _to_dask_array(y, "y", rows)
    if sample_weight is None:
        w = da.ones(X.shape[0], chunks=(rows,))
    else:
        w = _to_dask_array(sample_weight, "sample_weight", rows)
    if warm and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"warm_start=True but X has {X.shape[1]} features and the fitted "
            f"model {estimator.n_features_in_}: continue with data of the same "
            "features, or set warm_start=False to fit a new model."
        )
    blocks = _Blocks(X, y, w)
    n, d = blocks.n, blocks.d

    # One pass: validation, the weights' unit, the moments of X and y.
    bad, big, n_positive, sums, wx = blocks.reduce(_check_block)
    big = max(big)
    for count, what in zip(bad, ("X", "y", "sample_weight"), strict=True):
        if count:
            extra = " or negative values" if what == "sample_weight" else ""
            raise ValueError(
                f"Input {what} contains NaN or infinity{extra} ({int(count)} entries)."
            )
    if big > _MAX_MAGNITUDE:
        raise ValueError(
            f"X or y holds values as large as {big:.3g}: their squares overflow "
            "float64. Rescale first, e.g. with sklearn.preprocessing.StandardScaler."
        )
    if not sums[0] > 0:
        raise ValueError(
            "The sample weights are all zero: give at least one row a positive weight."
        )
    estimator._check_enough_rows(n_positive, "samples with positive weight")
    if classifier:
        classes = np.unique(da.unique(y).compute())
        if classes.size < 2:
            raise ValueError(
                f"{type(estimator).__name__} needs samples of at least 2 classes, "
                f"but the data contain only one class: {classes.tolist()}."
            )
    # Weights in row units, as in memory (see _base._fit_unguarded).
    weight_unit = sums[0] / n_positive
    w = w / weight_unit
    blocks = _Blocks(X, y, w)
    wsum = sums[0] / weight_unit
    x_mean, y_mean = wx / sums[0], sums[1] / sums[0]

    # The start, in memory, on a random sample of the rows.
    rng = check_random_state(estimator.random_state)
    if n > _SAMPLE_ROWS:
        sample = np.sort(rng.choice(n, _SAMPLE_ROWS, replace=False))
        Xs, ys, ws = dask.compute(X[sample], y[sample], w[sample])
    else:
        Xs, ys, ws = dask.compute(X, y, w)
    if classifier:
        lik = CategoricalLikelihood(classes, None, estimator.min_responsibility)
        family = _Logistic(blocks, lik, templates, estimator.min_responsibility)
    else:
        var_y, _ = blocks.reduce(_centred_block, x_mean, y_mean)
        var_y = float(var_y) / wsum
        tiny = max(np.finfo(np.float64).eps * y_mean * y_mean, 1e-300)
        # The rounding term of the variance floor is taken on the sample (the
        # smallest gap between target values needs them all sorted).
        floor = max(
            estimator.variance_floor * max(var_y, tiny), _rounding_variance(ys, ws)
        )
        lik = GaussianLikelihood(floor, estimator.min_responsibility, isolate=False)
        family = _Gaussian(blocks, lik, templates, x_mean, y_mean)
    if warm:
        start = copy.deepcopy(estimator._get_state())
        if classifier and not np.array_equal(estimator.classes_, classes):
            raise ValueError(
                f"warm_start=True but y has the classes {classes.tolist()} and "
                f"the fitted model {estimator.classes_.tolist()}: set "
                "warm_start=False to fit a new model."
            )
    else:
        sub = clone(estimator).set_params(warm_start=False)
        with warnings.catch_warnings():
            # The sample's fit is a start: EM continues on all the rows.
            warnings.simplefilter("ignore", ConvergenceWarning)
            sub.fit(Xs, ys, ws)
        if classifier and not np.array_equal(sub.classes_, classes):
            raise ValueError(
                f"The random sample of {Xs.shape[0]} rows that the start is "
                f"fitted on lacks some of the classes {classes.tolist()}: "
                "each class needs more rows for the Dask path."
            )
        start = copy.deepcopy(sub._get_state())
    start["gate"].set_params(warm_start=True)

    mean, scale = _gate_standardization(blocks, start["gate"], wsum, x_mean)
    gate_inputs = _DaskGateInputs(blocks, lik, mean, scale, wsum)
    run = _em_loop(estimator, family, start, gate_inputs, wsum)
    summary = family.summary(run.state)
    estimator.n_features_in_ = d
    if names is not None:
        estimator.feature_names_in_ = names
    else:
        estimator.__dict__.pop("feature_names_in_", None)
    if classifier:
        estimator.classes_ = classes
    estimator._finish(
        run, np.empty((0, d)), None, None, lik, [run], weight_unit, summary=summary
    )
    return estimator


def _em_loop(estimator, family, start, gate_inputs, wsum):
    """EM from ``start`` over the blocks; mirrors ``_em._em_loop`` (without
    the re-initialisation of dead experts, which needs the rows sorted by
    their fit: dead experts stay, and ``fit`` reports them)."""
    tol, max_iter = estimator.tol, estimator.max_iter
    blocks = family.blocks
    source = start
    _, mass, extra = family.stats(source)
    history = []
    best, best_bound, best_iter, best_log_lik = _snapshot(start), -np.inf, 0, -np.inf
    converged, n_iter = False, 0
    n_experts = len(family.templates)
    progress = _RunProgress(estimator, 0, "Dask EM iteration")
    # The regressor's experts are linear Gaussian ones: their gate takes the
    # in-memory fit's capped steps and its last M-step polishes the gate
    # (see _em._em_loop and _em_fused.gate_steps).
    capped = None if estimator._classifier else _gate.EM_NEWTON_STEPS
    polish = False
    for n_iter in range(1, max_iter + 1):
        polishing, polish = polish, False
        experts, var = family.m_step(source, extra)
        state = {
            "experts": experts,
            "gate": copy.deepcopy(source["gate"]),
            "noise_variance": var,
        }
        gate_inputs.source = source
        with _em_gate_fits(None if polishing else capped):
            state["gate"]._fit_prepared(gate_inputs, _Shape((blocks.n, n_experts)))
        total, mass, extra = family.stats(state)
        bound = (total - estimator._penalty(state)) / wsum
        history.append(bound)
        progress.update(n_iter, bound)
        improved = bound > best_bound + tol
        if bound > best_bound:
            best, best_bound, best_log_lik = _snapshot(state), bound, total
        if improved or best_iter == 0:
            best_iter = n_iter
        source = state
        # The in-memory stopping rule (see _em._stops).
        if _stops(history, tol, n_iter, best_iter):
            if capped is not None and not polishing and n_iter < max_iter:
                polish = True
                continue
            converged = True
            break
    return _Run(
        state=best,
        lower_bound=best_bound,
        log_likelihood=best_log_lik,
        history=history,
        n_iter=n_iter,
        converged=converged,
        unit="EM iterations",
        reinitialized=[],
        failures=[],
    )


def _mass_of(moments):
    """Each expert's total weight: the ``[1, 1]`` entry of its moments."""
    d = moments.shape[1] - 2
    return moments[:, d, d]


# ----------------------------------------------------------------------
# The classifier: LogisticRegression experts
# ----------------------------------------------------------------------
def _class_stats_block(X, y, w, state, lik, min_resp):
    """Under ``state``: the weighted log-likelihood, each expert's mass, and
    the weight of each class that each expert's next fit keeps (rows above
    ``min_resp``, as ``_experts._fit_one`` keeps)."""
    resp, log_prob = _e_step_block(state, lik, X, y)
    hw = resp * w[:, None]
    kept = np.where(hw > min_resp, hw, 0.0)
    onehot = np.zeros((y.shape[0], lik.classes.size))
    onehot[np.arange(y.shape[0]), np.searchsorted(lik.classes, y)] = 1.0
    # Per expert and class: an expert fits the classes its kept rows hold.
    return float(w @ log_prob), w @ resp, kept.T @ onehot


def _logistic_block(X, y, w, state, lik, min_resp, k, classes, W, b):
    """Expert ``k``'s weighted logistic loss and gradient on one block (the
    unpenalised sums scikit-learn's ``LogisticRegression`` minimises), the
    weights its responsibilities under ``state``. ``W`` (d, 1) is the binary
    model's single column; (d, C) the multinomial's."""
    resp, _ = _e_step_block(state, lik, X, y)
    hw = resp[:, k] * w
    hw = np.where(hw > min_resp, hw, 0.0)
    # Rows of a class the expert does not fit have no weight (see
    # _class_stats_block): any valid index does for them.
    index = np.minimum(np.searchsorted(classes, y), classes.size - 1)
    z = X @ W + b
    if W.shape[1] == 1:
        t = (index == 1).astype(np.float64)
        z = z[:, 0]
        loss = hw @ (np.logaddexp(0.0, z) - t * z)
        g = hw * (np.exp(z - np.logaddexp(0.0, z)) - t)
        return loss, X.T @ g[:, None], np.array([g.sum()])
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(X.shape[0])
    loss = -(hw @ log_p[rows, index])
    G = np.exp(log_p)
    G[rows, index] -= 1.0
    G *= hw[:, None]
    return loss, X.T @ G, G.sum(axis=0)


def _fit_logistic_expert(blocks, lik, source, min_resp, k, template, previous, kept):
    """Expert ``k`` refitted on its responsibilities under ``source``: the
    L-BFGS of ``LogisticRegression(solver="lbfgs").fit`` (same objective,
    options and warm start), each evaluation one pass over the blocks."""
    from scipy.optimize import minimize

    d, classes = blocks.d, lik.classes[kept > 0]
    sw_sum = kept.sum()
    n_cols = 1 if classes.size == 2 else classes.size
    fit_intercept = template.fit_intercept
    same = hasattr(previous, "coef_") and np.array_equal(
        getattr(previous, "classes_", None), classes
    )
    if same:
        W0, b0 = previous.coef_.T, np.atleast_1d(previous.intercept_)
    else:
        W0, b0 = np.zeros((d, n_cols)), np.zeros(n_cols)
    l2 = _logistic_l2(template) / sw_sum

    def unpack(params):
        W = params[: d * n_cols].reshape(d, n_cols)
        b = params[d * n_cols :] if fit_intercept else np.zeros(n_cols)
        return W, b

    def loss_gradient(params):
        W, b = unpack(params)
        loss, gW, gb = blocks.reduce(
            _logistic_block, source, lik, min_resp, k, classes, W, b
        )
        loss = loss / sw_sum + 0.5 * l2 * np.vdot(W, W)
        gW = gW / sw_sum + l2 * W
        parts = [gW.ravel(), gb / sw_sum] if fit_intercept else [gW.ravel()]
        return loss, np.concatenate(parts)

    start = [W0.ravel(), b0] if fit_intercept else [W0.ravel()]
    result = minimize(
        loss_gradient,
        np.concatenate(start),
        method="L-BFGS-B",
        jac=True,
        options={
            "maxiter": template.max_iter,
            "maxls": 50,
            "gtol": template.tol,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    W, b = unpack(result.x)
    est = clone(template)
    est.classes_ = classes
    est.coef_ = np.ascontiguousarray(W.T)
    est.intercept_ = np.asarray(b, dtype=np.float64)
    est.n_features_in_ = d
    est.n_iter_ = np.array([result.nit], dtype=np.int32)
    return est
