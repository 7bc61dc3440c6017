"""Per-step cost of the tutorial's training, four ways, then the K-scaling table; one process.

Rows, for the tutorial's network (hidden 2, batch 1) and a larger one (hidden 64, batch 32) on
2x + 3 with SGD: numpy, the tutorial's `Net` (`experiments._tutorial`); jit loop, a Python
loop calling a jitted step; train, `jl.train`, one compiled `lax.scan`; train_many, K networks in
one `jl.train_many` call. Then `jl.train` per call against a bare jitted scan; the K-scaling
table, `train_many` against a hand-written struct-of-arrays program at K = 1,024, 8,192 and
65,536 networks; and the S-scaling row, K = 1,024 at S = 200 and 2,000. Each time is the best of
interleaved rounds, and each timed program's losses are checked against another's.
"""

import contextlib
import os
import platform
import time

import jax
import jax.numpy as jnp
import optax
from jax import lax

import jlinnet as jl
from experiments import _cli, _run
from experiments import _tutorial as tn

# name -> (hidden, batchsize, lr, steps per row (numpy, jit loop, train, train_many)).
CONFIGS = {
    "tutorial": (2, 1, 1e-2, (20_000, 20_000, 400_000, 4_000)),
    "larger": (64, 32, 1e-3, (2_000, 2_000, 40_000, 100)),  # lr 1e-2 overflows the NumPy net
}
QUICK_STEPS = {"tutorial": (500, 500, 20_000, 200), "larger": (100, 100, 500, 10)}
METHODS = ("numpy", "jit loop", "train", "train_many")
PER_CALL_STEPS = (1, 100, 10_000)
K_SIZES = (1_024, 8_192, 65_536)  # the K-scaling table, at S = SCALING_STEPS[0]
SCALING_STEPS = (200, 2_000)  # the S-scaling row, at K = K_SIZES[0]; --quick: a tenth
WRITES = ("With --json PATH it also writes the tables there as JSON (its folder made if missing)"
          " once all are measured: machine, quick, rows (one per config and method: config,"
          " hidden, batchsize, method, steps, networks, repeats, compile_s (null for numpy), run_s,"
          " step_us, vs_numpy, vs_jit_loop), per_call (one per steps: steps, calls, bare_us,"
          " train_us, ratio, max_loss_gap), k_scaling (the K-scaling table, one per K: k, steps,"
          " losses_shape, train_many_ns, soa_ns, ratio, vs_first, max_loss_gap) and s_scaling"
          " (the S-scaling row, one per S, the same fields). max_loss_gap: the largest difference"
          " between the losses of the two programs a row times.")


def best_of(fns, repeats, calls=1):
    """[(first call's seconds, best round's seconds per call)] of `fns`, interleaved."""
    def seconds(fn, calls):
        t = time.perf_counter()
        for _ in range(calls):
            jax.block_until_ready(fn())
        return (time.perf_counter() - t) / calls
    first = [seconds(fn, 1) for fn in fns]  # compiles
    rounds = [[seconds(fn, calls) for fn in fns] for _ in range(repeats)]
    return [(t, min(ts)) for t, ts in zip(first, zip(*rounds))]


def step_of(xs, ys, batchsize, optimizer):
    """The tutorial's step from public names: ((net, opt_state), s) -> (..., J) on xs[s : s + B]."""
    def step(carry, s):
        net, state = carry
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)
        loss, g = jax.value_and_grad(lambda n: jl.mse(jl.forward(n, x), y))(net)
        updates, state = optimizer.update(g, state, net)
        return (optax.apply_updates(net, updates), state), loss
    return step


def jit_loop(step, net, starts, optimizer):
    """The common idiom: a Python loop calling a jitted step with each start, a Python int."""
    carry, losses = (net, optimizer.init(net)), []
    for s in starts:
        carry, loss = step(carry, s)
        losses.append(loss)
    return carry  # each step waits on the one before


def measure(quick=False, k=1024, repeats=None):
    """Times the four ways for every configuration; returns the table as a list of row dicts."""
    repeats, x, numpy_x, rows = repeats or (2 if quick else 5), jl.grid(), tn.grid(), []
    y = jl.linear_target(x)
    for config, (hidden, batchsize, lr, steps) in CONFIGS.items():
        steps = QUICK_STEPS[config] if quick else steps
        sgd, sizes, networks = optax.sgd(lr), (1, hidden, 1), (1, 1, 1, k)
        step = jax.jit(step_of(x, y, batchsize, sgd))
        loop_net, loop_starts = jl.tutorial_setup(sizes, steps[1], batchsize)
        loop_starts = loop_starts.tolist()
        net, starts = jl.tutorial_setup(sizes, steps[2], batchsize)
        nets, many_starts = _run.networks(_run.Spec(hidden=hidden, steps=steps[3],
                                                    batch_size=batchsize, rng="jax"), range(k))
        times = best_of((
            lambda: tn.train_net(hidden, steps[0], batchsize, lr, numpy_x, verbose=False),
            lambda: jit_loop(step, loop_net, loop_starts, sgd),
            lambda: jl.train(net, x, y, starts, batchsize=batchsize, optimizer=sgd),
            lambda: jl.train_many(nets, x, y, many_starts, batchsize=batchsize, optimizer=sgd),
        ), repeats)
        us = [run / (s * n) * 1e6 for (_, run), s, n in zip(times, steps, networks)]
        for method, s, n, (first, run), u in zip(METHODS, steps, networks, times, us):
            rows.append(dict(config=config, hidden=hidden, batchsize=batchsize, method=method,
                             steps=s, networks=n, repeats=repeats,
                             compile_s=None if method == "numpy" else first - run,
                             run_s=run, step_us=u, vs_numpy=us[0] / u, vs_jit_loop=us[1] / u))
    return rows


def per_call(quick=False, repeats=None):
    """One `jl.train` call against `jax.jit` of the same scan, for each S in PER_CALL_STEPS."""
    repeats, x, sgd, rows = repeats or (3 if quick else 7), jl.grid(), optax.sgd(1e-2), []
    y = jl.linear_target(x)
    bare = jax.jit(lambda net, xs, ys, starts: lax.scan(
        step_of(xs, ys, 1, sgd), (net, sgd.init(net)), starts, unroll=2))
    for steps in PER_CALL_STEPS:
        net, starts = jl.tutorial_setup((1, 2, 1), steps, 1)
        calls = max(50 if quick else 200, (200 if quick else 2000) // (1 + steps // 100))
        fns = (lambda: bare(net, x, y, starts),
               lambda: jl.train(net, x, y, starts, batchsize=1, optimizer=sgd))
        gap = float(jnp.max(jnp.abs(fns[0]()[1] - fns[1]().losses)))
        (_, bare_s), (_, train_s) = best_of(fns, repeats, calls)
        rows.append(dict(steps=steps, calls=calls, bare_us=bare_s * 1e6, train_us=train_s * 1e6,
                         ratio=train_s / bare_s, max_loss_gap=gap))
    return rows


def soa(points, quick=False, repeats=None, hidden=2, lr=1e-3):
    """`jl.train_many` against the same steps written elementwise on (K, hidden) arrays (no
    vmap, matmul, optax, checks or NaN guard), at each (K, S) of `points`: the pair in
    interleaved rounds of its own (a larger K run between them would evict a smaller one's
    working set from the cache: the cost of alternating sizes, not of either). A row a
    point: ns per network-step of each, their ratio, train_many's cost over the
    first point's (vs_first), the shape of the losses it timed, and the largest gap between
    the two programs' losses."""
    repeats, x, sgd = repeats or (3 if quick else 7), jl.grid(), optax.sgd(lr)
    y = jl.linear_target(x)

    def step(p, s):  # s: (K,) one start per network
        w1, b1, w2, b2 = p
        xb, yb = x[s, 0], y[s, 0]  # (K,)
        z = xb[:, None] * w1 + b1  # z = x w1 + b1: (K, hidden)
        g = jnp.sum(z * w2, axis=1) + b2 - yb  # dJ/dy^p = -(y - y^p), B = 1
        dz = g[:, None] * w2  # dJ/dz = g w2
        new = (w1 - lr * dz * xb[:, None], b1 - lr * dz, w2 - lr * g[:, None] * z, b2 - lr * g)
        return new, g * g / 2

    struct_of_arrays = jax.jit(lambda weights, starts: lax.scan(step, weights, starts.T))
    times, checks = [], []
    for k, steps in points:
        net, starts = _run.networks(_run.Spec(hidden=hidden, steps=steps, rng="jax"), range(k))
        weights = (net[0].w[:, 0], net[0].b, net[1].w[..., 0], net[1].b[:, 0])
        fns = (lambda: jl.train_many(net, x, y, starts, batchsize=1, optimizer=sgd),
               lambda: struct_of_arrays(weights, starts))
        many = fns[0]().losses  # what the two timed programs compute, one against the other
        checks.append((list(many.shape), float(jnp.max(jnp.abs(many - fns[1]()[1].T)))))
        times += [run for _, run in best_of(fns, repeats)]
    rows = [dict(k=k, steps=steps, losses_shape=shape, train_many_ns=many_s / (k * steps) * 1e9,
                 soa_ns=soa_s / (k * steps) * 1e9, ratio=many_s / soa_s, max_loss_gap=gap)
            for (k, steps), (shape, gap), many_s, soa_s in zip(
                points, checks, times[::2], times[1::2])]
    return [dict(r, vs_first=r["train_many_ns"] / rows[0]["train_many_ns"]) for r in rows]


def print_scaling(title, rows):
    """The K-scaling table or the S-scaling row, as `soa` returns them."""
    print(f"\n{title}\n{'K':>7} {'S':>6} {'train_many ns':>14} {'soa ns':>8} {'ratio':>6}"
          f" {'x first':>8} {'max loss gap':>13}")
    for r in rows:
        print(f"{r['k']:>7} {r['steps']:>6} {r['train_many_ns']:>14.2f} {r['soa_ns']:>8.2f}"
              f" {r['ratio']:>6.2f} {r['vs_first']:>8.2f} {r['max_loss_gap']:>13.1e}")


def main(argv=None):
    """Measures and prints the tables; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("benchmark", "a smaller --k") as end:
        _tables(_parse(argv))
    return end.status


def _parse(argv):
    p = _cli.parser("benchmark", __doc__, WRITES)
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats (about 25 s)")
    p.add_argument("--k", type=_cli.positive_int, default=1024,
                   help="networks trained at once by train_many (default 1024)")
    p.add_argument("--repeats", type=_cli.positive_int, help="timed rounds, the best reported"
                   " (default 5 per step, 7 per call and for struct-of-arrays; --quick: 2, 3)")
    p.add_argument("--json", metavar="PATH", type=_cli.out_path, help="also write the tables here")
    args = p.parse_args(argv)
    if args.json and args.json.is_dir():
        p.error(f"argument --json: {args.json} is a folder; give a file name")
    return args


def _tables(args):
    """Measures and prints the tables; with --json writes them (staged, all or nothing)."""
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__},"
               f" backend {jax.default_backend()}, {jax.device_count()} device(s)")
    out = _cli.Staged(args.json.parent, "--json") if args.json else contextlib.nullcontext()
    with out:
        rows = measure(quick=args.quick, k=args.k, repeats=args.repeats)
        print(f"per-step cost, best of {rows[0]['repeats']} interleaved rounds after compiling;"
              f" {machine}")
        line = "{:<22} {:<11} {:>7} {:>5} {:>9} {:>10} {:>8} {:>8}".format
        print(line("config", "method", "steps", "K", "compile s", "us/step", "x numpy", "x loop"))
        print("-" * 87)
        for r in rows:
            print(line(f"{r['config']} (h={r['hidden']}, B={r['batchsize']})", r["method"],
                       r["steps"], r["networks"], "-" if r["compile_s"] is None else
                       f"{r['compile_s']:.2f}", f"{r['step_us']:.4f}", f"{r['vs_numpy']:.1f}",
                       f"{r['vs_jit_loop']:.1f}"))
        print("us/step: per network-step for train_many; x numpy, x loop: speed-up over the numpy"
              " and jit loop rows of the same config")
        calls = per_call(quick=args.quick, repeats=args.repeats)
        print("\nper-call cost of jl.train against a bare jax.jit of the same scan (tutorial"
              f" network, best of interleaved rounds):\n{'steps':>7} {'bare jit us':>12}"
              f" {'train us':>10} {'ratio':>6}")
        for r in calls:
            print(f"{r['steps']:>7} {r['bare_us']:>12.1f} {r['train_us']:>10.1f}"
                  f" {r['ratio']:>6.2f}")
        k_rows = soa([(k, SCALING_STEPS[0]) for k in K_SIZES], args.quick, args.repeats)
        print_scaling("K-scaling table: ns per network-step of train_many and of a struct-of-arrays"
                      " program of the same steps (tutorial network, batch 1); ratio: train_many"
                      " / soa; x first: train_many against the first K", k_rows)
        s_rows = soa([(K_SIZES[0], s) for s in SCALING_STEPS], args.quick, args.repeats)
        print_scaling("S-scaling row: the same at more steps; x first: against the first S", s_rows)
        if args.json:
            _cli.write_json(out / args.json.name, dict(
                machine=machine, quick=args.quick, rows=rows, per_call=calls, k_scaling=k_rows,
                s_scaling=s_rows))
            out.publish()


if __name__ == "__main__":
    _cli.script(main)
