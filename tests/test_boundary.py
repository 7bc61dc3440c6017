"""The mistakes people make, each refused where the value enters, naming the argument: the
one table of jlinnet's errors; then every argument of every public function given each of a
list of wrong values, which must answer right or name the argument."""

import importlib
import re
import tempfile
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jlinnet as jl
from jlinnet import checks, plot

X, SGD = jl.grid(), optax.sgd(0.01)
HYPER = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
Y = jl.linear_target(X)
LRS, E = np.array([1e-3, 1e-2, 1e-1, 1.0]), np.ones((4, 2))  # a sweep's rates, its (L, seeds) J
NET, STARTS = jl.tutorial_setup((1, 2, 1), 5, 1)
MISSING = Path(tempfile.gettempdir(), "jlinnet-no-such-folder")
TANH = jl.Net(NET.layers, "tanh")
STACK = jax.tree.map(lambda a: jnp.stack([a, a]), NET)
# A good call; a row passes what it changes (a keyword given again replaces the default)
train = partial(jl.train, net=NET, xs=X, ys=Y, starts=STARTS, batchsize=1, optimizer=SGD)
train_many = partial(jl.train_many, net=STACK, xs=X, ys=Y, starts=jnp.stack([STARTS] * 2),
                     batchsize=1, optimizer=SGD)

ROWS = {  # the mistake: (the call, the error, words the message must hold)
    "a tuple of layers for a net": (lambda: jl.forward(NET.layers, X), TypeError,
                                    "pass the Net itself"),
    "a Net as layers, another activation": (lambda: jl.Net(TANH, "relu"), ValueError,
                                            "jl.Net(net.layers, 'relu')"),
    "a Net's layers listed": (lambda: jl.Net(list(TANH)), TypeError, "net.layers"),
    "layers past the last": (lambda: NET[5:9], TypeError, "non-empty tuple of jl.Layer"),
    "int weights": (lambda: jl.forward(jax.tree.map(lambda a: a.astype(int), NET), X), TypeError,
                    "one floating dtype"),
    "layers that do not chain": (lambda: jl.forward(jl.Net((NET[0], NET[0])), X), ValueError,
                                 "sizes chain"),
    "an unknown activation": (lambda: jl.Net(NET.layers, "Tanh"), ValueError,
                              "activation must be None, one of"),
    "a stack into forward": (lambda: jl.forward(STACK, X), ValueError,
                             "jax.vmap(jl.forward, in_axes=(0, None))"),
    "a stack into affine_map": (lambda: jl.affine_map(STACK), ValueError, "jl.affine_map"),
    "one network into train_many": (lambda: train_many(net=NET), ValueError, "a[None]"),
    "a K axis missing on starts": (lambda: train_many(starts=STARTS), TypeError, "2-D integer"),
    "a feature count": (lambda: jl.forward(NET, jnp.ones((5, 2))), ValueError,
                        "x must be (rows, 1)"),
    "1-D data": (lambda: train(xs=X[:, 0]), ValueError, "xs must be (rows, 1)"),
    "an (N,) target": (lambda: jl.mse(Y, Y[:, 0]), ValueError, "target must be"),
    "targets of another length": (lambda: train(ys=Y[:10]), ValueError, "ys of 1000 rows"),
    "an empty batch": (lambda: jl.mse(jnp.zeros((0, 1)), jnp.zeros((0, 1))), ValueError,
                       "rows >= 1"),
    "bool data": (lambda: jl.forward(NET, X > 0), TypeError, "x must be an array of real"),
    "a string array": (lambda: jl.mse(np.array([["a"]]), np.zeros((1, 1))), TypeError,
                       "pred must be an array of real numbers, got <U1"),
    "starts off the grid, known on the host": (lambda: train(starts=np.array([1, 999, 3]) + 1),
                                               ValueError, "starts must lie in [0, N - batchsize]"),
    "float starts": (lambda: train(starts=STARTS * 1.0), TypeError, "integer array"),
    "batchsize > N": (lambda: train(batchsize=1001), ValueError, "batchsize must be"),
    "a float batchsize": (lambda: train(batchsize=2.5), ValueError, "batchsize must be"),
    "an optimizer that is not optax": (lambda: train(optimizer=0.01), TypeError, "optax"),
    "grads=jax.grad": (lambda: train(grads=jax.grad), TypeError, "jl.autodiff_grads"),
    "a state of another optimizer": (lambda: train(opt_state=optax.adam(0.1).init(NET)),
                                     ValueError, "opt_state must be shaped like optimizer.init"),
    "a state that is not one": (lambda: train(opt_state="x"), TypeError, "opt_state must be an"),
    "gradients of another shape": (lambda: train(grads=lambda n, x, y: jl.mse(n(x), y)),
                                   TypeError, "grads must return gradients shaped like"),
    "a mesh by name": (lambda: train_many(mesh="cpu"), TypeError, "mesh must be None or a"),
    "a rate that is not finite": (lambda: jl.with_hyperparams(HYPER.init(NET),
                                                              learning_rate=np.nan),
                                  ValueError, "learning_rate must be numbers in"),
    "a rate beyond float32": (lambda: jl.with_hyperparams(HYPER.init(NET), learning_rate=1e40),
                              ValueError, "learning_rate must be numbers in"),
    "a rate for a schedule": (lambda: jl.with_hyperparams(optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax.linear_schedule(0.1, 0.0, 10)).init(NET), learning_rate=0.5),
        ValueError, "set by a number"),
    "an unknown scheme": (lambda: jl.init_mlp(jax.random.key(0), scheme="lecun"), ValueError,
                          "scheme"),
    "a size of 0": (lambda: jl.init_mlp(jax.random.key(0), (1, 0, 1)), ValueError, "sizes[1]"),
    "one size": (lambda: jl.init_mlp(jax.random.key(0), (3,)), ValueError, "sizes must be a"),
    "a size for sizes": (lambda: jl.init_mlp(jax.random.key(0), 2), ValueError, "sizes must be a"),
    "a seed for a key": (lambda: jl.batch_starts(0, 5, 1000, 1), TypeError,
                         "key must be one JAX PRNG key"),
    "no key": (lambda: jl.init_mlp(None), TypeError, "key must be one JAX PRNG key"),
    "a batch of keys": (lambda: jl.init_mlp(jax.random.split(jax.random.key(0), 2)), TypeError,
                        "key must be one JAX PRNG key"),
    "a dtype that is not one": (lambda: jl.init_mlp(jax.random.key(0), dtype="foo"), TypeError,
                                "dtype must be a floating dtype"),
    "float64 without x64": (lambda: jl.init_mlp(jax.random.key(0), dtype=jnp.float64),
                            ValueError, "jax.config.update('jax_enable_x64', True)"),
    "power iterations": (lambda: jl.sharpness(NET, X, Y, iters=0), ValueError,
                         "iters must be an integer"),
    "sharpness's data": (lambda: jl.sharpness(NET, X[:, 0], Y), ValueError, "xs must be"),
    "weights that would overflow": (lambda: jl.init_mlp(jax.random.key(0), wscale=1e39),
                                    ValueError, "wscale"),
    "an int dtype": (lambda: jl.init_mlp(jax.random.key(0), dtype=jnp.int32), TypeError,
                     "floating dtype"),
    "a grid that overflows": (lambda: jl.grid(10, -1e300, 1e300), ValueError,
                              "low must be a number in (-3.4e+38, 3.4e+38), got -1e+300"),
    "a grid too large for int32 starts": (lambda: jl.tutorial_setup((1, 2, 1), 5, 1, n=2**40),
                                          ValueError, "n must be"),
    "affine_map with an activation": (lambda: jl.affine_map(jl.Net(NET.layers, "tanh")),
                                      ValueError, "not one affine map"),
    "a hand gradient it has not": (lambda: jl.manual_grads(jl.Net(NET.layers, jnp.sin), X, Y),
                                   ValueError, "autodiff_grads"),
    "a hidden neuron out of range": (lambda: jl.hidden_weight_grad(NET, X, Y, 3, 1),
                                     ValueError, "i must be"),
    "a line through a constant x": (lambda: jl.least_squares(jnp.ones((5, 1)), jnp.ones((5, 1))),
                                    ValueError, "non-constant"),
    "save into a missing folder": (lambda: jl.save(MISSING / "net.npz", NET), ValueError,
                                   f"no folder {MISSING}"),
    # figures that would merge curves, drop them, or draw them at another step
    "too few labels": (lambda: plot.loss_curve(jnp.ones((2, 5)), labels=["a"]), ValueError,
                       "labels (for losses): need 2 labels distinct as text, got ['a']"),
    "a label twice": (lambda: plot.before_after(X, Y, *[jnp.stack([Y, Y])] * 2, labels=["a", "a"]),
                      ValueError, "labels (for before): need 2 labels distinct as text, got ['a',"),
    "labels the same as text": (lambda: plot.loss_curve({0.1: Y, np.float32(0.1): Y}),
                                ValueError, "got ['0.1', '0.1']"),
    "a tuple label printed like a str": (lambda: plot.sweep(LRS, {("h", "a"): E, "('h', 'a')": E}),
                                         ValueError, "errors: need 2 labels distinct"),
    "rates the same in float32": (lambda: plot.sweep([0.1, np.float32(0.1)], E[:2]), ValueError,
                                  "lrs must be finite, > 0 and distinct in float32"),
    "errors not (L, seeds)": (lambda: plot.sweep(LRS, {"h": np.ones((5, 3))}), ValueError,
                              "errors['h'] must be (4, seeds) real numbers, got shape (5, 3)"),
    "frames that do not match": (lambda: plot.animate(X, Y, jnp.stack([Y] * 5), np.ones(4)),
                                 ValueError, "one row per frame, got 5, 4, 4"),
    "y shorter than x": (lambda: plot.before_after(X, Y[:500], Y, Y), ValueError,
                         "y must be (1000,) real numbers, got shape (500,)"),
    "a prediction on another grid": (lambda: plot.before_after(X, Y, Y[:500], Y), ValueError,
                                     "before must be (1000,) or (K, 1000) real numbers"),
    "predictions as columns (N, K)": (lambda: plot.before_after(X, Y, Y, jnp.hstack([Y, Y])),
                                      ValueError, "after must be (1000,) or (K, 1000)"),
    "runs of different lengths in a list": (lambda: plot.loss_curve([np.ones(5), np.ones(3)]),
                                            ValueError, "losses must be (S,) or (K, S)"),
    "a spread of one run": (lambda: plot.loss_curve(np.ones(5), spread=True), ValueError,
                            "losses must be (K, S) real numbers, got shape (5,)"),
    "a floor of 0": (lambda: plot.loss_curve(np.ones(5), floor=0), ValueError,
                     "floor (J or (J, label)) must be a finite number > 0, got 0"),
    "a floor as (label, J)": (lambda: plot.sweep(LRS, E, floor=("least-squares line", 0.33)),
                              ValueError, "floor (J or (J, label)) must be"),
    "a learning rate of 0": (lambda: plot.sweep(np.linspace(0, 1, 4), E), ValueError,
                             "lrs must be finite, > 0"),
    "one seed as (L,)": (lambda: plot.sweep(LRS, np.ones(4)), ValueError,
                         "errors must be (4, seeds) real numbers, got shape (4,)"),
    "terms as (H, N)": (lambda: plot.collapse(X, jnp.hstack([X, X]).T, 0.5, Y, (2, 3), E[:, :2]),
                        ValueError, "terms must be (1000, H) real numbers, got shape (2, 1000)"),
    "a path as (ws, bs)": (lambda: plot.collapse(X, X, 0.5, Y, (2, 3), {"a": np.ones((2, 5))}),
                           ValueError, "paths['a'] must be (T, 2) real numbers, got shape (2, 5)"),
    "frames on another grid": (lambda: plot.animate(X, Y, jnp.ones((4, 500)), np.ones(4)),
                               ValueError, "outputs must be (T, 1000) real numbers"),
}


@pytest.mark.parametrize("row", ROWS)
def test_a_mistake_is_named_where_it_enters(row):
    call, error, words = ROWS[row]
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_the_checks_run_inside_a_users_jit_and_vmap_too():
    with pytest.raises(ValueError, match="x must be"):
        jax.jit(jl.forward)(NET, jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="x must be"):
        jax.vmap(jl.forward, in_axes=(0, None))(STACK, jnp.ones((5, 2)))


def test_integers_become_floats_exactly_never_wrapped():
    one = jl.Net((jl.Layer(jnp.ones((1, 1)), jnp.zeros(1)),))
    np.testing.assert_allclose(jl.forward(one, np.array([[2**40]])), [[2.0**40]], rtol=1e-6)
    np.testing.assert_allclose(jl.mse(np.full((2, 1), 70000, np.int32),
                                      np.zeros((2, 1), np.float16)), 2.45e9, rtol=1e-6)
    np.testing.assert_allclose(jl.linear_target(np.array([2**40])), [2.0**41 + 3], rtol=1e-6)


# Every public function, a good call, and each argument in turn replaced by something that is
# not what it needs: the call must answer right, or say in one line which argument is wrong.
GOOD = {
    jl.grid: dict(n=10, low=-3.0, high=3.0, dtype=None),
    jl.linear_target: dict(x=X), jl.sine_target: dict(x=X),
    jl.batch_starts: dict(key=jax.random.key(0), steps=5, n=1000, batchsize=1),
    jl.Net: dict(layers=NET.layers, activation="tanh"),
    jl.init_mlp: dict(key=jax.random.key(0), sizes=(1, 2, 1), activation=None,
                      scheme="gaussian", wscale=1.0, dtype=None),
    jl.forward: dict(net=NET, x=X), jl.mse: dict(pred=Y, target=Y),
    jl.mse_grad: dict(pred=Y, target=Y), jl.manual_grads: dict(net=NET, x=X, y=Y),
    jl.autodiff_grads: dict(net=NET, x=X, y=Y),
    jl.hidden_weight_grad: dict(net=NET, x=X, y=Y, i=1, j=1),
    jl.train: dict(net=NET, xs=X, ys=Y, starts=STARTS, batchsize=1, optimizer=SGD,
                   grads=jl.autodiff_grads, opt_state=None),
    jl.train_many: dict(net=STACK, xs=X, ys=Y, starts=jnp.stack([STARTS] * 2), batchsize=1,
                        optimizer=SGD, opt_state=None, mesh=None),
    jl.with_hyperparams: dict(opt_state=HYPER.init(NET), learning_rate=0.1),
    jl.tutorial_setup: dict(sizes=(1, 2, 1), steps=5, batchsize=1, seed=0, n=1000,
                            activation=None, dtype=None),
    jl.affine_map: dict(net=NET), jl.least_squares: dict(x=X, y=Y),
    jl.sharpness: dict(net=NET, xs=X, ys=Y, iters=3, key=None),
    jl.save: dict(path="net.npz", net=NET),  # in the test's own folder
    jl.load: dict(path="net.npz", activation=None, dtype=None),
}
BAD = [None, "abc", True, -1, 0, 2.5, 2**40, np.nan, np.inf, [], [[1], [2, 3]], {"a": 1},
       np.array([["a"]]), np.array([[None]], dtype=object), np.array([[1 + 2j]]), np.zeros((0, 1)),
       np.zeros(3), np.zeros((2, 2, 2)), jnp.full((3, 1), jnp.nan), jax.random.key(0), SGD,
       NET, STACK, NET.layers, jnp.float64, "float32", lambda *a: 0.0]


@pytest.mark.parametrize("fn", GOOD, ids=lambda fn: fn.__name__)
def test_every_argument_answers_right_or_names_itself(fn, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a path among the bad values is written here, if anywhere
    jl.save("net.npz", NET)
    raw = []
    for name in GOOD[fn]:
        for bad in BAD:
            try:
                fn(**GOOD[fn] | {name: bad})
            except (ValueError, TypeError) as err:
                said = str(err)
                if (name in said or (name == "path" and str(bad) in said)) and "\n" not in said:
                    continue
                raw.append(f"{name}={checks.show(bad)}: {type(err).__name__}: {said[:150]!r}")
            except Exception as err:  # noqa: BLE001  anything else is JAX's or Python's
                raw.append(f"{name}={checks.show(bad)}: {type(err).__name__}: {str(err)[:150]!r}")
    assert not raw, "\n".join(raw)


def test_every_moved_name_says_where_it_went_and_that_place_exists():
    for name, where in jl.MOVED.items():
        with pytest.raises(AttributeError, match=f"jlinnet.{name} moved"):
            getattr(jl, name)
        for path in re.findall(r"experiments\.[\w.]+", where):  # module.function
            module, _, attr = path.rpartition(".")
            assert hasattr(importlib.import_module(module), attr), path
