"""Starting partitions for EM: weighted k-means on the features and target.

The kinds of start (``init_params``) are dispatched by the estimator's
``_responsibilities_of_kind``; small-EM (``_em.py``) tries several of them.
"""

import numpy as np

from ._kernels import cluster_sums, lloyd_assign


def _weighted_kmeans(Z, weight, n_clusters, rng, max_iter=30):
    """Weighted k-means (k-means++ seeding, Lloyd iterations); returns labels.

    Seeds are drawn by inverting the cumulative weight, so rows repeated in
    place of integer weights give the same centres: the initialisation honours
    ``sample_weight`` like the EM updates do. Every cluster keeps at least one
    row of positive weight.
    """
    positive = np.flatnonzero(weight > 0)
    Z, w = Z[positive], weight[positive]

    def draw(p):
        cum = np.cumsum(p)
        if cum[-1] <= 0:
            cum = np.cumsum(w)
        return min(
            np.searchsorted(cum, rng.uniform() * cum[-1], side="right"), w.size - 1
        )

    centers = np.empty((n_clusters, Z.shape[1]))
    centers[0] = Z[draw(w)]
    closest = lloyd_assign(Z, w, centers[:1])[1]
    for j in range(1, n_clusters):
        centers[j] = Z[draw(w * closest)]
        closest = np.minimum(closest, lloyd_assign(Z, w, centers[j : j + 1])[1])

    labels = None
    for _ in range(max_iter):
        new_labels, d2, sums, mass = lloyd_assign(Z, w, centers)
        # Give each empty cluster the row farthest from its current centre.
        counts = np.bincount(new_labels, minlength=n_clusters)
        if np.any(counts == 0):
            for j in np.flatnonzero(counts == 0):
                far = np.argmax(d2 * (counts[new_labels] > 1))
                new_labels[far] = j
                d2[far] = np.sum((Z[far] - centers[j]) ** 2)
                counts = np.bincount(new_labels, minlength=n_clusters)
            sums, mass = cluster_sums(new_labels, w, Z, n_clusters)
        if labels is not None and np.array_equal(labels, new_labels):
            break
        labels = new_labels
        centers = sums / mass[:, None]

    full = np.zeros(weight.size, dtype=np.intp)
    full[positive] = labels
    # Zero-weight rows take the nearest centre; they do not move anything.
    zero = np.flatnonzero(weight <= 0)
    if zero.size:
        full[zero] = 0
    return full
