"""The network: layers as an immutable pytree that knows its activation; `forward`, `affine_map`.

Tutorial, "Neural network: theory" and classes `Linear` and `Net`. The maths is
written column-first (z = W x + b); the code, like the tutorial's, is batch-first, so a
layer holds the transposed matrix and computes

    z = x @ w + b        x: (B, in), w: (in, out), b: (out,), z: (B, out)

and `net[l].w[j-1, i-1]` is the tutorial's w_ij^(l+1).
"""

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jlinnet import checks


class Layer(NamedTuple):
    """One affine layer, the tutorial's `Linear`: z = x @ w + b.

    Attributes:
      w: (in, out) weights.
      b: (out,) biases.
    """

    w: jax.Array
    b: jax.Array


def _sigmoid_grad(a):
    s = jax.nn.sigmoid(a)
    return s * (1 - s)


# name -> (f, f') with f' a function of the pre-activation a: the hand derivatives
# `manual_grads` knows. Any other elementwise callable works with `jax.grad`.
ACTIVATIONS = {
    "tanh": (jnp.tanh, lambda a: 1 - jnp.tanh(a) ** 2),
    "relu": (jax.nn.relu, lambda a: (a > 0).astype(a.dtype)),
    "sigmoid": (jax.nn.sigmoid, _sigmoid_grad),
}
Activation: TypeAlias = str | Callable[[jax.Array], jax.Array] | None


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Net:
    """A network: its layers (the pytree's leaves) and its activation (static metadata).

    It reads like the tutorial's `Net`: `net[0]` is layer_1, `len(net)` the number of
    layers, `for layer in net` walks them in order. `jax.grad`, optax and `jax.tree.map`
    see only the weights, and give back a `Net` with the same activation, so no call
    can forget it. A plain tuple of `Layer`s is the tutorial's network without one.

    Attributes:
      layers: a tuple of `Layer`s whose sizes chain: layers[l].w: (n_l, n_{l+1}).
      activation: None (affine layers only, the tutorial's network), a name in
        `ACTIVATIONS` ("tanh", "relu", "sigmoid") or an elementwise callable, applied
        between layers, never after the last.
    """

    layers: tuple[Layer, ...]
    activation: Activation = dataclasses.field(default=None, metadata=dict(static=True))

    def __post_init__(self):
        check_activation(self.activation)

    def __getitem__(self, l):
        return self.layers[l]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


Network: TypeAlias = Net | tuple[Layer, ...]


def check_activation(activation) -> None:
    """Raises unless `activation` is None, a name in `ACTIVATIONS` or a callable."""
    if activation is None or callable(activation):
        return
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be None, one of {sorted(ACTIVATIONS)} or an elementwise"
            f" callable, got {activation!r}"
        )


def activation_fn(activation: Activation) -> Callable[[jax.Array], jax.Array] | None:
    """The function f of an activation (None: no activation)."""
    return ACTIVATIONS[activation][0] if isinstance(activation, str) else activation


def unpack(net, name: str = "net"):
    """Checks a network and takes it apart.

    Returns:
      (layers, activation, sizes, dtype): the tuple of `Layer`s, the activation, the
      sizes (in, hidden..., out) and the one floating dtype of every weight.
    """
    if isinstance(net, Net):
        layers, activation = net.layers, net.activation
    elif isinstance(net, Layer):
        raise TypeError(f"{name} must be a Net or a tuple of Layers, got one Layer: use ({name},)")
    elif isinstance(net, (tuple, list)):
        layers, activation = tuple(net), None
    else:
        raise TypeError(
            f"{name} must be a jlinnet.Net or a tuple of Layer(w, b), got {type(net).__name__}"
        )
    if not layers:
        raise ValueError(f"{name} must have at least one layer, got none")
    sizes, dtype = None, None
    for l, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{name}[{l}] must be a Layer(w, b), got {type(layer).__name__}")
        for field, leaf in zip(Layer._fields, layer):
            where = f"{name}[{l}].{field}"
            leaf_dtype = getattr(leaf, "dtype", None)
            if leaf_dtype is None or not hasattr(leaf, "shape"):
                raise TypeError(f"{where} must be an array, got {type(leaf).__name__}")
            if not jnp.issubdtype(leaf_dtype, jnp.floating):
                raise TypeError(
                    f"{where} must be floating (weights move by gradient steps), got dtype"
                    f" {leaf_dtype}: cast with jax.tree.map(lambda a: a.astype(jnp.float32), net)"
                )
            if dtype is not None and leaf_dtype != dtype:
                raise TypeError(
                    f"{where} must have the dtype of {name}[0].w, {dtype}, got {leaf_dtype}"
                )
            dtype = leaf_dtype
        w, b = np.shape(layer.w), np.shape(layer.b)
        if len(w) != 2 or b != w[1:]:
            raise ValueError(f"{name}[{l}] needs w: (in, out) and b: (out,), got w {w} and b {b}")
        if sizes is not None and w[0] != sizes[-1]:
            raise ValueError(
                f"{name}[{l}].w must have {sizes[-1]} rows to follow the layer before,"
                f" got shape {w}"
            )
        sizes = (w[0], w[1]) if sizes is None else (*sizes, w[1])
    if 0 in sizes:
        raise ValueError(f"{name} must have no empty layer, got sizes {sizes}")
    return layers, activation, sizes, jnp.dtype(dtype)


def with_layers(net: Network, layers: Sequence[Layer]) -> Network:
    """`layers` in the structure of `net`: a `Net` with its activation, or a tuple."""
    if isinstance(net, Net):
        return Net(tuple(layers), net.activation)
    return type(net)(layers)


# name -> wscale -> jax.nn.initializers-style init(key, shape, dtype); wscale scales the std.
INIT_SCHEMES = {
    # The tutorial's `np.random.randn(insize, outsize)`: w ~ N(0, wscale^2).
    "gaussian": lambda s: jax.nn.initializers.normal(stddev=s),
    # PuzzleLib's default: Glorot, U(-a, a) with a = wscale sqrt(6 / (in + out)).
    "xavier_uniform": lambda s: jax.nn.initializers.variance_scaling(s**2, "fan_avg", "uniform"),
    "xavier_normal": lambda s: jax.nn.initializers.variance_scaling(s**2, "fan_avg", "normal"),
    # He: N(0, 2 wscale^2 / in).
    "he": lambda s: jax.nn.initializers.variance_scaling(2 * s**2, "fan_in", "normal"),
    # U(-wscale, wscale): uniform(scale) draws from [0, scale), shifted by wscale.
    "uniform": lambda s: lambda k, shape, dtype: jax.random.uniform(k, shape, dtype, -s, s),
}


def check_sizes(sizes) -> tuple[int, ...]:
    """Layer sizes (in, hidden..., out) as a tuple of ints >= 1, or a named error."""
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
        raise ValueError(f"sizes must be a sequence of at least two layer sizes, got {sizes!r}")
    return tuple(checks.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes))


def init_mlp(
    key: jax.Array,
    sizes: Sequence[int] = (1, 2, 1),
    *,
    activation: Activation = None,
    scheme: str = "gaussian",
    wscale: float = 1.0,
    dtype=None,
) -> Net:
    """A new network with layer sizes `sizes`: the tutorial's `Net` of `Linear`s.

    With the defaults this is the tutorial's `trainNet(2)` network:
    `Linear(1, 2)` then `Linear(2, 1)`, w ~ N(0, 1) (`np.random.randn`), b = 0.

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`); split once per layer.
      sizes: (in, hidden..., out), at least two sizes, each >= 1.
      activation: None (the tutorial's network), "tanh", "relu", "sigmoid" or an
        elementwise callable, applied between layers.
      scheme: "gaussian" (the tutorial's, w ~ N(0, wscale^2)), "xavier_uniform",
        "xavier_normal", "he" or "uniform" (U(-wscale, wscale)). Biases start at 0.
      wscale: a multiplier on the scheme's standard deviation (> 0).
      dtype: the weights' floating dtype; None: float32, or float64 under x64.

    Returns:
      A `Net` of len(sizes) - 1 layers, layer l with w: (sizes[l], sizes[l + 1]) and
      b: (sizes[l + 1],).
    """
    sizes = check_sizes(sizes)
    check_activation(activation)
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(INIT_SCHEMES)}, got {scheme!r}")
    if not (isinstance(wscale, numbers.Real) and np.isfinite(wscale) and wscale > 0):
        raise ValueError(f"wscale must be a finite number > 0, got {wscale!r}")
    dtype = checks.float_dtype("dtype", dtype)
    checks.key("key", key)
    init = INIT_SCHEMES[scheme](float(wscale))
    keys = jax.random.split(key, len(sizes) - 1)
    layers = tuple(
        Layer(init(k, (n_in, n_out), dtype), jnp.zeros((n_out,), dtype))
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:])
    )
    return Net(layers, activation)


def forward(net: Network, x: ArrayLike) -> jax.Array:
    """The network's output: the tutorial's `Net.predict`, `Linear.forward` chained.

    z^(l+1) = f(z^(l) @ w^(l) + b^(l)), with f the network's activation between
    layers and none after the last; without an activation every layer is affine,
    exactly the tutorial's network. `x` is cast to the weights' dtype.

    Args:
      net: a `Net` or a tuple of `Layer`s, sizes (in, ..., out).
      x: (B, in) inputs, one row per example.

    Returns:
      y: (B, out) predictions.
    """
    layers, activation, sizes, dtype = unpack(net)
    z = checks.data("x", x, dtype, features=sizes[0])
    f = activation_fn(activation)
    for l, layer in enumerate(layers):
        z = z @ layer.w + layer.b[None, :]  # z = x W + b
        if f is not None and l < len(layers) - 1:
            a, z = z, f(z)
            if jnp.shape(z) != a.shape:
                raise ValueError(
                    f"net.activation must be elementwise (same shape out as in), got shape"
                    f" {jnp.shape(z)} from {a.shape}"
                )
    return z

