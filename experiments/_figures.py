"""A run's figures, drawn from its files alone (results.json and the arrays it saved): an
experiment draws them from the files it has just staged, and `python -m experiments.plot FOLDER`
draws the same bytes again from the published ones, without training."""

import numpy as np

ROUTES = {"manual_grads": "hand backprop", "autodiff_grads": "jax.grad + optax"}
DPI = 110
DRAWN = ("linear", "sine", "sweep")  # the experiments whose figures these are


def names(results, curves=()):
    """The figures a run has: a sweep's sweep_TARGET.png per target; a single run's
    before_after.png and loss.png, training.gif if `curves` has frames, collapse.png if terms."""
    if results["experiment"] == "sweep":
        return [f"sweep_{target}.png" for target in results["spec"]["target"]]
    return ["before_after.png", "loss.png"] + ["training.gif"] * ("frames" in curves) + [
        "collapse.png"] * ("terms" in curves)


def draw(out, source, results):
    """Draws `results`' figures from the files in the folder `source` into `out`, a
    `_cli.Staged`: a sweep's from results.json; a single run's from curves.npz and losses.npz."""
    if results["experiment"] == "sweep":
        return _sweeps(out, results)
    from jlinnet import plot  # matplotlib only once there is something to draw

    curves, losses = (dict(np.load(source / name)) for name in ("curves.npz", "losses.npz"))
    xs, ys, activation, floor = curves["xs"], curves["ys"], results["spec"]["activation"], None
    title = f"f(x) = {results['label']}" + (
        "" if activation == "none" else f", {activation} between the layers")
    after = {label: curves[f"after_{name}"] for name, label in ROUTES.items()}
    if "line" in curves:  # the tutorial's Figure 4: the best line beside the network
        after["least-squares line"] = curves["line"]
        floor = (results["least_squares"]["error"], "least-squares line")
    plot.before_after(xs, ys, dict.fromkeys(ROUTES.values(), curves["before"]), after,
                      title=title).savefig(out / "before_after.png", dpi=DPI)
    plot.loss_curve({ROUTES[name]: v for name, v in losses.items()}, floor=floor,
                    title=title).savefig(out / "loss.png", dpi=DPI)
    if "frames" in curves:
        plot.animate(xs, ys, curves["frames"], curves["frame_errors"], steps=curves["frame_steps"],
                     title=title).save(out / "training.gif", writer="pillow")
    if "terms" in curves:
        fit, edge = results["least_squares"], curves["edge"]
        labels = [f"lr {r:.3g} = {r / edge:.2g} x 2/lambda_max" for r in curves["rates"]]
        plot.collapse(xs, curves["terms"], float(curves["b2"]), ys, (fit["w"], fit["b"]),
                      dict(zip(labels, curves["paths"])), title=title).savefig(
            out / "collapse.png", dpi=DPI)


def _sweeps(out, results):
    """sweep_TARGET.png per target: final J against the swept values per hidden size and
    activation; below, the fraction diverged and each grid's edges (`_edges`)."""
    from jlinnet import plot

    spec, goal = results["spec"], results["goal"]
    title = (f"{len(results['seeds'])} seeds, {spec['steps']} steps, batch {spec['batch_size']},"
             f" {spec['optimizer']}")
    for target in spec["target"]:
        mine = [g for g in results["grids"] if g["target"] == target]
        errors = {(f"hidden {g['hidden']}", "no activation" if g["activation"] == "none" else
                   g["activation"]): np.array(g["errors"], float) for g in mine}  # null: NaN
        line = mine[0]["least_squares_J"]  # a floor only where a line cannot restore the target
        fig = plot.sweep(results["values"], errors, title=f"f(x) = {mine[0]['label']}: {title}",
                         goal=(goal, "restored"),
                         floor=(line, "least-squares line") if line >= goal else None)
        fig.axes[1].set_xlabel(results["over"])
        _edges(fig.axes[1], mine, plot.COLOURS)
        fig.savefig(out / f"sweep_{target}.png", dpi=DPI)


def _edges(ax, grids, colours):
    """On a sweep's lower panel, a row per grid in its hidden size's colour: each seed's own
    edge (a tick at the median, a bar from min to max) and, where plain SGD's learning rate is
    swept, 2/lambda_max at the start (an open circle at the median, a bar from min to max)."""
    ax.get_gridspec().set_height_ratios((2.2, 1.3))  # room for the rows
    marks = [dict(marker="|", ms=12, mew=2.5, label="each seed's own edge: median, min to max"),
             dict(marker="o", mfc="white", label="2/λ_max at the start: median, min to max")]
    sizes = list(dict.fromkeys(g["hidden"] for g in grids))  # plot.sweep's colour order
    for g, y in zip(grids, np.linspace(0.85, 0.2, len(grids))):
        for values, dy, mark in ((g["edges"], 0.04, marks[0]), (g["predicted"], -0.04, marks[1])):
            v = np.array(values or [], float)
            if (v := v[np.isfinite(v)]).size:
                m = np.median(v)
                ax.errorbar(m, y + dy, xerr=[[m - v.min()], [v.max() - m]], lw=1, capsize=2,
                            color=colours[sizes.index(g["hidden"]) % 9],
                            **dict(ms=4) | mark | dict(label=None))
    for mark in marks:  # the keys, in grey
        ax.plot([], [], color="0.3", linestyle="", **mark)
    ax.legend(loc="upper left", fontsize=7)
