import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jlinnet as jl


@pytest.mark.parametrize("sizes", [(1, 2, 1), (3, 3, 1), (2, 5, 4, 3), (1, 1)])
def test_affine_map_reproduces_forward(sizes, maybe_jit):
    net = jax.tree.map(lambda w: w + 0.1, jl.init_mlp(jax.random.key(2), sizes))  # b != 0
    w, b = maybe_jit(jl.affine_map)(net)
    chex.assert_shape([w, b], [(sizes[0], sizes[-1]), (sizes[-1],)])
    x = jax.random.normal(jax.random.key(5), (9, sizes[0]))
    chex.assert_trees_all_close(x @ w + b[None, :], jl.forward(net, x), rtol=1e-5, atol=1e-5)


def test_affine_map_of_a_network_with_an_activation_is_an_error():
    net = jl.init_mlp(jax.random.key(0), (1, 4, 1), activation="tanh")
    with pytest.raises(ValueError, match="activation 'tanh' .* not one affine map"):
        jl.affine_map(net)


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


@pytest.mark.parametrize("low, high", [(1000.0, 1003.0), (-1e4, -9990.0), (1e-4, 2e-4)])
def test_least_squares_keeps_its_digits_for_badly_scaled_x(low, high):
    x = jnp.linspace(low, high, 200, dtype=jnp.float32)[:, None]
    y = 2 * x + 3
    w, b = jl.least_squares(x, y)
    np.testing.assert_allclose(w[0, 0], 2.0, rtol=1e-4)
    # The fitted line against float64 NumPy on the same float32 data, where the data is.
    x64, y64 = np.asarray(x, np.float64)[:, 0], np.asarray(y, np.float64)[:, 0]
    reference = np.polyval(np.polyfit(x64, y64, 1), x64)
    np.testing.assert_allclose(np.asarray(x @ w + b[None, :])[:, 0], reference,
                               atol=1e-6 * np.abs(y64).max() + 1e-6)


def test_least_squares_with_several_inputs_and_outputs_is_lstsq():
    k1, k2 = jax.random.split(jax.random.key(0))
    x = jax.random.normal(k1, (50, 3)) * jnp.array([[1.0, 100.0, 0.01]]) + 7
    y = jax.random.normal(k2, (50, 2))
    w, b = jl.least_squares(x, y)
    a = np.concatenate([np.asarray(x, np.float64), np.ones((50, 1))], axis=1)
    wb = np.linalg.lstsq(a, np.asarray(y, np.float64), rcond=None)[0]
    np.testing.assert_allclose(w, wb[:-1], rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(b, wb[-1], rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize(
    "x, match",
    [
        (jnp.full((10, 1), 2.0), "constant or collinear"),
        (jnp.stack([jnp.arange(10.0), 2 * jnp.arange(10.0)], axis=1), "constant or collinear"),
        (jnp.ones((1, 1)), "at least 2 rows"),
        (jnp.ones((0, 1)), "x must not be empty"),
    ],
)
def test_a_fit_without_a_unique_line_is_a_named_error(x, match):
    with pytest.raises(ValueError, match=match):
        jl.least_squares(x, jnp.arange(x.shape[0], dtype=jnp.float32)[:, None])


def test_a_fit_without_a_unique_line_is_nan_inside_a_trace():
    w, b = jax.jit(jl.least_squares)(jnp.full((10, 1), 2.0), jnp.ones((10, 1)))
    assert np.isnan(w).all() and np.isnan(b).all()


def test_least_squares_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x and y must have the same length, got 5 and 4"):
        jl.least_squares(jnp.zeros((5, 1)), jnp.zeros((4, 1)))
