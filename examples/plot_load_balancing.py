"""
=====================================================
Balancing the load among experts (concrete strength)
=====================================================

A mixture fitted by maximum likelihood gives each expert the rows it
explains best, however many that is: on the concrete data (UCI, 1,030
mixes), four linear experts end with very unequal shares. When each expert
should carry a fair part of the work (experts served on separate machines,
or experts meant to stay general), ``balance_strength`` adds a penalty that
pulls the average gate probabilities toward uniform: EM then maximises

.. math::

   \\sum_i \\log p(y_i \\mid x_i) - \\lambda \\, n \\,
   \\mathrm{KL}(u \\,\\|\\, \\bar g),

with :math:`\\bar g` the experts' average gate probabilities on the
training rows and :math:`u` uniform. Here the strength grows from 0 (plain
maximum likelihood) and each fit is scored on held-out rows: the balance of
the shares (their coefficient of variation, from
:func:`~skmoe.inspection.expert_usage`) against the held-out
log-likelihood per row.

Honestly: balancing is a constraint, not a free gain. Weak penalties change
little; strong ones equalise the shares and cost likelihood, on the
training rows always and on held-out rows eventually. Choose the strength
for the balance you need, and read its price off a curve like this one.
"""

# %%
# Fit one mixture per strength
# ----------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_concrete
from skmoe.inspection import expert_usage

X, y = load_concrete(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
mean, std = y_train.mean(), y_train.std()
y_train, y_test = (y_train - mean) / std, (y_test - mean) / std

strengths = [0.0, 0.03, 0.3, 3.0]
cv, shares, held_out = [], [], []
for strength in strengths:
    moe = MixtureOfExpertsRegressor(
        n_experts=4, balance_strength=strength, random_state=0
    )
    with warnings.catch_warnings():
        # Dead-expert or convergence notices are not the point here.
        warnings.simplefilter("ignore")
        moe.fit(X_train, y_train)
    usage = expert_usage(moe, X_train)
    cv.append(usage.coefficient_of_variation)
    shares.append(np.sort(usage.table["gate_share"].to_numpy())[::-1])
    held_out.append(np.mean(moe.score_samples(X_test, y_test)))
    print(
        f"strength {strength:>5g}: shares {np.round(shares[-1], 2)}, "
        f"CV {cv[-1]:.3f}, held-out log-likelihood per row {held_out[-1]:.3f}"
    )

# %%
# Balance and its price
# ---------------------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
x = np.arange(len(strengths))
ax1.bar(x, np.array(shares)[:, 0], label="largest share")
ax1.bar(x, np.array(shares)[:, -1], label="smallest share")
ax1.axhline(0.25, color="k", linestyle=":", label="uniform (1/4)")
ax1.set_xticks(x, [f"{s:g}" for s in strengths])
ax1.set_xlabel("balance_strength")
ax1.set_ylabel("gate share")
ax1.legend()
ax2.plot(cv, held_out, "o-")
for s, c, h in zip(strengths, cv, held_out, strict=True):
    ax2.annotate(f"{s:g}", (c, h), textcoords="offset points", xytext=(4, 4))
ax2.set_xlabel("imbalance (coefficient of variation of the shares)")
ax2.set_ylabel("held-out log-likelihood per row")
ax2.invert_xaxis()
fig.tight_layout()
plt.show()
