"""
============================================================
The partition learned by a hierarchical mixture of experts
============================================================

:func:`~skmoe.datasets.make_hierarchical_regimes` draws four linear regimes
behind a two-level split: first on ``x0`` at 0, then on ``x1`` at 0.5 on the
left and at -0.5 on the right. A hierarchical mixture of experts with a binary
tree of depth 2 has exactly this shape: a root gate that splits on ``x0`` and
one gate per branch that splits on ``x1``, each with its own threshold.

A flat mixture with four experts has a single softmax gate. Its regions are
cut out by the pairwise boundaries of four linear logits, which cannot put a
boundary on ``x1`` at a height that depends on the side of ``x0``: it can only
approximate the branch-dependent thresholds.

We fit both and colour a grid over ``(x0, x1)`` by the expert each row is
routed to (the most probable branch at every gate for the tree, the most
probable expert for the flat mixture), with the true thresholds drawn on top.
"""

# %%
# Data and models
# ---------------
from itertools import permutations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from skmoe import HierarchicalMixtureOfExpertsRegressor, MixtureOfExpertsRegressor
from skmoe.datasets import make_hierarchical_regimes
from skmoe.inspection import export_text

X, y, truth = make_hierarchical_regimes(
    1000, noise=0.2, random_state=0, return_params=True
)
X_test, y_test = make_hierarchical_regimes(2000, noise=0.2, random_state=1)

hme = HierarchicalMixtureOfExpertsRegressor(depth=2, branching=2, random_state=0)
hme.fit(X, y)
flat = MixtureOfExpertsRegressor(n_experts=4, n_init=3, random_state=0).fit(X, y)

for name, model in [("tree (depth 2)", hme), ("flat (4 experts)", flat)]:
    print(
        f"{name:17s} held-out log-likelihood per row "
        f"{model.score_samples(X_test, y_test).mean():.3f}, "
        f"R^2 {model.score(X_test, y_test):.4f}"
    )

# %%
# The fitted tree as text: each gate's share of the data and each leaf's
# expert (intercept, coefficients and noise standard deviation).
print(export_text(hme))


# %%
# The learned partitions
# ----------------------
# Leaves are matched to the true regimes by the permutation that agrees most
# often on the training rows, so that colours mean the same in every panel.
def regime_of_expert(assignment, regime, n_experts=4):
    best = max(
        permutations(range(n_experts)),
        key=lambda p: np.mean(np.asarray(p)[assignment] == regime),
    )
    return np.asarray(best)


grid = np.linspace(-2, 2, 301)
xx0, xx1 = np.meshgrid(grid, grid)
X_grid = np.column_stack([xx0.ravel(), xx1.ravel()])

true_grid = 2 * (xx0 > 0) + (xx1 > np.where(xx0 > 0, -0.5, 0.5))
hme_map = regime_of_expert(hme.apply(X), truth["regime"])
flat_map = regime_of_expert(flat.predict_gate_proba(X).argmax(axis=1), truth["regime"])
panels = [
    ("True regimes", true_grid),
    (
        "Hierarchical mixture, depth 2\n(most probable branch at every gate)",
        hme_map[hme.apply(X_grid)].reshape(xx0.shape),
    ),
    (
        "Flat mixture, 4 experts\n(most probable expert)",
        flat_map[flat.predict_gate_proba(X_grid).argmax(axis=1)].reshape(xx0.shape),
    ),
]

cmap = ListedColormap(["#4c72b0", "#dd8452", "#55a868", "#c44e52"])
fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), sharex=True, sharey=True)
for ax, (title, regions) in zip(axes, panels, strict=True):
    ax.pcolormesh(xx0, xx1, regions, cmap=cmap, vmin=-0.5, vmax=3.5, alpha=0.55)
    # The true thresholds: x0 = 0, then x1 = 0.5 (left) and x1 = -0.5 (right).
    ax.plot([0, 0], [-2, 2], color="k", lw=1.5)
    ax.plot([-2, 0], [0.5, 0.5], color="k", lw=1.5)
    ax.plot([0, 2], [-0.5, -0.5], color="k", lw=1.5)
    ax.scatter(X[:300, 0], X[:300, 1], c="k", s=3, alpha=0.4)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x0")
axes[0].set_ylabel("x1")
handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(k), alpha=0.55) for k in range(4)]
fig.legend(
    handles,
    [f"regime {k}" for k in range(4)],
    loc="lower center",
    ncol=4,
    frameon=False,
)
fig.suptitle("Black lines: the true thresholds", fontsize=10)
fig.tight_layout(rect=(0, 0.07, 1, 1))

# %%
# The tree's gates each draw one line, and the second-level gates draw them at
# different heights, as the data were made. The flat gate has to bend its
# boundaries to approximate the step in the ``x1`` threshold, and misroutes the
# rows near it.
agree_hme = np.mean(panels[1][1] == true_grid)
agree_flat = np.mean(panels[2][1] == true_grid)
print(
    f"share of the grid routed to the true regime: tree {agree_hme:.3f}, "
    f"flat {agree_flat:.3f}"
)

plt.show()
