"""Changing the set of experts of a fitted flat mixture.

Removing experts (the gate renormalised over the others), splitting the
worst-explaining expert in two (growing, as in the split step of Ueda et
al.'s split-and-merge EM, 2000) and the start a warm-started ``fit`` with
another ``n_experts`` continues from. The estimators' public methods
(``remove_experts``, ``refit_expert``) and ``fit`` call these.
"""

import copy

import numpy as np
from sklearn.base import clone

from ._array_api import _to_numpy
from ._experts import _failed_indices


def _select(state, indices):
    """The state with experts ``indices`` in that order (an index may
    repeat: a split). The gate keeps their logits, so removing experts
    renormalises the gate over the others."""
    gate = copy.deepcopy(state["gate"])._select_experts(indices)
    noise = state.get("noise_variance")
    return {
        "experts": [state["experts"][k] for k in indices],
        "gate": gate,
        "noise_variance": None if noise is None else noise[np.asarray(indices)],
    }


def _posterior(estimator, state, X, y):
    """(n, K) log-likelihoods, responsibilities and per-row log p(y | x)."""
    log_lik = estimator._likelihood().log_likelihood(state, X, y)
    resp, log_prob = estimator._e_step(state, X, log_lik)
    return _to_numpy(log_lik), _to_numpy(resp), _to_numpy(log_prob)


def _weakest(estimator, state, X, y, w, n_remove):
    """The ``n_remove`` experts to remove: failed ones first, then those of
    least responsibility on (X, y)."""
    _, resp, _ = _posterior(estimator, state, X, y)
    mass = w @ resp
    failed = _failed_indices(state["experts"])
    mass[failed] = -np.inf
    return np.argsort(mass, kind="stable")[:n_remove]


def _worst_explained(log_lik, resp, w, experts):
    """The expert whose rows it explains worst: the lowest mean
    log-likelihood over its responsibility (failed and empty experts are
    never split)."""
    mass = w @ resp
    score = np.full(mass.size, np.inf)
    ok = mass > 0
    score[ok] = (w @ (resp * log_lik))[ok] / mass[ok]
    score[_failed_indices(experts)] = np.inf
    return int(np.argmin(score))


def _split_weights(expert, h, X, y, lik, n_parts):
    """(n, n_parts) weights that cut an expert's rows (responsibility ``h``,
    sample weights included) into ``n_parts``, or ``None`` if a part would
    be empty.

    The rows are ordered by their residual under the expert (regression;
    for several targets, their residual's projection on the principal
    direction of the expert's weighted residuals) or by their projection on
    the principal direction of their features, centred at their weighted
    mean (classification). Two parts are cut at
    zero: above and below the expert's prediction, or either side of the
    centre. More parts are cut at the weighted quantiles."""
    if lik.classifier:
        Xn = _to_numpy(X)
        centred = Xn - (h @ Xn) / h.sum()
        score = centred @ _principal_direction(centred, h)
    else:
        score = _to_numpy(y) - _to_numpy(expert.predict(X))
        if score.ndim == 2:
            score = score @ _principal_direction(score, h)
    if n_parts == 2:
        part = (score <= 0).astype(np.intp)
    else:
        order = np.argsort(score, kind="stable")
        cum = np.cumsum(h[order])
        ends = np.searchsorted(cum, cum[-1] * np.arange(1, n_parts) / n_parts)
        part = np.empty(score.size, dtype=np.intp)
        part[order] = np.searchsorted(ends, np.arange(score.size), side="left")
    weights = h[:, None] * (part[:, None] == np.arange(n_parts))
    if not np.all(weights.sum(axis=0) > 0):
        return None
    return weights


def _principal_direction(values, h):
    """The first principal direction of the rows of ``values`` (n, p),
    weighted by ``h``, about the origin."""
    return np.linalg.svd(values * np.sqrt(h)[:, None], full_matrices=False)[2][0]


def _fit_parts(estimator, expert, noise, X, y, weights, lik):
    """New copies of ``expert``, one per column of ``weights``, each fitted
    on its column (with its noise variance, from ``noise``, the expert's
    own, when the likelihood has one). Returns (experts, noise variances)."""
    n_parts = weights.shape[1]
    parts = {
        "experts": [clone(expert) for _ in range(n_parts)],
        "noise_variance": (
            None
            if noise is None
            else np.repeat(np.asarray(noise)[None], n_parts, axis=0)
        ),
    }
    lik.m_step(parts["experts"], X, y, weights, parts, estimator.n_jobs)
    return parts["experts"], parts["noise_variance"]


def _split(estimator, state, k, X, y, w, lik, log_lik, resp):
    """``state`` with expert ``k`` split in two.

    The two halves share expert ``k``'s gate mass (its logit less log 2
    each, so the mixture's density is unchanged before they are refitted);
    each is a new copy of expert ``k`` fitted on one side of its rows
    (:func:`_split_weights`)."""
    K = len(state["experts"])
    split = _select(state, list(range(K)) + [k])
    half = np.log(2.0)
    split["gate"].intercept_[k] -= half
    split["gate"].intercept_[K] -= half
    weights = _split_weights(split["experts"][k], resp[:, k] * w, X, y, lik, n_parts=2)
    if weights is None:
        return split  # nothing to split on: the copies stay identical
    noise = split["noise_variance"]
    experts, variances = _fit_parts(
        estimator,
        state["experts"][k],
        None if noise is None else noise[k],
        X,
        y,
        weights,
        lik,
    )
    split["experts"][k], split["experts"][K] = experts
    if variances is not None:
        split["noise_variance"][[k, K]] = variances
    return split


def _resized_start(estimator, state, X, y, w, lik):
    """The start of a warm-started fit whose ``n_experts`` differs from the
    fitted model's, and the (n, K) log-likelihood floor the grown run must
    reach.

    Fewer experts: the weakest are removed (:func:`_weakest`). More: the
    worst-explaining expert is split, one expert at a time. Returns
    ``(start, duplicate, floor)``: ``duplicate`` is the grown model whose
    new experts are exact copies (same density as the fitted model, from
    which EM cannot fall below it) and ``floor`` the fitted model's
    weighted log-likelihood on (X, y); both ``None`` when shrinking.
    """
    K, target = len(state["experts"]), estimator.n_experts
    w = _to_numpy(w)
    if target < K:
        drop = _weakest(estimator, state, X, y, w, K - target)
        keep = [k for k in range(K) if k not in set(drop.tolist())]
        return _select(state, keep), None, None
    log_lik, resp, log_prob = _posterior(estimator, state, X, y)
    floor = float(w @ log_prob)
    duplicate = state
    for _ in range(target - K):
        k = _worst_explained(log_lik, resp, w, state["experts"])
        state = _split(estimator, state, k, X, y, w, lik, log_lik, resp)
        duplicate = _select(duplicate, list(range(len(duplicate["experts"]))) + [k])
        half = np.log(2.0)
        duplicate["gate"].intercept_[k] -= half
        duplicate["gate"].intercept_[-1] -= half
        log_lik, resp, _ = _posterior(estimator, state, X, y)
    return state, duplicate, floor


def _guarded(run_once, duplicate, floor):
    """``run_once`` from the split start, and again from ``duplicate`` if it
    ended below the smaller model's log-likelihood ``floor`` (EM from the
    duplicate cannot, up to the gate's penalty): the better is kept."""

    def run(*args, **kwargs):
        # args: (estimator, X, y, w, lik, templates, init_resp, start, ...)
        first = run_once(*args, **kwargs)
        if first.log_likelihood >= floor:
            return first
        again = run_once(*args[:7], duplicate, *args[8:], **kwargs)
        return max(first, again, key=lambda r: r.log_likelihood)

    return run
