import io
import re
import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import jlinnet as jl
from jlinnet import plot

X = jl.grid(50)
Y = jl.linear_target(X)
RNG = np.random.default_rng(0)
LRS = np.array([1e-3, 1e-2, 1e-1, 1.0])


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _noisy(steps):
    """A long run's batch loss: a decay times batch-to-batch noise spanning decades."""
    return (0.3 + 2 * np.exp(-np.arange(steps) / 300)) * RNG.gamma(2.0, 0.5, steps)


def _sweep_errors():
    j = RNG.lognormal(-3, 1, (4, 6))
    j[2, :2] = np.nan  # two of six seeds diverged at lr 0.1
    j[3] = [np.inf, np.nan] * 3  # all diverged at lr 1
    return {"2 hidden": j, "8 hidden": j[:, ::-1] * 2}


def _legend_labels(fig):
    return [t.get_text() for t in fig.legends[0].get_texts()]


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
    assert _legend_labels(fig) == ["true function", "Net", "hand", "auto"]
    assert _png(fig).startswith(b"\x89PNG")


def test_before_after_takes_k_networks_as_rows():
    preds = jnp.stack([Y * k for k in range(1, 6)])  # (5, N, 1), as a vmapped forward gives
    fig = plot.before_after(X, Y, preds, preds[:, :, 0])
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()[1:]] == [
            f"network {k}" for k in range(1, 6)]
        np.testing.assert_allclose(ax.get_lines()[5].get_ydata(), 5 * np.asarray(Y)[:, 0])
    assert len(set(line.get_color() for line in fig.axes[0].get_lines()[1:])) == 5
    labels = ["a", "b", "c", "d", "e"]
    fig = plot.before_after(X, Y, preds, preds, labels=labels)
    assert _legend_labels(fig) == ["true function", *labels]


def test_loss_curve_is_log_scale():
    fig = plot.loss_curve({"a": jnp.linspace(1, 1e-3, 30), "b": jnp.linspace(2, 1e-2, 30)})
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2 and list(ax.get_lines()[0].get_xdata()[[0, -1]]) == [1, 30]
    assert not ax.collections, "a short run is plain lines, no band"
    assert _png(fig).startswith(b"\x89PNG")


@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "array"])
def test_loss_curve_draws_k_curves(as_dict):
    losses = RNG.uniform(0.1, 1, (5, 40))
    names = [f"network {k}" for k in range(1, 6)]
    fig = plot.loss_curve(dict(zip(names, losses)) if as_dict else losses)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == names == _legend_labels(fig)
    for line, row in zip(lines, losses):
        np.testing.assert_array_equal(line.get_ydata(), row)
    assert len({line.get_color() for line in lines}) == 5


def test_many_curves_share_a_ramp_and_the_legend_names_first_and_last():
    fig = plot.loss_curve(RNG.uniform(0.1, 1, (40, 20)), labels=[f"seed {k}" for k in range(40)])
    assert len(fig.axes[0].get_lines()) == 40
    assert len({line.get_color() for line in fig.axes[0].get_lines()}) == 40
    assert _legend_labels(fig) == ["seed 0", "seed 39"]


def test_long_run_is_a_band_under_a_centred_running_mean():
    v = _noisy(3000)  # w = 3000 // 50 = 60, made odd: 61
    fig = plot.loss_curve(v)
    ax = fig.axes[0]
    (mean,) = ax.get_lines()
    w = 61
    reference = [v[t : t + w].mean() for t in range(v.size - w + 1)]
    np.testing.assert_allclose(mean.get_ydata(), reference, rtol=1e-12)
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(1 + w // 2, v.size - w // 2 + 1))
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert y.min() == v.min() and y.max() == v.max(), "the band covers every batch loss"
    assert "mean of 61 steps" in _legend_labels(fig)


def test_floor_is_a_horizontal_line_at_its_value():
    fig = plot.loss_curve(_noisy(2000), floor=(0.3309, "least-squares line"))
    ax = fig.axes[0]
    (floor,) = [line for line in ax.get_lines() if line.get_label().startswith("least-sq")]
    assert list(floor.get_ydata()) == [0.3309, 0.3309]
    assert ax.get_ylim()[0] < 0.3309 < ax.get_ylim()[1]
    assert "least-squares line (full grid: a batch's J may be lower)" in _legend_labels(fig)
    fig = plot.loss_curve(jnp.ones(10), floor=jnp.float32(1e-4))  # a JAX scalar, far below
    assert fig.axes[0].get_ylim()[0] <= 1e-4 and "floor" in _legend_labels(fig)[1]


def _figures():
    long_labels = {f"a rather long label number {k}": _noisy(1500) for k in range(3)}
    return {
        "before_after": plot.before_after(X, Y, 0 * Y, {"hand": Y, "least-squares line": Y}),
        "loss_curve": plot.loss_curve(long_labels, floor=(0.33, "least-squares line")),
        "sweep": plot.sweep(LRS, _sweep_errors(), floor=0.33, goal=(1e-2, "J = 1e-2")),
        "collapse": plot.collapse(X, np.asarray(X) * [1, -2], 0.5, Y, (2, 3),
                                  {"a rather long label": np.ones((3, 2))}, title="t"),
    }


@pytest.fixture(scope="module")
def figures():
    figures = _figures()
    for fig in figures.values():
        fig.draw_without_rendering()  # ticks and legends take their places
    return figures


@pytest.mark.parametrize("kind", ["before_after", "loss_curve", "sweep", "collapse"])
def test_legend_is_right_of_every_axis_and_inside_the_figure(figures, kind):
    fig = figures[kind]
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert box.x0 >= max(ax.get_window_extent().x1 for ax in fig.axes)
    assert box.x1 <= fig.bbox.x1 and box.y0 >= fig.bbox.y0 and box.y1 <= fig.bbox.y1


@pytest.mark.parametrize("kind, labelled", [("loss_curve", 1), ("sweep", 2)])
def test_log_tick_labels_share_one_format(figures, kind, labelled):
    fig = figures[kind]
    log_axes = [a for ax in fig.axes for a in (ax.xaxis, ax.yaxis) if a.get_scale() == "log"]
    texts = [[t.get_text() for t in a.get_majorticklabels()] for a in log_axes]
    assert sum(len(t) >= 2 for t in texts) == labelled  # sweep: lr below, J on top
    assert all(re.fullmatch(r"1e[+-]\d\d", t) for t in sum(texts, [])), texts
    assert not any(t.get_text() for a in log_axes for t in a.get_minorticklabels())


def test_log_axis_spans_whole_decades():
    lo, hi = plot.loss_curve(np.linspace(0.05, 20, 30)).axes[0].get_ylim()
    assert (lo, hi) == pytest.approx((1e-2, 1e2))


def _drawn(ax):
    """The curves of an axis: its lines less references and the triangles that mark where a
    curve left it."""
    return [line for line in ax.get_lines()
            if line.get_marker() != "^" and line.get_transform() is ax.transData]


def _marks(ax):
    return [line for line in ax.get_lines() if line.get_marker() == "^"]


def test_non_finite_values_leave_gaps_and_are_named():
    diverged = np.concatenate([np.linspace(1, 2, 30), [np.inf], np.full(19, np.nan)])
    fig = plot.loss_curve({"diverged": diverged, "nothing": np.full(50, np.nan),
                           "zeros": np.zeros(50)}, floor=0.5)
    assert _legend_labels(fig)[:2] == ["diverged (left the chart from step 31)",
                                       "nothing (left the chart from step 1)"]
    ax = fig.axes[0]
    shown = _drawn(ax)[0].get_ydata()
    assert shown[30] == ax.get_ylim()[1] and np.isnan(shown[31:]).all()  # up to the edge
    assert [m.get_xdata()[0] for m in _marks(ax)] == [31, 1]
    long = _noisy(2000)
    long[1500:] = np.inf
    mean = _drawn(plot.loss_curve(long).axes[0])[0].get_ydata()
    assert np.isfinite(mean[:1400]).all() and np.isnan(mean[1500:]).all()
    fig = plot.before_after(X, Y, Y * np.nan, {"hand": Y.at[3].set(jnp.inf)})
    assert "hand (not finite at 1 of 50 points)" in _legend_labels(fig)
    errors = {"all diverged": np.full((4, 3), np.nan)}
    for fig in (plot.loss_curve(np.full(5, np.inf)), plot.sweep(LRS, errors), fig):
        assert _png(fig).startswith(b"\x89PNG")


def _runs(k=64, steps=200, diverged=3):
    """k runs' batch losses, the first `diverged` exploding to 1e27 and then NaN or inf."""
    v = (0.3 + 20 * np.exp(-np.arange(steps) / 40)) * RNG.lognormal(0, 0.3, (k, steps))
    for r in range(diverged):
        v[r, 50 + 10 * r:] = np.geomspace(1, 1e27, steps - 50 - 10 * r)
        v[r, 80 + 10 * r:] = [np.nan, np.inf][r % 2]
    return v


def test_a_diverged_run_is_clipped_and_marked_not_stretching_the_axis():
    v = _runs(k=3, diverged=1)
    fig = plot.loss_curve(dict(zip(["exploding", "b", "c"], v)))
    ax = fig.axes[0]
    top = ax.get_ylim()[1]
    assert top == 1e3, "a decade above the runs' start near 20, not 1e27"
    assert all(np.nanmax(line.get_ydata()) <= top for line in _drawn(ax))
    step = np.argmax(~(v[0] <= top)) + 1  # the first step above the chart: 68
    assert _legend_labels(fig)[0] == f"exploding (left the chart from step {step})"
    assert [(m.get_xdata()[0], m.get_ydata()[0]) for m in _marks(ax)] == [(step, top)]
    assert "left the chart (above it, or not finite)" in _legend_labels(fig)
    tame = plot.loss_curve(v[1:]).axes[0]
    assert tame.get_ylim()[1] == 1e2 and not _marks(tame), "no clipping: no empty decade"


@pytest.mark.parametrize("as_dict", [True, False], ids=["dict", "array"])
def test_spread_is_the_median_over_runs_over_its_quartile_band(as_dict):
    adam, sgd = _runs(), _runs(diverged=0)
    fig = plot.loss_curve({"Adam": adam, "SGD": sgd} if as_dict else adam, spread=True,
                          name="Adam", floor=(0.33, "least-squares line"))
    ax = fig.axes[0]
    lines, (band, *_) = _drawn(ax), ax.collections
    top = ax.get_ylim()[1]
    runs = np.where(np.isfinite(adam), adam, np.inf)  # a diverged run counts as +inf
    q1, median, q3 = np.quantile(runs, (0.25, 0.5, 0.75), axis=0, method="higher")
    np.testing.assert_allclose(lines[0].get_ydata(), median)
    y = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert y.min() == q1.min() and y.max() == min(q3.max(), top)
    steps = sorted(np.argmax(~(adam[:3] <= top), 1) + 1)
    assert top == 1e3 and sorted(_marks(ax)[0].get_xdata()) == steps
    labels = _legend_labels(fig)
    assert labels[0] == ("Adam: median of 64 runs; 3 runs left the chart, the first at step "
                         f"{steps[0]}")
    assert ("SGD: median of 64 runs" in labels) == as_dict
    assert "middle half of runs" in labels
    assert "least-squares line (full grid: a batch's J may be lower)" in labels


def test_float32_values_open_no_empty_decade():
    fig = plot.loss_curve(np.geomspace(1, 1e-4, 20).astype(np.float32))
    assert fig.axes[0].get_ylim() == pytest.approx((1e-4, 1))
    lrs = np.geomspace(1e-4, 1e-1, 4).astype(np.float32)  # 1e-4 is 9.9999997e-05 in float32
    assert plot.sweep(lrs, np.ones((4, 2))).axes[0].get_xlim() == pytest.approx((1e-4, 1e-1))


def _sweep_grid():
    """Two hidden sizes by two activations: tanh ends below the floor, none above it; at lr
    0.1 three of five seeds explode (median 1e30), at lr 1 they diverge (median +inf)."""
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0])
    errors = {}
    for h in (2, 8):
        for act, end in (("none", 0.5), ("tanh", 0.1)):
            j = np.array([[10.0], [1.0], [end], [end]]) * RNG.uniform(0.9, 1.1, (4, 5))
            j[2, :3] = 1e30
            j[3, :3] = [np.nan, np.inf, np.nan]
            errors[(f"hidden {h}", act)] = j
    return lrs, errors


def test_sweep_styles_by_activation_and_its_median_counts_divergence_as_inf():
    lrs, errors = _sweep_grid()
    fig = plot.sweep(lrs, errors, floor=(0.33, "least-squares line"))
    ax, low = fig.axes
    top = ax.get_ylim()[1]
    assert top == 1e2 and ax.get_xscale() == ax.get_yscale() == "log"
    lines = [line for line in _drawn(ax) if line.get_marker() == "o"]
    assert len(lines) == 4 == len(low.get_lines())
    styles = [(line.get_color(), line.get_linestyle()) for line in lines]
    assert len({c for c, _ in styles}) == 2 and len({s for _, s in styles}) == 2
    assert styles[0][1] == "-" and styles[1][1] == "--"  # none solid, tanh dashed
    for line, j in zip(lines, errors.values()):
        median = np.quantile(np.where(np.isfinite(j), j, np.inf), 0.5, axis=1, method="higher")
        assert median[2] == 1e30 and median[3] == np.inf  # `jl.seed_quantile`'s definition
        np.testing.assert_allclose(line.get_ydata(), [*median[:2], top, np.nan])
    assert len(_marks(ax)) == 4 and all(m.get_ydata()[0] == top for m in _marks(ax))
    offsets = [line.get_ydata()[0] for line in low.get_lines()]
    assert len(set(offsets)) == 4 and max(map(abs, offsets)) < 0.05  # 0% lines kept apart
    labels = _legend_labels(fig)
    assert labels[:4] == ["hidden 2", "hidden 8", "none", "tanh"]
    keys = fig.legends[0].legend_handles[2:4]
    assert {k.get_color() for k in keys} == {"0.4"}, "style keys grey, apart from the data"
    floor = "least-squares line (shaded below: better than any line)"
    assert "median of seeds (diverged = +inf)" in labels and floor in labels
    assert [t.get_text() for t in ax.texts] == [floor.replace(" (", ": J = 0.33 (")]


def test_every_series_has_something_to_draw():
    lrs, errors = _sweep_grid()
    path = np.stack([np.linspace(-1, 2, 20), np.linspace(0, 3, 20)], 1)
    for fig in (plot.sweep(lrs, errors), plot.loss_curve(_runs(), spread=True),
                plot.loss_curve(_runs(k=4)),
                plot.collapse(X, np.asarray(X) * [1, -2], 0.5, Y, (2, 3), {"a": path})):
        for ax in fig.axes:
            for line in ax.get_lines():
                assert np.isfinite(np.asarray(line.get_ydata(), float)).any(), line


def test_collapse_draws_each_neuron_their_sum_and_the_path_over_j():
    x = np.linspace(-3, 3, 40)
    y = 2 * np.sin(x) + 5
    terms = x[:, None] * [0.5, -1.0, 2.0] + [1.0, 0.0, -1.0]  # (N, H): w2_j z_j(x)
    line = np.polyfit(x, y, 1)
    good = np.stack([np.linspace(0, line[0], 30), np.linspace(0, line[1], 30)], 1)
    bad = good * np.geomspace(1, 1e6, 30)[:, None]  # leaves the view
    fig = plot.collapse(x, terms, 0.5, y, line, {"lr 0.01": good, "lr 1": bad})
    ax, plane = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), plane.get_xlabel(), plane.get_ylabel()) == (
        "x", "y", "w", "b")
    assert len(ax.get_lines()) == 3 + 3
    (net,) = [n for n in ax.get_lines() if n.get_label() == "network: their sum + b2"]
    np.testing.assert_allclose(net.get_ydata(), terms.sum(1) + 0.5)
    assert plane.collections, "contours of J"
    (lo, hi), (blo, bhi) = plane.get_xlim(), plane.get_ylim()
    assert lo < line[0] < hi and blo < line[1] < bhi and hi < 1e3
    labels = _legend_labels(fig)
    assert labels[:4] == ["one hidden neuron's w2_j z_j(x) (3 lines)", "target",
                          "network: their sum + b2", "least-squares line"]
    assert "lr 0.01" in labels and "least-squares (w, b)" in labels
    assert [t for t in labels if t.startswith("lr 1")][0].startswith("lr 1 (leaves the view")


def test_animate_returns_frames_of_step_and_j(tmp_path):
    outputs = np.linspace(0, 1, 6)[:, None] * np.asarray(Y)[:, 0]
    anim = plot.animate(X, Y, outputs, np.geomspace(10, 0.1, 6), steps=np.arange(0, 60, 10))
    assert isinstance(anim, FuncAnimation)
    anim.save(tmp_path / "t.gif", writer="pillow", fps=5)  # the caller writes the file
    assert (tmp_path / "t.gif").read_bytes()[:6] == b"GIF89a"
    (ax,) = anim._fig.axes
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), outputs[-1])
    assert [t.get_text() for t in ax.texts] == ["step   50   J = 0.1"]
    with pytest.raises(ValueError, match=r"need outputs: \(T, 50\)"):
        plot.animate(X, Y, outputs, np.ones(5))


def test_any_k_curves_of_any_values_draw():
    hypothesis = pytest.importorskip("hypothesis")  # not in the [test] extra everywhere
    pytest.importorskip("hypothesis.extra.numpy")
    st = hypothesis.strategies
    values = st.sampled_from([0.0, 1e-30, 0.5, 3.0, 1e30, np.nan, np.inf, -np.inf, -1.0])

    @hypothesis.settings(max_examples=8, deadline=None)
    @hypothesis.given(k=st.integers(1, 4), steps=st.sampled_from([1, 2, 7, 60, 1200]),
                      data=st.data())
    def check(k, steps, data):
        losses = data.draw(hypothesis.extra.numpy.arrays(np.float64, (k, steps), elements=values))
        fig = plot.loss_curve(losses, floor=0.1)
        fig.draw_without_rendering()  # what drawing warns about fails here (warnings are errors)
        top = fig.axes[0].get_ylim()[1]
        if steps < 1000:  # short runs: as given, gaps where not drawable, clipped at the top
            for line, row in zip(_drawn(fig.axes[0]), losses):
                ok = np.isfinite(row) & (row > 0) & (row <= top)
                y = np.asarray(line.get_ydata())
                np.testing.assert_array_equal(y[ok], row[ok])
                assert np.all(np.isnan(y[~ok]) | (y[~ok] == top))

    check()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: plot.before_after(X, Y, Y[:49], Y), ValueError,
         r"before: 'Net' must have 50 points, got 49"),
        (lambda: plot.before_after(X, Y[:49], Y, Y), ValueError,
         r"y must have x's 50 points, got 49"),
        (lambda: plot.before_after(X, {"a": Y}, Y, Y), TypeError,
         r"y must be \(N,\) or \(N, 1\), of numbers; got dict"),
        (lambda: plot.before_after(X, Y, Y, {"a": jnp.zeros((50, 2))}), ValueError,
         r"after must be \(N,\) or \(N, 1\), \(K, N\) or \(K, N, 1\) or \{label: \(N,\) or "
         r"\(N, 1\)\}, got shape \(50, 2\)"),
        (lambda: plot.loss_curve(jnp.zeros((3, 2, 2))), ValueError,
         r"losses must be \(S,\), \(K, S\) or \{label: \(S,\)\}, got shape \(3, 2, 2\)"),
        (lambda: plot.loss_curve({}), ValueError, r"losses must be .*, got no curves"),
        (lambda: plot.loss_curve(jnp.zeros((2, 0))), ValueError,
         r"losses: 'network 1' must have some points, got 0"),
        (lambda: plot.loss_curve("abc"), TypeError, r"losses must be .*, of numbers; got str"),
        (lambda: plot.loss_curve(jnp.ones((2, 5)), labels=["a"]), ValueError,
         r"labels must be 2 distinct names, got \['a'\]"),
        (lambda: plot.loss_curve(jnp.ones((2, 5)), labels=["a", "a"]), ValueError,
         r"labels must be 2 distinct names"),
        (lambda: plot.loss_curve({"a": jnp.ones(5)}, labels=["b"]), ValueError,
         r"labels names the rows of an array, but losses is a dict"),
        (lambda: plot.loss_curve(jnp.ones(5), floor=-1.0), ValueError,
         r"floor must be a positive finite J or \(J, label\), got -1.0"),
        (lambda: plot.loss_curve(jnp.ones(5), floor=(np.nan, "x")), ValueError,
         r"floor must be a positive finite J"),
        (lambda: plot.sweep([1e-2, 0.0], np.ones((2, 3))), ValueError,
         r"lrs must be \(L,\) positive finite learning rates, got \[0.01 0.  \]"),
        (lambda: plot.sweep(LRS, {"h": np.ones((3, 5))}), ValueError,
         r"errors must be \{label: \(L, seeds\)\} or \(L, seeds\) with L = 4, got \{'h': \(3, 5\)"),
        (lambda: plot.sweep(LRS, np.ones(4)), ValueError, r"errors must be .*, got shape \(4,\)"),
        (lambda: plot.sweep(LRS, np.ones((4, 2)), goal=0), ValueError,
         r"goal must be a positive finite J"),
        (lambda: plot.loss_curve({0.1: np.ones(5), np.float32(0.1): np.ones(5)}), ValueError,
         r"losses: labels must be distinct as text, got \['0.1', '0.1'\]"),
        (lambda: plot.sweep([0.1, np.float32(0.1)], np.ones((2, 3))), ValueError,
         r"lrs must be distinct learning rates \(in float32\)"),
        (lambda: plot.sweep(LRS, {("h", "tanh"): np.ones((4, 2)), "('h', 'tanh')": np.ones(
            (4, 2))}), ValueError, r"errors: labels must be distinct"),
        (lambda: plot.loss_curve(np.ones(5), spread=True), ValueError,
         r"losses must be \(K, S\) or \{label: \(K, S\)\} with spread=True, and no labels"),
        (lambda: plot.collapse(X, np.ones((49, 2)), 0, Y, (2, 3), {"a": np.ones((3, 2))}),
         ValueError, r"need N = 50, y: \(N,\), terms: \(N, H\)"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_pyplot_true_makes_a_figure_pyplot_can_show():
    import matplotlib

    matplotlib.use("Agg")  # no display here; pyplot must still own the figure
    from matplotlib import pyplot as plt

    before = set(plt.get_fignums())
    plain = plot.loss_curve(jnp.ones(5))
    assert set(plt.get_fignums()) == before, "the default builds no pyplot figure"
    fig = plot.sweep(LRS, np.ones((4, 2)), pyplot=True)
    try:
        assert fig.number in plt.get_fignums() and plt.figure(fig.number) is fig
        assert fig.canvas.manager is not None  # what fig.show() and plt.show() need
        with warnings.catch_warnings():  # with a $DISPLAY, Agg warns that it cannot show
            warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")
            fig.show()
            plt.show()
    finally:
        plt.close(fig)
    with pytest.raises(AttributeError):
        plain.show()


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
