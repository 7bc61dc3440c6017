"""The tutorial's own random start, replayed from its NumPy seed.

`trainNet` begins with `np.random.seed(4321)`, then each `Linear(insize, outsize)`
draws `np.random.randn(insize, outsize)` in order (biases are zeros), then every
step draws `np.random.randint(0, 1000 - batchsize)`. This module replays that
stream with a private legacy `RandomState`, so a JAX run starts from exactly the
tutorial's weights and sees exactly its batches. It is the one place in jlinnet
that uses NumPy randomness.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jlinnet import _check
from jlinnet.model import Layer


def tutorial_setup(sizes, steps, batchsize, seed=4321, n=1000, dtype=jnp.float32):
    """The tutorial's initial weights and batch starts for `trainNet`.

    Args:
      sizes: layer sizes (in, hidden..., out); the tutorial's is (1, size, 1).
      steps: number of steps S (>= 1).
      batchsize: B, 1 <= B < n.
      seed: the NumPy seed (the tutorial's 4321).
      n: grid points N (the tutorial's 1000).
      dtype: the parameters' dtype (NumPy draws float64; they are cast).

    Returns:
      (params, starts): params a tuple of `Layer`s with w = randn(in, out) and b = 0,
      starts: (S,) int32 drawn as randint(0, n - batchsize), one per step.
    """
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two layer sizes, got {sizes!r}")
    sizes = tuple(_check.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes))
    steps = _check.positive_int("steps", steps)
    n = _check.positive_int("n", n, minimum=2)
    batchsize = _check.positive_int("batchsize", batchsize)
    if batchsize >= n:
        raise ValueError(f"batchsize must be smaller than n={n}, got {batchsize}")
    _check.positive_int("seed", seed, minimum=0)
    rng = np.random.RandomState(seed)  # the stream of np.random.seed(seed)
    dtype = np.dtype(dtype)  # cast on the host and copy over: nothing to compile
    params = tuple(
        Layer(rng.randn(n_in, n_out).astype(dtype), np.zeros(n_out, dtype))
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    )
    # One randint per step; drawing them with size=steps gives the same stream.
    starts = rng.randint(0, n - batchsize, size=steps)
    return jax.device_put((params, starts.astype(np.int32)))
