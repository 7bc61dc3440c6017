"""One definition of a run, shared by every experiment: what it restores, how it trains, its flags.

`TARGETS`: name -> (label, f), f maps xs (N, 1) to ys (N, 1); figures and tables print the label.
`OPTIMIZERS`: name -> an optax constructor taking `learning_rate` and keywords. Each is built
through `optax.inject_hyperparams`, so every numeric hyperparameter (the rate, and each numeric
default of the constructor) lives in the optimizer's state: one compiled program serves any
values, and a sweep gives each of its K networks its own. A `Spec` is one run; its fields are
every experiment's flags (`add_flags`), and results.json records it whole. A row added to a
table before an experiment parses its flags reaches every experiment's choices:

    experiments.TARGETS["cube"] = ("x³", lambda x: x ** 3)
    experiments.OPTIMIZERS["rmsprop"] = optax.rmsprop
"""

import dataclasses
import functools
import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

import jlinnet as jl
from experiments import _cli, _figures
from jlinnet.model import ACTIVATIONS

TARGETS = {"linear": ("2x + 3", jl.linear_target), "sine": ("2 sin x + 5", jl.sine_target),
           "square": ("x²", jnp.square)}
OPTIMIZERS = {"sgd": optax.sgd,  # the tutorial's: theta <- theta - lr dJ/dtheta
              "momentum": functools.partial(optax.sgd, momentum=0.9), "adam": optax.adam}
ROUTES = {"manual_grads": jl.manual_grads, "autodiff_grads": jl.autodiff_grads}
FRAMES = 100  # at most about this many frames in training.gif, points on a collapse path
SMALLER = "fewer --steps or a smaller --hidden"
WRITES = ("Writes into --out, together once the run has succeeded: losses.npz (each route's"
          " batch J per step: manual_grads, autodiff_grads), network.npz (jlinnet.load reads it),"
          " curves.npz (the arrays the figures draw), results.json (experiment, spec: every flag"
          " of the run with each hyperparameter's value, label, the numbers printed, files), {};"
          " with --animate training.gif. `python -m experiments.plot` redraws the figures from"
          " these files.")  # what `save` writes; {}: the experiment's own figures


@dataclasses.dataclass(frozen=True)
class Spec:
    """One run: a (1, hidden, 1) network with `activation` between its layers, weights
    N(0, wscale^2) and batch starts drawn from `seed` by `rng`, trained `steps` steps of
    `batch_size` rows on `target` by `optimizer` at rate `lr` and the other hyperparameters
    `hyper` ((name, value) pairs; the rest: the constructor's defaults). The defaults are the
    tutorial's `trainNet(2, steps=100, batchsize=1)`."""

    target: str = "linear"
    hidden: int = 2
    activation: str = "none"
    optimizer: str = "sgd"
    lr: float = 0.01
    hyper: tuple = ()
    wscale: float = 1.0
    steps: int = 100
    batch_size: int = 1
    seed: int = 4321
    rng: str = "tutorial"


def _pair(text):  # NAME=VALUE
    name, value = text.split("=")
    return name, float(value)


FLAGS = {  # Spec field: (argparse type, or the choices; help): every experiment's flags
    "target": (TARGETS, "the function to restore (experiments.TARGETS)"),
    "hidden": (_cli.positive_int, "hidden neurons (tutorial: 2)"),
    "activation": (("none", *ACTIVATIONS), "between the layers (tutorial: none)"),
    "optimizer": (OPTIMIZERS, "the update (experiments.OPTIMIZERS; tutorial: sgd)"),
    "lr": (_cli.positive_float, "learning rate (tutorial: 0.01; a sweep over it ignores it)"),
    "hyper": (_cli.checked(_pair, lambda v: v[0].isidentifier() and abs(v[1]) < 3.4e38,
                           "NAME=VALUE with a finite number"),
              "the optimizer's other numeric hyperparameters, e.g. momentum=0.5 or b1=0.8"),
    "wscale": (_cli.positive_float, "initial weights ~ N(0, wscale^2) (tutorial: 1)"),
    "steps": (_cli.positive_int, "training steps (tutorial: 100)"),
    "batch_size": (_cli.batch_size, "rows of the grid per step, a window at a random start"
                   " (tutorial: 1)"),
    "seed": (_cli.seed, "random seed (tutorial: 4321)"),
    "rng": (("tutorial", "jax"), "tutorial: weights and batches replayed from the tutorial's"
            " NumPy seed; jax: drawn from jax.random.key(seed)"),
}


def add_flags(p, many=(), **defaults):
    """A flag per `Spec` field (`--batch-size` for batch_size), defaults the Spec's unless
    given; the fields in `many` take one or more values."""
    for name, (kind, text) in FLAGS.items():
        default = defaults.get(name, getattr(Spec, name))
        shown = " ".join(map(str, default)) if name in many else default
        p.add_argument("--" + name.replace("_", "-"), default=default, help=f"{text}; default"
                       f" {shown or 'none'}", nargs="+" if name in many else "*" if name ==
                       "hyper" else None, metavar="NAME=VALUE" if name == "hyper" else None,
                       **{"choices" if isinstance(kind, dict | tuple) else "type": kind})


def parse(name, doc, writes, argv, **defaults):
    """(spec, args): the flags of a single run (linear, sine): the spec's, --animate, --out."""
    p = _cli.parser(name, doc, writes)
    add_flags(p, **defaults)
    p.add_argument("--animate", action="store_true", help="also write training.gif: the"
                   " before/after figure frame by frame over the steps, with step and J in each"
                   f" (at most about {FRAMES} frames; 100 are about 0.4 MB and a few seconds)")
    _cli.out_flags(p, f"results/{name}")
    args = p.parse_args(argv)
    return spec_of(args), args


def spec_of(args, **fields):
    """The `Spec` of parsed flags, `fields` replacing theirs; a --hyper the optimizer does not
    have is a bad flag (exit 2)."""
    spec = Spec(**{f: getattr(args, f) for f in FLAGS} | dict(hyper=tuple(args.hyper)) | fields)
    hyperparams(spec)
    return spec


def hyperparams(spec):
    """{name: value}: the numeric defaults of the spec's optimizer constructor, learning_rate
    from `lr`, then `hyper`."""
    known = {n: p.default for n, p in inspect.signature(OPTIMIZERS[spec.optimizer]).parameters
             .items() if type(p.default) in (int, float)} | {"learning_rate": spec.lr}
    if bad := [n for n, _ in spec.hyper if n not in known]:
        raise _cli.Failure(f"argument --hyper: {spec.optimizer} has no numeric hyperparameter"
                           f" {bad[0]!r}; it has {', '.join(sorted(known))}", 2)
    return known | dict(spec.hyper)


def record(spec):
    """The spec as results.json writes it: its fields, `hyper` every hyperparameter's value."""
    return dataclasses.asdict(spec) | dict(hyper=hyperparams(spec))


@functools.cache
def _inject(make, names):  # one object per constructor and names: one compiled program
    return optax.inject_hyperparams(make)(**dict.fromkeys(names, 0.0))


def optimizer(spec):
    """The spec's optimizer, its hyperparameters in its state (`jl.with_hyperparams`)."""
    return _inject(OPTIMIZERS[spec.optimizer], tuple(hyperparams(spec)))


def problem(spec):
    """xs (N, 1), the tutorial's grid; ys (N, 1), the spec's target on it."""
    xs = jl.grid(_cli.GRID_POINTS)
    return xs, TARGETS[spec.target][1](xs)


def networks(spec, seeds):
    """(net, starts (K, S)): K networks and their schedules, one per seed in `seeds` (K,).
    rng "tutorial": `jl.tutorial_setup` per seed, NumPy on the host; "jax": `init_mlp` and
    `batch_starts` from jax.random.split(jax.random.key(seed)), vectorised and traceable."""
    sizes, act = (1, spec.hidden, 1), None if spec.activation == "none" else spec.activation
    if spec.rng == "tutorial":
        runs = [jl.tutorial_setup(sizes, spec.steps, spec.batch_size, int(s), activation=act)
                for s in seeds]
        return jax.tree.map(lambda *a: np.stack(a), *runs)

    def one(seed):
        k_init, k_batch = jax.random.split(jax.random.key(seed))
        return (jl.init_mlp(k_init, sizes, activation=act),
                jl.batch_starts(k_batch, spec.steps, _cli.GRID_POINTS, spec.batch_size))

    return jax.vmap(one)(jnp.asarray(seeds, jnp.uint32))


def bytes_needed(spec, k, frames=0):
    """Bytes a run of `k` networks holds, from its shapes (4-byte numbers): batch starts and
    losses on host and device, weights with gradients and optimizer state, `frames` curves."""
    return 4 * (6 * k * spec.steps + 16 * k * (3 * spec.hidden + 1) + 2 * frames *
                _cli.GRID_POINTS)


def _key(spec, *static):  # what a program depends on: the spec less its numbers, the tables' rows
    shape = dataclasses.replace(spec, lr=0.0, hyper=(), wscale=0.0, seed=0)
    return shape, TARGETS[spec.target][1], OPTIMIZERS[spec.optimizer], *static


def _values(spec):  # the numbers a program takes: the hyperparameters, and wscale
    return {n: np.float32(v) for n, v in hyperparams(spec).items()} | dict(
        wscale=np.float32(spec.wscale))


def _start(spec, seeds):  # seeds (K,) uint32, or rng "tutorial": `networks`, from the host
    return networks(spec, seeds) if spec.rng == "tutorial" else np.asarray(seeds, np.uint32)


def _compile(program, spec, k, *values):
    """`program(start, *values)` compiled for `k` networks of the spec's shapes (the start's
    shapes only: nothing is built), refused (exit 1) if XLA says it cannot fit."""
    seeds = jax.ShapeDtypeStruct((k,), jnp.uint32)
    start = jax.eval_shape(functools.partial(networks, dataclasses.replace(spec, rng="jax")),
                           seeds)
    compiled = program.lower(start if spec.rng == "tutorial" else seeds, *values).compile()
    _cli.check_memory(_cli.compiled_bytes(compiled), SMALLER, start=0)
    return compiled


def _initial(shape, start, values):
    """(net, starts, optimizer, its state): `start`'s networks at `values`' wscale, the state
    at the other `values` (scalars, or (K,) for K networks)."""
    net, starts = start if isinstance(start, tuple) else networks(shape, start)
    values, opt = dict(values), optimizer(shape)
    wscale = jnp.broadcast_to(values.pop("wscale"), net.batch_shape)
    net = jax.vmap(lambda n, w: jax.tree.map(lambda a: a * w, n))(net, wscale)
    return net, starts, opt, jl.with_hyperparams(jax.vmap(opt.init)(net), **values)


@functools.cache
def _single(key):
    """The whole run of one network as one jitted function of its start and values: xs, ys,
    before, line (the least-squares line) (N, 1); by route its `TrainResult` and output `after`
    (N, 1); numbers (results.json's scalars); with `animate`, frames (T + 1, N, 1) and
    frame_errors (T + 1,); with `collapse` and no activation, terms (N, H) and paths (rates
    (3,), 2/lambda_max, (3, T + 1, 2) of (w, b))."""
    shape, *_, collapse, animate = key

    def run(start, values):
        xs, ys = problem(shape)
        net, starts, opt, state = _initial(shape, start, values)
        net, starts, state = jax.tree.map(lambda a: a[0], (net, starts, state))  # the one
        results = {name: jl.train(net, xs, ys, starts, batchsize=shape.batch_size, optimizer=opt,
                                  grads=grads, opt_state=state) for name, grads in ROUTES.items()}
        out = _summary(net, xs, ys, results)
        along = functools.partial(_along, shape, net, starts, xs, ys)
        if animate:  # the network's output at the start and after each segment
            out["frames"] = along(state, lambda n: jl.forward(n, xs))
            out["frame_errors"] = jax.vmap(lambda p: jl.mse(p, ys))(out["frames"])
        if collapse and net.activation is None:  # the terms, and (w, b) at three rates
            trained = results["autodiff_grads"].params
            (w1, b1), w2 = trained.layers[0], trained.layers[1].w
            out["terms"] = (xs @ w1 + b1[None]) * w2[:, 0][None]  # w2_j z_j: (N, H)
            edge = 2 / jl.sharpness(net, xs, ys)  # where full-batch GD would start to diverge
            rates = jnp.stack([values["learning_rate"], edge, 3 * edge])
            point = lambda n: jnp.concatenate([a.ravel() for a in jl.affine_map(n)])  # noqa: E731
            out["paths"] = (rates, edge, jax.vmap(lambda r: along(
                jl.with_hyperparams(state, learning_rate=r), point))(rates))
        return out

    return jax.jit(run)


def _summary(net, xs, ys, results):
    """before, after (by route) and the least-squares line (N, 1), and the numbers."""
    after = {name: jl.forward(r.params, xs) for name, r in results.items()}
    gaps = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)),
                        *(r.params for r in results.values()))
    w, b = jl.least_squares(xs, ys)
    line, before = xs @ w + b[None, :], jl.forward(net, xs)
    numbers = dict(initial_error=jl.mse(before, ys),
                   final_error=jl.mse(after["autodiff_grads"], ys),
                   manual_final_error=jl.mse(after["manual_grads"], ys),
                   max_param_difference=jnp.max(jnp.stack(jax.tree.leaves(gaps))),
                   least_squares=dict(w=w[0, 0], b=b[0], error=jl.mse(line, ys)))
    if net.activation is None:
        w, b = jl.affine_map(results["autodiff_grads"].params)
        numbers["affine_map"] = dict(w=w[0, 0], b=b[0])
    return dict(xs=xs, ys=ys, before=before, after=after, line=line, results=results,
                numbers=numbers)


def _along(shape, net, starts, xs, ys, state, record):
    """`record(net)` at the start and after each `jl.train` over `every` steps: (T + 1, ...)."""
    every = max(1, shape.steps // FRAMES)  # steps between two frames, or two points of a path

    def segment(carry, s):
        r = jl.train(carry[0], xs, ys, s, batchsize=shape.batch_size, optimizer=optimizer(shape),
                     opt_state=carry[1])
        return (r.params, r.opt_state), record(r.params)

    path = jax.lax.scan(segment, (net, state), starts[: shape.steps // every * every].reshape(
        -1, every))[1]
    return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), record(net), path)


def train(spec, *, collapse=False, animate=False, cache=True):
    """The run of `spec` (`_single`): compiled (once per spec shape), refused if it cannot fit,
    run, checked. With rng "tutorial" the start is built on the host once the run fits.
    Returns `_single`'s dict as NumPy arrays, its numbers as floats. Raises `Failure` naming the
    first step, else the first number, that is not finite."""
    _cli.use_compilation_cache(not cache)
    compiled = _compile(_single(_key(spec, collapse, animate)), spec, 1, _values(spec))
    run = jax.device_get(_cli.wait(compiled(_start(spec, [spec.seed]), _values(spec))))
    hint = f"try a smaller --lr than {spec.lr:g}"
    if bad := sorted((int(r.nonfinite_step), name) for name, r in run["results"].items()
                     if r.nonfinite_step >= 0):  # step S: the last update's weights
        t, name = bad[0]
        what = (f"the batch loss became non-finite at step {t + 1} of {spec.steps}" if t <
                spec.steps else f"the update of step {spec.steps} of {spec.steps} made the"
                " parameters non-finite")
        raise _cli.Failure(f"{what} ({name} route); {hint}")
    for key, value in run["numbers"].items():
        if not np.isfinite(jax.tree.leaves(value)).all():
            raise _cli.Failure(f"{key} is not finite: the run diverged; {hint}")
    run["numbers"] = jax.tree.map(float, run["numbers"])
    return run


def report(run, steps):
    """Prints the batch error along the run (a line every ~10% of the steps) and the errors J."""
    every, width, numbers = max(1, steps // 10), len(str(steps)), run["numbers"]
    print("batch error J before each update:")
    print(f"  {'step':>{2 * width + 1}}" + "".join(
        f"  {label:>16}" for label in _figures.ROUTES.values()))
    for t in sorted({1, *range(every, steps + 1, every), steps}):
        print(f"  {t:>{width}}/{steps}" + "".join(
            f"  {run['results'][name].losses[t - 1]:>16.6g}" for name in _figures.ROUTES))
    print(f"full-grid error J before training: {numbers['initial_error']:.6g}")
    print(f"full-grid error J after training:  {numbers['manual_final_error']:.6g} (hand"
          f" backprop), {numbers['final_error']:.6g} (jax.grad + optax)")
    print(f"the two routes end {numbers['max_param_difference']:.3g} apart (largest parameter"
          " gap)")


def line(m):
    """'y = w x + b' for a map {"w": w, "b": b}."""
    return f"y = {m['w']:.6g} x {'+-'[m['b'] < 0]} {abs(m['b']):.6g}"


def save(out, experiment, spec, run, line=False):
    """Writes into `out` (a `_cli.Staged`) losses.npz, network.npz, curves.npz (the arrays the
    figures draw; `line`: with the least-squares line) and results.json (the experiment, its
    spec whole, the numbers, the files' names; no times: reruns match byte for byte), draws
    the figures from those files (`_figures`) and publishes them."""
    trained = run["results"]["autodiff_grads"].params
    np.savez(out / "losses.npz", **{name: r.losses for name, r in run["results"].items()})
    jl.save(out / "network.npz", trained)
    curves = dict(xs=run["xs"], ys=run["ys"], before=run["before"]) | {
        f"after_{name}": v for name, v in run["after"].items()} | (
        dict(line=run["line"]) if line else {})
    if "frames" in run:  # frame t after t * every steps (`_along`)
        curves |= dict(frames=run["frames"], frame_errors=run["frame_errors"],
                       frame_steps=max(1, spec.steps // FRAMES) * np.arange(len(run["frames"])))
    if "paths" in run:
        rates, edge, paths = run["paths"]
        curves |= dict(terms=run["terms"], b2=trained.layers[1].b[0], rates=rates, edge=edge,
                       paths=paths)
    np.savez(out / "curves.npz", **curves)
    results = dict(experiment=experiment, spec=record(spec), label=TARGETS[spec.target][0]) | (
        run["numbers"]) | dict(files=[*out.names, "results.json", *_figures.names(
            dict(experiment=experiment), curves)])
    _cli.write_json(out / "results.json", results)
    _figures.draw(out, out.dir, results)
    out.publish()


class Grid(NamedTuple):
    """A sweep's table, NumPy on every process, for P values of one hyperparameter x seeds:
    values (P,); initial, errors (P, seeds): the full-grid J at the start and the end (NaN or
    inf: diverged); nonfinite_step (P, seeds), as `TrainResult`'s; sharpness (seeds,):
    lambda_max of J at each seed's start (values[0]'s wscale); params: the trained networks,
    leaves (P, seeds, ...)."""

    values: np.ndarray
    initial: np.ndarray
    errors: np.ndarray
    nonfinite_step: np.ndarray
    sharpness: np.ndarray
    params: jl.Net


@functools.cache
def _grid(key, over, mesh):
    """P x seeds networks as one jitted function, k = i * seeds + j: seed j's start, its
    hyperparameter `over` at swept[i] (wscale too), trained by one `jl.train_many` call."""
    shape = key[0]

    def run(start, values, swept):
        xs, ys = problem(shape)
        start = start if isinstance(start, tuple) else networks(shape, start)
        p, n = len(swept), start[1].shape[0]
        start = jax.tree.map(lambda a: jnp.tile(a, (p,) + (1,) * (a.ndim - 1)), start)
        net, starts, opt, state = _initial(shape, start, values | {over: jnp.repeat(swept, n)})
        r = jl.train_many(net, xs, ys, starts, batchsize=shape.batch_size, optimizer=opt,
                          opt_state=state, mesh=mesh)
        j = jax.vmap(lambda m: jl.mse(jl.forward(m, xs), ys))
        lam = jax.vmap(jl.sharpness, in_axes=(0, None, None))(
            jax.tree.map(lambda a: a[:n], net), xs, ys)  # values[0]'s networks
        return j(net), j(r.params), r.nonfinite_step, lam, r.params

    return jax.jit(run)


def compile_grid(spec, over, points, seeds, mesh=None):
    """The sweep program of `spec` for `points` values of `over` and `seeds` seeds, compiled
    and checked (`_compile`): its shapes only, before any seed is built."""
    program = _grid(_key(spec), over, mesh)
    return _compile(program, spec, seeds, _values(spec), jax.ShapeDtypeStruct((points,),
                                                                                jnp.float32))


def train_grid(spec, over, values, seeds, program=None, mesh=None):
    """The `Grid` of `spec` with its hyperparameter `over` (or wscale) at each of `values` (P,)
    for each seed of `seeds` (seeds,), in one call (`compile_grid`'s program, else compiled
    here); with `mesh`, over every device of every process."""
    program = program or compile_grid(spec, over, len(values), len(seeds), mesh)
    out = _cli.wait(program(_start(spec, seeds), _values(spec), np.asarray(values, np.float32)))
    if not out[1].is_fully_addressable:  # spread over processes: gather it all
        out = multihost_utils.process_allgather(out, tiled=True)
    rows = lambda a: np.asarray(a).reshape(len(values), -1, *a.shape[1:])  # noqa: E731
    j0, j, steps, lam, params = out
    return Grid(np.asarray(values), *map(rows, (j0, j, steps)), np.asarray(lam),
                jax.tree.map(rows, params))


def diverged(grid):
    """(P, seeds) bool: the network's run or its final J was not finite."""
    return (grid.nonfinite_step >= 0) | ~np.isfinite(grid.errors)


def seed_edges(grid):
    """(seeds,) each seed's own edge: the smallest swept value at which its run went non-finite
    or ended above its starting J; NaN where none did."""
    worse = diverged(grid) | (grid.errors > grid.initial)
    order = np.argsort(grid.values)
    first = np.argmax(worse[order], axis=0)
    return np.where(worse.any(axis=0), grid.values[order][first], np.nan)
