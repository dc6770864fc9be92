"""numba kernel of :mod:`._fused` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS
from ._numba import _log_normal
from ._softmax_numba import (
    _BLOCK,
    _add_gradient_hessian,
    _block_logits,
    _exp_flushed,
    _symmetrise,
)


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _linear_gaussian_pass(
    XT, y, w, B, a, log_norm, half_prec, W, b, shift, RT, log_prob, lo, hi
):
    """One EM pass over rows ``lo:hi`` of a mixture of linear Gaussian
    experts under a softmax gate, in blocks, features-major.

    Per block: the gate's log-probabilities, the experts' means and
    log-densities, the posteriors (written, times ``w``, to ``RT``) and the
    rows' log-likelihoods (``log_prob``); then, from the block still in
    cache, the sums the next M-step needs: the gate's soft-target loss,
    gradient and Hessian at ``(W, b)`` (as
    :func:`~skmoe._kernels._softmax_numba._softmax_xent_hessian`), and each
    expert's weighted moments of ``(x, y) - shift[k]``.
    """
    d, n_experts = W.shape
    q = d + 1
    grad = np.zeros((q, n_experts))
    hess = np.zeros((q, n_experts, q, n_experts))
    s0 = np.zeros(n_experts)
    s1 = np.zeros((n_experts, q))
    s2 = np.zeros((n_experts, q, q))
    z = np.empty((n_experts, _BLOCK))
    lg = np.empty((n_experts, _BLOCK))
    mu = np.empty((n_experts, _BLOCK))
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    rm = np.empty(_BLOCK)
    xa = np.ones((q, _BLOCK))
    zc = np.empty((q, _BLOCK))
    c = np.empty(_BLOCK)
    xx = np.empty(_BLOCK)
    log_total = 0.0
    gate_loss = 0.0
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        yb = y[start : start + m]
        wb = w[start : start + m]
        for j in range(d):
            xj = XT[j, start : start + m]
            aj = xa[j]
            for i in range(m):
                aj[i] = xj[i]
        # The gate: z its probabilities, lg its log-probabilities.
        _block_logits(XT, W, b, start, m, z, top)
        for i in range(m):
            total[i] = 0.0
        for k in range(n_experts):
            zk = z[k]
            lk = lg[k]
            for i in range(m):
                lk[i] = zk[i] - top[i]
                e = _exp_flushed(lk[i])
                zk[i] = e
                total[i] += e
        for i in range(m):
            # total >= 1 (the largest term is exp(0)), so the log is normal.
            c[i] = _log_normal(total[i])
            total[i] = 1.0 / total[i]
        for k in range(n_experts):
            zk = z[k]
            lk = lg[k]
            for i in range(m):
                lk[i] -= c[i]
                zk[i] *= total[i]
        # The experts' log-densities, plus the gate's: the joint, in mu.
        _block_logits(XT, B, a, start, m, mu, total)
        for k in range(n_experts):
            muk = mu[k]
            lk = lg[k]
            for i in range(m):
                r = yb[i] - muk[i]
                muk[i] = lk[i] + log_norm[k] - r * r * half_prec[k]
        for i in range(m):
            top[i] = mu[0, i]
        for k in range(1, n_experts):
            muk = mu[k]
            for i in range(m):
                top[i] = max(top[i], muk[i])
        for i in range(m):
            total[i] = 0.0
        # mu becomes exp(joint - top): the posteriors up to 1 / total.
        for k in range(n_experts):
            muk = mu[k]
            for i in range(m):
                e = _exp_flushed(muk[i] - top[i])
                muk[i] = e
                total[i] += e
        lp = log_prob[start : start + m]
        acc = 0.0
        for i in range(m):
            lp[i] = top[i] + _log_normal(total[i])
            acc += wb[i] * lp[i]
            # The row's weight over its total: the posteriors' factor.
            total[i] = wb[i] / total[i]
            rm[i] = 0.0
        log_total += acc
        # The weighted posteriors, the gate's targets.
        acc = 0.0
        for k in range(n_experts):
            muk = mu[k]
            lk = lg[k]
            rk = RT[k, start : start + m]
            sk = 0.0
            for i in range(m):
                u = muk[i] * total[i]
                rk[i] = u
                rm[i] += u
                sk += u
                acc -= u * lk[i]
            s0[k] += sk
        gate_loss += acc
        _add_gradient_hessian(xa, z, RT, start, rm, m, c, xx, grad, hess)
        # Each expert's moments about its shift (near its means, so that
        # the centred moments lose nothing to cancellation).
        for k in range(n_experts):
            for j in range(d):
                aj = xa[j]
                cj = zc[j]
                sj = shift[k, j]
                for i in range(m):
                    cj[i] = aj[i] - sj
            cd = zc[d]
            sd = shift[k, d]
            for i in range(m):
                cd[i] = yb[i] - sd
            rk = RT[k, start : start + m]
            for j in range(q):
                cj = zc[j]
                acc = 0.0
                for i in range(m):
                    xx[i] = rk[i] * cj[i]
                    acc += xx[i]
                s1[k, j] += acc
                for jj in range(j, q):
                    cjj = zc[jj]
                    acc = 0.0
                    for i in range(m):
                        acc += xx[i] * cjj[i]
                    s2[k, j, jj] += acc
    _symmetrise(hess)
    for k in range(n_experts):
        for j in range(q):
            for jj in range(j):
                s2[k, j, jj] = s2[k, jj, j]
    return log_total, gate_loss, grad, hess, s0, s1, s2
