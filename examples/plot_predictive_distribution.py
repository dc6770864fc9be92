"""
========================================================
Two answers at once: the predictive density and its sets
========================================================

On the tone perception data (Cohen 1984), musicians judged the pitch of
stretched tones: some followed the stretch, others did not, so for one
``stretchratio`` there are two likely answers. A
:class:`~skmoe.MixtureOfExpertsRegressor` with two experts models that as a
two-mode predictive density ``p(y | x)``.

A mean and a standard deviation describe it badly: the mean falls between
the modes, where there are few data. The central 90% interval spans both
modes; the 90% highest-density set is two short intervals, one around each
line. (To calibrate intervals on held-out rows, see
:class:`~skmoe.conformal.ConformalMixtureRegressor` and :ref:`predictive`.)
"""

# %%
# The predictive density
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_tonedata
from skmoe.inspection import PredictiveDensityDisplay

X, y = load_tonedata(return_X_y=True)
moe = MixtureOfExpertsRegressor(n_experts=2, random_state=0).fit(X, y)

# A square-root colour scale shows the wide expert beside the narrow one.
disp = PredictiveDensityDisplay.from_estimator(
    moe, X, y, y_range=(1.2, 3.6), mesh_kwargs={"norm": PowerNorm(gamma=0.5)}
)
disp.ax_.set_xlabel("stretchratio")
disp.ax_.set_ylabel("tuned")
plt.show()

# %%
# Central interval and highest-density set
# ----------------------------------------
# Along a grid of the feature: the central 90% interval (grey band) and the
# 90% highest-density set (blue), which splits in two away from the lines'
# crossing.
grid = np.linspace(X.min(), X.max(), 120)[:, None]
central = moe.predict_interval(grid, coverage=0.9)
sets = moe.predict_interval(grid, coverage=0.9, kind="hdr")

fig, ax = plt.subplots()
ax.fill_between(grid[:, 0], *central.T, color="0.8", label="central 90%")
for x, intervals in zip(grid[:, 0], sets, strict=True):
    for lo, hi in intervals:
        ax.plot([x, x], [lo, hi], color="tab:blue", lw=2, alpha=0.6)
ax.plot([], [], color="tab:blue", lw=2, label="highest-density 90%")
ax.scatter(X[:, 0], y, s=10, color="k", alpha=0.6)
ax.set_xlabel("stretchratio")
ax.set_ylabel("tuned")
ax.legend(loc="upper left")
plt.show()

central_length = np.diff(central, axis=1)[:, 0]
hdr_length = np.array([np.diff(s, axis=1).sum() for s in sets])
print(
    "highest-density set / central interval length, mean over the grid: "
    f"{np.mean(hdr_length / central_length):.2f}"
)

# %%
# Quantiles and draws
# -------------------
# ``predict_quantiles`` inverts the mixture's distribution function;
# ``sample_y`` draws from it, as ``GaussianProcessRegressor.sample_y`` does.
x = np.array([[1.5]])
print("5%, 50%, 95% quantiles at 1.5:", moe.predict_quantiles(x, [0.05, 0.5, 0.95]))
draws = moe.sample_y(x, n_samples=10_000, random_state=0)
print(
    "fraction of draws below the median:",
    np.mean(draws <= moe.predict_quantiles(x, 0.5)),
)
