"""Standard errors of a fitted mixture's coefficients: the observed information."""

import copy
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from scipy.optimize import linear_sum_assignment
from scipy.special import digamma, logsumexp
from sklearn.base import clone, is_classifier
from sklearn.linear_model import (
    GammaRegressor,
    LinearRegression,
    LogisticRegression,
    PoissonRegressor,
)
from sklearn.utils import check_random_state

from .._array_api import _to_numpy
from .._kernels import gaussian_log_likelihood
from .._likelihood import GammaLikelihood, PoissonLikelihood, _t_log_density
from .._predictive import _components
from .._resize import _select
from ._utils import _FittedMixture

__all__ = ["coefficient_table"]

#: Relative step of the central differences of the score.
_STEP = 1e-5


class _Family:
    """What :func:`coefficient_table` needs of a likelihood family with
    linear predictors ``eta_k = z^T beta_k``: each expert's log-density of a
    row, its derivative in ``eta_k``, and its derivatives in the family's
    extra parameters per expert (on the log scale, so that they are free).

    Subclasses name the experts they take (``expert_type``, fitted without a
    penalty), the extra parameters (``extra_names``, attributes
    ``extra_attributes``) and, for the parametric bootstrap, a draw of a
    target given an expert.
    """

    expert_type = LinearRegression
    extra_names = ()
    extra_attributes = ()

    def n_predictors(self, moe):
        """Linear predictors per expert."""
        return 1

    def coefficients(self, moe, experts):
        """(K, n_predictors, n_features + 1): each expert's intercept and
        coefficients, per linear predictor."""
        return np.array([np.r_[e.intercept_, e.coef_] for e in experts], dtype=float)[
            :, None, :
        ]

    def encode(self, moe, y):
        """The targets as :meth:`log_density` takes them."""
        return np.asarray(y, dtype=np.float64).ravel()

    def decode(self, moe, targets):
        """The targets :meth:`draw` returns, as the model is fitted on."""
        return targets

    def predictor(self, eta):
        """The linear predictors (..., n_predictors) as :meth:`log_density`,
        :meth:`scores` and :meth:`draw` take them: (...) for one."""
        return eta[..., 0]

    def predictor_names(self, moe):
        """A label per linear predictor (none for one)."""
        return [""]

    def extras_of(self, moe):
        """(n_extra, K) extra parameters of a fitted model, log scale."""
        extras = [
            np.log(np.asarray(getattr(moe, a), float)) for a in self.extra_attributes
        ]
        return np.array(extras).reshape(len(extras), len(moe.experts_))

    def unpenalised(self, expert):
        return type(expert) is self.expert_type and expert.fit_intercept

    def draw(self, eta, extras, rng):
        """One target per row from the chosen experts' (n,) ``eta`` and
        (n_extra, n) ``extras``."""
        raise NotImplementedError


class _Gaussian(_Family):
    extra_names = ("log noise variance",)
    extra_attributes = ("noise_variance_",)

    def log_density(self, y, eta, extras):
        return _to_numpy(gaussian_log_likelihood(y, eta, np.exp(extras[0])))

    def scores(self, y, eta, extras):
        var = np.exp(extras[0])
        resid = y[:, None] - eta
        return resid / var, [0.5 * (resid**2 / var - 1.0)]

    def draw(self, eta, extras, rng):
        return eta + np.sqrt(np.exp(extras[0])) * rng.standard_normal(eta.size)


class _StudentT(_Family):
    extra_names = ("log squared scale", "log degrees of freedom")
    extra_attributes = ("noise_variance_", "df_")

    def log_density(self, y, eta, extras):
        return _t_log_density(y[:, None] - eta, np.exp(extras[0]), np.exp(extras[1]))

    def scores(self, y, eta, extras):
        scale2, df = np.exp(extras[0]), np.exp(extras[1])
        resid = y[:, None] - eta
        q = resid**2 / (df * scale2)
        d_eta = (df + 1.0) * resid / (df * scale2 + resid**2)
        d_log_scale2 = 0.5 * ((df + 1.0) * q / (1.0 + q) - 1.0)
        d_df = 0.5 * (
            digamma(0.5 * (df + 1.0))
            - digamma(0.5 * df)
            - 1.0 / df
            - np.log1p(q)
            + (df + 1.0) * q / (df * (1.0 + q))
        )
        return d_eta, [d_log_scale2, df * d_df]

    def draw(self, eta, extras, rng):
        df = np.exp(extras[1])
        return eta + np.sqrt(np.exp(extras[0])) * rng.standard_t(df)


class _Poisson(_Family):
    expert_type = PoissonRegressor

    def unpenalised(self, expert):
        return super().unpenalised(expert) and expert.alpha == 0

    def log_density(self, y, eta, extras):
        return PoissonLikelihood._log_density(y, np.exp(eta))

    def scores(self, y, eta, extras):
        return y[:, None] - np.exp(eta), []

    def draw(self, eta, extras, rng):
        return rng.poisson(np.exp(eta)).astype(float)


class _Gamma(_Family):
    expert_type = GammaRegressor
    extra_names = ("log dispersion",)
    extra_attributes = ("dispersion_",)

    def unpenalised(self, expert):
        return super().unpenalised(expert) and expert.alpha == 0

    def log_density(self, y, eta, extras):
        return GammaLikelihood._log_density(y, np.exp(eta), np.exp(extras[0]))

    def scores(self, y, eta, extras):
        mean, shape = np.exp(eta), np.exp(-extras[0])
        ratio = y[:, None] / mean
        d_log_dispersion = -shape * (
            np.log(shape * ratio) + 1.0 - ratio - digamma(shape)
        )
        return shape * (ratio - 1.0), [d_log_dispersion]

    def draw(self, eta, extras, rng):
        shape = np.exp(-extras[0])
        return rng.gamma(shape, np.exp(eta) / shape)


class _Categorical(_Family):
    """Categorical experts, ``LogisticRegression`` without a penalty: one
    linear predictor per class but the first, the log-odds against it."""

    expert_type = LogisticRegression

    def unpenalised(self, expert):
        return (
            type(expert) is LogisticRegression
            and expert.fit_intercept
            and (np.isinf(expert.C) or expert.penalty is None)
        )

    def n_predictors(self, moe):
        return len(moe.classes_) - 1

    def coefficients(self, moe, experts):
        out = []
        for e in experts:
            coef = np.column_stack([e.intercept_, e.coef_])
            if coef.shape[0] > 1:  # multinomial: against the first class
                coef = coef[1:] - coef[:1]
            out.append(coef)
        return np.array(out, dtype=float)

    def encode(self, moe, y):
        return np.searchsorted(moe.classes_, np.asarray(y).ravel())

    def decode(self, moe, targets):
        return moe.classes_[targets]

    def predictor(self, eta):
        return eta

    def predictor_names(self, moe):
        first = moe.classes_[0]
        return [f"class {c} vs {first}" for c in moe.classes_[1:].tolist()]

    def log_density(self, y, eta, extras):
        logits = np.concatenate([np.zeros(eta.shape[:2] + (1,)), eta], axis=2)
        log_p = logits - logsumexp(logits, axis=2, keepdims=True)
        return np.take_along_axis(log_p, y[:, None, None], axis=2)[:, :, 0]

    def scores(self, y, eta, extras):
        logits = np.concatenate([np.zeros(eta.shape[:2] + (1,)), eta], axis=2)
        p = np.exp(logits - logsumexp(logits, axis=2, keepdims=True))
        onehot = (y[:, None] == np.arange(1, p.shape[2]))[:, None, :]
        return onehot - p[:, :, 1:], []

    def draw(self, eta, extras, rng):
        logits = np.column_stack([np.zeros(eta.shape[0]), eta])
        p = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
        return _components(np.cumsum(p, axis=1), rng.uniform(size=(eta.shape[0], 1)))[
            :, 0
        ]


_FAMILIES = {
    "gaussian": _Gaussian(),
    "student_t": _StudentT(),
    "poisson": _Poisson(),
    "gamma": _Gamma(),
    "categorical": _Categorical(),
}


class _Parameters:
    """The free parameters of a mixture of experts with linear predictors
    and a softmax gate, as one vector: the gate's log-odds against expert 0
    (intercept and coefficients of experts 1..K-1), each expert's intercept
    and coefficients (per linear predictor, for categorical experts), and
    the family's extra parameters (each a block of ``K``, log scale)."""

    def __init__(self, n_features, n_experts, family, n_predictors=1):
        self.d, self.K, self.family, self.m = (
            n_features,
            n_experts,
            family,
            n_predictors,
        )
        self.n_gate = (n_experts - 1) * (n_features + 1)
        self.n_expert = n_experts * n_predictors * (n_features + 1)

    def pack(self, gate_b, gate_W, coefficients, extras):
        return np.concatenate(
            [
                np.vstack(
                    [gate_b[1:] - gate_b[0], (gate_W[:, 1:] - gate_W[:, :1])]
                ).T.ravel(),
                np.asarray(coefficients, dtype=float).ravel(),
                np.asarray(extras, dtype=float).ravel(),
            ]
        )

    def unpack(self, theta):
        """The gate (K, d + 1), the experts (K, m, d + 1), the extras."""
        d, K = self.d, self.K
        gate = np.zeros((K, d + 1))
        gate[1:] = theta[: self.n_gate].reshape(K - 1, d + 1)
        experts = theta[self.n_gate : self.n_gate + self.n_expert].reshape(
            K, self.m, d + 1
        )
        extras = theta[self.n_gate + self.n_expert :].reshape(-1, K)
        return gate, experts, extras

    def predictors(self, Z, experts):
        """Linear predictors, (n, K) for one per expert, else (n, K, m)."""
        return self.family.predictor(np.einsum("nd,kmd->nkm", Z, experts))


def _score(theta, params, Z, y, w):
    """Gradient of the weighted observed-data log-likelihood (Fisher's
    identity: the complete-data gradient under the posterior)."""
    gate, experts, extras = params.unpack(theta)
    family = params.family
    logits = Z @ gate.T
    log_gate = logits - logsumexp(logits, axis=1, keepdims=True)
    eta = params.predictors(Z, experts)
    joint = log_gate + family.log_density(y, eta, extras)
    h = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    g = np.exp(log_gate)
    hw = h * w[:, None]
    d_eta, d_extras = family.scores(y, eta, extras)
    d_gate = ((h - g) * w[:, None]).T @ Z  # (K, d+1)
    d_eta = d_eta.reshape(d_eta.shape[0], params.K, params.m)
    d_experts = np.einsum("nk,nkm,nd->kmd", hw, d_eta, Z)
    parts = [d_gate[1:].ravel(), d_experts.ravel()]
    parts += [(hw * d).sum(axis=0) for d in d_extras]
    return np.concatenate(parts)


def coefficient_table(
    estimator,
    X,
    y,
    *,
    sample_weight=None,
    bootstrap=None,
    n_bootstrap=200,
    n_jobs=None,
    random_state=None,
):
    """Coefficients, standard errors, z and p-values of a fitted mixture.

    For a :class:`~skmoe.MixtureOfExpertsRegressor` with the softmax gate
    and unpenalised experts with an intercept, in any of its likelihood
    families: ``LinearRegression`` experts with ``likelihood="gaussian"``
    or ``"student_t"``, ``PoissonRegressor(alpha=0)`` with ``"poisson"``,
    ``GammaRegressor(alpha=0)`` with ``"gamma"`` (the defaults of each
    family); or a :class:`~skmoe.MixtureOfExpertsClassifier` with
    ``LogisticRegression(C=np.inf)`` experts (each class's log-odds against
    the first). The standard errors come from the observed information of the
    mixture's full log-likelihood on (X, y) (the Hessian at the fit, by
    central differences of the exact score), so they account for the
    uncertainty of the routing, unlike the responsibility-weighted fits of
    each expert, which understate them. The gate is reported as log-odds
    against expert 0 (a softmax is identified only up to a common shift).
    The gate's weak default penalty is ignored. Each family's own
    parameters are reported on the log scale: the noise variance, the t
    distribution's squared scale and degrees of freedom, the gamma
    dispersion. (Degrees of freedom held at a bound of ``[0.5, 200]`` are
    not at an interior optimum, and their standard error means little.)

    Parameters
    ----------
    estimator : fitted MixtureOfExpertsRegressor or MixtureOfExpertsClassifier, \
            or Pipeline ending in one
    X : array-like of shape (n_samples, n_features)
        The training data (for a pipeline, as the pipeline takes them).
    y : array-like of shape (n_samples,)
        Their targets (class labels, for a classifier).
    sample_weight : array-like of shape (n_samples,), default=None
        The fit's sample weights.
    bootstrap : {"nonparametric", "parametric"} or None, default=None
        Also estimate each standard error from ``n_bootstrap`` refits:
        on the rows resampled with replacement (``"nonparametric"``), or on
        targets drawn from the fitted model (``"parametric"``: an expert
        by the gate's probabilities, then a target from its distribution).
        Each refit
        starts from the fitted model (a warm start, so the experts keep
        their identity; they are matched to the fitted ones by their
        coefficients all the same), and the column ``bootstrap_std_err``
        holds the standard deviation of its estimates.
    n_bootstrap : int, default=200
        Number of bootstrap refits.
    n_jobs : int or None, default=None
        Refits in parallel (joblib).
    random_state : int, RandomState instance or None, default=None
        Seeds the resampling.

    Returns
    -------
    table : pandas.DataFrame
        One row per parameter: ``component`` (``"gate 1 vs 0"``, ...,
        ``"expert k"``, or ``"expert k, class c vs c0"`` for a
        classifier), ``term`` (``"intercept"``, a feature name,
        ``"log noise variance"``, ``"log squared scale"``, ``"log degrees of
        freedom"`` or ``"log dispersion"``), ``coef``, ``std_err``, ``z`` and
        ``p_value`` (two-sided, normal), and ``bootstrap_std_err`` when
        ``bootstrap`` is given.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import coefficient_table
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> table = coefficient_table(moe, X, y)
    >>> list(table.columns)
    ['component', 'term', 'coef', 'std_err', 'z', 'p_value']
    """
    fitted = _FittedMixture(estimator, "coefficient_table")
    moe = fitted.moe
    experts = list(moe.experts_)
    kind = "categorical" if is_classifier(moe) else getattr(moe, "likelihood", None)
    family = _FAMILIES.get(kind)
    ok = (
        family is not None
        and hasattr(moe, "n_experts")
        and all(family.unpenalised(e) for e in experts)
        and moe.gate_.fit_intercept
    )
    if not ok:
        raise TypeError(
            "coefficient_table needs a flat mixture (MixtureOfExpertsRegressor "
            "or MixtureOfExpertsClassifier) with the softmax gate and "
            "unpenalised experts with an intercept: LinearRegression for "
            "likelihood='gaussian' or 'student_t', PoissonRegressor(alpha=0) "
            "for 'poisson', GammaRegressor(alpha=0) for 'gamma', "
            "LogisticRegression(C=np.inf) for a classifier; got "
            f"{fitted.name} with experts {sorted({repr(e) for e in experts})}"
            + ("" if kind == "categorical" else f" and likelihood={kind!r}")
            + "."
        )
    if kind == "categorical" and any(
        len(e.classes_) != len(moe.classes_) for e in experts
    ):
        raise ValueError(
            "coefficient_table needs every expert to have seen every class; "
            "an expert fitted on fewer has no coefficients for the others."
        )
    if (
        family.extra_attributes
        and np.ndim(getattr(moe, family.extra_attributes[0])) > 1
    ):
        raise ValueError(
            "coefficient_table is for a mixture of one target; this one was "
            f"fitted on {moe.target_range_.shape[1]} targets (a 2-D y). Fit "
            "one mixture per target column for their tables."
        )
    Z = np.asarray(fitted.transform(X), dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != moe.n_features_in_:
        raise ValueError(
            f"X must have the fitted {moe.n_features_in_} features (after any "
            f"preprocessing); got shape {Z.shape}."
        )
    Z = np.column_stack([np.ones(Z.shape[0]), Z])
    y = np.asarray(y).ravel()
    y_coded = family.encode(moe, y)
    w = np.ones(y.size) if sample_weight is None else np.asarray(sample_weight, float)
    d, K = Z.shape[1] - 1, len(experts)
    params = _Parameters(d, K, family, family.n_predictors(moe))
    theta = _theta_of(moe, params)
    hessian = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        step = _STEP * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (
            _score(up, params, Z, y_coded, w) - _score(down, params, Z, y_coded, w)
        ) / (2 * step)
    hessian = 0.5 * (hessian + hessian.T)
    covariance = np.linalg.pinv(-hessian)
    std_err = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    names = ["intercept", *fitted.moe_feature_names()]
    component, term = [], []
    for k in range(1, K):
        component += [f"gate {k} vs 0"] * (d + 1)
        term += names
    for k in range(K):
        for label in family.predictor_names(moe):
            component += [f"expert {k}" + (f", {label}" if label else "")] * (d + 1)
            term += names
    for name in family.extra_names:
        component += [f"expert {k}" for k in range(K)]
        term += [name] * K
    with np.errstate(divide="ignore", invalid="ignore"):
        z = theta / std_err
    table = pd.DataFrame(
        {
            "component": component,
            "term": term,
            "coef": theta,
            "std_err": std_err,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
        }
    )
    if bootstrap is not None:
        if bootstrap not in ("nonparametric", "parametric"):
            raise ValueError(
                f"bootstrap={bootstrap!r} must be 'nonparametric', 'parametric' "
                "or None."
            )
        seeds = check_random_state(random_state).randint(2**31 - 1, size=n_bootstrap)
        draws = Parallel(n_jobs=n_jobs)(
            delayed(_bootstrap_refit)(moe, params, Z, y, w, bootstrap, seed)
            for seed in seeds
        )
        table["bootstrap_std_err"] = np.std(draws, axis=0, ddof=1)
    return table


def _theta_of(moe, params):
    experts, gate = moe.experts_, moe.gate_
    return params.pack(
        np.asarray(gate.intercept_),
        np.asarray(gate.coef_),
        params.family.coefficients(moe, experts),
        params.family.extras_of(moe),
    )


def _draw_targets(theta, params, Z, rng):
    """One target per row from the fitted mixture (coded as the family's
    :meth:`~_Family.draw` codes them): an expert drawn by the gate's
    probabilities, then a target from its distribution."""
    gate, experts, extras = params.unpack(theta)
    logits = Z @ gate.T
    prob = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    cum = np.cumsum(prob, axis=1)
    u = rng.uniform(size=(Z.shape[0], 1)) * cum[:, -1:]
    k = _components(cum, u)[:, 0]
    eta = params.family.predictor(np.einsum("nd,nmd->nm", Z, experts[k]))
    return params.family.draw(eta, extras[:, k], rng)


def _bootstrap_refit(moe, params, Z, y, w, kind, seed):
    """The parameters of one bootstrap refit, experts in the fitted order."""
    rng = np.random.RandomState(seed)
    X = Z[:, 1:]
    refit = clone(moe).set_params(warm_start=True, random_state=seed, verbose=0)
    for name, value in vars(moe).items():
        if name.endswith("_") and not name.startswith("__"):
            setattr(refit, name, copy.deepcopy(value))
    if kind == "nonparametric":
        counts = rng.multinomial(y.size, w / w.sum()).astype(float)
        target, weight = y, counts
    else:
        codes = _draw_targets(_theta_of(moe, params), params, Z, rng)
        target = params.family.decode(moe, codes)
        weight = w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resample's warnings: not the user's fit
        refit.fit(X, target, sample_weight=weight)
    # Match the refit's experts to the fitted ones (a warm start keeps them,
    # but the canonical order by share may swap two of similar size).
    old = params.family.coefficients(moe, moe.experts_).reshape(params.K, -1)
    new = params.family.coefficients(refit, refit.experts_).reshape(params.K, -1)
    cost = ((old[:, None, :] - new[None, :, :]) ** 2).sum(axis=2)
    order = linear_sum_assignment(cost)[1]
    refit._set_state(_select(refit._get_state(), order.tolist()))
    return _theta_of(refit, params)
