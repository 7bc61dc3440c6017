import os
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jlinnet as jl

X = jl.grid()
Y = jl.sine_target(X)
SGD = optax.sgd(0.01)  # one object: optimizers are static and compare by identity
HYPER = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
K, S, B = 5, 60, 4


def _networks(k=K, steps=S, batchsize=B, sizes=(1, 3, 1), seed=0, activation=None):
    keys = jax.random.split(jax.random.key(seed), k)
    net = jax.vmap(lambda key: jl.init_mlp(key, sizes, activation=activation, wscale=0.5))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, steps, 1000, batchsize))(keys)
    return net, starts


def _network(tree, k):
    return jax.tree.map(lambda a: a[k], tree)


@pytest.mark.parametrize(
    "grads, activation, chunk",  # chunk 2: blocks of 2, 2 and 1 networks
    [(jl.autodiff_grads, None, None), (jl.manual_grads, "tanh", 2), (jl.autodiff_grads, "relu", 2)],
)
def test_equals_k_separate_train_calls(grads, activation, chunk):
    net, starts = _networks(activation=activation)
    many = jl.train_many(net, X, Y, starts, batchsize=B, optimizer=SGD, grads=grads,
                         chunk=chunk)
    assert many.params.activation == activation
    chex.assert_shape(many.losses, (K, S))
    chex.assert_shape(many.nonfinite_step, (K,))
    chex.assert_trees_all_equal_shapes(many.params, net)
    for k in range(K):
        one = jl.train(_network(net, k), X, Y, starts[k], batchsize=B, optimizer=SGD,
                       grads=grads)
        chex.assert_trees_all_close(_network(many.params, k), one.params, rtol=1e-6, atol=1e-7)
        chex.assert_trees_all_close(many.losses[k], one.losses, rtol=1e-6, atol=1e-7)
        assert int(many.nonfinite_step[k]) == int(one.nonfinite_step)


def test_runs_inside_an_outer_jit():
    net, starts = _networks()
    inner = jl.train_many(net, X, Y, starts, batchsize=B, optimizer=SGD)
    outer = jax.jit(lambda p, s: jl.train_many(p, X, Y, s, batchsize=B, optimizer=SGD))
    chex.assert_trees_all_close(outer(net, starts), inner, rtol=1e-6, atol=1e-7)


def test_tutorial_networks_replay_the_tutorial():
    net, starts = jl.tutorial_setup((1, 2, 1), 100, 1)
    twice = jax.tree.map(lambda a: jnp.stack([a, a]), net)
    many = jl.train_many(twice, X, jl.linear_target(X), jnp.stack([starts, starts]),
                         batchsize=1, optimizer=SGD)
    one = jl.train(net, X, jl.linear_target(X), starts, batchsize=1, optimizer=SGD)
    for k in range(2):
        chex.assert_trees_all_close(_network(many.params, k), one.params, rtol=1e-6, atol=1e-7)


def test_learning_rate_sweep_is_one_call_and_one_compile():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    net, starts = _networks()
    for lrs in ([0.001, 0.005, 0.01, 0.02, 0.05], [0.05, 0.04, 0.03, 0.02, 0.01]):
        state = jl.with_hyperparams(jax.vmap(HYPER.init)(net), learning_rate=lrs)
        swept = jl.train_many(net, X, Y, starts, batchsize=B, optimizer=HYPER, opt_state=state,
                              grads=grads)
        np.testing.assert_allclose(swept.opt_state.hyperparams["learning_rate"], lrs, rtol=1e-7)
    for k, lr in enumerate(lrs):  # the last sweep, network by network (each one compiles)
        plain = jl.train(_network(net, k), X, Y, starts[k], batchsize=B,
                         optimizer=optax.sgd(lr))
        chex.assert_trees_all_close(_network(swept.params, k), plain.params, rtol=1e-6, atol=1e-7)


def test_second_train_many_call_does_not_retrace():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    for seed in range(3):  # new values, same shapes
        net, starts = _networks(seed=seed)
        jl.train_many(net, X, Y, starts, batchsize=B, optimizer=SGD, grads=grads)


def test_reports_which_networks_diverge():
    net, starts = _networks(k=2, sizes=(1, 16, 1), batchsize=8, steps=100)
    state = jl.with_hyperparams(jax.vmap(HYPER.init)(net), learning_rate=[1e-3, 10.0])
    result = jl.train_many(net, X, Y, starts, batchsize=8, optimizer=HYPER, opt_state=state)
    chex.assert_tree_all_finite(_network(result.params, 0))
    assert int(result.nonfinite_step[0]) == -1 and int(result.nonfinite_step[1]) >= 0


def _train_many(**changes):
    net, starts = _networks(k=4)
    args = dict(net=net, xs=X, ys=Y, starts=starts, batchsize=B, optimizer=SGD) | changes
    return jl.train_many(**args)


def _with_k(tree, k):
    return jax.tree.map(lambda a: a[:k], tree)


@pytest.mark.parametrize(
    "changes, error, match",
    [
        (dict(net=(lambda p: (p[0], p[1]._replace(w=p[1].w[:3])))(_networks(k=4)[0])),
         ValueError, r"net\[1\]\.w must have the leading axis K=4 \(one entry per network\),"
         r" got shape \(3, 3, 1\)"),
        (dict(starts=jnp.zeros((3, S), jnp.int32)), ValueError,
         r"starts must have the leading axis K=4 \(one entry per network\), got shape \(3, 60\)"),
        (dict(starts=jnp.zeros((S,), jnp.int32)), ValueError,
         r"starts must be \(K, S\) = \(4, S\), one schedule per network, got shape \(60,\);"
         r" one schedule for all: jnp.broadcast_to\(starts, \(4, S\)\)"),
        (dict(starts=jnp.zeros((4, 0), jnp.int32)), ValueError, r"starts must not be empty"),
        (dict(starts=jnp.zeros((4, S))), TypeError, "starts must hold integers"),
        (dict(starts=np.full((4, S), 997)), ValueError, r"starts must lie in \[0, 996\]"),
        (dict(net=jl.init_mlp(jax.random.key(0), (1, 3, 1))), ValueError,
         r"net looks like one network .* jax.tree.map\(lambda a: a\[None\], net\) for K = 1"),
        (dict(net=jax.tree.map(lambda a: a[:0], _networks(k=4)[0])), ValueError,
         r"net must hold at least one network \(leading axis K >= 1\), got K=0"),
        (dict(optimizer=HYPER, opt_state=jax.vmap(HYPER.init)(_with_k(_networks()[0], 3))),
         ValueError, r"opt_state.count must have the leading axis K=4 .*, got shape \(3,\)"),
        (dict(net=(jl.Layer(jnp.ones((4, 2, 3)), jnp.ones((4, 3))),)), ValueError,
         "xs must have 2 features"),
        (dict(net=[1.0]), TypeError, r"net\[0\] must be a Layer"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1, got 0"),
        (dict(optimizer=0.01), TypeError, "optimizer must be an optax GradientTransformation"),
        (dict(mesh="cpu"), TypeError, "mesh must be a jax.sharding.Mesh"),
        (dict(chunk=0), ValueError, "chunk must be >= 1, got 0"),
    ],
)
def test_train_many_rejects(changes, error, match):
    with pytest.raises(error, match=match):
        _train_many(**changes)


_ON_FOUR_DEVICES = textwrap.dedent(
    """
    import chex, jax, jax.numpy as jnp, optax, pytest
    import jlinnet as jl

    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert jax.device_count() == 4, jax.devices()
    X = jl.grid()
    Y = jl.sine_target(X)
    keys = jax.random.split(jax.random.key(0), 8)
    net = jax.vmap(lambda key: jl.init_mlp(key, (1, 3, 1), wscale=0.5))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, 50, 1000, 4))(keys)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
    lrs = jnp.linspace(1e-3, 5e-2, 8)
    state = jl.with_hyperparams(jax.vmap(opt.init)(net), learning_rate=lrs)
    mesh = jax.make_mesh((jax.device_count(),), ("k",))
    kw = dict(batchsize=4, optimizer=opt, opt_state=state)
    spread = jl.train_many(net, X, Y, starts, mesh=mesh, **kw)
    assert len(spread.losses.sharding.device_set) == 4, spread.losses.sharding
    one_device = jl.train_many(net, X, Y, starts, **kw)
    assert len(one_device.losses.sharding.device_set) == 1
    # Blocks of 2 networks per device round differently from one block of 8 (vector
    # widths); over 50 steps that stays within a few float32 ulps of the losses.
    chex.assert_trees_all_close(spread, one_device, rtol=1e-5, atol=1e-6)
    chunked = jl.train_many(net, X, Y, starts, mesh=mesh, chunk=1, **kw)
    chex.assert_trees_all_close(chunked, one_device, rtol=1e-5, atol=1e-6)
    # No opt_state: train_many makes it, split like the weights (make_mesh's axes are
    # Explicit, so shard_map refuses a state that is not).
    fresh = jl.train_many(net, X, Y, starts, mesh=mesh, batchsize=4, optimizer=opt)
    chex.assert_trees_all_close(fresh.params, jl.train_many(net, X, Y, starts, batchsize=4,
                                                            optimizer=opt).params,
                                rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="mesh has 4 devices, which does not divide K=6"):
        jl.train_many(jax.tree.map(lambda a: a[:6], net), X, Y, starts[:6], batchsize=4,
                      optimizer=optax.sgd(0.01), mesh=mesh)
    print("ok")
    """
)


def test_spreads_networks_over_four_devices_with_the_same_results():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4")
    done = subprocess.run([sys.executable, "-c", _ON_FOUR_DEVICES], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit, jax.vmap],
                         ids=["eager", "jit", "vmap"])
def test_a_start_off_the_grid_poisons_only_its_network(transform):
    """Run-time starts outside [0, N - B], under the user's jit or vmap too: that network's
    loss from that step on and its weights are NaN, nonfinite_step names the step, and
    the other networks train as if it were not there."""
    net, starts = _networks(k=3, steps=4)
    starts = starts.at[1, 2].set(5000).at[2, 0].set(-1)

    def run(s):
        return jl.train_many(net, X, Y, s, batchsize=B, optimizer=SGD)

    result = transform(run)(starts[None] if transform is jax.vmap else starts)
    if transform is jax.vmap:
        result = jax.tree.map(lambda a: a[0], result)
    np.testing.assert_array_equal(result.nonfinite_step, [-1, 2, 0])
    assert np.isfinite(result.losses[1, :2]).all() and np.isnan(result.losses[1, 2:]).all()
    assert np.isnan(result.losses[2]).all()
    assert np.isnan(_network(result.params, 1)[0].w).all()
    alone = jl.train(_network(net, 0), X, Y, starts[0], batchsize=B, optimizer=SGD)
    chex.assert_trees_all_close(_network(result.params, 0), alone.params, rtol=1e-6, atol=1e-7)
