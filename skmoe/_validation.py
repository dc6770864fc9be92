"""Input checks shared by the estimators and the gates."""

import inspect

from sklearn.utils.validation import _check_sample_weight, validate_data

from ._array_api import _xp_of

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
        if not str(exc).startswith("Input X contains NaN"):
            raise
        name = type(estimator).__name__
        raise ValueError(
            f"Input X contains NaN. {name} needs complete features (a softmax "
            "gate takes no missing values, whatever the experts accept): impute "
            "them first, e.g. with sklearn.impute.SimpleImputer in a Pipeline "
            f"before {name}."
        ) from None


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
