"""Gradient fitting of a mixture of experts (``solver="gradient"`` and
``partial_fit``): the former ``skmoe/_gradient.py``, moved here whole so that
its history follows ``_model.py``; the next commit splits it into modules."""

from ._model import (
    _make_objective,  # noqa: F401 (tests import it from here)
    check_solver_support,
    gradient_run,
    has_flat_gate,
    partial_fit,
)

__all__ = ["check_solver_support", "gradient_run", "has_flat_gate", "partial_fit"]
