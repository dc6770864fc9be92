"""Central numba settings shared by every kernel in :mod:`skmoe._kernels`."""

# LLVM fast-math flags used by every numba kernel.  ``fastmath=True`` would add
# ``nnan`` and ``ninf``, which let LLVM assume that no NaN or infinity ever
# occurs: that silently breaks the ``-inf`` log-probabilities the E-step relies
# on (a row whose experts all give probability 0) and hides NaN inputs.  These
# flags only allow re-association, contraction into FMA, reciprocal
# approximation, approximate math functions and ignoring the sign of zero.
# (A plain ``set``, as numba rejects a ``frozenset``: treat it as read-only.)
FASTMATH_FLAGS = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Flags for the hand-written vectorisable ``exp`` (see ``_numba._exp_nonpos``).
# ``reassoc`` is dropped because it would let LLVM fold the Cody-Waite range
# reduction ``(x - k*ln2_hi) - k*ln2_lo`` into ``x - k*ln2`` (~100 ulp lost);
# ``afn`` has nothing to approximate there.  Still no ``nnan``/``ninf``.
EXP_FASTMATH_FLAGS = FASTMATH_FLAGS - {"reassoc", "afn"}

# Problem size (rows * experts, or classes, or clusters) from which the
# kernels run on chunks of rows in several threads instead of one
# (``_dispatch._map_chunks``).  Measured with numba ``parallel=True`` kernels
# over blocks of ~8192 entries, which the threads have since replaced at the
# same speed: on an idle 2-core machine (K = 2, 8, 32, float32 and float64)
# they win from 2 blocks, by ~2x from 4.  On an oversubscribed machine,
# though, every parallel call waits for its second thread to be scheduled
# (measured: 3-12 ms instead of 0.3 ms serial for 10**4 x 8 at load 7-9 on 2
# cores).  The gain on an idle machine is at most half the serial time, the
# loss on a busy one a few scheduler slices, so threads start at 32 blocks,
# where one thread takes ~1 ms (float64) and a stall is at worst a few times
# the work.  Results are bitwise equal either way: this only affects speed.
PARALLEL_MIN_ENTRIES = 1 << 18
