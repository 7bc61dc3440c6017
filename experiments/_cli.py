"""What the experiments share around the maths: flags, the output folder, whole-file writes,
the compilation cache, exit statuses."""

import argparse
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

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


def preload(*modules):
    """Imports `modules` in a background thread while the main thread compiles.

    matplotlib takes about as long to import as JAX takes to compile a run, and the
    compiler releases the GIL, so a thread overlaps the two. Call it after JAX and
    NumPy are imported (two threads must not import the same extension at once). A
    failure here is left for the main thread's own `import` to report.
    """

    def load():
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:
                return

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    return thread


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
    import jax

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
