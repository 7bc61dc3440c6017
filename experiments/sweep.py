"""Sweep the tutorial's network over learning rates x seeds x hidden sizes, on both targets.

Which learning rates restore 2x + 3 in 100 steps, where SGD diverges, how both move with the
hidden size, and whether the network without activation ever beats the least-squares line on
2 sin x + 5 (it cannot: it is one affine map). Network (i, j) starts from seed j and trains
with rate lrs[i]: theta_{t+1} = theta_t - lrs[i] dJ/dtheta; the K = L x seeds networks of a
grid are one `jl.train_many` call (the rates travel in the optimizer state), scored by their
full-grid J. A diverged network is data, not a failure. Several processes or hosts: the same
command on each, with --coordinator HOST:PORT --num-processes N --process-id I.
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
WRITES = ("Writes into --out (process 0 only), all together once the run has succeeded:"
          " sweep.png (final full-grid J against the learning rate on 2x + 3: median and"
          " quartiles over seeds, a line per hidden size, the fraction diverged), sweep_sine.png"
          " (the same on 2 sin x + 5, with the least-squares line) and results.json (every"
          " network's J, null where it diverged, and the findings).")


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
    """Trains every (rate, seed) pair in one call (`program`: `_sweep.lower(...).compile()`);
    net: one per seed (`seed_networks`); xs, ys: (N, 1); starts: (seeds, S); lrs: (L,);
    settings: batchsize, grads, mesh (every device of every process). Returns the `Sweep`."""
    out = (program or functools.partial(_sweep, **settings))(net, xs, ys, starts,
                                                             np.asarray(lrs, np.float32))
    if not _cli.wait(out)[0].is_fully_addressable:  # spread over processes: gather it all
        out = multihost_utils.process_allgather(out, tiled=True)
    rows = lambda a: np.asarray(a).reshape(len(lrs), -1, *a.shape[1:])  # noqa: E731
    return Sweep(np.asarray(lrs), rows(out[0]), rows(out[1]), jax.tree.map(rows, out[2]))


def diverged(table):
    """(L, seeds) bool: the network's run or its final J was not finite."""
    return (table.nonfinite_step >= 0) | ~np.isfinite(table.errors)


def seed_quantile(table, q=0.5):
    """(L,) the q-quantile over seeds of the final J, diverged as +inf; one the seeds reached
    (method "higher"): at least a fraction q end at or below it."""
    errors = np.where(diverged(table), np.inf, table.errors)
    return np.quantile(errors, q, axis=1, method="higher")


def lr_range(table, below, q=0.5):
    """(smallest, largest) lr of the widest run of neighbouring rates (sorted) whose q-quantile
    J is below `below` (q = 0.5: half the seeds; 1: every seed); None if no rate passes."""
    order = np.argsort(table.lrs)
    edges = np.flatnonzero(np.diff(np.r_[0, seed_quantile(table, q)[order] < below, 0]))
    if not edges.size:
        return None
    first, end = edges[::2], edges[1::2]  # where runs of passing rates start and end
    widest, lrs = np.argmax(end - first), table.lrs[order]
    return float(lrs[first[widest]]), float(lrs[end[widest] - 1])


def divergence_lr(table, fraction=0.0):
    """The smallest lr at which more than `fraction` of the seeds diverged, or None."""
    hit = diverged(table).mean(axis=1) > fraction
    return float(np.min(table.lrs[hit])) if hit.any() else None


_sharpness = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))  # K networks' lambda_max


def stability(net, xs, ys, table):
    """Where SGD should diverge, by curvature: gradient descent on a quadratic with curvature
    lambda diverges beyond lr = 2 / lambda. 2 / lambda_max of the full-grid J (`jl.sharpness`),
    median, min and max over the seeds, at initialisation (`net`, one per seed) and for the
    networks `table` trained at the largest rate below its first divergence (every seed finite
    there; None if there is none), beside that measured first divergence and the ratios of the
    medians to it (None without one). One compiled call per network shape."""
    first, n = divergence_lr(table), len(table.errors[0])
    below = np.flatnonzero(table.lrs < (np.inf if first is None else first))
    i = below[np.argmax(table.lrs[below])] if below.size else None
    nets = net if i is None else jax.tree.map(lambda a, b: np.concatenate([a, b[i]]), net,
                                              table.params)
    lam = np.asarray(_sharpness(nets, xs, ys), np.float64)
    edge = np.where(lam > 0, 2 / np.where(lam > 0, lam, 1), np.inf)  # lambda <= 0: no edge
    spread = lambda e: dict(median=np.median(e), min=e.min(), max=e.max())  # noqa: E731
    init = spread(edge[:n])
    trained = None if i is None else spread(edge[n:]) | dict(lr=float(table.lrs[i]))
    ratio = {k: None if p is None or first is None else p["median"] / first
             for k, p in (("init", init), ("trained", trained))}
    return dict(predicted_init=init, predicted_trained=trained, first_divergence=first,
                ratio=ratio)


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
    a = p.parse_args(argv)
    host, _, port = (a.coordinator or "h:1").rpartition(":")
    for bad, line in [
        (a.lr_max < a.lr_min or (a.lrs > 1 and a.lr_max == a.lr_min),
         f"--lr-max must be larger than --lr-min, got {a.lr_max} and {a.lr_min}"),
        (a.seed + a.seeds > 2**32, f"--seed .. --seed + --seeds - 1 must lie in [0, 2**32), got"
         f" {a.seed} and {a.seeds} seeds"),
        (len({v is None for v in (a.coordinator, a.num_processes, a.process_id)}) > 1,
         "--coordinator, --num-processes and --process-id go together: give all three"),
        (not (host and port.isdigit() and 0 < int(port) < 65536),
         f"--coordinator must be HOST:PORT, got {a.coordinator!r}"),
        (a.process_id is not None and not 0 <= a.process_id < (a.num_processes or 1),
         f"--process-id must be in [0, --num-processes), got {a.process_id}"),
        (not 1 <= a.timeout <= 3600, f"--timeout must be 1 to 3600 seconds, got {a.timeout}")]:
        if bad:
            p.error(line)
    a.hidden = sorted(set(a.hidden))
    a.activation = [None if x == "none" else x for x in dict.fromkeys(a.activation)]
    return a


def _run(argv):
    args = _parse(argv)
    if args.coordinator and os.environ.get("JLINNET_SWEEP_CHILD") != "1":
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
    """Runs this sweep in a child process; returns its status. The one promise JAX cannot keep:
    when a peer dies or never joins, JAX 0.10 aborts the process (SIGABRT, which Python cannot
    catch); here its staging folder is removed and a last line says so. SIGINT and SIGTERM
    reach the child (killed 1.5 s later if it has not ended); if this process dies, so does
    the child (its stdin closes)."""
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
    """Joins the run (`jax.distributed.initialize`); process 0 first checks that it can serve
    the port (exit 2 if another program or run has it: never join a stranger's run)."""
    host, port = args.coordinator.rpartition(":")[::2]
    if args.process_id == 0:
        with socket.socket(socket.getaddrinfo(host, port)[0][0]) as s:
            try:
                s.bind((host, int(port)))
            except OSError as err:
                raise _cli.Failure(f"--coordinator {args.coordinator}: cannot serve the run"
                                   f" there ({err.strerror}); pick a free port", 2) from None
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
    print(f"{len(lrs)} learning rates from {lrs[0]:g} to {lrs[-1]:g} x {len(seeds)} seeds,"
          f" {args.steps} steps, batch {args.batch_size}, --rng {args.rng}; {len(grids)} grids"
          f" on {where}" if lead else f"process {jax.process_index()}: training its share of"
          f" the networks on {where}; process 0 writes the results", flush=True)
    runs = {}
    for target, activation, h in grids:  # compile every grid, and refuse what cannot fit
        net, starts = seed_networks(seeds, (1, h, 1), args.steps, args.batch_size,
                                    activation=activation, rng=args.rng)
        program = _sweep.lower(net, xs, targets[target], starts, lrs.astype(np.float32),
                               batchsize=args.batch_size, mesh=mesh).compile()
        _cli.check_memory(program, "fewer --seeds, --lrs or --steps")
        runs[target, activation, h] = (net, targets[target], starts, program)
    with _cli.Staged(args.out) if lead else nullcontext() as out:
        tables = {grid: train_sweep(net, xs, ys, starts, lrs, program=program)
                  for grid, (net, ys, starts, program) in runs.items()}
        w, b = jl.least_squares(xs, targets["2 sin x + 5"])
        line = float(jl.mse(xs @ w + b[None, :], targets["2 sin x + 5"]))
        if lead:  # 2x + 3: where curvature says SGD diverges, beside where it did
            edges = {g: stability(runs[g][0], xs, runs[g][1], t) for g, t in tables.items()
                     if g[0] == "2x + 3"}
            findings = _findings(tables, seeds, line, edges)
            _report(findings, args.steps, len(seeds))
            _save(out, args, seeds, tables, findings)
    if args.coordinator:
        jax.distributed.shutdown()  # every process waits here until process 0 has written
    return 0


def _findings(tables, seeds, line, edges):
    """Per grid: the rates that restore it (median and every seed), where divergence starts,
    how many diverged, the best network, its `stability` (`edges`, else None); across grids,
    the sine without activation's best."""
    grids = []
    for (target, activation, h), t in tables.items():
        errors = np.where(diverged(t), np.inf, t.errors)
        i, j = np.unravel_index(np.argmin(errors), errors.shape)
        best = dict(J=errors[i, j], lr=t.lrs[i], seed=seeds[j]) if errors[i, j] < np.inf else None
        grids.append(dict(target=target, activation=activation or "none", hidden=h,
                          restores=lr_range(t, GOAL), restores_every_seed=lr_range(t, GOAL, 1.0),
                          divergence_lr=divergence_lr(t), diverged=diverged(t).sum(), best=best,
                          stability=edges.get((target, activation, h))))
    linear = [g["best"]["J"] for g in grids if g["target"] == "2 sin x + 5"
              and g["activation"] == "none" and g["best"]]
    return dict(grids=grids, least_squares_J=line, sine_linear_lowest_J=min(linear, default=None),
                sine_linear_below_line=bool(linear and min(linear) < line))


def _report(findings, steps, n_seeds):
    """Prints one row per grid, then the findings in words."""
    lrs = lambda r: f"lr {r[0]:.3g} to {r[1]:.3g}" if r else "none"  # noqa: E731
    print(f"\nfinal full-grid J over {n_seeds} seeds per learning rate (diverged: inf);"
          f" restored: J < {GOAL:g} after {steps} steps")
    print(f"  {'target':<12}{'activation':<11}{'hidden':>6}  {'restored, median seed':<24}"
          f"{'restored, every seed':<24}{'lowest J':>10}{'diverges from lr':>18}{'diverged':>9}")
    for g in findings["grids"]:
        best = f"{g['best']['J']:.4g}" if g["best"] else "-"
        edge = "none" if g["divergence_lr"] is None else f"{g['divergence_lr']:.3g}"
        print(f"  {g['target']:<12}{g['activation']:<11}{g['hidden']:>6}  {lrs(g['restores']):<24}"
              f"{lrs(g['restores_every_seed']):<24}{best:>10}{edge:>18}{g['diverged']:>9}")
    low, ls = findings["sine_linear_lowest_J"], findings["least_squares_J"]
    if low is not None:
        verdict = "one network ends" if findings["sine_linear_below_line"] else "none ends"
        print(f"2 sin x + 5 without activation: {verdict} below the least-squares line's J ="
              f" {ls:.6g};"
              f" the lowest is J = {low:.6g}")
    edges = [g for g in findings["grids"] if g["stability"]]
    spread = lambda p: f"{p['median']:.3g} [{p['min']:.3g}, {p['max']:.3g}]"  # noqa: E731
    ratio = lambda r: "-" if r is None else f"{r:.2f}"  # noqa: E731
    if edges:
        print("\n2x + 3, where SGD should diverge: lr = 2/lambda_max of the full-grid J, median"
              " [min, max] over seeds,\nat init and trained at the largest rate where no seed"
              " diverged; ratio: median / the first rate where a seed diverged")
        print(f"  {'hidden':>6}  {'at init':<26}{'ratio':>6}  {'trained (at lr)':<36}{'ratio':>6}"
              f"{'diverges from lr':>18}")
    for g in edges:
        s, first = g["stability"], g["stability"]["first_divergence"]
        trained = s["predicted_trained"]
        at = f"{spread(trained)} ({trained['lr']:.3g})" if trained else "-"
        print(f"  {g['hidden']:>6}  {spread(s['predicted_init']):<26}"
              f"{ratio(s['ratio']['init']):>6}  {at:<36}{ratio(s['ratio']['trained']):>6}"
              f"{'none' if first is None else f'{first:.3g}':>18}")


def _edges(ax, grids):
    """On a sweep's lower panel, a row per grid with `stability`, in its hidden size's colour:
    2/lambda_max at init (open circle at the median, a bar from min to max) and trained
    (diamond), and the rate where a seed first diverged (a tick)."""
    from matplotlib.lines import Line2D

    from jlinnet import plot

    rows = [(plot.COLOURS[i % 9], g["stability"]) for i, g in enumerate(grids) if g["stability"]]
    if not rows:
        return
    ax.get_gridspec().set_height_ratios((2.2, 1.3))  # room for the rows
    marks = [dict(marker="o", mfc="white", label="2/λ_max at init: median, min to max"),
             dict(marker="D", label="2/λ_max trained below the edge"),
             dict(marker="|", ms=12, mew=2.5, label="first rate where a seed diverged")]
    for (c, s), y in zip(rows, np.linspace(0.85, 0.2, len(rows))):
        for p, dy, mark in ((s["predicted_init"], 0.05, marks[0]),
                            (s["predicted_trained"], -0.05, marks[1])):
            if p:
                bar = [[p["median"] - p["min"]], [p["max"] - p["median"]]]
                ax.errorbar(p["median"], y + dy, xerr=bar, color=c, ms=4, lw=1, capsize=2,
                            **mark | dict(label=None))
        if s["first_divergence"]:
            ax.plot(s["first_divergence"], y, color=c, **marks[2] | dict(label=None))
    ax.legend(handles=[Line2D([], [], color="0.3", linestyle="", **m) for m in marks],
              loc="upper left", fontsize=7)


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

    curves, lrs = {}, next(iter(tables.values())).lrs
    for (target, activation, h), t in tables.items():  # a colour per size, a dash per activation
        curves.setdefault(target, {})[f"hidden {h}", activation or "no activation"] = t.errors
    title = f"{len(seeds)} seeds, {args.steps} steps, batch {args.batch_size}"
    lines = {"sweep.png": ("2x + 3", dict(goal=(GOAL, "restored"))), "sweep_sine.png": (
        "2 sin x + 5", dict(floor=(findings["least_squares_J"], "least-squares line")))}
    for name, (target, line) in lines.items():
        if target in curves:
            fig = plot.sweep(lrs, curves[target], title=f"f(x) = {target}: {title}", **line)
            _edges(fig.axes[1], [g for g in findings["grids"] if g["target"] == target])
            fig.savefig(out / name, dpi=110)
    grids = [g | dict(errors=t.errors, diverged=diverged(t), nonfinite_step=t.nonfinite_step)
             for g, t in zip(findings["grids"], tables.values())]
    _cli.write_json(out / "results.json", _json(dict(
        steps=args.steps, batch_size=args.batch_size, rng=args.rng, seeds=seeds, lrs=lrs,
        hidden=args.hidden, goal=GOAL, least_squares_J=findings["least_squares_J"],
        note="errors[i][j]: final full-grid J of the network with lrs[i] and seeds[j]; null where"
        " it diverged (diverged[i][j]; nonfinite_step[i][j] >= 0: the first step whose loss was"
        " not finite, steps if only the final weights were); stability (2x + 3 only, else null):"
        " lr = 2/lambda_max of each seed's full-grid J (jl.sharpness), median, min and max over the"
        " seeds, at initialisation (predicted_init) and for the networks trained at the largest"
        " rate below first_divergence, where no seed diverged (predicted_trained, that rate as"
        " lr); first_divergence: the smallest rate where a seed diverged; ratio: each median over"
        " it",
        findings={k: v for k, v in findings.items() if k != "grids"}, grids=grids)))
    print("wrote " + ", ".join(str(p) for p in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
