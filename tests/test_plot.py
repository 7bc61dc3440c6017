import io
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

import jlinnet as jl
from jlinnet import plot

X = jl.grid(50)
Y = jl.linear_target(X)


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_before_after_draws_the_truth_under_each_prediction():
    fig = plot.before_after(X, Y, 0 * Y, {"hand": Y, "auto": Y + 0.1}, title="2x + 3")
    assert isinstance(fig, Figure)
    before, after = fig.axes
    assert before.get_title() == "Net results before training"
    assert after.get_title() == "Net results after training"
    assert [line.get_label() for line in after.get_lines()] == ["true function", "hand", "auto"]
    truth = before.get_lines()[0]
    assert truth.get_color() == "black" and truth.get_linewidth() > 2
    np.testing.assert_allclose(after.get_lines()[2].get_ydata(), np.asarray(Y)[:, 0] + 0.1)
    assert _png(fig).startswith(b"\x89PNG")


def test_loss_curve_is_log_scale():
    fig = plot.loss_curve({"a": jnp.linspace(1, 1e-3, 30), "b": jnp.linspace(2, 1e-2, 30)})
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2 and list(ax.get_lines()[0].get_xdata()[[0, -1]]) == [1, 30]
    assert _png(fig).startswith(b"\x89PNG")


def test_bad_curves_are_named():
    with pytest.raises(ValueError, match=r"Net must have 50 points, got 49"):
        plot.before_after(X, Y, Y[:49], Y)
    with pytest.raises(ValueError, match=r"batch loss must be \(N,\) or \(N, 1\)"):
        plot.loss_curve(jnp.zeros((3, 2)))


def test_headless_without_pyplot_and_import_stays_light():
    code = (
        "import sys, io, jlinnet as jl\n"
        "assert 'matplotlib' not in sys.modules, 'import jlinnet pulled in matplotlib'\n"
        "from jlinnet import plot\n"
        "x = jl.grid(10); fig = plot.before_after(x, x, x, x); fig.savefig(io.BytesIO())\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {"PATH": "", "HOME": "/nonexistent", "MPLBACKEND": ""}  # no DISPLAY, no backend set
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
