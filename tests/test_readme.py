"""The README's Python examples run as printed (in a temporary folder), so it cannot drift
from the library; it stays one screen long, its links lead somewhere, and its test command is
the one CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), {})
    if index == 0:  # the first example restores the line and saves the network
        assert "y = 2.0000 x + 3.0000" in capsys.readouterr().out
        assert (tmp_path / "net.npz").exists()


def test_readme_is_one_screen_whose_links_lead_somewhere_and_whose_tests_ci_runs():
    assert len(README.splitlines()) <= 160
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert targets and not [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```\n{ci}\n```" in README
