"""Standard errors of a fitted mixture's coefficients: the observed information."""

import copy
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.utils import check_random_state

from .._resize import _select
from ._utils import _FittedMixture

__all__ = ["coefficient_table"]

#: Relative step of the central differences of the score.
_STEP = 1e-5


class _Parameters:
    """The free parameters of a mixture of linear-Gaussian experts with a
    softmax gate, as one vector: the gate's log-odds against expert 0
    (intercept and coefficients of experts 1..K-1), each expert's intercept
    and coefficients, and each expert's log noise variance."""

    def __init__(self, n_features, n_experts):
        self.d, self.K = n_features, n_experts
        self.n_gate = (n_experts - 1) * (n_features + 1)
        self.n_expert = n_experts * (n_features + 1)

    def pack(self, gate_b, gate_W, b, W, log_var):
        return np.concatenate(
            [
                np.vstack(
                    [gate_b[1:] - gate_b[0], (gate_W[:, 1:] - gate_W[:, :1])]
                ).T.ravel(),
                np.vstack([b, W]).T.ravel(),
                log_var,
            ]
        )

    def unpack(self, theta):
        d, K = self.d, self.K
        gate = np.zeros((K, d + 1))
        gate[1:] = theta[: self.n_gate].reshape(K - 1, d + 1)
        experts = theta[self.n_gate : self.n_gate + self.n_expert].reshape(K, d + 1)
        log_var = theta[self.n_gate + self.n_expert :]
        return gate, experts, log_var


def _score(theta, params, Z, y, w):
    """Gradient of the weighted observed-data log-likelihood (Fisher's
    identity: the complete-data gradient under the posterior)."""
    gate, experts, log_var = params.unpack(theta)
    logits = Z @ gate.T
    log_gate = logits - logsumexp(logits, axis=1, keepdims=True)
    var = np.exp(log_var)
    resid = y[:, None] - Z @ experts.T
    log_lik = -0.5 * (np.log(2 * np.pi) + log_var + resid**2 / var)
    joint = log_gate + log_lik
    h = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    g = np.exp(log_gate)
    hw = h * w[:, None]
    d_gate = ((h - g) * w[:, None]).T @ Z  # (K, d+1)
    d_experts = (hw * resid / var).T @ Z
    d_log_var = 0.5 * (hw * (resid**2 / var - 1.0)).sum(axis=0)
    return np.concatenate([d_gate[1:].ravel(), d_experts.ravel(), d_log_var])


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

    For a :class:`~skmoe.MixtureOfExpertsRegressor` whose experts are
    ``LinearRegression`` (Gaussian likelihood) and whose gate is the softmax
    gate: the standard errors come from the observed information of the
    mixture's full log-likelihood on (X, y) (the Hessian at the fit, by
    central differences of the exact score), so they account for the
    uncertainty of the routing, unlike the responsibility-weighted fits of
    each expert, which understate them. The gate is reported as log-odds
    against expert 0 (a softmax is identified only up to a common shift).
    The gate's weak default penalty is ignored.

    Parameters
    ----------
    estimator : fitted MixtureOfExpertsRegressor or Pipeline ending in one
    X : array-like of shape (n_samples, n_features)
        The training data (for a pipeline, as the pipeline takes them).
    y : array-like of shape (n_samples,)
        Their targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The fit's sample weights.
    bootstrap : {"nonparametric", "parametric"} or None, default=None
        Also estimate each standard error from ``n_bootstrap`` refits:
        on the rows resampled with replacement (``"nonparametric"``), or on
        targets drawn from the fitted model (``"parametric"``,
        :meth:`~skmoe.MixtureOfExpertsRegressor.sample_y`). Each refit
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
        ``"expert k"``), ``term`` (``"intercept"``, a feature name, or
        ``"log noise variance"``), ``coef``, ``std_err``, ``z`` and
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
    ok = (
        getattr(moe, "likelihood", None) == "gaussian"
        and hasattr(moe, "n_experts")
        and all(type(e) is LinearRegression and e.fit_intercept for e in experts)
        and moe.gate_.fit_intercept
    )
    if not ok:
        raise TypeError(
            "coefficient_table needs a MixtureOfExpertsRegressor with "
            "likelihood='gaussian', LinearRegression experts (fit_intercept="
            f"True) and the softmax gate; got {fitted.name} with experts "
            f"{sorted({type(e).__name__ for e in experts})}."
        )
    if np.ndim(moe.noise_variance_) > 1:
        raise ValueError(
            "coefficient_table is for a mixture of one target; this one was "
            f"fitted on {moe.noise_variance_.shape[1]} targets (a 2-D y). Fit "
            "one mixture per target column for their tables."
        )
    Z = np.asarray(fitted.transform(X), dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != moe.n_features_in_:
        raise ValueError(
            f"X must have the fitted {moe.n_features_in_} features (after any "
            f"preprocessing); got shape {Z.shape}."
        )
    Z = np.column_stack([np.ones(Z.shape[0]), Z])
    y = np.asarray(y, dtype=np.float64).ravel()
    w = np.ones(y.size) if sample_weight is None else np.asarray(sample_weight, float)
    d, K = Z.shape[1] - 1, len(experts)
    params = _Parameters(d, K)
    theta = _theta_of(moe, params)
    hessian = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        step = _STEP * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (
            _score(up, params, Z, y, w) - _score(down, params, Z, y, w)
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
        component += [f"expert {k}"] * (d + 1)
        term += names
    component += [f"expert {k}" for k in range(K)]
    term += ["log noise variance"] * K
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
        np.array([e.intercept_ for e in experts], dtype=float),
        np.array([e.coef_ for e in experts], dtype=float).T,
        np.log(np.asarray(moe.noise_variance_, dtype=float)),
    )


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
        target = moe.sample_y(X, n_samples=1, random_state=rng)[:, 0]
        weight = w
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resample's warnings: not the user's fit
        refit.fit(X, target, sample_weight=weight)
    # Match the refit's experts to the fitted ones (a warm start keeps them,
    # but the canonical order by share may swap two of similar size).
    old = np.array([np.r_[e.intercept_, e.coef_] for e in moe.experts_])
    new = np.array([np.r_[e.intercept_, e.coef_] for e in refit.experts_])
    cost = ((old[:, None, :] - new[None, :, :]) ** 2).sum(axis=2)
    order = linear_sum_assignment(cost)[1]
    refit._set_state(_select(refit._get_state(), order.tolist()))
    return _theta_of(refit, params)
