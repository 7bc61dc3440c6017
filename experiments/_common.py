"""What the experiments share: flags, the output folder, whole-file writes, the compile cache,
and the tutorial's run trained by both gradient routes from one start."""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np
import optax

import jlinnet as jl

GRID_POINTS = 1000  # the tutorial's X = linspace(-3, 3, 1000)
CACHE_ENV = "JLINNET_CACHE_DIR"


class Failure(Exception):
    """A failed run the user can act on: a one-line message and an exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(prog, description, out):
    """The flags both experiments take, with the tutorial's values as defaults."""
    p = _Parser(prog=f"python -m experiments.{prog}", description=description)
    p.add_argument("--hidden", type=int, default=2, help="hidden neurons (tutorial: 2)")
    p.add_argument("--steps", type=int, default=100, help="training steps (tutorial: 100)")
    p.add_argument("--batch-size", type=int, default=1, help="rows per step (tutorial: 1)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (tutorial: 0.01)")
    p.add_argument("--seed", type=int, default=4321, help="random seed (tutorial: 4321)")
    p.add_argument(
        "--rng",
        choices=("tutorial", "jax"),
        default="tutorial",
        help="tutorial: weights and batches replayed from the tutorial's NumPy seed;"
        " jax: drawn from jax.random.key(seed)",
    )
    p.add_argument("--out", type=Path, default=Path(out), help=f"output folder (default {out})")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help=f"do not use JAX's persistent compilation cache (also: {CACHE_ENV}=off)",
    )
    return p


def parse(p, argv):
    """Parses and checks the flags before any JAX work; bad ones exit 2 with one line."""
    args = p.parse_args(argv)
    for flag, value in (("--hidden", args.hidden), ("--steps", args.steps)):
        if value < 1:
            p.error(f"{flag} must be >= 1, got {value}")
    if not 1 <= args.batch_size < GRID_POINTS:
        p.error(
            f"--batch-size must be >= 1 and smaller than the grid's {GRID_POINTS} points,"
            f" got {args.batch_size}"
        )
    if not (math.isfinite(args.lr) and args.lr > 0):
        p.error(f"--lr must be a finite number > 0, got {args.lr}")
    if not 0 <= args.seed < 2**32:
        p.error(f"--seed must be in [0, 2**32), got {args.seed}")
    return args


def enable_compilation_cache(disabled=False):
    """Turns on JAX's persistent compilation cache, so a second run skips compiling.

    The cache lives in $JLINNET_CACHE_DIR, else $XDG_CACHE_HOME/jlinnet/jax, else
    ~/.cache/jlinnet/jax. `--no-cache` or JLINNET_CACHE_DIR=off turns it off.
    Every program is cached, however quick it was to compile (the CPU ones are).

    Returns:
      The cache folder, or None when off.
    """
    path = os.environ.get(CACHE_ENV)
    if disabled or path == "off":
        return None
    if not path:
        home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(home) / "jlinnet" / "jax"
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return Path(path)


class OutDir:
    """The run's output folder, made and checked before training; files written whole.

    Used as a context manager: if the run fails, what it wrote is removed again, and
    so is the folder if the run made it.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.made = None  # the topmost folder this run created
        self.written = []

    def __enter__(self):
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.made = missing[-1] if missing else None
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as err:
            self._clean()
            raise Failure(f"--out {self.path}: cannot write there ({err.strerror or err})")
        return self

    def __exit__(self, kind, err, tb):
        if kind is not None:
            self._clean()

    def _clean(self):
        for path in self.written:
            path.unlink(missing_ok=True)
        if self.made is not None:
            shutil.rmtree(self.made, ignore_errors=True)

    def write(self, name, save):
        """Writes `name` whole: `save(tmp_path)` writes a temporary file, then it is renamed."""
        final = self.path / name
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            save(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private; give it the usual mode
            os.replace(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.written.append(final)
        return final

    def write_json(self, name, data):
        text = json.dumps(data, indent=2) + "\n"
        return self.write(name, lambda tmp: Path(tmp).write_text(text))

    def write_figure(self, name, fig):
        return self.write(name, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run_main(prog, body, argv):
    """Runs `body(argv)`; a `Failure` becomes one line on stderr and its exit status."""
    try:
        return body(argv)
    except SystemExit as exit_:  # argparse: --help, or a bad flag (already reported)
        return exit_.code
    except Failure as failure:
        print(f"python -m experiments.{prog}: error: {failure}", file=sys.stderr)
        return failure.status


# The tutorial trains its hand-written `Net` and the library's network from one start.
ROUTES = {"hand backprop": jl.manual_grads, "jax.grad + optax": jl.autodiff_grads}


def setup(args, sizes):
    """Initial params and batch starts, from the tutorial's NumPy seed or a JAX key."""
    if args.rng == "tutorial":
        return jl.tutorial_setup(sizes, args.steps, args.batch_size, seed=args.seed)
    k_init, k_batch = jax.random.split(jax.random.key(args.seed))
    params = jl.init_mlp(k_init, sizes)
    return params, jl.batch_starts(k_batch, args.steps, GRID_POINTS, args.batch_size)


def train_routes(args, xs, ys, activation=None):
    """Trains from one start and schedule by each route in `ROUTES`.

    Returns:
      (params, {route: TrainResult}); raises `Failure` naming the first step whose
      loss went non-finite.
    """
    params, starts = setup(args, (xs.shape[1], args.hidden, ys.shape[1]))
    sgd = optax.sgd(args.lr)
    results = {
        name: jl.train(params, xs, ys, starts, batchsize=args.batch_size, optimizer=sgd,
                       grads=grads, activation=activation)
        for name, grads in ROUTES.items()
    }
    bad = {name: int(r.nonfinite_step) for name, r in results.items() if r.nonfinite_step >= 0}
    if bad:
        name, step = min(bad.items(), key=lambda item: item[1])
        raise Failure(
            f"the loss became non-finite at step {step + 1} of {args.steps} ({name} route);"
            f" try a smaller --lr than {args.lr:g}"
        )
    return params, results


def print_progress(results, steps):
    """The batch error along the run, a line every ~10% of the steps (from the losses)."""
    losses = {name: np.asarray(r.losses) for name, r in results.items()}
    every = max(1, steps // 10)
    marks = sorted({1, *range(every, steps + 1, every), steps})
    width = len(str(steps))
    print("batch error J before each update:")
    print(f"  {'step':>{2 * width + 1}}" + "".join(f"  {name:>16}" for name in losses))
    for t in marks:
        print(f"  {t:>{width}}/{steps}" + "".join(f"  {l[t - 1]:>16.6g}" for l in losses.values()))


def max_difference(a, b):
    """The largest absolute difference between two params-shaped trees."""
    return float(max(np.max(np.abs(np.asarray(x) - np.asarray(y)))
                     for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))))


def line(w, b):
    """'y = w x + b' for a one-input, one-output affine map."""
    return f"y = {float(np.ravel(w)[0]):.6g} x {'+-'[float(b[0]) < 0]} {abs(float(b[0])):.6g}"


def run_record(args, target, **extra):
    """results.json: the run's inputs, then its results; no times, so runs compare byte for byte."""
    inputs = dict(target=target, hidden=args.hidden, steps=args.steps, batch_size=args.batch_size,
                  lr=args.lr, seed=args.seed, rng=args.rng)
    return inputs | extra


def train_and_report(args, xs, ys, activation=None):
    """Trains by both routes, prints the progress and the full-grid errors J.

    Returns:
      A dict: `before` (N, 1) and `after` {route: (N, 1)} predictions, `losses`
      {route: (S,)}, `params` (the jax.grad route's), and the numbers of results.json:
      `initial_error`, `final_error`, `manual_final_error`, `max_param_difference`.
    """
    params, results = train_routes(args, xs, ys, activation)
    print_progress(results, args.steps)
    before = jl.forward(params, xs, activation=activation)
    after = {name: jl.forward(r.params, xs, activation=activation) for name, r in results.items()}
    manual, auto = (results[name].params for name in ROUTES)
    run = dict(
        before=before,
        after=after,
        losses={name: r.losses for name, r in results.items()},
        params=auto,
        initial_error=float(jl.mse(before, ys)),
        final_error=float(jl.mse(after["jax.grad + optax"], ys)),
        manual_final_error=float(jl.mse(after["hand backprop"], ys)),
        max_param_difference=max_difference(manual, auto),
    )
    print(f"full-grid error J before training: {run['initial_error']:.6g}")
    print(
        f"full-grid error J after training:  {run['manual_final_error']:.6g} (hand backprop),"
        f" {run['final_error']:.6g} (jax.grad + optax)"
    )
    print(f"the two routes end {run['max_param_difference']:.3g} apart (largest parameter gap)")
    return run


def save(out, xs, ys, run, record, title):
    """Writes before_after.png, loss.png and results.json into `out`, each whole."""
    from jlinnet import plot  # matplotlib only once there is something to draw

    figure = plot.before_after(
        xs, ys, run["before"], run["after"], name="both routes (same start)", title=title
    )
    written = [out.write_figure("before_after.png", figure)]
    written.append(out.write_figure("loss.png", plot.loss_curve(run["losses"], title=title)))
    written.append(out.write_json("results.json", record))
    print("wrote " + ", ".join(str(path) for path in written))
