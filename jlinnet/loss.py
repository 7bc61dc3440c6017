"""The loss J and its gradient: the tutorial's `Error` (defined in the previous tutorial).

    J(theta) = 1/(2N) sum_i ||y_i - y_i^p||^2        dJ/dy^p = -(y - y^p) / N

with y the target, y^p the prediction and N the batch size. For one output this is
the tutorial's J and PuzzleLib's MSE.
"""

import jax
import jax.numpy as jnp

from jlinnet import _check


def _check_pair(pred, target):
    _check.array("pred", pred, ndim=2)
    _check.same_shape("pred", pred, "target", target)


def mse(pred, target):
    """The tutorial's loss J = 1/(2N) sum_i ||y_i - y_i^p||^2.

    Args:
      pred: (N, out) predictions y^p.
      target: (N, out) targets y; the shape must equal pred's exactly.

    Returns:
      J: a scalar.
    """
    _check_pair(pred, target)
    return _mse(pred, target)


@jax.jit
def _mse(pred, target):
    return jnp.sum((target - pred) ** 2) / (2 * pred.shape[0])


def mse_grad(pred, target):
    """The exact gradient of `mse` in the prediction: dJ/dy^p = -(y - y^p) / N.

    Args:
      pred: (N, out) predictions y^p.
      target: (N, out) targets y; the shape must equal pred's exactly.

    Returns:
      g: (N, out), the gradient fed to the last layer's backward pass.
    """
    _check_pair(pred, target)
    return _mse_grad(pred, target)


@jax.jit
def _mse_grad(pred, target):
    return -(target - pred) / pred.shape[0]
