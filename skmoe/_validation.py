"""Input checks shared by the estimators and the gates."""

import functools
import inspect

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._array_api import _xp_of, array_namespace, is_array_api_obj

# Newer scikit-learn refuses all-zero weights itself, with a message that does
# not say which call or what to do; skmoe raises its own, on every version.
_ALLOW_ZERO = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)


def _check_weights(sample_weight, X, dtype, what="The sample weights"):
    """Validated, non-negative ``sample_weight`` with a positive total.

    ``what`` names the weights in the error (e.g. the weights of one
    ``partial_fit`` chunk).
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=dtype, ensure_non_negative=True, **_ALLOW_ZERO
    )
    if not float(_xp_of(sample_weight).sum(sample_weight)) > 0:
        raise ValueError(
            f"{what} are all zero: give at least one row a positive weight."
        )
    return sample_weight


def _validate_data(estimator, *args, **kwargs):
    """scikit-learn's ``validate_data``, with skmoe's advice on missing values.

    scikit-learn's own suggests estimators that accept NaN, such as
    ``HistGradientBoostingRegressor``: no use here, where the gate needs
    complete features whatever the experts are.
    """
    try:
        return validate_data(estimator, *args, **kwargs)
    except ValueError as exc:
        name = type(estimator).__name__
        if str(exc).startswith("could not convert string to float"):
            X = args[0] if args else kwargs.get("X")
            raise ValueError(
                f"{name} needs numeric features, but X holds strings"
                f"{_non_numeric_columns(X)} ({exc}). Encode categorical "
                "columns first, e.g. with sklearn.preprocessing.OneHotEncoder "
                "in a sklearn.compose.ColumnTransformer, in a Pipeline before "
                f"{name}."
            ) from None
        if not str(exc).startswith("Input X contains NaN"):
            raise
        raise ValueError(
            f"Input X contains NaN. {name} needs complete features (a softmax "
            "gate takes no missing values, whatever the experts accept): impute "
            "them first, e.g. with sklearn.impute.SimpleImputer in a Pipeline "
            f"before {name}."
        ) from None


def _non_numeric_columns(X):
    """`` in columns [...]`` naming a DataFrame's non-numeric columns, or ``""``."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return ""
    names = [str(col) for col, dtype in dtypes.items() if dtype.kind not in "biuf"]
    return f" in columns {names}" if names else ""


#: The magnitudes skmoe computes with: its squares (variances, Gram
#: matrices) must be float64 numbers, neither overflowing nor underflowing.
_MAX_MAGNITUDE = 1e150
_MIN_MAGNITUDE = 1e-150


def _check_magnitude(a, name):
    """Refuse values whose squares float64 cannot hold: any beyond
    ``_MAX_MAGNITUDE`` in magnitude, or a column (of ``X``) or target whose
    nonzero values are all below ``_MIN_MAGNITUDE``."""
    xp = _xp_of(a)
    mag = xp.abs(a)
    largest = xp.max(mag, axis=0)
    big = float(xp.max(largest))
    if big > _MAX_MAGNITUDE:
        raise ValueError(
            f"{name} holds values as large as {big:.3g}: their squares overflow "
            f"float64 (values must stay within {_MAX_MAGNITUDE:.0e} in "
            f"magnitude). Rescale {name} first, e.g. with "
            "sklearn.preprocessing.StandardScaler."
        )
    tiny = (largest > 0) & (largest < _MIN_MAGNITUDE)
    if bool(xp.any(tiny)):
        where = "a column whose values are" if a.ndim == 2 else "values"
        raise ValueError(
            f"{name} has {where} all below "
            f"{_MIN_MAGNITUDE:.0e} in magnitude: their squares underflow "
            f"float64. Rescale {name} first, e.g. with "
            "sklearn.preprocessing.StandardScaler."
        )


def _is_float32(X):
    """Whether ``X`` is an array (any namespace), or a DataFrame, of float32."""
    if isinstance(X, np.ndarray):
        return X.dtype == np.float32
    if is_array_api_obj(X):
        return X.dtype == array_namespace(X).float32
    dtypes = getattr(X, "dtypes", None)  # a pandas DataFrame
    if dtypes is None or not hasattr(dtypes, "__iter__"):
        return False
    dtypes = list(dtypes)
    return bool(dtypes) and all(dtype == np.float32 for dtype in dtypes)


def _keeps_float32(method):
    """Return ``method``'s floating outputs as float32 when ``X`` is float32.

    The estimators compute in float64 whatever the input (EM's sums of
    log-probabilities need it), and answer in the precision they were asked in,
    as scikit-learn's linear models do; device arrays too, in their own
    namespace. Labels pass through.
    """

    def _cast(out):
        if isinstance(out, np.ndarray):
            return out.astype(np.float32) if out.dtype == np.float64 else out
        if is_array_api_obj(out):
            xp = array_namespace(out)
            return xp.astype(out, xp.float32) if out.dtype == xp.float64 else out
        return out

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        out = method(self, X, *args, **kwargs)
        if not _is_float32(X):
            return out
        if isinstance(out, tuple):
            return tuple(_cast(part) for part in out)
        if isinstance(out, list):  # highest-density sets, one array per row
            return [_cast(part) for part in out]
        if isinstance(out, dict):  # the HMEs' probabilities per node
            return {key: _cast(part) for key, part in out.items()}
        return _cast(out)

    return wrapper


def _is_dask_collection(*objects):
    """Whether any of ``objects`` is a Dask array, DataFrame or Series (by
    its type's module: Dask is not imported to ask)."""
    return any(
        # dask, or dask_expr (Dask's DataFrames before they moved into dask)
        type(obj).__module__.partition(".")[0] in ("dask", "dask_expr")
        for obj in objects
        if obj is not None
    )


def _dask_blockwise(method):
    """On a Dask array or DataFrame ``X``, return ``method``'s answer as a
    lazy Dask array computed block by block of rows (``map_blocks``), as
    dask-ml's wrappers do; the estimator travels to the blocks. Other inputs
    go to ``method`` as they are. Further array arguments (``y``) are
    aligned with the blocks of ``X``.
    """

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if not _is_dask_collection(X, *args):
            return method(self, X, *args, **kwargs)
        import dask.array as da

        def as_array(data, rows=None):
            if hasattr(data, "to_dask_array"):  # DataFrame or Series
                data = data.to_dask_array(lengths=True)
            elif not isinstance(data, da.Array):
                data = da.from_array(np.asarray(data), chunks=-1)
            if rows is None:
                return data.rechunk({1: -1}) if data.ndim == 2 else data
            return data.rechunk({0: rows})

        # DataFrame blocks go back to pandas with their columns, so that the
        # feature names are checked as in memory.
        columns = getattr(X, "columns", None)
        X = as_array(X)
        args = [as_array(a, X.chunks[0]) for a in args]

        def block(Xb, *argb):
            if columns is not None:
                import pandas as pd

                Xb = pd.DataFrame(Xb, columns=columns)
            return method(self, Xb, *argb, **kwargs)

        # The shape and dtype of one row's answer, for the blocks' metadata.
        probe_args = [np.zeros((1,) + a.shape[1:], a.dtype) for a in args]
        if args and hasattr(self, "classes_"):
            probe_args[0] = np.asarray(self.classes_)[:1]
        probe = block(np.zeros((1, X.shape[1]), X.dtype), *probe_args)
        if not isinstance(probe, np.ndarray):
            raise TypeError(
                f"{method.__name__} on Dask inputs returns one array per row; "
                f"with these arguments it returns {type(probe).__name__}. "
                "Compute the data into memory for this call."
            )

        extra = probe.shape[1:]
        out_index = "i" + "jkl"[: len(extra)]
        pairs = [X, "ij"]
        for a in args:
            pairs += [a, "i" + "mno"[: a.ndim - 1]]
        return da.blockwise(
            block,
            out_index,
            *pairs,
            dtype=probe.dtype,
            concatenate=True,
            new_axes={c: s for c, s in zip(out_index[1:], extra, strict=True)},
            meta=np.empty((0,) + extra, probe.dtype),
        )

    return wrapper
