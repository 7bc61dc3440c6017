"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the network
twice from the same start and batches, by its hand-written backprop and by jax.grad + optax
(its `trainNetPL`), then prints the full-grid error J before and after and the learned affine
map beside the least-squares line (for 2x + 3, the true map). The run is one `jax.jit` program
(`experiments._run`), compiled once; any target, optimizer and activation runs the same way:
`--target square --activation tanh --hidden 16 --steps 2000 --batch-size 32 --optimizer adam
--lr 0.01`.
"""

from experiments import _cli, _run

WRITES = _run.WRITES.format("before_after.png (the tutorial's Figure 2), loss.png (each"
                            " route's batch J per step)")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("linear", _run.SMALLER) as end:
        spec, args = _run.parse("linear", __doc__, WRITES, argv)
        _cli.check_memory(_run.bytes_needed(spec, 1, args.animate * _run.FRAMES), _run.SMALLER)
        with _cli.Staged(args.out) as out:
            run = _run.train(spec, animate=args.animate, cache=not args.no_cache)
            _run.report(run, spec.steps)
            numbers = run["numbers"]
            if "affine_map" in numbers:  # no activation: the network is one affine map
                fit = numbers["least_squares"]  # "true" where the target is a line, to rounding
                print(f"learned affine map: {_run.line(numbers['affine_map'])}   ("
                      f"{'true' if fit['error'] < 1e-8 else 'least-squares line'}:"
                      f" {_run.line(fit)})")
            _run.save(out, "linear", spec, run)
    return end.status


if __name__ == "__main__":
    _cli.script(main)
