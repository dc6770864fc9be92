"""
====================================================
Choosing the number of experts: BIC and GridSearchCV
====================================================

How many experts does the motorcycle data need? Two standard answers:

* the **Bayesian information criterion** (BIC) of the fit on all the data,
  ``-2 log L + n_parameters log n`` (lower is better), available as
  :meth:`~skmoe.MixtureOfExpertsRegressor.bic`;
* **cross-validation**: :class:`~sklearn.model_selection.GridSearchCV` over
  ``n_experts``, scored by the held-out log-likelihood (a mixture predicts a
  whole distribution, so its likelihood on new data is the natural score; R^2
  only judges the mean).

Both are computed below for one to five experts, with a loose tolerance
(``tol=1e-4``, plenty for comparing models) and few restarts to keep this
example fast; with real data, use more restarts (``n_init``) in both.
"""

# %%
# BIC on the full data, and cross-validated log-likelihood
# --------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle

X, y = load_mcycle(return_X_y=True)
n_experts_range = np.arange(1, 6)

params = {"n_init": 2, "tol": 1e-4, "random_state": 0}
bic = [
    MixtureOfExpertsRegressor(n_experts=k, **params).fit(X, y).bic(X, y)
    for k in n_experts_range
]


def mean_log_likelihood(estimator, X, y):
    """Scorer: average held-out log-likelihood per row (higher is better)."""
    return estimator.score_samples(X, y).mean()


search = GridSearchCV(
    MixtureOfExpertsRegressor(**{**params, "n_init": 1}),
    param_grid={"n_experts": n_experts_range},
    scoring={"log_likelihood": mean_log_likelihood, "r2": "r2"},
    refit=False,
    cv=KFold(5, shuffle=True, random_state=0),
)
search.fit(X, y)
cv = search.cv_results_
print(f"BIC chooses {n_experts_range[np.argmin(bic)]} experts")
best_cv = n_experts_range[np.argmax(cv["mean_test_log_likelihood"])]
print(f"cross-validated log-likelihood chooses {best_cv} experts")

# %%
# Plot both criteria
# ------------------
# BIC falls with every expert up to four (about 1410, 1327, 1229, 1196) and
# rises again at five (1215): a fifth expert buys less likelihood than its
# parameters cost. The held-out log-likelihood per row also peaks at four
# (about -5.26, -4.88, -4.63, -4.36, -4.51), though from three experts on its
# fold-to-fold spread (the error bars, about 0.25 to 0.3) is about as large as
# the differences. R^2 jumps from 0.02 (one expert: a single straight line) to
# 0.60 with two, then climbs more slowly, 0.65 and 0.71, and falls back to
# 0.68 at five, with a spread of about 0.06 across folds.
#
# Both criteria choose four experts here. The quick start and the README use
# three, a round choice for a first example (one expert per visible regime of
# the data): on these criteria a fourth expert still helps a little.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
axes[0].plot(n_experts_range, bic, "o-")
axes[0].set(title="BIC (lower is better)", xlabel="number of experts")
for ax, key, title in (
    (axes[1], "log_likelihood", "held-out log-likelihood per row"),
    (axes[2], "r2", "held-out $R^2$"),
):
    mean, std = cv[f"mean_test_{key}"], cv[f"std_test_{key}"]
    ax.errorbar(n_experts_range, mean, yerr=std, fmt="o-", capsize=3)
    ax.set(title=title, xlabel="number of experts")
for ax in axes:
    ax.set_xticks(n_experts_range)
fig.tight_layout()
