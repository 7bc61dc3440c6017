"""The loss J and its gradient: the tutorial's `Error` (defined in the previous tutorial).

    J(theta) = 1/(2N) sum_i ||y_i - y_i^p||^2        dJ/dy^p = -(y - y^p) / N

with y the target, y^p the prediction and N the batch size. For one output this is
the tutorial's J and PuzzleLib's MSE.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks


def _pair(pred, target):
    """pred and target as arrays of one float dtype and one (N, out) shape."""
    pred, target = checks.array("pred", pred, ndim=2), checks.array("target", target, ndim=2)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {pred.shape} and {target.shape}"
            " (no broadcasting: reshape one to match)"
        )
    dtype = jnp.result_type(pred, target)
    if not jnp.issubdtype(dtype, jnp.floating):  # integers: differences could overflow
        dtype = checks.default_float()
    return pred.astype(dtype), target.astype(dtype)


def mse(pred: ArrayLike, target: ArrayLike) -> jax.Array:
    """The tutorial's loss J = 1/(2N) sum_i ||y_i - y_i^p||^2.

    Args:
      pred: (N, out) predictions y^p, N >= 1.
      target: (N, out) targets y; the shape must equal pred's exactly.

    Returns:
      J: a scalar, in the inputs' float dtype; float16 and bfloat16 are summed and
      returned in float32 (a half-precision sum over 1000 rows overflows).
    """
    pred, target = _pair(pred, target)
    acc = jnp.promote_types(pred.dtype, jnp.float32)
    return jnp.sum((target.astype(acc) - pred.astype(acc)) ** 2) / (2 * pred.shape[0])


def mse_grad(pred: ArrayLike, target: ArrayLike) -> jax.Array:
    """The exact gradient of `mse` in the prediction: dJ/dy^p = -(y - y^p) / N.

    Args:
      pred: (N, out) predictions y^p, N >= 1.
      target: (N, out) targets y; the shape must equal pred's exactly.

    Returns:
      g: (N, out), the gradient fed to the last layer's backward pass.
    """
    pred, target = _pair(pred, target)
    return -(target - pred) / pred.shape[0]
