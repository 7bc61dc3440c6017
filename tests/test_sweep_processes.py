"""The experiment: its findings and files in this process, the same bytes from two processes
(`jax.distributed` on 127.0.0.1, 2 CPU devices each); a busy port refused; a process that dies
or never comes, and SIGTERM, end every process with one last line, --out as it was; two
processes with different flags both end with exit 2 before any collective.

No verdict waits on the clock: a test acts once a process has printed where it is; `HANG`
only guards against a hang. Ports come from the kernel; one taken meanwhile is refused
(exit 2) and the test takes another.
"""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from experiments import plot, sweep

HANG = 600  # seconds: a bound that only catches a hang, never a slow machine
# 3 rates x 2 seeds = 6 networks per grid, padded by train_many to fill 4 devices; lr 10 diverges
FLAGS = ["--hidden", "2", "--seeds", "2", "--range", "1e-2", "10", "3", "--steps", "20",
         "--activation", "tanh", "none", "--target", "linear", "sine", "--rng", "jax",
         "--no-cache"]
# Minutes of training, one program: a run that is stopped long before it ends
LONG = ["--steps", "10000000", "--activation", "none", "--target", "linear"]
REFUSED = "cannot serve the run there"


def _start(out, *flags):
    env = dict(os.environ, JAX_NUM_CPU_DEVICES="2", JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, "-m", "experiments.sweep", *FLAGS, "--out", str(out),
                             *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _coordinator(out, n, *flags):
    """Process 0 of an `n`-process run, once it serves its port: (process, its flags)."""
    while True:
        with socket.socket() as s:  # a port the kernel says is free
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        where = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n), *flags]
        p0 = _start(out, *where, "--process-id", "0")
        if p0.stdout.readline().startswith("process 0: coordinating the run on"):
            return p0, where
        _, err = p0.communicate(timeout=HANG)
        assert p0.returncode == 2 and REFUSED in err, err  # taken meanwhile: another port


def _ends(p):
    """(status, stdout, stderr) of `p` once it has ended."""
    out, err = p.communicate(timeout=HANG)
    return p.returncode, out, err


def _table(out):
    """What a run printed after its first line, but for JAX's and its own file lines."""
    return [line for line in out.splitlines()[1:] if not line.startswith(("wrote ", "[Gloo]"))]


def test_the_experiment_states_its_findings_and_two_processes_write_the_same(tmp_path, capsys,
                                                                            monkeypatch):
    p0, where = _coordinator(tmp_path / "p0", 2)
    p1 = _start(tmp_path / "p1", *where, "--process-id", "1")
    joined = p1.stdout.readline()  # both joined: JAX's service holds the port from here on
    # A second run on that port is refused, and never joins the first (here in-process, as the
    # supervisor's child that would run it: before the join, its check could take the port)
    with monkeypatch.context() as m:
        m.setenv("JLINNET_SWEEP_CHILD", "1")
        assert sweep.main([*FLAGS, *where, "--process-id", "0", "--out",
                           str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and REFUSED in err, err
    one = tmp_path / "one"
    assert sweep.main([*FLAGS, "--out", str(one)]) == 0  # meanwhile, in this process
    printed = capsys.readouterr().out
    (s0, out0, err0), (s1, out1, err1) = map(_ends, (p0, p1))
    assert [s0, s1] == [0, 0], err0 + err1
    assert "1 device(s) of 1 process(es)" in printed and "4 device(s) of 2 process(es)" in out0
    # Each network is its own computation: on 1 device or on 4 of 2 processes, the same
    # numbers, to the last digit written.
    assert (one / "results.json").read_text() == (tmp_path / "p0/results.json").read_text()
    assert _table(printed) == _table(out0)
    mine = [line for line in (joined + out1).splitlines() if not line.startswith("[Gloo]")]
    assert mine == ["process 1: training its share of the networks on 4 device(s) of 2"
                    " process(es); process 0 writes the results"]
    assert not (tmp_path / "p1").exists() and not (tmp_path / "other").exists()

    figures = {"sweep_linear.png", "sweep_sine.png"}
    assert {p.name for p in one.iterdir()} == figures | {"results.json"}
    drawn = {name: (one / name).read_bytes() for name in figures}
    assert all(figure[:4] == b"\x89PNG" for figure in drawn.values())
    for name in figures:  # redrawn from results.json alone, byte for byte
        (one / name).unlink()
    assert plot.main([str(one)]) == 0
    assert {name: (one / name).read_bytes() for name in figures} == drawn
    results = json.loads((one / "results.json").read_text(), parse_constant=pytest.fail)  # strict
    assert results["spec"]["hidden"] == [2] and results["seeds"] == [4321, 4322]
    assert [(g["target"], g["activation"]) for g in results["grids"]] == [
        ("linear", "tanh"), ("linear", "none"), ("sine", "tanh"), ("sine", "none")]
    assert abs((line := results["findings"]["sine"]["least_squares_J"]) - 0.3309) < 1e-4
    for g in results["grids"]:
        errors, diverged = np.array(g["errors"], float), np.array(g["diverged"])
        assert errors.shape == diverged.shape == (3, 2)
        np.testing.assert_array_equal(np.isnan(errors), diverged)  # null exactly where diverged
        assert diverged[-1].all() and all(0 < edge <= 10 for edge in g["edges"])  # lr 10
        if g["target"] == "sine" and g["activation"] == "none":
            assert np.nanmin(errors) >= line * (1 - 1e-5)  # never below the line
        predicted, r = np.array(g["predicted"]), g["ratio"]  # 2/lambda_max per seed
        assert predicted.shape == (2,) and (predicted > 0).all()
        ratios = predicted / np.array(g["edges"], float)
        assert r == pytest.approx(dict(median=np.median(ratios), worst=ratios[np.argmax(
            np.abs(np.log(ratios)))]), rel=1e-6)
    assert results["findings"]["sine"]["linear_below_line"] is False
    edge = results["grids"][1]["diverges_from"]
    lines = printed.splitlines()
    row = next(line for line in lines if line.startswith("  2x + 3        none"))
    assert row.split()[-2:] == [f"{edge:.3g}", "4"]  # diverges from, diverged (of 6)
    assert "f(x) = 2 sin x + 5 without activation: none ends below the least-squares line's J" \
        " = 0.330887" in printed
    own = [line for line in lines if line.startswith("  2x + 3        none")][1].split()
    g = results["grids"][1]
    assert own[-2:] == [f"{g['ratio']['median']:.2f}", f"{g['ratio']['worst']:.2f}"]


def test_a_process_that_dies_or_never_comes_and_sigterm_end_every_process_in_one_line(tmp_path):
    """Kill process 1's sweep (as an OOM kill would), or process 0's supervisor (its sweep
    follows): the other ends with 1 and a last line that says why. A process 0 alone ends with
    1 after --timeout; SIGTERM, in JAX's join or training, with 130; --out stays as it was."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out/results.json").write_text("previous")
    alone, _ = _coordinator(tmp_path / "out", 2, "--timeout", "2")  # process 1 never comes
    runs = {}
    for victim in (1, 0):  # each killed once both joined: no run trains while the next starts
        p0, where = _coordinator(tmp_path / "out", 2, "--timeout", "4", *LONG)
        p1 = _start(tmp_path / "out", *where, "--process-id", "1")
        assert p1.stdout.readline().startswith("process 1: training its share")  # both joined
        runs[victim] = (p0, p1)
        if victim == 1:  # the sweep, a child of the command started
            child = subprocess.run(["pgrep", "-P", str(p1.pid)], capture_output=True,
                                   text=True).stdout.split()
            os.kill(int(child[0]), signal.SIGKILL)
        else:
            p0.kill()
    waiting, _ = _coordinator(tmp_path / "out", 2, *LONG)  # waits in JAX's join for process 1
    stopped, _ = _coordinator(tmp_path / "out", 1, *LONG)
    assert stopped.stdout.readline().endswith("grids on 2 device(s) of 1 process(es)\n")
    for p in (stopped, waiting):  # `stopped` trains now, after JAX's initialize
        p.send_signal(signal.SIGTERM)
    for p in (stopped, waiting):
        status, _, err = _ends(p)
        assert status == 130 and err.endswith("python -m experiments.sweep: interrupted"
                                              " (SIGTERM); nothing was written\n"), err
    for victim, processes in runs.items():
        status, _, err = _ends(processes[1 - victim])
        last = err.splitlines()[-1]
        assert status == 1 and last.startswith("python -m experiments.sweep: error: "), err
        assert "ended this process" in last or "failed across processes" in last, err
        status, _, err = _ends(processes[victim])
        if victim == 1:  # its own supervisor says what happened, in one line too
            assert status == 1 and "SIGKILL ended this process" in err.splitlines()[-1], err
    status, _, err = _ends(alone)
    assert status == 1 and "does not join within --timeout" in err.splitlines()[-1], err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.json"]
    assert (tmp_path / "out/results.json").read_text() == "previous"
    assert not list(tmp_path.rglob(".jlinnet-staging-*"))  # none left, by any ending
    assert not subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).stdout


@pytest.mark.parametrize("flag, mine", [("--steps", "21"), ("--activation", "relu")])
def test_two_processes_with_different_flags_both_end_with_2_naming_it(tmp_path, flag, mine):
    # Right after the join, before any collective: neither waits for the other's program.
    p0, where = _coordinator(tmp_path / "out", 2)
    p1 = _start(tmp_path / "out", *where, "--process-id", "1", flag, mine)
    theirs = {"--steps": "20", "--activation": "tanh none"}[flag]
    for p in (p0, p1):
        status, _, err = _ends(p)
        assert status == 2 and err == (
            f"python -m experiments.sweep: error: process 1 has {flag} {mine} and process 0 {flag}"
            f" {theirs}: every process of a run needs the same flags; nothing was written\n"), err
    assert not (tmp_path / "out").exists()
