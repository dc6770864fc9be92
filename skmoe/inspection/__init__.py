"""Inspection of fitted mixtures of experts: displays and text views.

The displays follow scikit-learn's ``*Display`` convention
(:class:`sklearn.inspection.DecisionBoundaryDisplay`): build one with
``from_estimator(...)``, which computes the arrays to draw and stores them as
attributes, then draws them with ``plot(ax=None, ...)``, which stores the
matplotlib ``ax_`` and ``figure_``.

matplotlib is optional: it is imported only when a display draws
(``pip install skmoe[plot]``). :func:`summary` and :func:`export_text` need
no plotting library.

A :class:`~sklearn.pipeline.Pipeline` does not forward the methods only a
mixture of experts has; :func:`predict_gate_proba`, :func:`predict_experts`,
:func:`predict_experts_proba`, :func:`predict_responsibilities`,
:func:`score_samples`, :func:`bic` and :func:`aic` take a mixture or a
pipeline ending in one, as the displays, :func:`summary` and
:func:`export_text` do.
"""

from ._density_display import PredictiveDensityDisplay
from ._experts_display import ExpertsDisplay
from ._export import export_text
from ._gate_display import GateDisplay
from ._inference import coefficient_table
from ._methods import (
    aic,
    bic,
    predict_experts,
    predict_experts_proba,
    predict_gate_proba,
    predict_responsibilities,
    score_samples,
)
from ._selection_display import SelectionDisplay
from ._summary import summary
from ._usage import expert_usage
from ._usage_display import ExpertUsageDisplay

__all__ = [
    "ExpertUsageDisplay",
    "ExpertsDisplay",
    "GateDisplay",
    "PredictiveDensityDisplay",
    "SelectionDisplay",
    "aic",
    "bic",
    "coefficient_table",
    "expert_usage",
    "export_text",
    "predict_experts",
    "predict_experts_proba",
    "predict_gate_proba",
    "predict_responsibilities",
    "score_samples",
    "summary",
]
