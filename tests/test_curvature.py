import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jlinnet as jl
from experiments import _run, sweep


def _problem(sizes, activation, seed=0, n=12, offset=0.0):
    """A network and a batch (xs, ys) in float64 (call inside `jax.enable_x64`)."""
    k_net, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    net = jl.init_mlp(k_net, sizes, activation=activation)
    xs = jax.random.uniform(k_x, (n, sizes[0]), jnp.float64, -3.0, 3.0)
    ys = jax.random.normal(k_y, (n, sizes[-1]), jnp.float64) + offset
    return net, xs, ys


@jax.jit  # one program per shape, not one per operation
def _hessian(net, xs, ys):
    theta, unravel = ravel_pytree(net)
    return jax.hessian(lambda t: jl.mse(jl.forward(unravel(t), xs), ys))(theta)


def _eigenvalues(net, xs, ys):
    """The Hessian of J in the weights, formed whole (P x P), and its eigenvalues in float64,
    ascending."""
    return np.linalg.eigvalsh(np.asarray(_hessian(net, xs, ys), np.float64))


@pytest.mark.parametrize("sizes, activation", [((1, 8, 1), None), ((3, 3, 1), "tanh")])
def test_sharpness_is_the_largest_eigenvalue_of_the_explicit_hessian(sizes, activation):
    with jax.enable_x64(True):
        net, xs, ys = _problem(sizes, activation)
        lam = jax.jit(jl.sharpness, static_argnames="iters")(net, xs, ys, iters=200)
        chex.assert_shape(lam, ())
        chex.assert_type(lam, jnp.float64)
        np.testing.assert_allclose(lam, _eigenvalues(net, xs, ys)[-1], rtol=1e-9)


def test_sharpness_is_the_most_positive_eigenvalue_not_the_largest_in_magnitude():
    with jax.enable_x64(True):  # tanh, far from the targets: J is strongly non-convex here
        net = jl.init_mlp(jax.random.key(0), (1, 2, 1), activation="tanh")
        xs = jnp.linspace(-1.0, 1.0, 7)[:, None]
        ys = jl.linear_target(xs) + 20.0
        eig = _eigenvalues(net, xs, ys)
        assert -eig[0] > eig[-1] > 0  # power iteration on H alone would find eig[0]
        np.testing.assert_allclose(jax.jit(jl.sharpness)(net, xs, ys), eig[-1], rtol=1e-9)


def test_sharpness_vmaps_over_k_networks_and_over_examples_like_a_loop():
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(1), 4)
        nets = jax.vmap(lambda k: jl.init_mlp(k, (1, 3, 1), activation="tanh"))(keys)
        xs = jl.grid(9)
        ys = jl.sine_target(xs)
        many = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))(nets, xs, ys)
        chex.assert_shape(many, (4,))
        one = jax.jit(jl.sharpness)
        one_by_one = [one(jax.tree.map(lambda a: a[k], nets), xs, ys) for k in range(4)]
        chex.assert_trees_all_close(many, jnp.stack(one_by_one), rtol=1e-10)
        # batch-1 SGD's curvature: lambda_max of each example's J (the module's recipe); at
        # x = 0 its top eigenvalues 5.47 and 5.0 lie close: power iteration converges slowly
        net = jax.tree.map(lambda a: a[0], nets)
        per_example = jax.jit(jax.vmap(lambda x, y: jl.sharpness(net, x[None], y[None])))(xs, ys)
        chex.assert_shape(per_example, (9,))
        expected = [_eigenvalues(net, xs[i:i + 1], ys[i:i + 1])[-1] for i in range(9)]
        np.testing.assert_allclose(per_example, expected, rtol=1e-5)


def test_a_sweep_sets_2_over_lambda_max_at_each_seed_s_start_beside_its_own_edge():
    x, lrs = jl.grid(), np.array([1e-3, 1e-2, 5e-2])  # the sweep's grid, a sweep's rates
    y, spec = jl.linear_target(x), _run.Spec(steps=20, rng="jax")
    grid = _run.train_grid(spec, "learning_rate", lrs, [0, 1])
    net, _ = _run.networks(spec, [0, 1])
    # 2 / lambda_max from the explicit Hessian's eigenvalues: the route beside `sharpness`
    edges = [2 / _eigenvalues(jax.tree.map(lambda a: a[j], net), x, y)[-1] for j in (0, 1)]
    np.testing.assert_allclose(2 / grid.sharpness, edges, rtol=1e-2)  # 100 power iterations
    grid = grid._replace(errors=np.array([[0.1, 0.1], [0.1, 0.1], [np.nan, 0.1]]),
                         initial=np.ones((3, 2)), nonfinite_step=np.array([[-1, -1]] * 2 + [
                             [3, -1]]))
    entry = sweep._entry(spec, "learning_rate", grid, [0, 1])  # seed 0's edge: 5e-2; 1: none
    np.testing.assert_allclose(entry["predicted"], 2 / grid.sharpness.astype(np.float64))
    np.testing.assert_array_equal(entry["edges"], [5e-2, np.nan])
    assert entry["ratio"] == dict(median=entry["predicted"][0] / 5e-2,
                                  worst=entry["predicted"][0] / 5e-2)
    entry = sweep._entry(spec, "wscale", grid, [0, 1])  # 2/lambda_max is a learning rate's edge
    assert entry["predicted"] is None and entry["ratio"] is None
