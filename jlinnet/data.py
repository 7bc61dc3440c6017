"""The tutorial's data: the grid X, the two targets and the batch schedule.

Tutorial, "Neural network: code"::

    X = np.linspace(-3, 3, 1000, dtype=np.float32).reshape(-1, 1)
    idx = np.random.randint(0, 1000 - batchsize)      # once per step
    x = X[idx:idx + batchsize]
"""

import jax
import jax.numpy as jnp
import numpy as np

from jlinnet import _check


def grid(n=1000, low=-3.0, high=3.0):
    """The tutorial's input grid: `n` evenly spaced points from `low` to `high`.

    Args:
      n: number of points N (>= 1).
      low, high: the ends of the interval, both included.

    Returns:
      x: (N, 1) float32, `np.linspace(low, high, n, dtype=float32).reshape(-1, 1)`.
    """
    n = _check.positive_int("n", n)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"low and high must be finite with low < high, got {low} and {high}")
    return jax.device_put(np.linspace(low, high, n, dtype=np.float32).reshape(-1, 1))


@jax.jit
def linear_target(x):
    """The function the tutorial restores: f(x) = 2x + 3, elementwise.

    Args:
      x: array of any shape, e.g. (N, 1).

    Returns:
      2x + 3, same shape and dtype as `x`.
    """
    return 2 * x + 3


@jax.jit
def sine_target(x):
    """The function of "Complicating the function": f(x) = 2 sin x + 5, elementwise.

    Args:
      x: array of any shape, e.g. (N, 1).

    Returns:
      2 sin x + 5, same shape and dtype as `x`.
    """
    return 2 * jnp.sin(x) + 5


def batch_starts(key, steps, n, batchsize):
    """The batch schedule: one window start per step, uniform in [0, n - batchsize).

    The JAX counterpart of the tutorial's `np.random.randint(0, 1000 - batchsize)`
    per step; step t trains on rows `starts[t] : starts[t] + batchsize`.

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`).
      steps: number of steps S (>= 1).
      n: number of grid points N.
      batchsize: window length B, 1 <= B < N (randint's high must exceed its low).

    Returns:
      starts: (S,) int32.
    """
    steps = _check.positive_int("steps", steps)
    n = _check.positive_int("n", n, minimum=2)
    batchsize = _check.positive_int("batchsize", batchsize)
    if batchsize >= n:
        raise ValueError(f"batchsize must be smaller than n={n}, got {batchsize}")
    return jax.random.randint(key, (steps,), 0, n - batchsize, dtype=jnp.int32)
