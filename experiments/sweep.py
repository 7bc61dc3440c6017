"""Sweep the tutorial's network over learning rates x seeds x hidden sizes, on both targets.

Which rates restore 2x + 3 in 100 steps, where SGD diverges, how both move with the hidden
size, and whether the network without activation ever beats the least-squares line on
2 sin x + 5 (it cannot: it is one affine map). Network (i, j) starts from seed j and trains
with rate lrs[i]: theta <- theta - lrs[i] dJ/dtheta; a grid's L x seeds networks are one
`jl.train_many` call (the rates travel in the optimizer state), scored by their full-grid J.
A diverged network is data, not a failure. Several processes or hosts: the same command on
each, with --coordinator HOST:PORT --num-processes N --process-id I.
"""

import functools
import json
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
SMALLER = "fewer --seeds, --lrs or --steps"
WRITES = ("Writes into --out (process 0 only), together once the run has succeeded: sweep.png"
          " (final J against the learning rate on 2x + 3 per hidden size, median and quartiles"
          " over seeds; below, the fraction diverged and the stability marks), sweep_sine.png"
          " (2 sin x + 5, over the least-squares line) and results.json: steps, batch_size, rng,"
          " seeds, lrs, hidden, goal, least_squares_J, findings (least_squares_J,"
          " sine_linear_lowest_J, sine_linear_below_line) and grids: per target, activation and"
          " hidden, the tables' restores, restores_every_seed, divergence_lr, diverged[i][j], best"
          " (J, lr, seed), stability (2x + 3 only: predicted_init, predicted_trained,"
          " first_divergence, ratio), errors[i][j] (the final J of lrs[i], seeds[j]; null:"
          " diverged) and nonfinite_step[i][j] (the first step whose loss was not finite; -1:"
          " none).")


class Sweep(NamedTuple):
    """A table, NumPy on every process: lrs (L,); errors (L, seeds), the final full-grid J
    (NaN or inf: diverged); nonfinite_step (L, seeds), as `TrainResult`'s; params: the trained
    networks, leaves (L, seeds, ...)."""

    lrs: np.ndarray
    errors: np.ndarray
    nonfinite_step: np.ndarray
    params: jl.Net | None = None


def seed_networks(seeds, sizes, steps, batchsize, *, activation=None, rng="jax"):
    """(net, starts (seeds, S)), stacked: rng="jax": `init_mlp` and `batch_starts` from
    `jax.random.split(jax.random.key(seed))` (`linear --rng jax`); "tutorial": `tutorial_setup`."""
    if rng == "tutorial":
        runs = [jl.tutorial_setup(sizes, steps, batchsize, s, activation=activation) for s in seeds]
        return jax.tree.map(lambda *a: np.stack(a), *runs)
    net, starts = _seeded(np.asarray(seeds, np.uint32), sizes=tuple(sizes), steps=steps,
                          batchsize=batchsize)
    return jl.Net(net.layers, activation), starts  # the weights do not depend on it: one program


@functools.partial(jax.jit, static_argnames=("sizes", "steps", "batchsize"))
def _seeded(seeds, *, sizes, steps, batchsize):
    def one(seed):
        k_init, k_batch = jax.random.split(jax.random.key(seed))
        return (jl.init_mlp(k_init, sizes),
                jl.batch_starts(k_batch, steps, _cli.GRID_POINTS, batchsize))

    return jax.vmap(one)(seeds)


@functools.partial(jax.jit, static_argnames=("batchsize", "grads", "mesh"))
def _sweep(net, xs, ys, starts, lrs, *, batchsize, grads=jl.autodiff_grads, mesh=None):
    """K = L x seeds networks, k = i * seeds + j: train them, then J_k on the whole grid."""
    net, starts = jax.tree.map(lambda a: jnp.tile(a, (len(lrs),) + (1,) * (a.ndim - 1)),
                               (net, starts))
    state = jl.with_hyperparams(jax.vmap(SGD.init)(net),
                                learning_rate=jnp.repeat(lrs, starts.shape[0] // len(lrs)))
    r = jl.train_many(net, xs, ys, starts, batchsize=batchsize, optimizer=SGD, grads=grads,
                      opt_state=state, mesh=mesh)
    return jax.vmap(lambda n: jl.mse(jl.forward(n, xs), ys))(r.params), r.nonfinite_step, r.params


def train_sweep(net, xs, ys, starts, lrs, *, program=None, **settings):
    """The `Sweep` of every (rate, seed) pair, in one call: net, one per seed, and starts
    (seeds, S) from `seed_networks`; xs, ys: (N, 1); lrs: (L,); program: a compiled `_sweep`,
    or settings: batchsize, grads, mesh (every device of every process)."""
    out = (program or functools.partial(_sweep, **settings))(net, xs, ys, starts,
                                                             np.asarray(lrs, np.float32))
    if not _cli.wait(out)[0].is_fully_addressable:  # spread over processes: gather it all
        out = multihost_utils.process_allgather(out, tiled=True)
    rows = lambda a: np.asarray(a).reshape(len(lrs), -1, *a.shape[1:])  # noqa: E731
    return Sweep(np.asarray(lrs), *jax.tree.map(rows, out))


def diverged(table):
    """(L, seeds) bool: the network's run or its final J was not finite."""
    return (table.nonfinite_step >= 0) | ~np.isfinite(table.errors)


def lr_range(table, below, q=0.5):
    """(smallest, largest) lr of the widest run of neighbouring rates whose q-quantile J over
    the seeds (diverged: inf) is below `below`, or None. The quantile is one a seed reached
    (method "higher"): at least a fraction q of the seeds end at or below it."""
    lrs, errors = table.lrs[order := np.argsort(table.lrs)], np.where(
        diverged(table), np.inf, table.errors)[order]
    passing = np.quantile(errors, q, axis=1, method="higher") < below
    edges = np.flatnonzero(np.diff(np.r_[0, passing, 0]))  # where runs start, end, start, ..
    if not edges.size:
        return None
    widest = np.argmax(edges[1::2] - edges[::2])
    return float(lrs[edges[2 * widest]]), float(lrs[edges[2 * widest + 1] - 1])


def divergence_lr(table, fraction=0.0):
    """The smallest lr at which more than `fraction` of the seeds diverged, or None."""
    hit = diverged(table).mean(axis=1) > fraction
    return float(np.min(table.lrs[hit])) if hit.any() else None


_sharpness = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))  # K networks' lambda_max


def stability(net, xs, ys, table):
    """Where SGD should diverge: on a quadratic of curvature lambda, beyond lr = 2/lambda. For
    2/lambda_max of the full-grid J (`jl.sharpness`), median, min and max over the seeds: at
    init (`net`, one per seed) and trained at the largest rate of `table` below its first
    divergence (None if none); and each median over that first divergence (None if none)."""
    first, n = divergence_lr(table), len(table.errors[0])
    below = np.flatnonzero(table.lrs < (first or np.inf))
    i = below[np.argmax(table.lrs[below])] if below.size else None
    nets = net if i is None else jax.tree.map(lambda a, b: np.concatenate([a, b[i]]), net,
                                              table.params)  # one call: one program
    with np.errstate(divide="ignore"):  # lambda_max <= 0: no edge, inf
        edge = 2 / np.maximum(np.asarray(_sharpness(nets, xs, ys), np.float64), 0)
    spread = lambda e: dict(median=np.median(e), min=e.min(), max=e.max())  # noqa: E731
    init = spread(edge[:n])
    trained = None if i is None else spread(edge[n:]) | dict(lr=table.lrs[i])
    ratio = {k: None if p is None or first is None else p["median"] / first
             for k, p in (("init", init), ("trained", trained))}
    return dict(predicted_init=init, predicted_trained=trained, first_divergence=first,
                ratio=ratio)


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("sweep", _run, argv, SMALLER)


def _address(text):  # HOST:PORT
    host, _, port = text.rpartition(":")
    return host and port.isdigit() and 0 < int(port) < 65536


def _parse(argv):
    """The flags, checked before any work: a bad one exits 2 with one line."""
    p, pos, flt = _cli.parser("sweep", __doc__, WRITES), _cli.positive_int, _cli.positive_float
    add = p.add_argument
    add("--hidden", type=pos, nargs="+", default=[1, 2, 8, 32], help="hidden sizes (1 2 8 32)")
    add("--steps", type=pos, default=100, help="training steps (tutorial: 100)")
    add("--batch-size", type=_cli.batch_size, default=1, help="rows per step (tutorial: 1)")
    add("--lr-min", type=flt, default=1e-4, help="smallest learning rate (1e-4)")
    add("--lr-max", type=flt, default=1.0, help="largest learning rate (1)")
    add("--lrs", type=pos, default=33, help="rates, log-spaced (33: 8 a decade, with 0.01)")
    add("--seeds", type=pos, default=32, help="seeds per rate: --seed and the next ones (32)")
    add("--activation", choices=("none", "tanh", "relu", "sigmoid"), nargs="+",
        default=["none", "tanh"], help="tried on 2 sin x + 5 (none tanh); 2x + 3 has none")
    _cli.run_flags(p, "results/sweep")
    add("--coordinator", type=_cli.checked(str, _address, "HOST:PORT"), metavar="HOST:PORT",
        help="where process 0 serves the run (jax.distributed); with the next two")
    add("--num-processes", type=pos, help="processes in the run")
    add("--process-id", type=int, help="this process, 0 .. N-1; 0 writes the files")
    add("--timeout", type=_cli.checked(int, lambda t: 1 <= t <= 3600, "1 to 3600 seconds"),
        default=60, help="seconds to wait for a process to join or answer (60)")
    a = p.parse_args(argv)
    for bad, line in [
        (a.lr_max < a.lr_min or (a.lrs > 1 and a.lr_max == a.lr_min),
         f"--lr-max must be larger than --lr-min, got {a.lr_max} and {a.lr_min}"),
        (a.seed + a.seeds > 2**32, f"--seed .. --seed + --seeds - 1 must lie in [0, 2**32), got"
         f" {a.seed} and {a.seeds} seeds"),
        (len({v is None for v in (a.coordinator, a.num_processes, a.process_id)}) > 1,
         "--coordinator, --num-processes and --process-id go together: give all three"),
        (a.process_id is not None and not 0 <= a.process_id < (a.num_processes or 1),
         f"--process-id must be in [0, --num-processes), got {a.process_id}")]:
        if bad:
            p.error(line)
    a.hidden = sorted(set(a.hidden))
    a.activation = [None if x == "none" else x for x in dict.fromkeys(a.activation)]
    return a


def _run(argv):
    args = _parse(argv)
    if args.coordinator and os.environ.get("JLINNET_SWEEP_CHILD") != "1":
        return _supervise(sys.argv[1:] if argv is None else argv, args.out)
    try:
        return _run_sweep(args)
    except (ValueError, jax.errors.JaxRuntimeError) as err:  # a peer gone mid-collective
        if not args.coordinator:
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise _cli.Failure(f"the run failed across processes: {first}") from None


def _supervise(argv, out):
    """Runs this sweep in a child, returns its status; if JAX aborts the child (a peer died or
    never joined), removes its staging folder and says so. SIGINT and SIGTERM reach the child
    (killed 1.5 s later if still there); if this process dies, the child's stdin closes."""
    root = str(Path(__file__).resolve().parent.parent)  # where `experiments` is importable
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    child = subprocess.Popen([sys.executable, "-m", "experiments.sweep", *argv],
                             env=dict(os.environ, PYTHONPATH=path, JLINNET_SWEEP_CHILD="1"),
                             stdin=subprocess.PIPE, start_new_session=True)
    stopped = []

    def forward(signum, frame):  # while JAX holds the child in its join, Python cannot stop it
        stopped.append(signum)
        child.send_signal(signum)
        threading.Timer(1.5, child.kill).start()

    _cli.on_stop(forward)
    if (status := child.wait()) >= 0:
        return status
    for folder in _cli.Staged(out).dir.parent.glob(f".jlinnet-staging-{child.pid}-*"):
        shutil.rmtree(folder, ignore_errors=True)
    if stopped:  # killed after 1.5 s: stopped all the same
        _cli.stop(stopped[0], None)
    raise _cli.Failure(f"{signal.Signals(-status).name} ended this process; JAX's distributed"
                       " runtime does so when a process of the run dies, stops answering, or"
                       " does not join within --timeout; nothing was written")


def _join(args):
    """Joins the run; process 0 first checks that it can serve the port (exit 2 if another
    program or run has it: never join a stranger's run)."""
    host, port = args.coordinator.rpartition(":")[::2]
    if args.process_id == 0:
        try:
            with socket.socket(socket.getaddrinfo(host, port)[0][0]) as s:
                s.bind((host, int(port)))
        except OSError as err:
            raise _cli.Failure(f"--coordinator {args.coordinator}: cannot serve the run there"
                               f" ({err.strerror}); pick a free port", 2) from None
        print(f"process 0: coordinating the run on {args.coordinator}", flush=True)

    def orphaned(fd=os.dup(0)):  # the supervisor's pipe: b"" once it has died
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
    if args.coordinator:
        _join(args)
    _cli.use_compilation_cache(args.no_cache)
    lead = jax.process_index() == 0
    lrs = np.geomspace(args.lr_min, args.lr_max, args.lrs)
    seeds = list(range(args.seed, args.seed + args.seeds))
    mesh = jax.make_mesh((jax.device_count(),), ("k",)) if jax.device_count() > 1 else None
    xs = jl.grid(_cli.GRID_POINTS)
    targets = {"2x + 3": jl.linear_target(xs), "2 sin x + 5": jl.sine_target(xs)}
    keys = [("2x + 3", None, h) for h in args.hidden] + [
        ("2 sin x + 5", a, h) for a in args.activation for h in args.hidden]
    where = f"{jax.device_count()} device(s) of {jax.process_count()} process(es)"
    print(f"{len(lrs)} learning rates from {lrs[0]:g} to {lrs[-1]:g} x {len(seeds)} seeds,"
          f" {args.steps} steps, batch {args.batch_size}, --rng {args.rng}; {len(keys)} grids"
          f" on {where}" if lead else f"process {jax.process_index()}: training its share of"
          f" the networks on {where}; process 0 writes the results", flush=True)
    runs = {}
    for target, activation, h in keys:  # compile every grid, and refuse what cannot fit
        net, starts = seed_networks(seeds, (1, h, 1), args.steps, args.batch_size,
                                    activation=activation, rng=args.rng)
        program = _sweep.lower(net, xs, targets[target], starts, lrs.astype(np.float32),
                               batchsize=args.batch_size, mesh=mesh).compile()
        _cli.check_memory(program, SMALLER)
        runs[target, activation, h] = net, targets[target], starts, program
    with _cli.Staged(args.out) if lead else nullcontext() as out:
        tables = {key: train_sweep(net, xs, ys, starts, lrs, program=program)
                  for key, (net, ys, starts, program) in runs.items()}
        if lead:  # 2x + 3: where curvature says SGD diverges, beside where it did
            grids = [_grid(key, t, seeds, stability(runs[key][0], xs, runs[key][1], t)
                           if key[0] == "2x + 3" else None) for key, t in tables.items()]
            w, b = jl.least_squares(xs, ys := targets["2 sin x + 5"])
            findings = _report(grids, float(jl.mse(xs @ w + b[None, :], ys)), args)
            _save(out, args, seeds, lrs, grids, findings)
    if args.coordinator:
        jax.distributed.shutdown()  # every process waits here until process 0 has written
    return 0


def _grid(key, table, seeds, stability):
    """A grid's findings, then its table: an entry of results.json's `grids`."""
    errors = np.where(diverged(table), np.inf, table.errors)
    i, j = np.unravel_index(np.argmin(errors), errors.shape)
    best = dict(J=errors[i, j], lr=table.lrs[i], seed=seeds[j]) if errors[i, j] < np.inf else None
    return dict(target=key[0], activation=key[1] or "none", hidden=key[2],
                restores=lr_range(table, GOAL), restores_every_seed=lr_range(table, GOAL, 1.0),
                divergence_lr=divergence_lr(table), diverged=diverged(table), best=best,
                stability=stability, errors=table.errors, nonfinite_step=table.nonfinite_step)


def _report(grids, line, args):
    """Prints a row per grid, the sine without activation against the least-squares line's J
    (`line`), and a stability row per hidden size; returns the findings."""
    linear = [g["best"]["J"] for g in grids
              if g["best"] and (g["target"], g["activation"]) == ("2 sin x + 5", "none")]
    lrs = lambda r: f"lr {r[0]:.3g} to {r[1]:.3g}" if r else "none"  # noqa: E731
    lr = lambda v: "none" if v is None else f"{v:.3g}"  # noqa: E731
    row = "  {:<12}{:<11}{:>6}  {:<24}{:<24}{:>10}{:>18}{:>9}".format
    print(f"\nfinal full-grid J over {args.seeds} seeds per learning rate (diverged: inf);"
          f" restored: J < {GOAL:g} after {args.steps} steps")
    print(row("target", "activation", "hidden", "restored, median seed", "restored, every seed",
              "lowest J", "diverges from lr", "diverged"))
    for g in grids:
        print(row(g["target"], g["activation"], g["hidden"], lrs(g["restores"]),
                  lrs(g["restores_every_seed"]), f"{g['best']['J']:.4g}" if g["best"] else "-",
                  lr(g["divergence_lr"]), g["diverged"].sum()))
    if linear:
        print(f"2 sin x + 5 without activation: {'one network' if min(linear) < line else 'none'}"
              f" ends below the least-squares line's J = {line:.6g}; the lowest is J ="
              f" {min(linear):.6g}")
    spread = lambda p: f"{p['median']:.3g} [{p['min']:.3g}, {p['max']:.3g}]"  # noqa: E731
    ratio = lambda r: "-" if r is None else f"{r:.2f}"  # noqa: E731
    row = "  {:>6}  {:<26}{:>6}  {:<36}{:>6}{:>18}".format
    print("\n2x + 3, where SGD should diverge: lr = 2/lambda_max of the full-grid J, median"
          " [min, max] over seeds,\nat init and trained at the largest rate where no seed"
          " diverged; ratio: median / the first rate where a seed diverged")
    print(row("hidden", "at init", "ratio", "trained (at lr)", "ratio", "diverges from lr"))
    for g in grids:
        if s := g["stability"]:
            t = s["predicted_trained"]
            print(row(g["hidden"], spread(s["predicted_init"]), ratio(s["ratio"]["init"]),
                      f"{spread(t)} ({t['lr']:.3g})" if t else "-", ratio(s["ratio"]["trained"]),
                      lr(s["first_divergence"])))
    return dict(least_squares_J=line, sine_linear_lowest_J=min(linear, default=None),
                sine_linear_below_line=bool(linear and min(linear) < line))


def _edges(ax, rows):
    """On a sweep's lower panel, a row per `stability`, in its hidden size's colour: 2/lambda_max
    at init (open circle at the median, a bar from min to max), trained (diamond), and the
    first rate where a seed diverged (a tick)."""
    from jlinnet import plot

    ax.get_gridspec().set_height_ratios((2.2, 1.3))  # room for the rows
    marks = [dict(marker="o", mfc="white", label="2/λ_max at init: median, min to max"),
             dict(marker="D", label="2/λ_max trained below the edge"),
             dict(marker="|", ms=12, mew=2.5, label="first rate where a seed diverged")]
    for i, (s, y) in enumerate(zip(rows, np.linspace(0.85, 0.2, len(rows)))):
        c, key = plot.COLOURS[i % 9], dict(label=None)
        for p, dy, mark in ((s["predicted_init"], 0.05, marks[0]),
                            (s["predicted_trained"], -0.05, marks[1])):
            if p:
                bar = [[p["median"] - p["min"]], [p["max"] - p["median"]]]
                ax.errorbar(p["median"], y + dy, xerr=bar, color=c, ms=4, lw=1, capsize=2,
                            **mark | key)
        if s["first_divergence"]:
            ax.plot(s["first_divergence"], y, color=c, **marks[2] | key)
    for mark in marks:  # the keys, in grey
        ax.plot([], [], color="0.3", linestyle="", **mark)
    ax.legend(loc="upper left", fontsize=7)


def _save(out, args, seeds, lrs, grids, findings):
    """Writes sweep.png (2x + 3), sweep_sine.png and results.json into `out`."""
    from jlinnet import plot

    title = f"{len(seeds)} seeds, {args.steps} steps, batch {args.batch_size}"
    lines = {"2x + 3": dict(goal=(GOAL, "restored")),
             "2 sin x + 5": dict(floor=(findings["least_squares_J"], "least-squares line"))}
    for name, target in (("sweep.png", "2x + 3"), ("sweep_sine.png", "2 sin x + 5")):
        mine = [g for g in grids if g["target"] == target]  # a colour per size, a dash per
        errors = {(f"hidden {g['hidden']}", "no activation" if g["activation"] == "none"
                   else g["activation"]): g["errors"] for g in mine}  # activation
        fig = plot.sweep(lrs, errors, title=f"f(x) = {target}: {title}", **lines[target])
        if rows := [g["stability"] for g in mine if g["stability"]]:
            _edges(fig.axes[1], rows)
        fig.savefig(out / name, dpi=110)
    text = json.dumps(dict(  # NumPy arrays and scalars as lists and numbers
        steps=args.steps, batch_size=args.batch_size, rng=args.rng, seeds=seeds, lrs=lrs,
        hidden=args.hidden, goal=GOAL, least_squares_J=findings["least_squares_J"],
        findings=findings, grids=grids), default=lambda a: a.tolist())
    _cli.write_json(out / "results.json", json.loads(  # strict: NaN and inf as null; 7 digits
        text, parse_constant=lambda c: None, parse_float=lambda s: float(f"{float(s):.7g}")))
    print("wrote " + ", ".join(str(p) for p in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
