"""Property tests over generated shapes, dtypes and values, for every public function.

Two properties: a bad argument is always a named error (a ValueError or TypeError
raised by jlinnet's own checks, naming the argument), never a raw JAX or NumPy
traceback; a good call agrees with a NumPy reference written from the tutorial.
The examples are derived from a fixed seed (conftest.py), so every run checks the
same cases.
"""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jlinnet as jl
from experiments import tutorial_numpy as tn

JLINNET = Path(jl.__file__).parent
F = {None: lambda a: a, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0),
     "sigmoid": lambda a: 1 / (1 + np.exp(-a))}
DF = {None: lambda a: np.ones_like(a), "tanh": lambda a: 1 - np.tanh(a) ** 2,
      "relu": lambda a: (a > 0).astype(a.dtype),
      "sigmoid": lambda a: F["sigmoid"](a) * (1 - F["sigmoid"](a))}
SGD = optax.sgd(0.01)
X = jl.grid()
Y = jl.linear_target(X)


def assert_named_error(call, name):
    """`call()` raises a ValueError/TypeError from jlinnet's own code that names `name`."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    raised_in = Path(info.traceback[-1].path)
    assert JLINNET in raised_in.parents, f"raw error from {raised_in}: {info.value!r}"
    assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", str(info.value)), (name, str(info.value))


# --- What a bad array argument looks like, given the good one's shape. ---------------

def corruptions(shape):
    """(label, value) pairs: each is wrong for an argument that needs `shape`, 2-D floats."""
    n, f = shape
    return [
        ("1-D", np.zeros((n,), np.float32)),
        ("3-D", np.zeros((n, f, 1), np.float32)),
        ("features", np.zeros((n, f + 1), np.float32)),
        ("bool", np.zeros(shape, bool)),
        ("complex", np.zeros(shape, np.complex64)),
        ("str", np.full(shape, "a")),
        ("object", np.full(shape, None, dtype=object)),
        ("None", None),
        ("text", "abc"),
        ("dict", {"x": 1}),
        ("empty", np.zeros((0, f), np.float32)),
        ("ragged", [[1.0], [1.0, 2.0]]),
    ]


def networks(max_layers=3, widths=(1, 2, 3), activations=(None, "tanh", "relu", "sigmoid")):
    """Random networks: sizes, activation and weights (float32, |w| <= 2)."""
    @st.composite
    def build(draw):
        sizes = draw(st.lists(st.sampled_from(widths), min_size=2, max_size=max_layers + 1))
        activation = draw(st.sampled_from(activations))
        seed = draw(st.integers(0, 2**16))
        net = jl.init_mlp(jax.random.key(seed), tuple(sizes), activation=activation, wscale=0.7)
        return jax.tree.map(lambda w: w + 0.1, net)  # b != 0
    return build()


def batch_for(net, draw, *, rows=None, integer=False):
    rows = rows or draw(st.sampled_from([1, 4]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, net[0].w.shape[0])).astype(np.float32)
    y = rng.normal(size=(rows, net[-1].w.shape[1])).astype(np.float32)
    return (np.round(x * 3).astype(np.int32), y) if integer else (x, y)


def numpy_backprop(net, x, y):
    """The tutorial's Linear.backward / update in float64 NumPy: (forward output, grads)."""
    f, df = F[net.activation], DF[net.activation]
    zs, pre, z = [], [], np.asarray(x, np.float64)
    for l, layer in enumerate(net):
        zs.append(z)
        a = z @ np.asarray(layer.w, np.float64) + np.asarray(layer.b, np.float64)
        pre.append(a)
        z = a if l == len(net) - 1 else f(a)
    g = -(np.asarray(y, np.float64) - z) / len(x)
    grads = []
    for l in reversed(range(len(net))):
        grads.insert(0, (zs[l].T @ g, g.sum(axis=0)))
        if l:
            g = (g @ np.asarray(net[l].w, np.float64).T) * df(pre[l - 1])
    return z, grads


# --- forward, the grads, mse -------------------------------------------------------

@jax.jit
def _forward_and_grads(net, x, y):
    return jl.forward(net, x), jl.manual_grads(net, x, y), jl.autodiff_grads(net, x, y)


@settings(max_examples=30)
@given(st.data())
def test_forward_and_both_grads_agree_with_numpy(data):
    net = data.draw(networks())
    x, y = batch_for(net, data.draw, integer=data.draw(st.booleans()))
    out, grads = numpy_backprop(net, x, y)
    forward, *routes = _forward_and_grads(net, x, y)
    np.testing.assert_allclose(forward, out, rtol=2e-4, atol=2e-4)
    for route in routes:
        for (gw, gb), layer in zip(grads, route):
            np.testing.assert_allclose(layer.w, gw, rtol=2e-3, atol=2e-4)
            np.testing.assert_allclose(layer.b, gb, rtol=2e-3, atol=2e-4)


@settings(max_examples=80)
@given(st.data())
def test_bad_batches_are_named(data):
    net = data.draw(networks(max_layers=2))
    x, y = batch_for(net, data.draw)
    name = data.draw(st.sampled_from(["x", "y"]))
    label, bad = data.draw(st.sampled_from(corruptions((x if name == "x" else y).shape)))
    fn = data.draw(st.sampled_from([jl.manual_grads, jl.autodiff_grads, "forward"]))
    if fn == "forward":
        if name == "y":
            return
        assert_named_error(lambda: jl.forward(net, bad), "x")
    else:
        args = dict(x=x, y=y) | {name: bad}
        assert_named_error(lambda: fn(net, args["x"], args["y"]), name)


@settings(max_examples=40)
@given(st.data())
def test_bad_networks_are_named(data):
    net = data.draw(networks(max_layers=2))
    x, y = batch_for(net, data.draw)
    l = data.draw(st.integers(0, len(net) - 1))
    field = data.draw(st.sampled_from(["w", "b"]))
    kind = data.draw(st.sampled_from(["int", "bool", "complex", "str", "1-D", "list"]))
    leaf = np.asarray(getattr(net[l], field))
    bad = {"int": leaf.astype(np.int32), "bool": leaf > 0, "complex": leaf.astype(np.complex64),
           "str": "w", "1-D": leaf.reshape(-1)[:1] if field == "w" else leaf[None],
           "list": leaf.tolist()}[kind]
    layers = list(net.layers)
    layers[l] = layers[l]._replace(**{field: bad})
    broken = jl.Net(tuple(layers), net.activation)
    fn = data.draw(st.sampled_from([jl.forward, jl.manual_grads, jl.autodiff_grads,
                                    jl.affine_map]))
    args = (broken,) if fn is jl.affine_map else (broken, x) if fn is jl.forward else (broken, x, y)
    assert_named_error(lambda: fn(*args), "net")


@settings(max_examples=50)
@given(rows=st.sampled_from([1, 2, 7]), cols=st.sampled_from([1, 3]),
       dtype=st.sampled_from([np.float32, np.float16, np.int32, np.int8]),
       seed=st.integers(0, 2**16))
def test_mse_and_its_gradient_agree_with_numpy(rows, cols, dtype, seed):
    rng = np.random.default_rng(seed)
    pred, target = (rng.normal(scale=4, size=(rows, cols)).astype(dtype) for _ in range(2))
    p, t = pred.astype(np.float64), target.astype(np.float64)
    rtol = 2e-3 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(jl.mse(pred, target), np.sum((t - p) ** 2) / (2 * rows),
                               rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(jl.mse_grad(pred, target), -(t - p) / rows, rtol=rtol, atol=1e-3)


@settings(max_examples=40)
@given(st.data())
def test_bad_loss_arguments_are_named(data):
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)))
    name = data.draw(st.sampled_from(["pred", "target"]))
    label, bad = data.draw(st.sampled_from(corruptions(shape)))
    args = dict(pred=np.zeros(shape, np.float32), target=np.zeros(shape, np.float32))
    fn = data.draw(st.sampled_from([jl.mse, jl.mse_grad]))
    args[name] = bad
    if label in ("features",):  # a shape mismatch names both arguments
        name = "pred and target"
    assert_named_error(lambda: fn(**args), name)


# --- the affine collapse and the least-squares line ----------------------------------

@settings(max_examples=40)
@given(st.data())
def test_affine_map_is_numpys_matrix_product(data):
    net = data.draw(networks(activations=(None,)))
    w, b = np.asarray(net[0].w, np.float64), np.asarray(net[0].b, np.float64)
    for layer in net.layers[1:]:
        lw = np.asarray(layer.w, np.float64)
        w, b = w @ lw, b @ lw + np.asarray(layer.b, np.float64)
    got_w, got_b = jl.affine_map(net)
    np.testing.assert_allclose(got_w, w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_b, b, rtol=1e-4, atol=1e-5)


@settings(max_examples=40)
@given(n=st.sampled_from([3, 40]), offset=st.sampled_from([0.0, 5.0, -300.0, 1000.0]),
       spread=st.sampled_from([1e-2, 1.0, 30.0]), seed=st.integers(0, 2**16))
def test_least_squares_agrees_with_numpy_lstsq(n, offset, spread, seed):
    rng = np.random.default_rng(seed)
    x = (offset + spread * rng.normal(size=(n, 1))).astype(np.float32)
    y = (1.5 * x + rng.normal(size=(n, 1))).astype(np.float32)
    w, b = jl.least_squares(x, y)
    a = np.concatenate([x.astype(np.float64), np.ones((n, 1))], axis=1)
    coef = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)[0]
    fitted, reference = x @ np.asarray(w) + np.asarray(b), a @ coef
    scale = np.abs(y).max() + 1
    np.testing.assert_allclose(fitted, reference, atol=1e-4 * scale)


@settings(max_examples=30)
@given(st.data())
def test_bad_fits_are_named(data):
    n = data.draw(st.integers(2, 5))
    name = data.draw(st.sampled_from(["x", "y"]))
    label, bad = data.draw(st.sampled_from(
        [c for c in corruptions((n, 1)) if c[0] != "features"]))
    args = dict(x=np.arange(n, dtype=np.float32)[:, None], y=np.ones((n, 1), np.float32))
    args[name] = bad
    assert_named_error(lambda: jl.least_squares(**args), name)


# --- data, init, the tutorial's start ------------------------------------------------

@settings(max_examples=40)
@given(n=st.integers(1, 2000), low=st.floats(-1e3, 1e3), width=st.floats(1e-3, 1e3))
def test_grid_is_numpys_linspace(n, low, width):
    np.testing.assert_array_equal(
        jl.grid(n, low, low + width),
        np.linspace(low, low + width, n, dtype=np.float32).reshape(-1, 1))


BAD_SETTINGS = [0, -3, 2.5, "7", None, True, [4]]


@settings(max_examples=60)
@given(st.data())
def test_bad_settings_are_named(data):
    """Integer settings of grid, batch_starts, init_mlp, tutorial_setup and train."""
    fn, name = data.draw(st.sampled_from([
        ("grid", "n"), ("batch_starts", "steps"), ("batch_starts", "n"),
        ("batch_starts", "batchsize"), ("init_mlp", "sizes[1]"), ("tutorial_setup", "steps"),
        ("tutorial_setup", "batchsize"), ("tutorial_setup", "seed"), ("train", "batchsize"),
        ("train_many", "batchsize"), ("train_many", "chunk"), ("hidden_weight_grad", "i"),
    ]))
    bad = data.draw(st.sampled_from(BAD_SETTINGS))
    if (name == "seed" and bad == 0) or (fn == "train_many" and name == "chunk" and bad is None):
        return  # a valid seed; chunk=None is the default
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    calls = {
        "grid": lambda: jl.grid(bad),
        "batch_starts": lambda: jl.batch_starts(
            jax.random.key(0), **(dict(steps=3, n=10, batchsize=2) | {name: bad})),
        "init_mlp": lambda: jl.init_mlp(jax.random.key(0), (1, bad, 1)),
        "tutorial_setup": lambda: jl.tutorial_setup(
            (1, 2, 1), **(dict(steps=3, batchsize=2, seed=1) | {name: bad})),
        "train": lambda: jl.train(net, X, Y, jnp.zeros(3, jnp.int32), batchsize=bad,
                                  optimizer=SGD),
        "train_many": lambda: jl.train_many(
            jax.tree.map(lambda a: a[None], net), X, Y, jnp.zeros((1, 3), jnp.int32),
            **(dict(batchsize=2, optimizer=SGD) | {name: bad})),
        "hidden_weight_grad": lambda: jl.hidden_weight_grad(net, X[:3], Y[:3], bad, 1),
    }
    assert_named_error(calls[fn], name.split("[")[0] if fn == "init_mlp" else name)


@settings(max_examples=12)
@given(hidden=st.integers(1, 3), steps=st.sampled_from([1, 8, 30]),
       batchsize=st.sampled_from([1, 5, 12]),
       lr=st.sampled_from([1e-3, 1e-2, 3e-2]), grads=st.sampled_from(["manual", "autodiff"]))
def test_train_replays_the_tutorials_numpy_network(hidden, steps, batchsize, lr, grads):
    net, starts = jl.tutorial_setup((1, hidden, 1), steps, batchsize)
    grads = jl.manual_grads if grads == "manual" else jl.autodiff_grads
    result = jl.train(net, X, Y, starts, batchsize=batchsize, optimizer=optax.sgd(lr),
                      grads=grads)
    reference, errors = tn.train_net(hidden, steps, batchsize, lr, verbose=False)
    np.testing.assert_allclose(result.losses, errors, rtol=1e-4, atol=1e-5)
    for layer, ref in zip(result.params, reference.layers):
        np.testing.assert_allclose(layer.w, ref.w, rtol=1e-4, atol=1e-5)


@settings(max_examples=60)
@given(st.data())
def test_bad_training_arguments_are_named(data):
    many = data.draw(st.booleans())
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    starts = np.zeros((3,), np.int32)
    if many:
        net, starts = jax.tree.map(lambda a: a[None], net), starts[None]
    name = data.draw(st.sampled_from(["xs", "ys", "starts", "optimizer", "opt_state", "grads"]))
    if name in ("xs", "ys"):
        label, bad = data.draw(st.sampled_from(corruptions((1000, 1))))
    elif name == "starts":
        bad = data.draw(st.sampled_from([
            np.zeros(starts.shape, np.float32), np.zeros(starts.shape + (1,), np.int32),
            np.zeros(starts.shape[:-1] + (0,), np.int32), "abc", None,
            np.array([5000] * starts.shape[-1]).reshape(starts.shape), -starts - 1]))
    elif name == "optimizer":
        bad = data.draw(st.sampled_from([0.01, None, "sgd", optax.sgd]))
    elif name == "opt_state":
        bad = data.draw(st.sampled_from([optax.adam(0.1).init(net), {"a": 1}, "state"]))
    else:
        bad = data.draw(st.sampled_from([3, lambda n, x, y: (n[0],), lambda n, x, y: "g"]))
    args = dict(xs=X, ys=Y, starts=starts, batchsize=2, optimizer=SGD) | {name: bad}
    fn = jl.train_many if many else jl.train
    assert_named_error(lambda: fn(net, **args), name)


@settings(max_examples=40)
@given(st.data())
def test_with_hyperparams_takes_good_values_and_names_bad_ones(data):
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)
    k = data.draw(st.sampled_from([None, 3]))
    net = jl.init_mlp(jax.random.key(0))
    state = opt.init(net) if k is None else jax.vmap(opt.init)(
        jax.tree.map(lambda a: jnp.stack([a] * k), net))
    good = data.draw(st.floats(1e-6, 10.0))
    value = good if k is None else [good] * k
    np.testing.assert_allclose(
        jl.with_hyperparams(state, learning_rate=value).hyperparams["learning_rate"], value,
        rtol=1e-6)
    bad = data.draw(st.sampled_from([float("nan"), float("inf"), 1e40, "fast", [1.0, 2.0],
                                     np.zeros((2, 2))]))
    assert_named_error(lambda: jl.with_hyperparams(state, learning_rate=bad), "learning_rate")


@settings(max_examples=25)
@given(data=st.data())
def test_saved_networks_load_whole_and_damaged_files_are_named(tmp_path_factory, data):
    net = data.draw(networks())
    path = tmp_path_factory.mktemp("nets") / "net.npz"
    loaded = jl.load(jl.save(path, net))
    assert loaded.activation == net.activation
    for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(net)):
        np.testing.assert_array_equal(a, b)
    raw = path.read_bytes()
    cut = data.draw(st.integers(0, len(raw) - 1))
    path.write_bytes(raw[:cut] + bytes([raw[cut] ^ 0xFF]) + raw[cut + 1:])
    try:
        jl.load(path)
    except ValueError as err:
        assert str(path) in str(err)  # damaged: a named error, never a raw zip/json traceback
