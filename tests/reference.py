"""The one NumPy reference of the tutorial's network, in float64: forward, the hand gradients
and one SGD step, for no activation and the named ones. Every jlinnet route is compared
against it; it shares no code with jlinnet."""

import numpy as np

ACT = {  # name -> (f, f') with f' of the pre-activation
    None: (None, None),
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "relu": (lambda a: np.maximum(a, 0), lambda a: (a > 0).astype(float)),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda a: np.exp(-a) / (1 + np.exp(-a)) ** 2),
}


def layers(net):
    """[(w, b)] as float64 NumPy from a jlinnet Net."""
    return [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in net.layers]


def forward(params, x, activation=None):
    """Returns the output and, per layer, its input z and pre-activation a."""
    f, _ = ACT[activation]
    zs, pre, z = [], [], np.asarray(x, np.float64)
    for l, (w, b) in enumerate(params):
        zs.append(z)
        pre.append(z @ w + b)
        z = pre[-1] if f is None or l == len(params) - 1 else f(pre[-1])
    return z, zs, pre


def loss(params, x, y, activation=None):
    """J = 1/(2N) sum ||y - y^p||^2."""
    y_p = forward(params, x, activation)[0]
    return np.sum((y - y_p) ** 2) / (2 * len(x))


def grads(params, x, y, activation=None):
    """The tutorial's backward pass: dJ/dW = z^T g, dJ/db = sum g, delta = g W^T * f'(a)."""
    y_p, zs, pre = forward(params, x, activation)
    g, out = -(y - y_p) / len(x), [None] * len(params)
    for l in reversed(range(len(params))):
        out[l] = (zs[l].T @ g, g.sum(0))
        if l:
            g = g @ params[l][0].T
            g = g if activation is None else g * ACT[activation][1](pre[l - 1])
    return out


def sgd(params, xs, ys, starts, batchsize, lr, activation=None):
    """The tutorial's loop: per start, J on the window, then w <- w - lr dJ/dw."""
    losses = []
    for s in starts:
        x, y = xs[s:s + batchsize], ys[s:s + batchsize]
        losses.append(loss(params, x, y, activation))
        params = [(w - lr * gw, b - lr * gb)
                  for (w, b), (gw, gb) in zip(params, grads(params, x, y, activation))]
    return params, np.array(losses)
