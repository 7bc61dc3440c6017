"""Why SGD diverges where it does: each seed's own divergence edge, and curvature's prediction.

Gradient descent on a quadratic of curvature lambda diverges beyond lr = 2/lambda. Per hidden
size, seed (the tutorial's start, 4321..) and batch (1: the tutorial's random windows; 1000: the
whole grid), SGD trains 2x + 3. A seed's edge is the smallest rate whose run goes non-finite or
ends above its starting full-grid J: bracketed among 33 rates (1e-3 .. 10), then found among 33
inside the bracket, 0.85% apart. Per seed, prediction / edge for 2/lambda_max (`jl.sharpness`)
of the full-grid J at init (and 4/lambda_max, the catapult bound); of the steepest example's J
at init; of the full-grid J after the run under the edge, and at the minimum that full-batch GD
reaches (lr 0.5/lambda_init, 3000 steps). The run under the edge, replayed, shows the catapult.
"""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jlinnet as jl
from experiments import _cli, _run

SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)  # the rate is state: one program
COARSE = (10 ** (np.arange(-24, 9) / 8)).astype(np.float32)  # 1e-3 .. 10, 8 a decade
FINE = 33  # inside a bracket, 10^(1/8/34) = 1.0085 apart; as many as COARSE: one program
BATCHES = (1, 1000)  # the tutorial's random windows; the whole grid, every start 0
GD_STEPS = 3000
PROGRAMS = 7  # per hidden size: 3 at init (sharpness, the steepest example, GD), 2 per batch
SMALLER = "fewer --seeds, --steps or --hidden sizes"
PREDICTORS = ("2/lambda, full grid, init", "4/lambda, full grid, init",
              "2/lambda, steepest example, init", "2/lambda, full grid, under the edge",
              "2/lambda, full grid, GD minimum")
WRITES = ("Writes into --out, once the run has succeeded, results.json (strict JSON; null: none):"
          " settings (steps, seeds, hidden, batch_sizes, coarse_lrs, fine_rates, gd_steps); runs,"
          " per hidden size and batch_size, per seed j: edge[j] (null: none bracketed), below[j]"
          " (the rate under it), last_stable[j] (the largest rate that did not diverge),"
          " non_monotone[j] (one above the edge did not); summary: edge (median, min, max),"
          " seeds_with_edge, non_monotone; predictors, per name as printed: predicted[j],"
          " ratio[j] = predicted[j] / edge[j], median, worst (farthest from 1), within_10pct,"
          " spearman; catapult, the run at below[j]: peak_J[j] (its highest full-grid J / its"
          " first), step_lr_lambda[j] (the largest lr x lambda_max of a step's batch J),"
          " steps_over_2[j], end_lr_lambda[j] (lr x lambda_max at the end).")

sharp = jax.jit(jax.vmap(jl.sharpness, in_axes=(0, None, None)))  # (K,) lambda_max of J on xs
steepest = jax.jit(jax.vmap(lambda net, xs, ys: jax.vmap(  # (K,) the largest over the rows of
    lambda x, y: jl.sharpness(net, x[None], y[None]))(xs, ys).max(), in_axes=(0, None, None)))
full_J = jax.vmap(lambda net, xs, ys: jl.mse(jl.forward(net, xs), ys), in_axes=(0, None, None))


@functools.partial(jax.jit, static_argnames="batchsize")
def train_rates(net, starts, lrs, xs, ys, *, batchsize):
    """diverged (seeds, R): seed j trained at lrs[j, i] (one `train_many` of seeds x R) went
    non-finite, or its final full-grid J is above (or NaN, not below) its starting one."""
    k, r = lrs.shape
    nets = jax.tree.map(lambda a: jnp.repeat(a, r, axis=0), net)
    state = jl.with_hyperparams(jax.vmap(SGD.init)(nets), learning_rate=lrs.ravel())
    out = jl.train_many(nets, xs, ys, jnp.repeat(starts, r, axis=0), batchsize=batchsize,
                        optimizer=SGD, opt_state=state)
    j, j0 = full_J(out.params, xs, ys), jnp.repeat(full_J(net, xs, ys), r)
    return ((out.nonfinite_step >= 0) | ~(j <= j0)).reshape(k, r)


def own_edges(rates, diverged):
    """Each seed's edge among its rates (seeds, R), in any order. Returns per seed (NaN: none
    diverged, or the smallest did) edge, the smallest rate that diverged; below, the next
    smaller; last_stable, the largest that did not diverge; non_monotone, last_stable > edge."""
    order = np.argsort(rates, axis=1, kind="stable")
    rates, diverged = (np.take_along_axis(a, order, axis=1) for a in (rates, diverged))
    e, j = np.argmax(diverged, axis=1), np.arange(len(rates))
    top = rates.shape[1] - 1 - np.argmax(~diverged[:, ::-1], axis=1)
    ok = diverged.any(axis=1) & (e > 0)
    return {name: np.where(ok, a, np.nan) for name, a in dict(
        edge=rates[j, e], below=rates[j, e - 1], last_stable=rates[j, top]).items()} | dict(
        non_monotone=np.where(ok, top > e, None))  # None: no edge


def ranks(a):
    """Ranks 0 .. n-1 of a (n,), tied values at their mean rank."""
    s = np.sort(a)
    return (np.searchsorted(s, a, "left") + np.searchsorted(s, a, "right") - 1) / 2


def agreement(predicted, edge):
    """Over the seeds where both are finite, ratio = predicted / edge: its median, the worst
    (largest |log ratio|), the share within 10% (|ratio - 1| <= 0.1), and Spearman's rank
    correlation of predicted and edge (Pearson's of their ranks; NaN if either is constant)."""
    ok = np.isfinite(predicted) & np.isfinite(edge)
    if not ok.any():
        return dict.fromkeys(("median", "worst", "within_10pct", "spearman"), np.nan)
    ratio, p, e = predicted[ok] / edge[ok], ranks(predicted[ok]), ranks(edge[ok])
    return dict(median=np.median(ratio), worst=ratio[np.argmax(np.abs(np.log(ratio)))],
                within_10pct=np.mean(np.abs(ratio - 1) <= 0.1),
                spearman=np.corrcoef(p, e)[0, 1] if np.ptp(p) * np.ptp(e) > 0 else np.nan)


@functools.partial(jax.jit, static_argnames="batchsize")
def replay(net, starts, lrs, xs, ys, *, batchsize):
    """Seed j's run at lrs[j], a `train_many` step at a time: the full-grid J before each step
    and at the end (seeds, S + 1), lr x lambda_max of each step's batch J (seeds, S), the nets."""
    window = lambda a, s: jax.lax.dynamic_slice_in_dim(a, s, batchsize)  # noqa: E731

    def step(carry, s):
        net, state = carry
        lam = jax.vmap(lambda n, s: jl.sharpness(n, window(xs, s), window(ys, s)))(net, s)
        out = jl.train_many(net, xs, ys, s[:, None], batchsize=batchsize, optimizer=SGD,
                            opt_state=state)
        return (out.params, out.opt_state), (full_J(net, xs, ys), lrs * lam)

    state = jl.with_hyperparams(jax.vmap(SGD.init)(net), learning_rate=lrs)
    (net, _), (j, lr_lam) = jax.lax.scan(step, (net, state), starts.T)
    return jnp.concatenate([j.T, full_J(net, xs, ys)[:, None]], axis=1), lr_lam.T, net


@jax.jit
def gd_minimum(net, xs, ys):
    """The networks full-batch gradient descent reaches: GD_STEPS steps at lr 0.5/lambda_init."""
    state = jl.with_hyperparams(jax.vmap(SGD.init)(net), learning_rate=0.5 / sharp(net, xs, ys))
    starts = jnp.zeros((net.batch_shape[0], GD_STEPS), jnp.int32)
    return jl.train_many(net, xs, ys, starts, batchsize=xs.shape[0], optimizer=SGD,
                         opt_state=state).params


def measure(h, batchsize, net, starts, xs, ys, init):
    """results.json's run for hidden size `h` and one batch size, from the seeds' tutorial
    starts (a batch of the whole grid starts every step at 0): each seed's edge; against it the
    predictions `init` (name -> (seeds,)) and 2/lambda under the edge; the catapult."""
    starts = starts if batchsize == 1 else np.zeros_like(starts)
    coarse = np.tile(COARSE, (len(starts), 1))
    program = train_rates.lower(net, starts, coarse, xs, ys, batchsize=batchsize).compile()
    _cli.check_memory(_cli.compiled_bytes(program), SMALLER, start=0)
    hit = np.asarray(_cli.wait(program(net, starts, coarse, xs, ys)))
    k = np.maximum(np.argmax(hit, axis=1), 1)  # the first to diverge (or none: any bracket)
    fine = np.geomspace(COARSE[k - 1], COARSE[k], FINE + 2, axis=1)[:, 1:-1].astype(np.float32)
    run = own_edges(np.hstack([coarse, fine]), np.hstack([hit, program(net, starts, fine, xs, ys)]))
    edge, ok = run["edge"], np.isfinite(run["edge"])
    j, lr_lam, trained = _cli.wait(replay(net, starts, np.where(ok, run["below"], COARSE[0]), xs,
                                          ys, batchsize=batchsize))
    lam_end = np.where(ok, np.asarray(sharp(trained, xs, ys), np.float64), np.nan)
    predicted = init | {PREDICTORS[3]: 2 / lam_end}
    catapult = {name: np.where(ok, a, np.nan) for name, a in dict(
        peak_J=j.max(axis=1) / j[:, 0], step_lr_lambda=lr_lam.max(axis=1),
        steps_over_2=np.sum(lr_lam > 2, axis=1), end_lr_lambda=run["below"] * lam_end).items()}
    return dict(hidden=h, batch_size=batchsize, **run, summary=dict(
        edge=spread(edge), seeds_with_edge=int(ok.sum()),
        non_monotone=int(run["non_monotone"].astype(bool).sum())),
        predictors={name: dict(predicted=predicted[name], ratio=predicted[name] / edge)
                    | agreement(predicted[name], edge) for name in PREDICTORS}, catapult=catapult)


def spread(a):
    """median, min, max of a's finite entries (NaN if none)."""
    a = a[np.isfinite(a)]
    return dict(zip(("median", "min", "max"),
                    np.percentile(a, [50, 0, 100]) if a.size else [np.nan] * 3))


def main(argv=None):
    """Runs the experiment; returns the exit status (0, 1, 2 or 130)."""
    with _cli.Ending("curvature", SMALLER) as end:
        p, pos = _cli.parser("curvature", __doc__, WRITES), _cli.positive_int
        p.add_argument("--hidden", type=pos, nargs="+", default=[1, 2, 8, 32],
                       help="hidden sizes (1 2 8 32)")
        p.add_argument("--seeds", type=pos, default=32, help="how many: 4321, 4322, .. (32)")
        p.add_argument("--steps", type=pos, default=100, help="training steps (tutorial: 100)")
        _cli.out_flags(p, "results/curvature")
        args = p.parse_args(argv)
        _cli.check_memory(needed(args), SMALLER)  # from shapes, before XLA starts
        _cli.use_compilation_cache(args.no_cache)
        (xs, ys), runs = _run.problem(_run.Spec()), []  # 2x + 3 on the tutorial's grid
        seeds, hidden = list(range(4321, 4321 + args.seeds)), sorted(set(args.hidden))
        print(f"2x + 3, {args.seeds} seeds, {args.steps} steps: each seed's edge, and predicted /"
              " edge")
        with _cli.Staged(args.out) as out:
            for h in hidden:
                net, starts = _run.networks(_run.Spec(hidden=h, steps=args.steps), seeds)
                lam = [np.asarray(f(n, xs, ys), np.float64) for f, n in (
                    (sharp, net), (steepest, net), (sharp, _cli.wait(gd_minimum(net, xs, ys))))]
                init = dict(zip(PREDICTORS[:3] + PREDICTORS[4:],
                                [2 / lam[0], 4 / lam[0], 2 / lam[1], 2 / lam[2]]))
                for batchsize in BATCHES:
                    runs.append(measure(h, batchsize, net, starts, xs, ys, init))
                    report(runs[-1])
            settings = dict(steps=args.steps, seeds=seeds, hidden=hidden, batch_sizes=BATCHES,
                            coarse_lrs=COARSE, fine_rates=FINE, gd_steps=GD_STEPS)
            text = json.dumps(dict(settings=settings, runs=runs), default=lambda a: a.tolist())
            _cli.write_json(out / "results.json", json.loads(text, parse_constant=lambda c: None))
            out.publish()
    return end.status


def needed(args):
    """Bytes the run holds beyond JAX's start, from its shapes: its largest call (seeds x 33
    rates, or full-batch GD's steps) and PROGRAMS compiled programs per hidden size."""
    spec = _run.Spec(hidden=max(args.hidden), steps=max(args.steps, GD_STEPS))
    return _run.bytes_needed(spec, args.seeds * len(COARSE)) + _cli.PROGRAM * PROGRAMS * len(
        set(args.hidden))


def report(run):
    """Prints a run's edges, its predictors' agreement and its catapult."""
    s, c = run["summary"], run["catapult"]
    q = lambda a, f=".3g": "{median:{f}} [{min:{f}}, {max:{f}}]".format(**spread(a), f=f)  # noqa
    print(f"\nhidden {run['hidden']}, batch {run['batch_size']}: edge {q(run['edge'])} over"
          f" {s['seeds_with_edge']} seeds; {s['non_monotone']} non-monotone, a rate up to"
          f" {np.nanmax(run['last_stable'] / run['edge'], initial=1):.3g}x the edge stable")
    print(f"  {'predicted / edge':<36}{'median':>8}{'worst':>8}{'within 10%':>12}{'Spearman':>10}")
    for name, a in run["predictors"].items():
        print(f"  {name:<36}{a['median']:8.3f}{a['worst']:8.3f}{a['within_10pct']:12.0%}"
              f"{a['spearman']:10.2f}")
    print(f"  catapult, the run under the edge: full-grid J peaks at {q(c['peak_J'])}x its first;"
          f" a step's lr x lambda_max up to {q(c['step_lr_lambda'])}, over 2 in"
          f" {q(c['steps_over_2'], '.0f')} steps, {q(c['end_lr_lambda'])} at the end")


if __name__ == "__main__":
    _cli.script(main)
