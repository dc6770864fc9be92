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
# reduction ``(x - k*ln2_hi) - k*ln2_lo`` into ``x - k*ln2`` and lose ~50 ulp;
# ``afn`` has nothing to approximate there.  Still no ``nnan``/``ninf``.
EXP_FASTMATH_FLAGS = FASTMATH_FLAGS - {"reassoc", "afn"}

# Problem size (rows * experts) from which the ``parallel=True`` kernels are
# used instead of the serial (cached) ones.  The parallel kernels split the
# rows into blocks of ~8192 entries, so below two blocks they cannot help;
# measured on a 2-core machine (K = 2, 8, 32, float32 and float64) they start
# to win at 2 blocks.  Four blocks keep a margin for busy machines, where
# waking a second thread can cost more than the work.
PARALLEL_MIN_ENTRIES = 32_768
