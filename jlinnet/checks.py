"""The boundary: what a value must be where it enters jlinnet, checked once, while tracing.

Each check reads what a tracer knows (types, shapes, dtypes), so it costs nothing per call under
`jax.jit` and fires inside a user's `jit`, `vmap` or `grad`. NumPy data is converted on the host
first, where its integers are still exact: they never wrap to JAX's int32."""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

INT32_MAX = 2**31 - 1


def host(x):
    """NumPy-like data as it should reach JAX: integers as float64 (exact up to 2**53), so
    that a value above 2**31 is not wrapped by JAX's int32; JAX arrays unchanged."""
    if isinstance(x, jax.Array):
        return x
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind in "iu" else x


def host_starts(starts):
    """NumPy-like window starts as int32, a value outside int32 replaced by -1: still off the
    grid (so its step is NaN, as any start off the grid), never wrapped onto it."""
    if isinstance(starts, jax.Array):
        return starts
    starts = np.asarray(starts)
    if starts.dtype.kind not in "iu":
        return starts  # `data`/`starts` name the problem while tracing
    return np.where((starts < 0) | (starts > INT32_MAX), -1, starts).astype(np.int32)


def data(name: str, x, dtype, *, features: int | None = None) -> jax.Array:
    """`x` as a (rows >= 1, features) array of the float `dtype`, or a named error."""
    x = jnp.asarray(host(x))
    real = jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)
    if not real or x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != (features or x.shape[1]):
        need = f"(rows, {features})" if features else "(rows, columns)"
        raise ValueError(f"{name} must be {need} real numbers with rows >= 1, got {x.dtype}"
                         f" of shape {x.shape}")
    return x.astype(dtype)


def starts(x, ndim: int) -> jax.Array:
    """Window starts: a non-empty integer array of `ndim` axes, compared in a type wide
    enough for any grid (int8 and uint8 starts become int32)."""
    x = jnp.asarray(host_starts(x))
    if not jnp.issubdtype(x.dtype, jnp.integer) or x.ndim != ndim or x.size == 0:
        raise TypeError(f"starts must be a non-empty {ndim}-D integer array, got {x.dtype}"
                        f" of shape {x.shape}")
    return x.astype(jnp.promote_types(x.dtype, jnp.int32))


def positive_int(name: str, value, *, minimum: int = 1, maximum: int = INT32_MAX) -> int:
    """`value` as an int in [minimum, maximum], or a named error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not (
            minimum <= value <= maximum):
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def float_dtype(dtype) -> np.dtype:
    """A floating dtype (None: float32, or float64 under `jax_enable_x64`), or a named error."""
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64 if dtype is None else dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype such as jnp.float32, got {dtype}")
    return dtype
