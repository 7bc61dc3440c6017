"""Sweeps: each cell of the table against the network trained alone; one program for any
rates, targets and weights of the same shapes; diverged networks as data; the summaries (the
stability prediction: tests/test_curvature.py). The experiment's own run and its files:
tests/test_sweep_processes.py; its bad flags: tests/test_experiments.py."""

import chex
import jax
import numpy as np
import optax

import jlinnet as jl
from experiments import sweep

X = jl.grid()
Y = jl.linear_target(X)
S = 20  # every test trains (1, 2, 1) networks, 2 seeds x 3 rates, for S steps of batch 1 where
LRS = np.array([1e-3, 1e-2, 5e-2])  # it can, so that the tests share their compiled programs


def test_each_cell_is_its_network_trained_alone_with_plain_sgd():
    lrs, seeds = LRS, [4321, 7]
    net, starts = sweep.seed_networks(seeds, (1, 2, 1), S, 1, rng="tutorial")
    table = sweep.train_sweep(net, X, Y, starts, lrs, batchsize=1)
    chex.assert_shape((table.errors, table.nonfinite_step), ((3, 2), (3, 2)))
    np.testing.assert_array_equal(table.lrs, lrs)
    for i, lr in enumerate(lrs):
        sgd = optax.sgd(lr)  # the learning rate as a constant, not as optimizer state
        for j, seed in enumerate(seeds):
            one, one_starts = jl.tutorial_setup((1, 2, 1), S, 1, seed=seed)
            alone = jl.train(one, X, Y, one_starts, batchsize=1, optimizer=sgd)
            error = jl.mse(jl.forward(alone.params, X), Y)
            # J near 0 is a difference of nearly equal numbers: its rounding is relative to y
            np.testing.assert_allclose(table.errors[i, j], error, rtol=1e-5, atol=1e-8)
            assert table.nonfinite_step[i, j] == -1


def test_new_rates_targets_and_weights_reuse_one_program_and_a_diverged_network_is_data():
    grads = chex.assert_max_traces(jl.autodiff_grads, n=1)
    for seeds, target, lrs, rng in [([0, 1], jl.linear_target, LRS, "jax"),
                                    ([5, 6], jl.sine_target, [0.2, 0.04, 1.0], "jax"),
                                    ([0, 1], jl.linear_target, [1e-2, 1e-3, 100.0], "tutorial")]:
        net, starts = sweep.seed_networks(seeds, (1, 2, 1), S, 1, rng=rng)
        table = sweep.train_sweep(net, X, target(X), starts, lrs, batchsize=1, grads=grads)
        chex.assert_shape(table.errors, (3, 2))
    assert np.isfinite(table.errors[:2]).all() and not np.isfinite(table.errors[2]).any()
    assert (table.nonfinite_step[:2] == -1).all() and (table.nonfinite_step[2] >= 0).all()
    np.testing.assert_array_equal(sweep.diverged(table), [[False] * 2, [False] * 2, [True] * 2])
    assert sweep.divergence_lr(table) == 100.0
    assert sweep.lr_range(table, below=1e3) == (1e-3, 1e-2)  # never the diverged rate


def test_seed_networks_are_the_experiments_starts():
    net, starts = sweep.seed_networks([3, 4321], (1, 2, 1), S, 1, activation="tanh")
    k_init, k_batch = jax.random.split(jax.random.key(4321))
    chex.assert_trees_all_equal(jax.tree.map(lambda a: a[1], net),
                                jl.init_mlp(k_init, (1, 2, 1), activation="tanh"))
    chex.assert_trees_all_equal(starts[1], jl.batch_starts(k_batch, S, 1000, 1))
    net, starts = sweep.seed_networks([4321, 3], (1, 2, 1), S, 1, rng="tutorial", activation="relu")
    chex.assert_trees_all_equal((jax.tree.map(lambda a: a[0], net), starts[0]),
                                jl.tutorial_setup((1, 2, 1), S, 1, activation="relu"))


def _table(lrs, errors):
    errors = np.asarray(errors, float)
    steps = np.where(np.isfinite(errors), -1, 3)
    return sweep.Sweep(np.asarray(lrs), errors, steps)


def test_summaries_read_the_table_in_learning_rate_order():
    # rows: lr 1e-1, 1e-3, 1, 1e-2, 1e-4 (unsorted on purpose); 4 seeds each
    table = _table([1e-1, 1e-3, 1.0, 1e-2, 1e-4], [
        [1e-4, 1e-4, 5e-2, np.nan],   # median passes 1e-2, one seed diverged
        [1e-3, 1e-3, 1e-3, 1e-3],     # every seed passes
        [np.inf, np.nan, np.nan, 1.0],
        [1e-3, 1e-3, 1e-3, 2e-2],     # median passes, not every seed
        [5.0, 5.0, 5.0, 5.0],         # too small to get anywhere
    ])
    # "higher": of 4 seeds, the median is the 3rd smallest J (lr 1e-1: 5e-2, not the 2.5e-2
    # between); the 0.25-quantile of lr 1e-1 is 1e-4, not NaN: diverged counts as inf
    assert sweep.lr_range(table, below=1e-2) == (1e-3, 1e-2)
    assert sweep.lr_range(table, below=3e-2) == (1e-3, 1e-2)
    assert sweep.lr_range(table, below=1e-2, q=0.25) == (1e-3, 1e-1)
    assert sweep.lr_range(table, below=1e-2, q=1.0) == (1e-3, 1e-3)
    assert sweep.lr_range(table, below=1e-5) is None
    assert sweep.divergence_lr(table) == 1e-1
    assert sweep.divergence_lr(table, fraction=0.5) == 1.0
    assert sweep.divergence_lr(_table([1.0], [[1.0]])) is None
    table = _table([1, 2, 3, 4, 5, 6], [[0.0], [1.0], [0.0], [0.0], [1.0], [0.0]])
    assert sweep.lr_range(table, below=0.5) == (3.0, 4.0)  # the widest passing run wins
