"""Inspection of fitted mixtures of experts: displays and a text summary.

The displays follow scikit-learn's ``*Display`` convention
(:class:`sklearn.inspection.DecisionBoundaryDisplay`): build one with
``from_estimator(...)``, which computes the arrays to draw and stores them as
attributes, then draws them with ``plot(ax=None, ...)``, which stores the
matplotlib ``ax_`` and ``figure_``.

matplotlib is optional: it is imported only when a display draws
(``pip install skmoe[plot]``). :func:`summary` needs no plotting library.
"""

from ._plot import ExpertsDisplay, ExpertUsageDisplay, GateDisplay
from ._summary import summary

__all__ = ["ExpertUsageDisplay", "ExpertsDisplay", "GateDisplay", "summary"]
