"""The loss J and its gradient: the tutorial's `Error` (defined in the previous tutorial).

    J(theta) = 1/(2N) sum_i ||y_i - y_i^p||^2        dJ/dy^p = -(y - y^p) / N

with y the target, y^p the prediction and N the batch size. For one output this is the
tutorial's J and PuzzleLib's MSE.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks


def J(pred: jax.Array, target: jax.Array) -> jax.Array:
    """`mse` below the boundary; half precision is summed in float32."""
    acc = jnp.promote_types(pred.dtype, jnp.float32)
    return jnp.sum((target.astype(acc) - pred.astype(acc)) ** 2) / (2 * pred.shape[0])


def _pair(pred, target):
    """pred and target as (N, out) arrays of one float dtype (integers: at least float32)."""
    pred, target = checks.host("pred", pred), checks.host("target", target)  # on the host, once
    floats = [d for d in map(jnp.result_type, (pred, target)) if jnp.issubdtype(d, jnp.floating)]
    dtype = jnp.result_type(*floats) if floats else checks.float_dtype(None)
    if len(floats) == 1:  # an integer beside a float: exact enough in at least float32
        dtype = jnp.promote_types(dtype, jnp.float32)
    pred, target = checks.data("pred", pred, dtype), checks.data("target", target, dtype)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape (no broadcasting), got"
                         f" {pred.shape} and {target.shape}")
    return pred, target


def mse(pred: ArrayLike, target: ArrayLike) -> jax.Array:
    """The tutorial's loss J = 1/(2N) sum_i ||y_i - y_i^p||^2.

    Args:
      pred: (N, out) predictions y^p, N >= 1; target: (N, out) targets y, the same shape.

    Returns:
      J, a scalar in the inputs' float dtype; half precision is summed and returned in
      float32 (a float16 sum over 1000 rows overflows).
    """
    return J(*_pair(pred, target))


def mse_grad(pred: ArrayLike, target: ArrayLike) -> jax.Array:
    """The exact gradient of `mse` in the prediction, dJ/dy^p = -(y - y^p) / N: (N, out),
    where the last layer's backward pass starts; pred and target as in `mse`."""
    pred, target = _pair(pred, target)
    return -(target - pred) / pred.shape[0]
