import chex
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl
from experiments import tutorial_numpy as tn


@pytest.mark.parametrize("size, batchsize", [(2, 1), (3, 10)])
def test_tutorial_setup_replays_the_numpy_stream(size, batchsize):
    net, starts = jl.tutorial_setup((1, size, 1), steps=50, batchsize=batchsize)
    assert isinstance(net, jl.Net) and net.activation is None
    chex.assert_shape(starts, (50,))
    chex.assert_type(starts, jnp.int32)
    # The tutorial's own calls, one after another, from np.random.seed(4321).
    np.random.seed(4321)
    reference = tn.Net()
    reference.append(tn.Linear(1, size))
    reference.append(tn.Linear(size, 1))
    expected = [np.random.randint(0, 1000 - batchsize) for _ in range(50)]
    np.testing.assert_array_equal(starts, expected)
    for layer, ref in zip(net, reference.layers):
        np.testing.assert_allclose(layer.w, ref.w.astype(np.float32))
        np.testing.assert_array_equal(layer.b, ref.b)


def test_tutorial_setup_leaves_global_numpy_rng_alone():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    jl.tutorial_setup((1, 2, 1), steps=3, batchsize=1)
    assert np.random.rand() == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(sizes=(1,)), ValueError, "at least two layer sizes"),
        (dict(steps=0), ValueError, "steps must be >= 1"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1"),
        (dict(batchsize=1000), ValueError, "batchsize must be smaller than n=1000"),
        (dict(dtype="int32"), TypeError, "dtype must be a floating dtype"),
        (dict(seed=2**32), ValueError, "seed must be < 2"),
        (dict(activation="swish"), ValueError, "activation must be None, one of"),
    ],
)
def test_tutorial_setup_rejects(kwargs, error, match):
    args = dict(sizes=(1, 2, 1), steps=10, batchsize=1) | kwargs
    with pytest.raises(error, match=match):
        jl.tutorial_setup(**args)
