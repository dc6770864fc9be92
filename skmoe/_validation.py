"""Input checks shared by the estimators and the gates."""

import inspect

from sklearn.utils.validation import _check_sample_weight

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
