"""What the experiments share: flags, a staged output folder, exit statuses, signals.

Exit statuses: 0 done; 1 the run failed (one line: what, and what to try); 2 a bad flag
(one line, before any work); 130 stopped by Ctrl-C or SIGTERM. A run writes its files into
a `Staged` folder and publishes them into --out together, once all are written, so a
failed or stopped run leaves --out as it found it. Copy this file for a run of your own.
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from filelock import FileLock

GRID_POINTS = 1000  # the tutorial's X = linspace(-3, 3, 1000)
STATUSES = "Exit status: 0 done, 1 the run failed, 2 a bad flag, 130 stopped (Ctrl-C, SIGTERM)."


class Failure(Exception):
    """The run failed: exit `status` (2 for a bad flag) with this one-line message."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(name, doc, writes):
    """The flags of `python -m experiments.NAME`; `--help` ends with what it writes."""
    return _Parser(prog=f"python -m experiments.{name}", description=doc.splitlines()[0],
                   epilog=f"{writes} {STATUSES}")


def checked(convert, ok, need):
    """An argparse `type=`: `convert(text)` if `ok` of it, else "must be `need`"."""

    def check(text):
        with contextlib.suppress(ValueError):
            if (value := convert(text)) is not None and ok(value):
                return value
        raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")

    return check


positive_int = checked(int, lambda v: v >= 1, "an integer >= 1")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
seed = checked(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
batch_size = checked(int, lambda v: 1 <= v < GRID_POINTS,
                     f"an integer in [1, {GRID_POINTS - 1}] (a window of the grid's {GRID_POINTS})")
out_path = checked(lambda text: Path(text) if text else None, bool, "a path")


def tutorial_flags(p):
    """--hidden, --steps, --batch-size, --lr, with the tutorial's values as defaults."""
    p.add_argument("--hidden", type=positive_int, default=2, help="hidden neurons (tutorial: 2)")
    p.add_argument("--steps", type=positive_int, default=100, help="training steps (tutorial: 100)")
    p.add_argument("--batch-size", type=batch_size, default=1,
                   help="rows of the grid per step, a window at a random start (tutorial: 1)")
    p.add_argument("--lr", type=positive_float, default=0.01,
                   help="SGD learning rate (tutorial: 0.01)")


def run_flags(p, out):
    """--seed, --rng, --out, --no-cache: where a jlinnet run starts, where its files go."""
    p.add_argument("--seed", type=seed, default=4321, help="random seed (tutorial: 4321)")
    p.add_argument("--rng", choices=("tutorial", "jax"), default="tutorial",
                   help="tutorial: weights and batches replayed from the tutorial's NumPy seed;"
                   " jax: drawn from jax.random.key(seed)")
    p.add_argument("--out", type=out_path, default=Path(out),
                   help=f"folder for the files (made if missing; default {out})")
    p.add_argument("--no-cache", action="store_true",
                   help="do not use JAX's persistent compilation cache for this run")


STAGING, PUBLISHED = [], []  # this process's staging folders; those it began to publish


def staging_base(out):
    """The deepest folder that exists on the way to `out`: on its filesystem, a rename moves."""
    return next(p for p in (Path(out), *Path(out).parents) if p.exists())


class Staged:
    """A run's files, written into a staging folder, then published into `out` together.

    Entering the `with` block makes `staging_base(out)/.jlinnet-staging-PID-RANDOM` (exit 2
    if it cannot); `staged / name` is where to write `name`; leaving the block removes the
    staging folder. Only `publish` touches `out`.
    """

    def __init__(self, out, flag="--out"):
        self.out, self.flag, self.names = Path(out), flag, []
        self.dir = staging_base(out) / f".jlinnet-staging-{os.getpid()}-{os.urandom(4).hex()}"

    def __enter__(self):
        STAGING.append(self.dir)  # before it exists: a stop removes it (see `stop`)
        try:
            self.dir.mkdir()
        except OSError as err:
            STAGING.remove(self.dir)
            raise Failure(f"{self.flag}: cannot write into {self.out} ({err.strerror})", 2)
        return self

    def __truediv__(self, name):
        self.names.append(name)
        return self.dir / name

    def __exit__(self, *exception):
        shutil.rmtree(self.dir, ignore_errors=True)
        STAGING.remove(self.dir)

    def publish(self):
        """Moves the files into `out` (made if missing) in the order named; returns their paths.

        One run publishes into a folder at a time (a lock file in the temp folder, named by
        `out`'s full path), so of two runs on one `out` the last to publish wins, whole. A
        file replaced is first linked into the staging folder, so that an error half-way
        puts it back. From here on, a stop is too late.
        """
        PUBLISHED.append(self.dir)
        self.out.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(str(self.out.resolve()).encode()).hexdigest()[:16]
        moved = []
        try:
            with FileLock(Path(tempfile.gettempdir(), f"jlinnet-publish-{key}.lock")):
                for name in self.names:
                    if (self.out / name).exists():
                        os.link(self.out / name, self.dir / f".old-{name}")
                    moved.append(name)
                    os.replace(self.dir / name, self.out / name)
        except BaseException:
            for name in moved:  # put back what was there; remove what was not
                if (old := self.dir / f".old-{name}").exists():
                    os.replace(old, self.out / name)
                else:
                    (self.out / name).unlink(missing_ok=True)
            PUBLISHED.remove(self.dir)
            raise
        return [self.out / name for name in self.names]


def write_json(path, data):
    """Writes `data` as strict JSON: NaN and Infinity are not JSON, so they raise ValueError."""
    Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def free_memory():
    """Bytes this process may still take: RAM available, and what `ulimit -v` leaves (Linux;
    elsewhere unknown: inf)."""
    with contextlib.suppress(OSError, ImportError):
        import resource  # Unix only

        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if "MemAvailable" in line)
        if (limit := resource.getrlimit(resource.RLIMIT_AS)[0]) != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:  # the address space in use, in pages
                free = min(free, limit - int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE"))
        return free
    return math.inf


def check_memory(compiled, smaller):
    """Refuses (exit 1) a compiled program that needs more bytes than are free, by XLA's own
    count: its arguments, outputs and temporaries, and a host copy of arguments and outputs."""
    m = compiled.memory_analysis()
    io = m.argument_size_in_bytes + m.output_size_in_bytes
    needed = m.temp_size_in_bytes + m.generated_code_size_in_bytes + 2 * io
    if needed > (free := free_memory()):
        raise Failure(f"this run needs about {needed / 2**30:.1f} GiB of memory and"
                      f" {max(free, 0) / 2**30:.1f} GiB is free; try {smaller}")


def wait(tree):
    """Returns `tree` (JAX arrays) once computed, polling every 50 ms: Python runs a signal
    handler between its own instructions only, never while XLA blocks it."""
    import jax

    while not all(a.is_ready() for a in jax.tree.leaves(tree)):
        time.sleep(0.05)
    return tree


def use_compilation_cache(off=False, min_free=64 * 2**20):
    """Turns on JAX's persistent compilation cache, so a second run loads its program.

    In $JAX_COMPILATION_CACHE_DIR if set, else $XDG_CACHE_HOME/jlinnet/jax or
    ~/.cache/jlinnet/jax. Off with `off`, with JAX_ENABLE_COMPILATION_CACHE=false, and while
    its disk has under `min_free` bytes free (JAX would leave a truncated entry). Returns the
    folder, or None when off.
    """
    import jax

    folder = Path(jax.config.jax_compilation_cache_dir or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "jlinnet", "jax"))
    if not off and jax.config.jax_enable_compilation_cache:
        with contextlib.suppress(OSError):  # a folder it cannot make: no cache
            folder.mkdir(parents=True, exist_ok=True)
            if shutil.disk_usage(folder).free >= min_free:
                jax.config.update("jax_compilation_cache_dir", str(folder))
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # all
                return folder
    if jax.config.jax_compilation_cache_dir:  # set by JAX_COMPILATION_CACHE_DIR
        jax.config.update("jax_enable_compilation_cache", False)
    return None


def main(name, run, argv, smaller="a smaller run"):
    """Runs `run(argv)` as `python -m experiments.NAME`; returns its exit status.

    `run` parses `argv` (argparse exits 2 on a bad flag, 0 after --help), does the work and
    returns 0, or raises `Failure`. A failed write, a lack of memory and Ctrl-C end it with
    one line too; `smaller` says what to try when memory runs out.
    """
    try:
        return run(argv)
    except SystemExit as exit_:  # argparse: --help, or a bad flag (already reported)
        return exit_.code
    except KeyboardInterrupt:  # Ctrl-C, when `main` is called in-process
        status, line = 130, "interrupted; nothing was written"
    except Failure as err:
        status, line = err.status, f"error: {err}"
    except OSError as err:  # a write failed: disk full, permissions, ...
        where = f" ({err.filename})" if err.filename else ""
        status, line = 1, (f"error: {err.strerror or err}{where}; nothing was written;"
                           " free some space or write elsewhere")
    except Exception as err:
        if not isinstance(err, MemoryError) and "RESOURCE_EXHAUSTED" not in str(err):  # XLA's
            raise  # a bug: the traceback is the report
        status, line = 1, f"error: out of memory; nothing was written; try {smaller}"
    print(f"python -m experiments.{name}: {line}", file=sys.stderr)
    return status


def stop(signum, frame):
    """Ctrl-C or SIGTERM: remove the staging folders, one line, exit 130 at once, unless
    publishing has begun. (Raised as KeyboardInterrupt, a stop could land in jaxlib's import,
    which then crashes, or in a gc callback, where Python drops it.)"""
    if not PUBLISHED:
        for folder in STAGING:
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        spec = sys.modules["__main__"].__spec__  # None for `python path/to/file.py`
        prog = f"python -m {spec.name}" if spec else sys.argv[0]
        name = signal.Signals(signum).name
        os.write(2, f"{prog}: interrupted ({name}); nothing was written\n".encode())
        os._exit(130)


def on_stop(handler=stop):
    """Installs `handler` for SIGINT and SIGTERM, but where they are ignored (`cmd &`)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, handler)


def script(main):
    """Runs `main()` as the process: `if __name__ == "__main__": _cli.script(main)`.

    Once `main` returns, its status stands: stops are ignored from then on, and `os._exit`
    spares Python a last garbage collection (a third of a second with JAX loaded) and JAX
    its exit barrier across processes, which a failed run's peers would never reach.
    """
    on_stop()
    status = main()
    on_stop(signal.SIG_IGN)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
