"""The README's Python examples run as printed (in a temporary folder), so it cannot drift
from the library."""

import re
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index]
    if "opt_state=state)" in code and "for lr in" in code:  # continues the first example
        code = BLOCKS[0] + code
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {})
    if index == 0:  # the first example restores the line and saves the network
        assert "y = 2.0000 x + 3.0000" in capsys.readouterr().out
        assert (tmp_path / "net.npz").exists()
