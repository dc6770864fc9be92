"""
=========================================
Sample weights
=========================================

``sample_weight`` multiplies each row's contribution everywhere in EM: the
initialisation, the experts' weighted fits, the noise variances and the gate.
Two consequences:

* integer weights give the same mixture as repeating the rows;
* down-weighting a group of rows moves the experts away from it.

Here one regime of the data is contaminated by a cluster of outliers. With
unit weights an expert spends itself on the outliers; giving the suspect rows
a weight of 0.05 lets the experts model the clean data again.
"""

# %%
# Piecewise-linear data with a cluster of outliers
# ------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_piecewise_linear
from skmoe.inspection import ExpertsDisplay

X, y = make_piecewise_linear(n_samples=300, noise=0.15, random_state=0)
rng = np.random.RandomState(1)
X_out = rng.uniform(1.5, 2.5, size=(40, 1))
y_out = rng.normal(4.0, 0.3, size=40)
X_all = np.vstack([X, X_out])
y_all = np.concatenate([y, y_out])
is_outlier = np.r_[np.zeros(len(y), dtype=bool), np.ones(40, dtype=bool)]

weights = np.where(is_outlier, 0.05, 1.0)
fits = {
    "unit weights": MixtureOfExpertsRegressor(3, n_init=2, random_state=0).fit(
        X_all, y_all
    ),
    "outliers weighted 0.05": MixtureOfExpertsRegressor(
        3, n_init=2, random_state=0
    ).fit(X_all, y_all, sample_weight=weights),
}

# %%
# The experts with and without the weights
# ----------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, moe) in zip(axes, fits.items(), strict=True):
    ExpertsDisplay.from_estimator(moe, X_all, y_all, ax=ax, legend=False)
    ax.scatter(
        X_out[:, 0], y_out, s=40, facecolor="none", edgecolor="r", label="outliers"
    )
    ax.set_title(name)
    ax.legend(loc="lower left")
fig.tight_layout()

# %%
# Integer weights equal repeated rows
# -----------------------------------
# Weight 2 on every third row gives the same fit as duplicating those rows.
w = np.where(np.arange(len(y)) % 3 == 0, 2, 1)
weighted = MixtureOfExpertsRegressor(3, random_state=0).fit(X, y, sample_weight=w)
repeated = MixtureOfExpertsRegressor(3, random_state=0).fit(
    np.repeat(X, w, axis=0), np.repeat(y, w)
)
print("log-likelihood, weighted:", round(weighted.log_likelihood_, 4))
print("log-likelihood, repeated:", round(repeated.log_likelihood_, 4))
print(
    "largest difference between the two mixtures' predictions:",
    float(np.max(np.abs(weighted.predict(X) - repeated.predict(X)))),
)
