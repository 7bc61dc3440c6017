"""Try to restore 2 sin x + 5 with the same network, and show why it cannot.

The tutorial's "Complicating the function": with no activation the network is one affine
map (`affine_map`), so it can at best reach the least-squares line, fitted here in closed
form on the same grid; the run prints both maps and their full-grid errors J. With
--activation between the layers the network is no longer affine and restores the sine, e.g.
`--activation tanh --hidden 16 --steps 20000 --batch-size 32 --lr 0.05`. The run is
`experiments.linear`'s program, on this target.
"""

from experiments import _cli, linear

WRITES = linear.WRITES.format(fig="4, with the least-squares line",
                              floor=", with the least-squares line's J as a floor") + (
    " Without an activation also collapse.png: the hidden neurons' lines, and the map (w, b)"
    " along training at three learning rates.")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("sine", _run, argv, linear.SMALLER)


def _run(argv):
    args = linear.parse("sine", __doc__, argv, WRITES, "2 sin x + 5", ("--activation", dict(
        choices=("none", "tanh", "relu", "sigmoid"), default="none",
        help="activation between the layers (tutorial: none)")))
    with _cli.Staged(args.out) as out:
        run = linear.train(args, fit_line=True)
        final, fit = run["numbers"]["final_error"], run["numbers"]["least_squares"]
        if args.activation == "none":
            print(f"the network's affine map: {linear.line(run['numbers']['affine_map'])}"
                  f"   J = {final:.6g}")
        print(f"least-squares line:       {linear.line(fit)}   J = {fit['error']:.6g}")
        if args.activation == "none":
            print("without an activation the network is one affine map, so its J can never go"
                  f" below the line's {fit['error']:.6g}; training can only approach it"
                  " (near-full batches get there: --batch-size 999 --steps 2000 --lr 0.1)")
        else:
            print(f"with {args.activation} between the layers the network is no longer affine:"
                  f" J = {final:.6g} against the best line's {fit['error']:.6g}")
        linear.save(out, args, run)
    return 0


if __name__ == "__main__":
    _cli.script(main)
