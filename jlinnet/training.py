"""Training: the tutorial's `Net.optimize` step, and a whole run as one compiled `lax.scan`.

Tutorial, `trainNet`: each step takes the window X[s : s + B], computes the batch error J,
backpropagates and updates every weight, theta <- theta - lr dJ/dtheta (`optax.sgd(lr)`, or any
optax transformation). K networks run that step `vmap`ped over K inside the same scan:

    theta^k_{t+1} = theta^k_t - lr_k * dJ/dtheta^k (x^k_t, y^k_t)      k = 0 .. K-1
"""

import inspect
import math
import os
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.backprop import CORES, autodiff_grads
from jlinnet.loss import J
from jlinnet.model import Net, apply, check_net

Grads = Callable[[Net, jax.Array, jax.Array], Net]


class TrainResult(NamedTuple):
    """A run's result (`train_many`: a leading K on each): the trained `params`; `losses`
    (S // n,), the batch J before the update of every n-th step (n = `record_every`, 1: every
    step); the final `opt_state`; `nonfinite_step` () int32: the first step (0-based) whose
    loss is not finite, recorded or not, S if only the final weights are, -1 if none."""

    params: Any
    losses: jax.Array
    opt_state: Any
    nonfinite_step: jax.Array


def train(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
          optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
          opt_state: optax.OptState | None = None, record_every: int = 1) -> TrainResult:
    """Trains one network over the schedule `starts`, as one compiled `lax.scan`.

    Step t cuts x, y = xs[s : s + B], ys[s : s + B] at s = starts[t], records J(net_t) and
    applies `optimizer.update(grads(net_t, x, y))` (with `value=J` where the optimizer takes
    it). A start outside [0, N - B] is never clamped: its targets are NaN, so `nonfinite_step`
    names that step. `batchsize`, `optimizer` and `grads` are static (a new optimizer object
    compiles again): sweep a rate through `opt_state` (`with_hyperparams`).

    Args:
      net: one `Net`, sizes (in, ..., out).
      xs: (N, in) the grid the batches are cut from; ys: (N, out) the targets on it.
      starts: (S,) integer window starts.
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`; `optax.sgd(lr)` is the tutorial's.
      grads: (net, x, y) -> gradients shaped like net: `autodiff_grads` or `manual_grads`.
      opt_state: the optimizer's initial state; None: `optimizer.init(net)`.
      record_every: n, a divisor of S: the losses of steps n-1, 2n-1, ..., S-1 (0-based) are
        recorded; 1 (the default) records every step, S only the last. A run whose recorded
        losses cannot fit in memory is a ValueError before it starts.

    Returns:
      `TrainResult(params, losses (S // n,), opt_state, nonfinite_step ())`; `nonfinite_step`
      counts every step, recorded or not.
    """
    settings = _Settings(batchsize, optimizer, grads, None, False, record_every)
    return _fit(net, *_before_jit(net, xs, ys, starts, opt_state, settings), opt_state, settings)


def train_many(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
               optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
               opt_state: optax.OptState | None = None, mesh: Mesh | None = None,
               record_every: int = 1) -> TrainResult:
    """Trains K networks in one compiled call: the numbers of K `train` calls.

    A learning rate per network lives in the optimizer's state: `opt_state =
    with_hyperparams(jax.vmap(opt.init)(net), learning_rate=lrs)`, lrs: (K,). With `mesh` the
    networks are split over its devices (sharded over K; padded inside where K does not split).
    On CPU the K networks (a device's, with `mesh`) run in blocks of `BLOCK["cpu"]` inside the
    one program, each block's numbers those of a run of its networks alone.

    Args:
      net: a `Net` with a leading axis K on every weight (`net.batch_shape == (K,)`).
      xs, ys, batchsize, optimizer, grads: as in `train`, shared by all networks.
      starts: (K, S) integer window starts, one schedule per network.
      opt_state: K states, a leading K on every leaf; None: `jax.vmap(optimizer.init)(net)`.
      mesh: None (the default device) or a `jax.sharding.Mesh`.
      record_every: n, a divisor of S, as in `train`: losses of steps n-1, 2n-1, ..., S-1.

    Returns:
      `TrainResult`: params (K, ...), losses (K, S // n), opt_state, nonfinite_step (K,).
    """
    settings = _Settings(batchsize, optimizer, grads, mesh, True, record_every)
    return _fit(net, *_before_jit(net, xs, ys, starts, opt_state, settings), opt_state, settings)


class _Settings(NamedTuple):
    """What picks the compiled program (static: hashed by `jax.jit`, one argument so that a
    call hashes one tuple); `many`: `train_many` (K networks) or `train`."""

    batchsize: int
    optimizer: optax.GradientTransformation
    grads: Grads
    mesh: Mesh | None
    many: bool
    record_every: int


def _before_jit(net, xs, ys, starts, opt_state, settings: _Settings):
    """What `jax.jit` cannot take, checked before it, in a few microseconds a call: the
    settings that pick the program (static: hashed); a `net` that is a network and an
    `opt_state` of arrays (else `jax.jit` would name them as arguments it cannot read); data
    and starts not yet in JAX arrays, read on the host (NumPy starts off the grid are an error
    now, not NaN later). Returns (xs, ys, starts); JAX arrays are checked while tracing."""
    batchsize, optimizer, grads, mesh, _, record_every = settings
    if not (type(batchsize) is int and batchsize > 0 and type(record_every) is int
            and record_every > 0):  # else the error; record_every's divisibility: tracing
        checks.positive_int("batchsize", batchsize)
        checks.positive_int("record_every", record_every)
    if not isinstance(net, Net):
        check_net(net)  # its error: pass the Net itself
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax GradientTransformation such as"
                        f" optax.sgd(0.01), got {type(optimizer).__name__}")
    if not callable(grads) or grads is jax.grad:
        raise TypeError(f"grads must be a function (net, x, y) -> gradients shaped like net,"
                        f" such as jl.autodiff_grads or jl.manual_grads, got {checks.show(grads)}")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be None or a jax.sharding.Mesh such as"
                        f" jax.make_mesh((jax.device_count(),), ('k',)), got {checks.show(mesh)}")
    if opt_state is not None and not all(map(_array_like, jax.tree.leaves(opt_state))):
        raise TypeError(f"opt_state must be an optimizer state (optimizer.init(net), or a run's"
                        f" returned opt_state), got {type(opt_state).__name__}")
    if not isinstance(xs, jax.Array):
        xs = checks.host("xs", xs)
    if not isinstance(ys, jax.Array):
        ys = checks.host("ys", ys)
    if not isinstance(starts, jax.Array):
        n = xs.shape[0] if xs.ndim == 2 else checks.INT32_MAX  # else xs is named while tracing
        starts = checks.host_starts(starts, n, min(batchsize, n))
    return xs, ys, starts


@partial(jax.jit, static_argnames="settings")
def _fit(net, xs, ys, starts, opt_state, settings: _Settings):
    """The boundary of `train` (many=False) and `train_many`, then the one training scan."""
    batchsize, optimizer, grads, mesh, many, record_every = settings
    fn = "train_many" if many else "train"
    sizes, dtype = check_net(net, stacked=many, fn=fn)
    xs = checks.data("xs", xs, dtype, features=sizes[0])
    ys = checks.data("ys", ys, dtype, features=sizes[-1])
    starts, n, k = checks.starts(starts, ndim=1 + many), xs.shape[0], net.batch_shape
    if ys.shape[0] != n or starts.shape[:-1] != k:
        raise ValueError(f"{fn} needs ys of {n} rows like xs and starts of shape {(*k, 'S')},"
                         f" got ys {ys.shape} and starts {starts.shape}")
    batchsize = checks.positive_int("batchsize", batchsize, maximum=n)
    try:  # a function of (net, x, y)? (a builtin may have no signature: then its call says)
        inspect.signature(grads).bind(net, xs, ys)
    except TypeError:
        raise TypeError(f"grads must be a function (net, x, y) -> gradients, got"
                        f" {checks.show(grads)}") from None
    except ValueError:
        pass
    init = jax.vmap(optimizer.init) if many else optimizer.init
    if opt_state is None:
        opt_state = init(net)
    elif not _same_shapes(opt_state, jax.eval_shape(init, net)):
        init_name = "jax.vmap(optimizer.init)" if many else "optimizer.init"
        raise ValueError(f"opt_state must be shaped like {init_name}(net) (a state from another"
                         f" optimizer or network?), got {_leaf_shapes(opt_state)}")
    step = _step(xs, ys, batchsize, optimizer, grads)
    step = jax.vmap(step) if many else step
    return _run(step, net, opt_state, starts, every=record_every, mesh=mesh)


def _run(step, net, opt_state, starts, *, every, mesh):
    """The run after the boundary: checks that what it records fits on the device it runs on
    (the default device, `jax.devices()[0]`, or the first of `mesh`), then one scan (`train`),
    the K networks in blocks (`train_many`), or those split over the devices of `mesh`."""
    every, device = _record_every(every, starts.shape[-1]), (
        jax.devices()[0] if mesh is None else mesh.devices.flat[0])
    dtype = jnp.promote_types(net.layers[0].w.dtype, jnp.float32)  # J's, as in `_scan`
    _check_fits((*net.batch_shape, starts.shape[-1] // every), dtype, device)
    if not net.batch_shape:
        return _scan(step, net, opt_state, starts, every=every)
    run = partial(_blocked, step, every=every, size=BLOCK.get(device.platform))
    return run(net, opt_state, starts) if mesh is None else _sharded(
        run, net, opt_state, starts, mesh=mesh)


def _same_shapes(a, b) -> bool:
    """Whether pytrees `a` and `b` have one structure and leaves of the same shapes (compared
    leaf by leaf: a `Net` compares by identity, so two trees holding copies never match)."""
    structure: Any = jax.tree.structure(a)  # jaxlib's stub gives PyTreeDef no __eq__
    return structure == jax.tree.structure(b) and all(
        jnp.shape(u) == jnp.shape(v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _array_like(a) -> bool:
    """Whether `jax.jit` takes `a` as an array: a JAX array, or numbers NumPy reads as real
    (integers within int32, which is what JAX makes of them)."""
    if isinstance(a, jax.Array):
        return True
    a = np.asarray(a) if isinstance(a, np.ndarray | np.generic | int | float) else None
    return a is not None and a.dtype.kind in "biuf" and (
        a.dtype.kind in "bf" or bool(np.all(np.abs(a) <= checks.INT32_MAX)))


def _leaf_shapes(tree) -> str:
    """'Net of shapes [(1, 2), (2,), ...]' for an error message."""
    return f"{type(tree).__name__} of shapes {[jnp.shape(a) for a in jax.tree.leaves(tree)]}"


def _sharded(run, net, opt_state, starts, *, mesh):
    """`run` (the K networks' blocked scan) split over the devices of `mesh` (`jax.shard_map`)."""
    k = net.batch_shape[0]
    pad = -k % mesh.size  # copies of network 0 fill every device, dropped below
    split = NamedSharding(mesh, P(mesh.axis_names))  # K over every axis of the mesh
    inputs = jax.device_put(jax.tree.map(lambda a: jnp.concatenate(
        [a, jnp.repeat(a[:1], pad, axis=0)]), (net, opt_state, starts)), split)
    out = jax.shard_map(run, mesh=mesh, in_specs=split.spec,
                        out_specs=split.spec)(*inputs)
    if pad:  # K does not split evenly: gathered on every device, then the padding goes
        out = jax.tree.map(lambda a: a[:k], jax.device_put(out, NamedSharding(mesh, P())))
    return out


def _step(xs, ys, batchsize, optimizer, grads):
    """The tutorial's `Net.optimize` on one window: (net, opt_state, s) -> (net', state', J)."""
    extra = isinstance(optimizer, optax.GradientTransformationExtraArgs)
    grads = CORES.get(grads, grads)  # jl's own routes: the batch is checked already

    def step(net, opt_state, s):
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)  # dynamic_slice would clamp s: NaN instead
        y = jnp.where((s >= 0) & (s <= xs.shape[0] - batchsize), y, jnp.nan)
        loss = J(apply(net, x), y)  # the batch error J before the update
        g = grads(net, x, y)
        if not _same_shapes(g, net):  # else a scalar would broadcast into every weight
            raise TypeError(f"grads must return gradients shaped like the network, a Net like"
                            f" jl.autodiff_grads gives, got {_leaf_shapes(g)}")
        updates, opt_state = optimizer.update(g, opt_state, net,
                                              **({"value": loss} if extra else {}))
        return optax.apply_updates(net, updates), opt_state, loss

    return step


def _scan(step, net, opt_state, starts, *, every=1):
    """`step` over starts (..., S) as one `lax.scan`, counting in the loop the steps before
    the first non-finite loss (a pass over the losses after it costs more). The loss of
    every `every`-th step is recorded: losses (..., S // every)."""

    def body(carry, s):
        net, opt_state, finite, count = carry
        net, opt_state, loss = step(net, opt_state, s)
        finite = finite + loss * 0  # 0 while every loss is finite, NaN from the first that isn't
        return (net, opt_state, finite, count + jnp.isfinite(finite)), loss

    def record(carry, js):  # steps j*n .. j*n + n-1, the last one's loss into column j
        (carry, losses), (j, s) = carry, js
        carry, loss = body(carry, s) if every == 1 else lax.scan(  # (carry, the last loss)
            lambda c, s: (body(c[0], s), None), (carry, losses[..., 0]), s, unroll=unroll)[0]
        return (carry, lax.dynamic_update_index_in_dim(losses, loss, j, axis=-1)), None

    zero = jnp.zeros_like(starts[..., 0])  # varies like the data inside shard_map
    dtype = jnp.promote_types(net.layers[0].w.dtype, jnp.float32)  # J's
    carry, steps = (net, opt_state, zero.astype(dtype), zero), starts.shape[-1]
    # Unrolled twice for one network, whose step costs about what the loop does (~20% faster);
    # not for K networks, which have work enough (unrolled: 2x slower).
    unroll, starts = 1 if starts.ndim > 1 else 2, jnp.moveaxis(starts, -1, 0)
    if starts.ndim == 1 and every == 1:  # one network, every step: the scan's own output
        (net, opt_state, _, count), losses = lax.scan(body, carry, starts, unroll=unroll)
    else:  # written in place, (..., S // n), not stacked (S // n, ...) and transposed after:
        # at K = 8192 a transpose of the losses cost 3 ns more per network-step (measured)
        groups = steps // every
        losses = jnp.broadcast_to(zero.astype(dtype)[..., None], (*zero.shape, groups))
        ((net, opt_state, _, count), losses), _ = lax.scan(record, (carry, losses), (
            jnp.arange(groups), starts.reshape(groups, every, *starts.shape[1:]) if (
                every > 1) else starts))
    leaves = jax.tree.leaves(net)
    finite = sum(jnp.isfinite(w).reshape(*count.shape, -1).all(-1) for w in leaves) == len(leaves)
    return TrainResult(net, losses, opt_state, jnp.where(
        count < steps, count, jnp.where(finite, -1, steps)).astype(jnp.int32))


def _blocked(step, net, opt_state, starts, *, every, size):
    """The K networks' scan over starts (K, S) in blocks of at most `size` networks, one
    after another (`lax.map`): K padded with copies of network 0 to a whole number of equal
    blocks, the padding dropped after. The networks are independent: each block's numbers
    are those of a scan over its networks alone."""
    k = starts.shape[0]
    blocks = -(-k // (size or k))
    if blocks == 1:
        return _scan(step, net, opt_state, starts, every=every)
    size = -(-k // blocks)  # the fewest copies: fewer than `blocks`
    pad = blocks * size - k
    net, opt_state, starts = jax.tree.map(lambda a: jnp.concatenate(
        [a, jnp.repeat(a[:1], pad, axis=0)]).reshape(blocks, size, *a.shape[1:]) if pad else
        a.reshape(blocks, size, *a.shape[1:]), (net, opt_state, starts))
    out = lax.map(lambda b: _scan(step, *b, every=every), (net, opt_state, starts))
    return jax.tree.map(lambda a: a.reshape(blocks * size, *a.shape[2:])[:k], out)


# Networks per block of `train_many`, by platform; a platform not named runs all K as one block.
# CPU, measured here (2 cores, jax 0.10.2, `python -m experiments.benchmark`, 3 runs): in blocks
# of 1024 the tutorial's network (1-2-1, batch 1, S = 200) costs 0.77-0.90x per network-step at
# K = 8192 and 0.81-0.88x at 65,536 what it costs at K = 1024; as one block, 2.9-3.6x and
# 3.8-4.5x (from 2048 such networks XLA hands the vmapped step's reduction to YNNPACK, and larger
# K outgrow the cache). Blocks of 256 cost up to 1.3x more (the loop's overhead per step), of
# 2048 1.5x; 1-64-1 at batch 32 does best at 512 (1.2x faster than 1024, 3x than one block).
# GPU and TPU: the whole K, the parallel work a device needs (no device here to measure it).
BLOCK = {"cpu": 1024}


def _record_every(every: int, steps: int) -> int:
    """`every` (an int >= 1, checked before tracing) if it divides S = `steps`, else a
    ValueError naming the divisors of S nearest to it."""
    if every <= steps and steps % every == 0:
        return every
    small = [d for d in range(1, math.isqrt(steps) + 1) if steps % d == 0]
    divisors = sorted({*small, *(steps // d for d in small)})
    near = sorted({max(d for d in divisors if d <= every), *[d for d in divisors if d > every][:1]})
    raise ValueError(f"record_every must divide S = {steps} (the steps), got {every}; the"
                     f" divisors of S nearest to it: {', '.join(map(str, near))}")


def _memory(device) -> int | None:
    """Bytes `device` can hold: physical memory on CPU, the allocator's limit on GPU/TPU
    (None where the device does not say)."""
    if device.platform == "cpu":
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if hasattr(
            os, "sysconf") else None  # Windows has no sysconf
    return (device.memory_stats() or {}).get("bytes_limit")


def _check_fits(shape, dtype, device) -> None:
    """A ValueError before the run if its recorded losses, `shape` of `dtype`, cannot fit in
    the memory of the `device` it runs on."""
    need, have = math.prod(shape) * jnp.dtype(dtype).itemsize, _memory(device)
    if have is not None and need > have:
        raise ValueError(f"the run's recorded losses, {shape} {jnp.dtype(dtype).name}, need"
                         f" {need / 2**30:.1f} GiB, more than the {have / 2**30:.1f} GiB of"
                         f" {device}: record_every=n records every n-th step's loss only")


def with_hyperparams(opt_state: optax.OptState, **values: ArrayLike) -> optax.OptState:
    """`optax.tree.set` for an `optax.inject_hyperparams` state, keeping each value's dtype and
    shape (a weak type would re-trace): scalar, or (K,) for K networks. A hyperparameter given
    as a schedule is recomputed every step, so setting it would be ignored: an error.

    Example: `opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)`, then
    `train(..., optimizer=opt, opt_state=with_hyperparams(opt.init(net), learning_rate=lr))`.
    """
    old, schedules = (getattr(opt_state, a, {}) for a in ("hyperparams", "hyperparams_states"))
    if not set(values) <= (settable := set(old) - set(schedules)):
        raise ValueError(f"opt_state must be the state of an optax.inject_hyperparams optimizer"
                         f" whose {sorted(values)} are set by a number (e.g. inject_hyperparams("
                         f"optax.sgd)(learning_rate=0.01)); it has {sorted(settable)}")
    for name, v in values.items():  # finite in the state's dtype, of its shape or one number
        dtype, shape = old[name].dtype, old[name].shape
        most = float((jnp.finfo if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo)(dtype).max)
        checks.reals(name, v, low=-most, high=most)
        if np.shape(v) not in ((), shape):
            raise ValueError(f"{name} must be one number or an array of shape {shape}, got"
                             f" shape {np.shape(v)}")
    return optax.tree.set(opt_state, **{
        name: jnp.broadcast_to(jnp.asarray(v, old[name].dtype), old[name].shape)
        for name, v in values.items()})
