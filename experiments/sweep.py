"""Sweep the tutorial's network over learning rates x seeds x hidden sizes, on both targets.

The question the tutorial leaves open: which learning rates restore 2x + 3 in 100 steps,
where SGD diverges, how both move with the hidden size, and whether any setting gets the
network without activation below the least-squares line on 2 sin x + 5 (it cannot: it is
one affine map; with tanh between the layers it can). Network (i, j) starts from seed j's
weights and batches and trains with rate lrs[i],

    theta^(ij)_{t+1} = theta^(ij)_t - lrs[i] * dJ/dtheta (x^(j)_t, y^(j)_t)

all K = L x seeds of a grid in one `jl.train_many` call (the rates travel in the optimizer
state: one compile per hidden size and activation), scored by the full-grid J of each.
A diverged network is data: counted and drawn, not a failure.

Several processes or hosts: start the same command on each, adding `--coordinator HOST:PORT
--num-processes N --process-id I`; every process trains its share, process 0 writes.
"""

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

import jlinnet as jl
from experiments import _cli

GOAL = 1e-2  # "restored": the full-grid J of 2x + 3 below this
SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)  # one object: one program
CHILD = "JLINNET_SWEEP_CHILD"
WRITES = ("Writes into --out (process 0 only), all together once the run has succeeded:"
          " sweep.png (final full-grid J against the learning rate on 2x + 3: median and"
          " quartiles over seeds, one line per hidden size, the fraction diverged),"
          " sweep_sine.png (the same on 2 sin x + 5, with the least-squares line) and"
          " results.json (every network's J, null where it diverged, and the findings).")


class Sweep(NamedTuple):
    """A sweep's table, NumPy on every process: lrs (L,); errors (L, seeds), the final
    full-grid J, NaN or inf where diverged; nonfinite_step (L, seeds), `TrainResult`'s."""

    lrs: np.ndarray
    errors: np.ndarray
    nonfinite_step: np.ndarray


def seed_networks(seeds, sizes, steps, batchsize, *, activation=None, rng="jax"):
    """(net, starts (seeds, S)): one network and batch schedule per seed, stacked.

    rng="jax": `init_mlp` and `batch_starts` from `jax.random.split(jax.random.key(seed))`,
    as `experiments.linear --rng jax`; rng="tutorial": `jl.tutorial_setup(..., seed)`.
    """
    if rng == "tutorial":
        runs = [jl.tutorial_setup(sizes, steps, batchsize, s, activation=activation)
                for s in seeds]
        return jax.tree.map(lambda *a: np.stack(a), *runs)

    def one(seed):
        k_init, k_batch = jax.random.split(jax.random.key(seed))
        return (jl.init_mlp(k_init, sizes, activation=activation),
                jl.batch_starts(k_batch, steps, _cli.GRID_POINTS, batchsize))

    return jax.jit(jax.vmap(one))(np.asarray(seeds, np.uint32))


@functools.partial(jax.jit, static_argnames=("batchsize", "grads", "mesh"))
def _sweep(net, xs, ys, starts, lrs, *, batchsize, grads, mesh):
    """K = L x seeds networks, k = i * seeds + j: train them, then J_k on the whole grid."""
    net, starts = jax.tree.map(lambda a: jnp.tile(a, (len(lrs),) + (1,) * (a.ndim - 1)),
                               (net, starts))
    rates = jnp.repeat(lrs, starts.shape[0] // len(lrs))
    state = jl.with_hyperparams(jax.vmap(SGD.init)(net), learning_rate=rates)
    r = jl.train_many(net, xs, ys, starts, batchsize=batchsize, optimizer=SGD, grads=grads,
                      opt_state=state, mesh=mesh)
    return jax.vmap(lambda n: jl.mse(jl.forward(n, xs), ys))(r.params), r.nonfinite_step


def compile_sweep(net, xs, ys, starts, lrs, *, batchsize, grads=jl.autodiff_grads, mesh=None):
    """The sweep's program for these shapes, compiled; `train_sweep(..., program=)` runs it."""
    lrs = np.asarray(lrs, np.float32)
    return _sweep.lower(net, xs, ys, starts, lrs, batchsize=batchsize, grads=grads,
                        mesh=mesh).compile()


def train_sweep(net, xs, ys, starts, lrs, *, batchsize, grads=jl.autodiff_grads, mesh=None,
                program=None):
    """Trains every (rate, seed) pair in one compiled call; returns the `Sweep`.

    net: one network per seed (`seed_networks`); xs, ys: (N, 1); starts: (seeds, S); lrs:
    (L,); mesh: None or a mesh of every device of every process to split the K networks over.
    """
    program = program or functools.partial(_sweep, batchsize=batchsize, grads=grads, mesh=mesh)
    out = _cli.wait(program(net, xs, ys, starts, np.asarray(lrs, np.float32)))
    if not out[0].is_fully_addressable:  # spread over processes: gather the whole table
        out = multihost_utils.process_allgather(out, tiled=True)
    return Sweep(np.asarray(lrs), *(np.asarray(a).reshape(len(lrs), -1) for a in out))


def diverged(table):
    """(L, seeds) bool: the network's run or its final J was not finite."""
    return (table.nonfinite_step >= 0) | ~np.isfinite(table.errors)


def seed_quantile(table, q=0.5):
    """(L,) the q-quantile over seeds of the final J, a diverged network counting as +inf;
    one the seeds reached (method "higher"): at least a fraction q end at or below it."""
    return np.quantile(np.where(diverged(table), np.inf, table.errors), q, axis=1,
                       method="higher")


def lr_range(table, below, q=0.5):
    """(smallest, largest) lr of the widest run of neighbouring rates (sorted) whose q-quantile
    J is below `below` (q = 0.5: half the seeds; 1: every seed); None if no rate passes."""
    order = np.argsort(table.lrs)
    ok = np.concatenate([[0], seed_quantile(table, q)[order] < below, [0]])
    edges = np.flatnonzero(np.diff(ok))  # where runs of passing rates start and end
    if not edges.size:
        return None
    first, end = edges[::2], edges[1::2]
    widest, lrs = np.argmax(end - first), table.lrs[order]
    return float(lrs[first[widest]]), float(lrs[end[widest] - 1])


def divergence_lr(table, fraction=0.0):
    """The smallest lr at which more than `fraction` of the seeds diverged (0: one is
    enough), or None."""
    hit = diverged(table).mean(axis=1) > fraction
    return float(np.min(table.lrs[hit])) if hit.any() else None


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("sweep", _run, argv, "fewer --seeds, --lrs or --steps")


def _parse(argv):
    """The flags, checked before any work: a bad one exits 2 with one line."""
    p, pos, flt = _cli.parser("sweep", __doc__, WRITES), _cli.positive_int, _cli.positive_float
    p.add_argument("--hidden", type=pos, nargs="+", default=[1, 2, 8, 32],
                   help="hidden sizes, one line each in the figures (default 1 2 8 32)")
    p.add_argument("--steps", type=pos, default=100, help="training steps (tutorial: 100)")
    p.add_argument("--batch-size", type=_cli.batch_size, default=1,
                   help="rows of the grid per step (tutorial: 1)")
    p.add_argument("--lr-min", type=flt, default=1e-4, help="smallest learning rate (1e-4)")
    p.add_argument("--lr-max", type=flt, default=1.0, help="largest learning rate (default 1)")
    p.add_argument("--lrs", type=pos, default=33, help="learning rates, log-spaced from"
                   " --lr-min to --lr-max (default 33: eight a decade, with the tutorial's 0.01)")
    p.add_argument("--seeds", type=pos, default=32,
                   help="seeds per learning rate, --seed and the ones after it (default 32)")
    p.add_argument("--activation", choices=("none", "tanh", "relu", "sigmoid"), nargs="+",
                   default=["none", "tanh"], help="activations tried on 2 sin x + 5 (default"
                   " none tanh); 2x + 3 is always the tutorial's network, without one")
    _cli.run_flags(p, "results/sweep")
    p.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0, where the"
                   " processes meet (jax.distributed); with --num-processes and --process-id")
    p.add_argument("--num-processes", type=pos, help="processes in the run")
    p.add_argument("--process-id", type=int, help="this process, 0 .. N-1; 0 writes the files")
    p.add_argument("--timeout", type=int, default=60, help="seconds to wait for every process"
                   " to join, and for a silent one, before the run ends (1 to 3600; default 60)")
    args = p.parse_args(argv)
    if args.lr_max < args.lr_min or (args.lrs > 1 and args.lr_max == args.lr_min):
        p.error(f"--lr-max must be larger than --lr-min, got {args.lr_max} and {args.lr_min}")
    if args.seed + args.seeds > 2**32:
        p.error(f"--seed .. --seed + --seeds - 1 must lie in [0, 2**32), got {args.seed}"
                f" and {args.seeds} seeds")
    given = [args.coordinator, args.num_processes, args.process_id]
    if any(v is not None for v in given) and any(v is None for v in given):
        p.error("--coordinator, --num-processes and --process-id go together: give all three")
    host, _, port = (args.coordinator or "h:1").rpartition(":")
    if not (host and port.isdigit() and 0 < int(port) < 65536):
        p.error(f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
    if args.process_id is not None and not 0 <= args.process_id < args.num_processes:
        p.error(f"--process-id must be in [0, --num-processes), got {args.process_id}")
    if not 1 <= args.timeout <= 3600:
        p.error(f"--timeout must be 1 to 3600 seconds, got {args.timeout}")
    args.hidden = sorted(set(args.hidden))
    args.activation = [None if a == "none" else a for a in dict.fromkeys(args.activation)]
    return args


def _run(argv):
    args = _parse(argv)
    if args.coordinator and os.environ.get(CHILD) != "1":
        return _supervise(sys.argv[1:] if argv is None else argv, args.out)
    if not args.coordinator:
        return _run_sweep(args)
    _join(args)
    try:
        return _run_sweep(args)
    except (ValueError, jax.errors.JaxRuntimeError) as err:  # a peer gone mid-collective
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise _cli.Failure(f"the run failed across processes: {first}") from None


def _supervise(argv, out):
    """Runs this sweep in a child process and returns its status; the one promise JAX cannot
    keep itself: when a peer dies or never joins, JAX 0.10 aborts the process (SIGABRT, which
    Python cannot catch), so this process removes the child's staging folder and says so in
    one last line. SIGINT and SIGTERM here reach the child; if this process dies, so does it.
    """
    root = str(Path(__file__).resolve().parent.parent)  # where `experiments` is importable
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        root, os.environ.get("PYTHONPATH")])), **{CHILD: "1"})
    child = subprocess.Popen([sys.executable, "-m", "experiments.sweep", *argv], env=env,
                             stdin=subprocess.PIPE, start_new_session=True)
    _cli.on_stop(lambda s, f: child.send_signal(s))
    if (status := child.wait()) >= 0:
        return status
    for folder in _cli.staging_base(out).glob(f".jlinnet-staging-{child.pid}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    name = signal.Signals(-status).name
    raise _cli.Failure(f"{name} ended this process; JAX's distributed runtime does so when a"
                       " process of the run dies, stops answering, or does not join within"
                       " --timeout; nothing was written")


def _join(args):
    """Joins the run (`jax.distributed.initialize`), refusing a coordinator port in use."""
    host, port = args.coordinator.rpartition(":")[::2]
    if args.process_id == 0:  # the port must be free here; else another program or run has it
        with socket.socket(socket.getaddrinfo(host, port)[0][0]) as s:
            try:
                s.bind((host, int(port)))
            except OSError as err:
                raise _cli.Failure(f"--coordinator {args.coordinator}: cannot serve the run"
                                   f" there ({err.strerror}); pick a free port", 2) from None
        print(f"process 0: coordinating the run on {args.coordinator}", flush=True)

    def orphaned(fd=os.dup(0)):  # the supervisor's pipe: b"" once it dies
        while os.read(fd, 1024):
            pass
        _cli.PUBLISHED.clear()
        _cli.stop(signal.SIGHUP, None)

    threading.Thread(target=orphaned, daemon=True).start()
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPUs: collectives by TCP
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                               initialization_timeout=args.timeout,
                               heartbeat_timeout_seconds=args.timeout)
    _cli.on_stop()  # JAX installed its own preemption handler for SIGTERM: ours again


def _run_sweep(args):
    lead = jax.process_index() == 0
    _cli.use_compilation_cache(args.no_cache)
    lrs = np.geomspace(args.lr_min, args.lr_max, args.lrs)
    seeds = list(range(args.seed, args.seed + args.seeds))
    mesh = jax.make_mesh((jax.device_count(),), ("k",)) if jax.device_count() > 1 else None
    xs = jl.grid(_cli.GRID_POINTS)
    targets = {"2x + 3": jl.linear_target(xs), "2 sin x + 5": jl.sine_target(xs)}
    grids = [("2x + 3", None, h) for h in args.hidden] + [
        ("2 sin x + 5", a, h) for a in args.activation for h in args.hidden]
    where = f"{jax.device_count()} device(s) of {jax.process_count()} process(es)"
    if lead:
        print(f"{len(lrs)} learning rates from {lrs[0]:g} to {lrs[-1]:g} x {len(seeds)} seeds"
              f" = {len(lrs) * len(seeds)} networks per grid, {args.steps} steps, batch"
              f" {args.batch_size}, --rng {args.rng}; {len(grids)} grids on {where}", flush=True)
    else:
        print(f"process {jax.process_index()}: training its share of the networks on {where};"
              " process 0 writes the results", flush=True)
    runs = {}
    for target, activation, h in grids:  # compile every grid, and refuse what cannot fit
        net, starts = seed_networks(seeds, (1, h, 1), args.steps, args.batch_size,
                                    activation=activation, rng=args.rng)
        program = compile_sweep(net, xs, targets[target], starts, lrs,
                                batchsize=args.batch_size, mesh=mesh)
        _cli.check_memory(program, "fewer --seeds, --lrs or --steps")
        runs[target, activation, h] = (net, starts, program)
    with _cli.Staged(args.out) if lead else nullcontext() as out:
        tables = {(target, activation, h): train_sweep(
            net, xs, targets[target], starts, lrs, batchsize=args.batch_size, program=program)
            for (target, activation, h), (net, starts, program) in runs.items()}
        w, b = jl.least_squares(xs, targets["2 sin x + 5"])
        line = float(jl.mse(xs @ w + b[None, :], targets["2 sin x + 5"]))
        if lead:
            findings = _findings(tables, seeds, line)
            _report(findings, args.steps, len(seeds))
            _save(out, args, seeds, tables, findings)
    if args.coordinator:
        jax.distributed.shutdown()  # every process waits here until process 0 has written
    return 0


def _best(table, seeds):
    """The lowest final J of a grid, with its learning rate and seed (None if all diverged)."""
    errors = np.where(diverged(table), np.inf, table.errors)
    i, j = np.unravel_index(np.argmin(errors), errors.shape)
    return dict(J=float(errors[i, j]), lr=float(table.lrs[i]), seed=seeds[j]) if np.isfinite(
        errors[i, j]) else None


def _findings(tables, seeds, line):
    """The numbers the experiment states, per grid and across grids."""
    grids = [dict(target=target, activation=activation or "none", hidden=h,
                  restores=lr_range(t, GOAL), restores_every_seed=lr_range(t, GOAL, q=1.0),
                  divergence_lr=divergence_lr(t), diverged=int(diverged(t).sum()),
                  best=_best(t, seeds), lowest_median=float(np.min(seed_quantile(t))))
             for (target, activation, h), t in tables.items()]
    sine = [g for g in grids if g["target"] == "2 sin x + 5"]
    linear = [g["best"]["J"] for g in sine if g["activation"] == "none" and g["best"]]
    finite = sum(int((~diverged(t)).sum()) for (target, activation, _), t in tables.items()
                 if target == "2 sin x + 5" and activation is None)
    best = {}
    for g in sine:
        a = g["activation"]
        if a != "none" and g["best"] and (a not in best or g["best"]["J"] < best[a]["J"]):
            best[a] = g["best"] | dict(hidden=g["hidden"])
    return dict(grids=grids, least_squares_J=line, sine_linear_lowest_J=min(linear, default=None),
                sine_linear_finite_networks=finite,
                sine_linear_below_line=bool(linear and min(linear) < line), sine_best=best)


def _report(findings, steps, n_seeds):
    """Prints one row per grid, then the findings in numbers."""
    grids, lrs = findings["grids"], lambda r: f"lr in [{r[0]:.3g}, {r[1]:.3g}]" if r else "no lr"
    print(f"\nfinal full-grid J over {n_seeds} seeds per learning rate (diverged counts as inf)")
    print(f"  {'target':<12}{'activation':<11}{'hidden':>6}  {'median J < 1e-2: lr in':<23}"
          f"{'lowest median J':>16}{'lowest J':>10}  {'diverges from lr':>16}{'diverged':>9}")
    for g in grids:
        best = f"{g['best']['J']:.4g}" if g["best"] else "-"
        edge = "none" if g["divergence_lr"] is None else f"{g['divergence_lr']:.3g}"
        print(f"  {g['target']:<12}{g['activation']:<11}{g['hidden']:>6}  "
              f"{lrs(g['restores'])[6:] if g['restores'] else 'none':<23}"
              f"{g['lowest_median']:>16.4g}{best:>10}  {edge:>16}{g['diverged']:>9}")
    line = [g for g in grids if g["target"] == "2x + 3"]
    print("findings:")
    print(f"  2x + 3 restored (J < {GOAL:g}) in {steps} steps: " + "; ".join(
        f"hidden {g['hidden']}: {lrs(g['restores'])} for the median seed,"
        f" {lrs(g['restores_every_seed'])} for every seed" for g in line))
    print("  divergence (of one seed or more) starts at " + ", ".join(
        f"{'lr %.3g' % g['divergence_lr'] if g['divergence_lr'] else 'no lr'} for hidden"
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


def _json(value):
    """Strict JSON: arrays become lists, a float that is not finite becomes null."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(f"{value:.7g}") if np.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


def _save(out, args, seeds, tables, findings):
    """Writes sweep.png (2x + 3), sweep_sine.png and results.json (strict JSON) into `out`."""
    from jlinnet import plot

    curves = {}
    for (target, activation, h), t in tables.items():
        label = f"hidden {h}" + (f", {activation}" if activation else "")
        curves.setdefault(target, {})[label] = t.errors
    title, lrs = f"{len(seeds)} seeds, {args.steps} steps, batch {args.batch_size}", t.lrs
    figures = {"sweep.png": plot.sweep(lrs, curves["2x + 3"], goal=(GOAL, f"J = {GOAL:g}"),
                                       title=f"f(x) = 2x + 3: {title}")}
    if "2 sin x + 5" in curves:
        figures["sweep_sine.png"] = plot.sweep(
            lrs, curves["2 sin x + 5"], floor=(findings["least_squares_J"], "least-squares line"),
            title=f"f(x) = 2 sin x + 5: {title}")
    for name, fig in figures.items():  # J above 100 (about to diverge: up to 1e38) off the chart
        fig.axes[0].set_ylim(top=min(fig.axes[0].get_ylim()[1], 1e2))
        fig.savefig(out / name, dpi=110)
    record = dict(
        steps=args.steps, batch_size=args.batch_size, rng=args.rng, seeds=seeds, lrs=lrs,
        hidden=args.hidden, goal=GOAL, least_squares_J=findings["least_squares_J"],
        note="errors[i][j]: final full-grid J of the network with lrs[i] and seeds[j]; null"
             " where it diverged (diverged[i][j], nonfinite_step[i][j] >= 0: the first step"
             " whose loss was not finite, steps if only the final weights were)",
        findings={k: v for k, v in findings.items() if k != "grids"},
        grids=[g | dict(errors=t.errors, diverged=diverged(t), nonfinite_step=t.nonfinite_step)
               for g, t in zip(findings["grids"], tables.values())])
    _cli.write_json(out / "results.json", _json(record))
    print("wrote " + ", ".join(str(p) for p in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
