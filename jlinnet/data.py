"""The tutorial's data: the grid X, the two targets and the batch schedule.

Tutorial, "Neural network: code"::

    X = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1)
    idx = np.random.randint(0, 1000 - batchsize)      # once per step
    x = X[idx:idx + batchsize]
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jlinnet import checks


def grid(n: int = 1000, low: float = -3.0, high: float = 3.0, *,
         dtype: DTypeLike | None = None) -> jax.Array:
    """The tutorial's input grid: `n` evenly spaced points from `low` to `high`.

    Args:
      n: number of points N (>= 1).
      low, high: the ends, both included; low < high, both finite in `dtype`.
      dtype: None (float32, float64 under `jax_enable_x64`) or a floating dtype.

    Returns:
      x: (N, 1), `np.linspace(low, high, n, dtype=dtype).reshape(-1, 1)`.
    """
    n, dtype = checks.positive_int("n", n), checks.float_dtype(dtype)
    most = float(jnp.finfo(dtype).max)
    low, high = (float(checks.reals(k, v, low=-most, high=most, scalar=True))
                 for k, v in (("low", low), ("high", high)))
    if not low < high:
        raise ValueError(f"low and high must be finite in {dtype} with low < high, got {low}"
                         f" and {high}")
    return jnp.asarray(np.linspace(low, high, n, dtype=dtype).reshape(-1, 1))


def _real(x):
    x = jnp.asarray(checks.host("x", x))
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(checks.float_dtype(None))


def linear_target(x: ArrayLike) -> jax.Array:
    """The function the tutorial restores: f(x) = 2x + 3, elementwise (x: any shape)."""
    return 2 * _real(x) + 3


def sine_target(x: ArrayLike) -> jax.Array:
    """The function of "Complicating the function": f(x) = 2 sin x + 5, elementwise."""
    return 2 * jnp.sin(_real(x)) + 5


def batch_starts(key: jax.Array, steps: int, n: int, batchsize: int) -> jax.Array:
    """The batch schedule, the tutorial's `np.random.randint(0, 1000 - batchsize)` per step:
    step t trains on rows starts[t] : starts[t] + B, starts uniform in [0, n - B) (0 if B = n).

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`).
      steps: S >= 1; n: grid points N >= 1; batchsize: B, 1 <= B <= N.

    Returns:
      starts: (S,) int32.
    """
    key = checks.key("key", key)
    steps, n = checks.positive_int("steps", steps), checks.positive_int("n", n)
    batchsize = checks.positive_int("batchsize", batchsize, maximum=n)
    return jax.random.randint(key, (steps,), 0, max(n - batchsize, 1), dtype=jnp.int32)
