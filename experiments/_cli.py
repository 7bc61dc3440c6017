"""What the experiments share: flags, a staged output folder, exit statuses, signals, memory.

Exit statuses: 0 done; 1 the run failed (one line: what, and what to try); 2 a bad flag (one
line, before any work); 130 stopped by Ctrl-C or SIGTERM. A run writes its files into a
`Staged` folder and publishes them into --out together once all are written, so a failed or
stopped run leaves --out as it was. An experiment's `main` reads top to bottom, as
`experiments/linear.py`'s does: `with Ending(...) as end:` (each ending -> a status and one
line), parse (a bad flag is 2), `check_memory` (before XLA starts), write into a `Staged`
folder, `publish` (all or nothing), `return end.status`; `script(main)` runs it as the process.
Copy this file for a run of your own."""

import argparse
import contextlib
import errno
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
INT_MAX = 2**31 - 1  # the largest step count, size or index an int32 holds
# Address space that starting XLA's CPU client, compiling, running and drawing a small run take
# beyond the imports: measured 0.42-0.44 GiB on 2 cores (22 threads of 8 MiB stacks); a thread
# more per core (tests/test_experiments.py measures it).
START = (448 + 8 * (os.cpu_count() or 1)) * 2**20
PROGRAM = 16 * 2**20  # what each further compiled program keeps (measured 12 MiB, small runs)


class Failure(Exception):
    """The run failed: exit `status` (2 for a bad flag) with this one-line message."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser(name, doc, writes):  # `--help` ends with what the run writes
    return _Parser(prog=f"python -m experiments.{name}", description=doc.splitlines()[0],
                   epilog=f"{writes} Exit status: 0 done, 1 the run failed, 2 a bad flag, 130"
                   " stopped (Ctrl-C, SIGTERM).")


def checked(convert, ok, need):
    """An argparse `type=`: `convert(text)` if `ok` of it, else "must be `need`"."""

    def check(text):
        with contextlib.suppress(ValueError):
            if ok(value := convert(text)):
                return value
        raise argparse.ArgumentTypeError(f"must be {need}, got {text!r}")

    return check


positive_int = checked(int, lambda v: 1 <= v <= INT_MAX, "an integer in [1, 2**31 - 1]")
positive_float = checked(float, lambda v: 0 < v < 3.4e38, "a number > 0, finite in float32")
seed = checked(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
batch_size = checked(int, lambda v: 1 <= v < GRID_POINTS,
                     f"an integer in [1, {GRID_POINTS - 1}] (a window of the grid's {GRID_POINTS})")
out_path = checked(lambda text: Path(text) if text else None, bool, "a path")


def out_flags(p, out):  # where a run's files go
    p.add_argument("--out", type=out_path, default=Path(out),
                   help=f"folder for the files (made if missing; default {out})")
    p.add_argument("--no-cache", action="store_true", help="no persistent compilation cache")


STAGING, PUBLISHED = [], []  # this process's staging folders; those it began to publish


class Staged:
    """A run's files, written as `staged / name` into `.jlinnet-staging-PID-RANDOM` in the
    deepest folder on the way to `out` (a rename moves from there into `out`), made on entering
    the `with` block (exit 2 if it cannot), removed on leaving it. Only `publish` touches `out`."""

    def __init__(self, out, flag="--out"):
        self.out, self.flag, self.names = Path(out), flag, []
        base = next(p for p in (self.out, *self.out.parents) if p.exists())
        self.dir = base / f".jlinnet-staging-{os.getpid()}-{os.urandom(4).hex()}"

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
        """Moves the files into `out` (made if missing) and prints their paths. One run at a
        time (a lock file in the temp folder, named by `out`'s path): of two runs the last wins,
        whole. A file replaced is first linked into the staging folder, so that an error
        half-way puts it back. From here on, a stop is too late and a closed stdout is no
        failure: the run has succeeded."""
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
        print("wrote " + ", ".join(str(self.out / name) for name in self.names))


def write_json(path, data):
    """Writes `data` as strict JSON: NaN and Infinity are not JSON, so they raise ValueError."""
    Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def free_memory():
    """Bytes free: RAM available, and what `ulimit -v` leaves (Linux; elsewhere unknown: inf).
    Under such a limit it also caps glibc's malloc arenas at one: XLA's threads would each
    reserve 64 MiB of address space, and XLA aborts where a reservation fails."""
    with contextlib.suppress(OSError, ImportError):
        import resource  # Unix only
        free = int(Path("/proc/meminfo").read_text().split("MemAvailable:")[1].split()[0]) * 1024
        if (limit := resource.getrlimit(resource.RLIMIT_AS)[0]) != resource.RLIM_INFINITY:
            pages = int(Path("/proc/self/statm").read_text().split()[0])  # address space in use
            free = min(free, limit - pages * os.sysconf("SC_PAGE_SIZE"))
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                ctypes.CDLL(None).mallopt(-8, 1)  # M_ARENA_MAX = 1
        return free
    return math.inf


def check_memory(needed, smaller, start=START):
    """Refuses (exit 1) a run that needs more than is free: `needed` bytes and, before XLA
    starts, `start` for starting it (0 once it has: `compiled_bytes`)."""
    if (needed := needed + start) > (free := free_memory()):
        raise Failure(f"this run needs about {needed / 2**30:.1f} GiB of memory and"
                      f" {max(free, 0) / 2**30:.1f} GiB is free; try {smaller}")


def compiled_bytes(compiled):
    """Bytes a compiled program needs, by XLA's own count: its arguments, outputs and
    temporaries, and a host copy of arguments and outputs (for `check_memory` once compiled)."""
    m = compiled.memory_analysis()
    io = m.argument_size_in_bytes + m.output_size_in_bytes
    return m.temp_size_in_bytes + m.generated_code_size_in_bytes + 2 * io


def wait(tree):
    """`tree` once computed, polled every 50 ms: a signal handler runs meanwhile (never in XLA)."""
    import jax

    while not all(a.is_ready() for a in jax.tree.leaves(tree)):
        time.sleep(0.05)
    return tree


def use_compilation_cache(off=False, min_free=64 * 2**20):
    """Turns on JAX's compilation cache ($JAX_COMPILATION_CACHE_DIR or ~/.cache/jlinnet/jax);
    returns it, or None: `off`, or under `min_free` bytes free (a truncated entry would stay)."""
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


class Ending:
    """`with Ending(name, smaller) as end:` a run; then `end.status`: 0, or how the block ended
    as one line on stderr: argparse's exit (2, already reported), `Failure`, a failed write
    (1), a closed stdout (0 once published, else 1), a lack of memory (1; `smaller`: what to
    try), Ctrl-C in-process (130). Anything else is a bug: its traceback is the report."""

    def __init__(self, name, smaller="a smaller run"):
        self.name, self.smaller, self.status = name, smaller, 0

    def __enter__(self):
        return self

    def __exit__(self, kind, err, trace):
        if kind is None or kind is SystemExit:  # argparse: --help, or a bad flag (reported)
            self.status = 0 if kind is None else err.code
            return True
        if isinstance(err, OSError) and err.errno == errno.EPIPE and PUBLISHED:
            return True  # stdout closed once the files were out: the run succeeded
        if kind is KeyboardInterrupt:  # Ctrl-C, when `main` is called in-process
            self.status, line = 130, "interrupted; nothing was written"
        elif kind is Failure:
            self.status, line = err.status, f"error: {err}"
        elif isinstance(err, OSError) and err.errno == errno.EPIPE:  # before publishing
            self.status, line = 1, "error: stdout was closed; nothing was written"
        elif isinstance(err, OSError):  # a write failed: disk full, permissions, ...
            where = f" ({err.filename})" if err.filename else ""
            self.status, line = 1, (f"error: {err.strerror or err}{where}; nothing was written;"
                                    " free some space or write elsewhere")
        elif kind is MemoryError or "RESOURCE_EXHAUSTED" in str(err):  # XLA's
            self.status, line = 1, f"error: out of memory; nothing was written; try {self.smaller}"
        else:
            return False
        print(f"python -m experiments.{self.name}: {line}", file=sys.stderr)
        return True


def stop(signum, frame):
    """Ctrl-C, SIGTERM: unless publishing has begun, remove the staging folders, exit 130."""
    if not PUBLISHED:
        for folder in STAGING:
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        spec = sys.modules["__main__"].__spec__  # None for `python path/to/file.py`
        prog = f"python -m {spec.name}" if spec else " ".join(sys.argv[:1])
        name = signal.Signals(signum).name
        os.write(2, f"{prog}: interrupted ({name}); nothing was written\n".encode())
        os._exit(130)


def on_stop(handler=stop):
    """Installs `handler` for SIGINT and SIGTERM, but where they are ignored (`cmd &`)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, handler)


def script(main):
    """Runs `main()` as the process (`experiments/__init__.py` installed `stop` before any
    import). Once it returns, its status stands: stops are ignored, a closed stdout too, and
    `os._exit` spares Python a last garbage collection (a third of a second with JAX loaded)
    and JAX its exit barrier across processes, which a failed run's peers never reach."""
    on_stop()
    status = main()
    on_stop(signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    os._exit(status)
