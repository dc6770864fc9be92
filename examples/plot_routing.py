"""
=========================================
Soft, hard and top-k routing
=========================================

A fitted mixture can combine its experts in three ways at prediction time
(the ``routing`` parameter):

* ``"soft"``: every expert, weighted by the gate: the mixture's mean;
* ``"hard"``: only the most probable expert per row;
* ``"top_k"``: the ``top_k`` most probable experts, their gate probabilities
  renormalised.

Hard and top-k routing evaluate each expert only on the rows routed to it,
which is where a mixture of experts saves compute with many or expensive
experts. This example compares the three on data with five regimes: the
predictions differ only where the gate hesitates, near the boundaries.
The routing can be changed after fitting with ``set_params`` (no refit).
"""

# %%
# Fit five experts on a piecewise-linear function
# -----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_piecewise_linear
from skmoe.inspection import ExpertUsageDisplay

X, y = make_piecewise_linear(
    n_samples=400,
    breakpoints=(-1.8, -0.6, 0.6, 1.8),
    slopes=(2.0, -1.0, 1.5, -2.0, 1.0),
    noise=0.15,
    random_state=0,
)
moe = MixtureOfExpertsRegressor(n_experts=5, n_init=3, random_state=0).fit(X, y)

# %%
# Predictions under each routing
# ------------------------------
grid = np.linspace(-3, 3, 400)[:, None]
fig, (ax, ax_diff) = plt.subplots(
    2, 1, figsize=(7, 6), sharex=True, height_ratios=(2, 1)
)
ax.scatter(X[:, 0], y, s=6, color="0.6", label="data")
predictions = {}
for routing, style in (("soft", "-"), ("hard", "--"), ("top_k", ":")):
    moe.set_params(routing=routing, top_k=2)
    predictions[routing] = moe.predict(grid)
    ax.plot(grid[:, 0], predictions[routing], style, lw=2, label=routing)
    print(f"routing={routing!r:8s} training R^2 = {r2_score(y, moe.predict(X)):.4f}")
ax.legend()
ax.set_ylabel("prediction")
ax.set_title("Predictions under soft, hard and top-2 routing")
for routing in ("hard", "top_k"):
    ax_diff.plot(
        grid[:, 0],
        predictions[routing] - predictions["soft"],
        label=f"{routing} - soft",
    )
ax_diff.set(xlabel="x", ylabel="difference")
ax_diff.legend()
fig.tight_layout()

# %%
# How many rows each expert gets
# ------------------------------
# Under hard routing each row goes to one expert; the bars compare that share
# with the mean gate probability (the soft share) and with the expert's share
# of the training data's responsibility.
moe.set_params(routing="soft")
ExpertUsageDisplay.from_estimator(moe, X)
plt.show()
