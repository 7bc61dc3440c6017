"""One run on several processes or hosts, with `jax.distributed`: flags, start, supervision.

Start the same command once per process, each with its own --process-id:

    python -m experiments.sweep --coordinator HOST:PORT --num-processes N --process-id I

(or JAX's own JAX_COORDINATOR_ADDRESS, with JAX finding the rest under SLURM, Open MPI or
Kubernetes). Every process then sees every device of every process (`jax.devices()`),
each trains its share of the networks, and process 0 gets the whole table and writes.

JAX's runtime ends every process of a run when one of them dies (after --timeout, when
it stops answering), with a fatal multi-line log and SIGABRT, which Python cannot catch.
So the process you start only supervises: it runs the experiment in a child process,
passes its output through and turns such an end into one line and exit status 1.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CHILD_ENV = "JLINNET_DISTRIBUTED_CHILD"


def add_flags(p):
    """--coordinator, --num-processes, --process-id, --timeout."""
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="address of process 0, where the processes meet (jax.distributed;"
                   " also $JAX_COORDINATOR_ADDRESS)")
    p.add_argument("--num-processes", type=int, help="processes in the run (with --coordinator)")
    p.add_argument("--process-id", type=int, help="this process, 0 .. N-1; 0 writes the files")
    p.add_argument("--timeout", type=int, default=60,
                   help="seconds to wait for every process to join, and for a silent one"
                   " before the run ends (default 60)")


def check_flags(p, args):
    """Parser errors (exit 2) for distributed flags that cannot work; True if distributed."""
    given = [args.coordinator, args.num_processes, args.process_id]
    if all(v is None for v in given) and not os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return False
    host, _, port = (args.coordinator or "").rpartition(":")
    if args.coordinator is not None and not (host and port.isdigit() and 0 < int(port) < 65536):
        p.error(f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
    if args.num_processes is not None and args.num_processes < 1:
        p.error(f"--num-processes must be >= 1, got {args.num_processes}")
    if args.process_id is not None and not 0 <= args.process_id < (args.num_processes or 2**31):
        p.error(f"--process-id must be in [0, --num-processes), got {args.process_id}")
    if args.timeout < 1:
        p.error(f"--timeout must be >= 1 second, got {args.timeout}")
    return True


def supervise(prog, argv):
    """Runs `python -m experiments.PROG argv` in a child and returns its exit status.

    Its stdout passes through, but for gloo's "[Gloo] Rank ... connected" lines; its
    stderr is shown when it ends. If JAX ended it (a signal), one line says so instead.
    SIGINT and SIGTERM to this process reach the child; if this process dies, so does
    the child.
    """
    root = str(Path(__file__).resolve().parent.parent)  # where `experiments` is importable
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path, **{CHILD_ENV: "1"})
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", f"experiments.{prog}", *argv], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                 start_new_session=True)  # a Ctrl-C reaches it once, from here
        previous = {s: signal.signal(s, lambda s, f: child.send_signal(s))
                    for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for line in child.stdout:
                if not line.startswith(b"[Gloo] "):
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
            status = child.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        err.seek(0)
        log = err.read().decode(errors="replace")
    if status >= 0:
        sys.stderr.write(log)
        return status
    mine = [line for line in log.splitlines() if line.startswith(f"python -m experiments.{prog}")]
    if "RegisterTask" in log:
        reason = "not every process joined within --timeout (check --coordinator, --num-processes)"
    elif "another task died" in log:
        reason = "another process of the run died or stopped answering"
    else:
        reason = f"it was stopped by {signal.Signals(-status).name}"
    print(mine[-1] if mine else f"python -m experiments.{prog}: error: JAX's distributed runtime"
          f" ended this process: {reason}; the run did not finish", file=sys.stderr)
    return 1


def is_child():
    """True in the child `supervise` started: the process that runs the experiment."""
    return os.environ.get(CHILD_ENV) == "1"


def run(body, args):
    """Joins the run, then returns `body(args)`; JAX's errors become a one-line `Failure`."""
    from experiments._cli import Failure

    try:
        initialize(args)
    except Exception as err:  # a coordinator address that cannot be used, ...
        raise Failure(f"cannot join the run at {args.coordinator}: {_first_line(err)}") from None
    import jax

    try:
        return body(args)
    except jax.errors.JaxRuntimeError as err:  # a collective whose peer is gone, ...
        raise Failure(f"the run failed across processes: {_first_line(err)}") from None


def _first_line(err):
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def initialize(args):
    """Joins the run (`jax.distributed.initialize`); call it before any other JAX work.

    Also ends this process when its supervisor dies (its stdin closes), so that a
    killed run leaves no process behind.
    """
    def orphaned(fd=os.dup(0)):  # the raw pipe: a read of sys.stdin would block its exit
        while os.read(fd, 1024):  # b"" once the supervisor's end of the pipe closes
            pass
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPUs: collectives by TCP
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                               initialization_timeout=args.timeout,
                               heartbeat_timeout_seconds=args.timeout)
