"""The tutorial's figures, the loss curve, sweep, collapse and animation: arrays in, a `Figure`
out, no file, no pyplot unless asked; a curve leaving a J axis (inf, 1e27) ends at a triangle."""

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import ArrayLike

Curves: TypeAlias = ArrayLike | Mapping[str, ArrayLike]  # (S,), (K, S) or {label: (S,)}
Reference: TypeAlias = float | tuple[float, str] | None  # J, or (J, label)

STYLES = ({"color": "orange"}, {"color": "tab:blue", "linestyle": "--"},  # the tutorial's net,
          {"color": "tab:gray", "linestyle": ":"})  # a second route, a reference
COLOURS = [colormaps["tab10"](i) for i in range(10) if i != 7]  # grey: for keys
# line styles of a sweep's style keys, in order of appearance
DASHES: tuple[Any, ...] = ("-", "--", ":", "-.")
LONG_RUN = 1000  # steps from which a loss curve is a band under its running mean
DECADES = 1  # a J axis ends this many decades above its curves' typical top
LEGEND = "outside right upper"  # constrained layout makes room for it right of the axes
OUT: dict[str, Any] = {"marker": "^", "markersize": 7, "linestyle": "", "clip_on": False,
                       "zorder": 5}
OUT_KEY = Line2D([], [], color="grey", **OUT, label="left the chart (above it, or not finite)")


def _figure(size, pyplot, title, *grid, **kw):
    """A figure in constrained layout, `title` top left, and `fig.subplots(*grid, **kw)`."""
    if pyplot:
        from matplotlib import pyplot as plt  # only here: importing pyplot picks a backend
    fig = (plt.figure if pyplot else Figure)(figsize=size, layout="constrained")
    fig.suptitle(title or "", x=0.01, ha="left")
    return fig, fig.subplots(*grid, **kw)


def _array(arg, v, shapes, grid=False):
    """v as float64 of one of `shapes` (an int: that size; a letter: any size >= 1; on a grid
    (`grid`), a trailing axis of 1 dropped: (N, 1) is (N,)), or an error naming `arg`."""
    need = " or ".join(str(s).replace("'", "") for s in shapes)  # (N,) or (K, 50)
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):  # text, or rows of different lengths
        raise ValueError(f"{arg} must be {need} real numbers, got {type(v).__name__} data that"
                         " is not one array of numbers") from None
    a = a[..., 0] if grid and a.ndim > len(shapes[0]) and a.shape[-1] == 1 else a
    if not any(a.ndim == len(s) and all(n == k if isinstance(k, int) else n > 0
                                        for n, k in zip(a.shape, s)) for s in shapes):
        raise ValueError(f"{arg} must be {need} real numbers, got "
                         + (f"shape {a.shape}" if a.ndim else repr(v)))
    return a


def _number(arg, v, positive=False):
    """v, one finite real number (> 0 if `positive`) or an array holding one, as a float."""
    a, low = np.asarray(v), 0 if positive else -np.inf
    if a.dtype.kind not in "iuf" or a.size != 1 or not low < a.item() < np.inf:
        raise ValueError(f"{arg} must be a finite number{' > 0' * positive}, got "
                         f"{a.tolist()!r:.40}")
    return float(a.item())


def _reference(arg, ref):
    """A J line across a log axis, J or (J, label), as (J > 0, label); None: no line."""
    value, label = ref if isinstance(ref, tuple | list) and len(ref) == 2 else (ref, arg)
    return None if ref is None else (_number(f"{arg} (J or (J, label))", value, True), str(label))


def _named(values, arg, shapes, name, labels=None, grid=False):
    """{label: array of shapes[0]} from a dict, one array or a stack of them (shapes[1]), as
    `_array` checks them; `labels` rename them."""
    if not isinstance(values, Mapping):
        a = _array(arg, values, shapes, grid)
        values = {name: a} if a.ndim == len(shapes[0]) else {f"network {i + 1}": r for i, r in
                                                              enumerate(a)}
    names = [str(k) for k in (values if labels is None else labels)]
    if not values or not len(set(names)) == len(names) == len(values):  # else curves merge
        raise ValueError(f"{arg if labels is None else f'labels (for {arg})'}: need "
                         f"{len(values) or 'at least 1'} labels distinct as text, got {names}")
    return {k: _array(f"{arg}[{key!r}]", v, shapes[:1], grid)
            for k, (key, v) in zip(names, values.items())}


def _styles(k):
    """k line styles: the tutorial's for up to three curves, else a tab10 colour each."""
    return STYLES[:k] if k <= len(STYLES) else [{"color": COLOURS[i % 9]} for i in range(k)]


def _quartiles(j, axis):
    """(q1, median, q3) over `axis`, non-finite J counted as +inf."""
    return np.quantile(np.where(np.isfinite(j), j, np.inf), (.25, .5, .75), axis, method="higher")


def _j_axis(ax, curves, data, refs):
    """Sets a log J axis and returns its top: the decade over `data`, at most DECADES over the
    `curves`' median peak or first or median value (past both: diverged), at least the `refs`."""
    ok = [s for v in curves if (s := v[np.isfinite(v) & (v > 0)]).size] or [np.ones(1)]
    hi = max((s.max() for v in data if (s := v[np.isfinite(v) & (v > 0)]).size), default=10.0)
    m = min(np.median([v.max() for v in ok]), max(max(v[0], np.median(v)) for v in ok))
    refs = [r.get_ydata()[0] for r in refs]
    decade = [math.ceil(round(math.log10(u), 6)) for u in (m, hi, *refs)]
    top = 10.0 ** max([min(decade[0] + DECADES, decade[1]), *decade[2:]])
    _log_axis(ax, "y", [np.fmin(v, top) for v in data] + [refs])
    return top


def _clipped(ax, x, v, top, style, band=None, **kw):
    """Draws v over a band (lo, hi), up to `top`. Returns (its line, x where it left or None)."""
    if band is not None:  # what a log axis cannot draw (<= 0) is a gap, like NaN
        lo, hi = (np.where(b > 0, b, np.nan) for b in (band[0], np.fmin(band[1], top)))
        ax.fill_between(x, lo, hi, lw=0, alpha=0.2, color=style["color"])
    out = ~(v <= top)
    exits = np.flatnonzero(out & ~np.append(False, out[:-1]))
    shown = np.where(out | (v <= 0), np.nan, v)
    shown[exits] = top
    if exits.size:
        ax.plot(x[exits], shown[exits], color=style["color"], **OUT)
    return ax.plot(x, shown, **style, **kw)[0], x[exits[0]] if exits.size else None


def _references(ax, note="", **refs):
    """Lines across at (J, label), `floor` solid (+ note), `goal` dotted, each named below."""
    lines = []
    for arg, (value, label) in ((k, r) for k, r in refs.items() if r is not None):
        note = note if arg == "floor" else ""
        lines += [ax.axhline(value, color="black", linewidth=1.5, label=f"{label}{note}",
                             linestyle="-" if arg == "floor" else (0, (1, 2)))]
        ax.annotate(f"{label}: J = {value:.3g}{note}", (0.01, value), xytext=(0, -3),
                    xycoords=("axes fraction", "data"), textcoords="offset points", fontsize=8,
                    va="top", bbox={"color": "white", "alpha": 0.7, "pad": 0.5})
    return lines


def _log_axis(ax, which, values, minor=False):
    """Log axis `which` over whole decades ("1e-03"): float32's 1e-4 opens no decade below."""
    v = np.concatenate([np.ravel(a) for a in values])
    v = np.log10(v[np.isfinite(v) & (v > 0)]).round(6)
    lo, hi = (math.floor(v.min()), math.ceil(v.max())) if v.size else (-1, 1)
    ax.set(**{f"{which}scale": "log", f"{which}lim": (10.0**lo, 10.0 ** max(hi, lo + 1))})
    getattr(ax, f"{which}axis").set(
        major_formatter=ticker.FormatStrFormatter("%.0e"), minor_formatter=ticker.NullFormatter(),
        minor_locator=ticker.LogLocator(subs="auto") if minor else ticker.NullLocator())


def before_after(x: ArrayLike, y: ArrayLike, before: Curves, after: Curves, *,
                 name: str = "Net", labels: Sequence[str] | None = None,
                 title: str | None = None, pyplot: bool = False) -> Figure:
    """The tutorial's Figure 2: "Net results before training" and "... after training", the
    predictions over the truth, in a `Figure` of two axes.

    Args:
      x, y: (N,) or (N, 1) the grid and the true function on it.
      before, after: (N,) or (N, 1) for one network (`name`), (K, N) or (K, N, 1) for K
        ("network 1" ..), or {label: (N,) or (N, 1)}; `labels` renames them.
      title, pyplot: a title; True to show the figure with pyplot (as every function here).
    """
    x = _array("x", x, [("N",)], grid=True)
    y, n = _array("y", y, [x.shape], grid=True), x.size
    before, after = (_named(v, k, [(n,), ("K", n)], name, labels, True)
                     for k, v in (("before", before), ("after", after)))
    (fig, axes), handles = _figure((12, 4.2), pyplot, title, 1, 2, sharey=True), {}
    for ax, preds, when in zip(axes, (before, after), ("before", "after")):
        handles["true function"] = ax.plot(x, y, color="black", lw=4, label="true function")[0]
        for style, (label, v) in zip(_styles(len(preds)), preds.items()):
            if bad := np.sum(~np.isfinite(v)):
                label += f" (not finite at {bad} of {v.size} points)"
            handles.setdefault(label, ax.plot(x, v, linewidth=2, label=label, **style)[0])
        ax.set(title=f"Net results {when} training", xlabel="x")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("y")
    fig.legend(handles=handles.values(), loc=LEGEND)
    return fig


def loss_curve(losses: Curves, *, spread: bool = False, name: str = "batch loss",
               labels: Sequence[str] | None = None, floor: Reference = None,
               title: str | None = None, pyplot: bool = False) -> Figure:
    """The batch loss J against the step, on a log axis: a line per run (1000+ steps: a
    running mean over a band of the batch losses), or with `spread` K runs' median (diverged =
    +inf) over their quartiles.

    Args:
      losses: (S,) or (K, S) batch losses, or {label: (S,)}; with `spread`, (K, S) or
        {label: (K, S)}, e.g. {"Adam": (256, S), "SGD": (256, S)}.
      name: the label of one run or group; labels: the curves' names, distinct as text.
      floor: a full-grid J, or (J, label), e.g. `(0.3309, "least-squares line")`.
    """
    shapes, floor = [("K", "S")] if spread else [("S",), ("K", "S")], _reference("floor", floor)
    groups = _named(losses, "losses", shapes, name, labels)
    quartiles = {k: _quartiles(g, 0) for k, g in groups.items()} if spread else {}
    curves = {k: q[1] for k, q in quartiles.items()} if spread else groups
    fig, ax = _figure((11, 4.2), pyplot, title)
    refs = _references(ax, note=" (full grid: a batch's J may be lower)", floor=floor)
    top = _j_axis(ax, list(curves.values()), list(groups.values()), refs)
    handles: list = []
    windows: set[int] = set()
    for style, (label, v) in zip(_styles(len(curves)), curves.items()):
        line, note, w = (_spread(ax, groups[label], quartiles[label], style, top) if spread
                         else _run(ax, v, style, top))
        line.set_label(label + note)
        handles, windows = handles + [line], windows | {w} - {None}
    band = "batch loss, each step" if windows else "middle half of runs"
    handles += [Patch(color="grey", alpha=0.3, lw=0, label=band)] * (spread or bool(windows))
    handles += [Line2D([], [], color="grey", linewidth=1.8, label="mean of "
                       f"{'/'.join(map(str, sorted(windows)))} steps")] * bool(windows)
    left = any("left the chart" in h.get_label() for h in handles)
    ax.set(xlabel="step", ylabel="batch error J")
    ax.grid(alpha=0.3)
    fig.legend(handles=handles + [OUT_KEY] * left + refs, loc=LEGEND)
    return fig


def _spread(ax, runs, quartiles, style, top):
    """Draws K runs (K, S), their median over quartiles. Returns (line, note, None)."""
    q1, median, q3 = quartiles
    line = _clipped(ax, np.arange(1, median.size + 1), median, top, style, (q1, q3),
                    linewidth=1.5)[0]
    off = ~(runs <= top)  # (K, S): above the chart, or not finite
    if not (gone := off.any(1)).any():
        return line, f": median of {len(runs)} runs", None
    ax.plot(np.argmax(off[gone], 1) + 1, np.full(gone.sum(), top), color=style["color"], **OUT)
    return line, (f": median of {len(runs)} runs; {gone.sum()} runs left the chart, the first"
                  f" at step {np.argmax(off.any(0)) + 1}"), None


def _run(ax, v, style, top):
    """Draws run v: (S,); 1000+ steps: mean_t = (v_t + .. + v_{t+w-1}) / w at step t + w//2."""
    t, w = np.arange(1, v.size + 1), None
    if v.size >= LONG_RUN:
        size, w = max(2, v.size // LONG_RUN), (v.size // 50) | 1
        starts = np.arange(0, v.size, size)  # bin i: steps starts_i + 1 .. ends_i
        shown = np.where(np.isfinite(v) & (v > 0), v, np.nan)  # fmin, fmax skip NaN
        lo, hi = (np.fmin(f.reduceat(shown, starts), top) for f in (np.fmin, np.fmax))
        ends = np.minimum(starts + size, v.size)
        ax.fill_between((starts + 1 + ends) / 2, lo, hi, color=style["color"], alpha=0.25, lw=0)
        finite = np.isfinite(v)  # window sums from cumulative sums: O(S), not O(S w)
        sums, bad = (np.append(0, np.cumsum(a)) for a in (np.where(finite, v, 0), ~finite))
        with np.errstate(all="ignore"):  # overflow to inf is drawn as a gap, like NaN
            v = np.where(bad[w:] > bad[:-w], np.nan, (sums[w:] - sums[:-w]) / w)
        t = t[: v.size] + w // 2
    line, out = _clipped(ax, t, v, top, style, linewidth=1.2 if w is None else 1.8)
    return line, "" if out is None else f" (left the chart from step {out})", w


def sweep(lrs: ArrayLike, errors: Mapping[str | tuple[str, str], ArrayLike] | ArrayLike, *,
          floor: Reference = None, goal: Reference = None, title: str | None = None,
          pyplot: bool = False) -> Figure:
    """The final J against the learning rate (log axes): the seeds' median (a diverged network
    counts as +inf) over their quartiles; on a second axis below, the fraction that diverged.

    Args:
      lrs: (L,) positive learning rates, distinct in float32, in any order.
      errors: {label: (L, seeds)} or (L, seeds) final full-grid J, NaN or inf if diverged; a
        label (name, style), e.g. ("hidden 8", "tanh"): a colour per name, a dash per style.
      floor: the least-squares J or (J, label), shaded below; goal: a J or (J, label), dotted.
    """
    lrs, floor, goal = _array("lrs", lrs, [("L",)]), _reference("floor", floor), _reference(
        "goal", goal)
    if not np.all((0 < lrs) & (lrs < np.inf)) or np.unique(np.float32(lrs)).size < lrs.size:
        raise ValueError(f"lrs must be finite, > 0 and distinct in float32, got {lrs.tolist()}")
    groups = _named(errors, "errors", [(lrs.size, "seeds")], "networks")
    items, runs = errors if isinstance(errors, Mapping) else groups, list(groups.values())
    lrs, runs = np.sort(lrs), [j[np.argsort(lrs)] for j in runs]
    quartiles = [_quartiles(j, 1) for j in runs]
    fig, (ax, low) = _figure((11, 5.2), pyplot, title, 2, 1, sharex=True, height_ratios=(3, 1))
    refs = _references(ax, note=" (shaded below: better than any line)", floor=floor, goal=goal)
    top = _j_axis(ax, [q[1] for q in quartiles], [q for q3 in quartiles for q in q3], refs)
    keys = _series(ax, low, lrs, [k if isinstance(k, tuple) else (k, None) for k in items],
                   runs, quartiles, top)
    if floor is not None:
        ax.axhspan(1e-300, refs[0].get_ydata()[0], color="0.93", zorder=0)
    _log_axis(ax, "x", [lrs], minor=True)
    ax.set(ylabel="final J (full grid)")
    low.set(ylabel="diverged", ylim=(-0.12, 1.12), yticks=[0, 0.5, 1], xlabel="learning rate")
    low.yaxis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))
    for a in (ax, low):
        a.grid(alpha=0.3, which="both")
    fig.legend(handles=keys + refs, loc=LEGEND)
    return fig


def _series(ax, low, lrs, keys, runs, quartiles, top):
    """Draws the sweep's series, keyed (name, style), as `sweep` says. Returns legend keys."""
    names, dashes = (list(dict.fromkeys(k[i] for k in keys)) for i in (0, 1))
    left = False
    for i, ((name, dash), j, (q1, median, q3)) in enumerate(zip(keys, runs, quartiles)):
        style = {"color": COLOURS[names.index(name) % 9],
                 "linestyle": DASHES[dashes.index(dash) % 4]}
        out = _clipped(ax, lrs, median, top, style, (q1, q3), marker="o", markersize=3)[1]
        left |= out is not None
        low.step(lrs, 1 - np.isfinite(j).mean(1) + (i - (len(runs) - 1) / 2) * 0.015,
                 where="mid", linewidth=1.1, **style)
    return ([Line2D([], [], color=COLOURS[i % 9], lw=2, label=str(n)) for i, n in enumerate(names)]
            + [Line2D([], [], color="0.4", linestyle=DASHES[i % 4], label=str(d))
               for i, d in enumerate(dashes) if len(dashes) > 1 or d is not None]
            + [Patch(color="grey", alpha=0.3, linewidth=0, label="middle half of seeds"),
               Line2D([], [], color="grey", marker="o", markersize=3, label="median of seeds "
                      "(diverged = +inf)")] + [OUT_KEY] * left)


def collapse(x: ArrayLike, terms: ArrayLike, bias: float, y: ArrayLike,
             line: tuple[float, float], paths: Mapping[str, ArrayLike], *,
             title: str | None = None, pyplot: bool = False) -> Figure:
    """Why a network without activations is a line. Left (y against x): its neurons' terms
    w2_j z_j(x) and their sum + b2; right (b against w): its map (w, b) in training over
    contours of J(w, b), a path leaving the view ending at a cross.

    Args:
      x, y: (N,) or (N, 1) the grid and the target.
      terms: (N, H) w2_j z_j(x) for each hidden neuron j; bias: the output bias b2.
      line: (w, b) of the least-squares line (`jl.least_squares`).
      paths: {label: (T, 2)} the map (w, b) after 0 .. T-1 steps, e.g. {"lr 0.01": path}.
    """
    x = _array("x", x, [("N",)], grid=True)
    y, terms = _array("y", y, [x.shape], grid=True), _array("terms", terms, [(x.size, "H")])
    bias, (w0, b0) = _number("bias", bias), (_number("line", v) for v in line)
    paths = _named(paths, "paths", [("T", 2)], "path")
    fig, (ax, plane) = _figure((14, 4.4), pyplot, title, 1, 2)
    h = terms.shape[1]
    ax.set_prop_cycle(color=colormaps["Blues"](np.linspace(0.4, 0.9, h)))  # not the paths'
    ax.plot(x, terms, linewidth=1, label=[f"one hidden neuron's w2_j z_j(x) ({h} lines)"]
            + ["_"] * (h - 1))
    ax.plot(x, y, color="black", linewidth=4, label="target")
    ax.plot(x, terms.sum(1) + bias, color="orange", linewidth=2.5, label="network: their sum + b2")
    ax.plot(x, w0 * x + b0, linewidth=2, label="least-squares line", **STYLES[2])
    ax.set(xlabel="x", ylabel="y", title="each neuron's term, and the network's output")
    ax.grid(alpha=0.3)
    _plane(plane, x, y, w0, b0, paths)
    fig.legend(loc=LEGEND)  # every labelled line of both axes
    return fig


def _plane(ax, x, y, w0, b0, paths):
    """Draws the (w, b) paths over contours of J(w, b), the least-squares point a star."""
    xx, xy, xm, ym, yy = (np.mean(v) for v in (x * x, x * y, x, y, y * y))

    def j(w, b):  # J(w, b) = 1/(2N) sum (y - w x - b)^2, expanded in the means above
        return 0.5 * (yy - 2 * w * xy - 2 * b * ym + w * w * xx + 2 * w * b * xm + b * b)

    starts = np.array([p[0] for p in paths.values()] + [[w0, b0]])
    points = np.concatenate([*paths.values(), starts])
    with np.errstate(all="ignore"):  # the view: every point below the worst start's J
        box = points[j(*points.T) <= j(*starts.T).max()]
    lo, hi = box.min(0) - 0.08 * np.ptp(box, 0) - 0.05, box.max(0) + 0.08 * np.ptp(box, 0) + 0.05
    w, b = np.meshgrid(*np.linspace(lo, hi, 200).T)
    levels = j(w0, b0) + (j(w, b).max() - j(w0, b0)) * np.geomspace(3e-3, 1, 8)
    ax.clabel(ax.contour(w, b, j(w, b), levels=levels, colors="0.7", linewidths=0.7),
              levels[1::2], fmt="J=%.2g", fontsize=7)
    for i, (label, p) in enumerate(paths.items()):
        colour = COLOURS[(i + 2) % 9]  # not the network's orange
        out = np.flatnonzero(~np.all((p >= lo) & (p <= hi), 1))
        if out.size:  # drawn up to its first point out of the view, a cross on the edge
            p, label = p[: out[0] + 1], f"{label} (leaves the view at step {out[0]})"
            edge = np.clip(np.nan_to_num(p[-1], nan=hi, posinf=hi, neginf=lo), lo, hi)
            ax.plot(*edge, "X", color=colour, markersize=9, clip_on=False, zorder=5)
        ax.plot(*p.T, color=colour, linewidth=1.2, marker="o", markersize=2, label=label)
        ax.plot(*p[0], "o", color=colour, markersize=6)
    ax.plot(w0, b0, "k*", markersize=14, label="least-squares (w, b)")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="w", ylabel="b",
           title="the network's (w, b) while training, over J(w, b)")
    ax.grid(alpha=0.3)


def animate(x: ArrayLike, y: ArrayLike, outputs: ArrayLike, losses: ArrayLike, *,
            steps: ArrayLike | None = None, title: str | None = None,
            interval: int = 100) -> FuncAnimation:
    """The tutorial's Figure 2 frame by frame, with step and J: a `FuncAnimation` of T frames,
    440 x 300 pixels. Save it whole: `anim.save(tmp, writer="pillow")`, then `os.replace(tmp,
    path)`; 100 frames: about 0.43 MB, 4 s.

    Args:
      x, y: (N,) or (N, 1) the grid and the target.
      outputs: (T, N) or (T, N, 1) the network's output in each frame.
      losses: (T,) the J written in each frame; steps: (T,) its step, default 0 .. T-1.
      title: an optional title; interval: milliseconds per frame.
    """
    x = _array("x", x, [("N",)], grid=True)
    y, outputs = _array("y", y, [x.shape], True), _array("outputs", outputs, [("T", x.size)], True)
    losses, interval = _array("losses", losses, [("T",)]), _number("interval", interval, True)
    steps = np.arange(len(losses)) if steps is None else _array("steps", steps, [("T",)])
    if not len(outputs) == len(losses) == len(steps):  # else a frame names another's step
        raise ValueError(f"outputs, losses and steps need one row per frame, got {len(outputs)}"
                         f", {len(losses)}, {len(steps)}")
    fig = Figure(figsize=(5.5, 3.75), dpi=80)
    ax = fig.subplots(gridspec_kw={  # fixed: no layout per frame
        "left": 0.1, "right": 0.97, "bottom": 0.13, "top": 0.9 if title else 0.97})
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
        text.set_text(f"step {steps[t]:>4.0f}   J = {losses[t]:.4g}")
        return net, text

    return FuncAnimation(fig, frame, frames=len(losses), interval=interval, blit=False)
