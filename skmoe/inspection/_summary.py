"""A plain-text summary of a fitted mixture of experts."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from .._experts import _FailedExpert
from .._likelihood import noise_std
from ._utils import _FittedMixture

__all__ = ["summary"]


def _fmt(value, precision):
    """A number with ``precision`` significant digits (``nan``/``inf`` as is)."""
    return f"{float(value):.{precision}g}"


def _table(header, rows, left=(), indent="  "):
    """Columns of text: numbers right-aligned, columns in ``left`` left-aligned."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(header))]
    lines = []
    for row in cells:
        parts = [
            cell.ljust(width) if j in left else cell.rjust(width)
            for j, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return lines


def _describe_expert(expert):
    """Short description of a fitted expert beyond its type."""
    if isinstance(expert, _FailedExpert):
        return (
            f"{type(expert.estimator).__name__} failed, out of the mixture "
            "(see failed_experts_)"
        )
    if hasattr(expert, "tree_") and hasattr(expert, "get_depth"):
        return f"depth {expert.get_depth()}, {expert.get_n_leaves()} leaves"
    if hasattr(expert, "coef_"):
        return "linear (coefficients below)"
    return ""


def _coefficient_rows(experts, classes, precision, max_features, targets=False):
    """Rows of (expert, [class,] intercept, coefficients...) for linear experts;
    with ``targets`` (a regressor of a 2-D y), a target column in place of
    the class."""
    rows = []
    for k, expert in enumerate(experts):
        if not hasattr(expert, "coef_"):
            continue
        coef = np.atleast_2d(np.asarray(expert.coef_, dtype=np.float64))
        intercept = np.ravel(
            np.asarray(getattr(expert, "intercept_", 0.0), dtype=float)
        )
        if intercept.size == 1 and coef.shape[0] > 1:
            intercept = np.repeat(intercept, coef.shape[0])
        if coef.shape[1] > max_features:
            return None
        expert_classes = getattr(expert, "classes_", None)
        for r in range(coef.shape[0]):
            if targets:
                label = str(r)
            elif classes is None:
                label = ""
            elif coef.shape[0] == 1 and expert_classes is not None:
                # Binary logistic regression: log-odds of the second class.
                label = f"{expert_classes[-1]} vs {expert_classes[0]}"
            elif expert_classes is not None:
                label = str(expert_classes[r])
            else:
                label = str(r)
            row = [str(k)] + ([label] if classes is not None or targets else [])
            row.append(_fmt(intercept[r], precision))
            row += [_fmt(c, precision) for c in coef[r]]
            rows.append(row)
    return rows


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like", None],
        "y": ["array-like", None],
        "precision": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def summary(estimator, X=None, y=None, *, precision=4, max_features=12):
    """A plain-text summary of a fitted mixture of experts.

    The fit (iterations, convergence, log-likelihood), each expert's share of
    the training data, type and (for a regressor) noise standard deviation,
    the coefficients of linear experts and the gate's coefficients.

    Parameters
    ----------
    estimator : fitted mixture of experts or Pipeline ending in one
        For a pipeline, the coefficients refer to the features the mixture
        sees (the output of the preprocessing steps).
    X : array-like of shape (n_samples, n_features), default=None
        Data on which to report the log-likelihood, BIC and AIC (with ``y``).
    y : array-like of shape (n_samples,), default=None
        Their targets.
    precision : int, default=4
        Significant digits of the numbers.
    max_features : int, default=12
        Coefficient tables are left out when there are more features.

    Returns
    -------
    text : str
        Lines separated by ``"\\n"``; print it.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_mcycle
    >>> from skmoe.inspection import summary
    >>> X, y = load_mcycle(return_X_y=True)
    >>> moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    >>> print(summary(moe))  # doctest: +SKIP
    MixtureOfExpertsRegressor: 3 experts, 1 feature
    ...
    """
    if (X is None) != (y is None):
        raise ValueError(
            "summary reports the log-likelihood, BIC and AIC of (X, y): give both "
            "X and y, or neither."
        )
    fitted = _FittedMixture(estimator, "summary")
    moe = fitted.moe
    experts = list(moe.experts_)
    n_experts = len(experts)
    features = fitted.moe_feature_names()
    n_features = len(features)
    lines = [
        f"{fitted.name}: {n_experts} expert{'s' * (n_experts != 1)}, "
        f"{n_features} feature{'s' * (n_features != 1)}"
    ]
    if fitted.pre is not None:
        lines.append(fitted.preprocessing_line("coefficients refer to"))
    classes = getattr(moe, "classes_", None) if fitted.is_classifier else None
    if classes is not None:
        lines.append(f"  classes: {', '.join(map(str, classes))}")

    # -- the fit ----------------------------------------------------------
    unit = getattr(moe, "_n_iter_unit", "iterations")
    streamed = unit == "partial_fit calls"
    if streamed:
        # partial_fit has no stopping rule, and its numbers are those of the
        # last chunk, each minibatch scored before the step that learns from it.
        fit_line = f"Fit: {moe.n_iter_} partial_fit calls (no convergence test)"
        where = "last chunk's progressive "
        objective = where + "objective"
    else:
        status = (
            "converged" if getattr(moe, "converged_", False) else "did NOT converge"
        )
        fit_line = f"Fit: {moe.n_iter_} {unit}, {status}"
        n_init = moe.get_params().get("n_init", 1)
        if n_init and n_init > 1:
            fit_line += f" (best of n_init={n_init} runs)"
        where, objective = "training ", "objective"
    lines += ["", fit_line]
    if hasattr(moe, "log_likelihood_"):
        lines.append(f"  {where}log-likelihood: {_fmt(moe.log_likelihood_, precision)}")
    if hasattr(moe, "lower_bound_"):
        lines.append(
            f"  {objective} (mean log-likelihood minus gate penalty): "
            f"{_fmt(moe.lower_bound_, precision)}"
        )
    reinit = getattr(moe, "reinitialized_experts_", None)
    if reinit:
        lines.append(f"  re-initialised experts (iteration, expert): {reinit}")
    dead = getattr(moe, "dead_experts_", None)
    if dead is not None and len(dead):
        lines.append(f"  dead experts: {list(map(int, dead))}")
    if X is not None and y is not None:
        X_in = fitted.transform(X)
        log_prob = moe.score_samples(X_in, y)
        bic, aic = moe.bic(X_in, y), moe.aic(X_in, y)
        lines.append(
            f"  on the given data ({log_prob.size} rows): log-likelihood "
            f"{_fmt(log_prob.sum(), precision)}, BIC {_fmt(bic, precision)}, "
            f"AIC {_fmt(aic, precision)}"
        )

    # -- the experts ------------------------------------------------------
    shares = getattr(moe, "expert_shares_", None)
    noise = getattr(moe, "noise_variance_", None)
    # Student-t experts: noise_variance_ is the squared scale.
    df = getattr(moe, "df_", None)
    header = ["expert", "share"]
    if noise is not None:
        header += ["noise std"] if df is None else ["t scale", "df"]
    header += ["type", "details"]
    rows = []
    for k, expert in enumerate(experts):
        row = [str(k), "" if shares is None else _fmt(shares[k], precision)]
        if noise is not None:
            # One per target for a 2-D y.
            std = np.atleast_1d(noise_std(noise[k]))
            row.append(", ".join(_fmt(s, precision) for s in std))
        if noise is not None and df is not None:
            row.append(_fmt(df[k], precision))
        kind = "failed" if isinstance(expert, _FailedExpert) else type(expert).__name__
        row += [kind, _describe_expert(expert)]
        rows.append(row)
    lines += ["", "Experts (share: fraction of the training data's responsibility)"]
    lines += _table(header, rows, left=(len(header) - 2, len(header) - 1))

    targets = noise is not None and np.ndim(noise) > 1
    coef_rows = _coefficient_rows(experts, classes, precision, max_features, targets)
    if coef_rows is None:
        lines += [
            "",
            f"Expert coefficients: not shown ({n_features} features > "
            f"max_features={max_features}); see experts_[k].coef_.",
        ]
    elif coef_rows:
        label = ["class"] if classes is not None else ["target"] if targets else []
        header = ["expert"] + label + ["intercept"] + features
        lines += ["", "Expert coefficients (linear experts)"]
        lines += _table(header, coef_rows, left=(1,) if label else ())

    # -- the gate ---------------------------------------------------------
    gate = getattr(moe, "gate_", None)
    coef = getattr(gate, "coef_", None)
    intercept = getattr(gate, "intercept_", None)
    if (
        coef is not None
        and intercept is not None
        and np.ndim(coef) == 2
        and np.shape(coef) == (n_features, n_experts)
    ):
        lines += [
            "",
            "Gate: g(x) = softmax(x @ coef + intercept), one column per expert "
            "(identifiable up to a common shift)",
        ]
        if n_features > max_features:
            lines.append(
                f"  coefficients not shown ({n_features} features > "
                f"max_features={max_features}); see gate_.coef_."
            )
        else:
            rows = [
                [str(k), _fmt(intercept[k], precision)]
                + [_fmt(coef[j, k], precision) for j in range(n_features)]
                for k in range(n_experts)
            ]
            lines += _table(["expert", "intercept"] + features, rows)
    elif gate is not None:
        lines += [
            "",
            f"Gate: {type(gate).__name__} (see gate_; "
            "skmoe.inspection.export_text prints a tree of gates)",
        ]
    return "\n".join(lines)
