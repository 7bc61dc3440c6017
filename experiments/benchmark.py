"""Per-step cost of the tutorial's training, four ways, measured in one process.

For the tutorial's configuration (hidden 2, batch 1) and a larger one (hidden 64, batch 32),
on 2x + 3 with SGD: 1. numpy, the tutorial's `Net` as written (`experiments.tutorial_numpy`);
2. jit loop, a Python loop calling a `jax.jit`-compiled step (the common idiom); 3. train,
`jl.train`, the whole run as one compiled `lax.scan`; 4. train_many, `jl.train_many`, K
networks in one call. Rows 1-3 do exactly the same steps from the tutorial's seed. Each row
prints the steady-state cost per step (per network-step for row 4) as the best of several
timed runs after a compiling first call, the compile time, and its speed-up over rows 1 and 2.
Then: one `jl.train` call against a bare `jax.jit` of the same scan at 1, 100 and 10,000 steps
(the price of train's checks in short chunks), and `train_many` against a hand-written
struct-of-arrays program of the same steps (the floor on this machine).
"""

import contextlib
import math
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

import jlinnet as jl
from experiments import _cli
from experiments import tutorial_numpy as tn

# name -> (hidden, batchsize, lr, steps per row (numpy, jit loop, train, train_many)).
CONFIGS = {
    "tutorial": (2, 1, 1e-2, (20_000, 20_000, 400_000, 4_000)),
    "larger": (64, 32, 1e-3, (2_000, 2_000, 40_000, 100)),  # lr 1e-2 overflows the NumPy net
}
QUICK_STEPS = {"tutorial": (500, 500, 20_000, 200), "larger": (100, 100, 500, 10)}
METHODS = ("numpy", "jit loop", "train", "train_many")


def step_of(xs, ys, batchsize, optimizer):
    """The tutorial's step from public names, for the jit loop and the bare scan:
    ((net, opt_state), s) -> ((net', opt_state'), J) on the window xs[s : s + B]."""
    def step(carry, s):
        net, state = carry
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)
        loss, g = jax.value_and_grad(lambda n: jl.mse(jl.forward(n, x), y))(net)
        updates, state = optimizer.update(g, state, net)
        return (optax.apply_updates(net, updates), state), loss

    return step


def _time(fn, repeats):
    """(first call's seconds, best seconds of `repeats` further calls)."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return first, min(runs)


def _numpy(hidden, batchsize, lr, steps, repeats):
    x = tn.grid()
    _, run = _time(lambda: tn.train_net(hidden, steps, batchsize, lr, x, verbose=False), repeats)
    return None, run


def _jit_loop(hidden, batchsize, lr, steps, repeats):
    x = jl.grid()
    sgd = optax.sgd(lr)
    params, starts = jl.tutorial_setup((1, hidden, 1), steps, batchsize)
    step = jax.jit(step_of(x, jl.linear_target(x), batchsize, sgd))
    starts = [int(s) for s in np.asarray(starts)]
    t = time.perf_counter()
    jax.block_until_ready(step((params, sgd.init(params)), starts[0]))
    compile_s = time.perf_counter() - t

    def loop():
        carry, losses = (params, sgd.init(params)), []
        for s in starts:
            carry, loss = step(carry, s)
            losses.append(loss)
        jax.block_until_ready(carry)  # each step waits on the one before

    _, run = _time(loop, repeats)
    return compile_s, run


def _train(hidden, batchsize, lr, steps, repeats):
    x = jl.grid()
    y, sgd = jl.linear_target(x), optax.sgd(lr)
    params, starts = jl.tutorial_setup((1, hidden, 1), steps, batchsize)
    first, run = _time(
        lambda: jax.block_until_ready(
            jl.train(params, x, y, starts, batchsize=batchsize, optimizer=sgd)
        ),
        repeats,
    )
    return first - run, run


def _train_many(hidden, batchsize, lr, steps, repeats, k):
    x = jl.grid()
    y, sgd = jl.linear_target(x), optax.sgd(lr)
    keys = jax.random.split(jax.random.key(0), k)
    params = jax.vmap(lambda key: jl.init_mlp(key, (1, hidden, 1)))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, steps, x.shape[0], batchsize))(keys)
    first, run = _time(
        lambda: jax.block_until_ready(
            jl.train_many(params, x, y, starts, batchsize=batchsize, optimizer=sgd)
        ),
        repeats,
    )
    return first - run, run


def measure(quick=False, k=1024, repeats=None):
    """Runs every configuration and method; returns the table as a list of row dicts."""
    repeats = repeats or (2 if quick else 5)
    rows = []
    for config, (hidden, batchsize, lr, steps) in CONFIGS.items():
        steps = QUICK_STEPS[config] if quick else steps
        for method, s in zip(METHODS, steps):
            if method == "train_many":
                compile_s, run = _train_many(hidden, batchsize, lr, s, repeats, k)
                networks = k
            else:
                fn = {"numpy": _numpy, "jit loop": _jit_loop, "train": _train}[method]
                compile_s, run = fn(hidden, batchsize, lr, s, repeats)
                networks = 1
            rows.append(dict(
                config=config, hidden=hidden, batchsize=batchsize, method=method, steps=s,
                networks=networks, repeats=repeats, compile_s=compile_s, run_s=run,
                step_us=run / (s * networks) * 1e6,
            ))
        numpy_us, loop_us = rows[-4]["step_us"], rows[-3]["step_us"]
        for row in rows[-4:]:
            row["vs_numpy"] = numpy_us / row["step_us"]
            row["vs_jit_loop"] = loop_us / row["step_us"]
    return rows


PER_CALL_STEPS = (1, 100, 10_000)


def per_call(quick=False, repeats=None):
    """What one `train` call costs against a bare `jax.jit` of the same scan.

    On the tutorial's network (hidden 2, batch 1, SGD), for S = 1, 100 and 10,000
    steps: the bare program is `jax.jit` of `lax.scan(step_of(...))` on the same
    arguments, with none of `train`'s checks, NaN guards or `nonfinite_step`. Both are
    called back to back, many times, and each is timed as the best of `repeats`
    rounds (interleaved, so drift on a shared machine hits both alike).

    Returns:
      One row per S: steps, calls per round, bare_us and train_us per call, ratio.
    """
    repeats = repeats or (3 if quick else 7)
    x, sgd = jl.grid(), optax.sgd(1e-2)
    y = jl.linear_target(x)
    rows = []
    for steps in PER_CALL_STEPS:
        net, starts = jl.tutorial_setup((1, 2, 1), steps, 1)
        bare = jax.jit(lambda net, xs, ys, starts: lax.scan(
            step_of(xs, ys, 1, sgd), (net, sgd.init(net)), starts, unroll=2))
        calls = max(50 if quick else 200, (200 if quick else 2000) // (1 + steps // 100))
        fns = {"bare": lambda: bare(net, x, y, starts),
               "train": lambda: jl.train(net, x, y, starts, batchsize=1, optimizer=sgd)}
        best = {name: math.inf for name in fns}
        for name, fn in fns.items():
            jax.block_until_ready(fn())  # compile
        for _ in range(repeats):
            for name, fn in fns.items():
                t = time.perf_counter()
                for _ in range(calls):
                    jax.block_until_ready(fn())
                best[name] = min(best[name], (time.perf_counter() - t) / calls)
        rows.append(dict(steps=steps, calls=calls, bare_us=best["bare"] * 1e6,
                         train_us=best["train"] * 1e6, ratio=best["train"] / best["bare"]))
    return rows


def soa(quick=False, repeats=None, k=1024, steps=200, hidden=2, lr=1e-3):
    """`jl.train_many` against a hand-written struct-of-arrays program of the same steps.

    K networks of the tutorial's shape (1, hidden, 1), batch 1, SGD, S steps: the second
    program keeps each weight as one (K, hidden) array and writes the forward and backward
    pass elementwise (z = x w1 + b1, y^p = sum_j z_j w2_j + b2, g = y^p - y, dw2 = g z,
    dw1 = g w2 x, ...) in one `lax.scan`: no vmap, no matmul, no optax, no checks, no NaN
    guard. It is the floor for these steps on this machine. Both are timed in interleaved
    rounds; each figure is the best round.

    Returns:
      {k, steps, train_many_ns, soa_ns (per network-step), ratio, max_loss_gap}.
    """
    repeats = repeats or (3 if quick else 7)
    x = jl.grid()
    y = jl.linear_target(x)
    keys = jax.random.split(jax.random.key(0), k)
    net = jax.vmap(lambda key: jl.init_mlp(key, (1, hidden, 1)))(keys)
    starts = jax.vmap(lambda key: jl.batch_starts(key, steps, x.shape[0], 1))(keys)
    sgd = optax.sgd(lr)

    @jax.jit
    def struct_of_arrays(w1, b1, w2, b2, starts):
        def step(p, s):  # s: (K,) one start per network
            w1, b1, w2, b2 = p
            xb, yb = x[s, 0], y[s, 0]  # (K,)
            z = xb[:, None] * w1 + b1  # (K, hidden)
            g = jnp.sum(z * w2, axis=1) + b2 - yb  # dJ/dy^p = -(y - y^p), B = 1
            dz = g[:, None] * w2
            new = (w1 - lr * dz * xb[:, None], b1 - lr * dz, w2 - lr * g[:, None] * z, b2 - lr * g)
            return new, g * g / 2
        return lax.scan(step, (w1, b1, w2, b2), starts.T)

    weights = (net[0].w[:, 0], net[0].b, net[1].w[..., 0], net[1].b[:, 0])
    fns = {"train_many": lambda: jl.train_many(net, x, y, starts, batchsize=1, optimizer=sgd),
           "soa": lambda: struct_of_arrays(*weights, starts)}
    gap = float(jnp.max(jnp.abs(fns["train_many"]().losses - fns["soa"]()[1].T)))
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn())
            best[name] = min(best[name], time.perf_counter() - t)
    per = {name: t / (k * steps) * 1e9 for name, t in best.items()}
    return dict(k=k, steps=steps, train_many_ns=per["train_many"], soa_ns=per["soa"],
                ratio=per["train_many"] / per["soa"], max_loss_gap=gap)


def per_call_table(rows):
    """The per-call rows as text."""
    lines = [f"{'steps':>7} {'bare jit us':>12} {'train us':>10} {'ratio':>6}"]
    lines += [f"{r['steps']:>7} {r['bare_us']:>12.1f} {r['train_us']:>10.1f} {r['ratio']:>6.2f}"
              for r in rows]
    return "\n".join(lines)


def table(rows):
    """The rows as a fixed-width text table."""
    head = (f"{'config':<22} {'method':<11} {'steps':>7} {'K':>5} {'compile s':>9}"
            f" {'us/step':>10} {'x numpy':>8} {'x loop':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        config = f"{r['config']} (h={r['hidden']}, B={r['batchsize']})"
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        lines.append(
            f"{config:<22} {r['method']:<11} {r['steps']:>7} {r['networks']:>5} {compile_s:>9}"
            f" {r['step_us']:>10.4f} {r['vs_numpy']:>8.1f} {r['vs_jit_loop']:>8.1f}"
        )
    lines.append("us/step: per network-step for train_many; x numpy, x loop: speed-up over"
                 " the numpy and jit loop rows of the same config")
    return "\n".join(lines)


def machine():
    """One line naming what the numbers were measured on."""
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__},"
            f" backend {jax.default_backend()}, {jax.device_count()} device(s)")


WRITES = ("With --json PATH it also writes the tables there as JSON, once every row is"
          " measured: machine (text), quick (bool), rows (one per config and method: config,"
          " hidden, batchsize, method, steps, networks, repeats, compile_s (null for numpy),"
          " run_s, step_us, vs_numpy, vs_jit_loop), per_call (one per steps: steps, calls,"
          " bare_us, train_us, ratio) and soa (k, steps, train_many_ns, soa_ns, ratio,"
          " max_loss_gap).")


def main(argv=None):
    """Measures and prints the table; returns the exit status (0, 1, 2 or 130)."""
    return _cli.main("benchmark", _run, argv, smaller="a smaller --k")


def _run(argv):
    p = _cli.parser("benchmark", __doc__, WRITES)
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats (25 s on two"
                   " cores at load 7.5)")
    p.add_argument("--k", type=_cli.positive_int, default=1024,
                   help="networks trained at once by train_many (default 1024)")
    p.add_argument("--repeats", type=_cli.positive_int,
                   help="timed runs per row, the best one reported (default 5; --quick: 2)")
    p.add_argument("--json", metavar="PATH", type=_cli.out_path,
                   help="also write the table as JSON to this file (its folder made if missing)")
    args = p.parse_args(argv)
    if args.json and args.json.is_dir():
        p.error(f"argument --json: {args.json} is a folder; give a file name")
    out = _cli.Staged(args.json.parent, "--json") if args.json else None
    with out or contextlib.nullcontext():
        rows = measure(quick=args.quick, k=args.k, repeats=args.repeats)
        print(f"per-step cost, best of {rows[0]['repeats']} runs after compiling; {machine()}")
        print(table(rows))
        calls = per_call(quick=args.quick, repeats=args.repeats)
        print("\nper-call cost of jl.train against a bare jax.jit of the same scan (tutorial"
              " network, best of interleaved rounds):")
        print(per_call_table(calls))
        floor = soa(quick=args.quick, repeats=args.repeats, k=args.k)
        print(f"\ntrain_many against a struct-of-arrays program of the same steps (K={floor['k']},"
              f" S={floor['steps']}, tutorial network, batch 1): {floor['train_many_ns']:.2f} ns"
              f" vs {floor['soa_ns']:.2f} ns per network-step, ratio {floor['ratio']:.2f}")
        if out:
            _cli.write_json(out / args.json.name, dict(machine=machine(), quick=args.quick,
                                                        rows=rows, per_call=calls, soa=floor))
            print("wrote " + ", ".join(str(path) for path in out.publish()))
    return 0


if __name__ == "__main__":
    _cli.script(main)
