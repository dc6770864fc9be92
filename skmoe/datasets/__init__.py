"""Data sets for mixtures of experts.

Bundled real data (loaders in the style of :func:`sklearn.datasets.load_diabetes`;
each ``DESCR`` gives the source, licence and references) and synthetic
generators whose true mixture-of-experts parameters are known.
"""

from ._base import (
    load_abalone,
    load_concrete,
    load_energy,
    load_mcycle,
    load_tonedata,
    load_vowel,
    load_yacht,
)
from ._samples_generator import (
    make_hierarchical_regimes,
    make_moe_classification,
    make_moe_regression,
    make_piecewise_linear,
    make_xor,
)

__all__ = [
    "load_abalone",
    "load_concrete",
    "load_energy",
    "load_mcycle",
    "load_tonedata",
    "load_vowel",
    "load_yacht",
    "make_hierarchical_regimes",
    "make_moe_classification",
    "make_moe_regression",
    "make_piecewise_linear",
    "make_xor",
]
