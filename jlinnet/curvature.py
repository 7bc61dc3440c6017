"""Curvature: the sharpness lambda_max of J, the scale of the rates gradient descent can take.

On a quadratic with curvature lambda, gradient descent theta <- theta - lr * grad J
multiplies the error along that direction by (1 - lr * lambda) each step, so it
diverges beyond lr = 2 / lambda. For a network the largest eigenvalue of the Hessian

    H = d^2 J / dtheta^2,    J(theta) = 1/(2N) sum_i ||y_i - net_theta(x_i)||^2

plays that part near the current weights, which training moves. Measured one network at a
time (`python -m experiments.curvature`, docs/findings-divergence.md): for full-batch gradient
descent 2/lambda_max at initialisation ranks the networks' edges but sits under them (0.25 to
1.31 of a network's own edge; for wide networks the edge is 4/lambda_max, a catapult), and for
batch-1 SGD it gives the order of magnitude only (0.32 to 4.05 times a network's edge). Batch-1
SGD sees one example's J at a time:
`jax.vmap(lambda x, y: sharpness(net, x[None], y[None]))(xs, ys)` is (N,) per example.
"""

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.loss import J
from jlinnet.model import Net, apply, check_net


def sharpness(net: Net, xs: ArrayLike, ys: ArrayLike, *, iters: int = 100,
              key: jax.Array | None = None) -> jax.Array:
    """The largest (most positive) eigenvalue lambda_max of the Hessian of J in the weights.

    Power iteration on Hessian-vector products Hv = jvp(grad J)(theta; v), so H is never
    formed. It finds the eigenvalue of largest magnitude, and H can have negative ones (W2 W1
    makes J non-convex), so a first run finds the dominant u and a second iterates H + c I,
    c = (||Hu|| - u^T H u) / 2 (0 if lambda_max dominates, about |lambda_min| if that does):

        v <- (H + c I) v / ||(H + c I) v||,    lambda_max = v^T H v

    Pure: `jit` (`iters` static) and `vmap`, e.g. `jax.vmap(sharpness, in_axes=(0, None, None))`.

    Args:
      net: one `Net`; its weights and biases are theta.
      xs: (N, in) inputs; ys: (N, out) targets (J's batch: the grid, or one row).
      iters: Hessian-vector products per run (static); the error shrinks like
        (max_i |lambda_i + c| / (lambda_max + c))^(2 iters): slowly where the top two are close.
      key: the random start vector's key; None: `jax.random.key(0)`.

    Returns:
      lambda_max: a scalar in the weights' dtype.
    """
    sizes, dtype = check_net(net, fn="sharpness")
    xs = checks.data("xs", xs, dtype, features=sizes[0])
    ys = checks.data("ys", ys, dtype, features=sizes[-1])
    if xs.shape[0] != ys.shape[0]:
        raise ValueError(f"ys must have one row per row of xs ({xs.shape[0]}), got {ys.shape}")
    iters = checks.positive_int("iters", iters)
    key = jax.random.key(0) if key is None else checks.key("key", key)
    theta, unravel = ravel_pytree(net)
    grad = jax.grad(lambda t: J(apply(unravel(t), xs), ys))

    def hvp(v):  # H v = d/de grad J(theta + e v) at e = 0
        return jax.jvp(grad, (theta,), (v,))[1]

    def power(shift, v):
        def step(_, v):
            u = hvp(v) + shift * v
            return u / jnp.linalg.norm(u)

        return jax.lax.fori_loop(0, iters, step, v)

    v = jax.random.normal(key, theta.shape, theta.dtype)
    v = v / jnp.linalg.norm(v)
    u = power(0.0, v)
    hu = hvp(u)
    shift = (jnp.linalg.norm(hu) - u @ hu) / 2  # in [0, max |lambda|]
    v = power(shift, v)
    return v @ hvp(v)
