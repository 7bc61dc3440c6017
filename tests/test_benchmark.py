import json
import math

from experiments import benchmark


def test_quick_benchmark_prints_and_writes_the_table(tmp_path, capsys):
    path = tmp_path / "benchmark.json"
    rows = benchmark.main(["--quick", "--k", "64", "--repeats", "1", "--json", str(path)])
    out = capsys.readouterr().out
    configs, methods = list(benchmark.CONFIGS), list(benchmark.METHODS)
    assert [(r["config"], r["method"]) for r in rows] == [(c, m) for c in configs for m in methods]
    assert json.loads(path.read_text())["rows"] == rows
    for r in rows:
        assert r["method"] in out and math.isfinite(r["step_us"]) and r["step_us"] > 0
        assert (r["compile_s"] is None) == (r["method"] == "numpy")
        assert r["networks"] == (64 if r["method"] == "train_many" else 1)
    firsts = rows[:: len(methods)]
    assert all(r["method"] == "numpy" and r["vs_numpy"] == 1.0 for r in firsts)
