"""The collapse to one affine map, and the best affine map: tutorial, "Complicating the function".

A network without activation computes x -> x @ W + b for one (W, b) (`affine_map`), so on
any data its J is at least that of the least-squares line (`least_squares`).
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.model import Net, check_net


def affine_map(net: Net) -> tuple[jax.Array, jax.Array]:
    """The one affine map a network without activation computes: composing affine layers
    gives an affine layer (tutorial, "Complicating the function"), y = x @ W + b with

        W = W1 W2 ... WL,    b = (...((b1 W2 + b2) W3 + b3) ...) WL + bL.

    Args:
      net: one `Net` without activation, sizes (in, ..., out).

    Returns:
      (w, b): w: (in, out), b: (out,), so that forward(net, x) == x @ w + b.
    """
    check_net(net, fn="affine_map")
    if net.activation is not None and len(net) > 1:
        raise ValueError(f"net has the activation {net.activation!r} between its layers, so it is"
                         " not one affine map: affine_map needs a network without activation")
    w, b = net[0]
    for layer in net.layers[1:]:
        w, b = w @ layer.w, b @ layer.w + layer.b
    return w, b


def least_squares(x: ArrayLike, y: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """The best affine map for J, the line no network without activation can beat: solves
    min_{w, b} 1/(2N) sum_i ||y_i - (x_i w + b)||^2 on centred, scaled data; with x̄, ȳ the
    means and s the columns' RMS spread of x - x̄,

        (X^T X) v = X^T (y - ȳ),  X = (x - x̄) / s,   w = v / s,   b = ȳ - x̄ w,

    by a Cholesky factorisation, so x far from 0 (linspace(1000, 1003)) loses no digits.

    Args:
      x: (N, in) inputs, N >= 2; y: (N, out) targets. Integers become the default float.

    Returns:
      (w, b): w: (in, out), b: (out,), like `affine_map`. Without a unique solution (a
      constant column of x, collinear columns): a ValueError for concrete arrays, NaN in a trace.
    """
    x, y = checks.host("x", x), checks.host("y", y)  # converted on the host once
    dtype = jnp.result_type(x, y, checks.float_dtype(None))
    x, y = checks.data("x", x, dtype), checks.data("y", y, dtype)
    if not 2 <= x.shape[0] == y.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, at least 2, got shapes"
                         f" {x.shape} and {y.shape}")
    x_mean, y_mean = jnp.mean(x, axis=0, keepdims=True), jnp.mean(y, axis=0, keepdims=True)
    spread = jnp.sqrt(jnp.mean((x - x_mean) ** 2, axis=0, keepdims=True))
    scale = jnp.where(spread > 0, spread, 1)
    xs = (x - x_mean) / scale
    chol = jnp.linalg.cholesky(xs.T @ xs / x.shape[0])  # unit diagonal when columns are free
    free = jnp.all(jnp.diagonal(chol) ** 2 > 100 * jnp.finfo(dtype).eps)  # no pivot near 0
    v = jax.scipy.linalg.cho_solve((chol, True), xs.T @ (y - y_mean) / x.shape[0])
    w = jnp.where(free, v / scale.T, jnp.nan)
    if not isinstance(free, jax.core.Tracer) and not free:
        raise ValueError(f"x must have linearly independent, non-constant columns for a unique"
                         f" line, got x of shape {x.shape} whose columns are constant or collinear")
    return w, (y_mean - x_mean @ w)[0]
