"""What every experiment shares: its flags, its output folder, its exit statuses.

`main` runs an experiment and returns its exit status: 0 done; 1 the run failed (one line:
what, and what to try); 2 a bad flag (one line, before any work); 130 interrupted (Ctrl-C or
SIGTERM). A run writes its files into a `Staged` folder and publishes them into --out only
once all are written, so a failed or interrupted run leaves --out as it found it.
Copy this file for a run of your own.
"""

import argparse
import contextlib
import fcntl
import gc
import json
import math
import os
import resource
import shutil
import signal
import sys
from pathlib import Path

GRID_POINTS = 1000  # the tutorial's X = linspace(-3, 3, 1000)


class Failure(Exception):
    """The run failed: exit 1 with this one-line message (what happened, what to try)."""

    status = 1


class BadFlag(Failure):
    """A flag that cannot work, found outside argparse (an --out that cannot be written): exit 2."""

    status = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(name, doc, writes):
    """The flag parser of `python -m experiments.NAME`; `--help` ends with `writes`."""
    return _Parser(prog=f"python -m experiments.{name}", description=doc.splitlines()[0],
                   epilog=writes)


def checked(convert, ok, need):
    """An argparse `type=`: `convert(text)`, accepted if `ok(value)`, else "must be `need`"."""

    def check(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")
        return value

    return check


positive_int = checked(int, lambda v: v >= 1, "an integer >= 1")
positive_float = checked(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
seed = checked(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
batch_size = checked(int, lambda v: 1 <= v < GRID_POINTS,
                     f"an integer in [1, {GRID_POINTS - 1}] (a window of the grid's {GRID_POINTS})")
out_path = checked(lambda text: Path(text) if text else None, bool, "a path")


def tutorial_flags(p):
    """--hidden, --steps, --batch-size, --lr: the tutorial's network and training, its values."""
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


class Staged:
    """A run's files, written into a staging folder and published into `out` all together.

    Entering the `with` block makes the staging folder (a `BadFlag` if it cannot) in the
    deepest folder that exists on the way to `out` (`out` itself if it exists), so it is on
    `out`'s filesystem and a file moves into `out` by a rename. `staged / name` is where to
    write `name`; `publish()` moves every file into `out` in the order they were named;
    leaving the block removes the staging folder. Only publishing touches `out`, and only
    the files this run wrote.
    """

    def __init__(self, out, flag="--out"):
        self.out, self.flag, self.names, self.published = Path(out), flag, [], False
        base = next(p for p in (self.out, *self.out.parents) if p.exists())
        self.dir = base / f".jlinnet-staging-{os.urandom(6).hex()}"  # named before it exists

    def __enter__(self):
        try:
            self.dir.mkdir()
            return self
        except OSError as err:
            raise BadFlag(f"{self.flag}: cannot write into {self.out} ({err.strerror})") from None
        except BaseException:  # a stop between mkdir and the `with` block
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def __truediv__(self, name):
        if STOPS:  # a stop that Python swallowed (see `main`) still ends the run
            raise KeyboardInterrupt(STOPS[0])
        self.names.append(name)
        return self.dir / name

    def __exit__(self, kind, err, tb):
        try:
            shutil.rmtree(self.dir, ignore_errors=True)
        except KeyboardInterrupt:  # the first stop, during the clean-up: finish it
            shutil.rmtree(self.dir, ignore_errors=True)  # (later stops are ignored)
            kind = KeyboardInterrupt
            if not self.published:
                raise
        # The files are all in place: a stop that comes now is too late to undo them.
        return kind is KeyboardInterrupt and self.published

    def publish(self):
        """Moves the staged files into `out` (made if missing); returns their paths.

        One run publishes into a folder at a time (a lock on it), so two runs on one `out`
        leave the files of the last to publish, whole. A replaced file is first linked
        into the staging folder, so that an error or a signal half-way puts it back.
        """
        if STOPS:
            raise KeyboardInterrupt(STOPS[0])
        self.out.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.out, os.O_RDONLY)
        moved = []
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for name in self.names:
                if (self.out / name).exists():
                    os.link(self.out / name, self.dir / f".old-{name}")
                moved.append(name)
                os.replace(self.dir / name, self.out / name)
            self.published = True
        except BaseException:
            for name in moved:  # put back what was there; remove what was not
                old = self.dir / f".old-{name}"
                if old.exists():
                    os.replace(old, self.out / name)
                else:
                    (self.out / name).unlink(missing_ok=True)
            raise
        finally:
            os.close(lock)  # releases the lock
        return [self.out / name for name in self.names]


def write_json(path, data):
    """Writes `data` as strict JSON: NaN and Infinity are not JSON, so they raise ValueError."""
    Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def free_memory():
    """Bytes this process can still allocate: RAM available, and what `ulimit -v` leaves."""
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvail"))
    except (OSError, StopIteration):
        return math.inf  # not Linux: unknown, so not checked
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit != resource.RLIM_INFINITY:
        with open("/proc/self/statm") as f:  # the address space in use, in pages
            free = min(free, limit - int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE"))
    return free


def check_memory(needed, smaller):
    """Refuses a run that needs more than the free memory (exit 1); `smaller` says what to try."""
    free = free_memory()
    if needed > free:
        raise Failure(f"this run needs about {needed / 2**30:.1f} GiB of memory and"
                      f" {max(free, 0) / 2**30:.1f} GiB is free; try {smaller}")


def use_compilation_cache(off=False, min_free=64 * 2**20):
    """Turns on JAX's persistent compilation cache, so a second run loads its program.

    In $JAX_COMPILATION_CACHE_DIR if set, else $XDG_CACHE_HOME/jlinnet/jax or
    ~/.cache/jlinnet/jax. Off with `off`, with JAX_ENABLE_COMPILATION_CACHE=false, and
    while its disk has less than `min_free` bytes free: JAX writes an entry in place,
    so a full disk would leave a truncated one that every later run warns about and
    compiles again. Returns the cache folder, or None when off.
    """
    import jax

    folder = jax.config.jax_compilation_cache_dir or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jlinnet" / "jax")
    base = next(p for p in (Path(folder), *Path(folder).parents) if p.exists())
    full = shutil.disk_usage(base).free < min_free
    if off or full or not jax.config.jax_enable_compilation_cache:
        if jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # cache every program
    return Path(folder)


STOPS = []  # the Ctrl-C / SIGTERM this run received, kept in case Python swallowed one
_holding = 0  # > 0 inside `held_stops`


def _stop(signum, frame):
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)  # one is enough: clean up undisturbed
    STOPS.append(signal.Signals(signum).name)
    if not _holding:
        raise KeyboardInterrupt(STOPS[0])


@contextlib.contextmanager
def held_stops():
    """Holds a Ctrl-C or SIGTERM back to the end of the block: import jax or matplotlib in
    one, as an import of a C extension (jaxlib's) that a stop cuts short can crash Python."""
    global _holding
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
    if STOPS and not _holding:
        raise KeyboardInterrupt(STOPS[0])


def _unraisable(info):
    # Python swallows an exception raised in a finaliser or a gc callback (JAX has one); a
    # stop swallowed there is in STOPS and ends the run at its next file, so stay silent.
    if not isinstance(info.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(info)


def main(name, run, argv, smaller="a smaller run"):
    """Runs `run(argv)` as `python -m experiments.NAME`; returns its exit status.

    `run` parses `argv` (argparse exits 2 on a bad flag, 0 after --help), does the work and
    returns 0, or raises `Failure`. Ctrl-C and SIGTERM, a failed write and a lack of memory
    end it with one line too; `smaller` says what to try then. Call it from the main thread.
    """
    prog = f"python -m experiments.{name}"
    STOPS.clear()
    handlers = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    try:
        return run(argv)
    except SystemExit as exit_:  # argparse: --help, or a bad flag (already reported)
        return exit_.code
    except BaseException as err:
        if STOPS or isinstance(err, KeyboardInterrupt):  # also an import it interrupted
            name = (STOPS or [str(err) or "SIGINT"])[0]
            status, line = 130, f"interrupted ({name}); nothing was written"
        elif isinstance(err, Failure):
            status, line = err.status, f"error: {err}"
        elif isinstance(err, OSError):  # a write failed: disk full, permissions, ...
            status, line = 1, (f"error: {err.strerror or err} ({err.filename}); nothing was"
                               " written; free some space or write elsewhere")
        elif isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err):  # XLA's
            status, line = 1, f"error: out of memory; nothing was written; try {smaller}"
        else:
            raise  # a bug: the traceback is the report
        print(f"{prog}: {line}", file=sys.stderr)
        return status
    finally:
        sys.unraisablehook = hook
        for s, handler in handlers.items():
            signal.signal(s, handler)


def end(status):
    """Ends the process with `status`, the last line of `if __name__ == "__main__":`.

    The run is over, so a stop is ignored from here on; and Python skips its final garbage
    collection (`gc.freeze`), a third of a second with JAX and matplotlib loaded.
    """
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    gc.freeze()
    sys.exit(status)
