import functools
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
from experiments import tutorial_numpy as tn
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
    # 22 networks, 6 a device (2 copies of network 0), each device's in 2 blocks of 3; every
    # 5th loss: against one block of 22 on one device
    keys = jax.random.split(jax.random.key(1), 22)
    net = jax.vmap(lambda key: jl.init_mlp(key, (1, 3, 1), activation="tanh"))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, 10, 1000, 2))(keys)
    whole = jl.train_many(net, x, y, starts, batchsize=2, optimizer=sgd, record_every=5)
    jl.training.BLOCK["cpu"] = 4
    split = jl.train_many(net, x, y, starts, batchsize=2, optimizer=sgd, mesh=mesh,
                          record_every=5)
    assert split.losses.shape == (22, 2), split.losses.shape
    for a, b in zip(jax.tree.leaves(split), jax.tree.leaves(whole)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
""")


def test_spreads_networks_over_four_devices_with_the_same_results():
    # A failed assertion ends the process with its traceback on stderr, in pytest's report
    subprocess.run([sys.executable, "-c", _ON_FOUR_DEVICES], check=True, timeout=300,  # hangs only
                   env=dict(os.environ, JAX_NUM_CPU_DEVICES="4"))


@pytest.mark.parametrize("many", [False, True])
@pytest.mark.parametrize("every", [1, 4, 20])
def test_record_every_keeps_every_nth_loss_of_the_same_run(many, every):
    """Thinned losses are the full run's losses[n-1::n]; params, state and the first
    non-finite step (5, a start off the grid between two recorded steps) are the same."""
    net, starts = _stack(3, 20, 2, seed=3) if many else jl.tutorial_setup((1, 3, 1), 20, 2)
    starts = starts.at[..., 5].set(-1)
    run = jl.train_many if many else jl.train
    full = run(net, X, Y, starts, batchsize=2, optimizer=SGD)
    thin = run(net, X, Y, starts, batchsize=2, optimizer=SGD, record_every=every)
    chex.assert_shape(thin.losses, (*net.batch_shape, 20 // every))
    chex.assert_trees_all_close(thin._replace(losses=None), full._replace(losses=None),
                                rtol=1e-6)
    np.testing.assert_allclose(thin.losses, full.losses[..., every - 1::every], rtol=1e-6)
    assert (np.asarray(thin.nonfinite_step) == 5).all()


@pytest.mark.parametrize("every, nearest", [
    (0, "1"), (7, "6, 10"), (61, "60"), (2.5, "2, 3"), (True, None), ("3", None)])
def test_record_every_must_divide_the_steps(every, nearest):
    net, starts = jl.tutorial_setup((1, 2, 1), 60, 1)
    with pytest.raises(ValueError) as error:
        jl.train(net, X, Y, starts, batchsize=1, optimizer=SGD, record_every=every)
    assert str(error.value).splitlines()[0] == (
        f"record_every must be an integer in [1, S] that divides S = 60 (the steps), got"
        f" {every!r}" + (f"; the divisors of S nearest to it: {nearest}" if nearest else ""))


def test_losses_that_cannot_fit_are_an_error_before_the_run():
    """Traced only (`jax.eval_shape`): 10,000 networks x 10^9 steps of float32 losses are
    37,253 GiB, more than this machine's memory; recording every 10^6-th step fits."""
    net, _ = _stack(10_000, 1, 1)
    starts = jax.ShapeDtypeStruct((10_000, 10**9), jnp.int32)
    run = lambda every: jax.eval_shape(functools.partial(  # noqa: E731
        jl.train_many, batchsize=1, optimizer=SGD, record_every=every), net, X, Y, starts)
    gib = 10_000 * 10**9 * 4 / 2**30
    with pytest.raises(ValueError, match=rf"\(10000, 1000000000\) float32, need {gib:.1f} GiB,"
                       r" more than the [\d.]+ GiB of .*: record_every=n records every n-th"):
        run(1)
    chex.assert_shape(run(10**6).losses, (10_000, 1000))


@pytest.fixture
def blocks_of(monkeypatch):
    """train_many with `size` networks per block on CPU, compiled afresh."""
    def use(size):
        monkeypatch.setitem(jl.training.BLOCK, "cpu", size)
        jax.clear_caches()
    yield use
    jax.clear_caches()  # no program of another block size stays behind


@pytest.mark.parametrize("optimizer, every", [(SGD, 1), (HYPER, 5), (optax.adam(0.01), 2)])
def test_train_many_in_blocks_equals_one_block(blocks_of, optimizer, every):
    """8 networks in blocks of 3 (3 + 3 + 2 and one copy of network 0, dropped) against all 8
    in one block; a learning rate per network (HYPER) must stay with its network."""
    net, starts = _stack(8, 20, 2, activation="tanh", seed=5)
    state = jax.vmap(optimizer.init)(net)
    if optimizer is HYPER:
        state = jl.with_hyperparams(state, learning_rate=jnp.linspace(0.001, 0.1, 8))
    run = functools.partial(jl.train_many, net, X, Y, starts, batchsize=2, optimizer=optimizer,
                            opt_state=state, record_every=every)
    scans = lambda: str(jax.make_jaxpr(run)()).count(" scan[")  # noqa: E731
    blocks_of(None)
    whole, one_block = run(), scans()
    blocks_of(3)
    blocked = run()
    assert scans() == one_block + 1  # the blocks' loop (lax.map) around the steps' scan
    chex.assert_trees_all_equal_shapes(blocked, whole)
    chex.assert_trees_all_close(blocked, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [8192, 8195])  # 8195: 9 blocks of 911, the last padded with 4
def test_8192_networks_in_blocks_equal_separate_train_calls(k):
    net, starts = _stack(k, 8, 1, sizes=(1, 2, 1), seed=7)
    many = jl.train_many(net, X, Y, starts, batchsize=1, optimizer=SGD)
    chex.assert_shape(many.losses, (k, 8))
    for i in (0, 1023, 1024, 4500, k - 1):  # across blocks: first, either side of an edge, last
        one = jl.train(jax.tree.map(lambda a: a[i], net), X, Y, starts[i], batchsize=1,
                       optimizer=SGD)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[i], many), one, rtol=1e-5,
                                    atol=1e-6)
