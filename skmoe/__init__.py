"""skmoe: mixtures of experts for scikit-learn.

Adaptive mixtures of local experts (Jacobs, Jordan, Nowlan & Hinton 1991)
fitted by EM, with any scikit-learn estimator as an expert and a softmax gate.
"""

from ._base import DeadExpertWarning, ExpertFailureWarning
from ._gate import SoftmaxGate
from ._hierarchical import (
    HierarchicalMixtureOfExpertsClassifier,
    HierarchicalMixtureOfExpertsRegressor,
)
from ._moe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from ._selection import MixtureOfExpertsCV

# Lives in skmoe.inspection; kept here too so that existing imports still work.
from .inspection import export_text

__version__ = "0.1.0"

__all__ = [
    "DeadExpertWarning",
    "ExpertFailureWarning",
    "HierarchicalMixtureOfExpertsClassifier",
    "HierarchicalMixtureOfExpertsRegressor",
    "MixtureOfExpertsCV",
    "MixtureOfExpertsClassifier",
    "MixtureOfExpertsRegressor",
    "SoftmaxGate",
    "__version__",
    "export_text",
]
