"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the network
twice from the same start and batches, by its hand-written backprop (`Net`) and by jax.grad
+ optax (its `trainNetPL`), then prints the full-grid error J before and after and the
learned affine map against the true one. Everything a run computes is one `jax.jit`
program, compiled once; `experiments.sine` runs the same program on its own target.
"""

import functools

from experiments import _cli

WRITES = ("Writes into --out, together once the run has succeeded: before_after.png (the"
          " tutorial's Figure {fig}), loss.png (each route's batch J per step{floor}), losses.npz"
          " (those losses: manual_grads, autodiff_grads), network.npz (jlinnet.load reads it) and"
          " results.json (the flags, the numbers printed, the files' names).")
ROUTES = {"manual_grads": "hand backprop", "autodiff_grads": "jax.grad + optax"}
FRAMES = 100  # at most about this many frames in training.gif, points on a collapse path
SMALLER = "fewer --steps or a smaller --hidden"


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("linear", _run, argv, SMALLER)


def _run(argv):
    args = parse("linear", __doc__, argv, WRITES.format(fig="2", floor=""), "2x + 3")
    with _cli.Staged(args.out) as out:
        run = train(args)
        print(f"learned affine map: {line(run['numbers']['affine_map'])}   (true: y = 2 x + 3)")
        save(out, args, run)
    return 0


def parse(name, doc, argv, writes, target, *extra):
    """The flags of linear and sine: the tutorial's, where a run starts and writes, `extra`."""
    p = _cli.parser(name, doc, writes)
    _cli.tutorial_flags(p)
    _cli.run_flags(p, f"results/{name}")
    p.add_argument("--animate", action="store_true", help="also write training.gif: the"
                   " before/after figure frame by frame over the steps, with step and J in each"
                   f" (at most about {FRAMES} frames; 100 are about 0.4 MB and a few seconds)")
    for flag, kwargs in extra:
        p.add_argument(flag, **kwargs)
    p.set_defaults(target=target, activation="none")  # sine's --activation overrides it
    return p.parse_args(argv)


@functools.cache
def _program(target, hidden, steps, batchsize, activation, fit_line, animate):
    """The whole run as one jitted function of its start and learning rate.

    It returns a dict: xs, ys, before (N, 1); by route, the `TrainResult` and its network's
    output `after` (N, 1); numbers, the scalars results.json reports (affine_map without an
    activation, least_squares with `fit_line`); line (N, 1) with `fit_line`; frames (T + 1,
    N, 1) and frame_errors (T + 1,) with `animate`; terms (N, H) and paths (rates (3,),
    2/lambda_max, (3, T + 1, 2) of (w, b)) with `fit_line` and no activation.
    """
    import jax
    import jax.numpy as jnp
    import optax

    import jlinnet as jl

    sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)  # the rate is in its state
    every = max(1, steps // FRAMES)  # steps between two frames, or two points of a path
    routes = {"manual_grads": jl.manual_grads, "autodiff_grads": jl.autodiff_grads}

    def run(start, lr):
        if isinstance(start, tuple):  # the tutorial's weights and batch starts, from the host
            net, starts = start
        else:  # a seed: weights and batch starts from jax.random.key(seed), in this program
            k_init, k_batch = jax.random.split(jax.random.key(start))
            net = jl.init_mlp(k_init, (1, hidden, 1), activation=activation)
            starts = jl.batch_starts(k_batch, steps, _cli.GRID_POINTS, batchsize)
        xs = jl.grid(_cli.GRID_POINTS)
        ys = {"2x + 3": jl.linear_target, "2 sin x + 5": jl.sine_target}[target](xs)
        fit = dict(batchsize=batchsize, optimizer=sgd)

        def along(lr, record):
            """`record(net)` at the start and after each `jl.train` over `every` steps."""
            def segment(carry, s):
                r = jl.train(carry[0], xs, ys, s, opt_state=carry[1], **fit)
                return (r.params, r.opt_state), record(r.params)

            state = jl.with_hyperparams(sgd.init(net), learning_rate=lr)
            segments = starts[: steps // every * every].reshape(-1, every)
            path = jax.lax.scan(segment, (net, state), segments)[1]
            return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), record(net), path)

        state = jl.with_hyperparams(sgd.init(net), learning_rate=lr)
        results = {name: jl.train(net, xs, ys, starts, grads=grads, opt_state=state, **fit)
                   for name, grads in routes.items()}
        after = {name: jl.forward(r.params, xs) for name, r in results.items()}
        trained, before = results["autodiff_grads"].params, jl.forward(net, xs)
        gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)),
                            *(r.params for r in results.values()))
        numbers = dict(initial_error=jl.mse(before, ys),
                       final_error=jl.mse(after["autodiff_grads"], ys),
                       manual_final_error=jl.mse(after["manual_grads"], ys),
                       max_param_difference=jnp.max(jnp.stack(jax.tree.leaves(gaps))))
        out = dict(xs=xs, ys=ys, before=before, after=after, results=results, numbers=numbers)
        if activation is None:
            w, b = jl.affine_map(trained)
            numbers["affine_map"] = dict(w=w[0, 0], b=b[0])
        if fit_line:  # a linear solve: compiled only where asked for
            w, b = jl.least_squares(xs, ys)
            out["line"] = xs @ w + b[None, :]
            numbers["least_squares"] = dict(w=w[0, 0], b=b[0], error=jl.mse(out["line"], ys))
        if animate:  # the network's output at the start and after each segment
            out["frames"] = along(lr, lambda n: jl.forward(n, xs))
            out["frame_errors"] = jax.vmap(lambda p: jl.mse(p, ys))(out["frames"])
        if fit_line and activation is None:  # collapse.png: the terms, and (w, b) paths
            w1, b1 = trained[0]
            out["terms"] = (xs @ w1 + b1[None]) * trained[1].w[:, 0][None]  # w2_j z_j: (N, H)
            edge = 2 / jl.sharpness(net, xs, ys)  # where full-batch GD would start to diverge
            rates = jnp.stack([lr, edge, 3 * edge])
            point = lambda n: jnp.concatenate([a.ravel() for a in jl.affine_map(n)])  # noqa: E731
            out["paths"] = (rates, edge, jax.vmap(lambda r: along(r, point))(rates))  # (w, b)
        return out

    return jax.jit(run)


def train(args, fit_line=False):
    """Compiles the run, refuses it if it cannot fit in memory, runs it, checks and prints it.

    With --rng tutorial the start is `jl.tutorial_setup`'s (made on the host only once the
    run fits); with --rng jax, `init_mlp` and `batch_starts` from `jax.random.key(seed)`.
    Returns `_program`'s dict as NumPy arrays, its numbers as floats. Raises `Failure` naming
    the first step, else the first number, that is not finite.
    """
    import jax
    import numpy as np

    import jlinnet as jl

    _cli.use_compilation_cache(args.no_cache)
    activation = None if args.activation == "none" else args.activation
    sizes, lr, s = (1, args.hidden, 1), np.float32(args.lr), args.steps
    program = _program(args.target, args.hidden, s, args.batch_size, activation, fit_line,
                       args.animate)
    if args.rng == "tutorial":  # shapes only, until the memory check has passed
        net = jax.eval_shape(lambda: jl.init_mlp(jax.random.key(0), sizes, activation=activation))
        start = (net, jax.ShapeDtypeStruct((s,), np.int32))
    else:
        start = np.uint32(args.seed)
    compiled = program.lower(start, lr).compile()
    _cli.check_memory(compiled, SMALLER)
    if args.rng == "tutorial":
        start = jl.tutorial_setup(sizes, s, args.batch_size, seed=args.seed, activation=activation)
    run = jax.device_get(_cli.wait(compiled(start, lr)))
    hint = f"try a smaller --lr than {args.lr:g}"
    if bad := sorted((int(r.nonfinite_step), name) for name, r in run["results"].items()
                     if r.nonfinite_step >= 0):  # step S: the last update's weights
        t, name = bad[0]
        what = (f"the batch loss became non-finite at step {t + 1} of {s}" if t < s
                else f"the update of step {s} of {s} made the parameters non-finite")
        raise _cli.Failure(f"{what} ({name} route); {hint}")
    for key, value in run["numbers"].items():
        if not np.isfinite(jax.tree.leaves(value)).all():
            raise _cli.Failure(f"{key} is not finite: the run diverged; {hint}")
    run["numbers"] = jax.tree.map(float, run["numbers"])
    report(run, s)
    return run


def report(run, steps):
    """Prints the batch error along the run (a line every ~10% of the steps) and the errors J."""
    every, width, numbers = max(1, steps // 10), len(str(steps)), run["numbers"]
    print("batch error J before each update:")
    print(f"  {'step':>{2 * width + 1}}" + "".join(f"  {label:>16}" for label in ROUTES.values()))
    for t in sorted({1, *range(every, steps + 1, every), steps}):
        print(f"  {t:>{width}}/{steps}" + "".join(
            f"  {run['results'][name].losses[t - 1]:>16.6g}" for name in ROUTES))
    print(f"full-grid error J before training: {numbers['initial_error']:.6g}")
    print(f"full-grid error J after training:  {numbers['manual_final_error']:.6g} (hand"
          f" backprop), {numbers['final_error']:.6g} (jax.grad + optax)")
    print(f"the two routes end {numbers['max_param_difference']:.3g} apart (largest parameter"
          " gap)")


def line(m):
    """'y = w x + b' for a map {"w": w, "b": b}."""
    return f"y = {m['w']:.6g} x {'+-'[m['b'] < 0]} {abs(m['b']):.6g}"


def save(out, args, run):
    """Writes the figures, losses.npz, network.npz and results.json (the flags, the numbers,
    the files' names; no times, so reruns match byte for byte) into `out`, a `_cli.Staged`,
    then publishes them."""
    import numpy as np

    import jlinnet as jl
    from jlinnet import plot  # matplotlib only once there is something to draw

    xs, ys, numbers = run["xs"], run["ys"], run["numbers"]
    title = f"f(x) = {args.target}" + (
        "" if args.activation == "none" else f", {args.activation} between the layers")
    losses = {name: r.losses for name, r in run["results"].items()}
    after, floor = {ROUTES[name]: v for name, v in run["after"].items()}, None
    if "line" in run:
        after["least-squares line"] = run["line"]
        floor = (numbers["least_squares"]["error"], "least-squares line")
    plot.before_after(xs, ys, dict.fromkeys(ROUTES.values(), run["before"]), after,
                      title=title).savefig(out / "before_after.png", dpi=110)
    plot.loss_curve({ROUTES[name]: v for name, v in losses.items()}, floor=floor,
                    title=title).savefig(out / "loss.png", dpi=110)
    np.savez(out / "losses.npz", **losses)
    jl.save(out / "network.npz", run["results"]["autodiff_grads"].params)
    if "frames" in run:  # frame t after t * every steps (`along`)
        steps = max(1, args.steps // FRAMES) * np.arange(len(run["frames"]))
        plot.animate(xs, ys, run["frames"], run["frame_errors"], steps=steps,
                     title=title).save(out / "training.gif", writer="pillow")
    if "paths" in run:
        rates, edge, paths = run["paths"]
        labels = [f"lr {r:.3g} = {r / edge:.2g} x 2/lambda_max" for r in rates]
        fit, b2 = numbers["least_squares"], float(run["results"]["autodiff_grads"].params[1].b[0])
        plot.collapse(xs, run["terms"], b2, ys, (fit["w"], fit["b"]), dict(zip(labels, paths)),
                      title=title).savefig(out / "collapse.png", dpi=110)
    inputs = {k: v for k, v in vars(args).items() if k not in ("out", "no_cache", "animate")}
    results = inputs | numbers | {"files": out.names + ["results.json"]}
    _cli.write_json(out / "results.json", results)
    print("wrote " + ", ".join(str(path) for path in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
