"""The sweep across processes (`jax.distributed` on localhost, 2 CPU devices each): the same
table as one process with 4 devices; a process that dies ends the others with one line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

# 3 rates x 3 seeds = 9 networks per grid: padded to 12 on 4 devices; lr 3 diverges
FLAGS = ["--hidden", "2", "--seeds", "3", "--lrs", "3", "--lr-min", "1e-3", "--lr-max", "3",
         "--steps", "20", "--activation", "none", "--rng", "jax", "--no-cache"]


def _port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(out, devices, *flags):
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, "-m", "experiments.sweep", *FLAGS, "--out", str(out),
                             *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _processes(tmp_path, port, *flags):
    where = ["--coordinator", f"localhost:{port}", "--num-processes", "2", *flags]
    return [_start(tmp_path / f"p{i}", 2, *where, "--process-id", str(i)) for i in range(2)]


def test_two_processes_give_the_table_of_one_process_with_four_devices(tmp_path):
    one = _start(tmp_path / "one", 4)
    pair = _processes(tmp_path, _port())
    (out, err), (out0, err0), (out1, err1) = (p.communicate(timeout=120) for p in [one, *pair])
    assert [p.returncode for p in (one, *pair)] == [0, 0, 0], err + err0 + err1
    assert "4 device(s) of 1 process(es)" in out and "4 device(s) of 2 process(es)" in out0
    # The same programs on the same 4 devices: the same numbers, to the last digit written.
    assert (tmp_path / "one" / "results.json").read_text() == (
        tmp_path / "p0" / "results.json").read_text()
    table = [line for line in out.splitlines()[1:] if not line.startswith("wrote ")]
    assert table == [line for line in out0.splitlines()[1:] if not line.startswith("wrote ")]
    results = json.loads((tmp_path / "p0" / "results.json").read_text())
    assert any(any(row) for row in results["grids"][0]["diverged"])  # divergence is in the table
    assert out1.startswith("process 1: training its share") and out1.count("\n") == 1
    assert not (tmp_path / "p1").exists() and err0 == err1 == ""  # only process 0 writes


def test_a_process_that_dies_ends_the_other_with_one_line(tmp_path):
    """Kill the worker's JAX process (as an OOM kill would); kill the coordinator's
    supervising process only (its JAX process must follow it)."""
    runs = {victim: _processes(tmp_path / str(victim), _port(), "--timeout", "4", "--rng",
                               "tutorial") for victim in (1, 0)}
    killed = {}
    for victim, processes in runs.items():
        assert processes[victim].stdout.readline()  # it has started training
        if victim == 1:  # the child of the command started, which runs the sweep
            child = subprocess.run(["pgrep", "-P", str(processes[victim].pid)],
                                   capture_output=True, text=True).stdout.split()
            os.kill(int(child[0]), signal.SIGKILL)
        else:
            processes[victim].kill()
        killed[victim] = time.monotonic()
    for victim, processes in runs.items():
        survivor = processes[1 - victim]
        _, err = survivor.communicate(timeout=60)
        waited = time.monotonic() - killed[victim]
        assert survivor.returncode == 1, err
        assert err.count("\n") == 1 and "the run did not finish" in err, err
        assert "another process of the run died" in err
        assert waited < 30, f"process {1 - victim} took {waited:.1f} s to end"
        _, err = processes[victim].communicate(timeout=60)  # and closes its pipes
        if victim == 1:  # its own supervisor says what happened, in one line too
            assert err.count("\n") == 1 and "it was stopped by SIGKILL" in err, err
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout == "", "processes left behind"
