"""Gradients of J in the weights, two ways: by hand from the tutorial, and by `jax.grad`.

The tutorial's backward pass (class `Linear`, `Net.backward`), batch-first, for layer l
with input z (its `inData`) and incoming gradient g = dJ/d(output):

    dJ/dW = z^T g            dJ/db = g^T 1 (the sum of g over the batch)
    delta = g W^T            (passed back to the layer before; times f'(a) there
                              when an activation f sits between the layers)

starting from g = dJ/dy^p = -(y - y^p)/N at the output.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.loss import J
from jlinnet.model import ACTIVATIONS, Layer, Net, apply, check_net


def batch(net: Net, x, y, fn: str):
    """Checks a network and a batch (x: (B, in), y: (B, out)); returns them in its dtype."""
    sizes, dtype = check_net(net, fn=fn)
    x = checks.data("x", x, dtype, features=sizes[0])
    y = checks.data("y", y, dtype, features=sizes[-1])
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have one row per row of x ({x.shape[0]}), got shape {y.shape}")
    return x, y


def manual_grads(net: Net, x: ArrayLike, y: ArrayLike) -> Net:
    """dJ/dweights by the tutorial's hand-derived backprop, for any depth.

    Args:
      net: one `Net`, sizes (in, ..., out), without activation or with one of ACTIVATIONS
        (by name or as jnp.tanh, jax.nn.relu, jax.nn.sigmoid); others: `autodiff_grads`.
      x: (B, in) inputs; y: (B, out) targets.

    Returns:
      grads: a `Net` shaped like `net`; grads[l] = Layer(dJ/dw: (in_l, out_l), dJ/db: (out_l,)).
    """
    return _manual(net, *batch(net, x, y, "manual_grads"))


def autodiff_grads(net: Net, x: ArrayLike, y: ArrayLike) -> Net:
    """dJ/dweights by `jax.grad` of J(net) = mse(forward(net, x), y), for any activation;
    the arguments and result as in `manual_grads`."""
    return _autodiff(net, *batch(net, x, y, "autodiff_grads"))


def _manual(net, x, y):
    """`manual_grads` below the boundary."""
    name = {f: n for n, (f, _) in ACTIVATIONS.items()}.get(net.activation, net.activation)
    if name is not None and name not in ACTIVATIONS:
        raise ValueError(f"manual_grads has hand derivatives for {sorted(ACTIVATIONS)}, got"
                         f" {net.activation!r}: use autodiff_grads (jax.grad) for any other")
    f, df = ACTIVATIONS[name] if name else (None, None)
    zs, pre, z = [], [], x  # each layer's input z (`Linear.inData`) and pre-activation a
    for l, (w, b) in enumerate(net.layers):
        zs.append(z)
        pre.append(z @ w + b[None, :])
        z = pre[-1] if f is None or l == len(net) - 1 else f(pre[-1])
    g = -(y - z) / x.shape[0]  # dJ/dy^p = -(y - y^p)/N
    grads = []  # from the last layer back
    for l in reversed(range(len(net))):
        grads.append(Layer(zs[l].T @ g, jnp.sum(g, axis=0)))  # dJ/dW = z^T g, dJ/db = g^T 1
        if l > 0:
            g = g @ net[l].w.T  # delta = g W^T
            g = g if df is None else g * df(pre[l - 1])  # dJ/da = (g W^T) * f'(a)
    return Net(tuple(reversed(grads)), net.activation)


def _autodiff(net, x, y):
    """`autodiff_grads` below the boundary."""
    return jax.grad(lambda n: J(apply(n, x), y))(net)


# The public routes' cores: `train` checks its batch once, so its step calls these directly
CORES = {manual_grads: _manual, autodiff_grads: _autodiff}


def hidden_weight_grad(net: Net, x: ArrayLike, y: ArrayLike, i: int, j: int) -> jax.Array:
    """The tutorial's per-element gradient of one hidden weight (its w_11^(1), any i, j):

        dJ/dw_ij^(1) = 1/N sum_k -(y_k - y_k^p) * w_1i^(2) * x_kj

    Args:
      net: a `Net` without activation, sizes (in, hidden, 1).
      x: (B, in) inputs; y: (B, 1) targets.
      i, j: the hidden neuron 1 <= i <= hidden and the input 1 <= j <= in (1-based, as in
        the maths).

    Returns:
      A scalar, equal to `autodiff_grads(net, x, y)[0].w[j - 1, i - 1]`.
    """
    x, y = batch(net, x, y, "hidden_weight_grad")
    n_in, hidden, *out = net.sizes
    if out != [1] or net.activation is not None:
        raise ValueError("hidden_weight_grad needs one hidden layer, one output and no"
                         f" activation (the tutorial's formula), got sizes {net.sizes} and"
                         f" activation {net.activation!r}")
    i = checks.positive_int("i", i, maximum=hidden)
    j = checks.positive_int("j", j, maximum=n_in)
    y_p = apply(net, x)[:, 0]
    w2_1i = net[1].w[i - 1, 0]  # w_1i^(2), stored transposed
    return jnp.mean(-(y[:, 0] - y_p) * w2_1i * x[:, j - 1])
