import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl

SIZES = [(1, 2, 1), (3, 3, 1), (1, 16, 1), (2, 5, 4, 3), (1, 1)]
ACTIVATIONS = [None, "tanh", "relu", "sigmoid"]


def _problem(sizes, activation=None, dtype=jnp.float32, batch=8, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    net = jl.init_mlp(k1, sizes, activation=activation, dtype=dtype)
    net = jax.tree.map(lambda w: w + 0.1, net)  # b != 0, so the bias paths count
    x = jax.random.normal(k2, (batch, sizes[0]), dtype)
    y = jax.random.normal(k3, (batch, sizes[-1]), dtype)
    return net, x, y


@jax.jit
def _directional_fd(net, x, y, v, eps):
    """(J(net + eps v) - J(net - eps v)) / (2 eps): central differences along v."""
    def j(s):
        return jl.mse(jl.forward(jax.tree.map(lambda w, d: w + s * eps * d, net, v), x), y)

    return (j(1) - j(-1)) / (2 * eps)


@jax.jit
def _both_routes(net, x, y):
    return jl.manual_grads(net, x, y), jl.autodiff_grads(net, x, y)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hand_backprop_equals_jax_grad_equals_finite_differences(sizes, activation):
    """Three independent routes to dJ/dweights, in float64 so all three are tight."""
    with jax.enable_x64(True):
        net, x, y = _problem(sizes, activation, jnp.float64, seed=1)
        g_manual, g_auto = _both_routes(net, x, y)
        chex.assert_trees_all_equal_structs(g_manual, net)
        chex.assert_type(jax.tree.leaves(g_manual), jnp.float64)
        chex.assert_trees_all_close(g_manual, g_auto, rtol=1e-12, atol=1e-13)
        leaves, tree = jax.tree.flatten(net)
        for seed in range(3):  # <dJ/dnet, v> against central differences along random v
            keys = jax.random.split(jax.random.key(seed), len(leaves))
            v = jax.tree.unflatten(tree, [jax.random.normal(k, w.shape, w.dtype)
                                          for k, w in zip(keys, leaves)])
            dot = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(g_manual), jax.tree.leaves(v)))
            np.testing.assert_allclose(dot, _directional_fd(net, x, y, v, 1e-6), rtol=1e-6,
                                       atol=1e-8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hand_backprop_equals_jax_grad_in_float32_under_jit(activation):
    net, x, y = _problem((2, 5, 4, 3), activation)
    g_manual = jax.jit(jl.manual_grads)(net, x, y)
    chex.assert_trees_all_equal_shapes_and_dtypes(g_manual, net)
    chex.assert_trees_all_close(g_manual, jl.autodiff_grads(net, x, y), rtol=1e-5, atol=1e-6)


def test_autodiff_takes_any_elementwise_activation():
    with jax.enable_x64(True):
        net, x, y = _problem((1, 6, 1), lambda a: a * jnp.sin(a), jnp.float64, seed=2)
        g = jl.autodiff_grads(net, x, y)
        assert g.activation is net.activation
        v = jax.tree.map(jnp.ones_like, net)
        dot = sum(jnp.vdot(a, d) for a, d in zip(jax.tree.leaves(g), jax.tree.leaves(v)))
        np.testing.assert_allclose(dot, _directional_fd(net, x, y, v, 1e-6), rtol=1e-6)


def test_manual_grads_knows_its_named_activations_and_says_so_for_others():
    net, x, y = _problem((1, 4, 1), jnp.tanh)  # the function of a named one is that one
    chex.assert_trees_all_close(jl.manual_grads(net, x, y), jl.autodiff_grads(net, x, y),
                                rtol=1e-5, atol=1e-6)
    net, x, y = _problem((1, 4, 1), jnp.sin)
    with pytest.raises(ValueError, match="manual_grads has hand derivatives for the activations"):
        jl.manual_grads(net, x, y)


def test_hidden_weight_grad_every_entry_of_the_3_3_1_example():
    with jax.enable_x64(True):
        net, x, y = _problem((3, 3, 1), dtype=jnp.float64, batch=10, seed=2)
        g = jl.autodiff_grads(net, x, y)
        for i in range(1, 4):
            for j in range(1, 4):
                np.testing.assert_allclose(jl.hidden_weight_grad(net, x, y, i, j),
                                           g[0].w[j - 1, i - 1], rtol=1e-12)


def test_hidden_weight_grad_rejects():
    net, x, y = _problem((3, 3, 1))
    with pytest.raises(ValueError, match="i must be a hidden neuron in 1..3, got 4"):
        jl.hidden_weight_grad(net, x, y, 4, 1)
    with pytest.raises(ValueError, match="j must be >= 1, got 0"):
        jl.hidden_weight_grad(net, x, y, 1, 0)
    for bad in (_problem((1, 2, 2, 1))[0], _problem((3, 3, 1), "tanh")[0]):
        with pytest.raises(ValueError, match="one hidden layer, one output and no activation"):
            jl.hidden_weight_grad(bad, x[:, :bad[0].w.shape[0]], y, 1, 1)


@pytest.mark.parametrize("grads", [jl.manual_grads, jl.autodiff_grads])
def test_grads_reject_mismatched_targets(grads):
    net, x, y = _problem((1, 2, 1))
    with pytest.raises(ValueError, match=r"y must have 1 outputs in its last axis, got shape"):
        grads(net, x, jnp.zeros((8, 2)))
    with pytest.raises(ValueError, match=r"y must have one row per row of x \(8\)"):
        grads(net, x, y[:5])
    with pytest.raises(ValueError, match=r"y must be 2-D, got shape \(8,\)"):
        grads(net, x, y[:, 0])
    with pytest.raises(ValueError, match="x must have 1 features"):
        grads(net, jnp.zeros((8, 3)), y)
