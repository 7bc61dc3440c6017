import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jlinnet as jl
from experiments import tutorial_numpy as tn

X = jl.grid()
Y = jl.linear_target(X)
SGD = optax.sgd(0.01)  # one object: optimizers are static and compare by identity
HYPER = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
ADAM = optax.adam(0.01)


@pytest.mark.parametrize("grads", [jl.autodiff_grads, jl.manual_grads])
@pytest.mark.parametrize("size, steps, batchsize", [(2, 100, 1), (3, 300, 10)])
def test_replays_the_tutorials_numpy_network(grads, size, steps, batchsize):
    net, starts = jl.tutorial_setup((1, size, 1), steps, batchsize)
    result = jl.train(net, X, Y, starts, batchsize=batchsize, optimizer=SGD, grads=grads)
    reference, errors = tn.train_net(size, steps, batchsize, 0.01, verbose=False)
    chex.assert_shape(result.losses, (steps,))
    np.testing.assert_allclose(result.losses, errors, rtol=1e-4, atol=1e-5)
    for layer, ref in zip(result.params, reference.layers):
        np.testing.assert_allclose(layer.w, ref.w, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.b, ref.b, rtol=1e-5, atol=1e-5)
    assert int(result.nonfinite_step) == -1


def test_restores_2x_plus_3_from_a_jax_key():
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    starts = jl.batch_starts(jax.random.key(1), 2000, 1000, 10)
    result = jl.train(net, X, Y, starts, batchsize=10, optimizer=SGD)
    w, b = jl.affine_map(result.params)
    np.testing.assert_allclose(w, [[2.0]], atol=1e-3)
    np.testing.assert_allclose(b, [3.0], atol=1e-3)
    assert float(jl.mse(jl.forward(result.params, X), Y)) < 1e-6


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_manual_and_autodiff_routes_train_alike(activation):
    net = jl.init_mlp(jax.random.key(2), (1, 8, 1), activation=activation, wscale=0.5)
    starts = jl.batch_starts(jax.random.key(3), 300, 1000, 16)
    runs = [jl.train(net, X, jl.sine_target(X), starts, batchsize=16, optimizer=SGD, grads=g)
            for g in (jl.manual_grads, jl.autodiff_grads)]
    assert runs[0].params.activation == activation  # the result keeps the network's activation
    chex.assert_trees_all_close(runs[0].params, runs[1].params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(runs[0].losses, runs[1].losses, rtol=1e-5, atol=1e-6)


def test_jit_equals_eager():
    net, starts = jl.tutorial_setup((1, 2, 1), 6, 4, activation="tanh")
    jitted = jl.train(net, X, Y, starts, batchsize=4, optimizer=SGD)
    with jax.disable_jit():
        eager = jl.train(net, X, Y, starts, batchsize=4, optimizer=SGD)
    chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-7)


def test_second_call_does_not_retrace():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    for seed in range(3):  # new values, same shapes
        net = jl.init_mlp(jax.random.key(seed), (1, 3, 1))
        starts = jl.batch_starts(jax.random.key(seed), 50, 1000, 5)
        jl.train(net, X, Y, starts, batchsize=5, optimizer=SGD, grads=grads)


def test_learning_rate_sweep_compiles_once():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    net, starts = jl.tutorial_setup((1, 2, 1), 100, 1)
    for lr in (0.001, 0.01, 0.05):
        state = jl.with_hyperparams(HYPER.init(net), learning_rate=lr)
        swept = jl.train(net, X, Y, starts, batchsize=1, optimizer=HYPER, opt_state=state,
                         grads=grads)
        plain = jl.train(net, X, Y, starts, batchsize=1, optimizer=optax.sgd(lr))
        chex.assert_trees_all_close(swept.params, plain.params, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "state, values, error, match",
    [
        (HYPER, dict(momentum=0.9), ValueError, "momentum is not a hyperparameter"),
        (HYPER, dict(learning_rate=[0.1, 0.2]), ValueError,
         r"learning_rate must have shape \(\), got \(2,\)"),
        (HYPER, dict(learning_rate=float("nan")), ValueError, "learning_rate must be finite"),
        (HYPER, dict(learning_rate=1e40), ValueError, "learning_rate must be finite in float32"),
        (HYPER, dict(learning_rate="fast"), TypeError, "learning_rate must be an array"),
        (optax.inject_hyperparams(optax.sgd)(learning_rate=optax.constant_schedule(0.01)),
         dict(learning_rate=0.0), ValueError, "learning_rate is a schedule"),
        (optax.sgd(0.1), dict(learning_rate=0.1), TypeError, "inject_hyperparams"),
    ],
)
def test_with_hyperparams_rejects(state, values, error, match):
    with pytest.raises(error, match=match):
        jl.with_hyperparams(state.init(jl.init_mlp(jax.random.key(0))), **values)


def test_reports_where_a_run_diverges():
    net = jl.init_mlp(jax.random.key(0), (1, 64, 1))
    starts = jl.batch_starts(jax.random.key(1), 2000, 1000, 32)
    result = jl.train(net, X, Y, starts, batchsize=32, optimizer=optax.sgd(10.0))
    bad = np.flatnonzero(~np.isfinite(np.asarray(result.losses)))
    assert bad.size > 0 and int(result.nonfinite_step) == bad[0]
    assert np.all(np.isfinite(np.asarray(result.losses)[: bad[0]]))


def test_nonfinite_final_weights_are_reported_as_step_s():
    net = (jl.Layer(jnp.ones((1, 1)), jnp.zeros((1,))),)
    result = jl.train(net, X, Y, jnp.zeros((1,), jnp.int32), batchsize=2,
                      optimizer=optax.sgd(jnp.inf))
    assert np.isfinite(result.losses[0]) and int(result.nonfinite_step) == 1


def _run_with_starts(starts, transform):
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))

    def run(s):
        return jl.train(net, X, Y, s, batchsize=4, optimizer=SGD)

    return transform(run)(starts)


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit, jax.vmap],
                         ids=["eager", "jit", "vmap"])
@pytest.mark.parametrize("bad", [-50, 997, 5000])
def test_a_start_off_the_grid_is_never_clamped(transform, bad):
    """A run-time start outside [0, N - B] turns its step's loss and the weights NaN, and
    nonfinite_step names the step; the steps before it are the valid run's."""
    starts = jnp.array([3, 996, bad, 7], jnp.int32)
    result = _run_with_starts(starts[None] if transform is jax.vmap else starts, transform)
    valid = _run_with_starts(starts[:2], lambda f: f)
    if transform is jax.vmap:
        result = jax.tree.map(lambda a: a[0], result)
    np.testing.assert_allclose(result.losses[:2], valid.losses, rtol=1e-6)
    assert np.isnan(result.losses[2:]).all() and int(result.nonfinite_step) == 2
    assert all(np.isnan(w).all() for w in jax.tree.leaves(result.params))


def test_starts_given_as_numpy_data_are_checked_before_the_run():
    with pytest.raises(ValueError, match=r"starts must lie in \[0, 996\] .* from 0 to 997"):
        _run_with_starts(np.array([0, 997]), lambda f: f)


def _train(**changes):
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    args = dict(net=net, xs=X, ys=Y, starts=jnp.zeros((5,), jnp.int32), batchsize=4,
                optimizer=SGD) | changes
    return jl.train(**args)


@pytest.mark.parametrize(
    "changes, error, match",
    [
        (dict(starts=jnp.zeros((5,))), TypeError, "starts must hold integers, got dtype float32"),
        (dict(starts=jnp.zeros((5, 1), jnp.int32)), ValueError, "starts must be 1-D"),
        (dict(starts=jnp.zeros((0,), jnp.int32)), ValueError, "starts must not be empty"),
        (dict(starts=["a"]), TypeError, r"starts\[0\] must be an array of numbers, got str"),
        (dict(ys=Y[:999]), ValueError, "xs and ys must have the same length, got 1000 and 999"),
        (dict(ys=Y[:, 0]), ValueError, r"ys must be 2-D, got shape \(1000,\)"),
        (dict(xs=jnp.zeros((1000, 2))), ValueError, "xs must have 1 features"),
        (dict(xs=np.array([["x"]] * 1000)), TypeError, "xs must be an array of numbers"),
        (dict(xs=np.zeros((1000, 1), object)), TypeError, "xs must be an array of numbers"),
        (dict(xs=None), TypeError, "xs must be an array of numbers, got NoneType"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1, got 0"),
        (dict(batchsize=1001), ValueError, r"batchsize must be at most len\(xs\)=1000, got 1001"),
        (dict(batchsize=2.0), TypeError, "batchsize must be an int"),
        (dict(batchsize=[4]), TypeError, "batchsize must be hashable"),
        (dict(optimizer=0.01), TypeError, "optimizer must be an optax GradientTransformation"),
        (dict(grads=3), TypeError, "grads must be a function"),
        (dict(grads=lambda n, x, y: jax.tree.map(lambda w: w[..., None], n)), ValueError,
         r"grads\(net, x, y\) must match net"),
        (dict(opt_state=HYPER.init(jl.init_mlp(jax.random.key(0)))), ValueError,
         "opt_state must match optimizer.init.net."),
        (dict(optimizer=ADAM, opt_state=ADAM.init(jl.init_mlp(jax.random.key(0), (1, 3, 1)))),
         ValueError, "opt_state must match optimizer.init.net."),
        (dict(net=jl.Layer(jnp.ones((1, 1)), jnp.ones(1))), TypeError, "got one Layer"),
        (dict(net=(jl.Layer("w", "b"),)), TypeError, r"net\[0\]\.w must be an array"),
    ],
)
def test_train_rejects(changes, error, match):
    with pytest.raises(error, match=match):
        _train(**changes)


def test_integer_data_and_whole_grid_batches():
    result = _train(xs=jnp.arange(1000)[:, None], ys=2 * jnp.arange(1000)[:, None],
                    batchsize=1000, starts=jnp.zeros((3,), jnp.int32), optimizer=optax.sgd(1e-7))
    chex.assert_shape(result.losses, (3,))
    chex.assert_tree_all_finite(result.losses)
