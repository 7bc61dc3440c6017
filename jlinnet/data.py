"""The tutorial's data: the grid X, the two targets and the batch schedule.

Tutorial, "Neural network: code"::

    X = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1)
    idx = np.random.randint(0, 1000 - batchsize)      # once per step
    x = X[idx:idx + batchsize]
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jlinnet import checks


def grid(n: int = 1000, low: float = -3.0, high: float = 3.0, *, dtype=None) -> jax.Array:
    """The tutorial's input grid: `n` evenly spaced points from `low` to `high`.

    Args:
      n: number of points N (>= 1).
      low, high: the ends of the interval, both included; finite, low < high.
      dtype: a floating dtype; None: float32, or float64 under `jax_enable_x64`.

    Returns:
      x: (N, 1), `np.linspace(low, high, n, dtype=dtype).reshape(-1, 1)`.
    """
    n = checks.positive_int("n", n)
    dtype = checks.float_dtype("dtype", dtype)
    for name, end in (("low", low), ("high", high)):
        if isinstance(end, bool) or not isinstance(end, numbers.Real) or not np.isfinite(end):
            raise ValueError(f"{name} must be a finite number, got {end!r}")
    if not low < high:
        raise ValueError(f"low must be smaller than high, got {low} and {high}")
    return jnp.asarray(np.linspace(low, high, n, dtype=dtype).reshape(-1, 1))


def linear_target(x: ArrayLike) -> jax.Array:
    """The function the tutorial restores: f(x) = 2x + 3, elementwise.

    Args:
      x: array of any shape, e.g. (N, 1); integers become the default float dtype.

    Returns:
      2x + 3, same shape as `x`.
    """
    return 2 * _real("x", x) + 3


def sine_target(x: ArrayLike) -> jax.Array:
    """The function of "Complicating the function": f(x) = 2 sin x + 5, elementwise.

    Args:
      x: array of any shape, e.g. (N, 1); integers become the default float dtype.

    Returns:
      2 sin x + 5, same shape as `x`.
    """
    return 2 * jnp.sin(_real("x", x)) + 5


def _real(name, x):
    x = checks.array(name, x, ndim=np.ndim(x), allow_empty=True)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(checks.default_float())


def batch_starts(key: jax.Array, steps: int, n: int, batchsize: int) -> jax.Array:
    """The batch schedule: one window start per step, uniform in [0, n - batchsize).

    The JAX counterpart of the tutorial's `np.random.randint(0, 1000 - batchsize)`
    per step; step t trains on rows `starts[t] : starts[t] + batchsize`. With
    batchsize = n (the whole grid as one batch) every start is 0.

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`).
      steps: number of steps S (>= 1).
      n: number of grid points N (>= 1).
      batchsize: window length B, 1 <= B <= N.

    Returns:
      starts: (S,) int32.
    """
    checks.key("key", key)
    steps = checks.positive_int("steps", steps)
    n = checks.positive_int("n", n)
    batchsize = checks.positive_int("batchsize", batchsize)
    if batchsize > n:
        raise ValueError(f"batchsize must be at most n={n}, got {batchsize}")
    return jax.random.randint(key, (steps,), 0, max(n - batchsize, 1), dtype=jnp.int32)
