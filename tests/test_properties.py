"""Values, not rejections: for random networks, batches and seeds, jlinnet agrees with the
NumPy reference (tests/reference.py)."""

import chex
import jax
import numpy as np
import optax
from hypothesis import given, settings
from hypothesis import strategies as st

import jlinnet as jl
from tests import reference as ref

SGD = optax.sgd(0.01)


@settings(max_examples=6)
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
    np.testing.assert_allclose(jl.forward(net, x), want_y, rtol=1e-4, atol=1e-5)
    for grads in (jl.manual_grads, jl.autodiff_grads):
        chex.assert_trees_all_close(tuple(map(tuple, grads(net, x, y))), want, rtol=2e-4,
                                    atol=1e-5)


@settings(max_examples=4)
@given(seed=st.integers(0, 2**32 - 1), batchsize=st.sampled_from([1, 3, 10]))
def test_the_replay_holds_step_for_step_for_any_seed(seed, batchsize):
    net, starts = jl.tutorial_setup((1, 2, 1), 30, batchsize, seed=seed)
    x, y = jl.grid(), jl.linear_target(jl.grid())
    result = jl.train(net, x, y, starts, batchsize=batchsize, optimizer=SGD)
    params, losses = ref.sgd(ref.layers(net), np.asarray(x, np.float64),
                             np.asarray(y, np.float64), np.asarray(starts), batchsize, 0.01)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-3, atol=1e-6)
    chex.assert_trees_all_close(tuple(map(tuple, result.params)), tuple(map(tuple, params)),
                                rtol=1e-3, atol=1e-5)
