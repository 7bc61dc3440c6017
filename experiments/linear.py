"""Restore f(x) = 2x + 3 with the tutorial's one-hidden-layer network (no activation).

The tutorial's first experiment, `trainNet(2, steps=100, batchsize=1)`: trains the network
twice from the same start and batches, by its hand-written backprop (`Net`) and by jax.grad
+ optax (its `trainNetPL`), then prints the full-grid error J before and after and the
learned affine map against the true one. Everything a run computes is one `jax.jit`
program, compiled once; `experiments.sine` runs the same program on its own target.
"""

import functools

from experiments import _cli

WRITES = ("Writes into --out, all together once the run has succeeded: before_after.png (the"
          " tutorial's Figure 2{fig}), loss.png (the batch error J per step, both routes{floor}),"
          " losses.npz (those losses, arrays manual_grads and autodiff_grads), network.npz (the"
          " trained network: jlinnet.load reads it) and results.json (the flags, the numbers"
          " printed, and these files' names).")
FILES = dict(figure="before_after.png", loss_figure="loss.png", losses="losses.npz",
             network="network.npz")
FRAMES = 100  # at most about this many frames in training.gif, points on a collapse path
SMALLER = "fewer --steps or a smaller --hidden"
NUMBERS = ("initial_error", "final_error", "manual_final_error", "max_param_difference")


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("linear", _run, argv, SMALLER)


def parse(name, doc, argv, writes, *extra):
    """The flags of linear and sine: the tutorial's, where a run starts and writes, `extra`."""
    p = _cli.parser(name, doc, writes)
    _cli.tutorial_flags(p)
    _cli.run_flags(p, f"results/{name}")
    p.add_argument("--animate", action="store_true", help="also write training.gif: the"
                   " before/after figure frame by frame over the steps, with step and J in each"
                   f" (at most about {FRAMES} frames; 100 are about 0.4 MB and a few seconds)")
    for flag, kwargs in extra:
        p.add_argument(flag, **kwargs)
    return p.parse_args(argv)


def _run(argv):
    args = parse("linear", __doc__, argv, WRITES.format(fig="", floor=""))
    with _cli.Staged(args.out) as out:
        import jlinnet as jl

        _cli.use_compilation_cache(args.no_cache)
        run = whole_run(args, jl.linear_target, animate=args.animate)
        print(f"learned affine map: {line(*run['affine_map'])}   (true: y = 2 x + 3)")
        save(out, run, record(args, "2x + 3", run), "f(x) = 2x + 3")
    return 0


@functools.cache
def _program(**settings):
    """The whole run as one jitted function of its start (see `whole_run`)."""
    import jax
    import jax.numpy as jnp
    import optax

    import jlinnet as jl

    routes = {"manual_grads": jl.manual_grads, "autodiff_grads": jl.autodiff_grads}

    def along(net, xs, ys, starts, state, record, *, batchsize, optimizer):
        """`record(net)` along a run: the library's own `jl.train` over segments of the
        schedule, (T, ...) after each of T = min(S, FRAMES) segments of S // T steps."""
        def segment(carry, s):
            r = jl.train(carry[0], xs, ys, s, batchsize=batchsize, optimizer=optimizer,
                         opt_state=carry[1])
            return (r.params, r.opt_state), record(r.params)

        every = max(1, starts.shape[0] // FRAMES)
        t = starts.shape[0] // every
        return jax.lax.scan(segment, (net, state), starts[: t * every].reshape(t, every))[1]

    def run(start, *, hidden, steps, target, batchsize, lr, activation, fit_line, animate):
        if isinstance(start, tuple):  # the tutorial's weights and batch starts, from the host
            net, starts = start
        else:  # a seed: weights and batch starts from jax.random.key(seed), in this program
            k_init, k_batch = jax.random.split(jax.random.key(start))
            net = jl.init_mlp(k_init, (1, hidden, 1), activation=activation)
            starts = jl.batch_starts(k_batch, steps, _cli.GRID_POINTS, batchsize)
        xs = jl.grid(_cli.GRID_POINTS)
        ys = target(xs)
        results = {name: jl.train(net, xs, ys, starts, batchsize=batchsize,
                                  optimizer=optax.sgd(lr), grads=grads)
                   for name, grads in routes.items()}
        after = {name: jl.forward(r.params, xs) for name, r in results.items()}
        gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)),
                            *(r.params for r in results.values()))
        before, net_ = jl.forward(net, xs), results["autodiff_grads"].params
        out = dict(xs=xs, ys=ys, before=before, after=after, net=net_,
                   losses={name: r.losses for name, r in results.items()},
                   nonfinite_step={name: r.nonfinite_step for name, r in results.items()},
                   initial_error=jl.mse(before, ys), manual_final_error=jl.mse(
                       after["manual_grads"], ys), final_error=jl.mse(after["autodiff_grads"], ys),
                   max_param_difference=jnp.max(jnp.stack(jax.tree.leaves(gaps))))
        if activation is None:
            out["affine_map"] = jl.affine_map(out["net"])
        if fit_line:  # a linear solve: compiled only where asked for
            w, b = jl.least_squares(xs, ys)
            out["least_squares"] = (w, b, jl.mse(xs @ w + b[None, :], ys))
        sgd, opts = optax.sgd(lr), dict(batchsize=batchsize)
        if animate:  # the network's output after each segment, and its J on the grid
            outputs = along(net, xs, ys, starts, sgd.init(net), lambda n: jl.forward(n, xs),
                            optimizer=sgd, **opts)
            out["frames"] = jnp.concatenate([before[None], outputs])
            out["frame_errors"] = jax.vmap(lambda p: jl.mse(p, ys))(out["frames"])
        if fit_line and activation is None:  # collapse.png: the terms, and (w, b) paths
            w1, b1 = net_[0]
            out["terms"] = (xs @ w1 + b1[None]) * net_[1].w[:, 0][None]  # w2_j z_j(x): (N, H)
            edge = 2 / jl.sharpness(net, xs, ys)  # where full-batch GD would start to diverge
            rates = jnp.stack([jnp.float32(lr), edge, 3 * edge])
            opt = optax.inject_hyperparams(optax.sgd)(learning_rate=lr)
            path = jax.vmap(lambda r: along(
                net, xs, ys, starts, jl.with_hyperparams(opt.init(net), learning_rate=r),
                lambda n: jnp.concatenate([a.ravel() for a in jl.affine_map(n)]),
                optimizer=opt, **opts))(rates)
            start = jnp.concatenate([a.ravel() for a in jl.affine_map(net)])
            out["paths"] = (rates, edge, jnp.concatenate(
                [jnp.broadcast_to(start, (3, 1, 2)), path], axis=1))
        return out

    return jax.jit(functools.partial(run, **settings))


def whole_run(args, target, activation=None, fit_line=False, animate=False):
    """Compiles the run, refuses it if it cannot fit in memory, runs it; numbers to the host.

    With --rng tutorial the start is `jl.tutorial_setup`'s (made on the host only once the
    run fits); with --rng jax, `init_mlp` and `batch_starts` from `jax.random.key(seed)`.
    Returns a dict of NumPy arrays and floats: xs, ys, before (N, 1); after, losses (S,) and
    nonfinite_step by route; the numbers of NUMBERS; affine_map (w, b) without an activation,
    least_squares (w, b, J) with `fit_line`; frames (T + 1, N, 1) and frame_errors with
    `animate`; terms (N, H) and paths (rates (3,), 2/lambda, (3, T + 1, 2)) with `fit_line` and
    no activation. Raises `Failure` naming the first step, else the
    first number, that is not finite.
    """
    import jax
    import numpy as np

    import jlinnet as jl

    sizes = (1, args.hidden, 1)
    program = _program(hidden=args.hidden, steps=args.steps, target=target, lr=args.lr,
                       batchsize=args.batch_size, activation=activation, fit_line=fit_line,
                       animate=animate)
    if args.rng == "tutorial":
        net = jax.eval_shape(lambda: jl.init_mlp(jax.random.key(0), sizes, activation=activation))
        start = (net, jax.ShapeDtypeStruct((args.steps,), np.int32))
    else:
        start = jax.ShapeDtypeStruct((), np.uint32)
    compiled = program.lower(start).compile()
    _cli.check_memory(compiled, SMALLER)
    if args.rng == "tutorial":
        start = jl.tutorial_setup(sizes, args.steps, args.batch_size, seed=args.seed,
                                  activation=activation)
    start = start if args.rng == "tutorial" else np.uint32(args.seed)
    run = jax.device_get(_cli.wait(compiled(start)))
    hint = f"try a smaller --lr than {args.lr:g}"
    bad = {name: int(step) for name, step in run["nonfinite_step"].items() if step >= 0}
    if bad:  # the first step whose batch loss is not finite; S: the last update's weights
        name, step = min(bad.items(), key=lambda item: item[1])
        s = args.steps
        what = (f"the batch loss became non-finite at step {step + 1} of {s}" if step < s
                else f"the update of step {s} of {s} made the parameters non-finite")
        raise _cli.Failure(f"{what} ({name} route); {hint}")
    for key in (*NUMBERS, "affine_map", "least_squares"):  # what results.json reports
        if not all(np.isfinite(v).all() for v in jax.tree.leaves(run.get(key))):
            raise _cli.Failure(f"{key} is not finite: the run diverged; {hint}")
    report(run, args.steps)
    return run | {key: float(run[key]) for key in NUMBERS}


def report(run, steps):
    """Prints the batch error along the run (a line every ~10% of the steps) and the errors J."""
    every, width = max(1, steps // 10), len(str(steps))
    print("batch error J before each update:")
    print(f"  {'step':>{2 * width + 1}}  {'hand backprop':>16}  {'jax.grad + optax':>16}")
    for t in sorted({1, *range(every, steps + 1, every), steps}):
        row = "".join(f"  {run['losses'][name][t - 1]:>16.6g}"
                      for name in ("manual_grads", "autodiff_grads"))
        print(f"  {t:>{width}}/{steps}{row}")
    print(f"full-grid error J before training: {run['initial_error']:.6g}")
    print(f"full-grid error J after training:  {run['manual_final_error']:.6g} (hand backprop),"
          f" {run['final_error']:.6g} (jax.grad + optax)")
    print(f"the two routes end {run['max_param_difference']:.3g} apart (largest parameter gap)")


def line(w, b):
    """'y = w x + b' for a one-input, one-output affine map."""
    w, b = float(w.ravel()[0]), float(b.ravel()[0])
    return f"y = {w:.6g} x {'+-'[b < 0]} {abs(b):.6g}"


def record(args, target, run, **extra):
    """results.json: the run's inputs, then its numbers; no times, so reruns match byte for byte."""
    inputs = dict(target=target, hidden=args.hidden, steps=args.steps, batch_size=args.batch_size,
                  lr=args.lr, seed=args.seed, rng=args.rng)
    numbers = {key: run[key] for key in NUMBERS}
    if "affine_map" in run:
        w, b = run["affine_map"]
        numbers["affine_map"] = {"w": float(w[0, 0]), "b": float(b[0])}
    if "least_squares" in run:
        w, b, error = run["least_squares"]
        numbers["least_squares"] = {"w": float(w[0, 0]), "b": float(b[0]), "error": float(error)}
    return inputs | extra | numbers


def save(out, run, record, title, reference=None, floor=None):
    """Writes FILES and results.json into `out` (a `_cli.Staged`), then publishes them.

    `reference` ({label: (N, 1)}) joins the "after" panel; `floor` ((J, label)) is a line on
    the loss figure.
    """
    import numpy as np

    import jlinnet as jl
    from jlinnet import plot  # matplotlib only once there is something to draw

    names = {"manual_grads": "hand backprop", "autodiff_grads": "jax.grad + optax"}
    after = {names[k]: v for k, v in run["after"].items()} | (reference or {})
    plot.before_after(run["xs"], run["ys"], dict.fromkeys(names.values(), run["before"]), after,
                      title=title).savefig(out / FILES["figure"], dpi=110)
    plot.loss_curve({names[k]: v for k, v in run["losses"].items()}, floor=floor,
                    title=title).savefig(out / FILES["loss_figure"], dpi=110)
    with open(out / FILES["losses"], "wb") as f:
        np.savez(f, **run["losses"])
    jl.save(out / FILES["network"], run["net"])
    files = dict(FILES)
    if "frames" in run:  # training.gif: frame t after t * every steps (`along`)
        every = max(1, record["steps"] // FRAMES)
        steps = every * np.arange(len(run["frames"]))
        plot.animate(run["xs"], run["ys"], run["frames"], run["frame_errors"], steps=steps,
                     title=title).save(out / "training.gif", writer="pillow")
        files["animation"] = "training.gif"
    if "paths" in run:  # collapse.png: the neurons' terms, and the map (w, b) along training
        rates, edge, paths = run["paths"]
        w, b, _ = run["least_squares"]
        labels = [f"lr {r:.3g} = {r / edge:.2g} x 2/lambda_max" for r in rates]
        plot.collapse(run["xs"], run["terms"], float(run["net"][1].b[0]), run["ys"],
                      (float(w[0, 0]), float(b[0])), dict(zip(labels, paths)),
                      title=title).savefig(out / "collapse.png", dpi=110)
        files["collapse"] = "collapse.png"
    _cli.write_json(out / "results.json", record | {"files": files})
    print("wrote " + ", ".join(str(path) for path in out.publish()))


if __name__ == "__main__":
    _cli.script(main)
