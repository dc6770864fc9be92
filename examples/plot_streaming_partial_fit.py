"""
=========================================
Streaming data through ``partial_fit``
=========================================

When the data arrive in chunks, or do not fit in memory, a mixture of experts
can learn from one chunk at a time with ``partial_fit``. Each call makes one
pass over its chunk in minibatches: the responsibilities of every minibatch
under the current model, a gradient step on the gate, a gradient step on the
linear experts (or a call to the ``partial_fit`` of any other expert, with the
responsibilities as sample weights), and running averages of the noise
variances (see :ref:`solvers`).

Here 20 chunks of 500 rows of a 3-expert regression problem are streamed
through two mixtures, one of ``LinearRegression`` experts and one of
``SGDRegressor`` experts, and through a single ``SGDRegressor``. After every
chunk we score each model on held-out data and compare with the mixture
fitted by EM on all the data at once.
"""

# %%
# A stream of chunks
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression, SGDRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

X, y = make_moe_regression(
    n_samples=12_000,
    n_features=2,
    n_experts=3,
    noise=[0.1, 0.2, 0.3],
    gate_scale=4.0,
    random_state=0,
)
X_train, y_train, X_test, y_test = X[:10_000], y[:10_000], X[10_000:], y[10_000:]
chunks = list(
    zip(np.array_split(X_train, 20), np.array_split(y_train, 20), strict=True)
)

# %%
# Learning one chunk at a time
# ----------------------------
# ``partial_fit`` initialises the mixture on the first chunk (small-EM's
# responsibilities and a few EM iterations on it), then takes minibatch
# gradient steps. ``score`` is R^2, ``score_samples`` the log-likelihood of
# each held-out row.
models = {
    "mixture, linear experts": MixtureOfExpertsRegressor(3, random_state=0),
    "mixture, SGDRegressor experts": MixtureOfExpertsRegressor(
        3, expert=SGDRegressor(random_state=0), random_state=0
    ),
    "single SGDRegressor": SGDRegressor(random_state=0),
}
r2 = {name: [] for name in models}
log_lik = {name: [] for name in models if name.startswith("mixture")}
for X_chunk, y_chunk in chunks:
    for name, model in models.items():
        model.partial_fit(X_chunk, y_chunk)
        r2[name].append(model.score(X_test, y_test))
        if name in log_lik:
            log_lik[name].append(model.score_samples(X_test, y_test).mean())

batch = MixtureOfExpertsRegressor(3, expert=LinearRegression(), random_state=0)
batch.fit(X_train, y_train)
batch_r2 = batch.score(X_test, y_test)
batch_log_lik = batch.score_samples(X_test, y_test).mean()
for name in models:
    print(f"{name:32s} held-out R^2 after 20 chunks: {r2[name][-1]:.3f}")
print(f"{'mixture fitted by EM on all data':32s} held-out R^2: {batch_r2:.3f}")

# %%
# Held-out score against the number of chunks seen
# ------------------------------------------------
# Both mixtures are close to the batch fit in R^2 after a few chunks, far
# above what a single linear model can reach on data made of three regimes.
# The log-likelihood also judges each expert's precision (its noise variance):
# the linear experts, whose gradient steps skmoe takes itself, match the batch
# fit within a few chunks; the ``SGDRegressor`` experts follow their own,
# slowly decaying learning rate (``learning_rate='invscaling'``), and one of
# them is still converging after 10,000 rows.
seen = np.arange(1, len(chunks) + 1) * len(chunks[0][1])
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name, values in r2.items():
    axes[0].plot(seen, values, marker=".", label=name)
axes[0].axhline(batch_r2, color="k", ls="--", label="mixture, EM on all data")
axes[0].set_xlabel("training rows seen")
axes[0].set_ylabel("held-out $R^2$")
axes[0].legend(loc="center right")
for name, values in log_lik.items():
    axes[1].plot(seen, values, marker=".", label=name)
axes[1].axhline(batch_log_lik, color="k", ls="--", label="mixture, EM on all data")
axes[1].set_xlabel("training rows seen")
axes[1].set_ylabel("held-out log-likelihood per row")
axes[1].set_ylim(batch_log_lik - 1.0, batch_log_lik + 0.2)
axes[1].legend(loc="lower right")
fig.tight_layout()
plt.show()
