"""Argument checks shared by the public functions.

Every check runs on shapes, dtypes and Python values only, so it raises at trace
time, before anything is compiled. Each message names the argument, what it got
and what it needs.
"""

import numbers

import jax.numpy as jnp
import numpy as np


def positive_int(name, value, *, minimum=1):
    """Returns `value` as an int, or raises if it is not an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def shape_of(name, x):
    """Returns the shape of an array-like, or raises a TypeError naming `name`."""
    try:
        return tuple(jnp.shape(x))
    except TypeError as err:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}") from err


def array(name, x, *, ndim, features=None, what="features"):
    """Checks that `x` is a floating or integer array with `ndim` axes.

    Args:
      name: the argument's name, for the message.
      x: the array-like to check.
      ndim: the number of axes it needs.
      features: if given, the size its last axis needs.
      what: how to call the last axis in the message.

    Returns:
      The shape of `x`.
    """
    shape = shape_of(name, x)
    if len(shape) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {shape}")
    dtype = jnp.result_type(x)
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise TypeError(f"{name} must hold numbers, got dtype {dtype}")
    if features is not None and shape[-1] != features:
        raise ValueError(
            f"{name} must have {features} {what} in its last axis, got shape {shape}"
        )
    return shape


def same_shape(name_a, a, name_b, b):
    """Raises unless `a` and `b` have exactly the same shape (no broadcasting)."""
    sa, sb = shape_of(name_a, a), shape_of(name_b, b)
    if sa != sb:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {sa} and {sb}"
            " (no broadcasting: reshape one to match)"
        )
    return sa


def int_vector(name, x):
    """Checks that `x` is a non-empty 1-D integer array; returns its length."""
    shape = shape_of(name, x)
    dtype = jnp.result_type(x)
    if len(shape) != 1 or not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(
            f"{name} must be a 1-D integer array, got shape {shape} and dtype {dtype}"
        )
    if shape[0] < 1:
        raise ValueError(f"{name} must hold at least one entry, got shape {shape}")
    return shape[0]


def concrete(x):
    """Returns `x` as a NumPy array when its values are known now, else None."""
    try:
        values = np.asarray(x)
    except Exception:  # a tracer: values are only known at run time
        return None
    return None if values.dtype == object else values  # e.g. a jax.ShapeDtypeStruct
