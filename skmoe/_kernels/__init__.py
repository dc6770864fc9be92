"""Numerical kernels of skmoe: the only place with numba code.

Each kernel has one dispatch function (NumPy arrays -> numba, other array-API
namespaces -> the array-API twin) and a plain NumPy/SciPy reference twin used
as the test oracle.  Nothing is compiled at import: numba compiles each kernel
on its first call and caches it on disk.  On large problems the kernels run
in threads (:func:`._dispatch._map_chunks`), with results that do not depend
on the number of threads.
"""

from ._config import FASTMATH_FLAGS
from ._dispatch import e_step, gaussian_log_likelihood
from ._kmeans import cluster_sums, lloyd_assign, lloyd_assign_reference
from ._linear import (
    weighted_normal_equations,
    weighted_normal_equations_reference,
)
from ._reference import e_step_reference, gaussian_log_likelihood_reference
from ._softmax import (
    linear_log_softmax,
    linear_log_softmax_reference,
    softmax_cross_entropy,
    softmax_cross_entropy_hessian,
    softmax_cross_entropy_hessian_reference,
    softmax_cross_entropy_reference,
)

__all__ = [
    "FASTMATH_FLAGS",
    "cluster_sums",
    "e_step",
    "e_step_reference",
    "gaussian_log_likelihood",
    "gaussian_log_likelihood_reference",
    "linear_log_softmax",
    "linear_log_softmax_reference",
    "lloyd_assign",
    "lloyd_assign_reference",
    "softmax_cross_entropy",
    "softmax_cross_entropy_hessian",
    "softmax_cross_entropy_hessian_reference",
    "softmax_cross_entropy_reference",
    "weighted_normal_equations",
    "weighted_normal_equations_reference",
]
