"""The argument checks every jlinnet function shares.

They read only what a tracer knows (types, shapes, dtypes, Python settings), so
they run while a function is traced: once per shape under `jax.jit`, and they
still fire inside a user's own `jit`, `vmap` or `grad`. Each error names the
argument, says what it got and what it needs.
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """`value` as an int, or a named error unless it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def default_float() -> np.dtype:
    """float64 under `jax_enable_x64`, else float32."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def float_dtype(name: str, dtype) -> np.dtype:
    """A floating dtype from `dtype` (None: `default_float()`), or a named TypeError."""
    if dtype is None:
        return default_float()
    try:
        parsed = jnp.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed is None or not jnp.issubdtype(parsed, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype such as jnp.float32, got {dtype!r}")
    return parsed


def array(name: str, x, *, ndim: int, allow_empty: bool = False) -> jax.Array:
    """`x` as a real-valued JAX array with `ndim` axes, or a named error.

    Lists become arrays; bool, complex, str and object data are refused, since the
    tutorial's maths is over real numbers.
    """
    if not isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Real, list, tuple)):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    try:
        x = jnp.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__} ({err})")
    if not (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise TypeError(f"{name} must hold real numbers (integer or floating), got dtype {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")
    if not allow_empty and x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    return x


def data(name: str, x, dtype, *, features: int, what: str = "features") -> jax.Array:
    """A (rows, features) data array cast to the network's float `dtype`."""
    x = array(name, x, ndim=2)
    if x.shape[1] != features:
        raise ValueError(
            f"{name} must have {features} {what} in its last axis, got shape {x.shape}"
        )
    return x.astype(dtype)


def integers(name: str, x, *, ndim: int) -> jax.Array:
    """A non-empty integer array with `ndim` axes (batch starts), or a named error."""
    x = array(name, x, ndim=ndim)
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    return x


def key(name: str, k) -> None:
    """Raises unless `k` is a JAX PRNG key: `jax.random.key(seed)` or a raw uint32 (2,) key."""
    shape, dtype = np.shape(k), getattr(k, "dtype", None)
    typed = dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key) and shape == ()
    raw = dtype == jnp.uint32 and shape == (2,)
    if not (typed or raw):
        raise TypeError(
            f"{name} must be a JAX PRNG key such as jax.random.key(0), got"
            f" {type(k).__name__} of shape {shape} and dtype {dtype}"
        )


def is_traced(*xs) -> bool:
    """True if any of `xs` is a tracer: its values are only known when the program runs."""
    return any(isinstance(x, jax.core.Tracer) for x in xs)


def jit_arguments(arrays: dict, settings: dict) -> None:
    """Names the argument `jax.jit` refused, if any: a leaf that is not an array of
    numbers, or a setting that cannot be hashed. Call it when a jitted call fails."""
    for name, tree in arrays.items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            where = f"{name}{jax.tree_util.keystr(path)}"
            if isinstance(leaf, (jax.Array, numbers.Number)):
                continue
            if not isinstance(leaf, (np.ndarray, np.generic)) or leaf.dtype.kind in "OSUMm":
                raise TypeError(f"{where} must be an array of numbers, got {_describe(leaf)}")
    for name, value in settings.items():
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"{name} must be hashable (it is a compile-time setting), got"
                            f" {type(value).__name__}") from None


def _describe(x) -> str:
    dtype = getattr(x, "dtype", None)
    return f"{type(x).__name__} of dtype {dtype}" if dtype is not None else type(x).__name__
