"""
======================================================
Three experts on the motorcycle crash data
======================================================

The motorcycle data (Silverman, 1985) record the head acceleration of a crash
dummy against the time after impact. They have three regimes: a flat start,
a violent oscillation, and a noisy settling. The noise also changes from
regime to regime, which is exactly what a mixture of experts models: each
expert is a straight line with its own noise level, and a softmax gate on
time decides which line is in charge.

This example fits three linear experts and draws:

* the experts' lines, thick where the gate trusts them, the data coloured by
  the expert most responsible for each point, and the mixture's predictive
  mean with a band of +- 2 standard deviations
  (:class:`~skmoe.inspection.ExpertsDisplay`);
* the gate probabilities against time (:class:`~skmoe.inspection.GateDisplay`);
* a text summary of the fit (:func:`~skmoe.inspection.summary`).
"""

# %%
# Fit the mixture
# ---------------
# Three restarts (``n_init=3``) guard against the local optima this data set
# is known for; the best run is kept.
import matplotlib.pyplot as plt

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle
from skmoe.inspection import ExpertsDisplay, GateDisplay, summary

data = load_mcycle(as_frame=True)
X, y = data.data, data.target
moe = MixtureOfExpertsRegressor(n_experts=3, n_init=3, random_state=0).fit(X, y)

# %%
# Experts and gate
# ----------------
# The top panel is the classic mixture-of-experts picture; the bottom panel
# shows the gate switching from one expert to the next as time goes on.
fig, (ax_top, ax_bottom) = plt.subplots(
    2, 1, figsize=(7, 7), sharex=True, height_ratios=(3, 1.4)
)
ExpertsDisplay.from_estimator(moe, X, y, ax=ax_top)
ax_top.set(xlabel="", ylabel="head acceleration (g)")
GateDisplay.from_estimator(moe, X, ax=ax_bottom)
ax_bottom.set_title("")
ax_bottom.set_xlabel("time after impact (ms)")
fig.tight_layout()

# %%
# The fit in numbers
# ------------------
# Each expert's share of the data, its noise standard deviation, its line and
# the gate's coefficients. The flat expert has a tiny noise level: before the
# impact reaches the head, the measurements barely move.
print(summary(moe))
