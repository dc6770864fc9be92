"""The experts' likelihoods: how a target is distributed given an expert.

One class per family. A likelihood is made for one fit from the training
targets (the data-dependent constants, such as the variance floor, live in
it, not on the estimator), and at prediction time from the fitted model. It
fits the experts in an M-step, estimates its own parameters (the noise
variances), scores rows under each expert, and counts those parameters.
EM (``_base``), the gradient solvers and the estimators' ``score_samples``
all ask it; adding a family is one new class here and an entry in
``REGRESSION_LIKELIHOODS``.

``state`` is the dict of a model in the making: ``"experts"`` (fitted
estimators), ``"gate"`` and ``"noise_variance"``: the family's per-expert
parameters, indexed by expert along axis 0 (the Gaussian noise variances,
the gamma dispersions, the Student-t (K, 2) squared scales and degrees of
freedom; None for Poisson and categorical experts). ``parameter`` names the
fitted attribute(s) that hold them.
"""

import numpy as np
from scipy import linalg
from scipy.optimize import brentq
from scipy.special import digamma, gammaln

from ._array_api import _namespace, _to_namespace, _to_numpy, _xp_of
from ._experts import (
    PROBA_FLOOR,
    _expert_outputs,
    _FailedExpert,
    _fit_experts,
    _output_or_zeros,
)
from ._kernels import gaussian_log_likelihood
from ._validation import _MIN_MAGNITUDE


def _rounding_variance(y, sample_weight):
    """``delta**2 / 12``, where ``delta`` is the smallest gap between distinct
    target values (of rows with positive weight): the variance that rounding
    to that resolution adds (Sheppard's correction).

    A target recorded to a resolution (integer scores, say) has no density
    below it: an expert that takes the rows of one value would otherwise
    shrink its variance to the floor and its likelihood without bound (on
    the red-wine quality scores, every expert of a mixture did). For a
    continuous target the gaps, and so this floor, are negligible.
    """
    values = np.unique(_to_numpy(y)[_to_numpy(sample_weight) > 0])
    gaps = np.diff(values)
    gaps = gaps[gaps > 0]
    return float(gaps.min()) ** 2 / 12 if gaps.size else 0.0


def _variance_floor(y, sample_weight, relative_floor):
    """``relative_floor`` times the weighted variance of ``y``, and never
    below the variance of rounding ``y`` to its resolution."""
    wsum = float(_xp_of(sample_weight).sum(sample_weight))
    mean = float(sample_weight @ y) / wsum
    var_y = float(sample_weight @ (y - mean) ** 2) / wsum
    # A constant target still needs a positive floor.
    # Relative to the target's own scale: a target in units of 1e-150
    # has variances near 1e-300, which an absolute floor would swamp.
    tiny = max(np.finfo(np.float64).eps * mean * mean, _MIN_MAGNITUDE**2)
    return max(relative_floor * max(var_y, tiny), _rounding_variance(y, sample_weight))


class GaussianLikelihood:
    """``y ~ N(f_k(x), sigma_k^2)``: regression experts with their own noise
    variances.

    Parameters
    ----------
    variance_floor : float, default=0.0
        Absolute lower bound on every noise variance (see :meth:`for_fit`).
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    """

    classifier = False
    name = "gaussian"
    parameter = "noise_variance_"  # the fitted attribute of the variances

    def __init__(self, variance_floor=0.0, min_responsibility=0.0, isolate=False):
        self.variance_floor = variance_floor
        self.min_responsibility = min_responsibility
        self.isolate = isolate

    @classmethod
    def for_fit(
        cls, y, sample_weight, relative_floor, min_responsibility, isolate=False
    ):
        """The likelihood of one fit: its variance floor is ``relative_floor``
        times the weighted variance of ``y``, and never below the variance
        of rounding ``y`` to its resolution (:func:`_rounding_variance`)."""
        floor = _variance_floor(y, sample_weight, relative_floor)
        return cls(floor, min_responsibility, isolate)

    def n_extra_parameters(self, n_experts):
        """Free parameters beyond the gate's and the experts': the variances."""
        return n_experts

    @staticmethod
    def check_target(y):
        """Any real target."""

    @staticmethod
    def variances(means, parameter):
        """Each expert's variance of y given x: its noise variance."""
        return parameter

    def target_columns(self, y):
        """The target as columns, for the starts that cluster on it: y."""
        return np.asarray(y, dtype=np.float64)[:, None]

    def init_features(self, X, y):
        """Features on which a k-means start clusters the rows: X and y."""
        return np.column_stack([X, self.target_columns(y)])

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """Fit the experts on ``weights`` (n, K) and their noise variances;
        update ``state``. Returns the (n, K) log-likelihood of each row under
        each refitted expert."""
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, False, n_jobs, self.isolate
        )
        # With isolate, an expert whose outputs are invalid fails here.
        preds = _expert_outputs(fitted, X, isolate=self.isolate)
        xp = _xp_of(preds)
        mass = xp.sum(weights, axis=0)
        sq = xp.sum(weights * (y[:, None] - preds) ** 2, axis=0)
        var = self.noise_variances(sq, mass, state.get("noise_variance"))
        state["experts"] = fitted
        state["noise_variance"] = var
        return gaussian_log_likelihood(y, preds, var)

    def noise_variances(self, squares, mass, previous):
        """The M-step's noise variances from each expert's weighted sum of
        squared residuals ``squares`` and its weight ``mass`` (K,); an
        expert without data (mass 0) keeps its ``previous`` variance, and
        none falls below the floor. Any array namespace."""
        xp = _xp_of(squares)
        # 0/0 is masked.
        safe_mass = xp.where(mass > 0, mass, xp.ones_like(mass))
        var = squares / safe_mass
        if previous is not None:
            var = xp.where(mass > 0, var, previous)
        var = xp.where(xp.isnan(var), xp.zeros_like(var), var)
        return xp.maximum(var, xp.full_like(var, self.variance_floor))

    def log_likelihood(self, state, X, y):
        """(n, K) log-density of ``y`` under each expert of ``state``."""
        preds = _expert_outputs(state["experts"], X)
        return gaussian_log_likelihood(y, preds, state["noise_variance"])


#: The noise covariances of the multi-output Gaussian likelihood: the
#: regressors' ``covariance_type``.
COVARIANCE_TYPES = ("full", "diag")


class MultiOutputGaussianLikelihood:
    """``y ~ N_T(f_k(x), Sigma_k)``: regression experts of a 2-D target
    (``n_targets`` columns), each with its own noise covariance.

    ``covariance_type='full'``: ``Sigma_k`` a (T, T) covariance matrix;
    ``'diag'``: a diagonal one, stored as its (T,) variances (the targets'
    noises independent given the expert). Both are the weighted maximum
    likelihood estimates, the weighted mean of the residuals' outer products
    (or squares), floored (:meth:`_floored`).

    Parameters
    ----------
    variance_floor : ndarray of shape (n_targets,)
        Lower bound on each target's noise variance (see :meth:`for_fit`).
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    covariance_type : {'full', 'diag'}, default='full'
        The covariance of the fit's M-step. The density takes either, by
        the shape of the covariances it is given: (K, T) or (K, T, T).
    """

    classifier = False
    name = "gaussian"
    parameter = "noise_variance_"

    def __init__(
        self,
        variance_floor,
        min_responsibility=0.0,
        isolate=False,
        covariance_type="full",
    ):
        self.variance_floor = np.asarray(variance_floor, dtype=np.float64)
        self.min_responsibility = min_responsibility
        self.isolate = isolate
        self.covariance_type = covariance_type

    @property
    def n_targets(self):
        return self.variance_floor.size

    @classmethod
    def for_fit(
        cls,
        y,
        sample_weight,
        relative_floor,
        min_responsibility,
        isolate=False,
        covariance_type="full",
    ):
        """The likelihood of one fit: each target's floor is that of
        :meth:`GaussianLikelihood.for_fit` for that column alone."""
        floor = [
            GaussianLikelihood.for_fit(
                np.ascontiguousarray(y[:, t]), sample_weight, relative_floor, 0.0
            ).variance_floor
            for t in range(y.shape[1])
        ]
        return cls(floor, min_responsibility, isolate, covariance_type)

    def n_extra_parameters(self, n_experts):
        """Free parameters beyond the gate's and the experts': the noise
        covariances, ``T (T + 1) / 2`` each (``'full'``) or ``T`` (``'diag'``)."""
        T = self.n_targets
        per_expert = T * (T + 1) // 2 if self.covariance_type == "full" else T
        return n_experts * per_expert

    @staticmethod
    def check_target(y):
        """Any real target."""

    @staticmethod
    def variances(means, parameter):
        """Each expert's variance of each target given x, (n, K, T): the
        diagonal of its noise covariance."""
        parameter = np.asarray(parameter)
        diag = parameter if parameter.ndim == 2 else np.diagonal(parameter, 0, 1, 2)
        return np.broadcast_to(diag, means.shape)

    def target_columns(self, y):
        """The target as columns, for the starts that cluster on it: y."""
        return np.asarray(y, dtype=np.float64)

    def init_features(self, X, y):
        """Features on which a k-means start clusters the rows: X and y."""
        return np.column_stack([X, self.target_columns(y)])

    def _floored(self, cov):
        """``cov`` (T, T) or (T,) with the floor applied.

        Diagonal: each variance at least its target's floor ``f_t``.
        Full: the eigenvalues of ``D^-1 cov D^-1`` (``D = diag(sqrt(f))``)
        raised to at least 1, so that ``cov - diag(f)`` is positive
        semidefinite (for one target, the floor of the 1-D likelihood). A
        covariance that is already above its floor is returned as it is.
        """
        floor = self.variance_floor
        if cov.ndim == 1:
            return np.maximum(cov, floor)
        scale = np.sqrt(floor)
        scaled = cov / scale[:, None] / scale[None, :]
        values, vectors = linalg.eigh(scaled)
        if values[0] >= 1.0:
            return cov
        scaled = (vectors * np.maximum(values, 1.0)) @ vectors.T
        return (scaled + scaled.T) / 2 * scale[:, None] * scale[None, :]

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """Fit the experts on ``weights`` (n, K) and their noise covariances;
        update ``state``. Returns the (n, K) log-likelihood of each row under
        each refitted expert."""
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, False, n_jobs, self.isolate
        )
        preds = _expert_outputs(
            fitted, X, isolate=self.isolate, n_targets=self.n_targets
        )
        weights = np.asarray(weights)
        previous = state.get("noise_variance")
        full = self.covariance_type == "full"
        covs = []
        for k in range(preds.shape[1]):
            mass = float(weights[:, k].sum())
            resid = y - preds[:, k]
            if mass > 0:
                weighted = resid * weights[:, k, None]
                if full:
                    cov = weighted.T @ resid / mass
                else:
                    cov = np.einsum("it,it->t", weighted, resid) / mass
            elif previous is not None:
                # An expert without data keeps its noise (as converted to
                # this fit's covariance type).
                cov = _as_covariance(previous[k], full)
            else:
                cov = np.zeros((self.n_targets,) * (2 if full else 1))
            covs.append(self._floored(np.nan_to_num(cov)))
        state["experts"] = fitted
        state["noise_variance"] = np.stack(covs)
        return _mvn_log_density(y, preds, state["noise_variance"])

    def log_likelihood(self, state, X, y):
        """(n, K) log-density of ``y`` under each expert of ``state``."""
        preds = _expert_outputs(state["experts"], X, n_targets=self.n_targets)
        return _mvn_log_density(y, preds, state["noise_variance"])


def noise_std(noise):
    """One expert's noise standard deviation: a float for one target, the
    (T,) standard deviations of each target for a 2-D one (from its
    variances or the diagonal of its covariance)."""
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim == 2:
        noise = np.diagonal(noise)
    return np.sqrt(noise)


def _as_covariance(noise, full):
    """One expert's noise, (T,) variances or a (T, T) covariance, as the
    other kind when asked (a warm start with another ``covariance_type``)."""
    noise = np.asarray(noise, dtype=np.float64)
    if full:
        return noise if noise.ndim == 2 else np.diag(noise)
    return noise if noise.ndim == 1 else np.diagonal(noise).copy()


def _mvn_log_density(y, means, noise):
    """(n, K) multivariate normal log-density of the rows of ``y`` (n, T)
    under each expert: means (n, K, T), noise (K, T) variances or (K, T, T)
    covariances (by Cholesky factors)."""
    y = np.asarray(y, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    n, n_experts, T = means.shape
    out = np.empty((n, n_experts))
    constant = T * np.log(2 * np.pi)
    for k in range(n_experts):
        resid = y - means[:, k]
        if noise.ndim == 2:
            maha = np.einsum("it,it->i", resid, resid / noise[k])
            log_det = float(np.sum(np.log(noise[k])))
        else:
            chol = linalg.cholesky(noise[k], lower=True)
            z = linalg.solve_triangular(chol, resid.T, lower=True)
            maha = np.einsum("ti,ti->i", z, z)
            log_det = 2.0 * float(np.sum(np.log(np.diag(chol))))
        out[:, k] = -0.5 * (constant + log_det + maha)
    return out


class CategoricalLikelihood:
    """``y ~ Categorical(p_k(x))``: classification experts; the probability
    of the observed class is floored at ``PROBA_FLOOR``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        The sorted class labels.
    y : array-like of shape (n_samples,), default=None
        The training labels, whose columns in ``classes`` are looked up once
        for the whole fit.
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    """

    classifier = True

    def __init__(self, classes, y=None, min_responsibility=0.0, isolate=False):
        self.classes = classes
        self.min_responsibility = min_responsibility
        self.isolate = isolate
        self._y = y
        self._y_index = None if y is None else self._lookup(y)

    def _lookup(self, y):
        idx = np.searchsorted(self.classes, _to_numpy(y))
        if isinstance(y, np.ndarray):
            return idx
        xp, device = _namespace(y)
        return _to_namespace(idx, xp, device)

    def index(self, y):
        """Column of each row's label in ``classes`` (in the namespace of y)."""
        if y is self._y and self._y_index is not None:
            return self._y_index
        return self._lookup(y)

    def n_extra_parameters(self, n_experts):
        return 0

    def target_columns(self, y):
        """The labels, one-hot, for the starts that cluster on them."""
        onehot = np.zeros((y.shape[0], self.classes.size))
        onehot[np.arange(y.shape[0]), _to_numpy(self.index(y))] = 1.0
        return onehot

    def init_features(self, X, y):
        """X and the labels, one-hot: a start that already separates the
        classes where the features alone do not."""
        return np.column_stack([X, self.target_columns(y)])

    def _observed_log_proba(self, experts, X, y):
        idx = self.index(y)[:, None]
        xp = _xp_of(X)
        cols = []
        for k in range(len(experts)):
            # A failed expert's zeros are masked with its gate column.
            proba = _output_or_zeros(experts, k, X, self.classes, self.isolate)
            p = xp.take_along_axis(proba, idx, axis=1)[:, 0]
            cols.append(xp.log(xp.maximum(p, xp.full_like(p, PROBA_FLOOR))))
        return xp.stack(cols, axis=1)

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """Fit the experts on ``weights`` (n, K); update ``state``. Returns
        the (n, K) log-probability of each row's label under each expert."""
        # NumPy labels go to the fits as their columns in ``classes``:
        # the fits' class look-ups are then on integers, not on (often
        # string) labels.
        coded = isinstance(y, np.ndarray)
        fitted = _fit_experts(
            experts,
            X,
            self.index(y) if coded else y,
            weights,
            self.min_responsibility,
            True,
            n_jobs,
            self.isolate,
            classes=self.classes if coded else None,
        )
        state["experts"] = fitted
        return self._observed_log_proba(fitted, X, y)

    def log_likelihood(self, state, X, y):
        """(n, K) log-probability of ``y`` under each expert of ``state``."""
        return self._observed_log_proba(state["experts"], X, y)


#: Smallest mean a count or positive-target expert may predict: a prediction
#: at or below zero (a linear expert beyond its data, say) is a mean of this
#: size, whose log-likelihood is finite and very low, rather than -inf or NaN.
_MEAN_FLOOR = 1e-10


def _positive_means(experts, X, isolate):
    """Each expert's prediction (n, K), floored at ``_MEAN_FLOOR``."""
    preds = _expert_outputs(experts, X, isolate=isolate)
    return np.maximum(_to_numpy(preds), _MEAN_FLOOR)


class PoissonLikelihood:
    """``y ~ Poisson(f_k(x))``: count experts, no noise parameter.

    The experts predict the mean count (``PoissonRegressor``,
    ``HistGradientBoostingRegressor(loss="poisson")``); their M-step is
    their own weighted fit, which for a Poisson GLM maximises the weighted
    Poisson likelihood exactly.
    """

    classifier = False
    name = "poisson"
    parameter = None  # no per-expert parameter

    def __init__(self, min_responsibility=0.0, isolate=False):
        self.min_responsibility = min_responsibility
        self.isolate = isolate

    @classmethod
    def for_fit(cls, y, sample_weight, relative_floor, min_responsibility, isolate):
        return cls(min_responsibility, isolate)

    @staticmethod
    def check_target(y):
        """Counts: non-negative (integers, or any non-negative rate)."""
        if np.any(_to_numpy(y) < 0):
            raise ValueError(
                "likelihood='poisson' needs a non-negative target y (counts); "
                "y has negative values. Use likelihood='gaussian' for a real "
                "target."
            )

    def n_extra_parameters(self, n_experts):
        return 0

    def target_columns(self, y):
        # Counts cluster on their logarithm (a k-means start).
        return np.log1p(np.asarray(y, dtype=np.float64))[:, None]

    def init_features(self, X, y):
        return np.column_stack([X, self.target_columns(y)])

    def m_step(self, experts, X, y, weights, state, n_jobs):
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, False, n_jobs, self.isolate
        )
        state["experts"] = fitted
        state["noise_variance"] = None
        return self._log_density(y, _positive_means(fitted, X, self.isolate))

    @staticmethod
    def _log_density(y, means):
        y = _to_numpy(y)[:, None]
        return y * np.log(means) - means - gammaln(y + 1.0)

    def log_likelihood(self, state, X, y):
        return self._log_density(y, _positive_means(state["experts"], X, False))

    @staticmethod
    def variances(means, parameter):
        """Each expert's variance of y given x: its mean."""
        return means


class GammaLikelihood:
    """``y ~ Gamma(mean f_k(x), dispersion phi_k)``: positive targets.

    The variance is ``phi_k f_k(x)^2`` (a constant coefficient of variation
    per expert, ``sqrt(phi_k)``); ``phi_k`` is estimated by weighted maximum
    likelihood at each M-step. The experts predict the mean
    (``GammaRegressor``, ``HistGradientBoostingRegressor(loss="gamma")``).
    """

    classifier = False
    name = "gamma"
    parameter = "dispersion_"

    def __init__(self, min_responsibility=0.0, isolate=False):
        self.min_responsibility = min_responsibility
        self.isolate = isolate

    @classmethod
    def for_fit(cls, y, sample_weight, relative_floor, min_responsibility, isolate):
        return cls(min_responsibility, isolate)

    @staticmethod
    def check_target(y):
        """Positive values."""
        if np.any(_to_numpy(y) <= 0):
            raise ValueError(
                "likelihood='gamma' needs a positive target y; y has values at "
                "or below 0. Use likelihood='poisson' for counts with zeros, or "
                "likelihood='gaussian'."
            )

    def n_extra_parameters(self, n_experts):
        return n_experts  # one dispersion each

    def target_columns(self, y):
        return np.log(np.asarray(y, dtype=np.float64))[:, None]

    def init_features(self, X, y):
        return np.column_stack([X, self.target_columns(y)])

    def m_step(self, experts, X, y, weights, state, n_jobs):
        fitted = _fit_experts(
            experts, X, y, weights, self.min_responsibility, False, n_jobs, self.isolate
        )
        means = _positive_means(fitted, X, self.isolate)
        weights = _to_numpy(weights)
        previous = state.get("noise_variance")
        phi = np.empty(means.shape[1])
        for k in range(means.shape[1]):
            prev = None if previous is None else float(previous[k])
            phi[k] = _gamma_dispersion(_to_numpy(y), means[:, k], weights[:, k], prev)
        state["experts"] = fitted
        state["noise_variance"] = phi
        return self._log_density(y, means, phi)

    @staticmethod
    def _log_density(y, means, phi):
        shape = 1.0 / np.asarray(phi)
        y = _to_numpy(y)[:, None]
        return (
            shape * np.log(shape * y / means)
            - shape * y / means
            - np.log(y)
            - gammaln(shape)
        )

    def log_likelihood(self, state, X, y):
        means = _positive_means(state["experts"], X, False)
        return self._log_density(y, means, state["noise_variance"])

    @staticmethod
    def variances(means, parameter):
        return parameter * means**2


#: Bounds of a gamma expert's dispersion: coefficients of variation from
#: 1e-4 to 1e4.
_DISPERSION_BOUNDS = (1e-8, 1e8)


def _gamma_dispersion(y, means, weights, previous=None):
    """Weighted maximum-likelihood dispersion ``1 / shape`` of a gamma
    expert with known means: the root in ``a`` of ``log(a) - digamma(a) =
    d``, ``d`` the weighted mean of ``r - log(r) - 1`` with ``r = y / mean``
    (zero only when every weighted ``y`` equals its mean)."""
    total = weights.sum()
    if not total > 0:
        return previous if previous is not None else 1.0
    r = y / means
    d = float(weights @ (r - np.log(r) - 1.0)) / total
    lo, hi = _DISPERSION_BOUNDS
    if d <= 0:
        return lo
    # log(a) - digamma(a) decreases from +inf to 0: bracket and solve in log a.
    f = lambda t: np.log(np.exp(t)) - digamma(np.exp(t)) - d  # noqa: E731
    shape = np.exp(brentq(f, np.log(1.0 / hi), np.log(1.0 / lo), xtol=1e-12))
    return float(np.clip(1.0 / shape, lo, hi))


class StudentTLikelihood:
    """``y ~ t_{nu_k}(f_k(x), sigma_k^2)``: robust regression experts, each
    with its own squared scale ``sigma_k^2`` and degrees of freedom ``nu_k``.

    Fitted by ECM (Peel & McLachlan 2000; for mixtures of experts,
    Chamroukhi 2016). Each row is a Gaussian of precision ``u / sigma_k^2``
    with ``u ~ Gamma(nu_k / 2, nu_k / 2)`` latent; from the previous
    iterate, the E-step's posterior mean of ``u`` is ``u_ik = (nu_k + 1) /
    (nu_k + r_ik^2 / sigma_k^2)`` (``r`` the residual), small for outliers.
    The conditional M-steps, each of which raises the expected complete-data
    log-likelihood, so that EM never lowers the observed one: expert ``k``
    is refitted on the weights ``h_ik u_ik`` (responsibilities times sample
    weights, times ``u``); ``sigma_k^2 = sum h u r^2 / sum h`` with the new
    residuals; ``nu_k``, within ``DF_BOUNDS``, is the better (in the
    expert's weighted t log-likelihood) of ECM's root of ``1 + log(nu / 2)
    - digamma(nu / 2) + c_k = 0`` and the value that maximises that
    log-likelihood at the new location and scale (ECME's step, which
    converges in far fewer iterations): :func:`_t_degrees_of_freedom`.

    The first M-step of a run (no previous iterate) is the Gaussian one
    (``u = 1``), and each ``nu_k`` starts at the value that maximises the
    expert's weighted t log-likelihood of its residuals at that scale.

    Parameters
    ----------
    variance_floor : float, default=0.0
        Absolute lower bound on every squared scale ``sigma_k^2``.
    min_responsibility : float, default=0.0
        Rows below this responsibility are left out of an expert's fit.
    """

    classifier = False
    name = "student_t"
    # The fitted attributes of the state's two columns.
    parameter = ("noise_variance_", "df_")

    def __init__(self, variance_floor=0.0, min_responsibility=0.0, isolate=False):
        self.variance_floor = variance_floor
        self.min_responsibility = min_responsibility
        self.isolate = isolate

    @classmethod
    def for_fit(cls, y, sample_weight, relative_floor, min_responsibility, isolate):
        """As :meth:`GaussianLikelihood.for_fit`: the floor on the squared
        scales."""
        floor = _variance_floor(y, sample_weight, relative_floor)
        return cls(floor, min_responsibility, isolate)

    def n_extra_parameters(self, n_experts):
        """Free parameters beyond the gate's and the experts': a scale and
        degrees of freedom each."""
        return 2 * n_experts

    @staticmethod
    def check_target(y):
        """Any real target."""

    @staticmethod
    def variances(means, parameter):
        """Each expert's variance of y given x: ``sigma_k^2 nu_k / (nu_k -
        2)``, infinite for ``nu_k <= 2``."""
        parameter = np.asarray(parameter)
        scale2, df = parameter[:, 0], parameter[:, 1]
        with np.errstate(divide="ignore"):
            return np.where(df > 2, scale2 * df / np.maximum(df - 2, 0.0), np.inf)

    def target_columns(self, y):
        """The target as columns, for the starts that cluster on it: y."""
        return np.asarray(y, dtype=np.float64)[:, None]

    def init_features(self, X, y):
        """Features on which a k-means start clusters the rows: X and y."""
        return np.column_stack([X, self.target_columns(y)])

    def m_step(self, experts, X, y, weights, state, n_jobs):
        """One ECM iteration's M-step on ``weights`` (n, K), the E-step's
        precision weights computed from ``state`` (the previous iterate:
        ``state["experts"]`` fitted and ``state["noise_variance"]`` the
        (K, 2) array of squared scales and degrees of freedom), or a
        Gaussian first step where there is none. Updates ``state``; returns
        the (n, K) log-density of each row under each refitted expert."""
        y_np = _to_numpy(y)
        h = np.asarray(_to_numpy(weights), dtype=np.float64)
        n_experts = h.shape[1]
        previous = state.get("noise_variance")
        old = state.get("experts")
        iterate = (
            previous is not None
            and old is not None
            and len(old) == n_experts
            # A split's fresh clones have no previous fit to weigh rows by.
            and all(
                hasattr(e, "n_features_in_") or isinstance(e, _FailedExpert)
                for e in old
            )
        )
        if previous is not None:
            previous = np.asarray(_to_numpy(previous), dtype=np.float64)
        if iterate:
            old_preds = _to_numpy(_expert_outputs(old, X, isolate=self.isolate))
            u = _t_precision_weights(
                y_np[:, None] - old_preds, previous[:, 0], previous[:, 1]
            )
        else:
            u = np.ones_like(h)
        # Rows under min_responsibility stay out whatever their u.
        fit_weights = np.where(h >= self.min_responsibility, h * u, 0.0)
        fitted = _fit_experts(
            experts, X, y, fit_weights, 0.0, False, n_jobs, self.isolate
        )
        preds = _to_numpy(_expert_outputs(fitted, X, isolate=self.isolate))
        resid = y_np[:, None] - preds
        mass = h.sum(axis=0)
        params = np.empty((n_experts, 2))
        for k in range(n_experts):
            if not mass[k] > 0 or not np.all(np.isfinite(resid[:, k])):
                # No data (or a failed expert): its parameters stay.
                # (As a Gaussian expert's: 0, floored.)
                params[k] = (0.0, DF_BOUNDS[1]) if previous is None else previous[k]
                params[k, 0] = max(params[k, 0], self.variance_floor)
                continue
            scale2 = float(h[:, k] * u[:, k] @ resid[:, k] ** 2) / mass[k]
            scale2 = max(scale2, self.variance_floor)
            candidates = []
            if iterate:
                candidates.append(
                    _t_ecm_degrees_of_freedom(
                        h[:, k], u[:, k], float(previous[k, 1]), mass[k]
                    )
                )
            params[k] = (
                scale2,
                _t_degrees_of_freedom(h[:, k], resid[:, k] ** 2 / scale2, candidates),
            )
        state["experts"] = fitted
        state["noise_variance"] = params
        return _t_log_density(resid, params[:, 0], params[:, 1])

    def log_likelihood(self, state, X, y):
        """(n, K) log-density of ``y`` under each expert of ``state``."""
        params = np.asarray(state["noise_variance"], dtype=np.float64)
        preds = _to_numpy(_expert_outputs(state["experts"], X))
        resid = _to_numpy(y)[:, None] - preds
        return _t_log_density(resid, params[:, 0], params[:, 1])


#: Bounds of a Student-t expert's degrees of freedom: from tails heavier
#: than the Cauchy's (0.5) to a Gaussian for any practical purpose (200).
DF_BOUNDS = (0.5, 200.0)


def _t_log_density(resid, scale2, df):
    """(n, K) log-density of the residuals under t experts."""
    half = 0.5 * (df + 1.0)
    return (
        gammaln(half)
        - gammaln(0.5 * df)
        - 0.5 * np.log(np.pi * df * scale2)
        - half * np.log1p(resid**2 / (df * scale2))
    )


def _t_precision_weights(resid, scale2, df):
    """E-step's ``E[u | y] = (nu + 1) / (nu + r^2 / sigma^2)``, (n, K)."""
    return (df + 1.0) / (df + resid**2 / scale2)


def _t_ecm_degrees_of_freedom(h, u, previous_df, mass):
    """ECM's update of ``nu``: the root of ``1 + log(nu / 2) - digamma(nu /
    2) + c = 0``, ``c = sum h (log u - u) / sum h + digamma((nu0 + 1) / 2) -
    log((nu0 + 1) / 2)``, ``u`` and ``nu0`` from the E-step (Peel &
    McLachlan 2000). The left side decreases in ``nu`` (the expected
    complete-data log-likelihood is concave in it), so the root is unique
    and the maximiser within ``DF_BOUNDS`` is the root clipped to them."""
    half = 0.5 * (previous_df + 1.0)
    c = float(h @ (np.log(u) - u)) / mass + digamma(half) - np.log(half)
    lo, hi = DF_BOUNDS

    def score(log_df):
        a = 0.5 * np.exp(log_df)
        return 1.0 + np.log(a) - digamma(a) + c

    if score(np.log(hi)) >= 0:
        return hi
    if score(np.log(lo)) <= 0:
        return lo
    return float(np.exp(brentq(score, np.log(lo), np.log(hi), xtol=1e-12)))


def _t_degrees_of_freedom(h, z2, candidates=()):
    """The ``nu`` in ``DF_BOUNDS`` of highest weighted t log-likelihood
    ``sum h log t_nu(z)`` of the standardised residuals (``z2 = z^2``, at
    the new location and scale), among: the root of its derivative in
    ``nu`` (the ECME step of Liu & Rubin 1994), found by ``brentq``
    between the bounds where the derivative changes sign there, the bounds
    themselves, and ``candidates`` (ECM's update).

    ECM's update alone raises the likelihood but, with the ``u`` of the
    previous iterate, crawls where ``nu`` is large (300 iterations did not
    reach the optimum for ``nu = 10`` and 3,000 rows); the root maximises
    it outright. Keeping the best of both, EM still never lowers the
    observed log-likelihood.
    """
    total = h.sum()
    lo, hi = np.log(DF_BOUNDS[0]), np.log(DF_BOUNDS[1])

    def score(log_df):
        df = np.exp(log_df)
        return (
            digamma(0.5 * (df + 1.0))
            - digamma(0.5 * df)
            - float(h @ (np.log1p(z2 / df) - (z2 - 1.0) / (df + z2))) / total
        )

    def log_lik(df):
        return float(h @ _t_log_density(np.sqrt(z2), 1.0, df))

    found = [DF_BOUNDS[0], DF_BOUNDS[1], *candidates]
    if score(lo) > 0 > score(hi):
        found.append(float(np.exp(brentq(score, lo, hi, xtol=1e-12))))
    return max(found, key=log_lik)


#: The families of the regressors' ``likelihood`` parameter.
REGRESSION_LIKELIHOODS = {
    "gaussian": GaussianLikelihood,
    "poisson": PoissonLikelihood,
    "gamma": GammaLikelihood,
    "student_t": StudentTLikelihood,
}
