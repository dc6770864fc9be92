"""
====================================================================
Classification on a real table: eleven vowels, four logistic experts
====================================================================

The vowel data (Deterding; 990 recordings of eleven British English vowels
by fifteen speakers, ten acoustic features each) is a classic test of
non-linear classifiers. One multinomial logistic regression draws straight
boundaries between the vowels and gets about half of them right; a mixture
of four logistic experts lets the gate divide the acoustic space into
regions with a linear classifier each.

Honestly: gradient boosting is more accurate still on this table. The
mixture closes much of the gap between the linear model and boosting with
four logistic regressions and a gate whose regions can be inspected; the
usage display shows that every expert takes a real share of the work.
"""

# %%
# Three classifiers on the same split
# -----------------------------------
import matplotlib.pyplot as plt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsClassifier
from skmoe.datasets import load_vowel
from skmoe.inspection import ExpertUsageDisplay

X, y = load_vowel(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

models = {
    "logistic regression": make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=1000)
    ),
    "mixture of 4 logistic experts": make_pipeline(
        StandardScaler(), MixtureOfExpertsClassifier(n_experts=4, random_state=0)
    ),
    "gradient boosting": HistGradientBoostingClassifier(random_state=0),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(f"{name:30s} test accuracy = {model.score(X_test, y_test):.3f}")

# %%
# How the mixture shares the work
# -------------------------------
# The share of the gate's mass and of the rows routed to each expert, on the
# held-out rows: no expert is idle.
moe = models["mixture of 4 logistic experts"]
fig, ax = plt.subplots(figsize=(6, 3.5))
ExpertUsageDisplay.from_estimator(moe, X_test, ax=ax)
ax.set_title("Vowels: each expert's share of the test rows")
plt.show()
