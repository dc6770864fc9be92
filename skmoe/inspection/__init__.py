"""Inspection of fitted mixtures of experts: displays and text views.

The displays follow scikit-learn's ``*Display`` convention
(:class:`sklearn.inspection.DecisionBoundaryDisplay`): build one with
``from_estimator(...)``, which computes the arrays to draw and stores them as
attributes, then draws them with ``plot(ax=None, ...)``, which stores the
matplotlib ``ax_`` and ``figure_``.

matplotlib is optional: it is imported only when a display draws
(``pip install skmoe[plot]``). :func:`summary` and :func:`export_text` need
no plotting library.
"""

from ._density_display import PredictiveDensityDisplay
from ._experts_display import ExpertsDisplay
from ._export import export_text
from ._gate_display import GateDisplay
from ._summary import summary
from ._usage_display import ExpertUsageDisplay

__all__ = [
    "ExpertUsageDisplay",
    "ExpertsDisplay",
    "GateDisplay",
    "PredictiveDensityDisplay",
    "export_text",
    "summary",
]
