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


# The longest tests (measured: 7-25 s each, most of it in processes they start) run first, so
# on few cores the last minute is not one of them running alone while the others wait; with
# `--maxschedchunk 1` (pyproject) xdist deals them out one by one to whichever worker is free.
LONGEST_FIRST = ("test_notebook.py::test_tutorial_notebook", "test_sweep_processes.py",
                 "test_experiments.py::test_quick_benchmark", "test_experiments.py::test_8_10",
                 "test_training.py::test_spreads")


def pytest_collection_modifyitems(items):
    def rank(item):
        return next((i for i, name in enumerate(LONGEST_FIRST) if name in item.nodeid),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order
