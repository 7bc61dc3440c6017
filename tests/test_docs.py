"""The docs site builds as `mkdocs build --strict` builds it (every page, every API name, every
link and anchor), and the guide's Python examples run as printed, in a temporary folder, so
neither can drift from the library."""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jlinnet as jl
from jlinnet import plot

ROOT = Path(__file__).parent.parent
GUIDE = sorted((ROOT / "docs" / "guide").glob("*.md"))
# A ```python block, and the ```text block right after it, if any: what the block prints
BLOCK = re.compile(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```\n)?", flags=re.S)


def test_the_site_builds_strictly_with_every_api_name_figure_and_the_version(tmp_path):
    """One build (about 3 s), from a folder of its own: nothing is written into the repository.
    The API page names every public name, the notebook page shows every figure the notebook
    holds, and the changelog names the current version."""
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    site = tmp_path / "site"

    api = (site / "api" / "index.html").read_text()
    functions = [name for name, f in vars(plot).items() if inspect.isfunction(f)
                 and f.__module__ == plot.__name__ and not name.startswith("_")]
    names = [f"jlinnet.{name}" for name in jl.__all__ if name != "__version__"]
    names += [f"jlinnet.plot.{name}" for name in functions]
    assert not [name for name in names if f'id="{name}"' not in api]
    assert len(functions) >= 5 and "jlinnet.__version__" in api

    notebook = json.loads((ROOT / "experiments" / "tutorial.ipynb").read_text())
    figures = [kind for cell in notebook["cells"] for out in cell.get("outputs", [])
               for kind in out.get("data", {}) if kind.startswith("image/")]
    page = (site / "tutorial" / "index.html").read_text()
    shown = re.findall(r'<img [^>]*src="data:(image/\w+);base64,', page)
    assert sorted(shown) == sorted(figures) and len(figures) >= 10

    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(jl.__version__)}\b", changelog, flags=re.M)
    assert jl.__version__ in (site / "changelog" / "index.html").read_text()


@pytest.mark.parametrize("page", GUIDE, ids=lambda page: page.name)
def test_guide_examples_run_as_printed(page, tmp_path, monkeypatch, capsys):
    """A page's blocks run in order in one namespace, as a reader pastes them into one session;
    where a ```text block follows one, it is exactly what that block prints."""
    monkeypatch.chdir(tmp_path)
    namespace = {}
    blocks = BLOCK.findall(page.read_text())
    for index, (code, shown) in enumerate(blocks, 1):
        exec(compile(code, f"docs/guide/{page.name} python block {index}", "exec"), namespace)
        printed = capsys.readouterr().out
        if shown:
            assert printed == shown, f"docs/guide/{page.name} python block {index} printed"
    assert blocks
