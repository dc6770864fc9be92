"""Tests of skmoe._kernels: numba kernels against their NumPy/array-API twins."""

import os
import subprocess
import sys
import threading
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from _support import HUGE_LOGITS, NEEDS_ARRAY_API_COMPAT, random_logits
from numpy.testing import assert_allclose, assert_array_equal

from skmoe._kernels import (
    FASTMATH_FLAGS,
    _config,
    _dispatch,
    e_step,
    e_step_reference,
    gaussian_log_likelihood,
    gaussian_log_likelihood_reference,
    lloyd_assign,
    lloyd_assign_reference,
)

# Tolerances: float64 kernels agree with scipy to a few ulp; float32 ones to a
# few float32 ulp (both compute exp/log to ~1 ulp, sums differ in order).
TOL = {
    np.float64: dict(rtol=1e-12, atol=1e-14),
    np.float32: dict(rtol=2e-5, atol=2e-6),
}
PARALLEL = pytest.mark.parametrize("parallel", [False, True], ids=["serial", "par"])
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32])


def _e_step(log_gate, log_lik, parallel):
    return _dispatch._e_step_numpy(log_gate, log_lik, parallel=parallel)


# ---------------------------------------------------------------------------
# E-step: agreement with the reference
# ---------------------------------------------------------------------------


@DTYPES
@PARALLEL
@pytest.mark.parametrize("n, K", [(1, 3), (17, 1), (1000, 8), (5003, 3), (600, 40)])
def test_e_step_matches_reference(n, K, dtype, parallel):
    log_gate, log_lik = random_logits(n, K, dtype)
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert resp.dtype == dtype and log_prob.dtype == dtype
    assert resp.shape == (n, K) and log_prob.shape == (n,)
    assert_allclose(resp, ref_resp, **TOL[dtype])
    assert_allclose(log_prob, ref_log_prob, **TOL[dtype])
    assert_allclose(resp.sum(axis=1), 1.0, **TOL[dtype])


@DTYPES
@pytest.mark.parametrize("n_threads", [2, 3, 8])
def test_serial_and_parallel_are_bitwise_equal(dtype, n_threads, monkeypatch):
    # Rows do not interact, so the result does not depend on how the rows are
    # split between threads; every chunk is computed exactly once.
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: n_threads)
    kernel = _dispatch._numba_kernels()._e_step_serial
    threads, rows = set(), []

    def spy(log_gate, log_lik, resp, log_prob):
        threads.add(threading.get_ident())
        rows.append(log_gate.shape[0])
        time.sleep(0.005)  # let the other threads take their chunks
        kernel(log_gate, log_lik, resp, log_prob)

    monkeypatch.setattr(
        _dispatch, "_numba_kernels", lambda: SimpleNamespace(_e_step_serial=spy)
    )
    log_gate, log_lik = random_logits(20_011, 5, dtype, seed=3, special=True)
    resp_s, log_prob_s = _e_step(log_gate, log_lik, False)
    assert rows == [20_011]
    rows.clear()
    resp_p, log_prob_p = _e_step(log_gate, log_lik, True)
    assert sum(rows) == 20_011 and len(rows) == 4 * n_threads
    assert len(threads) >= 2  # the pool's threads as well as the caller's
    assert_array_equal(resp_s, resp_p)
    assert_array_equal(log_prob_s, log_prob_p)


def test_threads_survive_fork():
    # A forked child inherits the parent's pool object but none of its
    # threads: it must make its own instead of waiting forever.
    code = (
        "import multiprocessing as mp, numpy as np\n"
        "from skmoe._kernels import _dispatch\n"
        "x = np.zeros((50_000, 4))\n"
        "_dispatch._e_step_numpy(x, x, parallel=True)\n"
        "def child(q):\n"
        "    q.put(float(_dispatch._e_step_numpy(x, x, parallel=True)[1][0]))\n"
        "q = mp.get_context('fork').Queue()\n"
        "p = mp.get_context('fork').Process(target=child, args=(q,))\n"
        "p.start(); print(q.get(timeout=60)); p.join()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "NUMBA_NUM_THREADS": "2"},
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(np.log(4.0))


@DTYPES
def test_public_e_step_dispatch(dtype, monkeypatch):
    log_gate, log_lik = random_logits(300, 4, dtype, seed=1)
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    for threshold in (1, 10**9):  # force the parallel, then the serial kernel
        monkeypatch.setattr(_config, "PARALLEL_MIN_ENTRIES", threshold)
        resp, log_prob = e_step(log_gate, log_lik)
        assert_allclose(resp, ref_resp, **TOL[dtype])
        assert_allclose(log_prob, ref_log_prob, **TOL[dtype])


def test_large_dynamic_range_matches_logsumexp():
    # log-likelihoods spread over hundreds of nats: tiny responsibilities must
    # keep their relative accuracy (down to subnormals), not just be ~0.
    rng = np.random.default_rng(5)
    log_gate = rng.uniform(-800, 0, size=(2000, 6))
    log_lik = rng.uniform(-300, 300, size=(2000, 6))
    for parallel in (False, True):
        resp, log_prob = _e_step(log_gate, log_lik, parallel)
        ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
        assert_allclose(log_prob, ref_log_prob, rtol=1e-13)
        normal = ref_resp > 1e-290
        assert_allclose(resp[normal], ref_resp[normal], rtol=1e-13)
        assert_allclose(resp[~normal], ref_resp[~normal], rtol=0, atol=1e-300)


# ---------------------------------------------------------------------------
# E-step: special values
# ---------------------------------------------------------------------------


@DTYPES
@PARALLEL
def test_all_neg_inf_rows_give_uniform_resp_and_neg_inf(dtype, parallel):
    log_gate, log_lik = random_logits(50, 4, dtype)
    log_lik[[3, 7, 49]] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert not np.isnan(resp).any() and not np.isnan(log_prob).any()
    assert_array_equal(log_prob[[3, 7, 49]], -np.inf)
    assert_allclose(resp[[3, 7, 49]], 0.25, rtol=1e-7)
    assert np.isfinite(np.delete(log_prob, [3, 7, 49])).all()
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_allclose(resp, ref_resp, **TOL[dtype])
    assert_array_equal(np.isneginf(log_prob), np.isneginf(ref_log_prob))


@PARALLEL
def test_huge_logits_are_exact(parallel):
    log_gate = HUGE_LOGITS
    log_lik = np.zeros_like(log_gate)
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert_array_equal(resp[0], [1.0, 0.0, 0.0])
    assert_array_equal(resp[1], [0.5, 0.5, 0.0])
    assert_allclose(resp[2], 1 / 3, rtol=1e-15)
    assert_array_equal(resp[3], [1.0, 0.0, 0.0])
    assert_array_equal(resp[4], [0.0, 1.0, 0.0])
    assert_array_equal(log_prob, [1e300, 1e300, -1e300, 1.7e308, -1e300 + 1e285])
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_allclose(resp, ref_resp, rtol=1e-15, atol=0)
    assert_allclose(log_prob, ref_log_prob, rtol=1e-15)


@PARALLEL
def test_huge_logits_float32(parallel):
    log_gate = np.array([[3e38, -3e38], [-3e38, -3e38]], dtype=np.float32)
    resp, log_prob = _e_step(log_gate, np.zeros_like(log_gate), parallel)
    assert resp.dtype == np.float32
    assert_array_equal(resp, [[1.0, 0.0], [0.5, 0.5]])
    assert_array_equal(log_prob, np.array([3e38, -3e38], dtype=np.float32))


@DTYPES
@PARALLEL
def test_mixed_neg_inf_entries(dtype, parallel):
    with np.errstate(divide="ignore"):
        log_gate = np.log(np.array([[0, 0.25, 0.75], [0.5, 0, 0.5]])).astype(dtype)
    log_lik = np.array([[0.0, 0.0, 0.0], [np.log(3.0), -np.inf, 0.0]], dtype=dtype)
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert_allclose(resp, [[0.0, 0.25, 0.75], [0.75, 0.0, 0.25]], **TOL[dtype])
    assert resp[0, 0] == 0.0 and resp[1, 1] == 0.0
    assert_allclose(log_prob, [0.0, np.log(2.0)], **TOL[dtype])


@PARALLEL
def test_pos_inf_entries_share_the_responsibility(parallel):
    log_gate = np.log(np.full((2, 4), 0.25))
    log_lik = np.array([[np.inf, 0.0, np.inf, -np.inf], [np.inf, -np.inf, 1, 2]])
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert_array_equal(resp, [[0.5, 0.0, 0.5, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert_array_equal(log_prob, [np.inf, np.inf])
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_array_equal(resp, ref_resp)
    assert_array_equal(log_prob, ref_log_prob)


@DTYPES
@PARALLEL
def test_nan_propagates_to_its_row_only(dtype, parallel):
    log_gate, log_lik = random_logits(40, 3, dtype)
    log_gate[2, 1] = np.nan  # among finite entries
    log_lik[5, 0] = np.nan  # as the first entry
    log_lik[9] = [np.nan, -np.inf, -np.inf]  # with an otherwise -inf row
    log_lik[11] = [-np.inf, np.inf, np.nan]  # with a +inf entry
    log_gate[13] = np.nan  # a whole row
    nan_rows = [2, 5, 9, 11, 13]
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert np.isnan(resp[nan_rows]).all()
    assert np.isnan(log_prob[nan_rows]).all()
    others = np.setdiff1d(np.arange(40), nan_rows)
    assert np.isfinite(resp[others]).all() and np.isfinite(log_prob[others]).all()
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_allclose(resp, ref_resp, equal_nan=True, **TOL[dtype])
    assert_allclose(log_prob, ref_log_prob, equal_nan=True, **TOL[dtype])


@DTYPES
@PARALLEL
def test_single_expert(dtype, parallel):
    log_gate = np.zeros((7, 1), dtype=dtype)
    log_lik = np.array([[-1.5], [0.0], [3.0], [-np.inf], [np.inf], [np.nan], [-1e30]])
    log_lik = log_lik.astype(dtype)
    resp, log_prob = _e_step(log_gate, log_lik, parallel)
    assert_array_equal(resp[:5, 0], 1.0)
    assert np.isnan(resp[5, 0])
    assert_array_equal(resp[6, 0], 1.0)
    assert_array_equal(log_prob, log_lik[:, 0])


def test_empty_inputs():
    resp, log_prob = e_step(np.zeros((0, 3)), np.zeros((0, 3)))
    assert resp.shape == (0, 3) and log_prob.shape == (0,)
    resp, log_prob = e_step(np.zeros((2, 0)), np.zeros((2, 0)))
    assert resp.shape == (2, 0)
    assert_array_equal(log_prob, [-np.inf, -np.inf])  # logsumexp of nothing
    ref_resp, ref_log_prob = e_step_reference(np.zeros((2, 0)), np.zeros((2, 0)))
    assert_array_equal(log_prob, ref_log_prob)


# ---------------------------------------------------------------------------
# E-step: layouts, dtypes, inputs, out=
# ---------------------------------------------------------------------------


@PARALLEL
def test_non_contiguous_and_fortran_inputs(parallel):
    log_gate, log_lik = random_logits(400, 6, np.float64, seed=2)
    expected_resp, expected_log_prob = _e_step(log_gate, log_lik, parallel)

    big_gate = np.zeros((800, 12))
    big_gate[::2, ::2] = log_gate  # strided view in both axes
    strided = big_gate[::2, ::2]
    fortran = np.asfortranarray(log_lik)
    assert not strided.flags.c_contiguous and not fortran.flags.c_contiguous
    resp, log_prob = _e_step(strided, fortran, parallel)
    assert_array_equal(resp, expected_resp)
    assert_array_equal(log_prob, expected_log_prob)
    assert resp.flags.c_contiguous

    # a transposed (K, n) -> (n, K) view
    resp_t, log_prob_t = _e_step(log_gate.T.copy().T, log_lik, parallel)
    assert_array_equal(resp_t, expected_resp)
    assert_array_equal(log_prob_t, expected_log_prob)


def test_result_dtype():
    g32, l32 = random_logits(20, 3, np.float32)
    assert e_step(g32, l32)[0].dtype == np.float32
    assert e_step(g32, l32)[1].dtype == np.float32
    resp, log_prob = e_step(g32, l32.astype(np.float64))
    assert resp.dtype == np.float64 and log_prob.dtype == np.float64
    resp, log_prob = e_step(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2)))
    assert resp.dtype == np.float64
    assert_array_equal(resp, 0.5)
    assert_allclose(log_prob, np.log(2.0))
    # float32 results agree with the float64 computation to float32 accuracy
    resp64, log_prob64 = e_step(g32.astype(np.float64), l32.astype(np.float64))
    assert_allclose(e_step(g32, l32)[0], resp64, rtol=1e-5, atol=1e-6)
    assert_allclose(e_step(g32, l32)[1], log_prob64, rtol=1e-5, atol=1e-5)


@PARALLEL
def test_inputs_are_not_modified(parallel):
    log_gate, log_lik = random_logits(300, 5, np.float64)
    log_lik[4] = -np.inf
    log_gate[7, 2] = np.nan
    gate_copy, lik_copy = log_gate.copy(), log_lik.copy()
    _e_step(log_gate, log_lik, parallel)
    _e_step(log_gate[::2], np.asfortranarray(log_lik)[::2], parallel)
    e_step_reference(log_gate, log_lik)
    assert_array_equal(log_gate, gate_copy)
    assert_array_equal(log_lik, lik_copy)


def test_read_only_inputs():
    log_gate, log_lik = random_logits(30, 3, np.float64)
    expected = e_step(log_gate, log_lik)
    log_gate.flags.writeable = False
    log_lik.flags.writeable = False
    resp, log_prob = e_step(log_gate, log_lik)
    assert_array_equal(resp, expected[0])
    assert_array_equal(log_prob, expected[1])


def test_out_buffers_are_filled_and_returned():
    log_gate, log_lik = random_logits(100, 4, np.float64)
    resp_buf, log_prob_buf = np.empty((100, 4)), np.empty(100)
    resp, log_prob = e_step(log_gate, log_lik, out=(resp_buf, log_prob_buf))
    assert resp is resp_buf and log_prob is log_prob_buf
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_allclose(resp, ref_resp, **TOL[np.float64])
    assert_allclose(log_prob, ref_log_prob, **TOL[np.float64])

    with pytest.raises(ValueError, match="float64"):
        e_step(log_gate, log_lik, out=(np.empty((100, 4), np.float32), log_prob_buf))
    with pytest.raises(ValueError, match="shape"):
        e_step(log_gate, log_lik, out=(resp_buf, np.empty(99)))
    with pytest.raises(ValueError, match="C-contiguous"):
        e_step(log_gate, log_lik, out=(np.empty((4, 100)).T, log_prob_buf))
    with pytest.raises(ValueError, match="overlap"):
        e_step(log_gate, log_lik, out=(log_lik, log_prob_buf))


def test_shape_validation():
    with pytest.raises(ValueError, match="same shape"):
        e_step(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        e_step(np.zeros(3), np.zeros(3))


# ---------------------------------------------------------------------------
# The vectorisable exp/log helpers against NumPy
# ---------------------------------------------------------------------------


@DTYPES
def test_exp_nonpos_matches_numpy(dtype):
    from skmoe._kernels._numba import _exp_nonpos_array

    rng = np.random.default_rng(0)
    lowest = -746.0 if dtype == np.float64 else -104.0
    specials = [0.0, -0.0, -np.inf, np.nan, lowest, lowest + 1.0, -1e-30]
    x = np.concatenate(
        [
            -np.logspace(-20, np.log10(-lowest), 20_000),
            rng.uniform(lowest, 0, 20_000),
            specials,
        ]
    ).astype(dtype)
    out = np.empty_like(x)
    _exp_nonpos_array(x, out)
    ref = np.exp(x)
    eps = np.finfo(dtype).eps
    tiny = np.finfo(dtype).tiny
    normal = ref >= tiny
    rel = np.abs(out[normal] - ref[normal]) / ref[normal]
    assert rel.max() <= 2 * eps  # about 1 ulp
    # subnormal results: gradual underflow, within one subnormal step or so
    sub = ~normal & ~np.isnan(ref)
    assert_allclose(out[sub], ref[sub], rtol=0, atol=4 * tiny * eps)
    assert out[x == -np.inf][0] == 0.0
    assert out[x == 0][0] == 1.0
    assert np.isnan(out[np.isnan(x)]).all()


def test_log_normal_matches_numpy():
    from skmoe._kernels._numba import _log_normal_array

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(1.0, 64.0, 50_001),
            np.exp(rng.uniform(-700, 700, 20_000)),
            [np.finfo(float).tiny, np.finfo(float).max, np.sqrt(0.5), 2.0, 1.0],
            [np.nan],
        ]
    )
    out = np.empty_like(x)
    _log_normal_array(x, out)
    ref = np.log(x)
    assert_allclose(out, ref, rtol=2.5e-16, atol=1e-300, equal_nan=True)
    assert out[-2] == 0.0  # log(1) is exactly 0
    assert np.isnan(out[-1])


# ---------------------------------------------------------------------------
# Gaussian log-likelihood
# ---------------------------------------------------------------------------


def _gaussian_data(n, K, dtype, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n).astype(dtype)
    means = rng.normal(size=(n, K)).astype(dtype)
    variances = rng.uniform(0.01, 3.0, size=K).astype(dtype)
    return y, means, variances


@DTYPES
@PARALLEL
@pytest.mark.parametrize("n, K", [(1, 1), (50, 3), (3001, 8)])
def test_gaussian_matches_reference(n, K, dtype, parallel):
    y, means, variances = _gaussian_data(n, K, dtype)
    out = _dispatch._gaussian_log_likelihood_numpy(
        y, means, variances, parallel=parallel
    )
    ref = gaussian_log_likelihood_reference(y, means, variances)
    assert out.dtype == dtype and out.shape == (n, K)
    assert_allclose(out, ref, **TOL[dtype])
    # the formula, spelled out
    y64, m64, v64 = (a.astype(np.float64) for a in (y, means, variances))
    direct = -0.5 * np.log(2 * np.pi * v64) - (y64[:, None] - m64) ** 2 / (2 * v64)
    assert_allclose(out, direct, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_gaussian_public_layouts_and_dtypes():
    y, means, variances = _gaussian_data(200, 4, np.float64)
    expected = gaussian_log_likelihood(y, means, variances)
    assert_allclose(expected, gaussian_log_likelihood_reference(y, means, variances))
    y_strided = np.repeat(y, 2)[::2]
    out = gaussian_log_likelihood(y_strided, np.asfortranarray(means), variances)
    assert_array_equal(out, expected)
    mixed = gaussian_log_likelihood(y.astype(np.float32), means, variances)
    assert mixed.dtype == np.float64
    y32, m32, v32 = (a.astype(np.float32) for a in (y, means, variances))
    assert gaussian_log_likelihood(y32, m32, v32).dtype == np.float32
    with pytest.raises(ValueError, match="variances"):
        gaussian_log_likelihood(y, means, variances[:3])


def test_gaussian_degenerate_variance_matches_reference():
    y = np.array([0.0, 1.0])
    means = np.array([[0.0, 0.0], [0.0, 0.0]])
    variances = np.array([0.0, 1.0])
    out = gaussian_log_likelihood(y, means, variances)
    with np.errstate(all="ignore"):
        ref = gaussian_log_likelihood_reference(y, means, variances)
    assert_array_equal(np.isnan(out), np.isnan(ref))
    assert np.isnan(out[:, 0]).all()
    assert_allclose(
        out[:, 1], [-0.5 * np.log(2 * np.pi), -0.5 * np.log(2 * np.pi) - 0.5]
    )


# ---------------------------------------------------------------------------
# Array-API twins (array_api_strict stands in for CuPy)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
@NEEDS_ARRAY_API_COMPAT
def test_e_step_array_api_strict(dtype_name):
    xp = pytest.importorskip("array_api_strict")
    dtype = getattr(np, dtype_name)
    log_gate, log_lik = random_logits(60, 4, dtype)
    log_lik[3] = -np.inf
    log_lik[4, :2] = np.inf
    log_gate[5, 1] = np.nan
    log_lik[6, [0, 2]] = -np.inf
    resp, log_prob = e_step(xp.asarray(log_gate), xp.asarray(log_lik))
    assert type(resp).__module__.startswith("array_api_strict")
    assert resp.dtype == getattr(xp, dtype_name)
    assert log_prob.shape == (60,)
    ref_resp, ref_log_prob = e_step_reference(log_gate, log_lik)
    assert_allclose(_np(resp), ref_resp, equal_nan=True, **TOL[dtype])
    assert_allclose(_np(log_prob), ref_log_prob, equal_nan=True, **TOL[dtype])
    assert_allclose(_np(resp)[3], 0.25)
    assert _np(log_prob)[3] == -np.inf


def _np(x):
    """array_api_strict -> NumPy, through the buffer protocol / DLPack."""
    return np.from_dlpack(x)


@NEEDS_ARRAY_API_COMPAT
def test_e_step_array_api_strict_huge_and_single_expert():
    xp = pytest.importorskip("array_api_strict")
    log_gate = xp.asarray([[1e300, -1e300], [-1e300, -1e300]])
    resp, log_prob = e_step(log_gate, xp.zeros_like(log_gate))
    assert_array_equal(_np(resp), [[1.0, 0.0], [0.5, 0.5]])
    assert_array_equal(_np(log_prob), [1e300, -1e300])
    resp, log_prob = e_step(xp.asarray([[2.0], [-np.inf]]), xp.zeros((2, 1)))
    assert_array_equal(_np(resp), [[1.0], [1.0]])
    assert_array_equal(_np(log_prob), [2.0, -np.inf])


@NEEDS_ARRAY_API_COMPAT
def test_gaussian_array_api_strict():
    xp = pytest.importorskip("array_api_strict")
    y, means, variances = _gaussian_data(40, 3, np.float64)
    out = gaussian_log_likelihood(
        xp.asarray(y), xp.asarray(means), xp.asarray(variances)
    )
    assert type(out).__module__.startswith("array_api_strict")
    assert_allclose(_np(out), gaussian_log_likelihood_reference(y, means, variances))


@NEEDS_ARRAY_API_COMPAT
def test_mixed_namespaces_raise():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError):
        e_step(xp.zeros((2, 2)), np.zeros((2, 2)))


def test_lists_go_through_numpy():
    resp, log_prob = e_step([[0.0, 0.0]], [[0.0, np.log(3.0)]])
    assert isinstance(resp, np.ndarray)
    assert_allclose(resp, [[0.25, 0.75]])
    assert_allclose(log_prob, [np.log(4.0)])


# ---------------------------------------------------------------------------
# Configuration and laziness
# ---------------------------------------------------------------------------


def test_fastmath_flags_keep_inf_and_nan_semantics():
    assert isinstance(FASTMATH_FLAGS, set)
    assert not FASTMATH_FLAGS & {"nnan", "ninf", "fast"}
    assert not _config.EXP_FASTMATH_FLAGS & {"nnan", "ninf", "fast", "reassoc"}
    from skmoe._kernels import _numba

    kernels = [
        _numba._e_step_serial,
        _numba._e_step_block,
        _numba._gaussian_serial,
        _numba._gaussian_block,
    ]
    for kernel in kernels:
        assert kernel.targetoptions["fastmath"] == FASTMATH_FLAGS
        # cached on disk; no parallel=True kernel (those cannot be cached safely)
        assert type(kernel._cache).__name__ != "NullCache", kernel
        assert not kernel.targetoptions.get("parallel", False), kernel
    # the row kernels release the GIL: the dispatcher runs them in threads
    assert _numba._e_step_serial.targetoptions["nogil"] is True
    assert _numba._gaussian_serial.targetoptions["nogil"] is True


def test_import_is_lazy():
    # Importing the package neither imports the E-step's numba module nor
    # compiles anything: numba compiles each kernel on its first call.
    code = (
        "import sys, skmoe._kernels\n"
        "assert 'skmoe._kernels._numba' not in sys.modules, 'imported eagerly'\n"
        "from skmoe._kernels import _numba\n"
        "d = [_numba._e_step_serial, _numba._gaussian_serial]\n"
        "assert all(not k.signatures for k in d)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# ---------------------------------------------------------------------------
# Weighted normal equations of the linear experts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("n, d, k", [(3, 1, 1), (40, 3, 2), (5000, 6, 5)])
def test_normal_equations_match_reference(n, d, k, n_threads, monkeypatch):
    # With threads (one expert per chunk) the result is the same, bitwise.
    from skmoe._kernels import (
        weighted_normal_equations,
        weighted_normal_equations_reference,
    )

    rng = np.random.RandomState(n + d)
    # A calendar-year-like column: large mean, small spread.
    X = rng.normal(size=(n, d)) + np.r_[2000.0, np.zeros(d - 1)]
    y = rng.normal(size=n)
    W = rng.dirichlet(np.ones(k), size=n)
    W[::4, 0] = 0.0
    center = np.arange(k) % 2 == 0
    got = weighted_normal_equations(X, y, W, center)
    expected = weighted_normal_equations_reference(X, y, W, center)
    # Any memory layout of the features.
    for a, b in zip(
        weighted_normal_equations(np.asfortranarray(X), y, W, center), got, strict=True
    ):
        assert_allclose(a, b, rtol=1e-13, atol=1e-13 * n)
    for a, b in zip(got, expected, strict=True):
        assert_allclose(a, b, rtol=1e-9, atol=1e-9 * n)
    monkeypatch.setattr(_config, "PARALLEL_MIN_ENTRIES", 1)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: n_threads)
    threaded = weighted_normal_equations(X, y, W, center)
    for a, b in zip(threaded, got, strict=True):
        assert_array_equal(a, b)
    # Uncentred experts keep zero means.
    assert np.all(got[1][~center] == 0.0)


# ---------------------------------------------------------------------------
# One assignment step of weighted k-means (the initialisation)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (50, 2, 3), (2000, 6, 8)])
def test_lloyd_assign_matches_reference(n, d, k):
    rng = np.random.default_rng(n + k)
    Z = rng.normal(size=(n, d))
    w = rng.uniform(0.5, 2.0, size=n)
    centers = rng.normal(size=(k, d))
    labels, d2, sums, mass = lloyd_assign(Z, w, centers)
    ref = lloyd_assign_reference(Z, w, centers)
    assert labels.dtype == np.intp
    assert_array_equal(labels, ref[0])
    assert_allclose(d2, ref[1], rtol=1e-12)
    assert_allclose(sums, ref[2], rtol=1e-12, atol=1e-12)
    assert_allclose(mass, ref[3], rtol=1e-12)


def test_lloyd_assign_ties_go_to_the_lowest_index():
    Z = np.array([[0.0], [1.0], [2.0]])
    labels, d2, _, mass = lloyd_assign(Z, np.ones(3), np.array([[1.0], [1.0], [0.5]]))
    # row 1 is at distance 0 of centres 0 and 1, row 2 at distance 1 of both
    assert_array_equal(labels, [2, 0, 0])
    assert_array_equal(mass, [2.0, 0.0, 1.0])


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_lloyd_assign_threads_give_the_same_result(n_threads, monkeypatch):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(3001, 3))
    w = rng.uniform(size=3001)
    centers = rng.normal(size=(4, 3))
    one = lloyd_assign(Z, w, centers)
    monkeypatch.setattr(_config, "PARALLEL_MIN_ENTRIES", 1000)
    monkeypatch.setattr(_dispatch, "_CHUNK_ROWS", 700)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: 1)
    chunked = lloyd_assign(Z, w, centers)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: n_threads)
    threaded = lloyd_assign(Z, w, centers)
    for a, b, c in zip(one, chunked, threaded, strict=True):
        assert_allclose(b, a, rtol=1e-12)  # chunked sums: another order
        assert_array_equal(c, b)
