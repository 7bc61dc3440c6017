"""Shared test setup: shape bugs fail loudly (no implicit rank promotion)."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(params=["eager", "jit"])
def maybe_jit(request):
    """Runs a function without any compilation (`jax.disable_jit`) or under `jax.jit`."""

    def wrap(fn, **jit_kwargs):
        if request.param == "jit":
            return jax.jit(fn, **jit_kwargs)

        def eager(*args, **kwargs):
            with jax.disable_jit():
                return fn(*args, **kwargs)

        return eager

    return wrap
