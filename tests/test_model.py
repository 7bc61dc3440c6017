import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jlinnet as jl

SIZES = [(1, 2, 1), (3, 3, 1), (2, 5, 4, 3), (1, 1)]
NUMPY_ACTIVATIONS = {None: lambda a: a, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0),
                     "sigmoid": lambda a: 1 / (1 + np.exp(-a)), jnp.sin: np.sin}


def numpy_forward(net, x, activation):
    """The tutorial's `Linear.forward`, layer by layer, in float64 NumPy."""
    f, z = NUMPY_ACTIVATIONS[activation], np.asarray(x, np.float64)
    for l, layer in enumerate(net):
        z = np.dot(z, np.asarray(layer.w, np.float64)) + np.asarray(layer.b, np.float64)
        z = f(z) if l < len(net) - 1 else z
    return z


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("scheme", sorted(jl.INIT_SCHEMES))
def test_init_mlp_shapes_and_structure(sizes, scheme):
    net = jl.init_mlp(jax.random.key(0), sizes, scheme=scheme)
    assert isinstance(net, jl.Net) and len(net) == len(sizes) - 1 and net.activation is None
    assert all(isinstance(layer, jl.Layer) for layer in net)
    chex.assert_shape([layer.w for layer in net], list(zip(sizes[:-1], sizes[1:])))
    chex.assert_shape([layer.b for layer in net], [(b,) for b in sizes[1:]])
    chex.assert_tree_all_finite(net)
    assert all(not np.any(np.asarray(layer.b)) for layer in net)


@pytest.mark.parametrize(
    "scheme, wscale, std",
    [
        ("gaussian", 1.0, 1.0),
        ("gaussian", 0.5, 0.5),
        ("xavier_uniform", 1.0, np.sqrt(2 / (200 + 300))),
        ("xavier_normal", 1.0, np.sqrt(2 / (200 + 300))),
        ("he", 2.0, 2.0 * np.sqrt(2 / 200)),
        ("uniform", 0.3, 0.3 / np.sqrt(3)),
    ],
)
def test_init_scheme_scale(scheme, wscale, std):
    (layer,) = jl.init_mlp(jax.random.key(1), (200, 300), scheme=scheme, wscale=wscale)
    np.testing.assert_allclose(np.std(np.asarray(layer.w)), std, rtol=0.03)
    if scheme == "uniform":
        assert float(jnp.abs(layer.w).max()) <= 0.3


def test_init_mlp_depends_only_on_key_and_follows_x64():
    a = jl.init_mlp(jax.random.key(3), (1, 4, 1))
    chex.assert_trees_all_equal(a, jl.init_mlp(jax.random.key(3), (1, 4, 1)))
    assert not np.allclose(a[0].w, jl.init_mlp(jax.random.key(4), (1, 4, 1))[0].w)
    chex.assert_type(jax.tree.leaves(a), jnp.float32)
    with jax.enable_x64(True):
        chex.assert_type(jax.tree.leaves(jl.init_mlp(jax.random.key(3))), jnp.float64)
    chex.assert_type(jax.tree.leaves(jl.init_mlp(jax.random.key(3), dtype="float16")),
                     jnp.float16)


def test_the_activation_is_metadata_that_travels_with_the_weights():
    net = jl.init_mlp(jax.random.key(0), (1, 3, 1), activation="tanh")
    assert len(jax.tree.leaves(net)) == 4  # w, b per layer; the activation is no leaf
    x, y = jl.grid(8), jl.sine_target(jl.grid(8))
    grads = jax.grad(lambda n: jl.mse(jl.forward(n, x), y))(net)
    assert isinstance(grads, jl.Net) and grads.activation == "tanh"
    stepped = optax.apply_updates(net, jax.tree.map(jnp.zeros_like, grads))
    assert stepped.activation == "tanh"
    assert jax.tree.map(lambda w: w * 2, net).activation == "tanh"
    batched = jax.vmap(lambda k: jl.init_mlp(k, (1, 3, 1), activation="relu"))(
        jax.random.split(jax.random.key(0), 4))
    assert batched.activation == "relu" and batched[0].w.shape == (4, 1, 3)


def test_a_tuple_of_layers_is_the_tutorials_network():
    net = jl.init_mlp(jax.random.key(2), (1, 3, 1))
    x = jl.grid(10)
    chex.assert_trees_all_equal(jl.forward(tuple(net), x), jl.forward(net, x))
    assert net[0] is net.layers[0] and list(net) == list(net.layers)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", list(NUMPY_ACTIVATIONS))
def test_forward_is_chained_linear_forward(sizes, activation, maybe_jit):
    net = jl.init_mlp(jax.random.key(0), sizes, activation=activation)
    x = jax.random.normal(jax.random.key(1), (6, sizes[0]))
    y = maybe_jit(jl.forward)(net, x)
    chex.assert_shape(y, (6, sizes[-1]))
    np.testing.assert_allclose(y, numpy_forward(net, x, activation), rtol=1e-5, atol=1e-5)


def test_forward_casts_integer_inputs_to_the_weights_dtype():
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    x = jnp.array([[20000], [-3]], jnp.int32)
    y = jl.forward(net, x)
    chex.assert_type(y, jnp.float32)
    np.testing.assert_allclose(y, numpy_forward(net, np.asarray(x), None), rtol=1e-5)


def test_checks_fire_inside_jit_vmap_and_grad_before_compiling():
    net = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    bad = jnp.zeros((5, 2))
    for transform in (jax.jit, jax.vmap, jax.grad):
        f = transform(lambda x: jl.forward(net, x).sum() if transform is jax.grad
                      else jl.forward(net, x))
        with pytest.raises(ValueError, match=r"x must have 1 features in its last axis"):
            f(bad if transform is not jax.vmap else bad[None])


@pytest.mark.parametrize(
    "net, error, match",
    [
        (lambda n: jl.Net(n.layers, "softmax"), ValueError, "activation must be None, one of"),
        (lambda n: jl.Net(n.layers, 3), ValueError, "activation must be None, one of"),
        (lambda n: n[0], TypeError, "net must be a Net or a tuple of Layers, got one Layer"),
        (lambda n: (n[0], jl.Layer(jnp.zeros((2, 1)), jnp.zeros((1,)))), ValueError,
         r"net\[1\].w must have 3 rows"),
        (lambda n: (jl.Layer(jnp.zeros((3, 3)), jnp.zeros((2,))),), ValueError,
         r"net\[0\] needs w: \(in, out\) and b: \(out,\)"),
        (lambda n: ({"w": 1},), TypeError, r"net\[0\] must be a Layer"),
        (lambda n: (), ValueError, "net must have at least one layer"),
        (lambda n: jax.tree.map(lambda a: a.astype(jnp.int32), n), TypeError,
         r"net\[0\].w must be floating .* got dtype int32"),
        (lambda n: jax.tree.map(lambda a: a.astype(jnp.complex64), n), TypeError,
         r"net\[0\].w must be floating"),
        (lambda n: (n[0]._replace(b=n[0].b.astype(jnp.float16)), *n[1:]), TypeError,
         r"net\[0\].b must have the dtype of net\[0\].w, float32, got float16"),
        (lambda n: {"layers": n.layers}, TypeError, "net must be a jlinnet.Net or a tuple"),
    ],
)
def test_bad_networks_are_named(net, error, match):
    good = jl.init_mlp(jax.random.key(0), (3, 3, 1))
    with pytest.raises(error, match=match):
        jl.forward(net(good), jnp.zeros((5, 3)))


def test_a_non_elementwise_activation_is_refused():
    net = jl.init_mlp(jax.random.key(0), (1, 3, 1), activation=lambda a: a.sum(axis=1))
    with pytest.raises(ValueError, match="net.activation must be elementwise"):
        jl.forward(net, jl.grid(4))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(sizes=(1,)), ValueError, "at least two layer sizes"),
        (dict(sizes=(1, 0, 1)), ValueError, r"sizes\[1\] must be >= 1, got 0"),
        (dict(sizes=(1, 2.0, 1)), TypeError, r"sizes\[1\] must be an int"),
        (dict(scheme="glorot"), ValueError, "scheme must be one of .* got 'glorot'"),
        (dict(wscale=-1.0), ValueError, "wscale must be a finite number > 0"),
        (dict(wscale=float("nan")), ValueError, "wscale must be a finite number > 0"),
        (dict(key=0), TypeError, "key must be a JAX PRNG key"),
        (dict(dtype="foo"), TypeError, "dtype must be a floating dtype .* got 'foo'"),
        (dict(dtype=jnp.int32), TypeError, "dtype must be a floating dtype"),
        (dict(activation="elu"), ValueError, "activation must be None, one of"),
    ],
)
def test_init_mlp_rejects(kwargs, error, match):
    with pytest.raises(error, match=match):
        jl.init_mlp(**(dict(key=jax.random.key(0), sizes=(1, 2, 1)) | kwargs))
