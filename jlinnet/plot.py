"""The tutorial's figures: before/after training (its `showSubplots`, Figures 2-4) and a loss curve.

Functions build and return a `matplotlib.figure.Figure` without pyplot, so they work
headless with no backend to set; they never show or save. Save one with
`fig.savefig("before_after.png")`.

Imported on its own (`from jlinnet import plot`), so `import jlinnet` stays free of
matplotlib.
"""

from collections.abc import Mapping

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

# The tutorial draws the network in orange; a second curve (another route) in blue, dashed;
# a third (a reference such as the least-squares line) in grey, dotted.
STYLES = (
    {"color": "orange"},
    {"color": "tab:blue", "linestyle": "--"},
    {"color": "tab:gray", "linestyle": ":"},
)


def _curves(y, name):
    """{label: (N,) array} from one (N, 1) array or a mapping of them."""
    items = y.items() if isinstance(y, Mapping) else [(name, y)]
    curves = {}
    for label, values in items:
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(f"{label} must be (N,) or (N, 1), got shape {values.shape}")
        curves[label] = values
    if len(curves) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} curves per panel, got {len(curves)}")
    return curves


def before_after(x, y, before, after, *, name="Net", title=None):
    """Two panels: the network's prediction before and after training, over the truth.

    The true function is a thick black line; each prediction is drawn over it.

    Args:
      x: (N, 1) or (N,) inputs, the grid.
      y: (N, 1) or (N,) the true function on the grid.
      before: (N, 1) prediction before training, or {label: (N, 1)} (at most three).
      after: (N, 1) prediction after training, or {label: (N, 1)} (at most three).
      name: the legend label when `before`/`after` is a single array.
      title: an optional title over both panels.

    Returns:
      A `Figure` with two axes, titled "Net results before training" and
      "Net results after training".
    """
    (x,) = _curves(x, "x").values()
    (y,) = _curves(y, "y").values()
    fig = Figure(figsize=(11, 4.2))
    fig.subplots_adjust(left=0.06, right=0.985, bottom=0.12, top=0.86 if title else 0.92,
                        wspace=0.06)  # fixed margins: a solver layout costs a second draw
    axes = fig.subplots(1, 2, sharey=True)
    for ax, preds, when in zip(axes, (before, after), ("before", "after")):
        ax.plot(x, y, color="black", linewidth=4, label="true function")
        for style, (label, values) in zip(STYLES, _curves(preds, name).items()):
            if values.shape != x.shape:
                raise ValueError(f"{label} must have {x.shape[0]} points, got {values.shape[0]}")
            ax.plot(x, values, linewidth=2, label=label, **style)
        ax.set_title(f"Net results {when} training")
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    axes[0].set_ylabel("y")
    if title:
        fig.suptitle(title)
    return fig


def loss_curve(losses, *, name="batch loss", title=None):
    """The batch loss J per step, on a log scale.

    Args:
      losses: (S,) batch losses (`TrainResult.losses`), or {label: (S,)} (at most three).
      name: the legend label when `losses` is a single array.
      title: an optional title.

    Returns:
      A `Figure` with one axis: step on x, J on a log y axis.
    """
    fig = Figure(figsize=(6.5, 4.2))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92 if title else 0.96)
    ax = fig.subplots()
    for style, (label, values) in zip(STYLES, _curves(losses, name).items()):
        ax.plot(np.arange(1, values.shape[0] + 1), values, linewidth=1.2, label=label, **style)
    ax.set_yscale("log")
    # Plain "1e-03" labels: the default 10^k ones go through mathtext, a tenth of a second.
    ax.yaxis.set_major_formatter(ticker.LogFormatter(labelOnlyBase=True))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("step")
    ax.set_ylabel("batch error J")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
