"""numba kernel of :mod:`._kmeans` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _lloyd_assign(Z, w, centers, labels, d2_own, lo, hi):
    """Assign rows ``lo:hi`` to their nearest centre; their weighted sums.

    Writes ``labels`` and ``d2_own`` (squared distance to the chosen centre)
    for those rows and returns the rows' per-centre weighted sums of ``Z``
    and weights. Ties go to the lowest index, as ``np.argmin``'s.
    """
    n_clusters, n_features = centers.shape
    sums = np.zeros((n_clusters, n_features))
    mass = np.zeros(n_clusters)
    for i in range(lo, hi):
        best = np.inf
        arg = 0
        for k in range(n_clusters):
            d2 = 0.0
            for j in range(n_features):
                diff = Z[i, j] - centers[k, j]
                d2 += diff * diff
            if d2 < best:
                best = d2
                arg = k
        labels[i] = arg
        d2_own[i] = best
        wi = w[i]
        mass[arg] += wi
        for j in range(n_features):
            sums[arg, j] += wi * Z[i, j]
    return sums, mass
