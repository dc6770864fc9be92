"""
==============================================
Classification: two logistic experts solve XOR
==============================================

In the XOR problem the label is 1 where both features have the same sign. No
single logistic regression does better than chance, since no straight line
separates the classes. A mixture of two logistic experts does: the gate
splits the plane along one feature, and on each half one straight line
suffices.

Left: the gate's regions (colour: the most probable expert; opacity: how sure
the gate is) with the data on top (one marker per class). Right: the
mixture's probability of class 1.
"""

# %%
# Fit a single logistic regression and a mixture of two
# ------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmoe import MixtureOfExpertsClassifier
from skmoe.datasets import make_xor
from skmoe.inspection import GateDisplay

X, y = make_xor(n_samples=600, noise=0.02, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

logistic = LogisticRegression().fit(X_train, y_train)
moe = MixtureOfExpertsClassifier(n_experts=2, n_init=3, random_state=0).fit(
    X_train, y_train
)
print(f"logistic regression test accuracy: {logistic.score(X_test, y_test):.3f}")
print(f"mixture of 2 logistic experts:      {moe.score(X_test, y_test):.3f}")

# %%
# The gate and the mixture's probabilities
# ----------------------------------------
fig, (ax_gate, ax_proba) = plt.subplots(1, 2, figsize=(11, 4.5))
GateDisplay.from_estimator(moe, X_train, y=y_train, grid_resolution=150, ax=ax_gate)

grid = np.linspace(-1.05, 1.05, 150)
xx0, xx1 = np.meshgrid(grid, grid)
proba = moe.predict_proba(np.column_stack([xx0.ravel(), xx1.ravel()]))[:, 1]
surface = ax_proba.contourf(
    xx0, xx1, proba.reshape(xx0.shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r"
)
ax_proba.scatter(
    X_train[:, 0], X_train[:, 1], c=y_train, cmap="RdBu_r", edgecolor="k", s=15
)
fig.colorbar(surface, ax=ax_proba, label="P(y = 1)")
ax_proba.set(title="Mixture's probability of class 1", xlabel="x0", ylabel="x1")
fig.tight_layout()

# %%
# One expert's gate probability as contours
# -----------------------------------------
# ``kind="contour"`` draws one expert's gate probability; the dashed line is
# where it equals 0.5, the boundary between the two experts' regions.
GateDisplay.from_estimator(moe, X_train, kind="contour", expert=0, grid_resolution=80)
plt.show()
