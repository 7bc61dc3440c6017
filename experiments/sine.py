"""Try to restore 2 sin x + 5 with the same network, and show why it cannot.

The tutorial's "Complicating the function": with no activation the network is one
affine map (`affine_map`), so it can at best reach the least-squares line, fitted
here in closed form on the same grid; the run prints both maps and their full-grid
errors J. With --activation between the layers the network is no longer affine and
restores the sine, e.g. `--activation tanh --hidden 16 --steps 20000 --batch-size 32
--lr 0.05`. Writes before_after.png, loss.png and results.json into --out.
"""

import sys

from experiments import _common


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1 failed, 2 bad flags)."""
    return _common.run_main("sine", _run, argv)


def _run(argv):
    p = _common.parser("sine", __doc__.splitlines()[0], "results/sine")
    p.add_argument(
        "--activation",
        choices=("none", "tanh", "relu", "sigmoid"),
        default="none",
        help="activation between the layers (tutorial: none)",
    )
    args = _common.parse(p, argv)
    activation = None if args.activation == "none" else args.activation
    with _common.OutDir(args.out) as out:
        _common.enable_compilation_cache(args.no_cache)
        import jlinnet as jl

        xs = jl.grid(_common.GRID_POINTS)
        ys = jl.sine_target(xs)
        run = _common.train_and_report(args, xs, ys, activation)
        ls_w, ls_b = jl.least_squares(xs, ys)
        ls_error = float(jl.mse(xs @ ls_w + ls_b[None, :], ys))
        extra = {}
        if activation is None:
            w, b = jl.affine_map(run["params"])
            extra["affine_map"] = {"w": float(w[0, 0]), "b": float(b[0])}
            print(f"the network's affine map: {_common.line(w, b)}   J = {run['final_error']:.6g}")
        print(f"least-squares line:       {_common.line(ls_w, ls_b)}   J = {ls_error:.6g}")
        if activation is None:
            print(
                "without an activation the network is one affine map, so its J can never go"
                f" below the line's {ls_error:.6g}; training can only approach it (near-full"
                " batches get there: --batch-size 999 --steps 2000 --lr 0.1)"
            )
        else:
            print(
                f"with {activation} between the layers the network is no longer affine:"
                f" J = {run['final_error']:.6g} against the best line's {ls_error:.6g}"
            )
        record = _common.run_record(
            args,
            "2 sin x + 5",
            activation=args.activation,
            **{k: run[k] for k in ("initial_error", "final_error", "manual_final_error",
                                   "max_param_difference")},
            **extra,
            least_squares={"w": float(ls_w[0, 0]), "b": float(ls_b[0]), "error": ls_error},
        )
        title = "f(x) = 2 sin x + 5" + (f", {activation} between the layers" if activation else "")
        _common.save(out, xs, ys, run, record, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
