"""numba kernels: the fused E-step and the Gaussian log-likelihood.

The only module of skmoe that imports numba (and it is itself imported on the
first kernel call, not with skmoe).  Every function is compiled lazily on its
first call (no eager signatures) and cached on disk (``cache=True``).  Every
kernel uses the central ``FASTMATH_FLAGS`` (no ``nnan``/``ninf``: -inf and NaN
keep their meaning) and ``error_model="numpy"`` (no ZeroDivisionError checks
in the loops).

The kernels are serial and release the GIL (``nogil=True``): on large inputs
:mod:`skmoe._kernels._dispatch` runs them on chunks of rows in a few threads.
No kernel is ``parallel=True``: numba compiles those again in every process
(about 2 s for the two row kernels, paid by the first large fit of every
notebook and joblib worker), and caching them is unsafe when processes race
to write the cache (numba issue #10128).  The threads measured as fast.

The kernels write into preallocated, C-contiguous outputs; validation,
allocation, dtype promotion and the threading live in
:mod:`skmoe._kernels._dispatch`.

Why hand-written ``exp`` and ``log``: without Intel SVML, LLVM turns
``math.exp`` into one scalar libm call per entry, which made the E-step
compute-bound (~6 ns per entry, several times its memory floor on a 2-core
machine).  ``_exp_nonpos`` (for ``x <= 0``, the only arguments the E-step
needs since ``x = a - max(a)``) and ``_log_normal`` are branch-free, so LLVM
vectorises loops of them; both are accurate to about 1 ulp, and handle -inf,
subnormal results and NaN like libm does on their domain (tested against
NumPy in ``tests/test_kernels.py``).
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from ._config import EXP_FASTMATH_FLAGS, FASTMATH_FLAGS

# ---------------------------------------------------------------------------
# Vectorisable exp (for x <= 0) and log (for positive normal x)
# ---------------------------------------------------------------------------


@intrinsic
def _exp2_int_f64(typingctx, kf):
    """``2.0**kf`` for a float64 ``kf`` holding an integer in ``[-1022, 1023]``.

    ``kf + (2**52 + 1023)`` puts the biased exponent ``kf + 1023`` in the low
    mantissa bits; shifting them left by 52 moves them into the exponent field.
    Pure float add, integer shift and bit casts, all of which vectorise.
    """
    sig = types.float64(types.float64)

    def codegen(context, builder, signature, args):
        magic = ir.Constant(ir.DoubleType(), 4503599627371519.0)  # 2**52 + 1023
        bits = builder.bitcast(builder.fadd(args[0], magic), ir.IntType(64))
        bits = builder.shl(bits, ir.Constant(ir.IntType(64), 52))
        return builder.bitcast(bits, ir.DoubleType())

    return sig, codegen


@intrinsic
def _exp2_int_f32(typingctx, kf):
    """``2.0**kf`` for a float32 ``kf`` holding an integer in ``[-126, 127]``."""
    sig = types.float32(types.float32)

    def codegen(context, builder, signature, args):
        magic = ir.Constant(ir.FloatType(), 8388735.0)  # 2**23 + 127
        bits = builder.bitcast(builder.fadd(args[0], magic), ir.IntType(32))
        bits = builder.shl(bits, ir.Constant(ir.IntType(32), 23))
        return builder.bitcast(bits, ir.FloatType())

    return sig, codegen


# float64: fdlibm's split of ln2 (ln2_hi has 32 trailing zero bits, so
# ``k * ln2_hi`` is exact) and the Taylor polynomial of exp up to r**13
# (truncation error < 2e-17 on |r| <= ln2/2).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -746.0  # exp(-746) rounds to 0 in float64
_MIN_NORMAL_EXP = -1022.0

# float32: Cephes expf (Moshier) split of ln2 and minimax polynomial.
_LOG2E_F32 = np.float32(1.44269504088896341)
_LN2_HI_F32 = np.float32(0.693359375)
_LN2_LO_F32 = np.float32(-2.12194440e-4)
_EXP_MIN_F32 = np.float32(-104.0)  # expf(-104) rounds to 0 in float32
_MIN_NORMAL_EXP_F32 = np.float32(-126.0)
_HALF_F32 = np.float32(0.5)
_ONE_F32 = np.float32(1.0)
_P0_F32 = np.float32(1.9875691500e-4)
_P1_F32 = np.float32(1.3981999507e-3)
_P2_F32 = np.float32(8.3334519073e-3)
_P3_F32 = np.float32(4.1665795894e-2)
_P4_F32 = np.float32(1.6666665459e-1)
_P5_F32 = np.float32(5.0000001201e-1)


_EXP_JIT_OPTIONS = {"fastmath": EXP_FASTMATH_FLAGS, "error_model": "numpy"}


def _exp_nonpos(x):  # pragma: no cover - typing stub, implemented by overload
    """``exp(x)`` for ``x <= 0`` (or ``-inf``/NaN), inside numba kernels only."""
    raise NotImplementedError


@overload(
    _exp_nonpos, jit_options={"fastmath": EXP_FASTMATH_FLAGS, "error_model": "numpy"}
)
def _exp_nonpos_impl(x):
    if x == types.float32:

        def impl(x):
            # ``x < m`` is False for NaN, so NaN flows through to the result.
            xc = _EXP_MIN_F32 if x < _EXP_MIN_F32 else x
            kf = np.floor(xc * _LOG2E_F32 + _HALF_F32)
            r = (xc - kf * _LN2_HI_F32) - kf * _LN2_LO_F32
            p = _P0_F32
            p = p * r + _P1_F32
            p = p * r + _P2_F32
            p = p * r + _P3_F32
            p = p * r + _P4_F32
            p = p * r + _P5_F32
            p = (p * r) * r + r + _ONE_F32
            # Two scalings keep 2**kf exact down to the subnormal range.
            kf1 = kf if kf > _MIN_NORMAL_EXP_F32 else _MIN_NORMAL_EXP_F32
            return p * _exp2_int_f32(kf1) * _exp2_int_f32(kf - kf1)

        return impl

    if x == types.float64:

        def impl(x):
            xc = _EXP_MIN if x < _EXP_MIN else x
            kf = np.floor(xc * _LOG2E + 0.5)  # np.floor: math.floor returns an int
            r = (xc - kf * _LN2_HI) - kf * _LN2_LO
            # exp(r) = 1 + (r + r**2 * P(r)), P evaluated with Estrin's scheme
            # (not Horner): a short dependency chain, so the loop is not
            # latency-bound.  ``EXP_FASTMATH_FLAGS`` has no ``reassoc``, so
            # LLVM keeps this evaluation order.
            r2 = r * r
            r4 = r2 * r2
            p = (
                ((1.0 / 2.0 + r * (1.0 / 6.0)) + (1.0 / 24.0 + r * (1.0 / 120.0)) * r2)
                + (
                    (1.0 / 720.0 + r * (1.0 / 5040.0))
                    + (1.0 / 40320.0 + r * (1.0 / 362880.0)) * r2
                )
                * r4
            ) + (
                (1.0 / 3628800.0 + r * (1.0 / 39916800.0))
                + (1.0 / 479001600.0 + r * (1.0 / 6227020800.0)) * r2
            ) * (r4 * r4)
            p = 1.0 + (r + r2 * p)
            kf1 = kf if kf > _MIN_NORMAL_EXP else _MIN_NORMAL_EXP
            return p * _exp2_int_f64(kf1) * _exp2_int_f64(kf - kf1)

        return impl


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True)
def _exp_nonpos_array(x, out):
    """Apply ``_exp_nonpos`` elementwise (1-D; used by the tests)."""
    for i in range(x.shape[0]):
        out[i] = _exp_nonpos(x[i])


@intrinsic
def _f64_as_i64(typingctx, x):
    """Reinterpret the bits of a float64 as an int64."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _i64_as_f64(typingctx, i):
    """Reinterpret the bits of an int64 as a float64."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


# fdlibm's log (Sun Microsystems, freely redistributable): minimax
# coefficients of (log(1+f) - f + f**2/2) in s = f / (2 + f).
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # bits of sqrt(0.5)
_EXPONENT_MASK = np.int64(-(1 << 52))  # 0xFFF0000000000000 as int64
_INT_TO_DOUBLE_MAGIC = 0x4338000000000000  # bits of 1.5 * 2**52
_INT_TO_DOUBLE_BIAS = 6755399441055744.0  # 1.5 * 2**52


@numba.njit(fastmath=EXP_FASTMATH_FLAGS, error_model="numpy")
def _log_normal(x):
    """``log(x)`` for a positive, normal, finite float64; NaN propagates.

    Branch-free so that LLVM vectorises a loop of it (libm's ``log`` is a
    scalar call).  Accurate to about 1 ulp (fdlibm's algorithm: ``x = 2**k z``
    with ``z`` in ``[sqrt(1/2), sqrt(2))``, ``log(z) = log1p(f)`` by a minimax
    polynomial in ``s = f / (2 + f)``).
    """
    ix = _f64_as_i64(x)
    tmp = ix - _SQRT_HALF_BITS
    k = tmp >> 52  # arithmetic shift: the exponent of x relative to sqrt(0.5)
    z = _i64_as_f64(ix - (tmp & _EXPONENT_MASK))
    # int64 -> float64 without cvtsi2sd (which AVX2 cannot vectorise).
    dk = _i64_as_f64(k + _INT_TO_DOUBLE_MAGIC) - _INT_TO_DOUBLE_BIAS
    f = z - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z2 = s * s
    w = z2 * z2
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z2 * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    out = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    return out if x == x else x


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True)
def _log_normal_array(x, out):
    """Apply ``_log_normal`` elementwise (1-D; used by the tests)."""
    for i in range(x.shape[0]):
        out[i] = _log_normal(x[i])


# ---------------------------------------------------------------------------
# E-step
# ---------------------------------------------------------------------------

# Entries per block of rows (``max(16, _BLOCK_ENTRIES // K)`` rows): the
# block's float64 responsibilities (64 KiB) stay in L2 across the sweeps of
# ``_e_step_block``.  Every row's result is independent of the blocks, so any
# split of the rows between threads gives bitwise the same results.
_BLOCK_ENTRIES = 8192


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True)
def _e_step_block(log_gate, log_lik, resp, log_prob, sums):
    """Fused E-step on one block of rows (views of a few thousand entries).

    Four sweeps over the block while it sits in L1/L2, each a simple loop
    that LLVM vectorises (a single per-row loop doing everything is about
    twice slower: with K ~ 8 the per-row setup dominates and a libm ``log``
    call spills every register):

    1. ``x = log_gate + log_lik - rowmax`` into ``resp`` and
       ``log_prob = rowmax``; special rows are rewritten so that the next
       sweeps give their documented values;
    2. ``resp = exp(resp)`` over the whole block as one flat loop;
    3. row sums ``s`` (in ``[1, K]``: the max entry contributes exactly 1) and
       ``resp /= s``;
    4. ``log_prob += log(s)``.

    Each input is read once and each output written once from memory's point
    of view.  Requires K >= 1 and C-contiguous arrays.
    """
    n_rows, K = resp.shape
    for i in range(n_rows):
        for k in range(K):
            resp[i, k] = log_gate[i, k] + log_lik[i, k]
        m = resp[i, 0]
        for k in range(1, K):
            m = max(m, resp[i, k])
        log_prob[i] = m
        if m - m == 0.0:  # finite max (not +-inf, not NaN): the common case
            for k in range(K):
                # NaN entries stay NaN and make the whole row NaN below.
                resp[i, k] = resp[i, k] - m
        else:
            _e_step_special_row(resp, i, m)
    flat = resp.reshape(resp.size)
    for j in range(flat.size):
        flat[j] = _exp_nonpos(flat[j])
    for i in range(n_rows):
        s = 0.0  # float64 accumulator for both dtypes
        for k in range(K):
            s += resp[i, k]
        inv = 1.0 / s
        for k in range(K):
            resp[i, k] = resp[i, k] * inv
        sums[i] = s
    for i in range(n_rows):
        log_prob[i] = log_prob[i] + _log_normal(sums[i])


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy")
def _e_step_special_row(resp, i, m):
    """Prepare a row whose max ``m`` is -inf, +inf or NaN (``resp[i]`` = ``a``).

    Writes exponents that the remaining sweeps turn into (with ``log_prob``
    already set to ``m``):

    * NaN anywhere in the row: NaN everywhere, so the row's responsibilities
      and ``log_prob`` come out NaN (propagated, not hidden);
    * all entries -inf (no expert explains the target): zeros, so the
      responsibilities are uniform ``1/K`` and ``log_prob = -inf + log K =
      -inf`` (no evidence: the posterior is flat, not NaN);
    * some entries +inf (a degenerate density, e.g. zero variance): 0 on the
      +inf entries and -inf elsewhere, so the responsibility is split equally
      between them and ``log_prob = +inf``.
    """
    K = resp.shape[1]
    has_nan = m != m
    for k in range(K):
        if resp[i, k] != resp[i, k]:
            has_nan = True
    if has_nan:
        for k in range(K):
            resp[i, k] = np.nan
    elif m > 0.0:  # +inf
        for k in range(K):
            resp[i, k] = 0.0 if resp[i, k] == np.inf else -np.inf
    else:  # -inf
        for k in range(K):
            resp[i, k] = 0.0


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _e_step_serial(log_gate, log_lik, resp, log_prob):
    """E-step over all rows (C-contiguous (n, K) arrays, K >= 1)."""
    n, K = resp.shape
    B = max(16, _BLOCK_ENTRIES // K)
    sums = np.empty(B)
    for start in range(0, n, B):
        stop = min(start + B, n)
        _e_step_block(
            log_gate[start:stop],
            log_lik[start:stop],
            resp[start:stop],
            log_prob[start:stop],
            sums,
        )


# ---------------------------------------------------------------------------
# Gaussian log-likelihood
# ---------------------------------------------------------------------------


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True)
def _gaussian_block(y, means, log_norm, half_prec, out):
    """``out[i, k] = log_norm[k] - (y[i] - means[i, k])**2 * half_prec[k]``."""
    n_rows, K = out.shape
    for i in range(n_rows):
        yi = y[i]
        for k in range(K):
            r = yi - means[i, k]
            out[i, k] = log_norm[k] - r * r * half_prec[k]


@numba.njit(fastmath=FASTMATH_FLAGS, error_model="numpy", cache=True, nogil=True)
def _gaussian_serial(y, means, out, log_norm, half_prec):
    """Gaussian log-likelihood over all rows (per-row arrays first)."""
    _gaussian_block(y, means, log_norm, half_prec, out)
