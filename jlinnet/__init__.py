"""jlinnet: the tutorial's one-hidden-layer linear network as pure JAX functions.

A network (`Net`, from `init_mlp` or built by hand) is a pytree of `Layer(w, b)` that
carries its activation; `forward` is pure; gradients come from the tutorial's hand-derived
backprop (`manual_grads`) or `jax.grad` (`autodiff_grads`); `train` runs a whole schedule as
one compiled `lax.scan`, and `train_many` K networks in the same scan, optionally spread over
devices; `affine_map` is the one line a network without activation collapses to.
"""

from jlinnet.affine import affine_map, least_squares
from jlinnet.backprop import autodiff_grads, hidden_weight_grad, manual_grads
from jlinnet.curvature import sharpness
from jlinnet.data import batch_starts, grid, linear_target, sine_target
from jlinnet.loss import mse, mse_grad
from jlinnet.model import Layer, Net, forward, init_mlp
from jlinnet.saving import load, save
from jlinnet.training import TrainResult, train, train_many, with_hyperparams
from jlinnet.tutorial import tutorial_setup

__version__ = "0.3.0"

__all__ = [
    "Layer",
    "Net",
    "TrainResult",
    "__version__",
    "affine_map",
    "autodiff_grads",
    "batch_starts",
    "forward",
    "grid",
    "hidden_weight_grad",
    "init_mlp",
    "least_squares",
    "linear_target",
    "load",
    "manual_grads",
    "mse",
    "mse_grad",
    "save",
    "sharpness",
    "sine_target",
    "train",
    "train_many",
    "tutorial_setup",
    "with_hyperparams",
]
