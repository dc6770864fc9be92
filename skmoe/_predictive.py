"""One-dimensional Gaussian (or Student-t) mixtures, one per row: the
regressors' predictive distributions.

A fitted regressor's predictive distribution at ``x`` is
``p(y | x) = sum_k g_k(x) N(y; mu_k(x), sigma_k^2)`` (Student-t components
``t_{nu_k}(y; mu_k(x), sigma_k^2)`` for ``likelihood="student_t"``:
:class:`_RowTMixtures`, which changes only the components' density,
distribution function, quantiles and draws). :class:`_RowMixtures`
holds these mixtures for a batch of rows (on the host, in float64) and
computes what the regressors' ``predict_quantiles``, ``predict_interval``
and ``sample_y`` return: quantiles by bisection on the mixture's CDF,
highest-density sets by regula falsi on the density threshold (their
endpoints by Newton's method), and draws.
Everything is vectorised over rows; memory is bounded by working on blocks
of rows.
"""

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from ._likelihood import _t_log_density

#: Quantiles are exact within this fraction of the smallest noise standard
#: deviation among the experts a row's gate weighs (or within the float64
#: resolution of the value, where that is coarser).
QUANTILE_RTOL = 1e-9

#: A highest-density set's probability is within this of the coverage asked.
HDR_MASS_TOL = 1e-9

#: Grid points per expert, over ``mu_k +- HDR_GRID_HALF_WIDTH * sigma_k``, on
#: which the density's extrema are first located (odd, so the grid holds
#: each expert's mean).
HDR_GRID_POINTS = 65
HDR_GRID_HALF_WIDTH = 8.0

# Elements (rows x points x experts) of one block's largest temporary array.
_BLOCK_ELEMENTS = 1 << 21
_MAX_ITERATIONS = 2000
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _resolved(lo, hi, tol):
    """Whether each bracket ``[lo, hi]`` is down to ``tol``, or to the few
    ulps below which float64 cannot split it."""
    floor = 4 * np.finfo(np.float64).eps * np.maximum(abs(lo), abs(hi))
    return abs(hi - lo) <= np.maximum(tol, floor)


def _blocks(n_rows, per_row):
    """Slices of rows whose temporaries hold about ``_BLOCK_ELEMENTS``."""
    size = max(1, _BLOCK_ELEMENTS // max(per_row, 1))
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


class _RowMixtures:
    """``n`` Gaussian mixtures of ``K`` components: row ``i`` has weights
    ``weights[i]``, means ``means[i]`` and standard deviations ``scales[i]``.

    Parameters
    ----------
    weights : ndarray of shape (n, K)
        Non-negative, each row summing to one.
    means : ndarray of shape (n, K)
    scales : ndarray of shape (n, K)
        Positive.
    """

    def __init__(self, weights, means, scales):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.scales = np.broadcast_to(
            np.asarray(scales, dtype=np.float64), self.weights.shape
        )

    def _take(self, rows):
        return self.weights[rows], self.means[rows], self.scales[rows]

    # ------------------------------------------------------------------
    # Density and distribution function at points y of shape (n, m) of the
    # mixtures (w, mu, s), each (n, K): passed explicitly so that a block of
    # rows or a flat list of (row, point) pairs is evaluated the same way.
    # Components of weight zero (a failed expert, whose mean is a
    # placeholder) add nothing, and take no part in brackets and tolerances.
    # ------------------------------------------------------------------
    @staticmethod
    def _pdf(y, w, mu, s):
        z = (y[..., None] - mu[..., None, :]) / s[..., None, :]
        dens = w[..., None, :] * np.exp(-0.5 * z * z) / s[..., None, :]
        return np.sum(dens, axis=-1) / _SQRT_2PI

    @staticmethod
    def _cdf(y, w, mu, s):
        z = (y[..., None] - mu[..., None, :]) / s[..., None, :]
        return np.sum(w[..., None, :] * ndtr(z), axis=-1)

    @staticmethod
    def _x_tolerance(w, s):
        """Per-row absolute tolerance on y: ``QUANTILE_RTOL`` times the
        smallest standard deviation among the weighed components."""
        return QUANTILE_RTOL * np.min(np.where(w > 0, s, np.inf), axis=1)

    def _standard_quantiles(self, q):
        """Each component's quantiles at ``q`` in units of its scale around
        its mean, broadcastable to (1, m, K)."""
        return ndtri(q)[None, :, None]

    def _grid_offsets(self, t):
        """Grid offsets per component in units of its scale, broadcastable
        to (K, P), at the points ``t`` of a standard normal."""
        return t[None, :]

    def _tail_factors(self, comp, rng):
        """Factors of the standard normal draws of components ``comp``: 1."""
        return 1.0

    # ------------------------------------------------------------------
    # Quantiles
    # ------------------------------------------------------------------
    def quantiles(self, q):
        """Quantiles at levels ``q`` (shape (m,), each in (0, 1)), (n, m).

        Bisection on the CDF inside ``[min_k, max_k]`` of the components'
        own quantiles ``mu_k + sigma_k Phi^-1(q)`` (the mixture's CDF is at
        most ``q`` at the smallest and at least ``q`` at the largest), down
        to :data:`QUANTILE_RTOL` times the smallest weighed standard
        deviation, or to the float64 resolution of the value.
        """
        q = np.asarray(q, dtype=np.float64)
        n, n_comp = self.weights.shape
        out = np.empty((n, q.size))
        for rows in _blocks(n, q.size * n_comp):
            w, mu, s = self._take(rows)
            comp = mu[:, None, :] + s[:, None, :] * self._standard_quantiles(q)
            used = (w > 0)[:, None, :]
            lo = np.min(np.where(used, comp, np.inf), axis=2)
            hi = np.max(np.where(used, comp, -np.inf), axis=2)
            tol = self._x_tolerance(w, s)[:, None]
            for _ in range(_MAX_ITERATIONS):
                if np.all(_resolved(lo, hi, tol)):
                    break
                mid = lo + 0.5 * (hi - lo)
                below = self._cdf(mid, w, mu, s) < q
                lo = np.where(below, mid, lo)
                hi = np.where(below, hi, mid)
            out[rows] = lo + 0.5 * (hi - lo)
        return out

    # ------------------------------------------------------------------
    # Highest-density sets
    # ------------------------------------------------------------------
    def _grid(self, w, mu, s):
        """Sorted points per row (n, m): ``HDR_GRID_POINTS`` per component
        over ``mu_k +- HDR_GRID_HALF_WIDTH sigma_k``, plus the density's
        local maxima and minima, refined.

        With the extrema on the grid the density is monotone between
        neighbouring points, so each cell holds at most one crossing of any
        level ``c``: no piece of a superlevel set ``{p >= c}`` (each holds a
        maximum) and no gap between two pieces (each holds a minimum) is
        missed, however close ``c`` is to an extremum's height.
        """
        t = np.linspace(-HDR_GRID_HALF_WIDTH, HDR_GRID_HALF_WIDTH, HDR_GRID_POINTS)
        # Components of weight zero sit on a weighed one, adding no points
        # in empty regions.
        first = np.argmax(w > 0, axis=1)
        rows = np.arange(w.shape[0])
        mu = np.where(w > 0, mu, mu[rows, first][:, None])
        s = np.where(w > 0, s, s[rows, first][:, None])
        offsets = self._grid_offsets(t)[None]
        grid = np.sort(
            (mu[:, :, None] + s[:, :, None] * offsets).reshape(w.shape[0], -1)
        )
        return np.sort(np.concatenate([grid, self._extrema(grid, w, mu, s)], 1), 1)

    def _extrema(self, grid, w, mu, s):
        """The local maxima and minima of the density that the grid
        brackets, (n, M): a grid point at least as high (low) as its left
        neighbour and higher (lower) than its right one brackets one, found
        by bisection on the sign of the derivative. Rows with fewer than
        ``M`` extrema repeat their highest grid point."""
        dens = self._pdf(grid, w, mu, s)
        mid_d, left, right = dens[:, 1:-1], dens[:, :-2], dens[:, 2:]
        peak = (mid_d >= left) & (mid_d > right)
        trough = (mid_d <= left) & (mid_d < right)
        r, j = np.nonzero(peak | trough)
        j = j + 1  # index into grid
        is_peak = peak[r, j - 1]
        lo, hi = grid[r, j - 1], grid[r, j + 1]
        wr, mur, sr = w[r], mu[r], s[r]
        tol = self._x_tolerance(wr, sr)
        for _ in range(_MAX_ITERATIONS):
            if np.all(_resolved(lo, hi, tol)):
                break
            x = lo + 0.5 * (hi - lo)
            _, slope = self._pdf_slope(x, wr, mur, sr)
            # Left of a maximum the density rises; left of a minimum it falls.
            left_of = np.where(is_peak, slope > 0, slope < 0)
            lo = np.where(left_of, x, lo)
            hi = np.where(left_of, hi, x)
        found = lo + 0.5 * (hi - lo)
        count = np.bincount(r, minlength=grid.shape[0])
        out = np.repeat(
            grid[np.arange(grid.shape[0]), np.argmax(dens, 1)][:, None],
            max(count.max(initial=0), 1),
            axis=1,
        )
        slot = np.arange(r.size) - np.repeat(np.cumsum(count) - count, count)
        out[r, slot] = found
        return out

    @staticmethod
    def _pdf_slope(y, w, mu, s):
        """Density and its derivative at ``y`` (T,) of mixtures (T, K)."""
        z = (y[:, None] - mu) / s
        dens = w * np.exp(-0.5 * z * z) / (s * _SQRT_2PI)
        return np.sum(dens, axis=1), -np.sum(dens * z / s, axis=1)

    def _crossings(self, grid, dens, c, w, mu, s, tol):
        """The superlevel set ``{p >= c}`` of each row as sorted endpoints.

        Returns ``(rows, lower, upper)``: interval ``t`` of the set is
        ``[lower[t], upper[t]]`` on row ``rows[t]``. Where the density
        crosses ``c`` between two grid points, the crossing is found within
        ``tol`` by Newton's method kept inside the cell (bisection where a
        step would leave it); a set reaching the grid's end stops there
        (where the density is below ``1e-14`` of its peak).
        """
        inside = dens >= c[:, None]
        n, m = inside.shape
        edge = np.zeros((n, 1), dtype=bool)
        step = np.diff(np.concatenate([edge, inside, edge], 1).astype(np.int8), axis=1)
        # step[:, j] = +1: the set starts between grid[j-1] and grid[j];
        # -1: it ends between grid[j-1] and grid[j] (j in 0..m).
        r, j = np.nonzero(step)
        rising = step[r, j] > 0
        inner = (j > 0) & (j < m)
        a = grid[r, np.clip(j - 1, 0, m - 1)]
        b = grid[r, np.clip(j, 0, m - 1)]
        ends = np.where(rising, b, a)
        ri, ji = r[inner], j[inner]
        # Orient each cell so that p < c at ``lo`` and p >= c at ``hi``.
        up = rising[inner]
        lo = np.where(up, a[inner], b[inner])
        hi = np.where(up, b[inner], a[inner])
        f_lo = np.where(up, dens[ri, ji - 1], dens[ri, ji]) - c[ri]
        f_hi = np.where(up, dens[ri, ji], dens[ri, ji - 1]) - c[ri]
        # Start from the linear interpolation of the cell.
        x = lo + (hi - lo) * (-f_lo / (f_hi - f_lo))
        active = np.arange(ri.size)
        for _ in range(_MAX_ITERATIONS):
            if active.size == 0:
                break
            rr = ri[active]
            xa, la, ha = x[active], lo[active], hi[active]
            fx, slope = self._pdf_slope(xa, w[rr], mu[rr], s[rr])
            fx = fx - c[rr]
            above = fx >= 0
            la = np.where(above, la, xa)
            ha = np.where(above, xa, ha)
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = xa - fx / slope
            # Newton's step where it stays strictly inside the bracket.
            inside_bracket = (newton > np.minimum(la, ha)) & (
                newton < np.maximum(la, ha)
            )
            nxt = np.where(inside_bracket, newton, la + 0.5 * (ha - la))
            settled = (abs(nxt - xa) <= tol[rr]) | _resolved(la, ha, tol[rr])
            x[active], lo[active], hi[active] = nxt, la, ha
            active = active[~settled]
        ends[inner] = x
        return r[rising], ends[rising], ends[~rising]

    def _mass(self, rows, lower, upper, w, mu, s, n):
        """Probability of each row's union of intervals, (n,)."""
        mass = self._cdf(upper[:, None], w[rows], mu[rows], s[rows])[:, 0]
        mass -= self._cdf(lower[:, None], w[rows], mu[rows], s[rows])[:, 0]
        return np.bincount(rows, weights=mass, minlength=n)

    def _threshold(self, grid, dens, w, mu, s, tol, coverage):
        """The density threshold ``c`` of each row whose superlevel set has
        probability in ``[coverage, coverage + HDR_MASS_TOL]``.

        The probability ``M(c)`` of ``{p >= c}`` decreases from about 1 at
        ``c = 0`` to 0 at the density's maximum. ``c`` is found by the
        Illinois variant of regula falsi on ``M(c) - coverage``, which keeps
        a bracket (bisecting where a step would leave it), on the rows not
        yet settled.
        """
        nb = w.shape[0]
        c_lo, c_hi = np.zeros(nb), dens.max(axis=1)
        g_lo, g_hi = np.full(nb, 1.0 - coverage), np.full(nb, -coverage)
        side = np.zeros(nb, dtype=np.int8)  # which end moved last: -1 lo, +1 hi
        active = np.arange(nb)
        for _ in range(_MAX_ITERATIONS):
            # Also stop where c is as exact as float64 allows.
            active = active[~_resolved(c_lo[active], c_hi[active], 0.0)]
            if active.size == 0:
                break
            cl, ch, gl, gh = c_lo[active], c_hi[active], g_lo[active], g_hi[active]
            c = ch - gh * (ch - cl) / (gh - gl)
            c = np.where((c > cl) & (c < ch), c, cl + 0.5 * (ch - cl))
            found = self._crossings(
                grid[active],
                dens[active],
                c,
                w[active],
                mu[active],
                s[active],
                tol[active],
            )
            g = self._mass(*found, w[active], mu[active], s[active], active.size)
            g -= coverage
            enough = g >= 0
            last = side[active]
            # Illinois: halve the stale end's value when the same end moves
            # twice in a row, so that both ends converge.
            g_hi[active] = np.where(enough & (last == -1), gh / 2, gh)
            g_lo[active] = np.where(~enough & (last == 1), gl / 2, gl)
            c_lo[active] = np.where(enough, c, cl)
            g_lo[active] = np.where(enough, g, g_lo[active])
            c_hi[active] = np.where(enough, ch, c)
            g_hi[active] = np.where(enough, g_hi[active], g)
            side[active] = np.where(enough, -1, 1)
            active = active[~(enough & (g <= HDR_MASS_TOL))]
        return c_lo

    def highest_density_sets(self, coverage):
        """Each row's highest-density set of probability ``coverage``.

        The set is ``{y : p(y) >= c}`` with ``c`` found so that its
        probability (by the exact CDF) is within :data:`HDR_MASS_TOL` of
        ``coverage``, from above (:meth:`_threshold`); its endpoints are
        exact within the quantile tolerance.

        Returns
        -------
        sets : list of n ndarrays of shape (n_intervals_i, 2)
        """
        n, n_comp = self.weights.shape
        n_points = n_comp * HDR_GRID_POINTS + 2 * n_comp
        sets = []
        for rows in _blocks(n, n_points * n_comp):
            w, mu, s = self._take(rows)
            nb = w.shape[0]
            grid = self._grid(w, mu, s)
            dens = self._pdf(grid, w, mu, s)
            tol = self._x_tolerance(w, s)
            c = self._threshold(grid, dens, w, mu, s, tol, coverage)
            rows_t, lower, upper = self._crossings(grid, dens, c, w, mu, s, tol)
            order = np.argsort(rows_t, kind="stable")
            bounds = np.column_stack([lower[order], upper[order]])
            splits = np.cumsum(np.bincount(rows_t, minlength=nb))[:-1]
            sets.extend(np.split(bounds, splits))
        return sets

    # ------------------------------------------------------------------
    # Draws
    # ------------------------------------------------------------------
    def sample(self, n_samples, rng):
        """``n_samples`` draws per row, shape (n, n_samples): a component by
        its weight, then a normal draw from it."""
        n, n_comp = self.weights.shape
        cum = np.cumsum(self.weights, axis=1)
        u = rng.uniform(size=(n, n_samples)) * cum[:, -1:]
        noise = rng.standard_normal(size=(n, n_samples))
        comp = np.empty((n, n_samples), dtype=np.intp)
        for rows in _blocks(n, n_samples * n_comp):
            comp[rows] = _components(cum[rows], u[rows])
        idx = np.arange(n)[:, None]
        noise = noise * self._tail_factors(comp, rng)
        return self.means[idx, comp] + self.scales[idx, comp] * noise


class _RowTMixtures(_RowMixtures):
    """``n`` mixtures of ``K`` Student-t components: as :class:`_RowMixtures`,
    component ``k`` a t distribution with ``df[k]`` degrees of freedom,
    location ``means[i, k]`` and scale ``scales[i, k]``.

    The highest-density grid of a component lies at its quantiles of the
    probabilities of the Gaussian grid points (``Phi(t)``, ``t`` in
    ``+- HDR_GRID_HALF_WIDTH``): the same probability reach into heavier
    tails, with cells that widen where the density flattens.

    Parameters
    ----------
    weights, means, scales : ndarray of shape (n, K)
        As for :class:`_RowMixtures` (``scales`` are the t scales, not
        standard deviations).
    df : ndarray of shape (K,)
        Positive degrees of freedom of each component.
    """

    def __init__(self, weights, means, scales, df):
        super().__init__(weights, means, scales)
        self.df = np.asarray(df, dtype=np.float64)

    def _pdf(self, y, w, mu, s):
        resid = y[..., None] - mu[..., None, :]
        log_t = _t_log_density(resid, s[..., None, :] ** 2, self.df)
        return np.sum(w[..., None, :] * np.exp(log_t), axis=-1)

    def _cdf(self, y, w, mu, s):
        z = (y[..., None] - mu[..., None, :]) / s[..., None, :]
        return np.sum(w[..., None, :] * stdtr(self.df, z), axis=-1)

    def _pdf_slope(self, y, w, mu, s):
        resid = y[:, None] - mu
        dens = w * np.exp(_t_log_density(resid, s**2, self.df))
        slope = -dens * (self.df + 1) * resid / (self.df * s**2 + resid**2)
        return np.sum(dens, axis=1), np.sum(slope, axis=1)

    def _standard_quantiles(self, q):
        return stdtrit(self.df[None, None, :], q[None, :, None])

    def _grid_offsets(self, t):
        return stdtrit(self.df[:, None], ndtr(t)[None, :])

    def _tail_factors(self, comp, rng):
        """A t draw is a normal one times ``sqrt(nu / chi2_nu)``."""
        df = self.df[comp]
        return np.sqrt(df / rng.chisquare(df))


def _components(cum, u):
    """The component of each draw (n, n_samples): the first whose
    cumulative weight ``cum`` (n, n_comp) exceeds its uniform ``u``."""
    comp = np.sum(cum[:, None, :] <= u[:, :, None], axis=2)
    return np.minimum(comp, cum.shape[1] - 1)


def _sample_multivariate(weights, means, noise, n_samples, rng):
    """Draws from each row's mixture of multivariate normals, shape
    (n, n_targets, n_samples): a component by its weight (n, K), then a
    draw from its normal, mean ``means`` (n, K, T) and covariance ``noise``
    (K, T, T), or variances (K, T)."""
    n, n_comp, n_targets = means.shape
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim == 2:
        factors = np.stack([np.diag(np.sqrt(v)) for v in noise])
    else:
        factors = np.stack([np.linalg.cholesky(c) for c in noise])
    cum = np.cumsum(weights, axis=1)
    u = rng.uniform(size=(n, n_samples)) * cum[:, -1:]
    z = rng.standard_normal(size=(n, n_samples, n_targets))
    out = np.empty((n, n_samples, n_targets))
    for rows in _blocks(n, n_samples * max(n_comp, n_targets * n_targets)):
        comp = _components(cum[rows], u[rows])
        idx = np.arange(n)[rows, None]
        out[rows] = means[idx, comp] + np.einsum(
            "nstu,nsu->nst", factors[comp], z[rows]
        )
    return out.transpose(0, 2, 1)
