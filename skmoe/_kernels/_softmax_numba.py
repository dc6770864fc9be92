"""numba kernels of :mod:`._softmax` (imported on first use)."""

import numba
import numpy as np

from ._config import FASTMATH_FLAGS
from ._numba import _exp_nonpos, _log_normal

# Rows per block: the block's (n_classes, _BLOCK) scratch arrays stay in L1.
_BLOCK = 256


#: Below exp(_FLUSH_BELOW) a probability is taken as 0: any product of two
#: larger ones is a normal float. Subnormal operands slow x86 arithmetic
#: about a hundredfold, and well-separated experts make them common
#: (measured: a fused EM pass 3 to 7 times slower on such data).
_FLUSH_BELOW = -345.0


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _exp_flushed(x):
    """``exp(x)`` for ``x <= 0``, 0 below ``exp(_FLUSH_BELOW)`` (about 1e-150)."""
    # The argument is clamped first: a vectorised select evaluates both
    # branches, and the exponential of a smaller one is itself subnormal.
    e = _exp_nonpos(max(x, _FLUSH_BELOW))
    return e * (x > _FLUSH_BELOW)


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _block_logits(XT, W, b, start, m, z, top):
    """Logits of rows ``start:start+m`` into ``z`` (classes x rows), row maxima
    into ``top``.

    Every innermost loop runs over the rows of the block through 1-D views:
    LLVM vectorises those, while the same loops indexing the 2-D arrays stay
    scalar (measured 3.7x slower for the logits).
    """
    n_features, n_classes = W.shape
    for k in range(n_classes):
        zk = z[k]
        bk = b[k]
        for i in range(m):
            zk[i] = bk
        for j in range(n_features):
            xj = XT[j, start : start + m]
            wjk = W[j, k]
            for i in range(m):
                zk[i] += xj[i] * wjk
    z0 = z[0]
    for i in range(m):
        top[i] = z0[i]
    for k in range(1, n_classes):
        zk = z[k]
        for i in range(m):
            top[i] = max(top[i], zk[i])


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _softmax_xent(XT, W, b, TT, mass, lo, hi):
    """Loss and gradient over rows ``lo:hi``, in blocks, features-major (see
    ``_block_logits``).

    Takes the whole arrays and a row range rather than column slices of
    ``XT``: those would be non-contiguous views, whose row loops numba leaves
    scalar (about 2x slower).
    """
    n_features, n_classes = W.shape
    grad = np.zeros((n_features + 1, n_classes))
    z = np.empty((n_classes, _BLOCK))
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    loss = 0.0
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        _block_logits(XT, W, b, start, m, z, top)
        for i in range(m):
            total[i] = 0.0
        # -sum_k t_k log p_k = m log(norm) - sum_k t_k z_k, with m = sum_k t_k
        for k in range(n_classes):
            zk = z[k]
            tk = TT[k, start : start + m]
            acc = 0.0
            for i in range(m):
                acc -= tk[i] * zk[i]
                e = _exp_flushed(zk[i] - top[i])
                zk[i] = e
                total[i] += e
            loss += acc
        mk = mass[start : start + m]
        acc = 0.0
        for i in range(m):
            # total >= 1 (the largest term is exp(0)), so the log is normal.
            acc += mk[i] * (_log_normal(total[i]) + top[i])
            total[i] = mk[i] / total[i]
        loss += acc
        for k in range(n_classes):
            zk = z[k]
            tk = TT[k, start : start + m]
            gb = 0.0
            for i in range(m):
                g = total[i] * zk[i] - tk[i]
                zk[i] = g
                gb += g
            grad[n_features, k] += gb
            for j in range(n_features):
                xj = XT[j, start : start + m]
                acc = 0.0
                for i in range(m):
                    acc += xj[i] * zk[i]
                grad[j, k] += acc
    return loss, grad


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _log_softmax_rows(X, out, W, b):
    """``out = log_softmax(X @ W + b)`` over blocks of rows (see ``_block_logits``)."""
    n_classes = W.shape[1]
    n = X.shape[0]
    # One transposed block of X at a time keeps the caller's row-major layout.
    XT = np.empty((X.shape[1], _BLOCK))
    z = np.empty((n_classes, _BLOCK))
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for i in range(m):
            for j in range(X.shape[1]):
                XT[j, i] = X[start + i, j]
        _block_logits(XT, W, b, 0, m, z, top)
        for i in range(m):
            total[i] = 0.0
        for k in range(n_classes):
            zk = z[k]
            for i in range(m):
                total[i] += _exp_nonpos(zk[i] - top[i])
        for i in range(m):
            top[i] += _log_normal(total[i])
        for i in range(m):
            for k in range(n_classes):
                out[start + i, k] = z[k, i] - top[i]
    return out


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _add_gradient_hessian(xa, z, TT, start, mk, m, c, xx, grad, hess):
    """Add one block's gradient and upper Hessian blocks (``k <= l``,
    ``j <= j'``) of the soft-target cross-entropy: ``xa`` (q, _BLOCK) the
    block's features with a trailing row of ones, ``z`` (K, _BLOCK) its
    probabilities, ``TT[:, start:start+m]`` its weighted targets and ``mk``
    their row sums; ``c`` and ``xx`` are scratch rows. Each entry is a dot
    product over the rows of the block, which vectorises."""
    n_classes = z.shape[0]
    q = xa.shape[0]
    for k in range(n_classes):
        zk = z[k]
        tk = TT[k, start : start + m]
        for i in range(m):
            c[i] = mk[i] * zk[i] - tk[i]
        for j in range(q):
            aj = xa[j]
            acc = 0.0
            for i in range(m):
                acc += aj[i] * c[i]
            grad[j, k] += acc
    for k in range(n_classes):
        zk = z[k]
        for l in range(k, n_classes):
            zl = z[l]
            if l == k:
                for i in range(m):
                    c[i] = mk[i] * zk[i] * (1.0 - zk[i])
            else:
                for i in range(m):
                    c[i] = -mk[i] * zk[i] * zl[i]
            for j in range(q):
                aj = xa[j]
                for i in range(m):
                    xx[i] = aj[i] * c[i]
                for jj in range(j, q):
                    ajj = xa[jj]
                    acc = 0.0
                    for i in range(m):
                        acc += xx[i] * ajj[i]
                    hess[j, k, jj, l] += acc


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", inline="always")
def _symmetrise(hess):
    """Fill the Hessian's lower blocks from the upper ones that
    :func:`_add_gradient_hessian` sums."""
    q, n_classes = hess.shape[0], hess.shape[1]
    for j in range(q):
        for k in range(n_classes):
            for jj in range(j, q):
                for l in range(k, n_classes):
                    v = hess[j, k, jj, l]
                    hess[jj, k, j, l] = v
                    hess[j, l, jj, k] = v
                    hess[jj, l, j, k] = v


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _softmax_xent_hessian(XT, W, b, TT, mass, lo, hi):
    """Loss, gradient and Hessian over rows ``lo:hi``, in one pass, in blocks.

    The Hessian of ``sum_i sum_k -t_ik log p_ik`` in the parameters
    ``A = [W; b]`` (``n_features + 1`` rows, the last the intercepts) is
    ``sum_i m_i (x_i x_i^T) (x) (diag(p_i) - p_i p_i^T)``, ``x_i`` with a
    trailing 1 and ``m_i`` the row's target mass. Only the blocks ``k <= l``
    and ``j <= j'`` are summed (the rest by symmetry), each as a dot product
    over the rows of the block, which vectorises.
    """
    n_features, n_classes = W.shape
    q = n_features + 1
    grad = np.zeros((q, n_classes))
    hess = np.zeros((q, n_classes, q, n_classes))
    z = np.empty((n_classes, _BLOCK))
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    xa = np.ones((q, _BLOCK))
    c = np.empty(_BLOCK)
    xx = np.empty(_BLOCK)
    loss = 0.0
    for start in range(lo, hi, _BLOCK):
        m = min(_BLOCK, hi - start)
        _block_logits(XT, W, b, start, m, z, top)
        for j in range(n_features):
            xj = XT[j, start : start + m]
            aj = xa[j]
            for i in range(m):
                aj[i] = xj[i]
        for i in range(m):
            total[i] = 0.0
        for k in range(n_classes):
            zk = z[k]
            tk = TT[k, start : start + m]
            acc = 0.0
            for i in range(m):
                acc -= tk[i] * zk[i]
                e = _exp_flushed(zk[i] - top[i])
                zk[i] = e
                total[i] += e
            loss += acc
        mk = mass[start : start + m]
        acc = 0.0
        for i in range(m):
            acc += mk[i] * (_log_normal(total[i]) + top[i])
            total[i] = 1.0 / total[i]
        loss += acc
        # z becomes the probabilities p_ik.
        for k in range(n_classes):
            zk = z[k]
            for i in range(m):
                zk[i] *= total[i]
        _add_gradient_hessian(xa, z, TT, start, mk, m, c, xx, grad, hess)
    _symmetrise(hess)
    return loss, grad, hess
