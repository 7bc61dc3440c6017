"""Run the tutorial's network as written, in NumPy (`experiments._tutorial`), as it runs it.

`python -m experiments.tutorial_numpy` runs `trainNet(2, steps=100, batchsize=1)` on 2x + 3 and
saves the before/after figure with matplotlib: the NumPy baseline for the README's run timings.
"""

import numpy as np

from experiments import _cli
from experiments._tutorial import Error, grid, linear, train_net

WRITES = ("Writes before_after.png (the tutorial's Figure 2) into --out once the run has"
          " succeeded.")


def main(argv=None):
    """Runs `trainNet` from the command line; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("tutorial_numpy", "fewer --steps or a smaller --hidden") as end:
        p = _cli.parser("tutorial_numpy", __doc__, WRITES)
        p.add_argument("--hidden", type=_cli.positive_int, default=2, help="hidden neurons (2)")
        p.add_argument("--steps", type=_cli.positive_int, default=100, help="steps (100)")
        p.add_argument("--batch-size", type=_cli.batch_size, default=1, help="rows per step (1)")
        p.add_argument("--lr", type=_cli.positive_float, default=0.01, help="learning rate (0.01)")
        p.add_argument("--out", type=_cli.out_path, default="results/tutorial_numpy",
                       help="folder for the figure (made if missing; default"
                       " results/tutorial_numpy)")
        args = p.parse_args(argv)
        with _cli.Staged(args.out) as out:
            X = grid()
            before, _ = train_net(args.hidden, steps=0, X=X)  # the same start, not trained
            with np.errstate(over="ignore", invalid="ignore"):  # a diverged run: one line, below
                after, _ = train_net(args.hidden, args.steps, args.batch_size, args.lr, X)
                error = Error.value(linear(X), after(X))
            print(f"Full-grid error after training {error}")
            if not np.isfinite(error):
                raise _cli.Failure(f"the run diverged; try a smaller --lr than {args.lr:g}")
            _figure(X, before, after).savefig(out / "before_after.png", dpi=110)
            out.publish()
    return end.status


def _figure(X, before, after):
    """The tutorial's `showSubplots`, as a figure (saved, not shown)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, net, when in zip(axes, (before, after), ("before", "after")):
        ax.plot(X, linear(X), color="black", linewidth=4, label="true function")
        ax.plot(X, net(X), color="orange", linewidth=2, label="Net")
        ax.set(title=f"Net results {when} training", xlabel="x")
        ax.legend(loc="upper left")
    axes[0].set_ylabel("y")
    return fig


if __name__ == "__main__":
    _cli.script(main)
