"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the
network twice from the same start and batches, by its hand-written backprop (`Net`)
and by jax.grad + optax (its `trainNetPL`), then prints the full-grid error J before
and after and the learned affine map against the true one, y = 2x + 3. Writes
before_after.png, loss.png, losses.npz, network.npz and results.json
into --out.
"""

from experiments import _cli

WRITES = ("Writes into --out, all together once the run has succeeded: before_after.png (the"
          " tutorial's Figure 2), loss.png (the batch error J per step, both routes),"
          " losses.npz (those losses, arrays manual_grads and autodiff_grads), network.npz (the"
          " trained network: jlinnet.load reads it) and results.json (the flags, the numbers"
          " printed, and these files' names).")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("linear", _run, argv, smaller="fewer --steps or a smaller --hidden")


def _run(argv):
    p = _cli.parser("linear", __doc__, WRITES)
    _cli.tutorial_flags(p)
    _cli.run_flags(p, "results/linear")
    args = p.parse_args(argv)
    with _cli.Staged(args.out) as out:
        import jlinnet as jl
        from experiments import _routes

        _cli.use_compilation_cache(args.no_cache)
        run = _routes.whole_run(args, jl.linear_target)
        _routes.report(run, args.steps)
        print(f"learned affine map: {_routes.line(*run['affine_map'])}   (true: y = 2 x + 3)")
        _routes.save(out, run, _routes.record(args, "2x + 3", run), "f(x) = 2x + 3")
        print("wrote " + ", ".join(str(path) for path in out.publish()))
    return 0


if __name__ == "__main__":
    _cli.script(main)
