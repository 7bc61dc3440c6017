"""Training: the tutorial's `Net.optimize` step, and a whole run as one compiled `lax.scan`.

Tutorial, `trainNet`: for each step, take the window X[s : s + batchsize], compute
the batch error, backpropagate and update every parameter,

    theta_{t+1} = theta_t - lr * dJ/dtheta            (optax.sgd(lr))

Here the loop is a `lax.scan` over the schedule `starts`, compiled once per
shape; the update is any optax `GradientTransformation`.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jlinnet import _check
from jlinnet.backprop import autodiff_grads
from jlinnet.loss import _mse
from jlinnet.model import _forward, check_activation, check_params


class TrainResult(NamedTuple):
    """What a training run returns.

    Attributes:
      params: the trained parameters, shaped like the initial ones.
      losses: (S,) the batch loss J before each update (what the tutorial prints).
      opt_state: the optimizer's final state (pass it back to continue a run).
      nonfinite_step: () int32, the first step whose loss is not finite; S if only
        the final parameters are; -1 if the whole run stayed finite.
    """

    params: Any
    losses: jax.Array
    opt_state: Any
    nonfinite_step: jax.Array


def check_run(params, xs, ys, starts, batchsize, optimizer, grads, activation):
    """Checks `train`'s arguments (shapes and values known before tracing).

    Returns:
      (N, S): grid points and steps.
    """
    sizes = check_params(params)
    (n, _) = _check.array("xs", xs, ndim=2, features=sizes[0])
    (n_y, _) = _check.array("ys", ys, ndim=2, features=sizes[-1], what="outputs")
    if n_y != n:
        raise ValueError(f"xs and ys must have the same length, got {n} and {n_y}")
    steps = _check.int_vector("starts", starts)
    batchsize = _check.positive_int("batchsize", batchsize)
    if batchsize > n:
        raise ValueError(f"batchsize must be at most len(xs)={n}, got {batchsize}")
    values = _check.concrete(starts)
    if values is not None and (values.min() < 0 or values.max() > n - batchsize):
        raise ValueError(
            f"starts must lie in [0, {n - batchsize}] so every window of {batchsize} fits"
            f" in {n} rows, got values from {values.min()} to {values.max()}"
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax GradientTransformation such as optax.sgd(0.01),"
            f" got {type(optimizer).__name__}"
        )
    if not callable(grads):
        raise TypeError(f"grads must be a function (params, x, y) -> params, got {grads!r}")
    check_activation(activation)
    return n, steps


def train(
    params,
    xs,
    ys,
    starts,
    *,
    batchsize,
    optimizer,
    grads=autodiff_grads,
    activation=None,
    opt_state=None,
):
    """Trains one network over the schedule `starts`, as one compiled `lax.scan`.

    Step t takes x = xs[s : s + batchsize], y = ys[s : s + batchsize] with
    s = starts[t], records J(params_t) on that batch, and applies
    `optimizer.update(grads(params_t, x, y))`. With `optax.sgd(lr)` that is the
    tutorial's update theta <- theta - lr dJ/dtheta.

    `batchsize`, `optimizer`, `grads` and `activation` are static: a new value
    (or a new optimizer object) compiles again. To sweep the learning rate without
    recompiling, build the optimizer once with `optax.inject_hyperparams` and pass
    each rate in `opt_state` (see the README).

    Args:
      params: a tuple of `Layer`s, sizes (in, ..., out).
      xs: (N, in) the grid the batches are cut from.
      ys: (N, out) the targets on that grid.
      starts: (S,) integer window starts, each in [0, N - batchsize].
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`; `optax.sgd(lr)` is the tutorial's.
      grads: (params, x, y, *, activation) -> params-shaped gradients;
        `autodiff_grads` (default) or `manual_grads`.
      activation: None (the tutorial's network) or a name in `ACTIVATIONS`.
      opt_state: the optimizer's initial state; None means `optimizer.init(params)`.

    Returns:
      A `TrainResult(params, losses (S,), opt_state, nonfinite_step)`.
    """
    check_run(params, xs, ys, starts, batchsize, optimizer, grads, activation)
    return _train(params, xs, ys, starts, opt_state, batchsize, optimizer, grads, activation)


def make_step(xs, ys, batchsize, optimizer, grads, activation):
    """One step of the tutorial's loop (`Net.optimize` on one window), as a scan body.

    Returns:
      step((params, opt_state), s) -> ((params', opt_state'), J): cuts
      x = xs[s : s + batchsize], y = ys[s : s + batchsize], records the batch
      error J(params) and applies `optimizer.update(grads(params, x, y))`.
    """

    def step(carry, s):
        params, opt_state = carry
        x = lax.dynamic_slice_in_dim(xs, s, batchsize)
        y = lax.dynamic_slice_in_dim(ys, s, batchsize)
        loss = _mse(_forward(params, x, activation), y)  # the batch error before the update
        g = grads(params, x, y, activation=activation)
        updates, opt_state = optimizer.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return step


def run(params, xs, ys, starts, opt_state, batchsize, optimizer, grads, activation):
    """`train` without the checks and the jit: the traceable body (vmap it for many)."""
    if opt_state is None:
        opt_state = optimizer.init(params)
    step = make_step(xs, ys, batchsize, optimizer, grads, activation)
    # Two steps per loop iteration: on CPU a tutorial-sized step costs about as much
    # as the loop around it, so this is ~20% faster; more unrolling made it slower.
    (params, opt_state), losses = lax.scan(step, (params, opt_state), starts, unroll=2)
    return TrainResult(params, losses, opt_state, _nonfinite_step(losses, params))


_train = jax.jit(run, static_argnums=(5, 6, 7, 8))


def _nonfinite_step(losses, params):
    bad = ~jnp.isfinite(losses)
    finite_end = jnp.all(jnp.array([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    after = jnp.where(finite_end, -1, losses.shape[0])
    return jnp.where(jnp.any(bad), jnp.argmax(bad), after).astype(jnp.int32)


def with_hyperparams(opt_state, **values):
    """A copy of an `optax.inject_hyperparams` state with new hyperparameter values.

    The way to sweep a learning rate without recompiling: build the optimizer once,
    `opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)`, then pass
    `opt_state=with_hyperparams(opt.init(params), learning_rate=lr)` to `train`.
    Each value keeps the dtype and shape of the one it replaces (weak types would
    re-trace), so for `K` networks it is a (K,) array.

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
        old = hyperparams[name]
        value = jnp.asarray(value, dtype=old.dtype)
        if value.shape != old.shape:
            raise ValueError(f"{name} must have shape {old.shape}, got {value.shape}")
        new[name] = value
    return opt_state._replace(hyperparams=new)
