"""Gradients of J in the weights, two ways: by hand from the tutorial, and by `jax.grad`.

The tutorial's backward pass (class `Linear`, `Net.backward`), batch-first, for
layer l with input z (its `inData`) and incoming gradient g = dJ/d(output):

    dJ/dW = z^T g            dJ/db = g^T 1 (the sum of g over the batch)
    delta = g W^T            (passed back to the layer before; times f'(a) there
                              when an activation f sits between the layers)

starting from g = dJ/dy^p = -(y - y^p)/N at the output.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.loss import mse, mse_grad
from jlinnet.model import ACTIVATIONS, Layer, Network, forward, unpack, with_layers


def batch(net, x, y):
    """Checks a batch against a network; returns (layers, activation, x, y) with x, y
    cast to the weights' dtype and y: (B, out) for x: (B, in)."""
    layers, activation, sizes, dtype = unpack(net)
    x = checks.data("x", x, dtype, features=sizes[0])
    y = checks.data("y", y, dtype, features=sizes[-1], what="outputs")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have one row per row of x ({x.shape[0]}), got shape {y.shape}")
    return layers, activation, x, y


def manual_grads(net: Network, x: ArrayLike, y: ArrayLike) -> Network:
    """dJ/dweights by the tutorial's hand-derived backprop, for any depth.

    Args:
      net: a `Net` or a tuple of `Layer`s, sizes (in, ..., out); its activation must
        be None or a name in `ACTIVATIONS` (those have a hand derivative here; use
        `autodiff_grads` for any other).
      x: (B, in) inputs.
      y: (B, out) targets.

    Returns:
      grads: shaped like `net` (a `Net` keeps its activation); grads[l] =
      Layer(dJ/dw: (in_l, out_l), dJ/db: (out_l,)).
    """
    layers, activation, x, y = batch(net, x, y)
    activation = {f: name for name, (f, _) in ACTIVATIONS.items()}.get(activation, activation)
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(
            f"manual_grads has hand derivatives for the activations {sorted(ACTIVATIONS)},"
            f" got {activation!r}: use autodiff_grads (jax.grad) for any other"
        )
    f, df = ACTIVATIONS[activation] if activation else (None, None)
    # Forward pass, keeping each layer's input z (`Linear.inData`) and pre-activation a.
    zs, pre, z = [], [], x
    for l, layer in enumerate(layers):
        zs.append(z)
        a = z @ layer.w + layer.b[None, :]
        pre.append(a)
        z = a if (f is None or l == len(layers) - 1) else f(a)
    g = mse_grad(z, y)  # dJ/dy^p = -(y - y^p)/N
    grads = [None] * len(layers)
    for l in reversed(range(len(layers))):
        grads[l] = Layer(zs[l].T @ g, jnp.sum(g, axis=0))  # dJ/dW = z^T g, dJ/db = g^T 1
        if l > 0:
            g = g @ layers[l].w.T  # delta = g W^T
            if df is not None:
                g = g * df(pre[l - 1])  # dJ/da = (g W^T) * f'(a)
    return with_layers(net, grads)


def autodiff_grads(net: Network, x: ArrayLike, y: ArrayLike) -> Network:
    """dJ/dweights by `jax.grad` of J(net) = mse(forward(net, x), y).

    Works for any activation, named or callable.

    Args:
      net: a `Net` or a tuple of `Layer`s, sizes (in, ..., out).
      x: (B, in) inputs.
      y: (B, out) targets.

    Returns:
      grads: shaped like `net`, like `manual_grads`.
    """
    _, _, x, y = batch(net, x, y)
    return jax.grad(lambda n: mse(forward(n, x), y))(net)


def hidden_weight_grad(net: Network, x: ArrayLike, y: ArrayLike, i: int, j: int) -> jax.Array:
    """The tutorial's per-element gradient of one hidden weight w_ij^(1).

    For a network with one hidden layer, one output and no activation, the
    tutorial's formula derived for w_11^(1), for any (i, j):

        dJ/dw_ij^(1) = 1/N sum_k -(y_k - y_k^p) * w_1i^(2) * x_kj

    Args:
      net: two `Layer`s without activation, sizes (in, hidden, 1).
      x: (B, in) inputs.
      y: (B, 1) targets.
      i: the hidden neuron, 1 <= i <= hidden (1-based, as in the maths).
      j: the input, 1 <= j <= in.

    Returns:
      A scalar, equal to `autodiff_grads(net, x, y)[0].w[j - 1, i - 1]`.
    """
    layers, activation, x, y = batch(net, x, y)
    sizes = (layers[0].w.shape[0], *(layer.w.shape[1] for layer in layers))
    if len(sizes) != 3 or sizes[2] != 1 or activation is not None:
        raise ValueError(
            "net must have one hidden layer, one output and no activation (the tutorial's"
            f" formula), got sizes {sizes} and activation {activation!r}"
        )
    i, j = checks.positive_int("i", i), checks.positive_int("j", j)
    if i > sizes[1]:
        raise ValueError(f"i must be a hidden neuron in 1..{sizes[1]}, got {i}")
    if j > sizes[0]:
        raise ValueError(f"j must be an input in 1..{sizes[0]}, got {j}")
    y_p = forward(net, x)[:, 0]
    w2_1i = layers[1].w[i - 1, 0]  # w_1i^(2), stored transposed
    return jnp.mean(-(y[:, 0] - y_p) * w2_1i * x[:, j - 1])
