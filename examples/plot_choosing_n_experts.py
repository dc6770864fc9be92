"""
======================================================
Choosing the number of experts with MixtureOfExpertsCV
======================================================

How many experts does the motorcycle data need?
:class:`~skmoe.MixtureOfExpertsCV` fits a mixture for each candidate number
of experts, scores each one and refits the chosen one on all the data, as
:class:`~sklearn.linear_model.LassoCV` does for its penalty. Two criteria
are drawn here:

* the **Bayesian information criterion** (BIC) of the fit on all the data,
  ``-2 log L + n_parameters log n`` (lower is better);
* the **held-out log-likelihood** per row, averaged over shuffled folds
  (higher is better), the default: a mixture predicts a whole distribution,
  and its likelihood on new rows judges all of it, not only the mean.

:class:`~skmoe.inspection.SelectionDisplay` draws the criterion against the
number of experts with the chosen one marked. A loose tolerance
(``tol=1e-4``, plenty for comparing models) keeps this example fast.
"""

# %%
# BIC on the full data
# --------------------
import matplotlib.pyplot as plt

from skmoe import MixtureOfExpertsCV, MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle
from skmoe.inspection import ExpertsDisplay, SelectionDisplay

X, y = load_mcycle(return_X_y=True)
template = MixtureOfExpertsRegressor(tol=1e-4)

by_bic = MixtureOfExpertsCV(
    template, n_experts=range(1, 6), criterion="bic", n_init=3, random_state=0
).fit(X, y)
print(f"BIC chooses {by_bic.n_experts_} experts")
print("BIC per candidate:", by_bic.cv_results_["mean_score"].round(0))

# %%
# Held-out log-likelihood (the default)
# -------------------------------------
# Five shuffled folds (the motorcycle data are sorted by time: unshuffled
# folds would hold out stretches of time never seen, and measure
# extrapolation). The one-standard-error rule takes the fewest experts whose
# mean is within one standard error of the best.
by_heldout = MixtureOfExpertsCV(template, n_experts=range(1, 6), random_state=0)
by_heldout.fit(X, y)
print(f"held-out log-likelihood chooses {by_heldout.n_experts_} experts")
print("mean per candidate:", by_heldout.cv_results_["mean_score"].round(2))
print("std over folds:   ", by_heldout.cv_results_["std_score"].round(2))

# %%
# The curves and the chosen mixture
# ---------------------------------
# BIC falls steeply to three experts, a little further to four, and rises
# from five: more experts buy less likelihood than their parameters cost.
# The held-out log-likelihood climbs as steeply to three experts; beyond,
# its changes are within the spread over folds (the error bars, one
# standard deviation), so the one-standard-error rule stops where the data
# stop showing a gain. The chosen mixture, refitted on all the rows, is in
# ``best_estimator_``.
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
SelectionDisplay.from_estimator(by_bic, ax=axes[0])
SelectionDisplay.from_estimator(by_heldout, ax=axes[1])
ExpertsDisplay.from_estimator(by_heldout.best_estimator_, X, y, ax=axes[2])
axes[0].set_title("BIC")
axes[1].set_title("held-out log-likelihood, 5 shuffled folds")
axes[2].set_title(f"chosen mixture: {by_heldout.n_experts_} experts")
fig.tight_layout()
plt.show()
