import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jlinnet as jl

SIZES = [(1, 2, 1), (3, 3, 1), (1, 16, 1), (2, 5, 4, 3), (1, 1)]
ACTIVATIONS = [None, "tanh", "relu", "sigmoid"]


def _problem(sizes, dtype=jnp.float32, batch=8, seed=0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    params = jl.init_mlp(k1, sizes, dtype=dtype)
    params = jax.tree.map(lambda p: p + 0.1, params)  # b != 0, so the bias paths count
    x = jax.random.normal(k2, (batch, sizes[0]), dtype)
    y = jax.random.normal(k3, (batch, sizes[-1]), dtype)
    return params, x, y


def _loss(params, x, y, activation):
    return jl.mse(jl.forward(params, x, activation=activation), y)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_manual_equals_autodiff_float32(sizes, activation, maybe_jit):
    params, x, y = _problem(sizes)
    manual = maybe_jit(lambda p, x, y: jl.manual_grads(p, x, y, activation=activation))
    auto = maybe_jit(lambda p, x, y: jl.autodiff_grads(p, x, y, activation=activation))
    g_manual, g_auto = manual(params, x, y), auto(params, x, y)
    chex.assert_trees_all_equal_shapes_and_dtypes(g_manual, params)
    chex.assert_trees_all_close(g_manual, g_auto, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_manual_equals_autodiff_equals_finite_differences_float64(sizes, activation):
    with jax.enable_x64(True):
        params, x, y = _problem(sizes, jnp.float64, seed=1)
        g_manual = jl.manual_grads(params, x, y, activation=activation)
        g_auto = jl.autodiff_grads(params, x, y, activation=activation)
        chex.assert_type(jax.tree.leaves(g_manual), jnp.float64)
        chex.assert_trees_all_close(g_manual, g_auto, rtol=1e-12, atol=1e-13)
        # Route three: central differences of J along random directions v,
        # (J(p + eps v) - J(p - eps v)) / (2 eps) ~= <dJ/dp, v>.
        eps = 1e-6
        for seed in range(3):
            keys = jax.random.split(jax.random.key(seed), len(jax.tree.leaves(params)))
            leaves, tree = jax.tree.flatten(params)
            v = jax.tree.unflatten(
                tree, [jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves)]
            )
            shifted = [jax.tree.map(lambda p, d, s=s: p + s * eps * d, params, v) for s in (1, -1)]
            fd = (_loss(shifted[0], x, y, activation) - _loss(shifted[1], x, y, activation)) / (
                2 * eps
            )
            dot = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(g_manual), jax.tree.leaves(v)))
            np.testing.assert_allclose(dot, fd, rtol=1e-6, atol=1e-8)
        # jax.grad against finite differences (jax.test_util.check_grads).
        check_grads(
            lambda p: _loss(p, x, y, activation), (params,), order=1, modes=("rev",),
            atol=1e-6, rtol=1e-6,
        )


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_manual_grads_against_finite_differences_float32(sizes, activation):
    # float32 central differences carry ~1e-3 relative error, so the tolerance is loose; the
    # float64 test above holds the same comparison to 1e-6.
    params, x, y = _problem(sizes, seed=4)
    g = jl.manual_grads(params, x, y, activation=activation)
    eps = 1e-3  # small enough that no relu unit changes side
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(5), len(leaves))
    v = jax.tree.unflatten(tree, [jax.random.normal(k, p.shape) for k, p in zip(keys, leaves)])
    shifted = [jax.tree.map(lambda p, d, s=s: p + s * eps * d, params, v) for s in (1, -1)]
    fd = (_loss(shifted[0], x, y, activation) - _loss(shifted[1], x, y, activation)) / (2 * eps)
    dot = sum(jnp.vdot(a, d) for a, d in zip(jax.tree.leaves(g), jax.tree.leaves(v)))
    np.testing.assert_allclose(dot, fd, rtol=1e-2, atol=1e-3)


def test_hidden_weight_grad_every_entry_of_the_3_3_1_example():
    params, x, y = _problem((3, 3, 1), batch=10, seed=2)
    g_auto = jl.autodiff_grads(params, x, y)
    for i in range(1, 4):
        for j in range(1, 4):
            chex.assert_trees_all_close(
                jl.hidden_weight_grad(params, x, y, i, j), g_auto[0].w[j - 1, i - 1],
                rtol=1e-5, atol=1e-7,
            )


def test_hidden_weight_grad_float64_and_under_jit(maybe_jit):
    with jax.enable_x64(True):
        params, x, y = _problem((2, 4, 1), jnp.float64, seed=3)
        g = jl.manual_grads(params, x, y)
        f = maybe_jit(jl.hidden_weight_grad, static_argnums=(3, 4))
        for i, j in [(1, 1), (4, 2), (3, 1)]:
            np.testing.assert_allclose(f(params, x, y, i, j), g[0].w[j - 1, i - 1], rtol=1e-12)


def test_hidden_weight_grad_rejects():
    params, x, y = _problem((3, 3, 1))
    with pytest.raises(ValueError, match="i must be a hidden neuron in 1..3, got 4"):
        jl.hidden_weight_grad(params, x, y, 4, 1)
    with pytest.raises(ValueError, match="j must be an input in 1..3, got 0|j must be >= 1, got 0"):
        jl.hidden_weight_grad(params, x, y, 1, 0)
    deep, x, y = _problem((1, 2, 2, 1))
    with pytest.raises(ValueError, match="one hidden layer and one output"):
        jl.hidden_weight_grad(deep, x, y, 1, 1)


@pytest.mark.parametrize("grads", [jl.manual_grads, jl.autodiff_grads])
def test_grads_reject_mismatched_targets(grads):
    params, x, y = _problem((1, 2, 1))
    with pytest.raises(ValueError, match=r"y must have shape \(8, 1\) .* got \(8, 2\)"):
        grads(params, x, jnp.zeros((8, 2)))
    with pytest.raises(ValueError, match=r"y must be 2-D, got shape \(8,\)"):
        grads(params, x, y[:, 0])
    with pytest.raises(ValueError, match="x must have 1 features"):
        grads(params, jnp.zeros((8, 3)), y)
