"""Sweeps: the tutorial's network over a grid of learning rates x seeds, in one call.

The question the tutorial leaves open: which learning rates restore 2x + 3 in 100
steps, and where does SGD diverge? A sweep trains K = L x seeds networks, network
(i, j) from seed j's weights and batches with learning rate lrs[i],

    theta^(ij)_{t+1} = theta^(ij)_t - lrs[i] * dJ/dtheta (x^(j)_t, y^(j)_t)

as one `train_many` call (the rates travel in the optimizer state, so a new grid of
rates does not compile again), then scores each network by its final full-grid error

    J_ij = 1/(2N) sum_n (y_n - net_ij(x_n))^2        over the whole grid xs: (N, in)

A network that diverged is data: its J is NaN or inf and its `nonfinite_step` says
when; the summaries count it, never raise. With a mesh the networks are split over
its devices, which may belong to several processes (`jax.distributed`); the table
comes back whole on every process.
"""

from collections.abc import Sequence
from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.typing import ArrayLike

from jlinnet import checks, model
from jlinnet.backprop import autodiff_grads
from jlinnet.data import batch_starts
from jlinnet.loss import mse
from jlinnet.many import default_chunk, train_many
from jlinnet.model import Activation, Net, Network, forward, init_mlp
from jlinnet.training import Grads, with_hyperparams
from jlinnet.tutorial import tutorial_setup

# The tutorial's update with the rate as state: one object, so every sweep reuses one program.
SWEEP_SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)


class Sweep(NamedTuple):
    """The table a sweep returns, as NumPy arrays on every process.

    Attributes:
      lrs: (L,) the learning rates, in the order given.
      errors: (L, seeds) float, the final full-grid J of network (lr i, seed j); NaN or
        inf where it diverged.
      nonfinite_step: (L, seeds) int32, `TrainResult.nonfinite_step`: the first step
        whose batch loss was not finite, S if only the final weights are not, -1 if the
        run stayed finite.
      losses: (L, seeds, S) the batch loss J before each update.
    """

    lrs: np.ndarray
    errors: np.ndarray
    nonfinite_step: np.ndarray
    losses: np.ndarray


def seed_networks(
    seeds: Sequence[int],
    sizes: Sequence[int],
    steps: int,
    batchsize: int,
    *,
    activation: Activation = None,
    n: int = 1000,
    rng: Literal["jax", "tutorial"] = "jax",
) -> tuple[Network, jax.Array]:
    """One network and one batch schedule per seed, stacked on a leading axis.

    rng="jax": `k_init, k_batch = jax.random.split(jax.random.key(seed))`, then
    `init_mlp(k_init, sizes)` and `batch_starts(k_batch, steps, n, batchsize)`, the
    start of `python -m experiments.linear --rng jax --seed SEED`. rng="tutorial":
    `tutorial_setup(sizes, steps, batchsize, seed)`, the tutorial's NumPy stream.

    Args:
      seeds: the seeds, each in [0, 2**32).
      sizes: layer sizes (in, hidden..., out); the tutorial's is (1, 2, 1).
      steps: S, steps per run; batchsize: B; n: grid points N.
      activation: the networks' activation (the tutorial's: None).
      rng: "jax" or "tutorial".

    Returns:
      (net, starts): a `Net` whose leaves have a leading axis of len(seeds), and
      starts: (seeds, S) int32.
    """
    seeds = [checks.positive_int(f"seeds[{i}]", s, minimum=0) for i, s in enumerate(seeds)]
    if not seeds or max(seeds) >= 2**32:
        raise ValueError(f"seeds must be a non-empty list of integers in [0, 2**32), got {seeds}")
    if rng == "tutorial":
        runs = [tutorial_setup(sizes, steps, batchsize, seed, n, activation=activation)
                for seed in seeds]
        return jax.tree.map(lambda *a: np.stack(a), *runs)  # on the host: nothing to compile
    if rng != "jax":
        raise ValueError(f"rng must be 'jax' or 'tutorial', got {rng!r}")
    model.check_activation(activation)
    net, starts = _jax_networks(np.asarray(seeds, np.uint32), sizes=tuple(sizes), steps=steps,
                                batchsize=batchsize, n=n)
    return Net(net.layers, activation), starts  # the weights do not depend on it: one program


@partial(jax.jit, static_argnames=("sizes", "steps", "batchsize", "n"))
def _jax_networks(seeds, *, sizes, steps, batchsize, n):
    def one(seed):
        k_init, k_batch = jax.random.split(jax.random.key(seed))
        return init_mlp(k_init, sizes), batch_starts(k_batch, steps, n, batchsize)

    return jax.vmap(one)(seeds)


def train_sweep(
    net: Network,
    xs: ArrayLike,
    ys: ArrayLike,
    starts: ArrayLike,
    lrs: ArrayLike,
    *,
    batchsize: int,
    optimizer: optax.GradientTransformation = SWEEP_SGD,
    grads: Grads = autodiff_grads,
    mesh: Mesh | None = None,
    chunk: int | None = None,
) -> Sweep:
    """Trains every (learning rate, seed) pair in one `train_many` call; scores each by J.

    Network (i, j) starts from seed j's weights net[j] and schedule starts[j] and
    trains with learning rate lrs[i]; then J_ij = mse(forward(net_ij, xs), ys). One
    program per shapes and settings: new rates, targets or weights of the same shapes
    reuse it. With a mesh, the K = L x seeds networks are split over its devices
    (padded to fill them), and every process gets the whole table.

    Args:
      net: one network per seed, every leaf with a leading axis `seeds`
        (`seed_networks`).
      xs: (N, in) the grid; ys: (N, out) the target on it.
      starts: (seeds, S) one batch schedule per seed.
      lrs: (L,) positive finite learning rates.
      batchsize: B, rows per step.
      optimizer: an `optax.inject_hyperparams` optimizer with a `learning_rate`; the
        default is SGD, the tutorial's update. Keep one object: a new one compiles again.
      grads: (net, x, y) -> gradients; `autodiff_grads` or `manual_grads`.
      mesh: None (the default device) or a mesh to split the networks over, e.g.
        `jax.make_mesh((jax.device_count(),), ("k",))`.
      chunk: networks vmapped together per device (`train_many`).

    Returns:
      A `Sweep` of NumPy arrays: errors and nonfinite_step (L, seeds), losses (L, seeds, S).
    """
    lrs = np.asarray(lrs)
    if lrs.ndim != 1 or not lrs.size or not np.all(np.isfinite(lrs) & (lrs > 0)):
        raise ValueError(f"lrs must be (L,) positive finite learning rates, got {lrs}")
    n_seeds = _check(net, optimizer)
    k = len(lrs) * n_seeds
    devices = 1 if mesh is None else mesh.size
    per_device = -(-k // devices)
    if chunk is None and per_device:  # even blocks: a last, smaller one would compile again
        platform = jax.default_backend() if mesh is None else mesh.devices.flat[0].platform
        blocks = -(-per_device // default_chunk(net, batchsize, per_device, platform))
        chunk = -(-per_device // blocks)
        per_device = blocks * chunk
    pad = per_device * devices - k  # networks that fill the mesh and the blocks, then dropped
    out = _train_sweep(net, xs, ys, starts, lrs, pad, batchsize=batchsize, optimizer=optimizer,
                       grads=grads, mesh=mesh, chunk=chunk)
    errors, nonfinite, losses = (_host(a)[:k] for a in out)
    shape = (len(lrs), n_seeds)
    return Sweep(lrs, errors.reshape(shape), nonfinite.reshape(shape),
                 losses.reshape(*shape, -1))


def _check(net, optimizer) -> int:
    """The number of seeds of `net`, after checking it is one network per seed and that
    `optimizer` takes its rate as state."""
    try:
        model.unpack(net)
    except (TypeError, ValueError):
        pass
    else:
        raise ValueError("net looks like one network (w: (in, out)), but train_sweep needs one per"
                         " seed, every leaf with a leading axis `seeds`: jl.seed_networks(seeds,"
                         " sizes, ...), or jax.tree.map(lambda a: a[None], net) for one seed")
    shapes = [np.shape(a) for a in jax.tree.leaves(net)]
    if not shapes or min(map(len, shapes)) < 2 or len({s[0] for s in shapes}) > 1:
        raise ValueError(f"net must be one network per seed, every leaf with the same leading"
                         f" axis `seeds` (jl.seed_networks), got leaf shapes {shapes}")
    state = jax.eval_shape(optimizer.init, jax.tree.map(lambda a: a[0], net))
    if "learning_rate" not in getattr(state, "hyperparams", {}):
        raise TypeError("optimizer must take its learning rate as state:"
                        " optax.inject_hyperparams(optax.sgd)(learning_rate=0.01) (jl.SWEEP_SGD)"
                        " or another inject_hyperparams optimizer with a learning_rate")
    return shapes[0][0]


@partial(jax.jit, static_argnames=("pad", "batchsize", "optimizer", "grads", "mesh", "chunk"))
def _train_sweep(net, xs, ys, starts, lrs, pad, *, batchsize, optimizer, grads, mesh, chunk):
    """K = L x seeds networks, k = i * seeds + j (pad more to fill the mesh): train, score."""
    n_seeds = jnp.shape(jax.tree.leaves(net)[0])[0]

    def tile(a):  # (seeds, ...) -> (K + pad, ...): seed j at every i * seeds + j
        a = jnp.tile(a, (lrs.shape[0],) + (1,) * (a.ndim - 1))
        return jnp.concatenate([a, a[:pad]])

    net, starts = jax.tree.map(tile, (net, jnp.asarray(starts)))
    rates = jnp.repeat(lrs, n_seeds)  # lrs[i] at every i * seeds + j
    rates = jnp.concatenate([rates, rates[:pad]])
    state = with_hyperparams(jax.vmap(optimizer.init)(net), learning_rate=rates)
    result = train_many(net, xs, ys, starts, batchsize=batchsize, optimizer=optimizer,
                        grads=grads, opt_state=state, mesh=mesh, chunk=chunk)
    errors = jax.vmap(lambda n: mse(forward(n, xs), ys))(result.params)  # J on the whole grid
    return errors, result.nonfinite_step, result.losses


def _host(a: jax.Array) -> np.ndarray:
    """`a` as NumPy; an array spread over several processes is gathered from all of them."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


def diverged(sweep: Sweep) -> np.ndarray:
    """(L, seeds) bool: the network's run or its final J was not finite."""
    return (sweep.nonfinite_step >= 0) | ~np.isfinite(sweep.errors)


def seed_quantile(sweep: Sweep, q: float = 0.5) -> np.ndarray:
    """(L,) the q-quantile over seeds of the final J, a diverged network counting as +inf.

    q = 0.5 is the median, q = 1 the worst seed. The quantile is one the seeds reached
    (NumPy's method "higher"): at least a fraction q of the seeds end at or below it.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    errors = np.where(diverged(sweep), np.inf, sweep.errors)
    return np.quantile(errors, q, axis=1, method="higher")


def lr_range(sweep: Sweep, below: float, q: float = 0.5) -> tuple[float, float] | None:
    """The widest run of neighbouring learning rates whose q-quantile J is below `below`.

    With q = 0.5: the rates at which at least half of the seeds end with J < below;
    with q = 1: every seed. Neighbouring in the sorted grid, so a rate between the two
    ends that fails would split the run.

    Returns:
      (smallest lr, largest lr) of that run, or None if no rate passes.
    """
    order = np.argsort(sweep.lrs)
    ok = np.concatenate([[0], seed_quantile(sweep, q)[order] < below, [0]])
    edges = np.flatnonzero(np.diff(ok))  # where runs of passing rates start and end
    if not edges.size:
        return None
    first, end = edges[::2], edges[1::2]
    widest = np.argmax(end - first)  # the first of the widest
    lrs = sweep.lrs[order]
    return float(lrs[first[widest]]), float(lrs[end[widest] - 1])


def divergence_lr(sweep: Sweep, fraction: float = 0.0) -> float | None:
    """The smallest learning rate at which more than `fraction` of the seeds diverged.

    fraction = 0: where divergence starts (one seed is enough); 0.5: where most do.
    None if none does.
    """
    hit = diverged(sweep).mean(axis=1) > fraction
    return float(np.min(sweep.lrs[hit])) if hit.any() else None
