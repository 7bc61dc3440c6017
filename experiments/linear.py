"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the
network twice from the same start and batches, by its hand-written backprop (`Net`)
and by jax.grad + optax (its `trainNetPL`), then prints the full-grid error J before
and after and the learned affine map against the true one, y = 2x + 3. Writes
before_after.png, loss.png and results.json into --out.
"""

import sys

from experiments import _cli


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1 failed, 2 bad flags)."""
    return _cli.run_main("linear", _run, argv)


def _run(argv):
    args = _cli.parse(_cli.parser("linear", __doc__.splitlines()[0], "results/linear"), argv)
    with _cli.OutDir(args.out) as out:
        import jlinnet as jl
        from experiments import _routes

        _cli.preload("matplotlib.figure", "matplotlib.backends.backend_agg")
        _cli.enable_compilation_cache(args.no_cache)
        run = _routes.whole_run(args, jl.linear_target)
        _routes.report(run, args.steps)
        print(f"learned affine map: {_routes.line(*run['affine_map'])}   (true: y = 2 x + 3)")
        _routes.save(out, run, _routes.record(args, "2x + 3", run), "f(x) = 2x + 3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
