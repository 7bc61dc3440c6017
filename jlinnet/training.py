"""Training: the tutorial's `Net.optimize` step, and a whole run as one compiled `lax.scan`.

Tutorial, `trainNet`: for each step, take the window X[s : s + batchsize], compute
the batch error, backpropagate and update every weight,

    theta_{t+1} = theta_t - lr * dJ/dtheta            (optax.sgd(lr))

Here the loop is a `lax.scan` over the schedule `starts`, compiled once per shape
and settings; the update is any optax `GradientTransformation`.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.backprop import autodiff_grads
from jlinnet.loss import mse
from jlinnet.model import Network, forward, unpack

Grads = Callable[[Network, jax.Array, jax.Array], Network]
# The settings that change the program, in this order wherever they appear.
SETTINGS = ("batchsize", "optimizer", "grads")


class TrainResult(NamedTuple):
    """What a training run returns.

    Attributes:
      params: the trained network, shaped like the initial one.
      losses: (S,) the batch loss J before each update (what the tutorial prints).
      opt_state: the optimizer's final state (pass it back to continue a run).
      nonfinite_step: () int32, the first step (0-based) whose loss is not finite; S
        if only the final weights are (the last update overflowed); -1 if the whole
        run stayed finite.
    """

    params: Any
    losses: jax.Array
    opt_state: Any
    nonfinite_step: jax.Array


def train(
    net: Network,
    xs: ArrayLike,
    ys: ArrayLike,
    starts: ArrayLike,
    *,
    batchsize: int,
    optimizer: optax.GradientTransformation,
    grads: Grads = autodiff_grads,
    opt_state: optax.OptState | None = None,
) -> TrainResult:
    """Trains one network over the schedule `starts`, as one compiled `lax.scan`.

    Step t takes x = xs[s : s + B], y = ys[s : s + B] with s = starts[t], records
    J(net_t) on that batch, and applies `optimizer.update(grads(net_t, x, y))`. With
    `optax.sgd(lr)` that is the tutorial's update theta <- theta - lr dJ/dtheta.

    `batchsize`, `optimizer` and `grads` are static: a new value (or a new optimizer
    object) compiles again. To sweep the learning rate without recompiling, build the
    optimizer once with `optax.inject_hyperparams` and pass each rate in `opt_state`
    (`with_hyperparams`).

    Shapes, dtypes and settings are checked while tracing, so under `jax.jit`, `vmap`
    or `grad` too. The starts' values are only known when the program runs: a start
    outside [0, N - B] gets NaN targets instead of a clamped window: its step's loss and
    gradients are NaN, so the weights go NaN and `nonfinite_step` names that step.
    Starts passed as NumPy data are checked before the run: a ValueError.

    Args:
      net: a `Net` or a tuple of `Layer`s, sizes (in, ..., out); its activation is used.
      xs: (N, in) the grid the batches are cut from; cast to the weights' dtype.
      ys: (N, out) the targets on that grid; cast likewise.
      starts: (S,) integer window starts, each in [0, N - B].
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`; `optax.sgd(lr)` is the tutorial's.
      grads: (net, x, y) -> gradients shaped like net; `autodiff_grads` (default) or
        `manual_grads`.
      opt_state: the optimizer's initial state; None means `optimizer.init(net)`.

    Returns:
      A `TrainResult(params, losses (S,), opt_state, nonfinite_step)`.
    """
    if isinstance(starts, np.ndarray):  # host data: checking it costs no transfer
        check_starts(starts, xs, batchsize)
    try:
        return _train(net, xs, ys, starts, opt_state, batchsize=batchsize, optimizer=optimizer,
                      grads=grads)
    except (TypeError, ValueError):
        checks.jit_arguments(dict(net=net, xs=xs, ys=ys, starts=starts, opt_state=opt_state),
                             dict(batchsize=batchsize, optimizer=optimizer, grads=grads))
        raise


def check_starts(starts: np.ndarray, xs, batchsize) -> None:
    """Raises a ValueError if host-side `starts` leave the grid (windows of `batchsize`)."""
    n = xs.shape[0] if getattr(xs, "ndim", 0) else None
    if not (isinstance(batchsize, int) and n and starts.size and starts.dtype.kind in "iu"):
        return  # a type or shape problem: the traced checks name it
    low, high = starts.min(), starts.max()
    if low < 0 or high > n - batchsize:
        raise ValueError(
            f"starts must lie in [0, {n - batchsize}] so every window of {batchsize} rows fits"
            f" in {n}, got values from {low} to {high}"
        )


def check_settings(n: int, batchsize, optimizer, grads) -> int:
    """Checks the static settings of a run on a grid of `n` rows; returns B."""
    batchsize = checks.positive_int("batchsize", batchsize)
    if batchsize > n:
        raise ValueError(f"batchsize must be at most len(xs)={n}, got {batchsize}")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax GradientTransformation such as optax.sgd(0.01),"
            f" got {type(optimizer).__name__}"
        )
    if not callable(grads):
        raise TypeError(f"grads must be a function (net, x, y) -> gradients, got {grads!r}")
    return batchsize


def check_like(name: str, tree, reference, what: str) -> None:
    """Raises unless `tree` has the structure, shapes and dtypes of `reference`."""
    shapes = [(np.shape(a), getattr(a, "dtype", type(a).__name__)) for a in jax.tree.leaves(tree)]
    wanted = [(np.shape(a), a.dtype) for a in jax.tree.leaves(reference)]
    if jax.tree.structure(tree) != jax.tree.structure(reference) or shapes != wanted:
        raise ValueError(
            f"{name} must match {what}: got {jax.tree.structure(tree)} with (shape, dtype)"
            f" {shapes}, need {jax.tree.structure(reference)} with {wanted}"
        )


def make_step(xs, ys, batchsize: int, optimizer, grads):
    """One step of the tutorial's loop (`Net.optimize` on one window), as a scan body.

    Returns:
      step((net, opt_state), s) -> ((net', opt_state'), J): cuts x = xs[s : s + B],
      y = ys[s : s + B], records the batch error J(net) and applies
      `optimizer.update(grads(net, x, y))`. A start outside [0, N - B], which
      `dynamic_slice` would clamp, gets NaN targets instead: a NaN loss, NaN gradients.
    """
    last = xs.shape[0] - batchsize

    def step(carry, s):
        net, opt_state = carry
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)
        y = jnp.where((s >= 0) & (s <= last), y, jnp.nan)  # never a clamped window
        loss = mse(forward(net, x), y)  # the batch error J before the update
        g = grads(net, x, y)
        check_like("grads(net, x, y)", g, net, "net (one gradient per weight)")
        updates, opt_state = optimizer.update(g, opt_state, net)
        return (optax.apply_updates(net, updates), opt_state), loss

    return step


def run(net, xs, ys, starts, opt_state=None, *, batchsize, optimizer, grads) -> TrainResult:
    """`train` as a traceable function: its checks, then the scan (vmap it for many)."""
    _, _, sizes, dtype = unpack(net)
    xs = checks.data("xs", xs, dtype, features=sizes[0])
    ys = checks.data("ys", ys, dtype, features=sizes[-1], what="outputs")
    n = xs.shape[0]
    if ys.shape[0] != n:
        raise ValueError(f"xs and ys must have the same length, got {n} and {ys.shape[0]}")
    starts = checks.integers("starts", starts, ndim=1)
    batchsize = check_settings(n, batchsize, optimizer, grads)
    if opt_state is None:
        opt_state = optimizer.init(net)
    else:
        check_like("opt_state", opt_state, jax.eval_shape(optimizer.init, net),
                   "optimizer.init(net) (a state from another optimizer or network?)")
    step = make_step(xs, ys, batchsize, optimizer, grads)

    def counted(carry, s):  # the step, counting the steps before the first non-finite loss
        state, finite, count = carry
        state, loss = step(state, s)
        finite = finite + loss * 0  # 0 while every loss is finite, NaN from the first that isn't
        return (state, finite, count + jnp.isfinite(finite)), loss

    # Counted in the loop: a pass over the (S,) losses after it cost ~40 us at S = 10,000 on
    # CPU. Two steps per loop iteration: a tutorial-sized step costs about as much as the
    # loop around it, so this is ~20% faster; more unrolling made it slower.
    zero = starts[0] * 0  # from the data: inside shard_map the carry must vary like it
    start = ((net, opt_state), zero.astype(jnp.promote_types(dtype, jnp.float32)), zero)
    ((net, opt_state), _, count), losses = lax.scan(counted, start, starts, unroll=2)
    return TrainResult(net, losses, opt_state, nonfinite_step(count, starts.shape[0], net))


def nonfinite_step(count: jax.Array, steps: int, net) -> jax.Array:
    """The first step whose loss is not finite, from `count`, the steps before it; S if only
    the final `net` is not finite; -1 if the whole run is."""
    net_finite = jnp.isfinite(sum(jnp.sum(w * 0) for w in jax.tree.leaves(net)))  # 0 or NaN
    return jnp.where(count < steps, count, jnp.where(net_finite, -1, steps)).astype(jnp.int32)


_train = jax.jit(run, static_argnames=SETTINGS)


def with_hyperparams(opt_state: optax.OptState, **values: ArrayLike) -> optax.OptState:
    """A copy of an `optax.inject_hyperparams` state with new hyperparameter values.

    The way to sweep a learning rate without recompiling: build the optimizer once,
    `opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)`, then pass
    `opt_state=with_hyperparams(opt.init(net), learning_rate=lr)` to `train`. Each
    value keeps the dtype and shape of the one it replaces (weak types would re-trace),
    so for K networks it is a (K,) array. A hyperparameter given to
    `inject_hyperparams` as a schedule is recomputed at every step, so setting it here
    would be ignored: that is an error, as is a value that is not finite in its dtype
    (checked when the value is known, i.e. outside a trace).

    Args:
      opt_state: a state made by an `inject_hyperparams` optimizer's `init`.
      **values: name -> new value (scalar, or (K,) for a state with a leading K).

    Returns:
      The state with `hyperparams[name]` replaced; the argument is not changed.
    """
    hyperparams = getattr(opt_state, "hyperparams", None)
    if not isinstance(hyperparams, dict):
        raise TypeError(
            "opt_state must come from an optax.inject_hyperparams optimizer's init,"
            f" got {type(opt_state).__name__}"
        )
    new = dict(hyperparams)
    for name, value in values.items():
        if name not in hyperparams:
            raise ValueError(f"{name} is not a hyperparameter of opt_state: {sorted(hyperparams)}")
        if name in getattr(opt_state, "hyperparams_states", {}):
            raise ValueError(
                f"{name} is a schedule in this optimizer, recomputed at every step, so a value"
                f" set here would be ignored: build it with a number, e.g."
                f" inject_hyperparams(optax.sgd)({name}=0.01)"
            )
        old = hyperparams[name]
        value = checks.array(name, value, ndim=np.ndim(value), allow_empty=True)
        if value.shape != old.shape:
            raise ValueError(f"{name} must have shape {old.shape}, got {value.shape}")
        value = value.astype(old.dtype)
        if not checks.is_traced(value) and not np.all(np.isfinite(value)):
            raise ValueError(f"{name} must be finite in {old.dtype}, got {np.asarray(value)}")
        new[name] = value
    return opt_state._replace(hyperparams=new)
