"""Try to restore 2 sin x + 5 with the same network, and show why it cannot.

The tutorial's "Complicating the function": with no activation the network is one affine
map (`affine_map`), so it can at best reach the least-squares line, fitted here in closed
form on the same grid; the run prints both maps and their full-grid errors J. With
--activation between the layers the network is no longer affine and restores the sine, e.g.
`--activation tanh --hidden 16 --steps 20000 --batch-size 32 --lr 0.05`. The run is
`experiments.linear`'s (`experiments._run`), with the least-squares line beside it.
"""

from experiments import _cli, _run

WRITES = _run.WRITES.format(
    "before_after.png (the tutorial's Figure 4, with the least-squares line), loss.png (each"
    " route's batch J per step, the line's J as a floor); without an activation collapse.png"
    " (the hidden neurons' lines, and the map (w, b) along training at three learning rates)")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("sine", _run.SMALLER) as end:
        spec, args = _run.parse("sine", __doc__, WRITES, argv, target="sine")
        _cli.check_memory(_run.bytes_needed(spec, 1, args.animate * _run.FRAMES), _run.SMALLER)
        with _cli.Staged(args.out) as out:
            run = _run.train(spec, collapse=True, animate=args.animate, cache=not args.no_cache)
            _run.report(run, spec.steps)
            final, fit = run["numbers"]["final_error"], run["numbers"]["least_squares"]
            if spec.activation == "none":
                print(f"the network's affine map: {_run.line(run['numbers']['affine_map'])}"
                      f"   J = {final:.6g}")
            print(f"least-squares line:       {_run.line(fit)}   J = {fit['error']:.6g}")
            if spec.activation == "none":
                print("without an activation the network is one affine map, so its J can never"
                      f" go below the line's {fit['error']:.6g}; training can only approach it"
                      " (near-full batches get there: --batch-size 999 --steps 2000 --lr 0.1)")
            else:
                print(f"with {spec.activation} between the layers the network is no longer"
                      f" affine: J = {final:.6g} against the best line's {fit['error']:.6g}")
            _run.save(out, "sine", spec, run, line=True)
    return end.status


if __name__ == "__main__":
    _cli.script(main)
