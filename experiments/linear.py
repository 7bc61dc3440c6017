"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the
network twice from the same start and batches, by its hand-written backprop (`Net`)
and by jax.grad + optax (its `trainNetPL`), then prints the full-grid error J before
and after and the learned affine map against the true one, y = 2x + 3. Writes
before_after.png, loss.png and results.json into --out.
"""

import sys

from experiments import _common


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1 failed, 2 bad flags)."""
    return _common.run_main("linear", _run, argv)


def _run(argv):
    p = _common.parser("linear", __doc__.splitlines()[0], "results/linear")
    args = _common.parse(p, argv)
    with _common.OutDir(args.out) as out:
        _common.enable_compilation_cache(args.no_cache)
        import jlinnet as jl

        xs = jl.grid(_common.GRID_POINTS)
        ys = jl.linear_target(xs)
        run = _common.train_and_report(args, xs, ys)
        w, b = jl.affine_map(run["params"])
        print(f"learned affine map: {_common.line(w, b)}   (true: y = 2 x + 3)")
        record = _common.run_record(
            args,
            "2x + 3",
            **{k: run[k] for k in ("initial_error", "final_error", "manual_final_error",
                                   "max_param_difference")},
            affine_map={"w": float(w[0, 0]), "b": float(b[0])},
        )
        _common.save(out, xs, ys, run, record, "f(x) = 2x + 3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
