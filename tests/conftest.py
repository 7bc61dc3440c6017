"""Shared test setup: shape bugs fail loudly (no implicit rank promotion); property tests
are reproducible (a fixed derivation of their examples, no example database on disk); XLA
compiles with little optimization (the tests' programs are small, so compiling is most of
their time; the numbers are the same to the tests' tolerances)."""

import os

import jax
from hypothesis import settings

jax.config.update("jax_numpy_rank_promotion", "raise")
# In the environment too, so the processes the tests start compile the same way (the notebook's
# kernel sets its own); JAX_DISABLE_MOST_OPTIMIZATIONS=0 runs the tests fully optimized.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
jax.config.update("jax_disable_most_optimizations",
                  os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] != "0")
settings.register_profile("jlinnet", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.load_profile("jlinnet")

