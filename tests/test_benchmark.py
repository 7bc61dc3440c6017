import functools
import json
import math
import re

from experiments import benchmark


def test_quick_benchmark_prints_and_writes_the_table(tmp_path, monkeypatch, capsys):
    # Every row, as few steps as show it: the tables' shape is the point, not the timings.
    monkeypatch.setattr(benchmark, "QUICK_STEPS", dict.fromkeys(benchmark.CONFIGS, (3, 3, 3, 3)))
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
    def measure(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "measure", measure)
    assert benchmark.main(["--quick", "--json", str(tmp_path / "benchmark.json")]) == 130
    err = capsys.readouterr().err
    assert err == "python -m experiments.benchmark: interrupted; nothing was written\n"
    assert list(tmp_path.iterdir()) == []
