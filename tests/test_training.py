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
from experiments import _tutorial as tn
from tests import reference as ref

X = jl.grid()
Y = jl.linear_target(X)
SGD = optax.sgd(0.01)  # one object: optimizers are static and compare by identity
HYPER = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)


def _stack(k, steps, batchsize, sizes=(1, 3, 1), activation=None, seed=0):
    keys = jax.random.split(jax.random.key(seed), k)
    net = jax.vmap(lambda key: jl.init_mlp(key, sizes, activation=activation, wscale=0.5))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, steps, 1000, batchsize))(keys)
    return net, starts


@pytest.mark.parametrize("grads", [jl.manual_grads, jl.autodiff_grads])
@pytest.mark.parametrize("size, steps, batchsize", [(2, 100, 1), (3, 300, 10)])
def test_replays_the_tutorials_numpy_network_step_for_step(grads, size, steps, batchsize):
    net, starts = jl.tutorial_setup((1, size, 1), steps, batchsize)
    result = jl.train(net, X, Y, starts, batchsize=batchsize, optimizer=SGD, grads=grads)
    tutorial, errors = tn.train_net(size, steps, batchsize, 1e-2, np.asarray(X), verbose=False)
    np.testing.assert_allclose(result.losses, errors, rtol=2e-4, atol=1e-6)
    for layer, want in zip(result.params, tutorial.layers):
        np.testing.assert_allclose(layer.w, want.w, rtol=2e-4, atol=1e-6)
        np.testing.assert_allclose(layer.b, want.b, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("activation, batchsize, seed, eager", [
    (None, 3, 7, False), ("tanh", 8, 0, False), ("tanh", 8, 0, True),  # eager: the same, no jit
    ("relu", 1, 2**32 - 1, False), ("sigmoid", 10, 12345, False)])
def test_sgd_steps_jitted_or_eager_equal_the_numpy_reference(activation, batchsize, seed, eager):
    net, starts = jl.tutorial_setup((1, 4, 1), 20, batchsize, seed=seed, activation=activation)
    ys = jl.sine_target(X)
    with jax.disable_jit(eager):
        result = jl.train(net, X, ys, starts, batchsize=batchsize, optimizer=SGD)
    params, losses = ref.sgd(ref.layers(net), np.asarray(X, np.float64), np.asarray(ys, np.float64),
                             np.asarray(starts), batchsize, 0.01, activation)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-4)
    chex.assert_trees_all_close(tuple(map(tuple, result.params)), tuple(map(tuple, params)),
                                rtol=1e-4, atol=1e-6)
    assert result.nonfinite_step == -1 and result.nonfinite_step.dtype == jnp.int32


def test_no_retrace_for_new_weights_seeds_or_rates():
    """One compiled program for every seed, weight and rate of the same shapes."""
    before = jl.training._fit._cache_size()
    for seed, lr in enumerate((0.001, 0.01, 0.05)):
        net, starts = jl.tutorial_setup((1, 2, 1), 50, 1, seed=seed)
        state = jl.with_hyperparams(HYPER.init(net), learning_rate=lr)
        jl.train(net, X, Y, starts, batchsize=1, optimizer=HYPER, opt_state=state)
    assert jl.training._fit._cache_size() == before + 1


@pytest.mark.parametrize("starts, step", [
    (np.array([5, -1, 7]), 1), (jnp.array([5, 6, 1000]), 2), (np.array([5, 2**40, 7]), 1),
    (np.array([5, 6, 7], np.int8), -1), (np.array([5, 6, 7], np.uint8), -1),
    (jnp.array([200, 6, 7], jnp.uint8), -1)])
@pytest.mark.parametrize("transform", ["eager", "jit", "vmap"])
def test_a_start_off_the_grid_is_never_clamped(starts, step, transform):
    net, _ = jl.tutorial_setup((1, 2, 1), 3, 1)
    run = lambda n, s: jl.train(n, X, Y, s, batchsize=1, optimizer=SGD)  # noqa: E731
    if transform == "jit":  # the starts as a user's jitted code holds them
        result = jax.jit(lambda n: run(n, starts))(net)
    elif transform == "vmap":
        nets = jax.tree.map(lambda a: a[None], net)
        result = jax.tree.map(lambda a: a[0], jax.vmap(lambda n: run(n, starts))(nets))
    else:
        result = run(net, starts)
    assert int(result.nonfinite_step) == step
    assert np.isfinite(result.losses).all() == (step == -1)


def test_an_optimizer_that_takes_the_loss_as_value():
    net, starts = jl.tutorial_setup((1, 2, 1), 200, 10)
    plateau = optax.chain(optax.sgd(0.01), optax.contrib.reduce_on_plateau(patience=5))
    result = jl.train(net, X, Y, starts, batchsize=10, optimizer=plateau)
    assert result.nonfinite_step == -1 and result.losses[-1] < result.losses[0]


@pytest.mark.parametrize("grads, activation", [(jl.autodiff_grads, None),
                                               (jl.manual_grads, "tanh")])
def test_train_many_equals_k_separate_train_calls(grads, activation):
    net, starts = _stack(3, 60, 4, activation=activation)
    many = jl.train_many(net, X, Y, starts, batchsize=4, optimizer=SGD, grads=grads)
    chex.assert_shape(many.losses, (3, 60))
    for k in range(3):
        one = jl.train(jax.tree.map(lambda a: a[k], net), X, Y, starts[k], batchsize=4,
                       optimizer=SGD, grads=grads)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[k], many), one, rtol=1e-5,
                                    atol=1e-6)


def test_a_learning_rate_per_network_and_a_start_off_the_grid_poisons_only_its_network():
    net, starts = _stack(4, 50, 1)
    starts = starts.at[2, 10].set(5000)
    state = jl.with_hyperparams(jax.vmap(HYPER.init)(net), learning_rate=jnp.array(
        [0.001, 0.01, 0.01, 10.0]))
    result = jl.train_many(net, X, Y, starts, batchsize=1, optimizer=HYPER, opt_state=state)
    first = int(result.nonfinite_step[3])  # lr 10 diverges: finite up to that step, not at it
    assert result.nonfinite_step[:3].tolist() == [-1, -1, 10] and 0 <= first < 50
    assert np.isfinite(result.losses[3, :first]).all() and not np.isfinite(result.losses[3, first])
    alone = jl.train(jax.tree.map(lambda a: a[1], net), X, Y, starts[1], batchsize=1,
                     optimizer=optax.sgd(0.01))
    np.testing.assert_allclose(result.losses[1], alone.losses, rtol=1e-5)


_ON_FOUR_DEVICES = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    import jlinnet as jl
    assert jax.device_count() == 4
    x = jl.grid(); y = jl.sine_target(x)
    for k in (8, 6):  # 6: padded to fill the devices, then dropped
        keys = jax.random.split(jax.random.key(0), k)
        net = jax.vmap(lambda key: jl.init_mlp(key, (1, 3, 1), activation="tanh"))(keys)
        starts = jax.vmap(lambda key: jl.batch_starts(key, 10, 1000, 2))(keys)
        sgd = optax.sgd(0.01)
        mesh = jax.make_mesh((4,), ("k",))
        split = jl.train_many(net, x, y, starts, batchsize=2, optimizer=sgd, mesh=mesh)
        whole = jl.train_many(net, x, y, starts, batchsize=2, optimizer=sgd)
        assert split.losses.shape == (k, 10), split.losses.shape
        assert (split.losses.sharding.spec[0] == "k") == (k == 8)
        np.testing.assert_allclose(split.losses, whole.losses, rtol=1e-5, atol=1e-6)
""")


def test_spreads_networks_over_four_devices_with_the_same_results():
    # A failed assertion ends the process with its traceback on stderr, in pytest's report
    subprocess.run([sys.executable, "-c", _ON_FOUR_DEVICES], check=True, timeout=300,  # hangs only
                   env=dict(os.environ, JAX_NUM_CPU_DEVICES="4"))
