import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


def _pair(shape, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.normal(k1, shape), jax.random.normal(k2, shape)


@pytest.mark.parametrize("shape", [(1, 1), (10, 1), (7, 3)])
def test_mse_is_j(shape, maybe_jit):
    pred, target = _pair(shape)
    j = maybe_jit(jl.mse)(pred, target)
    chex.assert_shape(j, ())
    p, t = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    np.testing.assert_allclose(j, np.sum((t - p) ** 2) / (2 * shape[0]), rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1), (10, 1), (7, 3)])
def test_mse_grad_is_the_gradient_of_mse(shape, maybe_jit):
    pred, target = _pair(shape, seed=1)
    g = maybe_jit(jl.mse_grad)(pred, target)
    chex.assert_shape(g, shape)
    chex.assert_trees_all_close(g, jax.grad(jl.mse)(pred, target), rtol=1e-6)
    chex.assert_trees_all_close(g, -(target - pred) / shape[0], rtol=1e-6)


def test_no_silent_broadcast():
    pred = jnp.zeros((5, 1))
    match = r"pred and target must have the same shape.*\(5, 1\).*\(5,\)"
    with pytest.raises(ValueError, match=match):
        jl.mse(pred, jnp.zeros((5,)))
    with pytest.raises(ValueError, match="same shape"):
        jl.mse_grad(pred, jnp.zeros((1, 1)))


def test_pred_must_be_2d():
    with pytest.raises(ValueError, match=r"pred must be 2-D, got shape \(5,\)"):
        jl.mse(jnp.zeros((5,)), jnp.zeros((5,)))
