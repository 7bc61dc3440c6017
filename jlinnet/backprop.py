"""Gradients of J in the parameters, two ways: by hand from the tutorial, and by `jax.grad`.

The tutorial's backward pass (class `Linear`, `Net.backward`), batch-first, for
layer l with input z (its `inData`) and incoming gradient g = dJ/d(output):

    dJ/dW = z^T g            dJ/db = g^T 1 (the sum of g over the batch)
    delta = g W^T            (passed back to the layer before; times f'(a) there
                              when an activation f sits between the layers)

starting from g = dJ/dy^p = -(y - y^p)/N at the output.
"""

import functools

import jax
import jax.numpy as jnp

from jlinnet import _check
from jlinnet.loss import _mse, _mse_grad
from jlinnet.model import ACTIVATIONS, Layer, _forward, check_activation, check_params


def _check_batch(params, x, y, activation):
    sizes = check_params(params)
    (n, _) = _check.array("x", x, ndim=2, features=sizes[0])
    _check.array("y", y, ndim=2)
    if _check.shape_of("y", y) != (n, sizes[-1]):
        raise ValueError(
            f"y must have shape {(n, sizes[-1])} (one row per row of x, one column per"
            f" output), got {_check.shape_of('y', y)}"
        )
    check_activation(activation)
    return sizes


def manual_grads(params, x, y, *, activation=None):
    """dJ/dparams by the tutorial's hand-derived backprop, for any depth.

    Args:
      params: a tuple of `Layer`s, sizes (in, ..., out).
      x: (B, in) inputs.
      y: (B, out) targets.
      activation: None (the tutorial's network) or a name in `ACTIVATIONS`.

    Returns:
      grads: params-shaped; grads[l] = Layer(dJ/dw: (in_l, out_l), dJ/db: (out_l,)).
    """
    _check_batch(params, x, y, activation)
    return _manual_grads(params, x, y, activation)


@functools.partial(jax.jit, static_argnums=3)
def _manual_grads(params, x, y, activation):
    # Forward pass, keeping each layer's input z (`Linear.inData`) and pre-activation a.
    zs, pre = [], []
    z = x
    for l, layer in enumerate(params):
        zs.append(z)
        a = z @ layer.w + layer.b[None, :]
        pre.append(a)
        last = l == len(params) - 1
        z = a if (activation is None or last) else ACTIVATIONS[activation][0](a)
    g = _mse_grad(z, y)  # dJ/dy^p = -(y - y^p)/N
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        grads[l] = Layer(zs[l].T @ g, jnp.sum(g, axis=0))  # dJ/dW = z^T g, dJ/db = g^T 1
        if l > 0:
            g = g @ params[l].w.T  # delta = g W^T
            if activation is not None:
                g = g * ACTIVATIONS[activation][1](pre[l - 1])  # dJ/da = (g W^T) * f'(a)
    return tuple(grads)


def autodiff_grads(params, x, y, *, activation=None):
    """dJ/dparams by `jax.grad` of J(params) = mse(forward(params, x), y).

    Args:
      params: a tuple of `Layer`s, sizes (in, ..., out).
      x: (B, in) inputs.
      y: (B, out) targets.
      activation: None (the tutorial's network) or a name in `ACTIVATIONS`.

    Returns:
      grads: params-shaped, like `manual_grads`.
    """
    _check_batch(params, x, y, activation)
    return _autodiff_grads(params, x, y, activation)


@functools.partial(jax.jit, static_argnums=3)
def _autodiff_grads(params, x, y, activation):
    return jax.grad(lambda p: _mse(_forward(p, x, activation), y))(params)


def hidden_weight_grad(params, x, y, i, j):
    """The tutorial's per-element gradient of one hidden weight w_ij^(1).

    For a network with one hidden layer and one output (no activation), the
    tutorial's formula derived for w_11^(1), for any (i, j):

        dJ/dw_ij^(1) = 1/N sum_k -(y_k - y_k^p) * w_1i^(2) * x_kj

    Args:
      params: two `Layer`s, sizes (in, hidden, 1).
      x: (B, in) inputs.
      y: (B, 1) targets.
      i: the hidden neuron, 1 <= i <= hidden (1-based, as in the maths).
      j: the input, 1 <= j <= in.

    Returns:
      A scalar, equal to `autodiff_grads(params, x, y)[0].w[j - 1, i - 1]`.
    """
    sizes = _check_batch(params, x, y, None)
    if len(sizes) != 3 or sizes[2] != 1:
        raise ValueError(
            f"params must be a network with one hidden layer and one output, got sizes {sizes}"
        )
    i = _check.positive_int("i", i)
    j = _check.positive_int("j", j)
    if i > sizes[1]:
        raise ValueError(f"i must be a hidden neuron in 1..{sizes[1]}, got {i}")
    if j > sizes[0]:
        raise ValueError(f"j must be an input in 1..{sizes[0]}, got {j}")
    return _hidden_weight_grad(params, x, y, i, j)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _hidden_weight_grad(params, x, y, i, j):
    y_p = _forward(params, x, None)[:, 0]
    w2_1i = params[1].w[i - 1, 0]  # w_1i^(2), stored transposed
    return jnp.mean(-(y[:, 0] - y_p) * w2_1i * x[:, j - 1])
