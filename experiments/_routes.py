"""The tutorial's run: one start, trained by both gradient routes, compiled as one program.

The tutorial trains its hand-written `Net` and then PuzzleLib's network from the
same seed; here the two routes are `manual_grads` and `jax.grad` + optax. Everything
a run computes (both trainings, the grid predictions and errors, the affine map and
the least-squares line) is traced into one `jax.jit` program, so a run compiles once.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jlinnet as jl
from experiments._cli import GRID_POINTS, Failure, check_memory, write_json

ROUTES = {"hand backprop": jl.manual_grads, "jax.grad + optax": jl.autodiff_grads}
MANUAL, AUTO = ROUTES
ROUTES_SAVED = {MANUAL: "manual_grads", AUTO: "autodiff_grads"}  # names in losses.npz
# Memory a run needs besides JAX's runtime (peak RSS of CPU runs, jax 0.10): per step, the
# schedule and both routes' losses on device and host and the loss figure's float64 copies
# (~60 B measured at 3,000,000 steps); per hidden neuron, a few float32 arrays over the
# grid; compiling, matplotlib.
BYTES_PER_STEP, BYTES_PER_NEURON, BYTES_FIXED = 100, 3 * 4 * GRID_POINTS, 300 * 2**20


@functools.partial(
    jax.jit, static_argnames=("hidden", "steps", "target", "batchsize", "lr", "activation",
                              "fit_line")
)
def _whole_run(start, *, hidden, steps, target, batchsize, lr, activation, fit_line):
    if isinstance(start, tuple):  # the tutorial's weights and batch starts, replayed on the host
        net, starts = start
    else:  # a seed: weights and batch starts from jax.random.key(seed), inside this program
        k_init, k_batch = jax.random.split(jax.random.key(start))
        net = jl.init_mlp(k_init, (1, hidden, 1), activation=activation)
        starts = jl.batch_starts(k_batch, steps, GRID_POINTS, batchsize)
    xs = jl.grid(GRID_POINTS)
    ys = target(xs)
    sgd = optax.sgd(lr)
    results = {
        name: jl.train(net, xs, ys, starts, batchsize=batchsize, optimizer=sgd, grads=grads)
        for name, grads in ROUTES.items()
    }
    before = jl.forward(net, xs)
    after = {name: jl.forward(r.params, xs) for name, r in results.items()}
    gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), results[MANUAL].params,
                        results[AUTO].params)
    if fit_line:
        ls_w, ls_b = jl.least_squares(xs, ys)  # a linear solve: compiled only where asked for
        line = (ls_w, ls_b, jl.mse(xs @ ls_w + ls_b[None, :], ys))
    return dict(
        xs=xs,
        ys=ys,
        before=before,
        after=after,
        losses={name: r.losses for name, r in results.items()},
        net=results[AUTO].params,
        nonfinite_step={name: r.nonfinite_step for name, r in results.items()},
        initial_error=jl.mse(before, ys),
        final_error=jl.mse(after[AUTO], ys),
        manual_final_error=jl.mse(after[MANUAL], ys),
        max_param_difference=jnp.max(jnp.stack(jax.tree.leaves(gaps))),
        affine_map=None if activation else jl.affine_map(results[AUTO].params),
        least_squares=line if fit_line else None,
    )


def whole_run(args, target, activation=None, fit_line=False):
    """Runs the experiment's maths and brings the numbers to the host.

    Args:
      args: the parsed flags (hidden, steps, batch_size, lr, seed, rng). With
        --rng tutorial the start is `jl.tutorial_setup`'s; with --rng jax, `init_mlp`
        and `batch_starts` from `jax.random.key(seed)`.
      target: `jl.linear_target` or `jl.sine_target`.
      activation: None or a name in `jl.ACTIVATIONS`.
      fit_line: also fit the least-squares line to the grid.

    Returns:
      A dict of NumPy arrays and floats: xs, ys (N, 1); before (N, 1); after and
      losses {route: ...}; initial_error, final_error (jax.grad route),
      manual_final_error, max_param_difference; affine_map (w, b) or None;
      least_squares (w, b, error) or None. Raises `Failure` when the run cannot fit in
      memory, and when a number is not finite (naming the first non-finite step).
    """
    jax.devices()  # start JAX's runtime first, so the address space it takes counts as used
    needed = BYTES_FIXED + args.steps * BYTES_PER_STEP + args.hidden * BYTES_PER_NEURON
    check_memory(needed, "fewer --steps or a smaller --hidden")
    if args.rng == "tutorial":
        start = jl.tutorial_setup((1, args.hidden, 1), args.steps, args.batch_size, seed=args.seed,
                                  activation=activation)
    else:
        start = np.uint32(args.seed)
    run = jax.device_get(_whole_run(start, hidden=args.hidden, steps=args.steps, target=target,
                                    batchsize=args.batch_size, lr=args.lr, activation=activation,
                                    fit_line=fit_line))
    check_finite(run, args.steps, f"try a smaller --lr than {args.lr:g}")
    for key in ("initial_error", "final_error", "manual_final_error", "max_param_difference"):
        run[key] = float(run[key])
    return run


def check_finite(run, steps, hint):
    """Raises `Failure` naming the first step, else the first number, that is not finite.

    `nonfinite_step` is the first step (0-based) whose batch loss is not finite, or S when
    only the last update made the parameters non-finite: that is step S's update.
    """
    bad = {name: int(step) for name, step in run["nonfinite_step"].items() if step >= 0}
    if bad:
        name, step = min(bad.items(), key=lambda item: item[1])
        what = (f"the batch loss became non-finite at step {step + 1} of {steps}" if step < steps
                else f"the update of step {steps} of {steps} made the parameters non-finite")
        raise Failure(f"{what} ({name} route); {hint}")
    for key in ("initial_error", "manual_final_error", "final_error", "max_param_difference",
                "affine_map", "least_squares"):  # what results.json reports, in its names
        if not all(np.isfinite(v).all() for v in jax.tree.leaves(run[key])):  # None: no leaves
            raise Failure(f"{key} is not finite: the run diverged; {hint}")


def report(run, steps):
    """Prints the batch error along the run (a line every ~10% of the steps) and the errors J."""
    every = max(1, steps // 10)
    width = len(str(steps))
    print("batch error J before each update:")
    print(f"  {'step':>{2 * width + 1}}" + "".join(f"  {name:>16}" for name in ROUTES))
    for t in sorted({1, *range(every, steps + 1, every), steps}):
        row = "".join(f"  {run['losses'][name][t - 1]:>16.6g}" for name in ROUTES)
        print(f"  {t:>{width}}/{steps}{row}")
    print(f"full-grid error J before training: {run['initial_error']:.6g}")
    print(
        f"full-grid error J after training:  {run['manual_final_error']:.6g} ({MANUAL}),"
        f" {run['final_error']:.6g} ({AUTO})"
    )
    print(f"the two routes end {run['max_param_difference']:.3g} apart (largest parameter gap)")


def line(w, b):
    """'y = w x + b' for a one-input, one-output affine map."""
    w, b = float(np.ravel(w)[0]), float(np.ravel(b)[0])
    return f"y = {w:.6g} x {'+-'[b < 0]} {abs(b):.6g}"


def record(args, target, run, **extra):
    """results.json: the run's inputs, then its numbers; no times, so reruns match byte for byte."""
    inputs = dict(target=target, hidden=args.hidden, steps=args.steps, batch_size=args.batch_size,
                  lr=args.lr, seed=args.seed, rng=args.rng)
    numbers = {k: run[k] for k in ("initial_error", "final_error", "manual_final_error",
                                   "max_param_difference")}
    if run["affine_map"] is not None:
        w, b = run["affine_map"]
        numbers["affine_map"] = {"w": float(w[0, 0]), "b": float(b[0])}
    if run["least_squares"] is not None:
        w, b, error = run["least_squares"]
        numbers["least_squares"] = {"w": float(w[0, 0]), "b": float(b[0]), "error": float(error)}
    return inputs | extra | numbers


FILES = dict(figure="before_after.png", loss_figure="loss.png", losses="losses.npz",
             network="network.npz")


def save(out, run, record, title, reference=None, floor=None):
    """Writes the run's files into `out`, a `_cli.Staged`, results.json last.

    before_after.png (with `reference`, {label: (N, 1)}, in the "after" panel), loss.png
    (with `floor`, (J, label), as a line), losses.npz (the batch loss per step of each
    route, named as in ROUTES_SAVED), network.npz (the trained network, `jl.load` reads
    it), and results.json, `record` with the names of those files under "files".
    """
    from jlinnet import plot  # matplotlib only once there is something to draw

    before = dict.fromkeys(run["after"], run["before"])  # both routes start alike
    plot.before_after(run["xs"], run["ys"], before, run["after"] | (reference or {}),
                      title=title).savefig(out / FILES["figure"], dpi=110)
    plot.loss_curve(run["losses"], floor=floor, title=title).savefig(
        out / FILES["loss_figure"], dpi=110)
    with open(out / FILES["losses"], "wb") as f:
        np.savez(f, **{ROUTES_SAVED[name]: losses for name, losses in run["losses"].items()})
    jl.save(out / FILES["network"], run["net"])
    write_json(out / "results.json", record | {"files": FILES})
