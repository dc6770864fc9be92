"""Quick start: a mixture of experts on the motorcycle crash data.

Fits a 3-expert mixture of linear experts to the classic ``mcycle`` data
(head acceleration against time after impact), prints its 5-fold
cross-validated R^2 beside a single linear model and a single tree, then the
log-likelihood of the mixture fitted on all rows (a training figure, not a
held-out one) and each expert's share, line and noise level.
Run with ``python examples/quickstart.py``.
"""

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_score
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle

X, y = load_mcycle(return_X_y=True)
cv = KFold(5, shuffle=True, random_state=0)
models = {
    "LinearRegression": LinearRegression(),
    "DecisionTreeRegressor(max_depth=4)": DecisionTreeRegressor(
        max_depth=4, random_state=0
    ),
    "MixtureOfExpertsRegressor(3)": MixtureOfExpertsRegressor(
        3, n_init=5, random_state=0
    ),
}
print(f"mcycle: {X.shape[0]} rows; 5-fold cross-validated R^2 (mean +- std)")
for name, model in models.items():
    scores = cross_val_score(model, X, y, cv=cv)
    print(f"  {name:<36s} {scores.mean():6.3f} +- {scores.std():.3f}")

moe = models["MixtureOfExpertsRegressor(3)"].fit(X, y)
print(f"\nMixture fitted on all rows: log-likelihood {moe.log_likelihood_:.2f}")
print("expert  share   slope  intercept  noise std")
for k, expert in enumerate(moe.experts_):
    print(
        f"{k:>6d}  {moe.expert_shares_[k]:5.2f}  {expert.coef_[0]:6.2f}  "
        f"{expert.intercept_:9.2f}  {np.sqrt(moe.noise_variance_[k]):9.2f}"
    )
