"""jlinnet: the tutorial's one-hidden-layer linear network as pure JAX functions.

A network (`Net`, from `init_mlp`) is a pytree of `Layer(w, b)` that carries its
activation; `forward` is pure; gradients come from the tutorial's hand-derived backprop
(`manual_grads`) or `jax.grad` (`autodiff_grads`); `train` runs a whole schedule as one
compiled `lax.scan`; `train_many` runs K networks in one call, optionally spread over
devices; `train_sweep` trains a grid of learning rates x seeds that way and scores
each network by its full-grid J.
"""

from jlinnet.affine import affine_map, least_squares
from jlinnet.backprop import autodiff_grads, hidden_weight_grad, manual_grads
from jlinnet.data import batch_starts, grid, linear_target, sine_target
from jlinnet.loss import mse, mse_grad
from jlinnet.many import train_many
from jlinnet.model import ACTIVATIONS, INIT_SCHEMES, Layer, Net, forward, init_mlp
from jlinnet.saving import load, save
from jlinnet.sweep import (
    SWEEP_SGD,
    Sweep,
    diverged,
    divergence_lr,
    lr_range,
    seed_networks,
    seed_quantile,
    train_sweep,
)
from jlinnet.training import TrainResult, train, with_hyperparams
from jlinnet.tutorial import tutorial_setup

__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS",
    "INIT_SCHEMES",
    "Layer",
    "Net",
    "SWEEP_SGD",
    "Sweep",
    "TrainResult",
    "__version__",
    "affine_map",
    "autodiff_grads",
    "batch_starts",
    "diverged",
    "divergence_lr",
    "forward",
    "grid",
    "hidden_weight_grad",
    "init_mlp",
    "least_squares",
    "linear_target",
    "load",
    "lr_range",
    "manual_grads",
    "mse",
    "mse_grad",
    "save",
    "seed_networks",
    "seed_quantile",
    "sine_target",
    "train",
    "train_many",
    "train_sweep",
    "tutorial_setup",
    "with_hyperparams",
]
