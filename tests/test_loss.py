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
def test_mse_is_j_and_mse_grad_is_its_gradient(shape, maybe_jit):
    pred, target = _pair(shape)
    j = maybe_jit(jl.mse)(pred, target)
    chex.assert_shape(j, ())
    p, t = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    np.testing.assert_allclose(j, np.sum((t - p) ** 2) / (2 * shape[0]), rtol=1e-5)
    g = maybe_jit(jl.mse_grad)(pred, target)
    chex.assert_trees_all_close(g, jax.grad(jl.mse)(pred, target), rtol=1e-6)
    np.testing.assert_allclose(g, -(t - p) / shape[0], rtol=1e-5)


def test_integer_inputs_are_floats_not_wrapped_integers():
    j = jl.mse(jnp.zeros((1, 1), jnp.int32), jnp.full((1, 1), 50000, jnp.int32))
    assert float(j) == 50000.0**2 / 2


def test_half_precision_losses_accumulate_in_float32():
    pred = jnp.zeros((1000, 1), jnp.float16)
    j = jl.mse(pred, jnp.full((1000, 1), 20, jnp.float16))
    chex.assert_type(j, jnp.float32)
    assert float(j) == 200.0
    chex.assert_type(jl.mse(pred.astype(jnp.bfloat16), pred.astype(jnp.bfloat16)), jnp.float32)


@pytest.mark.parametrize(
    "pred, target, error, match",
    [
        (jnp.zeros((5, 1)), jnp.zeros((5,)), ValueError,
         r"pred and target must have the same shape.*\(5, 1\).*\(5,\)|target must be 2-D"),
        (jnp.zeros((5, 1)), jnp.zeros((1, 1)), ValueError, "same shape"),
        (jnp.zeros((5,)), jnp.zeros((5,)), ValueError, r"pred must be 2-D, got shape \(5,\)"),
        (jnp.zeros((0, 1)), jnp.zeros((0, 1)), ValueError, "pred must not be empty"),
        (jnp.zeros((2, 1), bool), jnp.zeros((2, 1)), TypeError, "pred must hold real numbers"),
        (jnp.zeros((2, 1)), jnp.zeros((2, 1), jnp.complex64), TypeError, "target must hold real"),
        (np.array([["a"]]), np.zeros((1, 1)), TypeError, "pred must be an array of numbers"),
        ("abc", np.zeros((1, 1)), TypeError, "pred must be an array of numbers, got str"),
    ],
)
@pytest.mark.parametrize("fn", [jl.mse, jl.mse_grad])
def test_bad_pairs_are_named(fn, pred, target, error, match):
    with pytest.raises(error, match=match):
        fn(pred, target)


def test_lists_are_arrays():
    np.testing.assert_allclose(jl.mse([[1.0], [2.0]], [[0.0], [0.0]]), 5 / 4)
