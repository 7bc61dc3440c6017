"""Many networks per compiled call: `train` vmapped over a leading axis K, optionally
spread over devices.

Every network k runs the tutorial's loop on its own parameters and schedule,

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

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jlinnet import _check
from jlinnet.backprop import autodiff_grads
from jlinnet.training import check_run, run

CPU_BLOCK_BYTES = 64 * 1024  # one block's widest activation, chunk x B x width float32


def _leading_k(name, tree, k):
    """Checks that every leaf of `tree` has the leading axis `k` (None: the first one's).

    Returns:
      k: the size of the leading axis.
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        where = f"{name}{jax.tree_util.keystr(path)}"
        shape = _check.shape_of(where, leaf)
        if k is None and shape:
            k = shape[0]
        if not shape or shape[0] != k:
            need = "a leading axis K" if k is None else f"the leading axis K={k}"
            raise ValueError(f"{where} must have {need} (one entry per network), got shape {shape}")
    return k


def _one(leaf):
    """The shape and dtype of one network's slice of a leaf with a leading K."""
    return jax.ShapeDtypeStruct(np.shape(leaf)[1:], jnp.result_type(leaf))


def check_many(params, xs, ys, starts, batchsize, optimizer, grads, activation, opt_state, mesh,
               chunk=None):
    """Checks `train_many`'s arguments before tracing.

    Returns:
      (K, N, S): networks, grid points and steps.
    """
    k = _leading_k("params", params, None)
    k = _leading_k("starts", starts, k)
    shape = _check.shape_of("starts", starts)
    if len(shape) != 2 or not jnp.issubdtype(jnp.result_type(starts), np.integer):
        raise TypeError(
            f"starts must be a (K, S) integer array, one schedule per network, got shape {shape}"
            f" and dtype {jnp.result_type(starts)}"
        )
    if opt_state is not None:
        _leading_k("opt_state", opt_state, k)
    values = _check.concrete(starts)  # one schedule of K * S starts checks every window
    flat = values.reshape(-1) if values is not None else jax.ShapeDtypeStruct(
        (shape[0] * shape[1],), jnp.result_type(starts))
    one = jax.tree.map(_one, params)
    (n, _) = check_run(one, xs, ys, flat, batchsize, optimizer, grads, activation)
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
        _check.positive_int("chunk", chunk)
    return k, n, shape[1]


def default_chunk(params, batchsize, k, platform):
    """Networks per vmapped block: all K on an accelerator; on a CPU, as many as keep
    one block's widest activation (chunk x B x width) within `CPU_BLOCK_BYTES`."""
    if platform != "cpu":
        return k
    width = max(max(jnp.shape(layer.w)[1:]) for layer in params)
    return max(1, min(k, CPU_BLOCK_BYTES // (4 * batchsize * width)))


def train_many(
    params,
    xs,
    ys,
    starts,
    *,
    batchsize,
    optimizer,
    grads=autodiff_grads,
    activation=None,
    opt_state=None,
    mesh=None,
    chunk=None,
):
    """Trains K networks at once, as one compiled call: `train` vmapped over networks.

    Network k trains on its own schedule starts[k] with its own parameters and
    optimizer state, on the shared grid: the same numbers as K separate `train`
    calls, for one compile. A learning-rate sweep is one call too: build the
    optimizer once with `optax.inject_hyperparams` and give each network its rate,

        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
        state = with_hyperparams(jax.vmap(opt.init)(params), learning_rate=lrs)  # lrs: (K,)
        train_many(params, xs, ys, starts, batchsize=1, optimizer=opt, opt_state=state)

    With `mesh`, the K networks are split over its devices (all of its axes):
    device d trains networks d K/D .. (d + 1) K/D - 1, with the same results as on
    one device (up to float rounding: vector widths differ). On a GPU/TPU host,
    `mesh=jax.make_mesh((jax.device_count(),), ("k",))`.

    Args:
      params: a tuple of `Layer`s whose every leaf has a leading axis K:
        w: (K, in, out), b: (K, out); e.g. `jax.vmap(init_mlp)(jax.random.split(key, K))`.
      xs: (N, in) the grid, shared by all networks.
      ys: (N, out) the targets on that grid, shared.
      starts: (K, S) integer window starts, one schedule per network, each in
        [0, N - batchsize] (one schedule for all: `jnp.broadcast_to(starts, (K, S))`).
      batchsize: B, rows per step, 1 <= B <= N.
      optimizer: an optax `GradientTransformation`, shared (static) by all networks.
      grads: (params, x, y, *, activation) -> params-shaped gradients.
      activation: None (the tutorial's network) or a name in `ACTIVATIONS`.
      opt_state: the K optimizer states, every leaf with a leading K; None means
        `jax.vmap(optimizer.init)(params)`.
      mesh: None (the default device) or a `jax.sharding.Mesh` whose size divides K.
      chunk: networks vmapped together on a device (the rest run one block after
        another); None: all of them on a GPU/TPU, a cache-sized block on a CPU
        (`default_chunk`). It changes the speed, and the rounding by float32 ulps.

    Returns:
      A `TrainResult`: params with leaves (K, ...), losses (K, S), opt_state with a
      leading K, nonfinite_step (K,). With a mesh, each is sharded over K.
    """
    k, _, _ = check_many(params, xs, ys, starts, batchsize, optimizer, grads, activation,
                         opt_state, mesh, chunk)
    if chunk is None:
        platform = jax.default_backend() if mesh is None else mesh.devices.flat[0].platform
        chunk = default_chunk(params, batchsize, k, platform)
    if mesh is not None:  # place the inputs where they run: K split, the grid on every device
        split, every = NamedSharding(mesh, P(mesh.axis_names)), NamedSharding(mesh, P())
        params, starts, opt_state = jax.device_put((params, starts, opt_state), split)
        xs, ys = jax.device_put((xs, ys), every)
    return _train_many(params, xs, ys, starts, opt_state, batchsize, optimizer, grads,
                       activation, mesh, chunk)


@functools.partial(jax.jit, static_argnums=(5, 6, 7, 8, 9, 10))
def _train_many(params, xs, ys, starts, opt_state, batchsize, optimizer, grads, activation, mesh,
                chunk):
    if opt_state is None:
        opt_state = jax.vmap(optimizer.init)(params)

    def many(params, xs, ys, starts, opt_state):
        def one(p, s, o):
            return run(p, xs, ys, s, o, batchsize, optimizer, grads, activation)

        if chunk >= jnp.shape(starts)[0]:
            return jax.vmap(one)(params, starts, opt_state)
        return lax.map(lambda a: one(*a), (params, starts, opt_state), batch_size=chunk)

    if mesh is None:
        return many(params, xs, ys, starts, opt_state)
    k = P(mesh.axis_names)  # the K axis, split over every axis of the mesh
    shard = jax.shard_map(many, mesh=mesh, in_specs=(k, P(), P(), k, k), out_specs=k)
    return shard(params, xs, ys, starts, opt_state)
