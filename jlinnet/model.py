"""The network: layers as an immutable pytree, `init_mlp`, `forward`, `affine_map`.

Tutorial, "Neural network: theory" and class `Linear`. The maths is written
column-first (z = W x + b); the code, like the tutorial's, is batch-first, so a
layer holds the transposed matrix and computes

    z = x @ w + b        x: (B, in), w: (in, out), b: (out,), z: (B, out)

and `params[l].w[j-1, i-1]` is the tutorial's w_ij^(l+1).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jlinnet import _check


class Layer(NamedTuple):
    """One affine layer, the tutorial's `Linear`: z = x @ w + b.

    Attributes:
      w: (in, out) weights.
      b: (out,) biases.
    """

    w: jax.Array
    b: jax.Array


# name -> (f, f') with f' as a function of the pre-activation a.
ACTIVATIONS = {
    "tanh": (jnp.tanh, lambda a: 1 - jnp.tanh(a) ** 2),
    "relu": (jax.nn.relu, lambda a: (a > 0).astype(a.dtype)),
    "sigmoid": (jax.nn.sigmoid, lambda a: jax.nn.sigmoid(a) * (1 - jax.nn.sigmoid(a))),
}


def _uniform(wscale):
    def init(key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, -wscale, wscale)

    return init


# name -> wscale -> jax.nn.initializers-style init(key, shape, dtype); wscale scales the std.
INIT_SCHEMES = {
    # The tutorial's `np.random.randn(insize, outsize)`: w ~ N(0, wscale^2).
    "gaussian": lambda s: jax.nn.initializers.normal(stddev=s),
    # PuzzleLib's default: Glorot, U(-a, a) with a = wscale sqrt(6 / (in + out)).
    "xavier_uniform": lambda s: jax.nn.initializers.variance_scaling(s**2, "fan_avg", "uniform"),
    "xavier_normal": lambda s: jax.nn.initializers.variance_scaling(s**2, "fan_avg", "normal"),
    # He: N(0, 2 wscale^2 / in).
    "he": lambda s: jax.nn.initializers.variance_scaling(2 * s**2, "fan_in", "normal"),
    # U(-wscale, wscale).
    "uniform": _uniform,
}


def check_activation(activation):
    """Raises unless `activation` is None or a name in `ACTIVATIONS`."""
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be None or one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )


def check_params(params, name="params"):
    """Checks that `params` is a non-empty tuple of `Layer`s whose shapes chain.

    Returns:
      sizes: the layer sizes (in, hidden..., out) as a tuple of ints.
    """
    if not isinstance(params, (tuple, list)) or not params:
        raise TypeError(
            f"{name} must be a non-empty tuple of Layer(w, b), got {type(params).__name__}"
        )
    sizes = None
    for l, layer in enumerate(params):
        if not isinstance(layer, Layer):
            raise TypeError(f"{name}[{l}] must be a Layer(w, b), got {type(layer).__name__}")
        w = _check.shape_of(f"{name}[{l}].w", layer.w)
        b = _check.shape_of(f"{name}[{l}].b", layer.b)
        if len(w) != 2 or b != w[1:]:
            raise ValueError(
                f"{name}[{l}] needs w: (in, out) and b: (out,), got w {w} and b {b}"
            )
        if sizes is not None and w[0] != sizes[-1]:
            raise ValueError(
                f"{name}[{l}].w must have {sizes[-1]} rows to follow the previous layer,"
                f" got shape {w}"
            )
        sizes = (w[0],) if sizes is None else sizes
        sizes += (w[1],)
    return sizes


def init_mlp(key, sizes=(1, 2, 1), scheme="gaussian", wscale=1.0, dtype=jnp.float32):
    """Initial parameters of a network with layer sizes `sizes`.

    With the defaults this is the tutorial's `trainNet(2)` network:
    `Linear(1, 2)` then `Linear(2, 1)`, w ~ N(0, 1) (`np.random.randn`), b = 0.

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`); split once per layer.
      sizes: (in, hidden..., out), at least two sizes, each >= 1.
      scheme: "gaussian" (the tutorial's, w ~ N(0, wscale^2)), "xavier_uniform",
        "xavier_normal", "he" or "uniform" (U(-wscale, wscale)). Biases start at 0.
      wscale: a multiplier on the scheme's standard deviation (> 0).
      dtype: the parameters' floating dtype.

    Returns:
      params: a tuple of len(sizes) - 1 `Layer`s, layer l with
        w: (sizes[l], sizes[l + 1]) and b: (sizes[l + 1],).
    """
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two layer sizes, got {sizes!r}")
    sizes = tuple(_check.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes))
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(INIT_SCHEMES)}, got {scheme!r}")
    if not (np.isscalar(wscale) and np.isfinite(wscale) and wscale > 0):
        raise ValueError(f"wscale must be a finite number > 0, got {wscale!r}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    _check_key(key)
    return _init_mlp(key, sizes, scheme, float(wscale), jnp.dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _init_mlp(key, sizes, scheme, wscale, dtype):
    init = INIT_SCHEMES[scheme](wscale)
    keys = jax.random.split(key, len(sizes) - 1)
    return tuple(
        Layer(init(k, (n_in, n_out), dtype), jnp.zeros((n_out,), dtype))
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    )


def _check_key(key):
    shape = _check.shape_of("key", key)
    dtype = jnp.result_type(key)
    typed = jnp.issubdtype(dtype, jax.dtypes.prng_key) and shape == ()
    raw = dtype == jnp.uint32 and shape == (2,)
    if not (typed or raw):
        raise TypeError(
            f"key must be a JAX PRNG key such as jax.random.key(0), got shape {shape}"
            f" and dtype {dtype}"
        )


def forward(params, x, *, activation=None):
    """The network's output: the tutorial's `Net.predict`, `Linear.forward` chained.

    z^(l+1) = f(z^(l) @ w^(l) + b^(l)), with f the activation between layers and
    none after the last; with `activation=None` every layer is affine, exactly
    the tutorial's network.

    Args:
      params: a tuple of `Layer`s, sizes (in, ..., out).
      x: (B, in) inputs, one row per example.
      activation: None, "tanh", "relu" or "sigmoid".

    Returns:
      y: (B, out) predictions.
    """
    sizes = check_params(params)
    _check.array("x", x, ndim=2, features=sizes[0])
    check_activation(activation)
    return _forward(params, x, activation)


@functools.partial(jax.jit, static_argnums=2)
def _forward(params, x, activation):
    for layer in params[:-1]:
        x = x @ layer.w + layer.b[None, :]  # z = x W + b
        if activation is not None:
            x = ACTIVATIONS[activation][0](x)
    return x @ params[-1].w + params[-1].b[None, :]


def affine_map(params):
    """The one affine map a network without activations computes.

    Composing affine layers gives an affine layer (tutorial, "Complicating the
    function"): y = x @ W + b with

        W = W1 W2 ... WL,    b = (...((b1 W2 + b2) W3 + b3) ...) WL + bL.

    Args:
      params: a tuple of `Layer`s, sizes (in, ..., out).

    Returns:
      (w, b): w: (in, out), b: (out,), so that forward(params, x) == x @ w + b.
    """
    check_params(params)
    return _affine_map(params)


@jax.jit
def _affine_map(params):
    w, b = params[0]
    for layer in params[1:]:
        w, b = w @ layer.w, b @ layer.w + layer.b
    return w, b


def least_squares(x, y):
    """The best affine map for J, in closed form: the line no linear network can beat.

    Solves min_{w, b} 1/(2N) sum_i ||y_i - (x_i w + b)||^2 through the normal
    equations A^T A [w; b] = A^T y with A = [x, 1] (one row per example). A network
    without activations computes one affine map (`affine_map`), so its J on (x, y)
    is at least this map's.

    Args:
      x: (N, in) inputs.
      y: (N, out) targets.

    Returns:
      (w, b): w: (in, out), b: (out,), like `affine_map`.
    """
    (n, _) = _check.array("x", x, ndim=2)
    _check.array("y", y, ndim=2)
    if _check.shape_of("y", y)[0] != n:
        raise ValueError(f"x and y must have the same length, got {n} and {jnp.shape(y)[0]}")
    return _least_squares(x, y)


@jax.jit
def _least_squares(x, y):
    a = jnp.concatenate([x, jnp.ones_like(x[:, :1])], axis=1)  # rows [x_i, 1]
    wb = jnp.linalg.solve(a.T @ a, a.T @ y)  # (in + 1, out)
    return wb[:-1], wb[-1]
