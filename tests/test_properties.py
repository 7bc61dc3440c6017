"""Values, not rejections: for random networks, batches and seeds, jlinnet agrees with the
NumPy reference (tests/reference.py). Training against it, step for step, for seeds of every
size: tests/test_training.py."""

import chex
import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jlinnet as jl
from tests import reference as ref


@jax.jit  # one program per example's shapes, not one per operation
def _forward_and_grads(net, x, y):
    return jl.forward(net, x), jl.manual_grads(net, x, y), jl.autodiff_grads(net, x, y)


@settings(max_examples=4)  # the fixed matrix: tests/test_backprop.py
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       activation=st.sampled_from([None, "tanh", "relu", "sigmoid"]),
       batch=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_forward_and_both_gradients_agree_with_the_reference(sizes, activation, batch, seed):
    net = jax.tree.map(lambda w: w + 0.1, jl.init_mlp(jax.random.key(seed), sizes,
                                                      activation=activation))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, sizes[0])).astype(np.float32)
    y = rng.normal(size=(batch, sizes[-1])).astype(np.float32)
    want_y, _, _ = ref.forward(ref.layers(net), x, activation)
    want = tuple(map(tuple, ref.grads(ref.layers(net), x, y, activation)))
    y_p, *grads = _forward_and_grads(net, x, y)
    np.testing.assert_allclose(y_p, want_y, rtol=1e-4, atol=1e-5)
    for g in grads:
        chex.assert_trees_all_close(tuple(map(tuple, g)), want, rtol=2e-4, atol=1e-5)

