"""Try to restore 2 sin x + 5 with the same network, and show why it cannot.

The tutorial's "Complicating the function": with no activation the network is one
affine map (`affine_map`), so it can at best reach the least-squares line, fitted
here in closed form on the same grid; the run prints both maps and their full-grid
errors J. With --activation between the layers the network is no longer affine and
restores the sine, e.g. `--activation tanh --hidden 16 --steps 20000 --batch-size 32
--lr 0.05`. Writes before_after.png, loss.png, losses.npz, network.npz and results.json
into --out.
"""

from experiments import _cli

WRITES = ("Writes into --out, all together once the run has succeeded: before_after.png (the"
          " tutorial's Figure 4, with the least-squares line), loss.png (the batch error J per"
          " step, both routes, with the least-squares line's J as a floor),"
          " losses.npz (those losses, arrays manual_grads and autodiff_grads), network.npz (the"
          " trained network: jlinnet.load reads it) and results.json (the flags, the numbers"
          " printed, and these files' names).")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("sine", _run, argv, smaller="fewer --steps or a smaller --hidden")


def _run(argv):
    p = _cli.parser("sine", __doc__, WRITES)
    _cli.tutorial_flags(p)
    _cli.run_flags(p, "results/sine")
    p.add_argument("--activation", choices=("none", "tanh", "relu", "sigmoid"), default="none",
                   help="activation between the layers (tutorial: none)")
    args = p.parse_args(argv)
    activation = None if args.activation == "none" else args.activation
    with _cli.Staged(args.out) as out:
        import jlinnet as jl
        from experiments import _routes

        _cli.use_compilation_cache(args.no_cache)
        run = _routes.whole_run(args, jl.sine_target, activation, fit_line=True)
        _routes.report(run, args.steps)
        ls_w, ls_b, ls_error = run["least_squares"]
        if activation is None:
            print(f"the network's affine map: {_routes.line(*run['affine_map'])}"
                  f"   J = {run['final_error']:.6g}")
        print(f"least-squares line:       {_routes.line(ls_w, ls_b)}   J = {ls_error:.6g}")
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
        record = _routes.record(args, "2 sin x + 5", run, activation=args.activation)
        title = "f(x) = 2 sin x + 5" + (f", {activation} between the layers" if activation else "")
        reference = {"least-squares line": run["xs"] @ ls_w + ls_b[None, :]}
        floor = (ls_error, "least-squares line, full-grid J")
        _routes.save(out, run, record, title, reference, floor)
        print("wrote " + ", ".join(str(path) for path in out.publish()))
    return 0


if __name__ == "__main__":
    _cli.script(main)
