import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jlinnet as jl
from tests import reference as ref

SIZES = [(1, 2, 1), (3, 3, 1), (1, 16, 1), (2, 5, 4, 3), (1, 1)]
ACTIVATIONS = [None, "tanh", "relu", "sigmoid"]
ROUTES = {"hand": jl.manual_grads, "jax.grad": jl.autodiff_grads}


def _problem(sizes, activation=None, dtype=jnp.float32, batch=8, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    net = jl.init_mlp(k1, sizes, activation=activation, dtype=dtype)
    net = jax.tree.map(lambda w: w + 0.1, net)  # b != 0, so the bias paths count
    x = jax.random.normal(k2, (batch, sizes[0]), dtype)
    y = jax.random.normal(k3, (batch, sizes[-1]), dtype)
    return net, x, y


@jax.jit
def _forward_and_grads(net, x, y):
    return jl.forward(net, x), *(route(net, x, y) for route in ROUTES.values())


@pytest.mark.parametrize("sizes, eager", [(s, False) for s in SIZES] + [((2, 5, 4, 3), True)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_and_gradients_jitted_or_eager_equal_the_numpy_network(sizes, eager, activation):
    """The matrix: sizes x activations, forward and both gradient routes, against the oracle;
    the deepest network eagerly too."""
    with jax.disable_jit(eager):
        _check_against_the_oracle(_forward_and_grads, sizes, activation)


@settings(max_examples=4)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       activation=st.sampled_from(ACTIVATIONS), batch=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_any_network_and_batch_equal_the_numpy_network(sizes, activation, batch, seed):
    """Values, not rejections: the matrix's check for random sizes, batches and weights."""
    _check_against_the_oracle(_forward_and_grads, sizes, activation, batch, seed)


def _check_against_the_oracle(routes, sizes, activation, batch=8, seed=0):
    net, x, y = _problem(sizes, activation, batch=batch, seed=seed)
    want = ref.grads(ref.layers(net), np.asarray(x), np.asarray(y), activation)
    y_p, *grads = routes(net, x, y)
    chex.assert_shape(y_p, (len(x), sizes[-1]))
    np.testing.assert_allclose(y_p, ref.forward(ref.layers(net), x, activation)[0], rtol=1e-5,
                               atol=1e-5)
    for g in grads:
        chex.assert_trees_all_equal_shapes_and_dtypes(g, net)
        chex.assert_trees_all_close(tuple(map(tuple, g.layers)), tuple(map(tuple, want)),
                                    rtol=1e-4, atol=1e-5)


@jax.jit
def _directional_fd(net, x, y, v, eps):
    """(J(net + eps v) - J(net - eps v)) / (2 eps): central differences along v."""
    def j(s):
        return jl.mse(jl.forward(jax.tree.map(lambda w, d: w + s * eps * d, net, v), x), y)

    return (j(1) - j(-1)) / (2 * eps)


@pytest.mark.parametrize("sizes, activation", [  # each depth and activation (the float32
    ((1, 2, 1), None), ((3, 3, 1), "tanh"), ((2, 5, 4, 3), "sigmoid"),  # matrix: all pairs)
    ((2, 5, 1), jnp.sin)])  # any elementwise function: jax.grad only
def test_hand_equals_jax_grad_equals_finite_differences_in_float64(sizes, activation):
    with jax.enable_x64(True):
        net, x, y = _problem(sizes, activation, jnp.float64, seed=1)
        g_auto = jax.jit(jl.autodiff_grads)(net, x, y)
        chex.assert_type(jax.tree.leaves(g_auto), jnp.float64)
        if activation is not jnp.sin:
            g_hand = jax.jit(jl.manual_grads)(net, x, y)
            chex.assert_trees_all_close(g_hand, g_auto, rtol=1e-12, atol=1e-13)
        leaves, tree = jax.tree.flatten(net)
        keys = jax.random.split(jax.random.key(2), len(leaves))
        v = jax.tree.unflatten(tree, [jax.random.normal(k, w.shape, w.dtype)
                                      for k, w in zip(keys, leaves)])
        dot = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(g_auto), jax.tree.leaves(v)))
        np.testing.assert_allclose(dot, _directional_fd(net, x, y, v, 1e-6), rtol=1e-6, atol=1e-8)
