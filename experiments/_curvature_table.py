"""Stability edge of the 2x + 3 sweep: 2/lambda_max predictors against the measured divergence.

`python -m experiments._curvature_table [seeds]` (default 32, the committed sweep's): its
networks (--rng tutorial, seeds 4321.., 33 rates 1e-4..1, 100 steps, batch 1) trained again
with `train_many`. Per hidden size: the first rate where a seed diverges (and each seed's
own), then per predictor 2/lambda over seeds: median [min, max], median and min over the
measured first divergence, and the median over seeds of predicted / that seed's own.
lambda: (a) lambda_max of the full-grid J at init; (b) max over the grid of one example's
lambda_max at init; (d) their mean; (c) the full-grid lambda_max of the networks trained at
the largest rate where no seed diverged, at the end and (r) its maximum along the run
(init and every 10 steps); (e) the full-grid lambda_max at the minimum that full-batch
GD reaches from the same init (lr 0.5/lambda_a, 3000 steps): known before any sweep.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jlinnet as jl

SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
seeds = range(4321, 4321 + (int(sys.argv[1]) if len(sys.argv) > 1 else 32))
lrs = np.geomspace(1e-4, 1.0, 33)
xs = jl.grid()
ys = jl.linear_target(xs)
full = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))
per_example = jax.jit(jax.vmap(lambda net: jax.vmap(  # (K, N): one example's J each
    lambda x, y: jl.sharpness(net, x[None], y[None]))(xs, ys)))


def train(net, starts, rates, batchsize=1):  # K networks, rates (K,): params, diverged (K,)
    state = jl.with_hyperparams(jax.vmap(SGD.init)(net), learning_rate=rates)
    out = jl.train_many(net, xs, ys, starts, batchsize=batchsize, optimizer=SGD, opt_state=state)
    errors = jax.vmap(lambda n: jl.mse(jl.forward(n, xs), ys))(out.params)
    return out.params, np.asarray((out.nonfinite_step >= 0) | ~jnp.isfinite(errors))


def row(name, lam, first, seed_first):
    p = 2 / np.asarray(lam)
    print(f"  {name:<24}{np.median(p):8.4f} [{p.min():.4f}, {p.max():.4f}]"
          f"{np.median(p) / first:7.2f}{p.min() / first:7.2f}{np.median(p / seed_first):7.2f}")


print(f"{len(seeds)} seeds; 2/lambda: median [min, max]; median/measured, min/measured,"
      " median over seeds of 2/lambda over the seed's own first divergence")
for h in (1, 2, 8, 32):
    runs = [jl.tutorial_setup((1, h, 1), 100, 1, s) for s in seeds]
    net, starts = jax.tree.map(lambda *a: jnp.stack(a), *runs)
    tile = lambda a: jnp.tile(a, (len(lrs),) + (1,) * (a.ndim - 1))  # noqa: E731
    _, diverged = train(*jax.tree.map(tile, (net, starts)),
                        jnp.repeat(jnp.asarray(lrs, jnp.float32), len(seeds)))
    diverged = diverged.reshape(len(lrs), len(seeds))  # [i, j]: rate lrs[i], seed j
    first = int(np.argmax(diverged.any(axis=1)))
    seed_first = lrs[np.argmax(diverged, axis=0)]
    print(f"hidden {h}: first divergence {lrs[first]:.4f} (all finite at {lrs[first - 1]:.4f});"
          f" per seed median {np.median(seed_first):.4f} [{seed_first.min():.4f},"
          f" {seed_first.max():.4f}]")
    lam_ex, lam = np.asarray(per_example(net)), np.asarray(full(net, xs, ys))
    row("(a) full grid, init", lam, lrs[first], seed_first)
    row("(b) max example, init", lam_ex.max(axis=1), lrs[first], seed_first)
    row("(d) mean example, init", lam_ex.mean(axis=1), lrs[first], seed_first)
    rate = jnp.full(len(seeds), lrs[first - 1], jnp.float32)
    along, trained = [np.asarray(full(net, xs, ys))], net
    for t in range(0, 100, 10):  # SGD has no state but its rate: 10 segments = one run
        trained, _ = train(trained, starts[:, t:t + 10], rate)
        along.append(np.asarray(full(trained, xs, ys)))
    row(f"(c) full grid, trained {lrs[first - 1]:.3g}", along[-1], lrs[first], seed_first)
    row("(r) max along that run", np.max(along, axis=0), lrs[first], seed_first)
    # full-batch GD (999 of the 1000 rows) at half its edge, 3000 steps: where it settles
    settled, _ = train(net, jnp.zeros((len(seeds), 3000), jnp.int32), 0.5 / lam, batchsize=999)
    row("(e) full grid, GD minimum", full(settled, xs, ys), lrs[first], seed_first)
