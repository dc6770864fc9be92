"""Array-API helpers: where the data live, and moving arrays between devices.

skmoe follows scikit-learn's convention: with
``sklearn.set_config(array_api_dispatch=True)``, inputs of another array-API
namespace (CuPy, PyTorch, array_api_strict, ...) are fitted in that namespace,
on their device. NumPy inputs (and any input when dispatch is off) take the
NumPy + numba path. Nothing here imports CuPy: namespaces are read from the
inputs.

One convention throughout the package: a namespace ``xp`` that ``is np``
means the NumPy path (``_namespace`` and the kernels' dispatch both return
``numpy`` for NumPy inputs, never ``None``); any other ``xp`` is a device
namespace.
"""

import numpy as np
from sklearn import get_config
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
)

try:  # vendored since scikit-learn 1.7
    from sklearn.externals.array_api_compat import array_namespace, is_array_api_obj
except ImportError:  # pragma: no cover - scikit-learn 1.6
    try:
        from array_api_compat import array_namespace, is_array_api_obj
    except ImportError:

        def is_array_api_obj(x):
            """Whether ``x`` is an array (standard-conforming namespaces only)."""
            return hasattr(x, "__array_namespace__")

        def array_namespace(*arrays):
            """The inputs' namespace, by scikit-learn's own lookup."""
            return get_namespace(*arrays)[0]


try:  # scikit-learn >= 1.9
    from sklearn.utils._array_api import check_same_namespace, move_to

    #: Whether this scikit-learn validates and moves array-API inputs the way
    #: the device path relies on (tested with 1.9).
    _DEVICE_SUPPORT = True
except ImportError:  # pragma: no cover - older scikit-learn
    _DEVICE_SUPPORT = False

    def move_to(array, *, xp, device):
        """One array to namespace ``xp`` on ``device`` (NumPy: the host)."""
        if _is_numpy_namespace(xp) or xp is np:
            return _convert_to_numpy(array, xp=array_namespace(array))
        return xp.asarray(array, device=device)

    def check_same_namespace(X, estimator, *, attribute, method):
        """No-op: older scikit-learn has no such check."""


def _check_fitted_namespace(X, estimator, *, attribute, method):
    """``X`` must live where ``estimator``'s fit data lived.

    scikit-learn's ``check_same_namespace``, which checks only with
    array-API dispatch on, plus the case it skips: a model fitted on device
    arrays, called with dispatch off (which would mix NumPy inputs with
    device parameters, and fail or silently compute on the host).
    """
    check_same_namespace(X, estimator, attribute=attribute, method=method)
    fitted = getattr(estimator, attribute)
    if not _is_foreign_array(fitted) or get_config()["array_api_dispatch"]:
        return  # a NumPy fit, or checked above
    raise ValueError(
        f"{type(estimator).__name__} was fitted on "
        f"{array_namespace(fitted).__name__} arrays: call {method}() inside "
        "sklearn.config_context(array_api_dispatch=True) with arrays of that "
        f"namespace and device, or {_MOVE_TO_NUMPY}."
    )


#: How to move a device-fitted estimator to NumPy, for error messages.
_MOVE_TO_NUMPY = (
    "move the estimator to NumPy first: 'import numpy; from "
    "sklearn.utils._array_api import move_estimator_to; estimator = "
    'move_estimator_to(estimator, numpy, "cpu")\''
)


def _is_foreign_array(array):
    """Whether ``array`` is an array of another namespace than NumPy's."""
    # CuPy arrays (14.2) have no __array_namespace__: array_api_compat knows them
    return not isinstance(array, np.ndarray | np.generic) and is_array_api_obj(array)


def _namespace(*arrays):
    """``(xp, device)`` of the inputs: ``(numpy, None)`` for the NumPy path.

    skmoe's one convention: ``xp is np`` means the NumPy (+ numba) path,
    whatever wrapper scikit-learn's lookup returned for NumPy inputs.
    """
    xp, _, device = get_namespace_and_device(*arrays)
    if _is_numpy_namespace(xp):
        return np, None
    if not _DEVICE_SUPPORT:
        import sklearn

        raise ValueError(
            f"Fitting array-API inputs ({xp.__name__}) needs scikit-learn >= 1.9; "
            f"this is scikit-learn {sklearn.__version__}. Upgrade it, or pass "
            "NumPy arrays."
        )
    return xp, device


def _float_dtype(*arrays):
    """The dtype skmoe computes in: float64 (float32 on a device without it).

    A NumPy dtype on the NumPy path, the namespace's own otherwise, as
    ``validate_data(dtype=...)`` expects.
    """
    xp, device = _namespace(*arrays)
    if xp is np:
        return np.float64
    return _max_precision_float_dtype(xp, device)


def _to_numpy(array):
    """A NumPy copy of a device array (NumPy arrays and None pass through)."""
    if array is None or isinstance(array, np.ndarray):
        return array
    if not _is_foreign_array(array):  # lists, DataFrames, ...
        return np.asarray(array)
    return move_to(array, xp=np, device="cpu")


def _to_namespace(array, xp, device):
    """``array`` (NumPy or already there) in namespace ``xp`` on ``device``."""
    if xp is np or array is None:
        return array
    if not isinstance(array, np.ndarray):
        return array
    return move_to(array, xp=xp, device=device)


def _like(array, X):
    """NumPy ``array`` moved to where ``X`` lives, floats in ``X``'s dtype."""
    if isinstance(X, np.ndarray):
        return array
    xp, device = _namespace(X)
    out = move_to(array, xp=xp, device=device)
    if np.issubdtype(array.dtype, np.floating):
        out = xp.astype(out, X.dtype)
    return out


def _xp_of(array):
    """The namespace of one array: ``numpy`` for ndarrays, else its
    array-API-compatible namespace (``array_api_compat``'s wrapper for CuPy
    and PyTorch, whose own modules lack parts of the standard)."""
    if isinstance(array, np.ndarray):
        return np
    return array_namespace(array)


def _permute_dims(array, axes):
    """``permute_dims`` in any namespace (NumPy < 2 has only ``transpose``)."""
    if isinstance(array, np.ndarray):
        return np.transpose(array, axes)
    return array_namespace(array).permute_dims(array, axes)


def _take(array, indices, axis):
    """``take`` along ``axis`` with host integer ``indices``, in any namespace."""
    if isinstance(array, np.ndarray):
        return np.take(array, indices, axis=axis)
    xp = array_namespace(array)
    idx = xp.asarray(np.asarray(indices, dtype=np.int64), device=array.device)
    return xp.take(array, idx, axis=axis)


def _argmax_labels(classes, scores, axis):
    """``classes`` (NumPy) at the argmax of ``scores`` along ``axis``, in the
    namespace and on the device of ``scores``."""
    xp = _xp_of(scores)
    idx = xp.argmax(scores, axis=axis)
    if xp is np:
        return classes[idx]
    classes = _to_namespace(classes, *_namespace(scores))
    return xp.reshape(xp.take(classes, xp.reshape(idx, (-1,))), idx.shape)


def _supports_array_api(estimator):
    """Whether scikit-learn says the estimator fits array-API inputs."""
    try:
        return bool(estimator.__sklearn_tags__().array_api_support)
    except AttributeError:
        return False
