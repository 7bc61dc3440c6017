"""data, loss and affine: the small modules, each against an independent route (the tutorial's
start, `tutorial_setup`: replayed step for step in tests/test_training.py)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl
from experiments import _tutorial as tn


def test_grid_and_targets_are_the_tutorials():
    x = jl.grid()
    chex.assert_shape(x, (1000, 1))
    np.testing.assert_array_equal(x, tn.grid())
    np.testing.assert_allclose(jl.linear_target(x), 2 * tn.grid() + 3, rtol=1e-6)
    np.testing.assert_allclose(jl.sine_target(x), 2 * np.sin(tn.grid()) + 5, rtol=1e-6)


@pytest.mark.parametrize("n, batchsize", [(1000, 1), (1000, 999), (10, 10)])
def test_batch_starts_are_windows_of_the_grid(n, batchsize):
    starts = jl.batch_starts(jax.random.key(0), 5000, n, batchsize)
    chex.assert_shape(starts, (5000,))
    assert 0 <= starts.min() and starts.max() <= max(n - batchsize - 1, 0)


def test_mse_and_its_gradient_equal_the_reference():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(jl.mse(pred, target), np.sum((target - pred) ** 2) / 18, rtol=1e-6)
    chex.assert_trees_all_close(jl.mse_grad(pred, target), jax.grad(jl.mse)(pred, target))
    half = jnp.full((1000, 1), 10.0, jnp.float16)  # 1000 * 100 / 2 overflows float16
    np.testing.assert_allclose(jl.mse(half, jnp.zeros_like(half)), 50.0)


@pytest.mark.parametrize("activation_free", [(1, 2, 1), (3, 4, 5, 2)])
def test_affine_map_is_what_the_network_computes(activation_free):
    net = jax.tree.map(lambda a: a + 0.3, jl.init_mlp(jax.random.key(0), activation_free))
    x = jax.random.normal(jax.random.key(1), (20, activation_free[0]))
    w, b = jl.affine_map(net)
    chex.assert_trees_all_close(x @ w + b[None], jl.forward(net, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("low", [-3.0, 1000.0])
def test_least_squares_equals_numpy(low):
    x = np.linspace(low, low + 3, 500).reshape(-1, 1)
    y = np.hstack([2 * np.sin(x) + 5, 3 * x - 1])
    w, b = jl.least_squares(x.astype(np.float32), y.astype(np.float32))
    want = np.linalg.lstsq(np.hstack([x, np.ones_like(x)]), y, rcond=None)[0]
    np.testing.assert_allclose(w, want[:1], rtol=1e-4)  # the fitted lines agree on the data:
    np.testing.assert_allclose(x @ w + b[None], x @ want[:1] + want[1:], atol=1e-3)
