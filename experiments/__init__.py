"""Runnable experiments: thin shells over `jlinnet` (`python -m experiments.NAME`)."""
