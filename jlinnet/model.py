"""The network: `Layer`, `Net` (layers and their activation), `init_mlp`, `forward`.

Tutorial, "Neural network: theory", classes `Linear` and `Net`. The maths is column-first
(z = W x + b); the code, like the tutorial's, is batch-first, so a layer holds W transposed:

    z = x @ w + b        x: (B, in), w: (in, out), b: (out,), z: (B, out)

and `net[l].w[j-1, i-1]` is the tutorial's w_ij^(l+1).
"""

import dataclasses
import json
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jlinnet import checks


class Layer(NamedTuple):
    """One affine layer, the tutorial's `Linear`: z = x @ w + b, w: (in, out), b: (out,)."""

    w: jax.Array
    b: jax.Array


# name -> (f, f'(a)): the derivatives `manual_grads` knows by hand; `jax.grad` takes any f.
ACTIVATIONS = {
    "tanh": (jnp.tanh, lambda a: 1 - jnp.tanh(a) ** 2),
    "relu": (jax.nn.relu, lambda a: (a > 0).astype(a.dtype)),
    "sigmoid": (jax.nn.sigmoid, lambda a: jax.nn.sigmoid(a) * (1 - jax.nn.sigmoid(a))),
}
Activation: TypeAlias = str | Callable[[jax.Array], jax.Array] | None


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class Net:
    """A network: its layers (the pytree's leaves) and its activation (static metadata).

    Like the tutorial's `Net`: `net[0]` is layer_1, `net[a:b]` a `Net` with the same
    activation, `net(x)` its output. `jax.grad`, optax and `jax.tree.map` see the weights only
    and give back a `Net` with the same activation. K networks are one `Net` with a leading
    axis K on every weight (`batch_shape` (K,)).

    Attributes:
      layers: a tuple of `Layer`s whose sizes chain: layers[l].w: (..., n_l, n_{l+1}).
      activation: None (affine layers only, the tutorial's network), "tanh", "relu",
        "sigmoid" or an elementwise callable, applied between layers, never after the last.
    """

    layers: tuple[Layer, ...]
    activation: Activation = dataclasses.field(default=None, metadata=dict(static=True))

    def __post_init__(self):
        """Checks what the network is made of where it is built (no array is read, so every
        `jax.tree` operation that rebuilds it stays cheap): `Layer`s and a known activation.
        `Net(net)` is `net` again, with its activation: it never falls off."""
        layers: Any = self.layers  # anything a user passed, until checked below
        activation = self.activation
        if type(layers) is tuple and layers and all(type(l) is Layer for l in layers) and (
                activation is None or (type(activation) is str and activation in ACTIVATIONS)):
            return  # what every `jax.tree` rebuild passes: nothing to change
        if isinstance(layers, Net):
            if activation not in (None, layers.activation):
                raise ValueError(f"layers is a Net with activation {layers.activation!r}; for"
                                 f" {activation!r} instead: jl.Net(net.layers, {activation!r})")
            layers, activation = layers.layers, layers.activation
        if not (isinstance(layers, tuple | list) and layers
                and all(isinstance(layer, Layer) for layer in layers)):
            raise TypeError(f"layers must be a non-empty tuple of jl.Layer(w, b), got"
                            f" {type(layers).__name__} {_kinds(layers)}")
        if isinstance(activation, Net) or not (activation is None or callable(activation) or (
                isinstance(activation, str) and activation in ACTIVATIONS)):
            raise ValueError(f"activation must be None, one of {sorted(ACTIVATIONS)} or an"
                             f" elementwise callable, got {checks.show(activation)}")
        object.__setattr__(self, "layers", tuple(layers))
        object.__setattr__(self, "activation", activation)

    def __getitem__(self, l):
        return Net(self.layers[l], self.activation) if isinstance(l, slice) else self.layers[l]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):  # else list(net) would be its layers without their activation
        raise TypeError("a Net is not iterable, so its activation cannot fall off: net.layers"
                        " are its Layers, net.activation its activation, net[l] layer l + 1")

    def __call__(self, x: ArrayLike) -> jax.Array:
        return forward(self, x)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """() for one network, (K,) for a stack of K."""
        return tuple(np.shape(self.layers[0].w)[:-2])

    @property
    def sizes(self) -> tuple[int, ...]:
        """(in, hidden..., out)."""
        return (np.shape(self.layers[0].w)[-2], *(np.shape(l.w)[-1] for l in self.layers))


def _save_activation(aux) -> bytes:
    """`Net`'s static data, (activation,), for `jax.export`: a name or None; a callable has
    no portable name (export a function that closes over such a network instead)."""
    (activation,) = aux
    if not (activation is None or isinstance(activation, str)):
        raise ValueError(f"jax.export can save a Net's activation by name only, got"
                         f" {activation!r}: export lambda x: net(x) to bake it in")
    return json.dumps(activation).encode()


# So that `jax.export` serializes functions taking or returning networks, with nothing to register
jax.export.register_namedtuple_serialization(Layer, serialized_name="jlinnet.Layer")
jax.export.register_pytree_node_serialization(
    Net, serialized_name="jlinnet.Net", serialize_auxdata=_save_activation,
    deserialize_auxdata=lambda data: (json.loads(data),))


def _kinds(layers) -> str:
    """What a would-be list of layers holds, for an error message."""
    if not isinstance(layers, tuple | list):
        return ""
    return f"of {len(layers)}: [{', '.join(type(l).__name__ for l in layers[:4])}]"


def check_net(net, *, stacked: bool | None = False, fn: str = "forward") -> tuple[tuple, np.dtype]:
    """The one check of a network where it enters a function: a `Net` (built checked) whose
    weights are of one floating dtype and whose layer sizes chain; one network, K on a leading
    axis (`stacked`), or either (None).

    Returns:
      (sizes, dtype): (in, hidden..., out) and the weights' one floating dtype.
    """
    if not isinstance(net, Net):
        raise TypeError(f"net must be a jlinnet.Net, got {type(net).__name__}: pass the Net itself"
                        " (it carries the activation); from layers, jl.Net(layers, activation)")
    leaves = [leaf for layer in net.layers for leaf in layer]
    dtypes = {str(getattr(leaf, "dtype", type(leaf).__name__)) for leaf in leaves}
    if len(dtypes) != 1 or not jnp.issubdtype(getattr(leaves[0], "dtype", object), jnp.floating):
        raise TypeError(f"net's weights must be arrays of one floating dtype, got {sorted(dtypes)}:"
                        " cast with jax.tree.map(lambda a: a.astype(jnp.float32), net)")
    if callable(f := net.activation):  # elementwise: else the next layer would get a broadcast
        with warnings.catch_warnings():  # a probe of ours: the real call warns where it runs
            warnings.simplefilter("ignore")
            out = jax.eval_shape(f, jax.ShapeDtypeStruct((2, 3), leaves[0].dtype))
        if getattr(out, "shape", None) != (2, 3):
            raise ValueError(f"net.activation must be elementwise, an (a, b) array in and out,"
                             f" got {checks.show(f)}, which gives {checks.show(out)} for (2, 3)")
    shapes = [(np.shape(w), np.shape(b)) for w, b in net.layers]
    lead = net.batch_shape
    chained = all(len(w) == len(lead) + 2 and w[:-2] == lead and b == w[:-2] + w[-1:]
                  for w, b in shapes) and all(
        w0[-1] == w1[-2] for (w0, _), (w1, _) in zip(shapes, shapes[1:]))
    if not chained or 0 in net.sizes + lead:
        raise ValueError(f"net needs layers w: (in, out), b: (out,) whose sizes chain, got"
                         f" (w, b) shapes {shapes}")
    if len(lead) > 1 or (stacked is not None and len(lead) != stacked):
        raise ValueError(
            f"{fn} needs K networks, a leading axis K on every weight, got batch_shape {lead}:"
            " jax.tree.map(lambda a: a[None], net) for K = 1" if stacked else
            f"net is a stack of networks (batch_shape {lead}); {fn} takes one:"
            f" jax.vmap(jl.{fn}, in_axes=(0, None)) maps it over the stack")
    return net.sizes, jnp.dtype(leaves[0].dtype)


SCHEMES = {  # jax.nn.initializers, before the scale wscale
    "gaussian": jax.nn.initializers.normal(1.0),  # the tutorial's np.random.randn
    "xavier_uniform": jax.nn.initializers.glorot_uniform(),  # PuzzleLib's default
    "xavier_normal": jax.nn.initializers.glorot_normal(),
    "he": jax.nn.initializers.he_normal(),
}


def init_mlp(key: jax.Array, sizes: Sequence[int] = (1, 2, 1), *, activation: Activation = None,
             scheme: str = "gaussian", wscale: float = 1.0, dtype: DTypeLike | None = None) -> Net:
    """A new network with layer sizes `sizes`; the defaults give the tutorial's `trainNet(2)`
    network: `Linear(1, 2)` then `Linear(2, 1)`, w ~ N(0, 1) (`np.random.randn`), b = 0.

    Args:
      key: a JAX PRNG key (`jax.random.key(seed)`), split once per layer.
      sizes: (in, hidden..., out), at least two sizes, each >= 1.
      activation: as `Net.activation`.
      scheme: "gaussian" (the tutorial's), "xavier_uniform", "xavier_normal" or "he", the
        `jax.nn.initializers` of those names; w = wscale * init(key, (in, out)), b = 0.
      wscale: a finite factor > 0 on the initial weights; dtype: None (float32, float64
        under x64) or a floating dtype.

    Returns:
      A `Net` of len(sizes) - 1 layers; layer l has w: (sizes[l], sizes[l + 1]), b: (sizes[l + 1],).
    """
    dtype, sizes = checks.float_dtype(dtype), checks.sizes(sizes)
    most = float(jnp.finfo(dtype).max) / 100  # room for the largest draws; NaN fails too
    wscale = checks.reals("wscale", wscale, low=0.0, high=most, scalar=True)
    if not (isinstance(scheme, str) and scheme in SCHEMES):
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {checks.show(scheme)}")
    keys = jax.random.split(checks.key("key", key), len(sizes) - 1)
    layers = tuple(Layer((wscale * SCHEMES[scheme](k, (n, m), dtype)).astype(dtype),
                         jnp.zeros((m,), dtype))
                   for k, n, m in zip(keys, sizes[:-1], sizes[1:]))
    net = Net(layers, activation)
    check_net(net, fn="init_mlp")
    return net


def apply(net: Net, x: jax.Array) -> jax.Array:
    """`forward` below the boundary: z^(l+1) = f(z^(l) @ w^(l) + b^(l)), no f after the last."""
    f = ACTIVATIONS[net.activation][0] if isinstance(net.activation, str) else net.activation
    for l, (w, b) in enumerate(net.layers):
        x = x @ w + b[None, :]  # z = x W + b
        if f is not None and l < len(net) - 1:
            x = f(x)
    return x


def forward(net: Net, x: ArrayLike) -> jax.Array:
    """The network's output, the tutorial's `Net.predict`: z^(l+1) = f(z^(l) @ w^(l) + b^(l)),
    f the activation between layers (none after the last; without one, the tutorial's net).

    Args:
      net: one `Net`, sizes (in, ..., out).
      x: (B, in) inputs, one row per example; cast to the weights' dtype.

    Returns:
      y: (B, out) predictions.
    """
    sizes, dtype = check_net(net)
    return apply(net, checks.data("x", x, dtype, features=sizes[0]))
