"""Shared test setup: shape bugs fail loudly (no implicit rank promotion); property tests
are reproducible (a fixed derivation of their examples, no example database on disk); XLA
compiles with little optimization (the tests' programs are small, so compiling is most of
their time; the numbers are the same to the tests' tolerances)."""

import os

import jax
import pytest
from hypothesis import settings

jax.config.update("jax_numpy_rank_promotion", "raise")
# In the environment too, so the processes tests start (experiments, the notebook's kernel)
# compile the same way; JAX_DISABLE_MOST_OPTIMIZATIONS=0 runs the tests fully optimized.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
jax.config.update("jax_disable_most_optimizations",
                  os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0")
settings.register_profile("jlinnet", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile("jlinnet")


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
