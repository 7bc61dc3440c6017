"""The tutorial's own random start, replayed from its NumPy seed: `trainNet` calls
`np.random.seed(4321)`, each `Linear(insize, outsize)` draws `np.random.randn(insize, outsize)`
(biases are zeros), then each step `np.random.randint(0, 1000 - batchsize)`. A private legacy
`RandomState` replays that stream: jlinnet's one use of NumPy randomness."""

from collections.abc import Sequence

import jax
import numpy as np
from jax.typing import DTypeLike

from jlinnet import checks
from jlinnet.model import Activation, Layer, Net, check_net


def tutorial_setup(sizes: Sequence[int], steps: int, batchsize: int, seed: int = 4321,
                   n: int = 1000, *, activation: Activation = None,
                   dtype: DTypeLike | None = None) -> tuple[Net, jax.Array]:
    """The tutorial's initial weights and batch starts for `trainNet`.

    Args:
      sizes: layer sizes (in, hidden..., out); the tutorial's is (1, size, 1).
      steps: S >= 1.
      batchsize: B, 1 <= B < n (the tutorial's randint needs n - B > 0).
      seed: the NumPy seed (the tutorial's 4321), 0 <= seed < 2**32.
      n: grid points N (the tutorial's 1000), 2 <= n < 2**31.
      activation: the network's activation (the tutorial's: None).
      dtype: the weights' floating dtype (cast from NumPy's float64), as in `init_mlp`.

    Returns:
      (net, starts): a `Net` with w = randn(in, out) and b = 0 per layer, and starts: (S,)
      int32 drawn as randint(0, n - batchsize), one per step.
    """
    steps = checks.positive_int("steps", steps)
    n = checks.positive_int("n", n, minimum=2)
    batchsize = checks.positive_int("batchsize", batchsize, maximum=n - 1)
    seed = checks.positive_int("seed", seed, minimum=0, maximum=2**32 - 1)
    dtype = checks.float_dtype(dtype)
    sizes = checks.sizes(sizes)
    rng = np.random.RandomState(seed)  # the stream of np.random.seed(seed)
    weights = [(rng.randn(n_in, n_out).astype(dtype), np.zeros(n_out, dtype))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    starts = rng.randint(0, n - batchsize, size=steps).astype(np.int32)
    weights, starts = jax.device_put((weights, starts))  # a copy to the device, nothing compiled
    net = Net(tuple(Layer(w, b) for w, b in weights), activation)
    check_net(net, fn="tutorial_setup")
    return net, starts
