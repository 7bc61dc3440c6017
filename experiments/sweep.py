"""Sweep the tutorial's network over learning rates x seeds x hidden sizes, on both targets.

The question the tutorial leaves open: which learning rates restore 2x + 3 in 100 steps,
where SGD diverges, how both move with the hidden size, and whether any setting gets the
network without activation below the least-squares line on 2 sin x + 5 (it cannot: it is
one affine map; with tanh between the layers it can). For each target, activation and
hidden size, the L x seeds networks train in one `jl.train_sweep` call (one compile per
hidden size and activation), spread over every device of every process. It prints a
table and the findings, and writes sweep.png (2x + 3), sweep_sine.png and results.json.
Networks that diverge are part of the answer: counted and drawn, not a failure.

Several processes or hosts: start the same command on each, adding
`--coordinator HOST:PORT --num-processes N --process-id I` (see `experiments._distributed`).
"""

import math
import os
import sys
from contextlib import nullcontext

import numpy as np

from experiments import _cli, _distributed

GOAL = 1e-2  # "restored": the full-grid J of 2x + 3 below this
ACTIVATIONS = ("none", "tanh", "relu", "sigmoid")
WRITES = ("Writes into --out (process 0 only), all together once the run has succeeded:"
          " sweep.png (final full-grid J against the learning rate on 2x + 3: median and"
          " quartiles over seeds, one line per hidden size, the fraction diverged),"
          " sweep_sine.png (the same on 2 sin x + 5, with the least-squares line) and"
          " results.json (every network's J, null where it diverged, and the findings).")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("sweep", _run, argv, smaller="fewer --seeds, --lrs or --steps")


def _parser():
    p = _cli.parser("sweep", __doc__, WRITES)
    p.add_argument("--hidden", type=_cli.positive_int, nargs="+", default=[1, 2, 8, 32],
                   help="hidden sizes, one line each in the figures (default 1 2 8 32)")
    p.add_argument("--steps", type=_cli.positive_int, default=100,
                   help="training steps (tutorial: 100)")
    p.add_argument("--batch-size", type=_cli.batch_size, default=1,
                   help="rows of the grid per step (tutorial: 1)")
    p.add_argument("--lr-min", type=_cli.positive_float, default=1e-4,
                   help="smallest learning rate (default 1e-4)")
    p.add_argument("--lr-max", type=_cli.positive_float, default=1.0,
                   help="largest learning rate (default 1)")
    p.add_argument("--lrs", type=_cli.positive_int, default=33,
                   help="learning rates, log-spaced from --lr-min to --lr-max (default 33:"
                   " eight a decade, so the tutorial's 0.01 is one of them)")
    p.add_argument("--seeds", type=_cli.positive_int, default=32,
                   help="seeds per learning rate, --seed and the ones after it (default 32)")
    p.add_argument("--activation", choices=ACTIVATIONS, nargs="+", default=["none", "tanh"],
                   help="activations tried on 2 sin x + 5 (default none tanh); 2x + 3 is"
                   " always the tutorial's network, without one")
    _cli.run_flags(p, "results/sweep")
    _distributed.add_flags(p)
    return p


def _parse(argv):
    """The flags, checked before any JAX work: a bad one exits 2 with one line."""
    p = _parser()
    args = p.parse_args(argv)
    if args.lr_max < args.lr_min or (args.lrs > 1 and args.lr_max == args.lr_min):
        p.error(f"--lr-max must be larger than --lr-min, got {args.lr_max} and {args.lr_min}")
    if args.seed + args.seeds > 2**32:
        p.error(f"--seed .. --seed + --seeds - 1 must lie in [0, 2**32), got {args.seed}"
                f" and {args.seeds} seeds")
    args.hidden = sorted(set(args.hidden))
    args.activation = [None if a == "none" else a for a in dict.fromkeys(args.activation)]
    args.distributed = _distributed.check_flags(p, args)
    return args


def _run(argv):
    args = _parse(argv)
    if args.distributed and not _distributed.is_child():
        return _distributed.supervise("sweep", sys.argv[1:] if argv is None else argv)
    if not args.distributed:
        return _sweep(args)
    status = _cli.main("sweep", lambda _: _distributed.run(_sweep, args), None)
    if status:  # the others may be gone, or wait for us: skip JAX's exit barrier
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _sweep(args):
    import jax

    import jlinnet as jl

    lead = jax.process_index() == 0
    _cli.use_compilation_cache(args.no_cache)
    lrs = np.geomspace(args.lr_min, args.lr_max, args.lrs)
    seeds = list(range(args.seed, args.seed + args.seeds))
    mesh = jax.make_mesh((jax.device_count(),), ("k",)) if jax.device_count() > 1 else None
    grids = [("2x + 3", None)] + [("2 sin x + 5", a) for a in args.activation]
    # per network: its per-step losses (float32 on the device and the host, a float64 copy)
    # and a few numbers; plus JAX's compiling and matplotlib
    _cli.check_memory(300 * 2**20 + len(grids) * len(args.hidden) * args.lrs * args.seeds
                      * (16 * args.steps + 64), "fewer --seeds, --lrs or --steps")
    where = f"{jax.device_count()} device(s) of {jax.process_count()} process(es)"
    if lead:
        print(f"{len(lrs)} learning rates from {lrs[0]:g} to {lrs[-1]:g} x {len(seeds)} seeds"
              f" = {len(lrs) * len(seeds)} networks per grid, {args.steps} steps, batch"
              f" {args.batch_size}, --rng {args.rng}; {len(grids) * len(args.hidden)} grids"
              f" on {where}", flush=True)
    else:
        print(f"process {jax.process_index()}: training its share of the networks on {where};"
              " process 0 writes the results", flush=True)
    xs = jl.grid(_cli.GRID_POINTS)
    targets = {"2x + 3": jl.linear_target(xs), "2 sin x + 5": jl.sine_target(xs)}
    with _cli.Staged(args.out) if lead else nullcontext() as out:
        tables = {}
        for target, activation in grids:
            for h in args.hidden:  # one train_sweep call, L x seeds networks, per grid
                net, starts = jl.seed_networks(seeds, (1, h, 1), args.steps, args.batch_size,
                                               activation=activation, rng=args.rng)
                tables[target, activation, h] = jl.train_sweep(
                    net, xs, targets[target], starts, lrs, batchsize=args.batch_size, mesh=mesh)
        line = float(_line_error(xs, targets["2 sin x + 5"]))
        if lead:
            findings = _findings(tables, seeds, line)
            _report(findings, args.steps, len(seeds))
            _save(out, args, seeds, tables, findings)
    return 0


def _line_error(xs, ys):
    """J of the least-squares line on the grid: the floor of every network without activation."""
    import jax

    import jlinnet as jl

    @jax.jit  # one small program, not a dozen eager ones
    def error(xs, ys):
        w, b = jl.least_squares(xs, ys)
        return jl.mse(xs @ w + b[None, :], ys)

    return error(xs, ys)


def _best(table, seeds):
    """The lowest final J of a grid, with its learning rate and seed (None if all diverged)."""
    import jlinnet as jl

    errors = np.where(jl.diverged(table), np.inf, table.errors)
    i, j = np.unravel_index(np.argmin(errors), errors.shape)
    if not np.isfinite(errors[i, j]):
        return None
    return dict(J=float(errors[i, j]), lr=float(table.lrs[i]), seed=seeds[j])


def _findings(tables, seeds, line):
    """The numbers the experiment states, per grid and across grids."""
    import jlinnet as jl

    grids = []
    for (target, activation, h), t in tables.items():
        grids.append(dict(
            target=target, activation=activation or "none", hidden=h,
            restores=jl.lr_range(t, GOAL), restores_every_seed=jl.lr_range(t, GOAL, q=1.0),
            divergence_lr=jl.divergence_lr(t), diverged=int(jl.diverged(t).sum()),
            best=_best(t, seeds), lowest_median=float(np.min(jl.seed_quantile(t))),
        ))
    sine = [g for g in grids if g["target"] == "2 sin x + 5"]
    linear = [g["best"]["J"] for g in sine if g["activation"] == "none" and g["best"]]
    finite = sum(int((~jl.diverged(t)).sum()) for (target, activation, _), t in tables.items()
                 if target == "2 sin x + 5" and activation is None)
    best = {}
    for g in sine:
        if g["activation"] != "none" and g["best"]:
            if g["activation"] not in best or g["best"]["J"] < best[g["activation"]]["J"]:
                best[g["activation"]] = g["best"] | dict(hidden=g["hidden"])
    return dict(grids=grids, least_squares_J=line, sine_linear_lowest_J=min(linear, default=None),
                sine_linear_finite_networks=finite,
                sine_linear_below_line=bool(linear and min(linear) < line), sine_best=best)


def _report(findings, steps, n_seeds):
    """Prints one row per grid, then the findings in numbers."""
    grids = findings["grids"]
    print(f"\nfinal full-grid J over {n_seeds} seeds per learning rate (diverged counts as inf)")
    print(f"  {'target':<12}{'activation':<11}{'hidden':>6}  {'median J < 1e-2: lr in':<23}"
          f"{'lowest median J':>16}{'lowest J':>10}  {'diverges from lr':>16}{'diverged':>9}")
    for g in grids:
        best = f"{g['best']['J']:.4g}" if g["best"] else "-"
        ok = _lrs(g["restores"])[6:] if g["restores"] else "none"
        print(f"  {g['target']:<12}{g['activation']:<11}{g['hidden']:>6}  {ok:<23}"
              f"{g['lowest_median']:>16.4g}{best:>10}  {_lr(g['divergence_lr']):>16}"
              f"{g['diverged']:>9}")
    line = [g for g in grids if g["target"] == "2x + 3"]
    print("findings:")
    print(f"  2x + 3 restored (J < {GOAL:g}) in {steps} steps: " + "; ".join(
        f"hidden {g['hidden']}: {_lrs(g['restores'])} for the median seed,"
        f" {_lrs(g['restores_every_seed'])} for every seed" for g in line))
    print("  divergence (of one seed or more) starts at " + ", ".join(
        f"{'lr ' + _lr(g['divergence_lr']) if g['divergence_lr'] else 'no lr'} for hidden"
        f" {g['hidden']}" for g in line))
    low, ls = findings["sine_linear_lowest_J"], findings["least_squares_J"]
    if any(g["target"] == "2 sin x + 5" and g["activation"] == "none" for g in grids):
        verdict = "one ends below" if findings["sine_linear_below_line"] else "none ends below"
        lowest = f"; the lowest is J = {low:.6g}" if low is not None else ""
        print(f"  2 sin x + 5 without activation: of {findings['sine_linear_finite_networks']}"
              f" networks that stayed finite, {verdict} the least-squares line's J = {ls:.6g}"
              f"{lowest}")
    for activation, b in findings["sine_best"].items():
        ratio = f"{ls / b['J']:.3g}x below" if b["J"] < ls else f"{b['J'] / ls:.3g}x above"
        print(f"  2 sin x + 5 with {activation}: the best network ends at J = {b['J']:.4g},"
              f" {ratio} the line (hidden {b['hidden']}, lr {b['lr']:.3g}, seed {b['seed']})")


def _lrs(pair):
    return f"lr in [{pair[0]:.3g}, {pair[1]:.3g}]" if pair else "no lr"


def _lr(lr):
    return "none" if lr is None else f"{lr:.3g}"


def _json(value):
    """Strict JSON: arrays become lists, a float that is not finite becomes null."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(f"{value:.7g}") if math.isfinite(value) else None
    return value


def _save(out, args, seeds, tables, findings):
    """Writes sweep.png (2x + 3), sweep_sine.png and results.json (strict JSON) into `out`."""
    import jlinnet as jl
    from jlinnet import plot

    lrs = next(iter(tables.values())).lrs
    curves = {}
    for (target, activation, h), t in tables.items():
        label = f"hidden {h}" + (f", {activation}" if activation else "")
        curves.setdefault(target, {})[label] = t.errors
    goal = (GOAL, f"J = {GOAL:g}")
    floor = (findings["least_squares_J"], "least-squares line")
    title = f"{len(seeds)} seeds, {args.steps} steps, batch {args.batch_size}"
    figures = {"sweep.png": plot.sweep(lrs, curves["2x + 3"], goal=goal,
                                       title=f"f(x) = 2x + 3: {title}")}
    if "2 sin x + 5" in curves:
        figures["sweep_sine.png"] = plot.sweep(lrs, curves["2 sin x + 5"], floor=floor,
                                               title=f"f(x) = 2 sin x + 5: {title}")
    for fig in figures.values():  # J above 100 (about to diverge: up to 1e38) off the chart
        j_axis = fig.axes[0]
        j_axis.set_ylim(top=min(j_axis.get_ylim()[1], 1e2))
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=110)
    record = dict(
        steps=args.steps, batch_size=args.batch_size, rng=args.rng, seeds=seeds, lrs=lrs,
        hidden=args.hidden, goal=GOAL, least_squares_J=findings["least_squares_J"],
        note="errors[i][j]: final full-grid J of the network with lrs[i] and seeds[j]; null"
             " where it diverged (diverged[i][j], nonfinite_step[i][j] >= 0: the first step"
             " whose loss was not finite, steps if only the final weights were)",
        findings={k: v for k, v in findings.items() if k != "grids"},
        grids=[g | dict(errors=t.errors, diverged=jl.diverged(t), nonfinite_step=t.nonfinite_step)
               for g, t in zip(findings["grids"], tables.values())],
    )
    _cli.write_json(out / "results.json", _json(record))
    print("wrote " + ", ".join(str(p) for p in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
