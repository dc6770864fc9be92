"""
=========================================
When an expert fails
=========================================

A mixture of experts is modular: when one expert fails, the others can
still give a useful answer. With ``expert_errors="isolate"`` (the default),
an expert whose ``fit`` raises, or whose predictions are not finite, is
taken out of the mixture at the EM iteration where it failed: its gate
probability becomes 0, the other experts' are renormalised, and EM fits
the rest on. The fit warns (``ExpertFailureWarning``) and records what
happened in ``failed_experts_``.

Here one of four experts on the motorcycle data crashes at its fifth fit,
in the middle of EM (a stand-in for an expert that runs out of memory or
meets data it cannot handle). The three others fit on and still model the
data. With
``expert_errors="raise"`` the same fit stops with the expert's own error,
annotated with the expert, the EM iteration and the run.
"""

# %%
# An expert that crashes mid-fit
# ------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import PolynomialFeatures

from skmoe import ExpertFailureWarning, MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle


class CrashingExpert(RegressorMixin, BaseEstimator):
    """A quadratic regression whose ``fit`` raises from its ``crash_at``-th
    fit on (each EM iteration refits it once)."""

    def __init__(self, crash_at=5, n_fits=0):
        self.crash_at = crash_at
        self.n_fits = n_fits

    def fit(self, X, y, sample_weight=None):
        # EM refits a clone of the previous fit: the count travels with it.
        self.n_fits_ = self.n_fits + 1
        if self.n_fits_ >= self.crash_at:
            raise MemoryError("the expert ran out of memory")
        self.poly_ = PolynomialFeatures(2).fit(X)
        Z = self.poly_.transform(X)
        self.model_ = LinearRegression().fit(Z, y, sample_weight=sample_weight)
        self.n_fits = self.n_fits_
        return self

    def predict(self, X):
        return self.model_.predict(self.poly_.transform(X))


X, y = load_mcycle(return_X_y=True)
experts = [LinearRegression()] * 3 + [CrashingExpert(crash_at=5)]
moe = MixtureOfExpertsRegressor(4, expert=experts, random_state=0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ExpertFailureWarning)
    moe.fit(X, y)

for w in caught:
    if issubclass(w.category, ExpertFailureWarning):
        print(w.message)

# %%
# What the fitted model says
# --------------------------
# ``failed_experts_`` records the failure; the failed expert's share and
# gate probability are 0, and every prediction is finite.
for record in moe.failed_experts_:
    print({k: record[k] for k in ("expert", "iteration", "run", "in_fitted_model")})
print("shares:", np.round(moe.expert_shares_, 3))
grid = np.linspace(X.min(), X.max(), 300)[:, None]
mean, std = moe.predict(grid, return_std=True)
print("all predictions finite:", bool(np.isfinite(mean).all()))

# %%
# The mixture still fits the data
# -------------------------------
gate = moe.predict_gate_proba(grid)
fig, (ax, ax_gate) = plt.subplots(
    2, 1, figsize=(7, 6), sharex=True, height_ratios=(2, 1)
)
ax.scatter(X[:, 0], y, s=10, c="0.6", label="data")
ax.plot(grid[:, 0], mean, c="k", label="mixture mean")
ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color="k", alpha=0.1)
ax.set_ylabel("acceleration")
ax.legend(loc="lower right")
for k in range(moe.n_experts):
    failed = any(r["expert"] == k for r in moe.failed_experts_)
    label = f"expert {k}" + (" (failed)" if failed else "")
    ax_gate.plot(grid[:, 0], gate[:, k], ls="--" if failed else "-", label=label)
ax_gate.set_xlabel("time (ms)")
ax_gate.set_ylabel("gate probability")
ax_gate.legend(fontsize="small", ncol=2)
fig.tight_layout()
plt.show()

# %%
# Stop at the first failure instead
# ---------------------------------
try:
    moe.set_params(expert_errors="raise").fit(X, y)
except MemoryError as err:
    print(repr(err))
    for note in err.__notes__:
        print(note)
