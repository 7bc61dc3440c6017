"""The collapse to one affine map, and the best affine map: tutorial, "Complicating the function".

A network without activation computes x -> x @ W + b for one (W, b) (`affine_map`),
so on any data its J is at least that of the least-squares line (`least_squares`).
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.model import Network, unpack


def affine_map(net: Network) -> tuple[jax.Array, jax.Array]:
    """The one affine map a network without activation computes.

    Composing affine layers gives an affine layer (tutorial, "Complicating the
    function"): y = x @ W + b with

        W = W1 W2 ... WL,    b = (...((b1 W2 + b2) W3 + b3) ...) WL + bL.

    Args:
      net: a `Net` without activation, or a tuple of `Layer`s; sizes (in, ..., out).

    Returns:
      (w, b): w: (in, out), b: (out,), so that forward(net, x) == x @ w + b.
    """
    layers, activation, _, _ = unpack(net)
    if activation is not None and len(layers) > 1:
        raise ValueError(
            f"net has the activation {activation!r} between its layers, so it is not one affine"
            " map: affine_map needs a network without activation"
        )
    w, b = layers[0]
    for layer in layers[1:]:
        w, b = w @ layer.w, b @ layer.w + layer.b
    return w, b


def least_squares(x: ArrayLike, y: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The best affine map for J, the line no network without activation can beat.

    Solves min_{w, b} 1/(2N) sum_i ||y_i - (x_i w + b)||^2 on centred, scaled data:
    with x̄, ȳ the means and s the columns' RMS spread of x - x̄,

        (X^T X) v = X^T (y - ȳ),  X = (x - x̄) / s,   w = v / s,   b = ȳ - x̄ w,

    by a Cholesky factorisation, so x far from 0 (linspace(1000, 1003)) loses no
    digits to the normal equations. A network without activation is one affine map
    (`affine_map`), so its J on (x, y) is at least this map's.

    Args:
      x: (N, in) inputs, N >= 2; integer data is cast to the default float dtype.
      y: (N, out) targets.

    Returns:
      (w, b): w: (in, out), b: (out,), like `affine_map`. If the fit has no unique
      solution (a constant column of x, collinear columns) the result is NaN inside a
      trace, and a ValueError when called with concrete arrays.
    """
    x, y = checks.array("x", x, ndim=2), checks.array("y", y, ndim=2)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"x must have at least 2 rows for a line to be determined, got {x.shape}")
    dtype = jnp.result_type(x, y, checks.default_float())
    x, y = x.astype(dtype), y.astype(dtype)
    x_mean, y_mean = jnp.mean(x, axis=0), jnp.mean(y, axis=0)
    xc = x - x_mean[None, :]
    spread = jnp.sqrt(jnp.mean(xc**2, axis=0))
    scale = jnp.where(spread > 0, spread, 1)
    xs = xc / scale[None, :]
    chol = jnp.linalg.cholesky(xs.T @ xs / x.shape[0])  # unit diagonal when columns are free
    # A pivot near 0: that column is (nearly) a combination of the others, or constant.
    pivots = jnp.diagonal(chol)
    free = jnp.all(pivots**2 > 100 * jnp.finfo(dtype).eps)
    v = jax.scipy.linalg.cho_solve((chol, True), xs.T @ (y - y_mean[None, :]) / x.shape[0])
    w = jnp.where(free, v / scale[:, None], jnp.nan)
    b = y_mean - x_mean @ w
    if not checks.is_traced(w) and not free:
        raise ValueError(
            f"x must have linearly independent, non-constant columns for a unique line, got"
            f" x of shape {x.shape} whose columns are constant or collinear"
        )
    return w, b
