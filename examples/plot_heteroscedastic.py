"""
============================================================
Noise that changes with x: the predictive standard deviation
============================================================

Each expert of a :class:`~skmoe.MixtureOfExpertsRegressor` has its own noise
variance, so the mixture's predictive distribution is wider where the noisy
experts are in charge. ``predict(X, return_std=True)`` returns its standard
deviation, which includes the experts' noise and their disagreement where the
gate mixes them.

A single linear model (or a tree) gives one noise level for all inputs. Here
the noise is small for negative ``x`` and large for positive ``x``; the
mixture's +- 2 standard deviation band follows it, and about 95% of new
points fall inside it in each region.
"""

# %%
# Data whose noise jumps at x = 0
# -------------------------------
import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.inspection import ExpertsDisplay


def sample(n, rng):
    x = rng.uniform(-3, 3, size=n)
    noise = np.where(x < 0, 0.2, 1.5)
    y = 0.5 * x + np.where(x < 0, 0.0, 1.0) + noise * rng.standard_normal(n)
    return x[:, None], y


rng = np.random.RandomState(0)
X, y = sample(400, rng)
X_new, y_new = sample(2000, rng)
moe = MixtureOfExpertsRegressor(n_experts=2, n_init=2, random_state=0).fit(X, y)
print("noise std per expert:", np.sqrt(moe.noise_variance_).round(3))

# %%
# The mixture's mean and +- 2 std band
# ------------------------------------
disp = ExpertsDisplay.from_estimator(moe, X, y)
disp.ax_.set_title("Two experts with different noise levels")

# %%
# Coverage of the band on new data
# --------------------------------
# The share of new points within two predictive standard deviations, on each
# side of the jump (a Gaussian predictive distribution puts 95.4% there).
mean, std = moe.predict(X_new, return_std=True)
inside = np.abs(y_new - mean) <= 2 * std
for name, mask in (("x < 0", X_new[:, 0] < 0), ("x >= 0", X_new[:, 0] >= 0)):
    print(
        f"{name:7s} coverage {inside[mask].mean():.3f}, mean std {std[mask].mean():.2f}"
    )

fig, ax = plt.subplots(figsize=(6, 3))
order = np.argsort(X_new[:, 0])
ax.plot(X_new[order, 0], std[order], color="k")
ax.set(xlabel="x", ylabel="predictive std", title="Predictive standard deviation")
fig.tight_layout()
