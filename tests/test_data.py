import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


def test_grid_is_the_tutorials_linspace():
    x = jl.grid()
    chex.assert_shape(x, (1000, 1))
    chex.assert_type(x, jnp.float32)
    np.testing.assert_array_equal(
        np.asarray(x), np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1)
    )


def test_targets_elementwise():
    x = jl.grid(7)
    chex.assert_trees_all_close(jl.linear_target(x), 2 * np.asarray(x) + 3)
    chex.assert_trees_all_close(jl.sine_target(x), 2 * np.sin(np.asarray(x)) + 5, rtol=1e-6)
    chex.assert_shape([jl.linear_target(x), jl.sine_target(x)], (7, 1))


def test_batch_starts_range_dtype_and_reproducible():
    starts = jl.batch_starts(jax.random.key(0), 5000, 1000, 10)
    chex.assert_shape(starts, (5000,))
    chex.assert_type(starts, jnp.int32)
    assert int(starts.min()) == 0 and int(starts.max()) == 1000 - 10 - 1  # randint's [0, n - B)
    np.testing.assert_array_equal(starts, jl.batch_starts(jax.random.key(0), 5000, 1000, 10))
    assert not np.array_equal(starts, jl.batch_starts(jax.random.key(1), 5000, 1000, 10))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(steps=0), ValueError, "steps must be >= 1, got 0"),
        (dict(steps=2.5), TypeError, "steps must be an int"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1"),
        (dict(batchsize=1000), ValueError, "batchsize must be smaller than n=1000, got 1000"),
        (dict(n=1), ValueError, "n must be >= 2"),
    ],
)
def test_batch_starts_rejects(kwargs, error, match):
    args = dict(steps=10, n=1000, batchsize=1) | kwargs
    with pytest.raises(error, match=match):
        jl.batch_starts(jax.random.key(0), **args)


def test_grid_rejects():
    with pytest.raises(ValueError, match="n must be >= 1"):
        jl.grid(0)
    with pytest.raises(ValueError, match="low < high"):
        jl.grid(10, 3.0, -3.0)
