import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl

SIZES = [(1, 2, 1), (3, 3, 1), (2, 5, 4, 3), (1, 1)]


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("scheme", sorted(jl.INIT_SCHEMES))
def test_init_mlp_shapes_and_structure(sizes, scheme):
    params = jl.init_mlp(jax.random.key(0), sizes, scheme)
    assert isinstance(params, tuple) and len(params) == len(sizes) - 1
    assert all(isinstance(layer, jl.Layer) for layer in params)
    chex.assert_shape([p.w for p in params], [(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    chex.assert_shape([p.b for p in params], [(b,) for b in sizes[1:]])
    chex.assert_tree_all_finite(params)
    chex.assert_trees_all_equal(jax.tree.map(jnp.zeros_like, [p.b for p in params]),
                                [p.b for p in params])


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
    (layer,) = jl.init_mlp(jax.random.key(1), (200, 300), scheme, wscale)
    np.testing.assert_allclose(np.std(np.asarray(layer.w)), std, rtol=0.03)
    if scheme == "uniform":
        assert float(jnp.abs(layer.w).max()) <= 0.3


def test_init_mlp_depends_only_on_key():
    a = jl.init_mlp(jax.random.key(3), (1, 4, 1))
    chex.assert_trees_all_equal(a, jl.init_mlp(jax.random.key(3), (1, 4, 1)))
    b = jl.init_mlp(jax.random.key(4), (1, 4, 1))
    assert not np.allclose(a[0].w, b[0].w)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", [None, "tanh", "relu", "sigmoid"])
def test_forward_is_chained_linear_forward(sizes, activation, maybe_jit):
    params = jl.init_mlp(jax.random.key(0), sizes)
    x = jax.random.normal(jax.random.key(1), (6, sizes[0]))
    y = maybe_jit(lambda p, x: jl.forward(p, x, activation=activation))(params, x)
    chex.assert_shape(y, (6, sizes[-1]))
    # The tutorial's Linear.forward, layer by layer in NumPy.
    f = {None: lambda a: a, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0),
         "sigmoid": lambda a: 1 / (1 + np.exp(-a))}[activation]
    z = np.asarray(x, np.float64)
    for l, layer in enumerate(params):
        z = np.dot(z, np.asarray(layer.w, np.float64)) + np.asarray(layer.b, np.float64)
        z = f(z) if l < len(params) - 1 else z
    np.testing.assert_allclose(y, z, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sizes", SIZES)
def test_affine_map_reproduces_forward(sizes, maybe_jit):
    params = jax.tree.map(lambda p: p + 0.1, jl.init_mlp(jax.random.key(2), sizes))  # b != 0
    w, b = maybe_jit(jl.affine_map)(params)
    chex.assert_shape([w, b], [(sizes[0], sizes[-1]), (sizes[-1],)])
    x = jax.random.normal(jax.random.key(5), (9, sizes[0]))
    chex.assert_trees_all_close(x @ w + b[None, :], jl.forward(params, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (dict(sizes=(1,)), ValueError, "at least two layer sizes"),
        (dict(sizes=(1, 0, 1)), ValueError, r"sizes\[1\] must be >= 1, got 0"),
        (dict(sizes=(1, 2.0, 1)), TypeError, r"sizes\[1\] must be an int"),
        (dict(scheme="glorot"), ValueError, "scheme must be one of .* got 'glorot'"),
        (dict(wscale=-1.0), ValueError, "wscale must be a finite number > 0"),
        (dict(key=0), TypeError, "key must be a JAX PRNG key"),
    ],
)
def test_init_mlp_rejects(args, error, match):
    kwargs = dict(key=jax.random.key(0), sizes=(1, 2, 1)) | args
    with pytest.raises(error, match=match):
        jl.init_mlp(**kwargs)


def test_forward_rejects():
    params = jl.init_mlp(jax.random.key(0), (3, 3, 1))
    with pytest.raises(ValueError, match=r"x must be 2-D, got shape \(5,\)"):
        jl.forward(params, jnp.zeros((5,)))
    with pytest.raises(ValueError, match=r"x must have 3 features .* got shape \(5, 1\)"):
        jl.forward(params, jnp.zeros((5, 1)))
    with pytest.raises(ValueError, match="activation must be None or one of"):
        jl.forward(params, jnp.zeros((5, 3)), activation="softmax")
    with pytest.raises(ValueError, match=r"params\[1\].w must have 3 rows"):
        jl.forward((params[0], jl.Layer(jnp.zeros((2, 1)), jnp.zeros((1,)))), jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"params\[0\] needs w: \(in, out\) and b: \(out,\)"):
        jl.forward((jl.Layer(jnp.zeros((3, 3)), jnp.zeros((2,))),), jnp.zeros((5, 3)))
    with pytest.raises(TypeError, match=r"params\[0\] must be a Layer"):
        jl.forward(({"w": 1},), jnp.zeros((5, 3)))
    with pytest.raises(TypeError, match="params must be a non-empty tuple"):
        jl.forward((), jnp.zeros((5, 3)))


def test_errors_are_raised_before_compiling():
    params = jl.init_mlp(jax.random.key(0), (1, 2, 1))
    with pytest.raises(ValueError, match="x must have 1 features"):
        jax.jit(jl.forward)(params, jnp.zeros((5, 2)))


def test_least_squares_is_numpys_line_and_no_affine_map_beats_it():
    x = jl.grid()
    y = jl.sine_target(x)
    w, b = jl.least_squares(x, y)
    chex.assert_shape([w, b], [(1, 1), (1,)])
    x64, y64 = (np.asarray(a, np.float64)[:, 0] for a in (x, y))
    slope, intercept = np.polyfit(x64, y64, 1)
    np.testing.assert_allclose([w[0, 0], b[0]], [slope, intercept], rtol=1e-5)
    best = jl.mse(x @ w + b[None, :], y)
    for dw, db in [(0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)]:
        assert jl.mse(x @ (w + dw) + (b + db)[None, :], y) > best


def test_least_squares_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x and y must have the same length, got 5 and 4"):
        jl.least_squares(jnp.zeros((5, 1)), jnp.zeros((4, 1)))
