"""Many networks per compiled call: `train` vmapped over a leading axis K, optionally
spread over devices (of one process or of several, with `jax.distributed`).

Every network k runs the tutorial's loop on its own weights and schedule,

    theta^k_{t+1} = theta^k_t - lr_k * dJ/dtheta^k (x^k_t, y^k_t)      k = 0 .. K-1

on the shared grid (xs, ys). `train`'s scan is `jax.vmap`ped over k, so K networks
cost one compile and one call. With a `mesh`, the K axis is split over its devices
(`jax.shard_map`): each device trains K / D networks, and no data moves between
devices until the results come back.

On a CPU, the networks of a device run in blocks of `chunk` networks, one block
after another (`lax.map`): K networks' activations at once, K x B x width floats,
outgrow the cache for larger networks (hidden 64, batch 32: 8 MiB at K = 1024), and
each step then waits on memory. On a GPU/TPU all of a device's networks run at once.
"""

import jax
import numpy as np
import optax
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from jlinnet import checks
from jlinnet.backprop import autodiff_grads
from jlinnet.model import Network, unpack
from jlinnet.training import SETTINGS, Grads, TrainResult, check_settings, check_starts, run

CPU_BLOCK_BYTES = 64 * 1024  # one block's widest activation, chunk x B x width float32


def _leading_k(name: str, tree, k: int) -> None:
    """Raises unless every leaf of `tree` has the leading axis `k` (one entry per network)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        shape = np.shape(leaf)
        if not shape or shape[0] != k:
            raise ValueError(
                f"{name}{jax.tree_util.keystr(path)} must have the leading axis K={k} (one"
                f" entry per network), got shape {shape}"
            )


def check_many(net, starts, opt_state, mesh, chunk):
    """Checks what `train_many` adds to `train`: the K axis, the mesh, the chunk.

    Returns:
      (K, starts): the number of networks, and starts as a (K, S) integer array.
    """
    try:
        unpack(net)
    except (TypeError, ValueError):
        pass  # not one network: the per-network checks below and in `run` name the problem
    else:
        raise ValueError(
            "net looks like one network (w: (in, out)), but train_many needs a leading axis K"
            " on every weight: jax.tree.map(lambda a: a[None], net) for K = 1, or"
            " jax.vmap(jl.init_mlp)(jax.random.split(key, K))"
        )
    leaves = jax.tree.leaves(net)
    if not leaves or not np.shape(leaves[0]):
        unpack(net)  # no weights, or no leading axis: the one-network check names it
    k = np.shape(leaves[0])[0]
    if k < 1:
        raise ValueError(f"net must hold at least one network (leading axis K >= 1), got K={k}")
    _leading_k("net", net, k)
    starts = checks.integers("starts", starts, ndim=np.ndim(starts))
    if starts.ndim != 2:
        raise ValueError(
            f"starts must be (K, S) = ({k}, S), one schedule per network, got shape"
            f" {starts.shape}; one schedule for all: jnp.broadcast_to(starts, ({k}, S))"
        )
    _leading_k("starts", starts, k)
    if opt_state is not None:
        _leading_k("opt_state", opt_state, k)
    if mesh is not None:
        if not isinstance(mesh, Mesh):
            raise TypeError(
                "mesh must be a jax.sharding.Mesh such as jax.make_mesh((jax.device_count(),),"
                f" ('k',)), got {type(mesh).__name__}"
            )
        if k % mesh.size:
            raise ValueError(
                f"mesh has {mesh.size} devices, which does not divide K={k} networks: make K a"
                f" multiple of {mesh.size} (every device trains K / {mesh.size} networks)"
            )
    if chunk is not None:
        checks.positive_int("chunk", chunk)
    return k, starts


def default_chunk(net, batchsize: int, k: int, platform: str) -> int:
    """Networks per vmapped block: all K on an accelerator; on a CPU, as many as keep
    one block's widest activation (chunk x B x width) within `CPU_BLOCK_BYTES`."""
    if platform != "cpu":
        return k
    width = max(max(np.shape(a)[1:]) for a in jax.tree.leaves(net))
    return max(1, min(k, CPU_BLOCK_BYTES // (4 * batchsize * width)))


def train_many(
    net: Network,
    xs: ArrayLike,
    ys: ArrayLike,
    starts: ArrayLike,
    *,
    batchsize: int,
    optimizer: optax.GradientTransformation,
    grads: Grads = autodiff_grads,
    opt_state: optax.OptState | None = None,
    mesh: Mesh | None = None,
    chunk: int | None = None,
) -> TrainResult:
    """Trains K networks at once, as one compiled call: `train` vmapped over networks.

    Network k trains on its own schedule starts[k] with its own weights and optimizer
    state, on the shared grid: the same numbers as K separate `train` calls, for one
    compile. A learning-rate sweep is one call too: build the optimizer once with
    `optax.inject_hyperparams` and give each network its rate,

        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
        state = with_hyperparams(jax.vmap(opt.init)(net), learning_rate=lrs)  # lrs: (K,)
        train_many(net, xs, ys, starts, batchsize=1, optimizer=opt, opt_state=state)

    With `mesh`, the K networks are split over its devices (all of its axes): device
    d trains networks d K/D .. (d + 1) K/D - 1, with the same results as on one device
    (up to float rounding: vector widths differ). The mesh may span the devices of
    several processes (`jax.distributed`); each process then passes the same full
    inputs and gets back arrays sharded over every device. Out-of-range starts are
    handled as in `train`: NaN from that step of that network on.

    Args:
      net: a `Net` (or tuple of `Layer`s) whose every leaf has a leading axis K:
        w: (K, in, out), b: (K, out); e.g. `jax.vmap(init_mlp)(jax.random.split(key, K))`.
      xs: (N, in) the grid, shared by all networks.
      ys: (N, out) the targets on that grid, shared.
      starts: (K, S) integer window starts, one schedule per network, each in
        [0, N - batchsize] (one schedule for all: `jnp.broadcast_to(starts, (K, S))`).
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`, shared (static) by all networks.
      grads: (net, x, y) -> gradients shaped like net.
      opt_state: the K optimizer states, every leaf with a leading K; None means
        `jax.vmap(optimizer.init)(net)`.
      mesh: None (the default device) or a `jax.sharding.Mesh` whose size divides K.
      chunk: networks vmapped together on a device (the rest run one block after
        another); None: all of them on a GPU/TPU, a cache-sized block on a CPU
        (`default_chunk`). It changes the speed, and the rounding by float32 ulps.

    Returns:
      A `TrainResult`: params with leaves (K, ...), losses (K, S), opt_state with a
      leading K, nonfinite_step (K,). With a mesh, each is sharded over K.
    """
    if isinstance(starts, np.ndarray):
        check_starts(starts, xs, batchsize)
    settings = dict(batchsize=batchsize, optimizer=optimizer, grads=grads, mesh=mesh, chunk=chunk)
    try:
        return _train_many(net, xs, ys, starts, opt_state, **settings)
    except (TypeError, ValueError):
        checks.jit_arguments(dict(net=net, xs=xs, ys=ys, starts=starts, opt_state=opt_state),
                             settings)
        raise


def run_many(net, xs, ys, starts, opt_state=None, *, batchsize, optimizer, grads, mesh, chunk):
    """`train_many` as a traceable function: its checks, then `run` vmapped over K."""
    k, starts = check_many(net, starts, opt_state, mesh, chunk)
    xs = checks.array("xs", xs, ndim=2)
    batchsize = check_settings(xs.shape[0], batchsize, optimizer, grads)
    if opt_state is None:  # before placing: a state made from placed weights is not split
        opt_state = jax.vmap(optimizer.init)(net)
    if mesh is not None:  # place the inputs where they run: K split, the grid everywhere
        split, every = NamedSharding(mesh, P(mesh.axis_names)), NamedSharding(mesh, P())
        net, starts, opt_state = jax.device_put((net, starts, opt_state), split)
        xs, ys = jax.device_put((xs, ys), every)
    if chunk is None:
        platform = jax.default_backend() if mesh is None else mesh.devices.flat[0].platform
        chunk = default_chunk(net, batchsize, k, platform)

    def many(net, xs, ys, starts, opt_state):
        def one(n, s, o):
            return run(n, xs, ys, s, o, batchsize=batchsize, optimizer=optimizer, grads=grads)

        if chunk >= np.shape(starts)[0]:
            return jax.vmap(one)(net, starts, opt_state)
        return lax.map(lambda a: one(*a), (net, starts, opt_state), batch_size=chunk)

    if mesh is None:
        return many(net, xs, ys, starts, opt_state)
    split = P(mesh.axis_names)  # the K axis, split over every axis of the mesh
    shard = jax.shard_map(many, mesh=mesh, in_specs=(split, P(), P(), split, split),
                          out_specs=split)
    return shard(net, xs, ys, starts, opt_state)


_train_many = jax.jit(run_many, static_argnames=(*SETTINGS, "mesh", "chunk"))
