"""Why SGD diverges where it does: curvature predictors of the 2x + 3 sweep's first divergence.

Gradient descent on a quadratic with curvature lambda diverges beyond lr = 2/lambda. Per hidden
size, the default sweep's 2x + 3 grid (--rng tutorial, seeds 4321.., 33 rates 1e-4..1, 100
steps, batch 1) is trained again and its first divergence measured; beside it, 2/lambda_max over
the seeds for lambda_max of: the full-grid J at initialisation; the steepest single example's J
at initialisation (what one batch-1 step sees); the full-grid J of the networks trained at the
largest rate where no seed diverged; and the full-grid J at the minimum that full-batch gradient
descent reaches from the same start (lr 0.5/lambda_init, 3000 steps), known before any sweep.
"""

import jax
import numpy as np

import jlinnet as jl
from experiments import _cli, sweep

LRS = np.geomspace(1e-4, 1.0, 33)
full = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))  # (K,) lambda_max of J
worst = jax.jit(jax.vmap(lambda net, xs, ys: jax.vmap(  # (K,) max over the grid of one row's
    lambda x, y: jl.sharpness(net, x[None], y[None]))(xs, ys).max(), in_axes=(0, None, None)))


def main(argv=None):
    p = _cli.parser("curvature", __doc__, "Prints a table; writes nothing.")
    p.add_argument("--hidden", type=_cli.positive_int, nargs="+", default=[1, 2, 8, 32])
    p.add_argument("--seeds", type=_cli.positive_int, default=32, help="seeds 4321.. (32)")
    args = p.parse_args(argv)
    _cli.use_compilation_cache()
    xs, seeds = jl.grid(), range(4321, 4321 + args.seeds)
    ys = jl.linear_target(xs)
    print(f"2x + 3, {args.seeds} seeds. 2/lambda_max over the seeds: median [min, max]; then over"
          " the measured first\ndivergence (the smallest rate where a seed diverged): median, min,"
          " and seed (each seed's over its own)")
    for h in args.hidden:
        net, starts = sweep.seed_networks(seeds, (1, h, 1), 100, 1, rng="tutorial")
        table = sweep.train_sweep(net, xs, ys, starts, LRS, batchsize=1)
        hit, first = sweep.diverged(table), sweep.divergence_lr(table)
        if first is None or first == LRS[0]:  # no edge inside the grid to predict
            print(f"hidden {h}: {'no seed' if first is None else 'a seed at every rate'} diverged")
            continue
        own = np.where(hit.any(0), LRS[np.argmax(hit, axis=0)], np.nan)  # each seed's first
        i = np.flatnonzero(LRS < first)[-1]  # the largest rate where no seed diverged
        lam = full(net, xs, ys)
        state = jl.with_hyperparams(jax.vmap(sweep.SGD.init)(net), learning_rate=0.5 / lam)
        gd = jl.train_many(net, xs, ys, np.zeros((len(seeds), 3000), np.int32), batchsize=999,
                           optimizer=sweep.SGD, opt_state=state).params  # 999 of 1000 rows
        print(f"hidden {h}: first divergence at lr {first:.3g} (every seed finite at {LRS[i]:.3g};"
              f" each seed's own: median {np.nanmedian(own):.3g})\n  {'2/lambda_max of':<24}"
              f"{'median [min, max]':<25}{'median':>7}{'min':>7}{'seed':>7}")
        for name, lam in [("full grid, init", lam), ("worst example, init", worst(net, xs, ys)),
                          (f"trained at lr {LRS[i]:.3g}", full(jax.tree.map(
                              lambda a: a[i], table.params), xs, ys)),
                          ("full-batch GD minimum", full(gd, xs, ys))]:
            edge = 2 / np.asarray(lam, np.float64)
            print(f"  {name:<24}{np.median(edge):.4f} [{edge.min():.4f}, {edge.max():.4f}]"
                  f"{np.median(edge) / first:8.2f}{edge.min() / first:7.2f}"
                  f"{np.nanmedian(edge / own):7.2f}")
    return 0


if __name__ == "__main__":
    _cli.script(main)
