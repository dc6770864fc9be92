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
