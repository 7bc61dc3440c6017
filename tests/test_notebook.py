"""The tutorial notebook runs top to bottom in a fresh kernel, so it cannot rot: every cell must
run, the assertions in its cells included, and nothing may reach stderr (warnings are errors in
the notebook as in the tests). It is committed with its outputs, so they are checked too: a fresh
run must state the numbers the committed outputs state (regenerate it with the command in its
first cell)."""

import json
import math
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "experiments" / "tutorial.ipynb"
KERNEL = "jlinnet-test"
# A number as a cell prints it: 24.2564, -2.4671192, 1e-2, 0.000341643.
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# Equal up to a unit in the last of the 6 digits a cell prints; below ATOL a number is float32
# round-off (the two routes' weight gap), which may differ between machines.
RTOL, ATOL = 1e-5, 5e-7


def _kernel_env(tmp_path, monkeypatch):
    """A kernel spec of our own that runs this interpreter, the one pytest runs in, found first
    through JUPYTER_PATH; the kernel imports this checkout's jlinnet with this venv's packages.
    A user's kernels, IPython profile and Jupyter config play no part, and the kernel's
    connection file and history go to tmp_path. The tests' rank promotion setting applies."""
    spec = tmp_path / "share" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "jlinnet tests", "language": "python"}))
    env = {
        "JUPYTER_PATH": tmp_path / "share",
        "JUPYTER_CONFIG_DIR": tmp_path / "config",
        "JUPYTER_RUNTIME_DIR": tmp_path / "runtime",
        "IPYTHONDIR": tmp_path / "ipython",
        # jupyter_core before 5.9 warns on import (a DeprecationWarning, an error here) unless
        # this is set; the directories above are set explicitly, so it changes nothing else.
        "JUPYTER_PLATFORM_DIRS": "1",
        "JAX_NUMPY_RANK_PROMOTION": "raise",  # as tests/conftest.py sets it for the tests
        # fully optimized, as a reader's run that made the committed outputs: where 64 rates
        # meet the divergence edge the last bits decide, and its long runs execute faster
        "JAX_DISABLE_MOST_OPTIMIZATIONS": "0",
        # this checkout's jlinnet first, even where the venv's editable install is another's
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))


def _stated(nb):
    """Per code cell: the kind of each output (images only by kind: their bytes may differ) and
    the text it states (stream and text/plain), object addresses dropped. Consecutive stream
    outputs count as one: how a run splits its prints depends on timing."""
    cells = []
    for cell in (c for c in nb["cells"] if c["cell_type"] == "code"):
        kinds = []
        for out in cell["outputs"]:
            kind = (out["output_type"], out.get("name"), sorted(out.get("data", {})))
            if not (kinds and kind == kinds[-1] == ("stream", out.get("name"), [])):
                kinds.append(kind)  # consecutive prints: one stream, however it was flushed
        text = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                       for out in cell["outputs"])
        cells.append((kinds, re.sub(r" at 0x[0-9a-fA-F]+", " at 0x", text)))
    return cells


def _same_numbers(text, text0):
    """The two texts read the same: numbers equal to RTOL/ATOL, every other character equal,
    whitespace (an array's column padding) ignored."""
    tokens, tokens0 = ([float(piece) if NUMBER.fullmatch(piece) else re.sub(r"\s+", "", piece)
                        for piece in re.split(f"({NUMBER.pattern})", t) if piece.strip()]
                       for t in (text, text0))
    return len(tokens) == len(tokens0) and all(
        math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) if isinstance(a, float) else a == b
        for a, b in zip(tokens, tokens0))


def test_tutorial_notebook_runs_and_states_its_committed_outputs(tmp_path, monkeypatch):
    _kernel_env(tmp_path, monkeypatch)
    # Imported only now, with JUPYTER_PLATFORM_DIRS set (see above).
    import nbformat
    from nbclient import NotebookClient

    committed = nbformat.read(NOTEBOOK, as_version=4)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "work"  # the kernel's working directory
    work.mkdir()
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=120, startup_timeout=60,
                            resources={"metadata": {"path": str(work)}})
    client.execute()  # a CellExecutionError names the cell and its traceback

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    stderr = [out.text for out in outputs if out.get("name") == "stderr"]
    assert not stderr, "the notebook wrote to stderr:\n" + "\n".join(stderr)
    shown = [out.data for out in outputs if "data" in out]
    figures = [data for data in shown if data.get("text/plain", "").startswith("<Figure")]
    assert figures and all("image/png" in data for data in figures), "a figure did not draw inline"
    assert not any(work.iterdir()), "the notebook wrote files"

    regenerate = "regenerate it with the command in its first cell"
    fresh, stored = _stated(nb), _stated(committed)
    assert len(fresh) == len(stored)
    for n, ((kinds, text), (kinds0, text0)) in enumerate(zip(fresh, stored)):
        source = [c for c in nb.cells if c.cell_type == "code"][n].source.splitlines()[0]
        assert kinds == kinds0, f"code cell {n} ({source!r}) shows other outputs: {regenerate}"
        assert _same_numbers(text, text0), (
            f"code cell {n} ({source!r}) states other numbers than its committed outputs"
            f" ({regenerate}); now:\n{text}\ncommitted:\n{text0}")


def test_committed_notebook_is_run_whole_and_small():
    """The stored outputs come from one run of every cell in order (not a hand-edited or
    half-run file), with no per-run timings, and the file stays small enough to browse. (No
    error, stderr or missing figure: the stored outputs are of the kinds a fresh run shows.)"""
    assert NOTEBOOK.stat().st_size < 1_000_000, "the notebook is over 1 MB: smaller figures"
    code = [cell for cell in json.loads(NOTEBOOK.read_text())["cells"]
            if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    assert not any("execution" in cell["metadata"] for cell in code), "timings recorded"
