"""
==========================================
Tree experts or linear experts?
==========================================

Any scikit-learn regressor that accepts ``sample_weight`` can be an expert.
Which one fits depends on the shape of the regimes:

* on **piecewise-linear** data, three linear experts recover the three
  segments exactly, while shallow trees approximate each slope by steps;
* on **piecewise-constant** data with smooth parts, shallow tree experts
  capture the jumps and plateaus that straight lines cannot.

The experts' curves are drawn thick where the gate trusts them; each panel's
title gives the R^2 on held-out data.
"""

# %%
# Two data sets with three regimes each
# -------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_piecewise_linear
from skmoe.inspection import ExpertsDisplay

X_lin, y_lin = make_piecewise_linear(n_samples=300, noise=0.2, random_state=0)

rng = np.random.RandomState(0)
X_step = rng.uniform(-3, 3, size=(300, 1))
x = X_step[:, 0]
y_step = np.select(
    [x < -1, x < 1], [2.0 + (x < -2), 0.5 * np.sin(4 * x)], default=-2.0 + (x > 2)
) + rng.normal(scale=0.2, size=x.size)

experts = {
    "linear experts": None,  # LinearRegression, the default
    "tree experts (max_depth=2)": DecisionTreeRegressor(max_depth=2),
}

# %%
# Fit both kinds of experts on both data sets
# -------------------------------------------
fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
for row, (data_name, X, y) in enumerate(
    (("piecewise linear", X_lin, y_lin), ("piecewise constant", X_step, y_step))
):
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    for col, (expert_name, expert) in enumerate(experts.items()):
        moe = MixtureOfExpertsRegressor(
            n_experts=3, expert=expert, n_init=2, random_state=0
        ).fit(X_train, y_train)
        ax = axes[row, col]
        ExpertsDisplay.from_estimator(
            moe, X_train, y_train, ax=ax, show_band=False, legend=False
        )
        ax.set_title(
            f"{data_name}, {expert_name}\ntest $R^2$ = {moe.score(X_test, y_test):.3f}",
            fontsize="medium",
        )
        ax.set_xlabel("x" if row == 1 else "")
fig.tight_layout()

# %%
# Mixing kinds of experts
# -----------------------
# A list of estimators gives one per expert, so a mixture can hold a line next
# to trees. The fitted experts are sorted by their share of the data.
mixed = MixtureOfExpertsRegressor(
    n_experts=3,
    expert=[
        LinearRegression(),
        DecisionTreeRegressor(max_depth=2),
        DecisionTreeRegressor(max_depth=2),
    ],
    random_state=0,
).fit(X_step, y_step)
for expert, share in zip(mixed.experts_, mixed.expert_shares_, strict=True):
    print(f"{type(expert).__name__:<22s} share {share:.2f}")
