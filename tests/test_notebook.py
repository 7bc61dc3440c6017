"""The tutorial notebook runs top to bottom in a fresh kernel, so it cannot rot: every cell must
run, the assertions in its cells included, and nothing may reach stderr (warnings are errors in
the notebook as in the tests)."""

import json
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "experiments" / "tutorial.ipynb"
KERNEL = "jlinnet-test"


def _kernel_env(tmp_path, monkeypatch):
    """A kernel spec of our own that runs this interpreter, the one pytest runs in (so the
    kernel imports this checkout's jlinnet from this venv), found first through JUPYTER_PATH.
    A user's kernels, IPython profile and Jupyter config play no part, and the kernel's
    connection file and history go to tmp_path. The tests' own JAX setting applies."""
    spec = tmp_path / "share" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "jlinnet tests", "language": "python"})
    )
    env = {
        "JUPYTER_PATH": tmp_path / "share",
        "JUPYTER_CONFIG_DIR": tmp_path / "config",
        "JUPYTER_RUNTIME_DIR": tmp_path / "runtime",
        "IPYTHONDIR": tmp_path / "ipython",
        # jupyter_core before 5.9 warns on import (a DeprecationWarning, an error here) unless
        # this is set; the directories above are set explicitly, so it changes nothing else.
        "JUPYTER_PLATFORM_DIRS": "1",
        "JAX_NUMPY_RANK_PROMOTION": "raise",  # as tests/conftest.py sets it for the tests
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))


def test_tutorial_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    _kernel_env(tmp_path, monkeypatch)
    # Imported only now, with JUPYTER_PLATFORM_DIRS set (see above).
    import nbformat
    from nbclient import NotebookClient

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
