"""Training: the tutorial's `Net.optimize` step, and a whole run as one compiled `lax.scan`.

Tutorial, `trainNet`: for each step, take the window X[s : s + B], compute the batch error,
backpropagate and update every weight,

    theta_{t+1} = theta_t - lr * dJ/dtheta            (optax.sgd(lr))

Here the loop is a `lax.scan` over the schedule `starts`, compiled once per shape and
settings; the update is any optax `GradientTransformation`. K networks (`train_many`) run
the same step `vmap`ped over K inside the one scan over steps, optionally split over the
devices of a mesh (`jax.shard_map`); each network k follows its own schedule and state,

    theta^k_{t+1} = theta^k_t - lr_k * dJ/dtheta^k (x^k_t, y^k_t)      k = 0 .. K-1.
"""

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.backprop import autodiff_grads
from jlinnet.loss import J
from jlinnet.model import Net, apply, check_net

Grads = Callable[[Net, jax.Array, jax.Array], Net]


class TrainResult(NamedTuple):
    """What a training run returns (a leading K on every field for `train_many`).

    Attributes:
      params: the trained `Net`.
      losses: (S,) the batch loss J before each update (what the tutorial prints).
      opt_state: the optimizer's final state (pass it back to continue a run).
      nonfinite_step: () int32, the first step (0-based) whose loss is not finite; S if
        only the final weights are (the last update overflowed); -1 if the run stayed finite.
    """

    params: Any
    losses: jax.Array
    opt_state: Any
    nonfinite_step: jax.Array


def train(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
          optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
          opt_state: optax.OptState | None = None) -> TrainResult:
    """Trains one network over the schedule `starts`, as one compiled `lax.scan`.

    Step t takes x = xs[s : s + B], y = ys[s : s + B] with s = starts[t], records J(net_t)
    on that batch and applies `optimizer.update(grads(net_t, x, y))` (with `value=J` for
    optimizers that take extra arguments, e.g. `optax.contrib.reduce_on_plateau`). With
    `optax.sgd(lr)` that is the tutorial's update theta <- theta - lr dJ/dtheta.

    `batchsize`, `optimizer` and `grads` are static: a new value, or a new optimizer
    object, compiles again. To sweep the learning rate without recompiling, build the
    optimizer once with `optax.inject_hyperparams` and pass each rate in `opt_state`
    (`with_hyperparams`). A start outside [0, N - B], known only when the program runs, is
    never clamped: its window gets NaN targets, so that step's loss and the weights go NaN
    and `nonfinite_step` names it.

    Args:
      net: one `Net`, sizes (in, ..., out); its activation is used.
      xs: (N, in) the grid the batches are cut from; ys: (N, out) the targets on it.
      starts: (S,) integer window starts, each in [0, N - B].
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`; `optax.sgd(lr)` is the tutorial's.
      grads: (net, x, y) -> gradients shaped like net: `autodiff_grads` or `manual_grads`.
      opt_state: the optimizer's initial state; None: `optimizer.init(net)`.

    Returns:
      A `TrainResult(params, losses (S,), opt_state, nonfinite_step)`.
    """
    return _fit(net, checks.host(xs), checks.host(ys), checks.host_starts(starts), opt_state,
                batchsize=batchsize, optimizer=optimizer, grads=grads, mesh=None, many=False)


def train_many(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
               optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
               opt_state: optax.OptState | None = None, mesh: Mesh | None = None) -> TrainResult:
    """Trains K networks at once, as one compiled call: the same numbers as K `train` calls.

    Network k trains on its own schedule starts[k] with its own weights and optimizer state,
    on the shared grid. A learning-rate sweep is one call: build the optimizer once with
    `optax.inject_hyperparams` and give each network its rate,

        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
        state = with_hyperparams(jax.vmap(opt.init)(net), learning_rate=lrs)  # lrs: (K,)
        train_many(net, xs, ys, starts, batchsize=1, optimizer=opt, opt_state=state)

    With `mesh`, the networks are split over all its devices (of one process or several,
    `jax.distributed`): the result is sharded over K when the devices divide K; otherwise K
    is padded to fill them inside and the K results come back on every device. Starts off
    the grid are handled as in `train`.

    Args:
      net: a `Net` whose every weight has a leading axis K: w: (K, in, out), b: (K, out),
        e.g. `jax.vmap(init_mlp)(jax.random.split(key, K))`.
      xs: (N, in), ys: (N, out): the grid and its targets, shared by all networks.
      starts: (K, S) integer window starts, one schedule per network.
      batchsize, optimizer, grads: as in `train`, shared (static) by all networks.
      opt_state: the K optimizer states, every leaf with a leading K; None:
        `jax.vmap(optimizer.init)(net)`.
      mesh: None (the default device) or a `jax.sharding.Mesh`.

    Returns:
      A `TrainResult`: params with leaves (K, ...), losses (K, S), opt_state with a leading
      K, nonfinite_step (K,).
    """
    return _fit(net, checks.host(xs), checks.host(ys), checks.host_starts(starts), opt_state,
                batchsize=batchsize, optimizer=optimizer, grads=grads, mesh=mesh, many=True)


@partial(jax.jit, static_argnames=("batchsize", "optimizer", "grads", "mesh", "many"))
def _fit(net, xs, ys, starts, opt_state, *, batchsize, optimizer, grads, mesh, many):
    """The boundary of `train` (many=False) and `train_many`, then the one training scan."""
    fn = "train_many" if many else "train"
    sizes, dtype = check_net(net, stacked=many, fn=fn)
    xs = checks.data("xs", xs, dtype, features=sizes[0])
    ys = checks.data("ys", ys, dtype, features=sizes[-1])
    starts = checks.starts(starts, ndim=1 + many)
    n, k = xs.shape[0], net.batch_shape
    if ys.shape[0] != n or starts.shape[:-1] != k:
        raise ValueError(f"{fn} needs ys of {n} rows like xs and starts of shape {(*k, 'S')},"
                         f" got ys {ys.shape} and starts {starts.shape}")
    batchsize = checks.positive_int("batchsize", batchsize, maximum=n)
    if not isinstance(optimizer, optax.GradientTransformation) or not callable(
            grads) or grads is jax.grad:
        raise TypeError(f"optimizer must be an optax GradientTransformation such as"
                        f" optax.sgd(0.01) and grads a function (net, x, y) -> gradients such as"
                        f" jl.autodiff_grads, got {type(optimizer).__name__} and {grads!r}")
    init = jax.vmap(optimizer.init) if many else optimizer.init
    if opt_state is None:
        opt_state = init(net)
    elif jax.tree.map(jnp.shape, opt_state) != jax.tree.map(jnp.shape, jax.eval_shape(init, net)):
        raise ValueError(f"opt_state must match optimizer.init(net) (a state from another"
                         f" optimizer or network?), got {jax.tree.structure(opt_state)}")
    step = _step(xs, ys, batchsize, optimizer, grads)
    if not many:
        return _scan(step, net, opt_state, starts)
    run, pad = partial(_scan, jax.vmap(step)), 0
    if mesh is not None:
        pad = -k[0] % mesh.size  # copies of network 0 fill every device; dropped below
        net, starts, opt_state = jax.tree.map(lambda a: jnp.concatenate(
            [a, jnp.repeat(a[:1], pad, axis=0)]), (net, starts, opt_state))
        split = NamedSharding(mesh, P(mesh.axis_names))  # K over every axis of the mesh
        net, starts, opt_state = jax.device_put((net, starts, opt_state), split)
        run = jax.shard_map(run, mesh=mesh, in_specs=split.spec, out_specs=split.spec)
    out = run(net, opt_state, starts)
    if pad:  # K networks do not split evenly: gathered on every device, then the padding goes
        out = jax.tree.map(lambda a: a[: k[0]], jax.device_put(out, NamedSharding(mesh, P())))
    return out


def _step(xs, ys, batchsize, optimizer, grads):
    """One step of the tutorial's loop (`Net.optimize` on one window):
    (net, opt_state, s) -> (net', opt_state', J). A start outside [0, N - B], which
    `dynamic_slice` would clamp, gets NaN targets instead: a NaN loss, NaN gradients."""
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def step(net, opt_state, s):
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)
        y = jnp.where((s >= 0) & (s <= xs.shape[0] - batchsize), y, jnp.nan)
        loss = J(apply(net, x), y)  # the batch error J before the update
        kwargs = {"value": loss} if extra else {}
        updates, opt_state = optimizer.update(grads(net, x, y), opt_state, net, **kwargs)
        return optax.apply_updates(net, updates), opt_state, loss

    return step


def _scan(step, net, opt_state, starts):
    """Runs `step` over starts (..., S) as one `lax.scan` over steps, counting in the loop
    the steps before the first non-finite loss (a pass over the losses after it costs more)."""

    def body(carry, s):
        net, opt_state, finite, count = carry
        net, opt_state, loss = step(net, opt_state, s)
        finite = finite + loss * 0  # 0 while every loss is finite, NaN from the first that isn't
        return (net, opt_state, finite, count + jnp.isfinite(finite)), loss

    zero = jnp.zeros_like(starts[..., 0])  # varies like the data inside shard_map
    loss_dtype = jnp.promote_types(jax.tree.leaves(net)[0].dtype, jnp.float32)  # J's dtype
    carry = (net, opt_state, zero.astype(loss_dtype), zero)
    # Two steps per loop iteration for one network, whose step costs about as much as the
    # loop around it (~20% faster); K networks per step have work enough (unrolled: 2x slower).
    (net, opt_state, _, count), losses = lax.scan(body, carry, jnp.moveaxis(starts, -1, 0),
                                                  unroll=1 if starts.ndim > 1 else 2)
    steps = starts.shape[-1]
    finite = sum(jnp.isfinite(w).reshape(*count.shape, -1).all(-1) for w in jax.tree.leaves(net))
    return TrainResult(net, jnp.moveaxis(losses, 0, -1), opt_state, jnp.where(
        count < steps, count, jnp.where(finite == len(jax.tree.leaves(net)), -1, steps)
    ).astype(jnp.int32))


def with_hyperparams(opt_state: optax.OptState, **values: ArrayLike) -> optax.OptState:
    """An `optax.inject_hyperparams` state with new hyperparameter values (`optax.tree.set`).

    The way to sweep a learning rate without recompiling: build the optimizer once, `opt =
    optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)`, then pass `opt_state=
    with_hyperparams(opt.init(net), learning_rate=lr)` to `train`. Each value is cast to the
    dtype and shape of the one it replaces (a weak type would re-trace): (K,) for K networks.
    A hyperparameter given to `inject_hyperparams` as a schedule is recomputed every step,
    so a value set here would be ignored: that is an error.

    Args:
      opt_state: a state made by an `inject_hyperparams` optimizer's `init`.
      **values: name -> new value, scalar or (K,).

    Returns:
      The state with `hyperparams[name]` replaced; the argument is not changed.
    """
    old, schedules = (getattr(opt_state, a, {}) for a in ("hyperparams", "hyperparams_states"))
    for name in values:
        if name not in old or name in schedules:
            raise ValueError(f"{name} must be a hyperparameter set by a number in an"
                             f" optax.inject_hyperparams optimizer, e.g."
                             f" inject_hyperparams(optax.sgd)({name}=0.01); this state has"
                             f" numbers for {sorted(set(old) - set(schedules))}")
    return optax.tree.set(opt_state, **{
        name: jnp.broadcast_to(jnp.asarray(v, old[name].dtype), old[name].shape)
        for name, v in values.items()})
