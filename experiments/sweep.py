"""Sweep one hyperparameter x seeds x hidden sizes x activations, on each target.

Which values restore each target (J < 0.01), where training diverges, how both move with the
hidden size, and whether a network without activation ever beats the least-squares line (it
cannot: it is one affine map). Network (i, j) starts from seed j with the swept hyperparameter
at values[i]; a grid's P x seeds networks are one `jl.train_many` call, scored by their
full-grid J; a diverged network is data, not a failure; each seed's own edge is defined where
it is printed (`_report_edges`). Several processes or hosts: the same command on each, with
--coordinator HOST:PORT --num-processes N --process-id I.
"""

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import nullcontext
from pathlib import Path

import jax
import numpy as np
import optax
from jax._src import distributed

import jlinnet as jl
from experiments import _cli, _figures, _run

GOAL = 1e-2  # "restored": the full-grid J below this
SMALLER = "fewer --seeds, --range points or --steps"
LOCAL = ("out", "no_cache", "coordinator", "num_processes", "process_id", "timeout")  # per process
WRITES = ("Writes into --out (process 0 only), together once the run has succeeded: results.json"
          " (experiment, spec: every flag, each hyperparameter's value; over, values, seeds, goal,"
          " findings per target: least_squares_J, linear_lowest_J, linear_below_line; grids: per"
          " target, activation and hidden its label, least_squares_J, restores,"
          " restores_every_seed, diverges_from, best (J, value, seed), edges[j] (seed j's own"
          " edge; null: none), predicted[j] (2/lambda_max at its start; plain SGD's rate only),"
          " ratio (predicted/edge: median, worst), diverged[i][j], errors[i][j] (the final J of"
          " values[i], seeds[j]; null: diverged), nonfinite_step[i][j] (-1: none)) and"
          " sweep_TARGET.png per target (final J against the swept values per hidden size and"
          " activation, median and quartiles over seeds; below, the fraction diverged and the"
          " edges). `python -m experiments.plot` redraws the figures from results.json.")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("sweep", SMALLER) as end:
        args, base = _parse(argv)
        if args.coordinator and os.environ.get("JLINNET_SWEEP_CHILD") != "1":
            return _supervise(sys.argv[1:] if argv is None else argv, args.out)
        specs = [dataclasses.replace(base, target=t, activation=a, hidden=h)
                 for t in args.target for a in args.activation for h in args.hidden]
        k = args.range[2] * args.seeds  # networks per grid, a compiled program each
        _cli.check_memory(max(_run.bytes_needed(s, k) for s in specs) + _cli.PROGRAM * (
            len(specs) - 1), SMALLER)
        try:
            _sweep(args, base, specs)
        except (ValueError, jax.errors.JaxRuntimeError) as err:  # a peer gone mid-collective
            if not args.coordinator:
                raise
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
            raise _cli.Failure(f"the run failed across processes: {first}") from None
    return end.status


def _address(text):  # HOST:PORT
    host, _, port = text.rpartition(":")
    return host and port.isdigit() and 0 < int(port) < 65536


def _parse(argv):
    """(args, the spec they share), checked before any work: a bad flag exits 2, one line."""
    p, pos = _cli.parser("sweep", __doc__, WRITES), _cli.positive_int
    _run.add_flags(p, many=("target", "activation", "hidden"), target=["linear", "sine"],
                   activation=["none", "tanh"], hidden=[1, 2, 8, 32])
    add = p.add_argument
    add("--over", default="learning_rate", help="the hyperparameter swept: learning_rate, a"
        " numeric one of the optimizer's (momentum, b1, ...) or wscale; default learning_rate")
    add("--range", type=_cli.positive_float, nargs=3, default=[1e-4, 1.0, 33.0],
        metavar=("MIN", "MAX", "POINTS"), help="POINTS values log-spaced from MIN to MAX;"
        " default 1e-4 1 33 (8 a decade, with 0.01)")
    add("--seeds", type=pos, default=32, help="seeds per value: --seed and the next; default 32")
    _cli.out_flags(p, "results/sweep")
    add("--coordinator", type=_cli.checked(str, _address, "HOST:PORT"), metavar="HOST:PORT",
        help="where process 0 serves the run (jax.distributed); with the next two")
    add("--num-processes", type=pos, help="processes in the run")
    add("--process-id", type=int, help="this process, 0 .. N-1; 0 writes the files")
    add("--timeout", type=_cli.checked(int, lambda t: 1 <= t <= 3600, "1 to 3600 seconds"),
        default=60, help="seconds to wait for a process to join or answer; default 60")
    a = p.parse_args(argv)
    a.target, a.activation = list(dict.fromkeys(a.target)), list(dict.fromkeys(a.activation))
    (lo, hi, n), a.hidden, base = a.range, sorted(set(a.hidden)), _run.spec_of(a)
    names = sorted({*_run.hyperparams(base), "wscale"})
    for bad, line in [
        (not n.is_integer(), f"argument --range: POINTS must be an integer, got {n:g}"),
        (hi < lo or (n > 1 and hi == lo), f"argument --range: MAX must be larger than MIN, got"
         f" {lo:g} and {hi:g}"),
        (a.over not in names, f"argument --over: must be one of {', '.join(names)} (with"
         f" --optimizer {base.optimizer}), got {a.over!r}"),
        (a.seed + a.seeds > 2**32, f"--seed .. --seed + --seeds - 1 must lie in [0, 2**32), got"
         f" {a.seed} and {a.seeds} seeds"),
        (len({v is None for v in (a.coordinator, a.num_processes, a.process_id)}) > 1,
         "--coordinator, --num-processes and --process-id go together: give all three"),
        (a.process_id is not None and not 0 <= a.process_id < (a.num_processes or 1),
         f"--process-id must be in [0, --num-processes), got {a.process_id}")]:
        if bad:
            p.error(line)
    a.range[2] = int(n)
    return a, base


def _sweep(args, base, specs):
    """Joins the run (--coordinator), compiles every grid (refusing what cannot fit), trains
    them; process 0 reports and publishes."""
    if args.coordinator:
        _join(args)
    _cli.use_compilation_cache(args.no_cache)
    lead, (lo, hi, n) = jax.process_index() == 0, args.range
    values, seeds = np.geomspace(lo, hi, n), np.arange(args.seed, args.seed + args.seeds)
    mesh = jax.make_mesh((jax.device_count(),), ("k",)) if jax.device_count() > 1 else None
    where = f"{jax.device_count()} device(s) of {jax.process_count()} process(es)"
    print(f"{n} values of {args.over} from {lo:g} to {hi:g} x {len(seeds)} seeds, {base.steps}"
          f" steps, batch {base.batch_size}, {base.optimizer}, --rng {base.rng}; {len(specs)}"
          f" grids on {where}" if lead else f"process {jax.process_index()}: training its share"
          f" of the networks on {where}; process 0 writes the results", flush=True)
    programs = [_run.compile_grid(s, args.over, n, len(seeds), mesh) for s in specs]
    with _cli.Staged(args.out) if lead else nullcontext() as out:
        grids = [_run.train_grid(s, args.over, values, seeds, p) for s, p in zip(specs, programs)]
        if lead:
            results = _strict(dict(
                experiment="sweep", spec=_run.record(base), over=args.over, values=values,
                seeds=seeds, goal=GOAL, grids=[_entry(s, args.over, g, seeds)
                                               for s, g in zip(specs, grids)]))
            results |= dict(findings=_report(results),
                            files=["results.json", *_figures.names(results)])
            _cli.write_json(out / "results.json", results)
            _figures.draw(out, out.dir, results)
            out.publish()
    if args.coordinator:
        jax.distributed.shutdown()  # every process waits here until process 0 has written


def _strict(data):
    """`data` as JSON has it: arrays as lists, NaN and inf as null, numbers to 7 digits."""
    text = json.dumps(data, default=lambda a: a.tolist())
    return json.loads(text, parse_constant=lambda c: None,
                      parse_float=lambda s: float(f"{float(s):.7g}"))


def restored(grid, below, q=0.5):
    """(smallest, largest) value of the widest run of neighbouring values whose q-quantile J
    over the seeds (diverged: inf) is below `below`, or None. The quantile is one a seed
    reached (method "higher"): at least a fraction q of the seeds end at or below it."""
    order = np.argsort(grid.values)
    values, errors = grid.values[order], np.where(_run.diverged(grid), np.inf, grid.errors)[order]
    passing = np.quantile(errors, q, axis=1, method="higher") < below
    edges = np.flatnonzero(np.diff(np.r_[0, passing, 0]))  # where runs start, end, start, ..
    if not edges.size:
        return None
    widest = np.argmax(edges[1::2] - edges[::2])
    return float(values[edges[2 * widest]]), float(values[edges[2 * widest + 1] - 1])


def first_divergence(grid, fraction=0.0):
    """The smallest value at which more than `fraction` of the seeds diverged, or None."""
    hit = _run.diverged(grid).mean(axis=1) > fraction
    return float(np.min(grid.values[hit])) if hit.any() else None


def _entry(spec, over, grid, seeds):
    """A grid's findings, then its table: an entry of results.json's `grids`."""
    lost, edges = _run.diverged(grid), _run.seed_edges(grid)
    errors = np.where(lost, np.inf, grid.errors)
    i, j = np.unravel_index(np.argmin(errors), errors.shape)
    xs, ys = _run.problem(spec)
    w, b = jl.least_squares(xs, ys)
    predicted, ratio = None, None
    if over == "learning_rate" and _run.OPTIMIZERS[spec.optimizer] is optax.sgd:  # plain SGD
        with np.errstate(divide="ignore"):  # lambda_max <= 0: no edge predicted, inf
            predicted = 2 / np.maximum(grid.sharpness.astype(np.float64), 0)
        if (r := (predicted / edges)[np.isfinite(predicted / edges)]).size:
            ratio = dict(median=np.median(r), worst=r[np.argmax(np.abs(np.log(r)))])
    return dict(target=spec.target, label=_run.TARGETS[spec.target][0],
                activation=spec.activation, hidden=spec.hidden,
                least_squares_J=jl.mse(xs @ w + b[None, :], ys), restores=restored(grid, GOAL),
                restores_every_seed=restored(grid, GOAL, 1.0), diverges_from=first_divergence(grid),
                best=dict(J=errors[i, j], value=grid.values[i], seed=seeds[j])
                if np.isfinite(errors[i, j]) else None, edges=edges, predicted=predicted,
                ratio=ratio, diverged=lost, errors=grid.errors, nonfinite_step=grid.nonfinite_step)


def _report(results):
    """Prints a row per grid, each target's networks without activation against its
    least-squares line (where a line cannot restore it), and the edges; returns the findings."""
    over, grids, goal = results["over"], results["grids"], results["goal"]
    span = lambda r: f"{r[0]:.3g} to {r[1]:.3g}" if r else "none"  # noqa: E731
    g3 = lambda v: "none" if v is None else f"{v:.3g}"  # noqa: E731
    row = "  {:<14}{:<11}{:>6}  {:<22}{:<22}{:>10}{:>15}{:>9}".format
    print(f"\nfinal full-grid J over {len(results['seeds'])} seeds per value of {over} (diverged:"
          f" inf); restored: J < {goal:g} after {results['spec']['steps']} steps")
    print(row("target", "activation", "hidden", "restored, median", "restored, every seed",
              "lowest J", "diverges from", "diverged"))
    for g in grids:
        print(row(g["label"], g["activation"], g["hidden"], span(g["restores"]),
                  span(g["restores_every_seed"]), g3(g["best"] and g["best"]["J"]),
                  g3(g["diverges_from"]), sum(map(sum, g["diverged"]))))
    findings = {}
    for target in results["spec"]["target"]:
        mine = [g for g in grids if g["target"] == target]
        low = [g["best"]["J"] for g in mine if g["best"] and g["activation"] == "none"]
        line = mine[0]["least_squares_J"]
        findings[target] = dict(least_squares_J=line, linear_lowest_J=min(low, default=None),
                                linear_below_line=bool(low and min(low) < line))
        if low and line >= goal:
            which = "one network" if min(low) < line else "none"
            print(f"f(x) = {mine[0]['label']} without activation: {which} ends below the"
                  f" least-squares line's J = {line:.6g}; the lowest is J = {min(low):.6g}")
    _report_edges(over, grids)
    return findings


def _report_edges(over, grids):
    """Prints each grid's seeds' own edges on the swept axis, median [min, max], and for the
    learning rate 2/lambda_max at the start beside them (ratio per seed: median, worst)."""
    def spread(v):
        v = np.array(v or [], float)
        v = v[np.isfinite(v)]
        return f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]" if v.size else "-"

    print(f"\neach seed's own edge: the smallest {over} at which its run went non-finite or ended"
          " above its starting J;\nmedian [min, max] over the seeds with one" + (
              "; beside it 2/lambda_max at the start and the ratio predicted/edge per seed"
              if any(g["predicted"] for g in grids) else ""))
    row = "  {:<14}{:<11}{:>6}  {:<26}{:>8}  {:<26}{:>7}{:>7}".format
    print(row("target", "activation", "hidden", "own edge", "no edge", "2/lambda_max", "median",
              "worst"))
    for g in grids:
        r = g["ratio"] or {}
        print(row(g["label"], g["activation"], g["hidden"], spread(g["edges"]),
                  sum(e is None for e in g["edges"]), spread(g["predicted"]),
                  *(f"{r[k]:.2f}" if k in r else "-" for k in ("median", "worst"))))


def _supervise(argv, out):
    """Runs this sweep in a child, returns its status; if JAX aborts the child (a peer died or
    never joined), removes its staging folder and says so in one line, JAX's log left out.
    SIGINT and SIGTERM reach the child (killed 1.5 s later if still there); if this process
    dies, the child's stdin closes."""
    root = str(Path(__file__).resolve().parent.parent)  # where `experiments` is importable
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "experiments.sweep", *argv], stderr=err,
                                 env=dict(os.environ, PYTHONPATH=path, JLINNET_SWEEP_CHILD="1"),
                                 stdin=subprocess.PIPE, start_new_session=True)
        stopped = []

        def forward(signum, frame):  # while JAX holds the child in its join, Python can't stop it
            stopped.append(signum)
            child.send_signal(signum)
            threading.Timer(1.5, child.kill).start()

        _cli.on_stop(forward)
        status = child.wait()
        err.seek(0)
        if status >= 0:  # the child's own lines, not JAX's log (E0123 12:34:56.789 ...)
            sys.stderr.write("".join(s for s in err if not re.match(r"[EWIF]\d{4} ", s)))
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
    program or run has it: never join a stranger's run). Then every process's flags against
    process 0's (`_same_flags`)."""
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
    _same_flags(args)


def _same_flags(args):
    """Each process posts its flags (but the per-process ones, `LOCAL`) to JAX's key-value
    store; once all have, each compares every process's with process 0's. Where one differs,
    every process leaves the run cleanly and ends with exit 2 naming the flag: never two
    programs in one collective."""
    client, ms = distributed.global_state.client, args.timeout * 1000
    flags = {k: v for k, v in sorted(vars(args).items()) if k not in LOCAL}
    client.key_value_set(f"jlinnet/flags/{args.process_id}", json.dumps(flags, default=str))
    client.wait_at_barrier("jlinnet/flags", ms)
    runs = [json.loads(client.blocking_key_value_get(f"jlinnet/flags/{i}", ms))
            for i in range(args.num_processes)]
    for i, theirs in enumerate(runs):
        if differ := [k for k in runs[0] if theirs[k] != runs[0][k]]:
            jax.distributed.shutdown()
            flag, shown = "--" + differ[0].replace("_", "-"), lambda v: " ".join(  # noqa: E731
                map(str, v)) if isinstance(v, list) else v
            raise _cli.Failure(f"process {i} has {flag} {shown(theirs[differ[0]])} and process 0"
                               f" {flag} {shown(runs[0][differ[0]])}: every process of a run"
                               " needs the same flags; nothing was written", 2)


if __name__ == "__main__":
    _cli.script(main)
