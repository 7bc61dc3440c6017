"""Smoke tests of the experiment modules: their files, numbers and failures."""

import json
import os
import subprocess
import sys

import pytest

from experiments import linear, sine

KEYS = {"target", "hidden", "steps", "batch_size", "lr", "seed", "rng", "initial_error",
        "final_error", "manual_final_error", "max_param_difference"}
FILES = {"before_after.png", "loss.png", "results.json"}


def _run(module, tmp_path, *flags, name="out"):
    out = tmp_path / name
    status = module.main(["--out", str(out), "--no-cache", *flags])
    return status, out


def _results(out):
    return json.loads((out / "results.json").read_text())


def test_linear_default_run_restores_the_line(tmp_path, capsys):
    status, out = _run(linear, tmp_path)
    assert status == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in FILES - {"results.json"})
    results = _results(out)
    assert KEYS | {"affine_map"} <= set(results)
    assert results["final_error"] < 1e-2  # the tutorial: 100 steps restore the line
    assert results["final_error"] < results["initial_error"]
    assert abs(results["affine_map"]["w"] - 2) < 0.05 and abs(results["affine_map"]["b"] - 3) < 0.05
    assert results["max_param_difference"] < 1e-5
    printed = capsys.readouterr().out
    assert "100/100" in printed and "learned affine map" in printed


def test_same_flags_write_the_same_results(tmp_path):
    flags = ("--steps", "30", "--rng", "jax", "--seed", "7", "--batch-size", "4")
    _, a = _run(linear, tmp_path, *flags, name="a")
    _, b = _run(linear, tmp_path, *flags, name="b")
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    assert _results(a)["rng"] == "jax" and _results(a)["seed"] == 7


@pytest.mark.parametrize("flags", [(), ("--batch-size", "999", "--steps", "300", "--lr", "0.1"),
                                   ("--rng", "jax", "--steps", "50")])
def test_sine_never_beats_its_least_squares_line(tmp_path, flags):
    status, out = _run(sine, tmp_path, *flags)
    assert status == 0
    results = _results(out)
    assert KEYS | {"activation", "affine_map", "least_squares"} <= set(results)
    line = results["least_squares"]
    assert abs(line["w"] - 0.6896) < 1e-3 and abs(line["b"] - 5) < 1e-3
    assert results["final_error"] >= line["error"] * (1 - 1e-5)
    if flags and flags[0] == "--batch-size":  # near-full batches reach the line
        assert results["final_error"] < line["error"] * 1.001


def test_sine_with_an_activation_beats_the_line(tmp_path):
    flags = ("--activation", "tanh", "--hidden", "16", "--steps", "2000", "--batch-size", "32",
             "--lr", "0.05")
    status, out = _run(sine, tmp_path, *flags)
    assert status == 0
    results = _results(out)
    assert results["activation"] == "tanh" and "affine_map" not in results
    assert results["final_error"] < 0.5 * results["least_squares"]["error"]
    assert results["max_param_difference"] < 1e-3  # manual_grads applies tanh' like jax.grad


@pytest.mark.parametrize(
    "module, flags, message",
    [
        (linear, ("--steps", "0"), "--steps must be >= 1, got 0"),
        (linear, ("--hidden", "0"), "--hidden must be >= 1, got 0"),
        (linear, ("--batch-size", "0"), "--batch-size must be >= 1"),
        (sine, ("--batch-size", "1000"), "smaller than the grid's 1000 points, got 1000"),
        (sine, ("--lr", "inf"), "--lr must be a finite number > 0, got inf"),
        (linear, ("--lr", "-0.1"), "--lr must be a finite number > 0, got -0.1"),
        (sine, ("--activation", "elu"), "argument --activation: invalid choice: 'elu'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, module, flags, message):
    status, out = _run(module, tmp_path, *flags)
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_diverging_run_names_the_step_and_leaves_nothing(tmp_path, capsys):
    flags = ("--hidden", "64", "--batch-size", "32", "--lr", "10", "--steps", "2000")
    status, out = _run(linear, tmp_path, *flags, name="made/by/run")
    assert status == 1
    err = capsys.readouterr().err
    assert "non-finite at step" in err and "smaller --lr" in err and err.count("\n") == 1
    assert not (tmp_path / "made").exists()


def test_a_failed_run_keeps_what_was_already_in_out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    status, _ = _run(sine, tmp_path, "--lr", "10", "--hidden", "64", "--batch-size", "32",
                     "--steps", "500")
    assert status == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_unwritable_out_is_one_line_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    status = linear.main(["--out", str(tmp_path / "file" / "sub"), "--no-cache"])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m experiments.linear: error: --out ") and err.count("\n") == 1


def test_a_run_compiles_once_and_a_second_run_loads_it_from_the_cache(tmp_path):
    env = dict(os.environ, JLINNET_CACHE_DIR=str(tmp_path / "cache"), JAX_LOG_COMPILES="1")
    out = str(tmp_path / "o")
    cmd = [sys.executable, "-m", "experiments.linear", "--steps", "10", "--out", out]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("Finished XLA compilation") == 1, first.stderr  # one program
    assert any((tmp_path / "cache").iterdir())  # ... and it was stored
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert "Persistent compilation cache hit" in second.stderr
