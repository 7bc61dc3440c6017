import functools
import os
import re
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
    for layer, want in zip(result.params.layers, tutorial.layers):
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
    chex.assert_trees_all_close(tuple(map(tuple, result.params.layers)), tuple(map(tuple, params)),
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


def _train_in(transform, starts):
    """One `jl.train` of the tutorial's start on `starts`, eagerly or in a user's jit or vmap
    (there the starts are a constant of the user's traced function)."""
    net, _ = jl.tutorial_setup((1, 2, 1), 3, 1)
    run = lambda n: jl.train(n, X, Y, starts, batchsize=1, optimizer=SGD)  # noqa: E731
    if transform == "jit":
        return jax.jit(run)(net)
    if transform == "vmap":
        return jax.tree.map(lambda a: a[0], jax.vmap(run)(jax.tree.map(lambda a: a[None], net)))
    return run(net)


@pytest.mark.parametrize("starts, step", [
    (jnp.array([5, -1, 7]), 1), (jnp.array([5, 6, 1000]), 2), (jnp.array([5, 6, 7], jnp.int8), -1),
    (jnp.array([200, 6, 7], jnp.uint8), -1), (np.array([5, 6, 7], np.uint8), -1)])
@pytest.mark.parametrize("transform", ["eager", "jit", "vmap"])
def test_a_start_off_the_grid_is_never_clamped(starts, step, transform):
    """In a JAX array a start is known only when the program runs: NaN targets, so
    `nonfinite_step` names its step."""
    result = _train_in(transform, starts)
    assert int(result.nonfinite_step) == step
    assert np.isfinite(result.losses).all() == (step == -1)


@pytest.mark.parametrize("starts, words", [
    (np.array([5, -1, 7]), "got -1 at index (1,)"), ([5, 6, 1000], "got 1000 at index (2,)"),
    (np.array([5, 2**40, 7]), f"got {2**40} at index (1,)")])  # never wrapped onto the grid
@pytest.mark.parametrize("transform", ["eager", "jit", "vmap"])
def test_a_start_off_the_grid_known_on_the_host_is_an_error_before_anything_runs(
        starts, words, transform):
    with pytest.raises(ValueError, match=re.escape(f"starts must lie in [0, N - batchsize] ="
                                                   f" [0, 999], {words}")):
        _train_in(transform, starts)


OPTIMIZERS = {  # objects made once: optax transformations are static and compare by identity
    "sgd": optax.sgd(0.05), "momentum": optax.sgd(0.02, momentum=0.9),
    "nesterov": optax.sgd(0.02, momentum=0.9, nesterov=True), "adam": optax.adam(0.02),
    "adamw": optax.adamw(0.02, weight_decay=0.1), "rmsprop": optax.rmsprop(0.01),
    "lion": optax.lion(0.003), "inject_hyperparams(adam)": optax.inject_hyperparams(optax.adam)(
        learning_rate=0.02), "chain(clip, adam)": optax.chain(optax.clip_by_global_norm(1.0),
                                                              optax.adam(0.02)),
    "reduce_on_plateau": optax.chain(optax.sgd(0.05), optax.contrib.reduce_on_plateau(
        patience=2, cooldown=1, factor=0.5, accumulation_size=2)),
}


@pytest.mark.parametrize("many", [False, True], ids=["train", "train_many"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_any_optimizer_resumes_exactly_and_takes_its_own_fresh_state(name, many):
    """S1 + S2 steps in one run equal S1 steps from `optimizer.init(net)`, then S2 resumed
    from the returned state: parameters, losses and the optimizer's state."""
    opt, k = OPTIMIZERS[name], 3 if many else None
    net, starts = _stack(k or 1, 20, 10, activation="tanh")
    fit, init = (jl.train_many, jax.vmap(opt.init)) if many else (jl.train, opt.init)
    if not many:
        net, starts = jax.tree.map(lambda a: a[0], (net, starts))
    run = lambda n, s, state: fit(n, X, jl.sine_target(X), s, batchsize=10,  # noqa: E731
                                  optimizer=opt, opt_state=state)
    whole = run(net, starts, None)
    first = run(net, starts[..., :10], init(net))
    second = run(first.params, starts[..., 10:], first.opt_state)
    chex.assert_trees_all_close((second.params, second.opt_state), (whole.params, whole.opt_state),
                                rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([first.losses, second.losses], -1), whole.losses,
                               rtol=1e-5, atol=1e-6)
    assert (whole.nonfinite_step == -1).all()
    assert np.abs(whole.params[0].w - net[0].w).min() > 1e-4  # every network was trained


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


@pytest.mark.parametrize("every, message", [
    (7, "must divide S = 60 (the steps), got 7; the divisors of S nearest to it: 6, 10"),
    (61, "must divide S = 60 (the steps), got 61; the divisors of S nearest to it: 60"),
    (0, "must be an integer in [1, 2147483647], got 0"), (2.5, "must be an integer in"),
    (True, "must be an integer in"), ("3", "must be an integer in")])
def test_record_every_must_divide_the_steps(every, message):
    net, starts = jl.tutorial_setup((1, 2, 1), 60, 1)
    with pytest.raises(ValueError, match=re.escape(f"record_every {message}")):
        jl.train(net, X, Y, starts, batchsize=1, optimizer=SGD, record_every=every)


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
