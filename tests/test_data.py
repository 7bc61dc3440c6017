import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


def test_grid_is_the_tutorials_linspace_and_follows_x64():
    x = jl.grid()
    chex.assert_shape(x, (1000, 1))
    chex.assert_type(x, jnp.float32)
    np.testing.assert_array_equal(x, np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1))
    with jax.enable_x64(True):
        chex.assert_type(jl.grid(5), jnp.float64)
    chex.assert_type(jl.grid(5, dtype=jnp.float16), jnp.float16)


def test_targets_elementwise():
    x = jl.grid(7)
    chex.assert_trees_all_close(jl.linear_target(x), 2 * np.asarray(x) + 3)
    chex.assert_trees_all_close(jl.sine_target(x), 2 * np.sin(np.asarray(x)) + 5, rtol=1e-6)
    chex.assert_type(jl.linear_target(jnp.arange(3)), jnp.float32)


def test_batch_starts_range_dtype_and_reproducible():
    starts = jl.batch_starts(jax.random.key(0), 5000, 1000, 10)
    chex.assert_shape(starts, (5000,))
    chex.assert_type(starts, jnp.int32)
    assert int(starts.min()) == 0 and int(starts.max()) == 1000 - 10 - 1  # randint's [0, n - B)
    np.testing.assert_array_equal(starts, jl.batch_starts(jax.random.key(0), 5000, 1000, 10))
    assert not np.array_equal(starts, jl.batch_starts(jax.random.key(1), 5000, 1000, 10))


def test_batch_starts_takes_the_whole_grid_as_one_batch():
    np.testing.assert_array_equal(jl.batch_starts(jax.random.key(0), 4, 1000, 1000), 0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(steps=0), ValueError, "steps must be >= 1, got 0"),
        (dict(steps=2.5), TypeError, "steps must be an int"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1"),
        (dict(batchsize=1001), ValueError, "batchsize must be at most n=1000, got 1001"),
        (dict(n=0), ValueError, "n must be >= 1"),
        (dict(key=0), TypeError, "key must be a JAX PRNG key"),
        (dict(key=jnp.zeros(2)), TypeError, "key must be a JAX PRNG key"),
    ],
)
def test_batch_starts_rejects(kwargs, error, match):
    args = dict(key=jax.random.key(0), steps=10, n=1000, batchsize=1) | kwargs
    with pytest.raises(error, match=match):
        jl.batch_starts(**args)


@pytest.mark.parametrize(
    "args, match",
    [((0,), "n must be >= 1"), ((10, 3.0, -3.0), "low must be smaller than high"),
     ((10, float("nan"), 1.0), "low must be a finite number")],
)
def test_grid_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        jl.grid(*args)
