"""Sweeps: each cell of a grid against the network trained alone, for any swept hyperparameter;
one program for any values and seeds of the same shapes; diverged networks as data; the
summaries, each seed's own edge (2/lambda_max at the start: tests/test_curvature.py). The
experiment's own run and its files: tests/test_sweep_processes.py; its bad flags:
tests/test_experiments.py."""

import chex
import jax
import numpy as np
import optax
import pytest

import jlinnet as jl
from experiments import _run, sweep

X = jl.grid()
Y = jl.linear_target(X)
S = 20  # every test trains (1, 2, 1) networks for S steps of batch 1, 2 seeds
LRS = np.array([1e-3, 1e-2, 5e-2])


@pytest.mark.parametrize("optimizer, over, values, alone", [  # alone: (optax, weight scale)
    ("sgd", "learning_rate", LRS, lambda v: (optax.sgd(v), 1.0)),
    ("momentum", "momentum", [0.1, 0.5, 0.9], lambda v: (optax.sgd(0.01, momentum=v), 1.0)),
    ("adam", "b1", [0.5, 0.9], lambda v: (optax.adam(0.01, b1=v), 1.0)),
    ("sgd", "wscale", [0.5, 2.0], lambda v: (optax.sgd(0.01), v)),
])
def test_each_cell_is_its_network_trained_alone(optimizer, over, values, alone):
    seeds, spec = [4321, 7], _run.Spec(optimizer=optimizer, steps=S)
    grid = _run.train_grid(spec, over, values, seeds)
    chex.assert_shape((grid.initial, grid.errors, grid.nonfinite_step, grid.sharpness),
                      ((len(values), 2),) * 3 + ((2,),))
    np.testing.assert_array_equal(grid.values, values)
    for i, v in enumerate(values):
        opt, wscale = alone(v)  # the hyperparameter as a constant, not as optimizer state
        for j, seed in enumerate(seeds):
            net, starts = jl.tutorial_setup((1, 2, 1), S, 1, seed=seed)
            net = jax.tree.map(lambda a: a * wscale, net)
            trained = jl.train(net, X, Y, starts, batchsize=1, optimizer=opt).params
            # J near 0 is a difference of nearly equal numbers: its rounding is relative to y
            np.testing.assert_allclose([grid.initial[i, j], grid.errors[i, j]],
                                       [jl.mse(jl.forward(n, X), Y) for n in (net, trained)],
                                       rtol=1e-5, atol=1e-8)
            assert grid.nonfinite_step[i, j] == -1


def test_new_values_and_seeds_reuse_one_program_and_a_diverged_network_is_data(monkeypatch):
    label, f = _run.TARGETS["linear"]
    monkeypatch.setitem(_run.TARGETS, "linear", (label, chex.assert_max_traces(f, n=1)))
    spec = _run.Spec(steps=S, rng="jax")
    for seeds, lrs in [([0, 1], LRS), ([5, 6], [0.2, 0.04, 1.0]), ([0, 1], [1e-2, 1e-3, 100.0])]:
        grid = _run.train_grid(spec, "learning_rate", lrs, seeds)  # traced once, reused
        chex.assert_shape(grid.errors, (3, 2))
    assert np.isfinite(grid.errors[:2]).all() and not np.isfinite(grid.errors[2]).any()
    assert (grid.nonfinite_step[:2] == -1).all() and (grid.nonfinite_step[2] >= 0).all()
    np.testing.assert_array_equal(_run.diverged(grid), [[False] * 2, [False] * 2, [True] * 2])
    assert sweep.first_divergence(grid) == 100.0
    assert sweep.restored(grid, below=1e3) == (1e-3, 1e-2)  # never the diverged rate
    np.testing.assert_array_equal(_run.seed_edges(grid), [100.0, 100.0])


def test_networks_are_the_experiments_starts():
    net, starts = _run.networks(_run.Spec(steps=S, rng="jax", activation="tanh"), [3, 4321])
    k_init, k_batch = jax.random.split(jax.random.key(4321))
    chex.assert_trees_all_equal(jax.tree.map(lambda a: a[1], net),
                                jl.init_mlp(k_init, (1, 2, 1), activation="tanh"))
    chex.assert_trees_all_equal(starts[1], jl.batch_starts(k_batch, S, 1000, 1))
    net, starts = _run.networks(_run.Spec(steps=S, activation="relu"), [4321, 3])
    chex.assert_trees_all_equal((jax.tree.map(lambda a: a[0], net), starts[0]),
                                jl.tutorial_setup((1, 2, 1), S, 1, activation="relu"))


def _grid(values, errors, initial=100.0):
    errors = np.asarray(errors, float)
    steps = np.where(np.isfinite(errors), -1, 3)
    initial = np.broadcast_to(initial, errors.shape)
    return _run.Grid(np.asarray(values, float), initial, errors, steps, None, None)


def test_summaries_read_the_table_in_value_order():
    # rows: values 1e-1, 1e-3, 1, 1e-2, 1e-4 (unsorted on purpose); 4 seeds each
    grid = _grid([1e-1, 1e-3, 1.0, 1e-2, 1e-4], [
        [1e-4, 1e-4, 5e-2, np.nan],   # median passes 1e-2, one seed diverged
        [1e-3, 1e-3, 1e-3, 1e-3],     # every seed passes
        [np.inf, np.nan, np.nan, 1.0],
        [1e-3, 1e-3, 1e-3, 2e-2],     # median passes, not every seed
        [5.0, 5.0, 5.0, 5.0],         # too small to get anywhere
    ])
    # "higher": of 4 seeds, the median is the 3rd smallest J (1e-1: 5e-2, not the 2.5e-2
    # between); the 0.25-quantile of 1e-1 is 1e-4, not NaN: diverged counts as inf
    assert sweep.restored(grid, below=1e-2) == (1e-3, 1e-2)
    assert sweep.restored(grid, below=3e-2) == (1e-3, 1e-2)
    assert sweep.restored(grid, below=1e-2, q=0.25) == (1e-3, 1e-1)
    assert sweep.restored(grid, below=1e-2, q=1.0) == (1e-3, 1e-3)
    assert sweep.restored(grid, below=1e-5) is None
    assert sweep.first_divergence(grid) == 1e-1
    assert sweep.first_divergence(grid, fraction=0.5) == 1.0
    assert sweep.first_divergence(_grid([1.0], [[1.0]])) is None
    grid = _grid([1, 2, 3, 4, 5, 6], [[0.0], [1.0], [0.0], [0.0], [1.0], [0.0]])
    assert sweep.restored(grid, below=0.5) == (3.0, 4.0)  # the widest passing run wins


def test_each_seed_s_edge_is_its_own_first_non_finite_or_worse_run():
    # seed 0: worse than its start at 0.3, diverged from 1; seed 1: diverged from 1 (1e-2 and
    # 0.3 are fine); seed 2: never; seed 3: worse at the smallest value already
    grid = _grid([1.0, 1e-2, 0.3], [[np.nan, np.inf, 4.0, 50.0],
                                    [1.0, 2.0, 3.0, 40.0],
                                    [20.0, 5.0, 3.0, 30.0]], initial=[[10.0, 10.0, 10.0, 25.0]])
    np.testing.assert_array_equal(_run.seed_edges(grid), [0.3, 1.0, np.nan, 1e-2])
