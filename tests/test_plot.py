"""jlinnet.plot as a reader sees it: structure, numbers drawn, clipped tops (the mistakes people
make: the table in tests/test_boundary.py; the rarer ones: the last test here)."""

import re
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jlinnet as jl
from jlinnet import plot

X = jl.grid(50)
Y = jl.linear_target(X)
RNG = np.random.default_rng(0)
LRS = np.array([1e-3, 1e-2, 1e-1, 1.0])
E, P = np.ones((4, 2)), np.ones((3, 2))  # (L, seeds) final J over LRS; a (T, 2) path of (w, b)
OUT = "left the chart (above it, or not finite)"  # the triangles' legend key
K5 = jnp.stack([Y * k for k in range(1, 6)])  # (5, N, 1), as a vmapped forward gives


def _noisy(steps):
    """A long run's batch loss: a decay times batch-to-batch noise spanning decades."""
    return (0.3 + 2 * np.exp(-np.arange(steps) / 300)) * RNG.gamma(2.0, 0.5, steps)


def _runs(k=64, steps=200, diverged=3):
    """k runs' batch losses, the first `diverged` exploding to 1e27 and then NaN or inf."""
    v = (0.3 + 20 * np.exp(-np.arange(steps) / 40)) * RNG.lognormal(0, 0.3, (k, steps))
    for r in range(diverged):
        v[r, 50 + 10 * r:] = np.geomspace(1, 1e27, steps - 50 - 10 * r)
        v[r, 80 + 10 * r:] = [np.nan, np.inf][r % 2]
    return v


def _sweep_errors():
    """Two hidden sizes by two activations over LRS: tanh ends below 0.33, none above; at lr
    0.1 three of five seeds explode (median 1e30), at lr 1 they diverge (median +inf)."""
    def seeds(end):
        j = np.array([[10.0], [1.0], [end], [end]]) * RNG.uniform(0.9, 1.0, (4, 5))
        j[2, :3], j[3, :3] = 1e30, [np.nan, np.inf, np.nan]
        return j
    return {(f"hidden {h}", a): seeds(j) for h in (2, 8) for a, j in (("none", .5), ("tanh", .1))}


def _labels(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()]


def _drawn(ax):  # the curves: lines less references across the axis and the triangles
    return [n for n in ax.lines if n.get_marker() != "^" and n.get_transform() is ax.transData]


def _marks(ax):  # (x, y) of each triangle
    return [tuple(p) for m in ax.get_lines() if m.get_marker() == "^" for p in m.get_xydata()]


def _band(ax):  # the y values of the axis' first shaded band
    return np.concatenate([p.vertices[:, 1] for p in ax.collections[0].get_paths()])


@pytest.mark.parametrize("before, after, labels, legend", [
    (0 * Y, {"hand": Y, "auto": Y + 0.1}, None, ["Net", "hand", "auto"]),
    (K5, K5[:, :, 0], None, [f"network {k}" for k in range(1, 6)]),
    ({"hand": Y, "auto": Y}, {"hand": Y, "auto": Y}, ["x", "y"], ["x", "y"]),  # a dict renamed
    (Y * np.nan, {"hand": Y.at[3].set(jnp.inf)}, None,
     ["Net (not finite at 50 of 50 points)", "hand (not finite at 1 of 50 points)"]),
])
def test_before_after_draws_each_prediction_over_the_truth(before, after, labels, legend):
    fig = plot.before_after(X, Y, before, after, labels=labels)
    assert [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [
        ("Net results before training", "x", "y"), ("Net results after training", "x", "")]
    assert _labels(fig) == ["true function", *legend]
    lines = fig.axes[1].get_lines()
    want = [np.ravel(v) for v in (after.values() if isinstance(after, dict) else after)]
    np.testing.assert_allclose([line.get_ydata() for line in lines[1:]], want)
    assert len({line.get_color() for line in lines}) == len(lines)


@settings(max_examples=8)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.sampled_from([1, 2, 7, 60, 1200])),
                  elements=st.sampled_from([0, 1e-30, 0.5, 3, 1e30, np.nan, np.inf, -np.inf, -1])))
def test_loss_curve_draws_each_run_as_given_or_a_gap_or_the_top(losses):
    fig = plot.loss_curve(losses, floor=0.1)
    fig.draw_without_rendering()  # what drawing warns about fails here (warnings are errors)
    ax, (k, steps) = fig.axes[0], losses.shape
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == ("step", "batch error J", "log")
    lines = _drawn(ax)
    assert [n.get_label().split(" (")[0] for n in lines] == [f"network {i + 1}" for i in range(k)]
    assert len({line.get_color() for line in lines}) == k
    for line, row in zip(lines, losses if steps < 1000 else []):  # short runs: no running mean
        ok, (x, y) = np.isfinite(row) & (row > 0) & (row <= ax.get_ylim()[1]), line.get_data()
        np.testing.assert_array_equal(x, np.arange(1, steps + 1))
        np.testing.assert_array_equal(y[ok], row[ok])
        assert np.all(np.isnan(y[~ok]) | (y[~ok] == ax.get_ylim()[1]))


def test_long_run_is_a_band_under_a_centred_running_mean():
    v, w = _noisy(3000), 61  # w = 3000 // 50 = 60, made odd
    fig = plot.loss_curve(v, floor=(0.3309, "least-squares line"))
    (mean,) = _drawn(fig.axes[0])
    np.testing.assert_allclose(mean.get_ydata(), np.convolve(v, np.ones(w) / w, "valid"), rtol=1e-9)
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(1 + w // 2, 3000 - w // 2 + 1))
    assert (_band(fig.axes[0]).min(), _band(fig.axes[0]).max()) == (v.min(), v.max())
    assert _labels(fig) == ["batch loss", "batch loss, each step", "mean of 61 steps",
                            "least-squares line (full grid: a batch's J may be lower)"]
    v[1500:] = np.inf  # diverged: the mean stops, it does not carry inf back over a window
    mean = _drawn(plot.loss_curve(v).axes[0])[0].get_ydata()
    assert np.isfinite(mean[:1400]).all() and np.isnan(mean[1500:]).all()


def test_j_axis_whole_decades_a_run_leaving_it_ends_at_its_top_marked_and_named():
    j32 = np.geomspace(1, 1e-4, 20).astype(np.float32)  # 1e-4 is 9.9999997e-05 in float32
    for j, floor, lim in [(np.linspace(0.05, 20, 30), None, (1e-2, 1e2)), (j32, None, (1e-4, 1)),
                          (np.ones(10), j32[-1], (1e-4, 1))]:  # the floor shown, far below
        assert plot.loss_curve(j, floor=floor).axes[0].get_ylim() == pytest.approx(lim)
    assert plot.sweep(j32[::-6], E).axes[0].get_xlim() == pytest.approx((1e-4, 1))
    v = _runs(k=3, diverged=1)  # run 0 explodes to 1e27 from step 51, is NaN from step 81
    fig = plot.loss_curve({"exploding": v[0], "nothing": np.full(200, np.nan), "b": v[1]})
    ax, top = fig.axes[0], fig.axes[0].get_ylim()[1]
    assert top == 1e3, "a decade above the runs' start near 20, not 1e27"
    step = np.argmax(~(v[0] <= top)) + 1  # the first step above the chart
    shown = _drawn(ax)[0].get_ydata()
    assert shown[step - 1] == top and np.isnan(shown[step:]).all()
    assert _marks(ax) == [(step, top), (1, top)]
    assert _labels(fig) == [f"exploding (left the chart from step {step})",
                            "nothing (left the chart from step 1)", "b", OUT]
    assert plot.loss_curve(v[1:]).axes[0].get_ylim()[1] == 1e2, "none clipped: no empty decade"


@pytest.mark.parametrize("as_dict", [True, False])
def test_spread_is_the_median_over_runs_over_its_quartile_band(as_dict):
    adam, sgd = _runs(), _runs(diverged=0)
    fig = plot.loss_curve({"Adam": adam, "SGD": sgd} if as_dict else adam, spread=True, name="Adam")
    ax, top = fig.axes[0], fig.axes[0].get_ylim()[1]
    q1, median, q3 = np.quantile(np.where(np.isfinite(adam), adam, np.inf), (0.25, 0.5, 0.75),
                                 axis=0, method="higher")  # a diverged run counts as +inf
    np.testing.assert_allclose(_drawn(ax)[0].get_ydata(), median)
    assert (_band(ax).min(), _band(ax).max()) == (q1.min(), min(q3.max(), top))
    steps = sorted(np.argmax(~(adam[:3] <= top), 1) + 1)
    assert top == 1e3 and sorted(x for x, _ in _marks(ax)) == steps
    adam = f"Adam: median of 64 runs; 3 runs left the chart, the first at step {steps[0]}"
    assert _labels(fig) == [adam, *["SGD: median of 64 runs"] * as_dict, "middle half of runs", OUT]


def test_sweep_styles_by_activation_and_its_median_counts_divergence_as_inf():
    errors = _sweep_errors()
    fig = plot.sweep(LRS, errors, floor=(0.33, "least-squares line"))
    (ax, low), top = fig.axes, fig.axes[0].get_ylim()[1]
    assert [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes] == [
        ("", "final J (full grid)"), ("learning rate", "diverged")]
    lines = [line for line in _drawn(ax) if line.get_marker() == "o"]
    assert top == 1e2 and len(lines) == 4 == len(low.get_lines())
    styles = [(line.get_color(), line.get_linestyle()) for line in lines]
    assert len(set(styles)) == 4 and [s for _, s in styles] == ["-", "--"] * 2  # none, tanh
    for line, j in zip(lines, errors.values()):
        median = np.quantile(np.where(np.isfinite(j), j, np.inf), 0.5, axis=1, method="higher")
        assert median[2] == 1e30 and median[3] == np.inf  # diverged counts as +inf
        np.testing.assert_allclose(line.get_ydata(), [*median[:2], top, np.nan])
    assert _marks(ax) == [(0.1, top)] * 4
    offsets = [line.get_ydata()[0] for line in low.get_lines()]
    assert len(set(offsets)) == 4 and max(map(abs, offsets)) < 0.05  # 0% lines kept apart
    assert _labels(fig) == ["hidden 2", "hidden 8", "none", "tanh", "middle half of seeds",
                            "median of seeds (diverged = +inf)", OUT,
                            "least-squares line (shaded below: better than any line)"]
    assert {k.get_color() for k in fig.legends[0].legend_handles[2:4]} == {"0.4"}, "grey keys"


def test_collapse_draws_each_neuron_their_sum_and_the_path_over_j():
    x = np.linspace(-3, 3, 40)
    y, terms = 2 * np.sin(x) + 5, x[:, None] * [0.5, -1.0, 2.0] + [1.0, 0.0, -1.0]  # w2_j z_j(x)
    line = np.polyfit(x, y, 1)
    good = np.linspace([0, 0], line, 30)  # (T, 2): (w, b) after each step
    bad = good * np.geomspace(1, 1e6, 30)[:, None]  # leaves the view
    fig = plot.collapse(x, terms, 0.5, y, line, {"lr 0.01": good, "lr 1": bad})
    ax, plane = fig.axes
    assert [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes] == [("x", "y"), ("w", "b")]
    assert len(ax.get_lines()) == 3 + 3 and plane.collections, "3 neurons, 3 lines; contours"
    np.testing.assert_allclose(ax.get_lines()[4].get_ydata(), terms.sum(1) + 0.5)
    assert all(lo < v < hi < 1e3 for (lo, hi), v in zip((plane.get_xlim(), plane.get_ylim()), line))
    assert _labels(fig) == ["one hidden neuron's w2_j z_j(x) (3 lines)", "target",
                            "network: their sum + b2", "least-squares line", "lr 0.01",
                            "lr 1 (leaves the view at step 6)", "least-squares (w, b)"]
    fit = jl.least_squares(x[:, None], y[:, None])  # (w: (1, 1), b: (1,)), as the docstring says
    drawn = plot.collapse(x, terms, 0.5, y, fit, {"a": good}).axes[0].get_lines()[5].get_ydata()
    np.testing.assert_allclose(drawn, ax.get_lines()[5].get_ydata(), rtol=1e-5)


def test_animate_writes_a_frame_per_step_with_step_and_j(tmp_path):
    outputs = np.linspace(0, 1, 6)[:, None] * np.asarray(Y)[:, 0]
    anim = plot.animate(X, Y, outputs, np.geomspace(10, 0.1, 6), steps=np.arange(0, 60, 10))
    anim.save(tmp_path / "t.gif", writer="pillow", fps=5)  # the caller writes the file
    (ax,) = anim._fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["true function", "Net"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), outputs[-1])
    assert [t.get_text() for t in ax.texts] == ["step   50   J = 0.1"]


@pytest.mark.parametrize("make", [
    lambda: plot.before_after(X, Y, 0 * Y, {"hand": Y, "least-squares line": Y}),
    lambda: plot.loss_curve({f"a rather long label {k}": _noisy(1500) for k in range(3)},
                            floor=(0.33, "least-squares line")),
    lambda: plot.loss_curve(_runs(), spread=True),
    lambda: plot.sweep(LRS, _sweep_errors(), floor=0.33, goal=(1e-2, "J = 1e-2")),
    lambda: plot.sweep(LRS, {"all diverged": np.full((4, 3), np.nan)}),
    lambda: plot.collapse(X, np.asarray(X) * [1, -2], 0.5, Y, (2, 3), {"a": np.ones((3, 2))}),
])
def test_each_figure_has_no_empty_series_and_log_ticks_read_1e_n(make):
    axes = (fig := make()).axes
    fig.draw_without_rendering()  # ticks take their places; what drawing warns about fails
    for line in (line for ax in axes for line in ax.get_lines()):
        assert np.isfinite(np.asarray(line.get_ydata(), float)).any(), line
    log = [a for a in [ax.yaxis for ax in axes] + [axes[-1].xaxis] if a.get_scale() == "log"]
    texts = [[t.get_text() for t in a.get_majorticklabels()] for a in log]
    assert all(len(t) >= 2 and all(re.fullmatch(r"1e[+-]\d\d", s) for s in t) for t in texts)
    assert not any(t.get_text() for a in log for t in a.get_minorticklabels())


def test_pyplot_only_when_asked_and_import_jlinnet_stays_light():
    code = ("import sys, jlinnet as jl; assert 'matplotlib' not in sys.modules; x = jl.grid(5)\n"
            "from jlinnet import plot; plot.before_after(x, x, x, x).draw_without_rendering()\n"
            "assert 'matplotlib.pyplot' not in sys.modules; from matplotlib import pyplot as plt\n"
            "assert plot.before_after(x, x, x, x, pyplot=True).number in plt.get_fignums()")
    env = {"PATH": "", "HOME": "/nonexistent", "MPLBACKEND": ""}  # no DISPLAY, no backend set
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


@pytest.mark.parametrize("arg, call", [  # what the table in test_boundary.py leaves out
    ("x", lambda: plot.before_after("grid", Y, Y, Y)),
    ("after", lambda: plot.before_after(X, Y, Y, {})),
    ("labels", lambda: plot.loss_curve(np.ones((2, 5)), labels=["a", "b", "a"])),  # b was dropped
    ("losses", lambda: plot.loss_curve(np.ones(0))),
    ("losses", lambda: plot.loss_curve(None)),
    ("losses['a']", lambda: plot.loss_curve({"a": np.ones((3, 5))})),
    ("floor", lambda: plot.loss_curve(np.ones(5), floor=np.nan)),
    ("goal", lambda: plot.sweep(LRS, E, goal=(np.inf, "restored"))),
    ("lrs", lambda: plot.sweep(LRS[:, None], E)),
    ("lrs", lambda: plot.sweep([np.nan, 0.01, 0.1, 1], E)),  # was drawn without its point
    ("errors", lambda: plot.sweep(LRS, np.ones((4, 0)))),
    ("bias", lambda: plot.collapse(X, X, np.nan, Y, (2, 3), P)),  # was drawn without the sum
    ("line", lambda: plot.collapse(X, X, 0.5, Y, (np.nan, 3), P)),
    ("outputs", lambda: plot.animate(X, Y, np.ones((2, 50, 2)), np.ones(2))),
    ("steps", lambda: plot.animate(X, Y, np.ones((2, 50)), np.ones(2), steps=[[0], [1]])),
    ("interval", lambda: plot.animate(X, Y, np.ones((2, 50)), np.ones(2), interval=0)),
])
def test_a_bad_argument_is_named_first_in_one_line(arg, call):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(arg) and "\n" not in str(info.value)
