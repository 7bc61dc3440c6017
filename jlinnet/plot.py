"""The tutorial's figures: before/after training (its `showSubplots`, Figures 2-4), the loss
curve, the learning-rate sweep, a linear network's collapse, training as an animation. Each
takes arrays and returns a `Figure` (`animate`: an animation) and writes no file; `from
jlinnet import plot` (`import jlinnet` stays free of matplotlib). No pyplot (headless,
`fig.savefig`) unless `pyplot=True`: then `plt.show()` or `fig.show()` display it.

Up to 3 curves in the tutorial's styles, 10 in tab10, more on a ramp (the legend names the
first and last). Log axes span whole decades ("1e-03"), float32 rounding opening no empty
one; the legend sits right of the axes. A J axis ends at most DECADES above its curves'
typical top (`_top`): a curve that leaves it (inf, NaN, 1e27) ends on its top edge at a
triangle, and the legend says from which step. Values never raise; gaps are drawn as gaps.
"""

import math
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.animation import FuncAnimation
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
COLOURS = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7]  # grey: for keys
DASHES = ("-", "--", ":", "-.")  # line styles of a sweep's style keys, in order of appearance
MAX_NAMED = 10  # more curves than this: a colour ramp; the legend names the first and last
LONG_RUN = 1000  # steps from which a loss curve is a band under its running mean
DECADES = 1  # a J axis ends this many decades above its curves' typical top
PAD = 0.12  # inches between the axes and the legend, and after the legend
OUT = {"marker": "^", "markersize": 7, "linestyle": "", "clip_on": False, "zorder": 5}
OUT_KEY = Line2D([], [], color="grey", **OUT, label="left the chart (above it, or not finite)")


def _figure(size, pyplot, **margins):
    """A plain or pyplot figure; fixed margins, as a layout solver costs a second draw."""
    if pyplot:
        from matplotlib import pyplot as plt  # only here: importing pyplot picks a backend
    fig = plt.figure(figsize=size) if pyplot else Figure(figsize=size)
    fig.subplots_adjust(**margins)
    return fig


def _named(values, arg, need, ndims, n=None):
    """{label: float64 array of `ndims` dimensions} from a dict; labels distinct as text."""
    names = [str(k) for k in values]
    if len(set(names)) != len(names):
        raise ValueError(f"{arg}: labels must be distinct as text, got {names}")
    return {name: _array(v, need, n, ndims) for name, v in zip(names, values.values())}


def _curves(values, arg, *, name, labels=None, n=None):
    """{label: (S,) float64} from (S,), (K, S) or {label: (S,)}; on a grid of `n` points also
    the network's columns (n, 1) and (K, n, 1), and each curve must have n points."""
    one, many = ("(N,) or (N, 1)", "(K, N) or (K, N, 1)") if n else ("(S,)", "(K, S)")
    need = f"{arg} must be {one}, {many} or {{label: {one}}}"
    if isinstance(values, Mapping):
        if labels is not None:
            raise ValueError(f"labels names the rows of an array, but {arg} is a dict")
        curves = _named(values, arg, need, (1,), n)
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
    return (list(STYLES[:k]) if k <= len(STYLES) else [{"color": c} for c in (
        colormaps["tab10"].colors[:k] if k <= MAX_NAMED else map(tuple, colormaps["viridis"](
            np.linspace(0, 1, k))))])


def _shown(v, log=True):
    """v with what cannot be drawn (not finite, or <= 0 on a log axis) set to NaN: a gap."""
    return np.where(np.isfinite(v) & ((v > 0) | (not log)), v, np.nan)


def _quartiles(j, axis):
    """(q1, median, q3) over `axis` with a non-finite J counted as +inf, each a value some run
    reached (NumPy's "higher"): `jl.seed_quantile`'s definition, the sweep table's."""
    return np.quantile(np.where(np.isfinite(j), j, np.inf), (0.25, 0.5, 0.75), axis=axis,
                       method="higher")


def _top(curves, data, refs):
    """A J axis' top: the decade over the largest of `data`, but at most DECADES over the
    median of the (S,) `curves`' peaks, or over the largest of a curve's first and median
    value if smaller (a run that grows past both diverged); at least over the `refs` lines."""
    ok = [v[np.isfinite(v)] for v in map(_shown, curves) if np.isfinite(v).any()]
    if not ok:
        return 10.0
    hi = max(np.nanmax(v) for v in map(_shown, data) if np.isfinite(v).any())
    m = min(np.median([v.max() for v in ok]), max(max(v[0], np.median(v)) for v in ok))
    decade = [math.ceil(round(math.log10(u), 6)) for u in (m, hi, *(r.get_ydata()[0]
                                                                     for r in refs))]
    return 10.0 ** max([min(decade[0] + DECADES, decade[1]), *decade[2:]])


def _clipped(ax, x, v, top, style, band=None, **kw):
    """Draws v up to `top` over a band (lo, hi) if given; where v leaves (above, not finite)
    it ends on the top edge at a triangle. Returns ([line], the first x it left at, or None)."""
    if band is not None:
        ax.fill_between(x, _shown(band[0]), _shown(np.fmin(band[1], top)), lw=0, alpha=0.2,
                        color=style["color"])
    out = ~(v <= top)
    exits = np.flatnonzero(out & ~np.concatenate([[False], out[:-1]]))
    shown = _shown(np.where(out, np.nan, v))
    shown[exits] = top
    if exits.size:
        ax.plot(x[exits], shown[exits], color=style["color"], **OUT)
    return ax.plot(x, shown, **style, **kw), x[exits[0]] if exits.size else None


def _references(ax, note="", **refs):
    """Lines across, `floor` solid (label + note), `goal` dotted, J or (J, label), named on the
    chart below them too."""
    lines = []
    for arg, ref in ((k, r) for k, r in refs.items() if r is not None):
        need = f"{arg} must be a positive finite J or (J, label)"
        value, label = ref if isinstance(ref, tuple | list) and len(ref) == 2 else (ref, arg)
        note = note if arg == "floor" else ""
        if not 0 < (value := float(_array(value, need, None, (0,)))) < math.inf:
            raise ValueError(f"{need}, got {ref!r}")
        lines += [ax.axhline(value, color="black", linewidth=1.5, label=f"{label}{note}",
                             linestyle="-" if arg == "floor" else (0, (1, 2)))]
        ax.annotate(f"{label}: J = {value:.3g}{note}", (0.01, value), xytext=(0, -3),
                    xycoords=("axes fraction", "data"), textcoords="offset points", fontsize=8,
                    va="top", bbox={"color": "white", "alpha": 0.7, "pad": 0.5})
    return lines


def _log_axis(ax, which, values, minor=False):
    """Log axis `which` ("x", "y") over the whole decades around the finite positive `values`,
    labelled "1e-03", minor ticks if asked; log10 rounded to 6 places: 1e-4 in float32
    (9.9999997e-05) opens no decade below."""
    v = np.concatenate([np.ravel(a) for a in values])
    v = np.log10(v[np.isfinite(v) & (v > 0)]).round(6)
    lo, hi = (math.floor(v.min()), math.ceil(v.max())) if v.size else (-1, 1)
    getattr(ax, f"set_{which}scale")("log")
    getattr(ax, f"set_{which}lim")(10.0**lo, 10.0 ** max(hi, lo + 1))
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(ticker.LogLocator(base=10))
    axis.set_major_formatter(ticker.FormatStrFormatter("%.0e"))
    axis.set_minor_locator(ticker.LogLocator(subs="auto") if minor else ticker.NullLocator())
    axis.set_minor_formatter(ticker.NullFormatter())


def _legend(fig, handles, title=None):
    """A legend right of the axes (the figure widened by its width, so it covers no data),
    and a title over them."""
    width, height = fig.get_size_inches()
    left, right, top = fig.subplotpars.left, fig.subplotpars.right, fig.subplotpars.top
    legend = fig.legend(handles=[h for h in handles if not h.get_label().startswith("_")],
                        loc="upper left", borderaxespad=0, bbox_to_anchor=(right * width + PAD,
                        top * height), bbox_transform=fig.dpi_scale_trans)  # inches: stays put
    new_width = right * width + 2 * PAD + legend.get_window_extent().width / fig.dpi
    fig.set_size_inches(new_width, height)
    fig.subplots_adjust(left=left * width / new_width, right=right * width / new_width)
    if title:
        fig.suptitle(title, x=(fig.subplotpars.left + fig.subplotpars.right) / 2)


def before_after(x: Curves, y: Curves, before: Curves, after: Curves, *, name: str = "Net",
                 labels: Labels = None, title: str | None = None, pyplot: bool = False) -> Figure:
    """Two panels: the networks' predictions before and after training, over the truth (a
    thick black line); the legend names each label once, and a curve's non-finite points.

    Args:
      x, y: (N, 1) or (N,) the grid and the true function on it.
      before, after: predictions before and after training: (N, 1) or (N,) for one network
        (labelled `name`), (K, N, 1) or (K, N) for K (labelled `labels`, else "network 1" ..
        "network K"), or {label: (N, 1) or (N,)}, which may add the least-squares line.
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
            if (bad := np.sum(~np.isfinite(v))) and label:
                label = f"{label} (not finite at {bad} of {v.size} points)"
            label = label if len(curves) <= MAX_NAMED or i in (0, len(curves) - 1) else "_"
            handles.setdefault(label, ax.plot(x, _shown(v, log=False), linewidth=2, label=label,
                                              **style)[0])
        ax.set(title=f"Net results {when} training", xlabel="x")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("y")
    _legend(fig, handles.values(), title)
    return fig


def loss_curve(losses: Curves, *, spread: bool = False, name: str = "batch loss",
               labels: Labels = None, floor: Reference = None, title: str | None = None,
               pyplot: bool = False) -> Figure:
    """The batch loss J per step on a log scale: a line per run, or K runs as median and band.

    `spread=True`: per group of K runs (seeds), the median per step over a band from the first
    to the third quartile, a non-finite J counting as +inf (the sweep's definition); triangles
    on the top edge mark each run's first step off the chart. Else a run of S >= 1000 steps is
    a faint band (least to largest batch loss in bins of S // 1000 steps) under its centred
    running mean over w = S // 50 (made odd) steps, the full-grid J that the noisy batch loss
    hides; a shorter run is a plain line.

    Args:
      losses: (S,) batch losses (`TrainResult.losses`), (K, S) for K networks (`train_many`),
        or {label: (S,)}. With `spread`: (K, S) or {label: (K, S)}, e.g. {"Adam": (256, S),
        "SGD": (256, S)}. Labels must differ as text (0.1 and float32 0.1 do not).
      name: the label of one run or group; labels: names for the rows of a (K, S) array
        (without `spread`), else "network 1" .. "network K".
      floor: a full-grid J, or (J, label): `(0.3309, "least-squares line")`, noted as such:
        one batch's J may be lower, the running mean not for long.
      title, pyplot: an optional title; True to show the figure (module docstring).

    Returns:
      A `Figure` with one axis: step on x, J on a log y axis.
    """
    if spread:
        need = "losses must be (K, S) or {label: (K, S)} with spread=True, and no labels"
        groups = (_named(losses, "losses", need, (2,)) if isinstance(losses, Mapping)
                  else {name: _array(losses, need, None, (2,))})
        if labels is not None or not groups or any(g.size == 0 for g in groups.values()):
            raise ValueError(f"{need}; got {({k: g.shape for k, g in groups.items()})}")
        quartiles = {label: _quartiles(g, 0) for label, g in groups.items()}
        curves = {label: q[1] for label, q in quartiles.items()}
    else:
        curves = groups = _curves(losses, "losses", name=name, labels=labels)
    fig = _figure((6.5, 4.2), pyplot, left=0.12, right=0.97, bottom=0.12,
                  top=0.92 if title else 0.96)
    ax = fig.subplots()
    refs = _references(ax, note=" (full grid: a batch's J may be lower)", floor=floor)
    top = _top(list(curves.values()), groups.values(), refs)
    handles, windows, left = [], set(), False
    for i, (style, (label, v)) in enumerate(zip(_styles(len(curves)), curves.items())):
        steps = np.arange(1, v.size + 1)
        if v.size >= LONG_RUN and not spread:
            line, out, w = _long_run(ax, v, style, top)
            handles, windows = handles + line, windows | {w}
        else:
            band = quartiles[label][::2] if spread else None
            line, out = _clipped(ax, steps, v, top, style, band, linewidth=1.5 if spread else 1.2)
            handles += line
        if spread:
            off = ~(groups[label] <= top)  # (K, S): above the chart, or not finite
            if off.any():  # each run's first step off the chart, on the top edge
                ax.plot(np.argmax(off, 1)[off.any(1)] + 1, [top] * off.any(1).sum(),
                        color=style["color"], **OUT)
            out = (f"; {off.any(1).sum()} runs left the chart, the first at step "
                   f"{np.argmax(off.any(0)) + 1}" if off.any() else None)
            label += f": median of {len(off)} runs{out or ''}"
        elif out is not None:
            label += f" (left the chart from step {out})"
        left |= out is not None
        if len(curves) <= MAX_NAMED or i in (0, len(curves) - 1):
            handles[-1].set_label(label)
    if spread:
        handles += [Patch(color="grey", alpha=0.3, linewidth=0, label="middle half of runs")]
    if windows:
        handles += [Patch(color="grey", alpha=0.3, linewidth=0, label="batch loss, each step"),
                    Line2D([], [], color="grey", linewidth=1.8, label="mean of "
                           f"{'/'.join(map(str, sorted(windows)))} steps")]
    _log_axis(ax, "y", [np.fmin(v, top) for v in groups.values()] + [r.get_ydata() for r in refs])
    ax.set(xlabel="step", ylabel="batch error J", title=title or "")
    ax.grid(alpha=0.3)
    _legend(fig, handles + [OUT_KEY] * left + refs)
    return fig


def _long_run(ax, v, style, top):
    """Draws a long run v: (S,) as `loss_curve` says: mean_t = (v_t + ... + v_{t+w-1}) / w at
    step t + w//2, NaN if one is not finite. Returns ([mean's line], where it left, w)."""
    size, w = max(2, v.size // LONG_RUN), (v.size // 50) | 1
    starts = np.arange(0, v.size, size)
    lo, hi = (np.fmin(f.reduceat(_shown(v), starts), top) for f in (np.fmin, np.fmax))
    ends = np.minimum(starts + size, v.size)  # bin i holds steps starts_i + 1 .. ends_i
    ax.fill_between((starts + 1 + ends) / 2, lo, hi, color=style["color"], alpha=0.25, lw=0)
    finite = np.isfinite(v)  # window sums from cumulative sums: O(S), not O(S w)
    sums, bad = (np.concatenate([[0], np.cumsum(a)]) for a in (np.where(finite, v, 0), ~finite))
    with np.errstate(all="ignore"):  # overflow to inf is drawn as a gap, like NaN
        mean = np.where(bad[w:] > bad[:-w], np.nan, (sums[w:] - sums[:-w]) / w)
    every = max(1, mean.size // 2000)  # the mean is smooth: 2000 points draw it
    t = np.arange(1, mean.size + 1, every) + w // 2
    return (*_clipped(ax, t, mean[::every], top, style, linewidth=1.8), w)


def sweep(lrs: ArrayLike, errors: Mapping[str | tuple[str, str], ArrayLike] | ArrayLike, *,
          floor: Reference = None, goal: Reference = None, title: str | None = None,
          pyplot: bool = False) -> Figure:
    """The final J against the learning rate: median and quartiles over seeds, and divergence.

    Top: per series, the median over seeds of the final J at each rate, a diverged network
    counting as +inf (`jl.seed_quantile`, the sweep table's definition), over a band from the
    first to the third quartile; where the median leaves the chart (most seeds diverged, or J
    above the clipped axis) it ends on the top edge at a triangle. Bottom: the fraction of
    seeds that diverged, step lines nudged apart (+-0.06) so that 8 at 0% or 100% stay apart.

    Args:
      lrs: (L,) positive learning rates, distinct in float32, in any order.
      errors: {label: (L, seeds)} the final full-grid J of each network, NaN or inf where it
        diverged; or one (L, seeds) array. A label is a name, or a pair (name, style) such as
        ("hidden 8", "tanh"): a colour per name, a line style per style (solid for the first,
        then dashed, dotted, dash-dot), the styles' keys grey in the legend.
      floor: the least-squares line's J, or (J, label), solid, the side below it shaded and
        noted "better than any line": `(0.3309, "least-squares line")`; goal: a J, dotted.
      title, pyplot: an optional title; True to show the figure (module docstring).

    Returns:
      A `Figure` with two axes on one log learning-rate axis: J (log), fraction diverged.
    """
    lrs = _array(lrs, "lrs must be (L,) learning rates", None, (1,))
    if not (lrs.size and np.all(np.isfinite(lrs) & (lrs > 0))):
        raise ValueError(f"lrs must be (L,) positive finite learning rates, got {lrs}")
    if np.unique(lrs.astype(np.float32)).size != lrs.size:
        raise ValueError(f"lrs must be distinct learning rates (in float32), got {lrs}")
    need = f"errors must be {{label: (L, seeds)}} or (L, seeds) with L = {lrs.size}"
    items = errors if isinstance(errors, Mapping) else {"networks": errors}
    keys = [k if isinstance(k, tuple) else (k, None) for k in items]
    runs = list(_named(items, "errors", need, (2,)).values())
    if not runs or any(j.shape[0] != lrs.size or j.shape[1] == 0 for j in runs):
        raise ValueError(f"{need}, got {({str(k): j.shape for k, j in zip(items, runs)})}")
    order = np.argsort(lrs)
    lrs, runs = lrs[order], [j[order] for j in runs]
    names, dashes = (list(dict.fromkeys(k[i] for k in keys)) for i in (0, 1))
    quartiles = [_quartiles(j, 1) for j in runs]
    fig = _figure((6.5, 5.2), pyplot, left=0.12, right=0.97, bottom=0.1,
                  top=0.93 if title else 0.97, hspace=0.08)
    ax, low = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    refs = _references(ax, note=" (shaded below: better than any line)", floor=floor, goal=goal)
    top = _top([q[1] for q in quartiles], runs, refs)
    left = False
    for i, ((name, dash), j, (q1, median, q3)) in enumerate(zip(keys, runs, quartiles)):
        style = {"color": COLOURS[names.index(name) % len(COLOURS)],
                 "linestyle": DASHES[dashes.index(dash) % len(DASHES)]}
        out = _clipped(ax, lrs, median, top, style, (q1, q3), marker="o", markersize=3)[1]
        left |= out is not None
        low.step(lrs, 1 - np.isfinite(j).mean(1) + (i - (len(runs) - 1) / 2) * 0.015,
                 where="mid", linewidth=1.1, **style)
    if floor is not None:
        ax.axhspan(1e-300, refs[0].get_ydata()[0], color="0.93", zorder=0)
    handles = [Line2D([], [], color=COLOURS[i % len(COLOURS)], lw=2, label=str(name))
               for i, name in enumerate(names)]
    handles += [Line2D([], [], color="0.4", linestyle=DASHES[i % len(DASHES)], label=str(d))
                for i, d in enumerate(dashes) if len(dashes) > 1 or d is not None]
    handles += [Patch(color="grey", alpha=0.3, linewidth=0, label="middle half of seeds"),
                Line2D([], [], color="grey", marker="o", markersize=3,
                       label="median of seeds (diverged = +inf)")] + [OUT_KEY] * left
    _log_axis(ax, "y", [np.fmin(q, top) for q in quartiles] + [r.get_ydata() for r in refs])
    _log_axis(ax, "x", [lrs], minor=True)
    ax.set(ylabel="final J (full grid)", title=title or "")
    low.set(ylabel="diverged", ylim=(-0.12, 1.12), yticks=[0, 0.5, 1], xlabel="learning rate")
    low.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    for a in (ax, low):
        a.grid(alpha=0.3, which="both")
    _legend(fig, handles + refs)
    return fig


def collapse(x: ArrayLike, terms: ArrayLike, bias: float, y: ArrayLike,
             line: tuple[float, float], paths: Mapping[str, ArrayLike], *,
             title: str | None = None, pyplot: bool = False) -> Figure:
    """Why a network without activations is a line: its neurons' terms, and its (w, b) path.

    Left: each hidden neuron's term w2_j z_j(x); their sum plus the output bias b2, the
    network's output (one straight line); the target; the least-squares line. Right: the
    network's affine map (w, b) (`jl.affine_map`) along training, over contours of J(w, b) =
    1/(2N) sum_i (y_i - (w x_i + b))^2; the least-squares point a star. The view holds the
    starts, the star and the points with J below the worst start's; a path leaving it ends at
    a cross on its edge.

    Args:
      x, y: (N,) or (N, 1) the grid and the target.
      terms: (N, H) w2_j z_j(x) for each hidden neuron j: `z * w2[:, 0]`, z = x w1 + b1.
      bias: the output bias b2.
      line: (w, b) of the least-squares line (`jl.least_squares`).
      paths: {label: (T, 2)} the map (w, b) after 0 .. T-1 steps, e.g. {"lr 0.01": path}.
      title, pyplot: an optional title; True to show the figure (module docstring).

    Returns:
      A `Figure` with two axes: y against x, b against w.
    """
    x, y = (_array(v, f"{a} must be (N,) or (N, 1)", True, (1,)) for a, v in zip("xy", (x, y)))
    terms = _array(terms, "terms must be (N, H)", None, (2,))
    paths = _named(paths, "paths", "paths must be {label: (T, 2)}", (2,))
    if y.size != x.size or len(terms) != x.size or not paths or any(
            p.shape[1] != 2 or not np.isfinite(p[0]).all() for p in paths.values()):
        raise ValueError(f"need N = {x.size}, y: (N,), terms: (N, H), paths: {{label: (T, 2)}}"
                         f" from a finite start; got {y.shape}, {terms.shape}, {paths}")
    w0, b0 = (float(v) for v in np.ravel(line))
    fig = _figure((11, 4.4), pyplot, left=0.06, right=0.98, bottom=0.12,
                  top=0.86 if title else 0.92, wspace=0.22)
    ax, plane = fig.subplots(1, 2)
    ramp = colormaps["Blues"](np.linspace(0.4, 0.9, terms.shape[1]))  # apart from the paths
    for j, (colour, term) in enumerate(zip(ramp, terms.T)):
        ax.plot(x, term, color=colour, linewidth=1, label="_" if j else
                f"one hidden neuron's w2_j z_j(x) ({terms.shape[1]} lines)")
    ax.plot(x, y, color="black", linewidth=4, label="target")
    ax.plot(x, terms.sum(1) + bias, color="orange", linewidth=2.5, label="network: their sum + b2")
    ax.plot(x, w0 * x + b0, linewidth=2, label="least-squares line", **STYLES[2])
    ax.set(xlabel="x", ylabel="y", title="each neuron's term, and the network's output")
    xx, xy, xm, ym, yy = (np.mean(v) for v in (x * x, x * y, x, y, y * y))

    def j(w, b):  # J(w, b) = 1/(2N) sum (y - w x - b)^2 = 1/2 mean(y^2 - 2 w x y ...)
        return 0.5 * (yy - 2 * w * xy - 2 * b * ym + w * w * xx + 2 * w * b * xm + b * b)

    starts = np.array([p[0] for p in paths.values()] + [[w0, b0]])
    points = np.concatenate(list(paths.values()))
    with np.errstate(all="ignore"):
        box = np.concatenate([starts, points[j(*points.T) <= j(*starts.T).max()]])
    pad = 0.08 * (box.max(0) - box.min(0)) + 0.05
    lo, hi = box.min(0) - pad, box.max(0) + pad
    w, b = np.meshgrid(*(np.linspace(lo[i], hi[i], 200) for i in (0, 1)))
    levels = j(w0, b0) + (j(w, b).max() - j(w0, b0)) * np.geomspace(3e-3, 1, 8)
    contours = plane.contour(w, b, j(w, b), levels=levels, colors="0.7", linewidths=0.7)
    plane.clabel(contours, levels[1::2], fmt="J=%.2g", fontsize=7)
    for i, (label, p) in enumerate(paths.items()):
        colour = COLOURS[(i + 2) % len(COLOURS)]  # not the network's orange
        out = np.flatnonzero(~np.all((p >= lo) & (p <= hi), 1))
        if out.size:  # draw up to the first point out of the view, marked on its edge
            p, edge = p[: out[0] + 1], np.nan_to_num(p[out[0]], nan=hi, posinf=hi, neginf=lo)
            plane.plot(*np.clip(edge, lo, hi), marker="X", color=colour, markersize=9,
                       clip_on=False, zorder=5)
            label += f" (leaves the view at step {out[0]})"
        plane.plot(*p.T, color=colour, linewidth=1.2, marker="o", markersize=2, label=label)
        plane.plot(*p[0], marker="o", color=colour, markersize=6)
    plane.plot(w0, b0, marker="*", color="black", markersize=14, linestyle="",
               label="least-squares (w, b)")
    plane.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="w", ylabel="b",
              title="the network's (w, b) while training, over J(w, b)")
    ax.grid(alpha=0.3)
    plane.grid(alpha=0.3)
    _legend(fig, ax.get_lines() + plane.get_lines(), title)
    return fig


def animate(x: ArrayLike, y: ArrayLike, outputs: ArrayLike, losses: ArrayLike, *,
            steps: ArrayLike | None = None, title: str | None = None,
            interval: int = 100) -> FuncAnimation:
    """The tutorial's Figure 2 frame by frame: the target and the network's output, step and J.

    Save it whole: `anim.save(tmp, writer="pillow")`, `tmp` a ".gif" in the destination's
    folder, then `os.replace(tmp, path)`. 100 frames: about 0.43 MB, 4 s of one core.

    Args:
      x, y: (N,) or (N, 1) the grid and the target.
      outputs: (T, N) or (T, N, 1) the network's output in each frame.
      losses: (T,) the J written in each frame; steps: (T,) its step, default 0 .. T-1.
      title: an optional title; interval: milliseconds per frame.

    Returns:
      A `matplotlib.animation.FuncAnimation` of T frames, 440 x 300 pixels.
    """
    x, y = (_array(v, f"{a} must be (N,) or (N, 1)", True, (1,)) for a, v in zip("xy", (x, y)))
    outputs = _array(outputs, "outputs must be (T, N) or (T, N, 1)", True, (2,))
    losses = _array(losses, "losses must be (T,)", None, (1,))
    steps = np.arange(len(losses)) if steps is None else np.asarray(steps)
    if outputs.shape[1] != x.size or not len(outputs) == len(losses) == len(steps) > 0:
        raise ValueError(f"need outputs: (T, {x.size}), losses: (T,), steps: (T,), T > 0; got "
                         f"{outputs.shape}, {losses.shape}, {steps.shape}")
    fig = Figure(figsize=(5.5, 3.75), dpi=80)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.13, top=0.9 if title else 0.97)
    ax = fig.subplots()
    ax.plot(x, y, color="black", linewidth=4, label="true function")
    (net,) = ax.plot(x, outputs[0], color="orange", linewidth=2, label="Net")
    span = np.ptp(y) + 1e-9  # an output widens the view by at most this, each way
    v = np.concatenate([y, outputs[np.isfinite(outputs)].clip(y.min() - span, y.max() + span)])
    ax.set(xlabel="x", ylabel="y", title=title or "",
           ylim=(v.min() - 0.05 * span, v.max() + 0.05 * span))
    ax.legend(loc="lower right")
    ax.locator_params(nbins=4)  # each tick label is redrawn in every frame
    text = ax.text(0.02, 0.96, "", transform=ax.transAxes, va="top", family="monospace")

    def frame(t):
        net.set_ydata(outputs[t])
        text.set_text(f"step {steps[t]:>4}   J = {losses[t]:.4g}")
        return net, text

    return FuncAnimation(fig, frame, frames=len(losses), interval=interval, blit=False)
