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

__version__ = "0.4.0"

# Names jlinnet had once, and where they went: a clear AttributeError, not a bare one
MOVED = {  # out of jlinnet in 0.3.0 into experiments/sweep.py; since 0.4.0 here
    "train_sweep": "to experiments._run.train_grid(spec, over, values, seeds)",
    "seed_networks": "to experiments._run.networks(spec, seeds)",
    "diverged": "to experiments._run.diverged(grid)",
    "lr_range": "to experiments.sweep.restored(grid, below, q)",
    "seed_quantile": "into experiments.sweep.restored(grid, below, q)",
    "divergence_lr": "to experiments.sweep.first_divergence(grid); each seed's own edge:"
                     " experiments._run.seed_edges(grid)",
}


def __getattr__(name):
    if name in MOVED:
        raise AttributeError(f"jlinnet.{name} moved {MOVED[name]}")
    raise AttributeError(f"module 'jlinnet' has no attribute {name!r}")

__all__ = [  # in the order of the tutorial: data, network, loss, gradients, training, beyond
    "grid", "linear_target", "sine_target", "batch_starts",
    "Layer", "Net", "init_mlp", "forward",
    "mse", "mse_grad",
    "manual_grads", "autodiff_grads", "hidden_weight_grad",
    "train", "train_many", "TrainResult", "with_hyperparams", "tutorial_setup",
    "affine_map", "least_squares", "sharpness",
    "save", "load", "__version__",
]
