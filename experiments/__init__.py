"""Runnable experiments over one definition of a run (`experiments._run`): `python -m
experiments.NAME`. `TARGETS` (name -> (label, f)) and `OPTIMIZERS` (name -> optax constructor)
are what every experiment's --target and --optimizer choose from: a row added reaches them all.
"""

import sys

from experiments import _cli

if sys.argv[:1] == ["-m"]:  # `python -m experiments.NAME` imports this first: stops count
    _cli.on_stop()  # from here on, before JAX is imported (see `_cli.stop`)


def __getattr__(name):  # the tables, imported (with JAX) only when asked for
    if name in ("TARGETS", "OPTIMIZERS", "Spec"):
        from experiments import _run

        return getattr(_run, name)
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
