import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


def _net(sizes=(1, 2, 1), activation=None, seed=0):
    net = jl.init_mlp(jax.random.key(seed), sizes, activation=activation)
    return jax.tree.map(lambda w: w + 0.1, net)  # b != 0, so the bias paths count


def test_net_reads_like_the_tutorials_net_and_keeps_its_activation():
    net = _net((1, 4, 3, 1), "tanh")
    x = jl.grid(5)
    assert len(net) == 3 and isinstance(net[0], jl.Layer) and net.sizes == (1, 4, 3, 1)
    assert [layer.w.shape for layer in net.layers] == [(1, 4), (4, 3), (3, 1)]
    head = net[:2]
    assert isinstance(head, jl.Net) and head.activation == "tanh" and len(head) == 2
    chex.assert_trees_all_close(net(x), jl.forward(net, x))
    z = jnp.tanh(x @ net[0].w + net[0].b[None])
    chex.assert_trees_all_close(head(x), z @ net[1].w + net[1].b[None])
    for changed in (jax.tree.map(lambda a: a * 2, net), jl.autodiff_grads(net, x, x), jl.Net(net)):
        assert isinstance(changed, jl.Net) and changed.activation == "tanh"
    assert net.batch_shape == () and jax.vmap(lambda k: _net(seed=0))(jnp.arange(3)
                                                                       ).batch_shape == (3,)


@pytest.mark.parametrize("scheme, std", [("gaussian", 1.0), ("xavier_normal", (1 / 64) ** 0.5),
                                         ("he", (2 / 64) ** 0.5), ("xavier_uniform", None)])
def test_init_mlp_draws_from_the_scheme(scheme, std):
    net = jl.init_mlp(jax.random.key(0), (64, 64, 1), scheme=scheme, wscale=2.0, dtype=jnp.float64
                      if jax.config.jax_enable_x64 else None)
    w = np.asarray(net[0].w)
    chex.assert_shape(w, (64, 64))
    chex.assert_trees_all_equal(net[0].b, jnp.zeros(64))
    if std is not None:
        np.testing.assert_allclose(w.std(), 2 * std, rtol=0.1)
    else:
        assert 0.9 * 2 * (3 / 64) ** 0.5 < np.abs(w).max() <= 2 * (3 / 64) ** 0.5


@pytest.mark.parametrize("activation", [None, "relu"])
def test_a_function_of_networks_exports_and_comes_back_with_nothing_registered(activation):
    """`jax.export` serializes a function that takes and returns networks: the round trip gives
    the same outputs and the same activation, from the serialized bytes alone."""
    net = _net((1, 3, 1), activation)
    x = jl.grid(7)
    step = jax.jit(lambda n, x: (n(x), jax.tree.map(lambda a: 0.5 * a, n)))
    exported = jax.export.export(step)(net, jax.ShapeDtypeStruct(x.shape, x.dtype))
    y, half = jax.export.deserialize(exported.serialize()).call(net, x)
    chex.assert_trees_all_close((y, half), step(net, x))
    assert isinstance(half, jl.Net) and half.activation == activation
