"""The boundary: what a value must be where it enters jlinnet, checked once.

Arrays are checked while tracing (types, shapes and dtypes are known then), so it costs nothing
per call under `jax.jit` and fires inside a user's `jit`, `vmap` or `grad`. What is not yet a JAX
array is read on the host first: its dtype is tested before JAX sees it (a string array is a
named error, not JAX's), and its integers become float64 while they are still exact, so they
never wrap through JAX's int32."""

import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

INT32_MAX = 2**31 - 1


def show(x) -> str:
    """`x` in one short line, for an error message: an array by its dtype and shape."""
    shape = getattr(x, "shape", None)
    if shape not in (None, ()):
        return f"{getattr(x, 'dtype', '')} of shape {shape}"
    text = " ".join(repr(x).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(dtype) -> str:
    """NumPy's dtype kind letter for the kinds jlinnet takes (b, i, u, f), "?" for any other
    (complex, strings, objects, PRNG keys)."""
    if (kind := getattr(dtype, "kind", "?")) in "biuf":  # NumPy's own dtypes: at once
        return kind
    for kind, base in (("f", jnp.floating), ("i", jnp.signedinteger), ("u", jnp.unsignedinteger),
                       ("b", jnp.bool_)):
        if jnp.issubdtype(dtype, base):
            return kind
    return "?"


def _need(kinds: str) -> str:
    return "real numbers" if "f" in kinds else "integers"


def host(name: str, x, kinds: str = "iuf"):
    """`x` as it should reach JAX: a JAX array (or tracer) as it is; anything else read by
    NumPy. Either is a named TypeError unless its dtype kind is in `kinds` (i/u integer, f float);
    integers as float64 where floats are allowed (exact up to 2**53)."""
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}"
                            f" ({err})") from None
    if (kind := _kind(x.dtype)) not in kinds:
        raise TypeError(f"{name} must be an array of {_need(kinds)}, got {show(x)}")
    host_ints = isinstance(x, np.ndarray) and kind in "iu" and "f" in kinds
    return x.astype(np.float64) if host_ints else x


def data(name: str, x, dtype, *, features: int | None = None) -> jax.Array:
    """`x` as a (rows >= 1, features) array of the float `dtype`, or a named error."""
    x = jnp.asarray(host(name, x))
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != (features or x.shape[1]):
        need = f"(rows, {features})" if features else "(rows, columns)"
        raise ValueError(f"{name} must be {need} real numbers with rows >= 1, got {show(x)}")
    return x.astype(dtype)


def host_starts(x, n: int, batchsize: int):
    """Window starts known on the host (NumPy, a list) as int32, each in [0, n - batchsize] or a
    named error before anything runs; a JAX array unchanged: its values are known only when it
    runs, where a start off the grid gets NaN targets, so `nonfinite_step` names its step."""
    if isinstance(x, jax.Array):
        return x
    x = host("starts", x, "iu")
    off = (x < 0) | (x > n - batchsize)
    if off.any():
        at = tuple(int(i) for i in np.argwhere(off)[0])
        raise ValueError(f"starts must lie in [0, N - batchsize] = [0, {n - batchsize}], got"
                         f" {x[at]} at index {at}")
    return x.astype(np.int32)


def starts(x, ndim: int) -> jax.Array:
    """Window starts: a non-empty integer array of `ndim` axes, compared in a type wide enough
    for any grid (int8 and uint8 starts become int32)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.integer) or x.ndim != ndim or x.size == 0:
        raise TypeError(f"starts must be a non-empty {ndim}-D integer array, got {show(x)}")
    return x.astype(jnp.promote_types(x.dtype, jnp.int32))


def positive_int(name: str, value, *, minimum: int = 1, maximum: int = INT32_MAX) -> int:
    """`value` as an int in [minimum, maximum], or a named error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not (
            minimum <= int(value) <= maximum):
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {show(value)}")
    return int(value)


def reals(name: str, value, *, low: float = -np.inf, high: float = np.inf, scalar=False):
    """`value`, a number (`scalar`) or an array of them, each in (low, high) (so finite where
    the bounds are), or a named error; a traced value's shape is checked, its values are known
    only when it runs."""
    v = host(name, value)
    if scalar and v.ndim != 0:
        raise ValueError(f"{name} must be one number, got {show(value)}")
    if isinstance(value, jax.core.Tracer):
        return value
    with np.errstate(all="ignore"):
        if np.size(v) == 0 or not np.all((v > low) & (v < high)):  # NaN fails
            raise ValueError(f"{name} must be {'a number' if scalar else 'numbers'} in ({low:.3g},"
                             f" {high:.3g}), got"
                             f" {show(value)}")
    return v


def sizes(value) -> tuple[int, ...]:
    """Layer sizes (in, hidden..., out): a sequence of at least two integers >= 1."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) < 2:
        raise ValueError(f"sizes must be a sequence (in, hidden..., out) of at least two"
                         f" integers, got {show(value)}")
    return tuple(positive_int(f"sizes[{i}]", s) for i, s in enumerate(value))


def key(name: str, k) -> jax.Array:
    """One JAX PRNG key: `jax.random.key(seed)` (or a legacy uint32 (2,) `PRNGKey`)."""
    array = isinstance(k, jax.Array | np.ndarray)
    typed = array and k.shape == () and jnp.issubdtype(k.dtype, jax.dtypes.prng_key)
    if not (typed or (array and k.shape == (2,) and k.dtype == np.uint32)):
        raise TypeError(f"{name} must be one JAX PRNG key such as jax.random.key(0), got"
                        f" {show(k)}")
    return k


def float_dtype(dtype) -> np.dtype:
    """A floating dtype JAX has (None: float32, or float64 under `jax_enable_x64`), or a named
    error; float64 without x64 says how to turn it on (JAX would give float32 silently)."""
    try:  # a type, a name or a dtype (np.dtype of an array is deprecated)
        wanted = np.dtype(jnp.float64 if dtype is None else dtype) if isinstance(
            dtype, str | type | np.dtype | None) else None
    except TypeError:
        wanted = None
    if wanted is None or not jnp.issubdtype(wanted, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype such as jnp.float32, got {show(dtype)}")
    got = jax.dtypes.canonicalize_dtype(wanted)
    if dtype is not None and got != wanted:
        raise ValueError(f"dtype {wanted} needs 64-bit JAX: call jax.config.update("
                         f"'jax_enable_x64', True) first (or set JAX_ENABLE_X64=1)")
    return got
