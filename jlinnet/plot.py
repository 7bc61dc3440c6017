"""The tutorial's figures: before/after training (its `showSubplots`, Figures 2-4), the loss
curve, and the learning-rate sweep. Each takes arrays and returns a `matplotlib.figure.Figure`.

Imported on its own (`from jlinnet import plot`): `import jlinnet` stays free of matplotlib.
A figure is built without pyplot (headless, no backend to set; `fig.savefig("loss.png")`)
unless `pyplot=True`: then `matplotlib.pyplot.figure` makes it, so `plt.show()` or
`fig.show()` displays it, a notebook inline; `plt.close(fig)` frees it.

Any number of curves: up to 3 in the tutorial's styles, 10 in tab10, more on a viridis ramp
(the legend names the first and last). Log axes span whole decades, labelled alike, "1e-03"
(mathtext costs ~0.1 s a figure). The legend sits right of the axes, the figure widened for
it: it covers no data. Values not finite (a diverged run), or <= 0 on a log axis, are gaps
that the legend notes; they never raise.
"""

import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import ArrayLike

Curves: TypeAlias = ArrayLike | Mapping[str, ArrayLike]  # (S,), (K, S) or {label: (S,)}
Labels: TypeAlias = Sequence[str] | None
Reference: TypeAlias = float | tuple[float, str] | None  # J, or (J, label)

# The tutorial's network in orange; a second route in blue, dashed; a reference in grey, dotted.
STYLES = ({"color": "orange"}, {"color": "tab:blue", "linestyle": "--"},
          {"color": "tab:gray", "linestyle": ":"})
MAX_NAMED = 10  # more curves than this: a colour ramp; the legend names the first and last
LONG_RUN = 1000  # steps from which a loss curve is a band under its running mean
PAD = 0.12  # inches between the axes and the legend, and after the legend


def _figure(size, pyplot, **margins):
    """A plain or pyplot figure; fixed margins, as a layout solver costs a second draw."""
    if pyplot:
        from matplotlib import pyplot as plt  # only here: importing pyplot picks a backend
    fig = plt.figure(figsize=size) if pyplot else Figure(figsize=size)
    fig.subplots_adjust(**margins)
    return fig


def _curves(values, arg, *, name, labels=None, n=None):
    """{label: (S,) float64} from (S,), (K, S) or {label: (S,)}; on a grid of `n` points also
    the network's columns (n, 1) and (K, n, 1), and each curve must have n points."""
    one, many = ("(N,) or (N, 1)", "(K, N) or (K, N, 1)") if n else ("(S,)", "(K, S)")
    need = f"{arg} must be {one}, {many} or {{label: {one}}}"
    if isinstance(values, Mapping):
        if labels is not None:
            raise ValueError(f"labels names the rows of an array, but {arg} is a dict")
        curves = {str(k): _array(v, need, n, (1,)) for k, v in values.items()}
    else:
        a = _array(values, need, n, (1, 2))
        rows = a[None] if a.ndim == 1 else a
        names = [name] if a.ndim == 1 else [f"network {i + 1}" for i in range(len(rows))]
        names = names if labels is None else [str(label) for label in labels]
        if len(set(names)) != len(rows):
            raise ValueError(f"labels must be {len(rows)} distinct names, got {labels!r}")
        curves = dict(zip(names, rows))
    if not curves:
        raise ValueError(f"{need}, got no curves")
    for label, v in curves.items():
        if v.size == 0 or (n and v.size != n):
            raise ValueError(f"{arg}: {label!r} must have {n or 'some'} points, got {v.size}")
    return curves


def _array(values, need, n, ndims):
    """`values` as float64 of `ndims` dimensions, on a grid (n) after a trailing axis of 1."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{need}, of numbers; got {type(values).__name__}") from None
    a = a[..., 0] if n and a.ndim > 1 and a.shape[-1] == 1 else a
    if a.ndim not in ndims:
        raise ValueError(f"{need}, got shape {np.shape(values)}")
    return a


def _styles(k):
    """k line styles: the tutorial's for up to three, tab10 for up to ten, else a ramp."""
    if k <= len(STYLES):
        return list(STYLES[:k])
    if k <= MAX_NAMED:
        return [{"color": c} for c in colormaps["tab10"].colors[:k]]
    return [{"color": colormaps["viridis"](i / (k - 1))} for i in range(k)]


def _shown(v, log=True):
    """v with what cannot be drawn (not finite, or <= 0 on a log axis) set to NaN: a gap."""
    return np.where(np.isfinite(v) & ((v > 0) | (not log)), v, np.nan)


def _label(label, v, i, k, unit):
    """The legend label of curve i of k (all up to MAX_NAMED, else the first and last), noting
    where v is not finite: from which step (unit "step"), or at how many points."""
    bad = np.flatnonzero(~np.isfinite(v))
    if k > MAX_NAMED and i not in (0, k - 1):
        return "_nolegend_"
    if bad.size:
        where = f"from step {bad[0] + 1}" if unit == "step" else f"at {bad.size} of {v.size} points"
        return f"{label} (not finite {where})"
    return label


def _references(ax, **refs):
    """Horizontal lines: `floor` dashed, `goal` dotted, each given as J or (J, label)."""
    lines = []
    for arg, ref in ((k, r) for k, r in refs.items() if r is not None):
        need = f"{arg} must be a positive finite J or (J, label)"
        value, label = ref if isinstance(ref, tuple | list) and len(ref) == 2 else (ref, arg)
        if not 0 < (value := float(_array(value, need, None, (0,)))) < math.inf:
            raise ValueError(f"{need}, got {ref!r}")
        lines += [ax.axhline(value, color="black", linewidth=1.2, label=str(label),
                             linestyle=(0, (6, 3)) if arg == "floor" else (0, (1, 2)))]
    return lines


def _log_axis(ax, which, values, minor=False):
    """Log axis `which` ("x" or "y") over the whole decades around the finite positive values
    (arrays), each decade labelled alike ("1e-03"); minor ticks, a millisecond each, if asked."""
    v = np.concatenate([np.ravel(a) for a in values])
    v = v[np.isfinite(v) & (v > 0)]
    lo, hi = (math.floor(np.log10(v.min())), math.ceil(np.log10(v.max()))) if v.size else (-1, 1)
    getattr(ax, f"set_{which}scale")("log")
    getattr(ax, f"set_{which}lim")(10.0**lo, 10.0 ** max(hi, lo + 1))
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(ticker.LogLocator(base=10))
    axis.set_major_formatter(ticker.FormatStrFormatter("%.0e"))
    axis.set_minor_locator(ticker.LogLocator(subs="auto") if minor else ticker.NullLocator())
    axis.set_minor_formatter(ticker.NullFormatter())


def _legend(fig, handles):
    """A legend right of the axes; the figure is widened by its width, so it covers no data."""
    width, height = fig.get_size_inches()
    left, right, top = fig.subplotpars.left, fig.subplotpars.right, fig.subplotpars.top
    legend = fig.legend(handles=[h for h in handles if not h.get_label().startswith("_")],
                        loc="upper left", borderaxespad=0, bbox_to_anchor=(right * width + PAD,
                        top * height), bbox_transform=fig.dpi_scale_trans)  # inches: stays put
    new_width = right * width + 2 * PAD + legend.get_window_extent().width / fig.dpi
    fig.set_size_inches(new_width, height)
    fig.subplots_adjust(left=left * width / new_width, right=right * width / new_width)


def before_after(x: Curves, y: Curves, before: Curves, after: Curves, *, name: str = "Net",
                 labels: Labels = None, title: str | None = None, pyplot: bool = False) -> Figure:
    """Two panels: the networks' predictions before and after training, over the truth.

    The true function is a thick black line, each prediction drawn over it; one legend, right
    of the panels, names each label once.

    Args:
      x, y: (N, 1) or (N,) the grid and the true function on it.
      before: predictions before training: (N, 1) or (N,) for one network (labelled `name`),
        (K, N, 1) or (K, N) for K networks (labelled `labels`), or {label: (N, 1) or (N,)}.
      after: predictions after training, the same way; a dict may add references such as the
        least-squares line.
      name: the label of a single network; labels: K names for the rows of a (K, ...) array,
        else "network 1" .. "network K".
      title, pyplot: a title over both panels; True to show the figure (module docstring).

    Returns:
      A `Figure` with two axes, "Net results before training" and "... after training".
    """
    x, y = (_array(v, f"{arg} must be (N,) or (N, 1)", True, (1,)) for arg, v in zip("xy", (x, y)))
    if y.size != x.size:
        raise ValueError(f"y must have x's {x.size} points, got {y.size}")
    fig = _figure((10, 4.2), pyplot, left=0.065, right=0.985, bottom=0.12,
                  top=0.86 if title else 0.92, wspace=0.06)
    axes = fig.subplots(1, 2, sharey=True)
    handles = {}
    for ax, preds, when in zip(axes, (before, after), ("before", "after")):
        handles["true function"] = ax.plot(x, _shown(y, log=False), color="black", linewidth=4,
                                           label="true function")[0]
        curves = _curves(preds, when, name=name, labels=labels, n=x.size)
        for i, (style, (label, v)) in enumerate(zip(_styles(len(curves)), curves.items())):
            label = _label(label, v, i, len(curves), "points")
            handles.setdefault(label, ax.plot(x, _shown(v, log=False), linewidth=2, label=label,
                                              **style)[0])
        ax.set(title=f"Net results {when} training", xlabel="x")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("y")
    _legend(fig, handles.values())
    if title:
        fig.suptitle(title, x=(fig.subplotpars.left + fig.subplotpars.right) / 2)
    return fig


def loss_curve(losses: Curves, *, name: str = "batch loss", labels: Labels = None,
               floor: Reference = None, title: str | None = None, pyplot: bool = False) -> Figure:
    """The batch loss J per step on a log scale; a long run as a faint band under its mean.

    A run of S >= 1000 steps is a faint band, the least to the largest batch loss in bins of
    S // 1000 steps (what a line through every step covers, at a fraction of its cost), under
    its centred running mean: at step t the mean of J over steps t - w//2 .. t + w//2, with
    w = S // 50 made odd (401 for 20,000 steps), where the whole window lies in the run. It
    estimates the full-grid J that the noisy batch loss hides. A shorter run is a plain line.

    Args:
      losses: (S,) batch losses (`TrainResult.losses`), (K, S) for K networks (`train_many`),
        or {label: (S,)}.
      name: the label of a single run; labels: K names for the rows of a (K, S) array, else
        "network 1" .. "network K".
      floor: a J, or (J, label), drawn as a dashed line: `(0.3309, "least-squares line")`.
      title, pyplot: an optional title; True to show the figure (module docstring).

    Returns:
      A `Figure` with one axis: step on x, J on a log y axis.
    """
    curves = _curves(losses, "losses", name=name, labels=labels)
    fig = _figure((6.5, 4.2), pyplot, left=0.12, right=0.97, bottom=0.12,
                  top=0.92 if title else 0.96)
    ax = fig.subplots()
    handles, windows = [], set()
    for i, (style, (label, v)) in enumerate(zip(_styles(len(curves)), curves.items())):
        if v.size >= LONG_RUN:
            line, w = _long_run(ax, v, style)
            handles, windows = handles + line, windows | {w}
        else:
            handles += ax.plot(np.arange(1, v.size + 1), _shown(v), linewidth=1.2, **style)
        handles[-1].set_label(_label(label, v, i, len(curves), "step"))
    refs = _references(ax, floor=floor)
    if windows:
        handles += [Patch(color="grey", alpha=0.3, linewidth=0, label="batch loss, each step"),
                    Line2D([], [], color="grey", linewidth=1.8, label="mean of "
                           f"{'/'.join(map(str, sorted(windows)))} steps")]
    _log_axis(ax, "y", [*curves.values(), *(r.get_ydata() for r in refs)])
    ax.set(xlabel="step", ylabel="batch error J", title=title or "")
    ax.grid(alpha=0.3)
    _legend(fig, handles + refs)
    return fig


def _long_run(ax, v, style):
    """Draws a long run v: (S,) as `loss_curve` says; returns the mean's [line] and width w.
    mean_t = (v_t + ... + v_{t+w-1}) / w is drawn at step t + w//2; NaN if one is not finite."""
    size, w = max(2, v.size // LONG_RUN), (v.size // 50) | 1
    starts = np.arange(0, v.size, size)
    lo, hi = np.fmin.reduceat(_shown(v), starts), np.fmax.reduceat(_shown(v), starts)
    ends = np.minimum(starts + size, v.size)  # bin i holds steps starts_i + 1 .. ends_i
    ax.fill_between((starts + 1 + ends) / 2, lo, hi, color=style["color"], alpha=0.25, lw=0)
    finite = np.isfinite(v)  # window sums from cumulative sums: O(S), not O(S w)
    sums, bad = (np.concatenate([[0], np.cumsum(a)]) for a in (np.where(finite, v, 0), ~finite))
    with np.errstate(all="ignore"):  # overflow to inf is drawn as a gap, like NaN
        mean = np.where(bad[w:] > bad[:-w], np.nan, (sums[w:] - sums[:-w]) / w)
    every = max(1, mean.size // 2000)  # the mean is smooth: 2000 points draw it
    t = np.arange(1, mean.size + 1, every)
    return ax.plot(t + w // 2, _shown(mean[::every]), linewidth=1.8, **style), w


def sweep(lrs: ArrayLike, errors: Mapping[str, ArrayLike], *, floor: Reference = None,
          goal: Reference = None, title: str | None = None, pyplot: bool = False) -> Figure:
    """The final J against the learning rate: median and quartiles over seeds, and divergence.

    Top, per label (e.g. a hidden size): the median over seeds of the finite final J at each
    learning rate, as a line with dots, over a band from its first to its third quartile.
    Bottom: the fraction of seeds that diverged (J not finite). The legend gives each label's
    smallest learning rate where any seed diverged.

    Args:
      lrs: (L,) positive learning rates, in any order.
      errors: {label: (L, seeds)} the final full-grid J of each network, NaN or inf where it
        diverged; or one (L, seeds) array.
      floor: a J, or (J, label), drawn dashed: `(0.3309, "least-squares line")`.
      goal: a J, or (J, label), drawn dotted: `(1e-2, "J = 1e-2")`.
      title, pyplot: an optional title; True to show the figure (module docstring).

    Returns:
      A `Figure` with two axes on one log learning-rate axis: J (log), fraction diverged.
    """
    lrs = _array(lrs, "lrs must be (L,) learning rates", None, (1,))
    if not (lrs.size and np.all(np.isfinite(lrs) & (lrs > 0))):
        raise ValueError(f"lrs must be (L,) positive finite learning rates, got {lrs}")
    need = f"errors must be {{label: (L, seeds)}} or (L, seeds) with L = {lrs.size}"
    items = errors.items() if isinstance(errors, Mapping) else [("networks", errors)]
    runs = {str(k): _array(v, need, None, (2,)) for k, v in items}
    if not runs or any(j.shape[0] != lrs.size or j.shape[1] == 0 for j in runs.values()):
        raise ValueError(f"{need}, got {({k: j.shape for k, j in runs.items()})}")
    order = np.argsort(lrs)
    lrs, runs = lrs[order], {label: j[order] for label, j in runs.items()}
    fig = _figure((6.5, 5.2), pyplot, left=0.12, right=0.97, bottom=0.1,
                  top=0.93 if title else 0.97, hspace=0.08)
    top, low = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    handles = []
    for style, (label, j) in zip(_styles(len(runs)), runs.items()):
        rows = [r[np.isfinite(r)] for r in j]  # the median and quartiles of the finite J
        median, q1, q3 = np.array([np.percentile(r, (50, 25, 75)) if r.size else (np.nan,) * 3
                                   for r in rows]).T
        top.fill_between(lrs, _shown(q1), _shown(q3), linewidth=0, alpha=0.2, **style)
        diverged = 1 - np.isfinite(j).mean(axis=1)
        edge = lrs[diverged > 0]
        label += f": first divergence at lr {edge[0]:.2g}" if edge.size else ": no divergence"
        handles += top.plot(lrs, _shown(median), marker="o", markersize=3, label=label, **style)
        low.plot(lrs, diverged, marker="o", markersize=3, **style)
    refs = _references(top, floor=floor, goal=goal)
    handles += [Patch(color="grey", alpha=0.3, linewidth=0, label="middle half of finite J"),
                Line2D([], [], color="grey", marker="o", markersize=3, label="median of finite J")]
    _log_axis(top, "y", [*runs.values(), *(r.get_ydata() for r in refs)])
    _log_axis(top, "x", [lrs], minor=True)
    top.set(ylabel="final J (full grid)", title=title or "")
    low.set(ylabel="diverged", ylim=(-0.08, 1.08), yticks=[0, 0.5, 1], xlabel="learning rate")
    low.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    top.grid(alpha=0.3, which="both")
    low.grid(alpha=0.3, which="both")
    _legend(fig, handles + refs)
    return fig

