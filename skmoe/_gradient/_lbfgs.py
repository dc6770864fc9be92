"""L-BFGS-B on an :class:`~skmoe._gradient._model._Objective`: the full-batch
solver, and the M-steps of the warm-up."""

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

#: Full-batch L-BFGS stops when an iteration decreases the objective by less
#: than ``tol * _FTOL_FACTOR`` (relative), or when the largest gradient
#: component is below ``tol``. An L-BFGS iteration is cheaper and makes less
#: progress than an EM iteration; with this factor both solvers stop at about
#: the same distance from the optimum, and EM started from the gradient
#: solution does not improve it by more than ``tol``.
_FTOL_FACTOR = 1e-2

#: Number of past steps L-BFGS keeps to approximate the curvature.
_LBFGS_MEMORY = 30


def _lbfgs(objective, max_iter, tol, history=None, y_shift=0.0, trace=None):
    """Minimise ``objective`` with L-BFGS-B; stores the result in the model."""
    theta0 = objective.pack()
    floor = getattr(objective.model, "var_floor_std", None)
    bounds = objective.bounds(floor) if floor is not None else None
    if bounds is not None and objective.var_idx.size:
        lo = np.log(floor)
        k = objective.var_idx.size
        theta0[-k:] = np.maximum(theta0[-k:], lo)

    def callback(intermediate_result):
        if history is not None:
            _, bound = objective.bound(intermediate_result.x)
            history.append(bound - y_shift)
        if trace is not None:
            trace(intermediate_result.x)

    # L-BFGS-B calls BLAS on vectors of a few dozen entries: several BLAS
    # threads only contend (100x slower on a busy 2-core machine).
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=callback,
            options={
                "maxiter": max_iter,
                "maxfun": max(15000, 2 * max_iter),
                "maxcor": _LBFGS_MEMORY,
                "ftol": tol * _FTOL_FACTOR,
                "gtol": tol,
            },
        )
    objective.store(result.x)
    return result
