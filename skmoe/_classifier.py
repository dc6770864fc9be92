"""What the classifiers share, flat or hierarchical: categorical experts.

The class labels (validated, ``classes_``), the likelihood
(``CategoricalLikelihood``) and the predictions: the mixture's class
probabilities and each expert's own, mapped onto ``classes_``.
"""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._array_api import (
    _argmax_labels,
    _float_dtype,
    _namespace,
    _to_namespace,
    _to_numpy,
    _xp_of,
)
from ._experts import _expert_outputs
from ._likelihood import CategoricalLikelihood
from ._validation import (
    _check_magnitude,
    _dask_blockwise,
    _keeps_float32,
    _validate_data,
)

# The default classifier expert solves its M-steps to tol=1e-6, not
# scikit-learn's 1e-4: with 1e-4 an expert's weighted fit moves so little
# between iterations that EM's objective changes by less than its own tol
# and EM stops on a flat stretch (vowel data, random_state=1: 33 iterations
# to -0.5245 nats/row, where exact M-steps reach -0.5132 in 127). Inside EM
# skmoe's Newton solver takes one step per M-step from the previous
# solution and solves the last M-step to this tol (skmoe._logistic).
_DEFAULT_LOGISTIC = {"tol": 1e-6, "max_iter": 1000}


class _MixtureClassifierMixin(ClassifierMixin):
    """Classification with categorical experts, for a
    :class:`BaseMixtureOfExperts`."""

    _classifier = True

    # A smooth gate by default: held out, a sharp one costs log-loss on the
    # vowel data (new speakers) and Satellite, and C=1 beats one logistic
    # regression on those and on LetterRecognition (figures in the user
    # guide's "The gate"). A classifier has no likelihood optimum to protect
    # from the penalty the way the regressor's noise variances do.
    _default_gate_params = {"C": 1.0}

    def _default_expert(self):
        # Refitted by skmoe._logistic (Newton's method, whatever the
        # solver named here) on NumPy data; scikit-learn's L-BFGS fits it
        # on array-API (device) data.
        return LogisticRegression(**_DEFAULT_LOGISTIC)

    def _validate_fit_data(self, X, y, classes=None):
        """Validate (X, y) and set ``classes_``: the labels of ``y``, or the
        given ``classes`` (``partial_fit``), which must hold every label of y."""
        X, y = _validate_data(self, X, y, dtype=_float_dtype(X))
        _check_magnitude(X, "X")
        y = column_or_1d(_to_numpy(y), warn=True)
        check_classification_targets(y)
        present = np.unique(y)
        classes = present if classes is None else np.unique(classes)
        if classes.size < 2:
            where = "the data contain" if classes is present else "classes holds"
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, "
                f"but {where} only one class: {classes.tolist()}."
            )
        unknown = np.setdiff1d(present, classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels that are not in classes: {unknown.tolist()}."
            )
        self.classes_ = classes
        return X, self._labels_like(y, X)

    @staticmethod
    def _labels_like(y, X):
        """Host labels ``y`` moved to the namespace of ``X`` (device fits)."""
        xp, device = _namespace(X)
        if xp is np:
            return y
        if y.dtype.kind not in "biuf":
            raise ValueError(
                "With array-API inputs the class labels must be numbers (they "
                "live on the device with X); encode string labels first, e.g. "
                "with sklearn.preprocessing.LabelEncoder."
            )
        return _to_namespace(y, xp, device)

    def _check_y(self, y, X):
        y = column_or_1d(_to_numpy(y), warn=True)
        n_samples = X.shape[0]
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} rows but y has {y.shape[0]}: they must match."
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not seen during fit: {unknown.tolist()}."
            )
        return self._labels_like(y, X)

    def _likelihood(self, y=None, sample_weight=None):
        return CategoricalLikelihood(
            self.classes_,
            y,
            self.min_responsibility,
            isolate=y is not None and self.expert_errors == "isolate",
        )

    @_dask_blockwise
    @_keeps_float32
    def predict_proba(self, X):
        """Class probabilities of the mixture (per ``routing``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._predict_proba(X, "predict_proba")

    def _predict_proba(self, X, method):
        X, weights, proba = self._mixed_outputs(
            X,
            method,
            lambda experts, X, rows, isolate: _expert_outputs(
                experts, X, self.classes_, rows=rows, isolate=isolate
            ),
        )
        if isinstance(proba, np.ndarray):
            return np.einsum("nk,nkc->nc", weights, proba)
        return _xp_of(proba).sum(weights[:, :, None] * proba, axis=1)

    @_dask_blockwise
    @_keeps_float32
    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._predict_proba(X, "predict_log_proba")
        with np.errstate(divide="ignore"):
            return _xp_of(proba).log(proba)

    @_dask_blockwise
    def predict(self, X):
        """Most probable class under the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        proba = self._predict_proba(X, "predict")  # checks that it is fitted
        return _argmax_labels(self.classes_, proba, axis=1)

    @_dask_blockwise
    @_keeps_float32
    def predict_experts_proba(self, X):
        """Each expert's class probabilities for every row (no routing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_experts, n_classes)
        """
        X = self._check_X(X, "predict_experts_proba")
        return _expert_outputs(self.experts_, X, self.classes_)

    def predict_experts(self, X):
        """Each expert's predicted class for every row (no routing).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples, n_experts)
        """
        proba = self.predict_experts_proba(X)  # checks that it is fitted
        return _argmax_labels(self.classes_, proba, axis=2)
