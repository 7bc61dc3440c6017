import functools
import json
import math
import re
from unittest import mock

from experiments import benchmark


def test_quick_benchmark_prints_and_writes_the_table(tmp_path, monkeypatch, capsys):
    # Every row, fewest steps, tutorial-sized nets (fewer compiles): the shape is the point.
    configs = {name: (2, 1, lr, steps) for name, (_, _, lr, steps) in benchmark.CONFIGS.items()}
    monkeypatch.setattr(benchmark, "CONFIGS", configs)
    monkeypatch.setattr(benchmark, "QUICK_STEPS", dict.fromkeys(configs, (3, 3, 3, 3)))
    monkeypatch.setattr(benchmark, "PER_CALL_STEPS", (1, 3))
    monkeypatch.setattr(benchmark, "soa", functools.partial(benchmark.soa, steps=3))
    path = tmp_path / "made" / "benchmark.json"
    assert benchmark.main(["--quick", "--k", "64", "--repeats", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    table = json.loads(path.read_text(), parse_constant=lambda name: 1 / 0)  # strict JSON
    rows = table["rows"]
    assert [r["steps"] for r in table["per_call"]] == list(benchmark.PER_CALL_STEPS)
    for r in table["per_call"]:  # train against the bare program, both timed
        assert r["bare_us"] > 0 and r["train_us"] > 0
        assert math.isclose(r["ratio"], r["train_us"] / r["bare_us"], rel_tol=1e-9)
    assert "per-call cost of jl.train" in out
    configs, methods = list(benchmark.CONFIGS), list(benchmark.METHODS)
    assert [(r["config"], r["method"]) for r in rows] == [(c, m) for c in configs for m in methods]
    for r in rows:
        assert r["method"] in out and math.isfinite(r["step_us"]) and r["step_us"] > 0
        assert (r["compile_s"] is None) == (r["method"] == "numpy")
        assert r["networks"] == (64 if r["method"] == "train_many" else 1)
    assert out.endswith(f"wrote {path}\n")
    fields = {*table, *rows[0], *table["per_call"][0], *table["soa"]}
    assert fields - set(re.findall(r"\w+", benchmark.WRITES)) == set()  # --help names each
    assert [p.name for p in path.parent.iterdir()] == ["benchmark.json"]  # nothing staged left


def test_a_benchmark_cut_short_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "measure", mock.Mock(side_effect=KeyboardInterrupt))
    assert benchmark.main(["--quick", "--json", str(tmp_path / "benchmark.json")]) == 130
    err = capsys.readouterr().err
    assert err == "python -m experiments.benchmark: interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []
