"""Training: the tutorial's `Net.optimize` step, and a whole run as one compiled `lax.scan`.

Tutorial, `trainNet`: each step takes the window X[s : s + B], computes the batch error J,
backpropagates and updates every weight, theta <- theta - lr dJ/dtheta (`optax.sgd(lr)`, or any
optax transformation). K networks run that step `vmap`ped over K inside the same scan:

    theta^k_{t+1} = theta^k_t - lr_k * dJ/dtheta^k (x^k_t, y^k_t)      k = 0 .. K-1
"""

import inspect
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
    """A run's result (`train_many`: a leading K on each): the trained `params`; `losses` (S,),
    the batch J before each update; the final `opt_state`; `nonfinite_step` () int32: the first
    step (0-based) whose loss is not finite, S if only the final weights are, -1 if none."""

    params: Any
    losses: jax.Array
    opt_state: Any
    nonfinite_step: jax.Array


def train(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
          optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
          opt_state: optax.OptState | None = None) -> TrainResult:
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

    Returns:
      `TrainResult(params, losses (S,), opt_state, nonfinite_step ())`.
    """
    settings = _settings(net, batchsize, optimizer, grads, None)
    return _fit(net, *_host(xs, ys, starts, opt_state, batchsize), **settings, many=False)


def train_many(net: Net, xs: ArrayLike, ys: ArrayLike, starts: ArrayLike, *, batchsize: int,
               optimizer: optax.GradientTransformation, grads: Grads = autodiff_grads,
               opt_state: optax.OptState | None = None, mesh: Mesh | None = None) -> TrainResult:
    """Trains K networks in one compiled call: the numbers of K `train` calls.

    A learning rate per network lives in the optimizer's state: `opt_state =
    with_hyperparams(jax.vmap(opt.init)(net), learning_rate=lrs)`, lrs: (K,). With `mesh` the
    networks are split over its devices (sharded over K; padded inside where K does not split).

    Args:
      net: a `Net` with a leading axis K on every weight (`net.batch_shape == (K,)`).
      xs, ys, batchsize, optimizer, grads: as in `train`, shared by all networks.
      starts: (K, S) integer window starts, one schedule per network.
      opt_state: K states, a leading K on every leaf; None: `jax.vmap(optimizer.init)(net)`.
      mesh: None (the default device) or a `jax.sharding.Mesh`.

    Returns:
      `TrainResult`: params (K, ...), losses (K, S), opt_state, nonfinite_step (K,).
    """
    settings = _settings(net, batchsize, optimizer, grads, mesh)
    return _fit(net, *_host(xs, ys, starts, opt_state, batchsize), **settings, many=True)


def _settings(net, batchsize, optimizer, grads, mesh) -> dict:
    """The settings that pick the program (static: hashed by `jax.jit`), each checked first,
    and that `net` is a network (else `jax.jit` would name it as an argument it cannot take)."""
    if not isinstance(net, Net):
        check_net(net)  # its error: pass the Net itself
    checks.positive_int("batchsize", batchsize)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax GradientTransformation such as"
                        f" optax.sgd(0.01), got {type(optimizer).__name__}")
    if not callable(grads) or grads is jax.grad:
        raise TypeError(f"grads must be a function (net, x, y) -> gradients shaped like net,"
                        f" such as jl.autodiff_grads or jl.manual_grads, got {checks.show(grads)}")
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be None or a jax.sharding.Mesh such as"
                        f" jax.make_mesh((jax.device_count(),), ('k',)), got {checks.show(mesh)}")
    return dict(batchsize=batchsize, optimizer=optimizer, grads=grads, mesh=mesh)


def _host(xs, ys, starts, opt_state, batchsize):
    """What is read on the host before tracing: data and starts that are not yet JAX arrays
    (NumPy starts off the grid are an error now, not NaN later), and an `opt_state` that is a
    pytree of arrays (the one kind of argument `jax.jit` takes)."""
    xs, ys = checks.host("xs", xs), checks.host("ys", ys)
    n = xs.shape[0] if xs.ndim == 2 else checks.INT32_MAX  # else xs is named while tracing
    starts = checks.host_starts(starts, n, min(batchsize, n))
    if not all(map(_array_like, jax.tree.leaves(opt_state))):
        raise TypeError(f"opt_state must be an optimizer state (optimizer.init(net), or a run's"
                        f" returned opt_state), got {type(opt_state).__name__}")
    return xs, ys, starts, opt_state


@partial(jax.jit, static_argnames=("batchsize", "optimizer", "grads", "mesh", "many"))
def _fit(net, xs, ys, starts, opt_state, *, batchsize, optimizer, grads, mesh, many):
    """The boundary of `train` (many=False) and `train_many`, then the one training scan."""
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
    return (_scan if mesh is None else partial(_sharded, mesh=mesh))(step, net, opt_state, starts)


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


def _sharded(step, net, opt_state, starts, *, mesh):
    """The K networks' scan split over the devices of `mesh` (`jax.shard_map`)."""
    k = net.batch_shape[0]
    pad = -k % mesh.size  # copies of network 0 fill every device, dropped below
    split = NamedSharding(mesh, P(mesh.axis_names))  # K over every axis of the mesh
    inputs = jax.device_put(jax.tree.map(lambda a: jnp.concatenate(
        [a, jnp.repeat(a[:1], pad, axis=0)]), (net, opt_state, starts)), split)
    out = jax.shard_map(partial(_scan, step), mesh=mesh, in_specs=split.spec,
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


def _scan(step, net, opt_state, starts):
    """`step` over starts (..., S) as one `lax.scan`, counting in the loop the steps before
    the first non-finite loss (a pass over the losses after it costs more)."""

    def body(carry, s):
        net, opt_state, finite, count = carry
        net, opt_state, loss = step(net, opt_state, s)
        finite = finite + loss * 0  # 0 while every loss is finite, NaN from the first that isn't
        return (net, opt_state, finite, count + jnp.isfinite(finite)), loss

    zero = jnp.zeros_like(starts[..., 0])  # varies like the data inside shard_map
    carry = (net, opt_state, zero.astype(jnp.promote_types(net.layers[0].w.dtype, jnp.float32)),
             zero)
    # Unrolled twice for one network, whose step costs about what the loop does (~20% faster);
    # not for K networks, which have work enough (unrolled: 2x slower).
    (net, opt_state, _, count), losses = lax.scan(body, carry, jnp.moveaxis(starts, -1, 0),
                                                  unroll=1 if starts.ndim > 1 else 2)
    leaves, steps = jax.tree.leaves(net), starts.shape[-1]
    finite = sum(jnp.isfinite(w).reshape(*count.shape, -1).all(-1) for w in leaves) == len(leaves)
    return TrainResult(net, jnp.moveaxis(losses, 0, -1), opt_state, jnp.where(
        count < steps, count, jnp.where(finite, -1, steps)).astype(jnp.int32))


def with_hyperparams(opt_state: optax.OptState, **values: ArrayLike) -> optax.OptState:
    """`optax.tree.set` for an `optax.inject_hyperparams` state, keeping each value's dtype and
    shape (a weak type would re-trace): scalar, or (K,) for K networks. A hyperparameter given
    as a schedule is recomputed every step, so setting it would be ignored: an error.

    Example: `opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)`, then
    `train(..., optimizer=opt, opt_state=with_hyperparams(opt.init(net), learning_rate=lr))`.
    """
    old, schedules = (getattr(opt_state, a, {}) for a in ("hyperparams", "hyperparams_states"))
    if not set(values) <= (numbers := set(old) - set(schedules)):
        raise ValueError(f"opt_state must be the state of an optax.inject_hyperparams optimizer"
                         f" whose {sorted(values)} are set by a number (e.g. inject_hyperparams("
                         f"optax.sgd)(learning_rate=0.01)); it has {sorted(numbers)}")
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
