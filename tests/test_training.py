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


@pytest.mark.parametrize("grads", [jl.autodiff_grads, jl.manual_grads])
@pytest.mark.parametrize("size, steps, batchsize", [(2, 100, 1), (3, 300, 10)])
def test_replays_the_tutorials_numpy_network(grads, size, steps, batchsize):
    params, starts = jl.tutorial_setup((1, size, 1), steps, batchsize)
    result = jl.train(params, X, Y, starts, batchsize=batchsize, optimizer=SGD, grads=grads)
    net, errors = tn.train_net(size, steps, batchsize, 0.01, verbose=False)
    chex.assert_shape(result.losses, (steps,))
    np.testing.assert_allclose(result.losses, errors, rtol=1e-4, atol=1e-5)
    for layer, ref in zip(result.params, net.layers):
        np.testing.assert_allclose(layer.w, ref.w, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.b, ref.b, rtol=1e-5, atol=1e-5)
    assert int(result.nonfinite_step) == -1


def test_restores_2x_plus_3_from_a_jax_key():
    params = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    starts = jl.batch_starts(jax.random.key(1), 2000, 1000, 10)
    result = jl.train(params, X, Y, starts, batchsize=10, optimizer=SGD)
    w, b = jl.affine_map(result.params)
    np.testing.assert_allclose(w, [[2.0]], atol=1e-3)
    np.testing.assert_allclose(b, [3.0], atol=1e-3)
    assert float(jl.mse(jl.forward(result.params, X), Y)) < 1e-6


@pytest.mark.parametrize("activation", [None, "tanh"])
def test_manual_and_autodiff_routes_train_alike(activation):
    params = jl.init_mlp(jax.random.key(2), (1, 8, 1), wscale=0.5)
    starts = jl.batch_starts(jax.random.key(3), 300, 1000, 16)
    ys = jl.sine_target(X)
    runs = [
        jl.train(params, X, ys, starts, batchsize=16, optimizer=SGD, grads=g, activation=activation)
        for g in (jl.manual_grads, jl.autodiff_grads)
    ]
    chex.assert_trees_all_close(runs[0].params, runs[1].params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(runs[0].losses, runs[1].losses, rtol=1e-5, atol=1e-6)


def test_jit_equals_eager():
    params, starts = jl.tutorial_setup((1, 2, 1), 20, 4)
    jitted = jl.train(params, X, Y, starts, batchsize=4, optimizer=SGD)
    with jax.disable_jit():
        eager = jl.train(params, X, Y, starts, batchsize=4, optimizer=SGD)
    chex.assert_trees_all_close(jitted.params, eager.params, rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(jitted.losses, eager.losses, rtol=1e-6, atol=1e-7)


def test_second_call_does_not_retrace():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    for seed in range(3):  # new values, same shapes
        params = jl.init_mlp(jax.random.key(seed), (1, 3, 1))
        starts = jl.batch_starts(jax.random.key(seed), 50, 1000, 5)
        jl.train(params, X, Y, starts, batchsize=5, optimizer=SGD, grads=grads)


def test_learning_rate_sweep_compiles_once():
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    params, starts = jl.tutorial_setup((1, 2, 1), 100, 1)
    for lr in (0.001, 0.01, 0.05):
        state = jl.with_hyperparams(opt.init(params), learning_rate=lr)
        swept = jl.train(params, X, Y, starts, batchsize=1, optimizer=opt, opt_state=state,
                         grads=grads)
        plain = jl.train(params, X, Y, starts, batchsize=1, optimizer=optax.sgd(lr))
        chex.assert_trees_all_close(swept.params, plain.params, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(swept.opt_state.hyperparams["learning_rate"], lr, rtol=1e-7)


def test_with_hyperparams_rejects():
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
    state = opt.init(jl.init_mlp(jax.random.key(0)))
    with pytest.raises(ValueError, match="momentum is not a hyperparameter"):
        jl.with_hyperparams(state, momentum=0.9)
    with pytest.raises(ValueError, match=r"learning_rate must have shape \(\), got \(3,\)"):
        jl.with_hyperparams(state, learning_rate=[0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="inject_hyperparams"):
        jl.with_hyperparams(optax.sgd(0.1).init(()), learning_rate=0.1)


def test_reports_where_a_run_diverges():
    params = jl.init_mlp(jax.random.key(0), (1, 64, 1))
    starts = jl.batch_starts(jax.random.key(1), 2000, 1000, 32)
    result = jl.train(params, X, Y, starts, batchsize=32, optimizer=optax.sgd(10.0))
    bad = np.flatnonzero(~np.isfinite(np.asarray(result.losses)))
    assert bad.size > 0
    assert int(result.nonfinite_step) == bad[0]
    assert np.all(np.isfinite(np.asarray(result.losses)[: bad[0]]))


def test_nonfinite_final_params_are_reported_as_step_s():
    params = (jl.Layer(jnp.ones((1, 1)), jnp.zeros((1,))),)
    starts = jnp.zeros((1,), jnp.int32)
    result = jl.train(params, X, Y, starts, batchsize=2, optimizer=optax.sgd(jnp.inf))
    assert np.isfinite(result.losses[0]) and int(result.nonfinite_step) == 1


def _train(**changes):
    params = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    args = dict(params=params, xs=X, ys=Y, starts=jnp.zeros((5,), jnp.int32), batchsize=4,
                optimizer=SGD) | changes
    return jl.train(**args)


@pytest.mark.parametrize(
    "changes, error, match",
    [
        (dict(starts=jnp.zeros((5,))), TypeError, r"starts must be a 1-D integer array, got shape"
         r" \(5,\) and dtype float32"),
        (dict(starts=jnp.zeros((5, 1), jnp.int32)), TypeError, "starts must be a 1-D integer"),
        (dict(starts=jnp.zeros((0,), jnp.int32)), ValueError, "starts must hold at least one"),
        (dict(starts=jnp.array([0, 997])), ValueError, r"starts must lie in \[0, 996\]"),
        (dict(starts=jnp.array([-1, 0])), ValueError, r"starts must lie in \[0, 996\]"),
        (dict(ys=Y[:999]), ValueError, "xs and ys must have the same length, got 1000 and 999"),
        (dict(ys=Y[:, 0]), ValueError, r"ys must be 2-D, got shape \(1000,\)"),
        (dict(xs=jnp.zeros((1000, 2))), ValueError, "xs must have 1 features"),
        (dict(batchsize=0), ValueError, "batchsize must be >= 1, got 0"),
        (dict(batchsize=1001), ValueError, "batchsize must be at most len.xs.=1000, got 1001"),
        (dict(batchsize=2.0), TypeError, "batchsize must be an int"),
        (dict(optimizer=0.01), TypeError, "optimizer must be an optax GradientTransformation"),
        (dict(activation="elu"), ValueError, "activation must be None or one of"),
    ],
)
def test_train_rejects(changes, error, match):
    with pytest.raises(error, match=match):
        _train(**changes)


def test_whole_grid_as_one_batch_is_allowed():
    result = _train(batchsize=1000, starts=jnp.zeros((3,), jnp.int32))
    chex.assert_shape(result.losses, (3,))
