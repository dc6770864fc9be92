"""The gate's fused loss/gradient kernel against its NumPy twin."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import approx_fprime

from skmoe._kernels import (
    _config,
    _dispatch,
    linear_log_softmax,
    linear_log_softmax_reference,
    softmax_cross_entropy,
    softmax_cross_entropy_hessian,
    softmax_cross_entropy_hessian_reference,
    softmax_cross_entropy_reference,
)


def _xent(kernel, X, W, b, T, mass):
    """Call a loss kernel with the features-major layout it takes."""
    return kernel(np.ascontiguousarray(X.T), W, b, np.ascontiguousarray(T.T), mass)


# Sizes on both sides of the kernel's 256-row blocks.
@pytest.mark.parametrize(
    "n, d, k", [(1, 1, 1), (50, 3, 2), (256, 2, 3), (257, 4, 4), (3000, 5, 7)]
)
def test_matches_reference(n, d, k):
    rng = np.random.RandomState(n + d + k)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k)) * 3
    b = rng.normal(size=k)
    T = rng.dirichlet(np.ones(k), size=n) * rng.uniform(0, 2, size=(n, 1))
    T[::3, 0] = 0.0  # exact zeros in the targets
    mass = T.sum(axis=1)
    loss, grad = _xent(softmax_cross_entropy, X, W, b, T, mass)
    ref_loss, ref_grad = _xent(softmax_cross_entropy_reference, X, W, b, T, mass)
    assert_allclose(loss, ref_loss, rtol=1e-12)
    assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10)


def test_huge_logits_stay_finite():
    X = np.array([[1e3], [-1e3]])
    W = np.array([[1.0, -1.0]])
    b = np.zeros(2)
    T = np.array([[0.0, 1.0], [1.0, 0.0]])
    loss, grad = _xent(softmax_cross_entropy, X, W, b, T, T.sum(1))
    assert_allclose(loss, 4e3)
    assert np.all(np.isfinite(grad))


def test_gradient_is_the_derivative():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2))
    T = rng.dirichlet(np.ones(3), size=40)
    mass = T.sum(1)

    def f(theta):
        return _xent(
            softmax_cross_entropy, X, theta[:6].reshape(2, 3), theta[6:], T, mass
        )[0]

    theta = rng.normal(size=9)
    _, grad = _xent(
        softmax_cross_entropy, X, theta[:6].reshape(2, 3), theta[6:], T, mass
    )
    assert_allclose(grad.ravel(), approx_fprime(theta, f, 1e-7), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (300, 3, 2), (1000, 5, 8)])
def test_log_softmax_matches_reference(n, d, k):
    rng = np.random.RandomState(n + k)
    X = rng.normal(size=(n, d)) * 10
    W = rng.normal(size=(d, k)) * 5
    b = rng.normal(size=k)
    out = linear_log_softmax(X, W, b)
    assert_allclose(out, linear_log_softmax_reference(X, W, b), rtol=1e-12, atol=1e-12)
    assert_allclose(np.exp(out).sum(axis=1), 1.0, rtol=1e-12)


def test_log_softmax_huge_logits():
    X = np.array([[1e3], [-1e3]])
    out = linear_log_softmax(X, np.array([[1.0, -1.0]]), np.zeros(2))
    assert_allclose(out, [[0.0, -2e3], [-2e3, 0.0]])


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_threaded_kernels_match_reference_and_ignore_thread_count(
    n_threads, monkeypatch
):
    # Above the threshold both kernels run in chunks; the loss adds its
    # fixed-size chunks' partial sums in order, so every thread count gives
    # bitwise the same result (and the log-probabilities never depend on it).
    monkeypatch.setattr(_config, "PARALLEL_MIN_ENTRIES", 1000)
    monkeypatch.setattr(_dispatch, "_CHUNK_ROWS", 700)  # 5 chunks, the last short
    rng = np.random.RandomState(5)
    X = rng.normal(size=(3001, 4))
    W = rng.normal(size=(4, 3)) * 2
    b = rng.normal(size=3)
    T = rng.dirichlet(np.ones(3), size=3001) * rng.uniform(0, 2, size=(3001, 1))
    mass = T.sum(axis=1)
    ref_loss, ref_grad = _xent(softmax_cross_entropy_reference, X, W, b, T, mass)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: 1)
    one_loss, one_grad = _xent(softmax_cross_entropy, X, W, b, T, mass)
    one_log_proba = linear_log_softmax(X, W, b)
    monkeypatch.setattr(_dispatch, "_n_threads", lambda: n_threads)
    loss, grad = _xent(softmax_cross_entropy, X, W, b, T, mass)
    assert_allclose(loss, ref_loss, rtol=1e-12)
    assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10)
    assert loss == one_loss
    assert_array_equal(grad, one_grad)
    log_proba = linear_log_softmax(X, W, b)
    assert_allclose(log_proba, linear_log_softmax_reference(X, W, b), atol=1e-12)
    assert_array_equal(log_proba, one_log_proba)


# Sizes on both sides of the kernel's 256-row blocks and of a thread chunk.
@pytest.mark.parametrize(
    "n, d, k", [(1, 1, 1), (50, 3, 2), (257, 4, 4), (3000, 5, 7), (70000, 2, 4)]
)
def test_hessian_matches_reference(n, d, k):
    rng = np.random.RandomState(n + d + k)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k)) * 3
    b = rng.normal(size=k)
    T = rng.dirichlet(np.ones(k), size=n) * rng.uniform(0, 2, size=(n, 1))
    T[::3, 0] = 0.0
    mass = T.sum(axis=1)
    loss, grad, hess = _xent(softmax_cross_entropy_hessian, X, W, b, T, mass)
    ref = _xent(softmax_cross_entropy_hessian_reference, X, W, b, T, mass)
    assert hess.shape == (d + 1, k, d + 1, k)
    assert_allclose(loss, ref[0], rtol=1e-12)
    assert_allclose(grad, ref[1], rtol=1e-10, atol=1e-10 * n)
    assert_allclose(hess, ref[2], rtol=1e-10, atol=1e-10 * n)
    # The loss and gradient are those of the loss kernel.
    loss2, grad2 = _xent(softmax_cross_entropy, X, W, b, T, mass)
    assert_allclose(loss, loss2, rtol=1e-12)
    assert_allclose(grad, grad2, rtol=1e-10, atol=1e-10 * n)


def test_hessian_is_the_derivative_of_the_gradient():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 2))
    T = rng.dirichlet(np.ones(3), size=60)
    mass = T.sum(1)

    def grad(theta):
        A = theta.reshape(3, 3)
        return _xent(softmax_cross_entropy, X, A[:2], A[2], T, mass)[1].ravel()

    theta = rng.normal(size=9)
    A = theta.reshape(3, 3)
    hess = _xent(softmax_cross_entropy_hessian, X, A[:2], A[2], T, mass)[2]
    numeric = np.array(
        [(grad(theta + 1e-6 * e) - grad(theta - 1e-6 * e)) / 2e-6 for e in np.eye(9)]
    )
    assert_allclose(hess.reshape(9, 9), numeric, rtol=1e-6, atol=1e-7)
